"""Speed of the serving solver: every priced device kind x TP 1/2/4/8 x PP 1/2 x three
precisions (bf16, fp8, fp4) x replica counts, for one rate and for a sweep of 1,000 rates.

    python benchmarks/bench_serve.py
"""
from __future__ import annotations

import time

import numpy as np

from planner.estimate.serving import load as L, solve as SV
from planner.evaluate.serve import _devices
from planner.model.resolve import resolve_model


def best_of(fn, n=3):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    spec = resolve_model("llama-3.1-70b")
    devs = _devices(None, ())
    mix = L.Mix(1000.0, 200.0)

    def solve(rates):
        c = SV.build(spec, devs, "vllm", ("bf16", "fp8", "fp4"), (1, 2, 4, 8), (1, 2), "auto",
                     0.9, mix)
        cap = SV.capacity(c, mix, 1.0, 0.05, 99.0)
        SV.choose(c, cap, rates)
        return len(c)
    k = solve(np.array([20.0]))
    print(f"{len(devs)} device kinds, {k} replica shapes (device x TP x PP x precision)")
    print(f"solve one rate:    {best_of(lambda: solve(np.array([20.0]))) * 1e3:.0f} ms")
    print(f"solve 1,000 rates: {best_of(lambda: solve(np.geomspace(0.1, 1e4, 1000))) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
