"""Time the local-inference evaluator (planner/evaluate/infer.py) on scenario-sized sweeps.

(a) 350,000 plans of Llama-3-8B: 10 devices x 14 GGUF types x 50 contexts x 50 batches (140
    combinations of the categorical keys, every row a distinct (context, batch)).
(b) the same grid with 64 GB of system RAM (partial offload where a plan does not fit).
(c) 35,000 plans with no device (14 types x 50 x 50): the devices of the tables that run each
    plan, ranked by the step model (~130 devices per plan).
(d) `planner infer` in-process: one plan, and the no-device view (12 rows + rankings).
Target: (a) >= 100,000 plans/s on one core.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from bench_train_api import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)
from planner.estimate.quant import GGUF_TYPES  # noqa: E402
from planner.evaluate.columns import Cat  # noqa: E402
from planner.evaluate.infer import evaluate, evaluate_one  # noqa: E402
from planner.model import zoo  # noqa: E402
from planner.plan.infer import InferPlan  # noqa: E402

DEVICES = ("rtx-4090", "m2-max-64gb", "rtx-3060-12gb", "h100-sxm", "a100-80gb", "rtx-3090",
           "m3-max-128gb", "laptop-16gb", "l40s", "rtx-4080")


def grid(devices: tuple | None) -> tuple[dict, int]:
    ctxs, batches = np.arange(160, 8193, 160.0)[:50], np.arange(1, 51.0)
    axes = [np.arange(len(GGUF_TYPES)), np.arange(50), np.arange(50)]
    if devices:
        axes.insert(0, np.arange(len(devices)))
    idx = [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]
    cols = {"model": "llama-3-8b", "quant": Cat(GGUF_TYPES, idx[-3]),
            "context": ctxs[idx[-2]], "batch": batches[idx[-1]]}
    if devices:
        cols["device"] = Cat(devices, idx[0])
    return cols, len(idx[0])


def main() -> None:
    spec = zoo.get("llama-3-8b")
    models = {spec.name: spec}
    evaluate({"model": spec.name, "device": "rtx-4090"}, 1, models)      # warm the caches
    cols, n = grid(DEVICES)
    t_a = best_of(lambda: evaluate(cols, n, models), 3)
    t_b = best_of(lambda: evaluate({**cols, "ram": 64e9}, n, models), 3)
    cols_c, n_c = grid(None)
    t_c = best_of(lambda: evaluate(cols_c, n_c, models), 3)
    t_one = best_of(lambda: evaluate_one(InferPlan(model="llama-3-8b", device="rtx-4090")), 5)
    quants = ("fp16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0",
              "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K")
    t_need = best_of(lambda: evaluate_one(InferPlan(model="llama-3-8b"), quants=quants,
                                          top_devices=5), 5)
    print(f"(a) {n:,} plans, 140 combinations      {t_a:6.2f} s  {n / t_a:12,.0f} plans/s")
    print(f"(b) same with --ram 64GB (offload)     {t_b:6.2f} s  {n / t_b:12,.0f} plans/s")
    print(f"(c) {n_c:,} plans, no device (ranked)   {t_c:6.2f} s  {n_c / t_c:12,.0f} plans/s")
    print(f"(d) one plan {t_one * 1e3:.1f} ms; no-device view {t_need * 1e3:.1f} ms")
    print("target (a) >= 100,000 plans/s:", "met" if n / t_a >= 1e5 else "NOT met")


if __name__ == "__main__":
    main()
