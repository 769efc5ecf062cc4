"""Load on `planner ui`: a bounded local load test against the server as a user runs it
(`planner ui --port 0`, a subprocess), from an asyncio client in this process (one thread, one
connection per request, HTTP/1.1).

1. 200 concurrent single-plan requests (all sent at once; each a different plan, rotating
   over the four forms so nothing is answered from a cache) - target: no errors, median
   under 100 ms.  Five rounds.
2. One 100,000-row sweep (a pasted scenario, POST /api/whatif), alone - target: median under
   2 s.  Five runs.
3. 200 concurrent requests of which 10 are that 100,000-row sweep and 190 single plans - the
   sweep's and the plans' medians under load, no errors.

Run:  python benchmarks/bench_ui.py  [--rounds N] [--workers N]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

SWEEP = """\
title = "100,000-row sweep (benchmark)"
[model]
name = "llama-2-70b"
[train]
tokens = "2T"
hardware = ["a100-80gb", "h100-sxm"]
gpus = {start = 8, stop = 8000, step = 8}
mfu = {start = 0.30, stop = 0.545, step = 0.005}
"""
SWEEP_ROWS = 2 * 1000 * 50


def plan_path(i: int) -> str:
    """The i-th single-plan request: a different plan each time, over the four forms."""
    kind = i % 4
    if kind == 0:
        q = {"model": "gpt3-175b", "tokens": f"{100 + i}B", "hardware": "a100-80gb",
             "gpus": "1024"}
        return "/api/form/train?" + urlencode(q)
    if kind == 1:
        q = {"model": "llama-2-13b", "device": "rtx-4090", "quant": "Q4_K_M",
             "context": str(512 + i)}
        return "/api/form/infer?" + urlencode(q)
    if kind == 2:
        return "/api/form/params?" + urlencode({"model": ("gpt2", "llama-2-7b", "mixtral-8x7b",
                                                          "t5-11b")[i % 16 // 4]})
    return "/api/form/optimal?" + urlencode({"flops": f"{1 + i}e22"})


async def request(host: str, port: int, path: str, body: bytes | None = None
                  ) -> tuple[float, int, int]:
    """(seconds, status, bytes) of one request on its own connection."""
    t = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"{'POST' if body else 'GET'} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Connection: close\r\n")
    if body:
        head += f"X-Planner: 1\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + (body or b""))
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    header_end = data.find(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", data[:header_end]).group(1)) \
        if b"Content-Length" in data[:header_end] else 0
    if status == 200 and len(data) - header_end - 4 != length:
        status = -1                                  # short read
    return time.perf_counter() - t, status, length


async def burst(host: str, port: int, jobs: list[tuple[str, bytes | None]]):
    return await asyncio.gather(*(request(host, port, p, b) for p, b in jobs))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server and its worker processes so far (Linux /proc;
    NaN elsewhere): the load-independent cost of the requests."""
    try:
        pids = [pid] + [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
        total = 0
        for p in pids:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])          # utime, stime (ticks)
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return float("nan")


def start_server(workers: int | None = None) -> tuple[subprocess.Popen, str, int]:
    extra = ["--workers", str(workers)] if workers else []
    proc = subprocess.Popen([sys.executable, "-m", "planner", "ui", "--port", "0", *extra],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.search(r"http://([\d.]+):(\d+)/", line)
    if not m:
        proc.kill()
        raise SystemExit(f"the server did not start: {line}")
    return proc, m.group(1), int(m.group(2))


def summary(name: str, times: list[float], statuses: list[int], target: float | None) -> dict:
    errors = sum(s != 200 for s in statuses)
    med = statistics.median(times)
    p90 = sorted(times)[int(0.9 * (len(times) - 1))]
    ok = errors == 0 and (target is None or med < target)
    print(f"{name:<52} {len(times):>5} {errors:>6} {med * 1e3:>9.1f} {p90 * 1e3:>9.1f} "
          f"{max(times) * 1e3:>9.1f}  " + ("" if target is None else
                                          f"< {target * 1e3:.0f} ms: {'met' if ok else 'NOT met'}"))
    return {"name": name, "n": len(times), "errors": errors, "median_s": med, "p90_s": p90,
            "max_s": max(times), "target_s": target, "met": ok}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=None,
                    help="planner ui --workers (default: its own default)")
    args = ap.parse_args()
    proc, host, port = start_server(args.workers)
    try:
        time.sleep(3.0)   # the server warms up (imports scipy.stats, matplotlib) meanwhile
        loop = asyncio.new_event_loop()
        run = loop.run_until_complete
        # warm: one of each
        run(burst(host, port, [(plan_path(i), None) for i in range(4)]
                  + [("/api/whatif", SWEEP.encode())]))
        print(f"planner ui at http://{host}:{port}/ (pid {proc.pid}); {os.cpu_count()} CPUs")
        print(f"{'requests':<52} {'n':>5} {'errors':>6} {'median ms':>9} {'p90 ms':>9} "
              f"{'max ms':>9}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other "
              "processes on the machine share its CPUs)")
        results = []
        times, statuses = [], []
        cpu0 = cpu_seconds(proc.pid)
        for r in range(args.rounds):
            res = run(burst(host, port, [(plan_path(r * 200 + i), None) for i in range(200)]))
            times += [t for t, _, _ in res]
            statuses += [s for _, s, _ in res]
        cpu = (cpu_seconds(proc.pid) - cpu0) / len(times)
        results.append(summary(f"single plans, 200 concurrent x {args.rounds} rounds", times,
                               statuses, 0.100))
        print(f"{'':<52} server CPU per single-plan request: {cpu * 1e3:.2f} ms")
        sweep = [run(request(host, port, "/api/whatif", SWEEP.encode()))
                 for _ in range(args.rounds)]
        results.append(summary(f"{SWEEP_ROWS:,}-row sweep, alone", [t for t, _, _ in sweep],
                               [s for _, s, _ in sweep], 2.0))
        mixed = [("/api/whatif", SWEEP.encode()) if i % 20 == 0 else (plan_path(i), None)
                 for i in range(200)]
        res = run(burst(host, port, mixed))
        sweeps = [x for x, (_, b) in zip(res, mixed) if b]
        plans = [x for x, (_, b) in zip(res, mixed) if not b]
        results.append(summary(f"  mixed burst of 200: the 10 {SWEEP_ROWS:,}-row sweeps",
                               [t for t, _, _ in sweeps], [s for _, s, _ in sweeps], None))
        results.append(summary("  mixed burst of 200: the 190 single plans",
                               [t for t, _, _ in plans], [s for _, s, _ in plans], None))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(json.dumps(results))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
