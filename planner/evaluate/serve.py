"""The serving evaluator: columns of `ServePlan`s in, a table of answers out.

`planner serve` is this evaluator at n = 1; a scenario's [serve] rows (a sweep over rates,
say) are the same evaluator at n rows.  Rows are grouped by their categorical keys (model,
devices, engine, precision, TP/PP, limits); per group the candidate replica shapes are built
once, and per distinct request mix and targets the solver's capacities are computed once, so
a sweep over rates is one bisection and a gather.

Three forms per row:
  solve       (--rate): the cheapest deployment meeting --ttft/--tpot at --percentile
  deployment  (--rate with --replicas): a fixed deployment of the given shape under Poisson
              arrivals at the rate - its throughput and latency (MLPerf's server scenario)
  replica     (--concurrency N|max): one replica of the given shape under N closed-loop clients
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.evaluate.columns import (Cat, Errors, answered, combination_rows, numeric_inputs,
                                      plan_inputs, resolved_combinations)
from planner.plan.serve import SERVE

LATENCY = ("ttft", "tpot", "itl", "e2e")
QS = (50, 90, 95, 99)
NUMERIC_OUT = ("replicas", "gpus", "tp", "pp", "ep", "batch", "concurrency", "rate_per_s",
               "requests_per_s", "output_tokens_per_s", "output_tokens_per_s_per_gpu",
               "input_tokens_per_s", "total_tokens_per_s", "output_tokens_per_s_per_user",
               "replica_capacity_per_s", "utilisation", "max_sequences",
               "weights_bytes_per_gpu", "kv_cache_bytes_per_gpu", "kv_tokens_per_replica",
               "price_usd_per_gpu_hour", "cost_usd_per_hour", "cost_usd_per_mtok_output",
               "cost_usd_per_mtok_input", "ttft_seconds", "tpot_seconds", "itl_seconds",
               "prefill_time_share", "ttft_target_seconds", "tpot_target_seconds",
               "percentile", "prompt", "output",
               *(f"{m}_seconds_p{q}" for m in LATENCY for q in QS))
TEXT_OUT = ("model", "mode", "engine", "hardware", "quant", "kv_cache", "bound", "binding")


def _devices(names, files):
    from planner.hardware import devices as all_devices, get_device
    if names:
        names = (names,) if isinstance(names, str) else tuple(names)
        return [get_device(n, files) for n in names]
    keep = ("datacenter", "workstation-gpu", "consumer-gpu")
    return [d for d in all_devices(files) if d.category in keep
            and math.isfinite(d.price_per_hour) and d.price_per_hour > 0]


def evaluate(cols: dict[str, Any], n: int, models: dict | None = None,
             hardware_files: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Serving answers for `n` plans (see the module docstring).  `cols` maps `SERVE` keys to
    scalars, arrays or `Cat`s; 'model' names a key of `models`."""
    models = models or {}
    files = tuple(hardware_files)
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in NUMERIC_OUT}
    for k in TEXT_OUT:
        out[k] = np.full(n, None, dtype=object)
    err = Errors(n)
    _, code, combos = resolved_combinations(SERVE, cols, n, dict)
    nums = numeric_inputs(SERVE, cols, n, (
        "rate", "prompt", "output", "prompt_sd", "output_sd", "percentile",
        "gpu_memory_utilization", "replicas", "ttft", "tpot"))
    for c, rows in zip(combos, combination_rows(code, len(combos))):
        try:
            if c["concurrency"] is not None:
                _replica_rows(c, rows, nums, models, files, out)
            elif np.isfinite(nums["rate"][rows]).any():
                fixed = np.isfinite(nums["replicas"][rows])
                if fixed.any():
                    _deployment_rows(c, rows[fixed], nums, models, files, out, err)
                if not fixed.all():
                    _solve_rows(c, rows[~fixed], nums, models, files, out, err)
            else:
                raise PlannerError("give --rate R (the cheapest deployment for R requests/s) or "
                                   "--concurrency N|max (one replica under N clients)")
        except PlannerError as exc:
            err.add(rows, str(exc))
    out["error"] = err.reason
    # the empirical error band of the predicted throughput/latency (planner/evaluate/bands.py)
    from planner.evaluate import bands
    return bands.add_serve(out)


def _spec(c, models):
    if not c["model"]:
        raise PlannerError("a serving plan needs a MODEL")
    return models[c["model"]]


def _precisions(c):
    from planner.estimate.serving.engine import serving_data
    return (c["quant"],) if c["quant"] else tuple(serving_data()["defaults"]["precisions"])


MIX_KEYS = ("prompt", "output", "prompt_sd", "output_sd")


def _by_values(rows, nums, keys):
    """The rows split by their distinct values of `keys`: (sub-rows, {key: value}) pairs, so
    what depends only on those values (memory, the KV limit, capacities) is built once each."""
    table = np.column_stack([nums[k][rows] for k in keys])
    table = np.where(np.isnan(table), -1.0, table)
    uniq, inv = np.unique(table, axis=0, return_inverse=True)
    inv = inv.ravel()
    for g in range(len(uniq)):
        yield rows[inv == g], dict(zip(keys, uniq[g].tolist()))


