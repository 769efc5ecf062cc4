"""End-to-end CLI timings.

1. `planner run SWEEP.toml --out FILE.csv` on a 1,000,000-row training sweep
   (2 models x 5 devices x 100,000 GPU counts; target < 10 s), as a subprocess.
2. Start-up: `planner --help` against `python -c "import pandas"` (10 runs each, best and
   median; target: `planner --help` faster, i.e. pandas is not imported at start-up).

Run:  python benchmarks/bench_run_cli.py
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = """\
title = "1M-row training sweep (benchmark)"

[model]
name = ["llama-2-7b", "llama-2-70b"]

[train]
tokens = "2T"
hardware = ["a100-80gb", "h100-sxm", "mi300x", "b200", "h200"]
gpus = { start = 8, stop = 800000, step = 8 }
"""
ROWS = 2 * 5 * 100_000


def planner_cmd() -> list[str]:
    exe = shutil.which("planner")
    return [exe] if exe else [sys.executable, "-m", "planner"]


def timed(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - t, proc


def main():
    root = Path(__file__).resolve().parent.parent
    if not (root / "planner" / "commands" / "run.py").exists():
        print("planner/commands/run.py does not exist: `planner run` cannot be timed")
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        toml, out = Path(tmp) / "sweep.toml", Path(tmp) / "sweep.csv"
        toml.write_text(SWEEP)
        runs = []
        for _ in range(3):
            t, proc = timed(planner_cmd() + ["run", str(toml), "--out", str(out)])
            if proc.returncode != 0:
                print(f"planner run failed (exit {proc.returncode}):\n{proc.stderr}")
                return
            runs.append(t)
        with open(out, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        size = out.stat().st_size
        assert lines == ROWS + 1, f"expected {ROWS + 1:,} lines, got {lines:,}"
        results.append((f"planner run --out CSV, {ROWS:,} rows ({size / 1e6:.0f} MB)",
                        min(runs), statistics.median(runs), len(runs)))

    env = dict(os.environ)
    helps = [timed(planner_cmd() + ["--help"], env=env)[0] for _ in range(10)]
    pandas = [timed([sys.executable, "-c", "import pandas"], env=env)[0] for _ in range(10)]
    results.append(("planner --help", min(helps), statistics.median(helps), 10))
    results.append(('python -c "import pandas"', min(pandas), statistics.median(pandas), 10))

    print(f"{'command':56s} {'best s':>8s} {'median s':>9s} {'runs':>5s}")
    for name, best, med, n in results:
        print(f"{name:56s} {best:>8.3f} {med:>9.3f} {n:>5d}")
    run_best = results[0][1]
    print(f"target planner run < 10 s: {'met' if run_best < 10 else 'NOT met'} "
          f"({ROWS / run_best:,.0f} rows/s end to end)")
    faster = statistics.median(helps) < statistics.median(pandas)
    print(f"target planner --help faster than import pandas: {'met' if faster else 'NOT met'}")


if __name__ == "__main__":
    main()
