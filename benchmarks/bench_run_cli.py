"""End-to-end CLI timings, each command a fresh process (wall-clock and peak memory).

1. `planner run SWEEP.toml` on a 1,000,000-row training sweep (2 models x 5 devices x 100,000
   GPU counts at MFU 0.4) through every output path: --out .csv / .json / .parquet / .md, and
   --format csv / --json / --format markdown to stdout (discarded), and the table.  Target:
   each under 10 s and 2 GB; the memory guard's estimate is printed beside the measurement.
2. Single commands: `planner --help`, `planner train ...`, `planner infer ...`,
   `planner params ...` (target < 0.25 s each), against `python -c "import pandas"`.

Peak memory is the child's maximum resident set (getrusage of a wrapper process that runs
only that command).  Run:  python benchmarks/bench_run_cli.py [--quick]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SWEEP = """\
title = "1M-row training sweep (benchmark)"

[model]
name = ["llama-2-7b", "llama-2-70b"]

[train]
tokens = "2T"
hardware = ["a100-80gb", "h100-sxm", "mi300x", "b200", "h200"]
gpus = { start = 8, stop = 800000, step = 8 }
mfu = 0.4
"""
ROWS = 2 * 5 * 100_000
# Runs `argv` as a child and prints its wall-clock seconds and peak RSS (bytes) as JSON.
WRAPPER = ("import json, resource, subprocess, sys, time\n"
           "t = time.perf_counter()\n"
           "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
           "dt = time.perf_counter() - t\n"
           "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
           "print(json.dumps({'s': dt, 'rss': rss, 'code': p.returncode,"
           " 'err': p.stderr.decode()[-500:]}))\n")


def planner_cmd() -> list[str]:
    exe = shutil.which("planner")
    return [exe] if exe else [sys.executable, "-m", "planner"]


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True)
    return json.loads(out.stdout)


def best(cmd: list[str], runs: int) -> tuple[float, float, float]:
    """(best s, median s, peak RSS bytes) of `runs` runs."""
    res = [measure(cmd) for _ in range(runs)]
    bad = [r for r in res if r["code"] != 0]
    if bad:
        raise SystemExit(f"{' '.join(cmd)} failed: {bad[0]['err']}")
    secs = [r["s"] for r in res]
    return min(secs), statistics.median(secs), max(r["rss"] for r in res)


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 1 if quick else 3
    p = planner_cmd()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        toml = Path(tmp) / "sweep.toml"
        toml.write_text(SWEEP)
        paths = [("--out CSV", ["--out", str(Path(tmp) / "o.csv")]),
                 ("--out JSON", ["--out", str(Path(tmp) / "o.json")]),
                 ("--out parquet", ["--out", str(Path(tmp) / "o.parquet")]),
                 ("--out markdown", ["--out", str(Path(tmp) / "o.md")]),
                 ("--format csv (stdout)", ["--format", "csv"]),
                 ("--json (stdout)", ["--json"]),
                 ("--format markdown (stdout)", ["--format", "markdown"]),
                 ("table (first 25 rows)", [])]
        for name, extra in paths:
            b, m, rss = best(p + ["run", str(toml), *extra], runs)
            rows.append((f"planner run, {ROWS:,} rows, {name}", b, m, rss))
        csv = Path(tmp) / "o.csv"
        with open(csv, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        assert lines == ROWS + 1, f"expected {ROWS + 1:,} CSV lines, got {lines:,}"
    singles = [("planner --help", ["--help"]),
               ("planner params gpt3-175b", ["params", "gpt3-175b"]),
               ("planner train gpt3-175b --mfu 0.4 ...",
                ["train", "gpt3-175b", "--tokens", "300B", "-H", "a100-80gb", "--gpus", "1024",
                 "--mfu", "0.4"]),
               ("planner train gpt3-175b (predicted utilisation)",
                ["train", "gpt3-175b", "--tokens", "300B", "-H", "a100-80gb", "--gpus", "1024"]),
               ("planner infer llama-2-7b -d rtx-4090",
                ["infer", "llama-2-7b", "-d", "rtx-4090"])]
    n = 3 if quick else 10
    for name, args in singles:
        b, m, rss = best(p + args, n)
        rows.append((name, b, m, rss))
    b, m, rss = best([sys.executable, "-c", "import pandas"], n)
    rows.append(('python -c "import pandas"', b, m, rss))
    print(f"{'command':66s} {'best s':>7s} {'median s':>8s} {'peak MB':>8s}")
    for name, b, m, rss in rows:
        print(f"{name:66s} {b:>7.2f} {m:>8.2f} {rss / 1e6:>8,.0f}")
    sweep = [r for r in rows if r[0].startswith("planner run")]
    ok = all(r[1] < 10 and r[3] < 2e9 for r in sweep)
    print(f"target every output path of the 1M-row sweep < 10 s and < 2 GB: "
          f"{'met' if ok else 'NOT met'}")
    cmds = [r for r in rows if r[0].startswith(("planner train", "planner infer",
                                                 "planner params"))]
    print(f"target single commands < 0.25 s: "
          f"{'met' if all(r[1] < 0.25 for r in cmds) else 'NOT met'}")
    from planner.whatif.runner import ROW_BYTES
    print(f"memory guard: {ROW_BYTES} bytes per kept row -> {ROWS * ROW_BYTES / 1e9:.2f} GB for "
          f"the sweep held in memory (--sort, --plot); streamed paths hold one chunk")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