def _one_shape(c, v, models, files, form: str):
    """The single replica shape the evaluate forms price: one device, --tp/--pp (default 1),
    --quant (default bf16), kept even where the solver's precision rules would drop it."""
    from planner.estimate.serving import load as L, solve as SV
    spec = _spec(c, models)
    devs = _devices(c["hardware"], files)
    if c["hardware"] is None or len(devs) != 1:
        raise PlannerError(f"{form}: give one --hardware NAME")
    prec = c["quant"] or "bf16"
    tp, pp = int(c["tp"] or 1), int(c["pp"] or 1)
    mix = L.Mix(*(v[k] for k in MIX_KEYS))
    cand = SV.build(spec, devs, c["engine"], (prec,), (tp,), (pp,), c["kv_cache"],
                    v["gpu_memory_utilization"], mix, c["max_batch"], c["max_num_tokens"],
                    c["price"], strict=True, kv_policy=c["kv_policy"])
    if len(cand) == 0:
        reason = cand.rejected[0][4] if cand.rejected else "weights do not fit"
        hint = {"weights do not fit": " (memory bound); try a larger --tp/--pp or a smaller "
                "--quant", "TensorRT-LLM runs on NVIDIA GPUs only": "; use --engine vllm or "
                "sglang"}.get(reason, "")
        raise PlannerError(f"{spec.name} at {prec} on TP {tp} x PP {pp} {devs[0].name}: "
                           f"{reason}{hint}")
    return spec, mix, cand


def _deployment_rows(c, rows, nums, models, files, out, err) -> None:
    """A fixed deployment (--replicas of one shape) under Poisson arrivals at --rate, split
    evenly over the replicas."""
    from planner.estimate.serving import load as L
    keys = MIX_KEYS + ("gpu_memory_utilization", "percentile")
    for sub, v in _by_values(rows, nums, keys):
        spec, mix, cand = _one_shape(c, v, models, files,
                                     "--rate with --replicas evaluates a fixed deployment")
        reps, rate = nums["replicas"][sub], nums["rate"][sub]
        res = L.open_loop(cand.rep, mix, rate / reps, cand.budget, cand.limit,
                          v["percentile"])
        # the most a replica sustains at these lengths: a closed loop at its sequence limit
        most = float(L.closed_loop(cand.rep, mix, cand.limit, cand.budget,
                                   cand.limit)["rate"][0])
        _fill(out, sub, res, cand, reps, mix, "deployment", spec, c, v["percentile"])
        out["replica_capacity_per_s"][sub] = most
        out["utilisation"][sub] = rate / (reps * most)
        out["rate_per_s"][sub] = rate
        over = ~np.broadcast_to(np.asarray(res["stable"], dtype=bool), sub.shape)
        if over.any():
            err.add(sub[over], lambda r: (
                f"--rate {nums['rate'][r]:,.4g}/s over {nums['replicas'][r]:,.0f} replicas "
                f"is more than the deployment sustains ({nums['replicas'][r] * most:,.4g} "
                "requests/s at these lengths): the queue grows without bound; give more "
                "--replicas, or drop --replicas to solve for them"))


def _replica_rows(c, rows, nums, models, files, out) -> None:
    """One replica of a fixed shape under closed-loop clients."""
    from planner.estimate.serving import load as L
    for sub, v in _by_values(rows, nums, MIX_KEYS + ("gpu_memory_utilization",)):
        spec, mix, cand = _one_shape(c, v, models, files,
                                     "--concurrency evaluates one replica")
        clients = np.full(len(sub), float(cand.limit[0]) if c["concurrency"] == "max"
                          else float(c["concurrency"]))
        res = L.closed_loop(cand.rep, mix, clients, cand.budget, cand.limit)
        replicas = np.where(np.isfinite(nums["replicas"][sub]), nums["replicas"][sub], 1.0)
        _fill(out, sub, res, cand, replicas, mix, "replica", spec, c)
        out["concurrency"][sub] = clients
        out["utilisation"][sub] = np.nan


