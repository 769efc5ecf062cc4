"""Rows per second of pricing training plans through the public API, on one core.

(a) `planner.estimate.training.plan_training` on 1,000,000-element arrays (target >= 10 M
    plans/s),
(b) the training evaluator `planner.evaluate_train` on 1,000,000 plans (2 models x 5 devices x
    100,000 GPU counts at each device's MFU): every column `planner train --json` has,
(c) the same plans through a plain per-row Python loop of only five formulas (6 N D FLOPs,
    seconds = FLOPs / (n x peak x MFU), device-hours, cost, energy), timed on 100,000 rows and
    extrapolated; (c2) the same evaluator called once per plan, timed on 2,000 and extrapolated;
(d) the evaluator with the utilisation predicted (a parallel-layout search per cluster size);
(e) the inference evaluator on 200,000 plans.

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
    import planner
    from planner.evaluate.columns import Cat
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
    # Each device at its profile's default MFU (a given utilisation: the perfect-scaling path;
    # the predicted one is timed in (d)).
    dev_mfu = np.array([d.default_mfu for d in devs])
    cols = {"model": Cat(tuple(models), model_idx), "hardware": Cat(tuple(devices), dev_idx),
            "tokens": np.full(n_rows, 2e12), "gpus": np.tile(gpus, len(models) * len(devices)),
            "mfu": dev_mfu[dev_idx]}
    out = planner.evaluate_train(cols, n_rows, models)  # warm-up (resolves devices, imports)
    t_eval = best_of(lambda: planner.evaluate_train(cols, n_rows, models), repeats=3)

    # (d) the same evaluator with the utilisation predicted (no mfu): 2 models x 5 devices x
    # 64 cluster sizes - each distinct size is a vectorised search over every parallel plan.
    sizes = 2.0 ** np.arange(3, 14)                      # 8 ... 8,192
    sizes = np.unique(np.concatenate([sizes, sizes * 1.5]))[:64]
    n_pred = len(models) * len(devices) * len(sizes)
    pm = np.repeat(np.arange(len(models)), len(devices) * len(sizes))
    pd_ = np.tile(np.repeat(np.arange(len(devices)), len(sizes)), len(models))
    pcols = {"model": Cat(tuple(models), pm), "hardware": Cat(tuple(devices), pd_),
             "tokens": 2e12, "gpus": np.tile(sizes, len(models) * len(devices))}
    t_pred = best_of(lambda: planner.evaluate_train(pcols, n_pred, models), repeats=1)

    # (e) the inference evaluator: 200,000 plans (4 models x 5 devices x 10,000 contexts)
    imodels = {n: resolve_model(n) for n in ("llama-2-7b", "llama-2-13b", "mistral-7b",
                                               "llama-3-8b")}
    idevs = ("rtx-4090", "rtx-3060-12gb", "m2-max-32gb", "laptop-16gb", "h100-sxm")
    ctx = np.linspace(512, 4096, 10_000).round()
    n_inf = len(imodels) * len(idevs) * len(ctx)
    im = np.repeat(np.arange(len(imodels)), len(idevs) * len(ctx))
    idv = np.tile(np.repeat(np.arange(len(idevs)), len(ctx)), len(imodels))
    icols = {"model": Cat(tuple(imodels), im), "device": Cat(idevs, idv),
             "context": np.tile(ctx, len(imodels) * len(idevs))}
    planner.evaluate_infer(icols, n_inf, imodels)
    t_inf = best_of(lambda: planner.evaluate_infer(icols, n_inf, imodels), repeats=2)

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

    # (c2) the same evaluator called once per plan (n = 1), as a loop over plans would use it
    one_sample = 2_000
    gl, ml, dl, fl = cols["gpus"].tolist(), model_idx.tolist(), dev_idx.tolist(), \
        cols["mfu"].tolist()
    names, dnames = tuple(models), tuple(devices)

    def one_by_one():
        for i in range(one_sample):
            planner.evaluate_train({"model": names[ml[i]], "hardware": dnames[dl[i]],
                                    "tokens": 2e12, "gpus": gl[i], "mfu": fl[i]}, 1, models)
    t_one = best_of(one_by_one, repeats=2) * (n_rows / one_sample)

    # the loop prices the same plans as the evaluator (checks the comparison is fair)
    ref = loop()
    ok = np.equal(out["error"][:LOOP_SAMPLE], None)
    assert np.allclose(np.array([r[3] for r in ref])[ok], out["cost_usd"][:LOOP_SAMPLE][ok],
                       rtol=1e-12)
    assert np.allclose(np.array([r[1] for r in ref])[ok], out["seconds"][:LOOP_SAMPLE][ok],
                       rtol=1e-12)

    rows = [("plan_training, 1M arrays", N, t_core),
            (f"evaluate_train, {len(models)} models x {len(devices)} devices x {len(gpus):,} gpus",
             n_rows, t_eval),
            (f"per-row Python loop (timed on {LOOP_SAMPLE:,}, extrapolated)", n_rows, t_loop),
            (f"the evaluator once per plan (timed on {one_sample:,}, extrapolated)", n_rows,
             t_one),
            (f"train rows, predicted utilisation ({len(sizes)} sizes x 10)", n_pred, t_pred),
            (f"infer rows, {len(imodels)} models x {len(idevs)} devices x {len(ctx):,} "
             "contexts", n_inf, t_inf)]
    print(f"{'benchmark':62s} {'rows':>10s} {'seconds':>9s} {'rows/s':>14s}")
    for name, n, t in rows:
        print(f"{name:62s} {n:>10,d} {t:>9.3f} {n / t:>14,.0f}")
    print(f"vectorised / loop speed-up: plan_training {t_loop / t_core * N / n_rows:,.0f}x, "
          f"evaluate_train against the five-formula loop {t_loop / t_eval:,.2f}x, against the same "
          f"evaluator once per plan {t_one / t_eval:,.0f}x")
    target = N / t_core >= 10e6
    print(f"target plan_training >= 10,000,000 plans/s on one core: "
          f"{'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
