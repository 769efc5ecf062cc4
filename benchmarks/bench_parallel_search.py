"""Plans per second of the parallel plan search (planner.estimate.parallel), on one core.

(a) every valid plan for GPT-3 175B on 1,024 A100s, global batch 1,536 x 2,048 (target:
    all of them in under one second; Calculon's search, by comparison, evaluates ~92 plans/s:
    3.2 M candidates for 175B on 64 GPUs in hours - Isaev et al. 2023, as issue 10 quotes);
(b) the same with the megatron-2021 framework (selective recompute searched too) and with fp8
    on H100 (two precisions);
(c) Mixtral-8x7B (MoE, expert parallelism searched) on 256 H100s;
(d) `search` (evaluate + rank + rows) and `planner parallel` as a subprocess (start-up included).

Run:  python benchmarks/bench_parallel_search.py
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy is imported

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

REPEATS = 5


def best_of(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    from planner.estimate.parallel import evaluate_plans, search
    from planner.hardware.profiles import get_device
    from planner.model.resolve import resolve_model

    gpt3, mixtral = resolve_model("gpt3-175b"), resolve_model("mixtral-8x7b")
    a100, h100 = get_device("a100-80gb"), get_device("h100-sxm")
    cases = [
        ("175B, 1,024 x A100, production", lambda: evaluate_plans(gpt3, a100, 1024, 1536, 2048)),
        ("175B, 1,024 x A100, megatron-2021", lambda: evaluate_plans(
            gpt3, a100, 1024, 1536, 2048, framework="megatron-2021")),
        ("175B, 1,024 x H100, bf16 + fp8", lambda: evaluate_plans(
            gpt3, h100, 1024, 1536, 2048, {"precision": ["bf16", "fp8"]})),
        ("Mixtral-8x7B, 256 x H100 (EP searched)", lambda: evaluate_plans(
            mixtral, h100, 256, 1024, 4096)),
        ("search(): 175B, 1,024 x A100, ranked top 5", lambda: search(
            gpt3, a100, 1024, 1536, 2048)),
    ]
    cases[0][1]()  # warm-up: imports, table loading
    print(f"{'benchmark':46s} {'plans':>9s} {'fitting':>9s} {'seconds':>9s} {'plans/s':>12s}")
    first = None
    for name, fn in cases:
        t, out = best_of(fn)
        if "plans" in out and isinstance(out["plans"], list):
            n, fit = out["evaluated"], out["fitting"]
        else:
            n, fit = len(out["tp"]), int(out["fits"].sum())
        first = first or t
        print(f"{name:46s} {n:>9,d} {fit:>9,d} {t:>9.3f} {n / t:>12,.0f}")
    cmd = [sys.executable, "-m", "planner", "parallel", "gpt3-175b", "--hardware", "a100-80gb",
           "--gpus", "1024", "--global-batch", "1536", "--seq", "2048", "--json"]
    t_cli, _ = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats=3)
    print(f"{'planner parallel (subprocess, incl. start-up)':46s} {'':>9s} {'':>9s} "
          f"{t_cli:>9.3f}")
    print(f"target: every valid 175B plan on 1,024 GPUs in < 1 s on one core: "
          f"{'met' if first < 1.0 else 'NOT met'} ({first:.3f} s)")


if __name__ == "__main__":
    main()
