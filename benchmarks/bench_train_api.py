"""Rows per second of pricing training plans through the public API, on one core.

(a) `planner.training.plan_training` on 1,000,000-element arrays (target >= 10 M plans/s),
(b) the scenario evaluator `planner.evaluate.train_rows` on 1,000,000 plans
    (2 models x 5 devices x 100,000 GPU counts),
(c) the same plans through a plain per-row Python loop of the same formulas (6 N D FLOPs,
    seconds = FLOPs / (n x peak x MFU), device-hours, cost, energy), timed on 100,000 rows and
    extrapolated; and the ratio vectorised / loop.

Run:  python benchmarks/bench_train_api.py
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy is imported

import time  # noqa: E402

import numpy as np  # noqa: E402

N = 1_000_000
LOOP_SAMPLE = 100_000
REPEATS = 5


def best_of(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    from planner.evaluate import rows as evaluate
    from planner.estimate import training
    from planner.hardware.profiles import get_device
    from planner.model.resolve import resolve_model
    from planner.model.spec import active_params

    rng = np.random.default_rng(0)
    models = {name: resolve_model(name) for name in ("llama-2-7b", "llama-2-70b")}
    devices = ["a100-80gb", "h100-sxm", "mi300x", "b200", "h200"]
    devs = [get_device(d) for d in devices]

    # (a) the core estimator on 1M plans
    flops = rng.uniform(1e21, 1e25, N)
    n_dev = rng.integers(8, 100_000, N).astype(float)
    peak = rng.choice([d.peak("bf16") for d in devs], N)
    mfu = rng.uniform(0.3, 0.6, N)
    price = rng.uniform(1.0, 6.0, N)
    tdp = rng.choice([d.tdp_w for d in devs], N)
    pue = 1.2
    t_core = best_of(lambda: training.plan_training(flops, n_dev, peak, mfu, price, tdp, pue))

    # (b) the scenario evaluator: 2 models x 5 devices x 100,000 GPU counts
    gpus = np.arange(8, 8 * 100_000 + 1, 8, dtype=float)
    n_rows = len(models) * len(devices) * len(gpus)
    model_idx = np.repeat(np.arange(len(models)), len(devices) * len(gpus))
    dev_idx = np.tile(np.repeat(np.arange(len(devices)), len(gpus)), len(models))
    cols = {"model": evaluate.Cat(tuple(models), model_idx),
            "hardware": evaluate.Cat(tuple(devices), dev_idx),
            "tokens": np.full(n_rows, 2e12), "gpus": np.tile(gpus, len(models) * len(devices))}
    out = evaluate.train_rows(cols, n_rows, models)  # warm-up (resolves devices, imports)
    t_eval = best_of(lambda: evaluate.train_rows(cols, n_rows, models), repeats=3)

    # (c) the same plans, one Python iteration per row (on a sample, extrapolated)
    params = [float(active_params(models[m])) for m in models]
    peaks = [d.peak(d.best_training_precision()) for d in devs]
    prices = [d.price_per_hour for d in devs]
    tdps = [d.tdp_w for d in devs]
    mfus = [d.default_mfu for d in devs]
    mi, di = model_idx[:LOOP_SAMPLE].tolist(), dev_idx[:LOOP_SAMPLE].tolist()
    g_list = cols["gpus"][:LOOP_SAMPLE].tolist()

    def loop():
        rows = []
        for m, d, g in zip(mi, di, g_list):
            f = 6.0 * params[m] * 2e12                     # Kaplan et al. 2020: C = 6 N D
            s = f / (g * peaks[d] * mfus[d])               # t = C / (n x peak x MFU)
            hours = s * g / 3600.0
            rows.append((f, s, hours, hours * prices[d], tdps[d] * hours * 1.2 / 1e3))
        return rows
    t_loop = best_of(loop, repeats=3) * (n_rows / LOOP_SAMPLE)

    # the loop prices the same plans as the evaluator (checks the comparison is fair)
    ref = loop()
    assert np.allclose([r[3] for r in ref], out["cost_usd"][:LOOP_SAMPLE], rtol=1e-12)
    assert np.allclose([r[1] for r in ref], out["seconds"][:LOOP_SAMPLE], rtol=1e-12)

    rows = [("plan_training, 1M arrays", N, t_core),
            (f"train_rows, {len(models)} models x {len(devices)} devices x {len(gpus):,} gpus",
             n_rows, t_eval),
            (f"per-row Python loop (timed on {LOOP_SAMPLE:,}, extrapolated)", n_rows, t_loop)]
    print(f"{'benchmark':62s} {'rows':>10s} {'seconds':>9s} {'rows/s':>14s}")
    for name, n, t in rows:
        print(f"{name:62s} {n:>10,d} {t:>9.3f} {n / t:>14,.0f}")
    print(f"vectorised / loop speed-up: plan_training {t_loop / t_core * N / n_rows:,.0f}x, "
          f"train_rows {t_loop / t_eval:,.0f}x")
    target = N / t_core >= 10e6
    print(f"target plan_training >= 10,000,000 plans/s on one core: "
          f"{'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
