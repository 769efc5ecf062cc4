"""The what-if machinery: scenario files, sweeps, Monte-Carlo draws and their runner."""