def _solve_rows(c, rows, nums, models, files, out, err) -> None:
    """The cheapest deployment per row (rows share devices/engine/precision choices)."""
    from planner.estimate.serving import load as L, solve as SV
    from planner.estimate.serving.engine import serving_data
    spec = _spec(c, models)
    devs = _devices(c["hardware"], files)
    if not devs:
        raise PlannerError("no device with a price to choose from; give --hardware NAME "
                           "(and --price if its profile has none)")
    D = serving_data()["defaults"]
    tps = (int(c["tp"]),) if c["tp"] else tuple(D["tp"])
    pps = (int(c["pp"]),) if c["pp"] else tuple(D["pp"])
    keys = MIX_KEYS + ("ttft", "tpot", "percentile", "gpu_memory_utilization")
    for sub, v in _by_values(rows, nums, keys):
        ttft = v["ttft"] if v["ttft"] > 0 else SV.DEFAULT_TTFT
        tpot = v["tpot"] if v["tpot"] > 0 else SV.DEFAULT_TPOT
        pct = v["percentile"]
        mix = L.Mix(v["prompt"], v["output"], v["prompt_sd"], v["output_sd"])
        cand = SV.build(spec, devs, c["engine"], _precisions(c), tps, pps, c["kv_cache"],
                        v["gpu_memory_utilization"], mix, c["max_batch"], c["max_num_tokens"],
                        c["price"], kv_policy=c["kv_policy"])
        if len(cand) == 0:
            raise PlannerError(SV.infeasible_message(cand, {}, ttft, tpot, pct, spec.name))
        cap = SV.capacity(cand, mix, ttft, tpot, pct)
        if not cap["feasible"].any():
            raise PlannerError(SV.infeasible_message(cand, cap, ttft, tpot, pct, spec.name))
        rate = nums["rate"][sub]
        pick = SV.choose(cand, cap, rate)
        for j in np.unique(pick["index"]):
            these = sub[pick["index"] == j]
            sel = pick["index"] == j
            if j < 0:
                continue
            one = SV.take(cand, int(j))
            reps = pick["replicas"][sel]
            res = L.open_loop(one.rep, mix, rate[sel] / reps, one.budget, one.limit, pct)
            _fill(out, these, res, one, reps, mix, "solve", spec, c, pct)
            out["replica_capacity_per_s"][these] = cap["rate"][j]
            out["utilisation"][these] = rate[sel] / (reps * cap["rate"][j])
            out["binding"][these] = cap["binding"][j]
            out["ttft_target_seconds"][these] = ttft
            out["tpot_target_seconds"][these] = tpot
            out["rate_per_s"][these] = rate[sel]


def _fill(out, rows, res, cand, replicas, mix, mode, spec, c, pct: float = 99.0) -> None:
    """Copy the steady state of `cand`'s one configuration into the output columns (whole
    deployment)."""
    j = 0
    gpus_per = float(cand.gpus[j])
    reps = np.asarray(replicas, dtype=float)
    tok_out = res["output_tokens_per_s"] * reps
    tok_in = res["input_tokens_per_s"] * reps
    price = float(cand.price[j])
    cost = reps * gpus_per * price
    t = res["step_seconds"]
    share = res["prefill_fraction"] * (res["mixed_step_seconds"] - res["decode_step_seconds"]) / t
    out["model"][rows] = spec.name
    out["mode"][rows] = mode
    out["engine"][rows] = c["engine"]
    out["hardware"][rows] = cand.device[j]
    out["quant"][rows] = cand.quant[j]
    out["kv_cache"][rows] = cand.kv_cache[j]
    out["bound"][rows] = res["decode_bound"]
    out["replicas"][rows] = reps
    out["tp"][rows] = cand.tp[j]
    out["pp"][rows] = cand.pp[j]
    out["ep"][rows] = cand.tp[j] if spec.n_experts else 1.0
    out["gpus"][rows] = reps * gpus_per
    out["batch"][rows] = res["batch"]
    out["requests_per_s"][rows] = res["rate"] * reps
    out["rate_per_s"][rows] = res["rate"] * reps
    out["output_tokens_per_s"][rows] = tok_out
    out["output_tokens_per_s_per_gpu"][rows] = tok_out / (reps * gpus_per)
    out["input_tokens_per_s"][rows] = tok_in
    out["total_tokens_per_s"][rows] = tok_in + tok_out
    out["output_tokens_per_s_per_user"][rows] = 1.0 / res["tpot_mean"]
    out["max_sequences"][rows] = cand.limit[j]
    out["weights_bytes_per_gpu"][rows] = cand.memory["weights_bytes_per_gpu"][j]
    out["kv_cache_bytes_per_gpu"][rows] = cand.memory["kv_cache_bytes_per_gpu"][j]
    out["kv_tokens_per_replica"][rows] = cand.memory["kv_tokens"][j]
    out["price_usd_per_gpu_hour"][rows] = price
    out["cost_usd_per_hour"][rows] = cost
    # cost split by GPU time: the prefill share of each step prices the input tokens
    out["cost_usd_per_mtok_output"][rows] = cost * (1 - share) / (tok_out * 3600) * 1e6
    out["cost_usd_per_mtok_input"][rows] = cost * share / (tok_in * 3600) * 1e6
    out["prefill_time_share"][rows] = share
    out["ttft_seconds"][rows] = res["ttft_mean"]
    out["tpot_seconds"][rows] = res["tpot_mean"]
    out["itl_seconds"][rows] = res["itl_mean"]
    for m in LATENCY:
        for q in QS:
            out[f"{m}_seconds_p{q}"][rows] = res[f"{m}_p{q}"]
    out["percentile"][rows] = pct
    out["prompt"][rows] = mix.prompt
    out["output"][rows] = mix.output


def evaluate_one(plan, models: dict | None = None) -> dict[str, Any]:
    """One `ServePlan` -> its row as plain Python values; an error raises `PlannerError`."""
    given, models, files = plan_inputs(plan, models)
    if given.get("hardware") is not None:
        given["hardware"] = Cat((tuple(given["hardware"]),), np.zeros(1, dtype=np.int64))
    return answered(evaluate(given, 1, models, files))[0]
