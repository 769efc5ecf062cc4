"""Time the decode/prefill step model (planner/estimate/decode.py) on large arrays.

Prints plans/s for (a) `decode.decode_rate` over 1,000,000 (device, context, batch) plans of
one model/quant, (b) `decode.prefill_time` on the same arrays, (c) `runnable.runnable_models`
over the zoo on one device, (d) `runnable.requirements` (memory per quant + every device).
Target: (a) and (b) >= 5 M plans/s on one core.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from bench_train_api import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)
from planner.estimate import decode as D, runnable as R  # noqa: E402
from planner.hardware import devices, get_device  # noqa: E402
from planner.model import zoo  # noqa: E402


def main() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    devs = [d for d in devices() if D.backend_for(d) == "llama.cpp-cuda"]
    be = D.backend("llama.cpp-cuda", "Q4_K_M")
    hws = [D.hardware_terms(d, be) for d in devs]
    pick = rng.integers(0, len(hws), n)
    hw = D.stack_hardware(hws)
    hw = D.HardwareTerms(**{k: np.asarray(getattr(hw, k))[pick] for k in (
        "bandwidth", "matmul_peak", "alu_peak", "tdp_w", "hbm", "link_bandwidth")})
    ctx = rng.uniform(0, 32768, n)
    batch = rng.integers(1, 64, n).astype(float)
    w = D.workload(zoo.get("llama-3-8b"), "Q4_K_M")
    t_dec = best_of(lambda: D.decode_rate(w, hw, be, ctx, batch), 3)
    t_pre = best_of(lambda: D.prefill_time(w, hw, be, ctx + 1, 0, batch), 3)
    specs = list(zoo.models().values())
    t_run = best_of(lambda: R.runnable_models(get_device("rtx-3060-12gb"), specs), 3)
    t_req = best_of(lambda: R.requirements(zoo.get("llama-3-8b")), 3)
    print(f"{'what':44s} {'seconds':>9s} {'plans/s':>12s}")
    print(f"{'decode_rate, 1M plans':44s} {t_dec:9.3f} {n / t_dec:12,.0f}")
    print(f"{'prefill_time, 1M plans':44s} {t_pre:9.3f} {n / t_pre:12,.0f}")
    print(f"{'runnable_models, zoo x 12 quants, one device':44s} {t_run:9.3f} "
          f"{len(specs) * 12 / t_run:12,.0f}")
    print(f"{'requirements, 12 quants + every device':44s} {t_req:9.3f}")
    ok = n / t_dec >= 5e6 and n / t_pre >= 5e6
    print("target (>= 5 M plans/s for decode and prefill):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
