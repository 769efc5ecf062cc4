"""The training evaluator: columns of `TrainPlan`s in, a table of answers out.

`planner train` is this evaluator at n = 1 plus rendering; `planner run` is the same evaluator at
n = millions.  So a command and a scenario row with the same plan give the same figures, the same
errors and the same nulls.

Steps, each a vectorised estimator:
1. per distinct combination of the categorical keys (model, device, precision, recompute,
   layout pins, ...): the device and its dense peak, FLOPs per token and the recomputation
   ratio (`estimate.training`), the candidate parallel layouts and their memory
   (`estimate.memory.layouts`), the fewest devices that hold the job;
2. per row: the utilisation (MFU, or HFU converted through the recomputation ratio; PaLM
   App. B), tokens bought by a budget (`estimate.solve.tokens_for_budget`), the devices (given,
   solved for a deadline, or sized for the default wall-clock target of a budget), the layout
   that uses them (the rule of `Layouts.for_devices`), time, device-time, cost, energy, CO2 and
   memory per device;
3. checks: a row that cannot be answered gets its reason in the `error` column (the command
   prints it as its ``Error:`` line); a row answered under an assumption worth knowing gets a
   `warning`.
A figure that was not asked for, or cannot be known, is NaN (null in JSON), never 0.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.estimate import training
from planner.evaluate.columns import (Cat, Errors, answered, choose, combination_rows,
                                      numeric_inputs, plan_inputs, resolved_combinations)
from planner.plan.defaults import defaults
from planner.plan.train import TRAIN
from planner.units import DAY, HOUR, MONTH, format_bytes, format_count, format_duration, \
    format_int, format_usd, parse_duration

CATEGORICAL = TRAIN.categorical
NUMERIC = ("tokens", "flops", "params", "gpus", "deadline", "budget", "mfu", "hfu", "price",
           "pue", "grid_kg_per_kwh", "max_gpus")
SLACK = 1 + 1e-9
# Columns that describe where a figure came from (the same for every row of a combination):
# the command prints them; scenario tables leave them out (they are in the report's inputs).
DESCRIPTIVE = ("gpus_how", "utilisation_source", "price_source", "optimizer_mode")
# Columns only a predicted utilisation has (planner.estimate.parallel), NaN otherwise.
from planner.estimate.parallel.terms import TERMS  # noqa: E402  (step-time terms)
PREDICTED = ("cp", "ep", "interleave", "global_batch", "step_seconds", "tokens_per_s",
             "tflops_per_gpu", "memory_buffers", *(f"time_{t}" for t in TERMS))


@dataclass
class Combo:
    """What one combination of a training plan's categorical keys fixes (model, device,
    precision, layout rules), resolved once however many rows share it."""
    spec: Any = None
    device: Any = None
    precision: str = ""
    peak: float = math.nan
    recompute: str = "none"
    flops_per_token: float = math.nan     # model FLOPs per token (nan: no architecture)
    params: float = math.nan              # N used by 6ND (nan: no architecture)
    hw_ratio: float = 1.0                 # hardware / model FLOPs (recomputation)
    layouts: Any = None                   # estimate.memory.Layouts, or None
    capacity: float = math.inf
    min_mem: dict | None = None
    min_gpus: float = 1.0
    zero: int = 1
    node_size: int = 8
    micro_batch: int = 1
    seq_len: float = math.nan
    sequence_parallel: bool = False
    optimizer_note: str = ""
    predictor: Any = None                 # evaluate.predict.Predictor, when it can predict
    predict_flops_scale: float = 1.0      # our model FLOPs per token / the parallel model's
    hw_ratio_by: dict = field(default_factory=dict)   # recompute mode -> hardware/model FLOPs
    can_predict: bool = False
    goodput: Any = None                   # the goodput flag as given (None: auto)
    error: str | None = None


def resolve_device(hardware, tflops, memory, bandwidth, tdp, precision, files):
    """The device of a plan: a named profile (with --memory/--bandwidth/--tdp/--tflops
    overrides) or an ad-hoc device from --tflops.  Returns (Device, precision, peak)."""
    from planner.hardware import adhoc_device, get_device
    if hardware:
        dev = get_device(hardware, files)
        prec = precision or dev.best_training_precision()
        changes: dict[str, Any] = {}
        if memory is not None:
            changes["memory_bytes"] = float(memory)
        if bandwidth is not None:
            changes["bandwidth_bytes_per_s"] = float(bandwidth)
        if tdp is not None:
            changes["tdp_w"] = float(tdp)
        if tflops is not None:
            changes["peak_flops"] = {**dev.peak_flops, prec: float(tflops) * 1e12}
        if changes:
            dev = dataclasses.replace(dev, **changes)
        return dev, prec, dev.peak(prec)
    if tflops is None:
        return None, precision or "", math.nan
    prec = precision or "bf16"
    dev = adhoc_device(float(tflops), memory, bandwidth, precision=prec,
                       name=f"ad-hoc {float(tflops):g} TFLOPS", tdp_w=float(tdp or 0.0))
    return dev, prec, dev.peak(prec)


def _combo(inputs: dict, models: dict, files: tuple) -> Combo:
    from planner.estimate import memory, training
    c = Combo()
    spec = models[inputs["model"]] if inputs["model"] else None
    c.spec = spec
    # Selective recomputation is the practical default with an architecture (Korthikanti et al.
    # 2022 sec. 5); a bare FLOPs budget has none to recompute selectively.
    c.recompute = inputs["recompute"] or ("selective" if spec is not None else "none")
    D = defaults("train")
    # With a given utilisation the memory layout rule uses these defaults; a predicted one
    # searches every dimension the plan does not pin (evaluate.predict).
    c.zero = int(D["zero"] if inputs["zero"] is None else inputs["zero"])
    c.node_size = int(inputs["node_size"])
    c.micro_batch = int(D["micro_batch"] if inputs["micro_batch"] is None
                        else inputs["micro_batch"])
    c.sequence_parallel = bool(inputs["sequence_parallel"])
    c.goodput = inputs["goodput"]
    opt = inputs["optimizer_bytes"] or "mixed"
    mode, k_opt = (opt, None) if isinstance(opt, str) else ("mixed", float(opt))
    wb, gb, _ = memory.BYTE_MODES[mode]
    c.optimizer_note = memory.BYTE_MODE_NOTES[mode] if k_opt is None else \
        f"optimizer K = {k_opt:g} bytes/param (--optimizer-bytes), {wb:g} weights + {gb:g} grads"
    c.device, c.precision, c.peak = resolve_device(
        inputs["hardware"], inputs["tflops"], inputs["memory"], inputs["bandwidth"],
        inputs["tdp"], inputs["precision"], files)
    if c.device is None:
        c.error = ("give --hardware NAME (see `planner hardware`) or an ad-hoc device "
                   "--tflops X [--memory 80GB]")
        return c
    c.capacity = c.device.memory_bytes
    if spec is None:
        if c.recompute == "selective":
            c.error = ("--recompute selective needs a MODEL architecture (its overhead is the "
                       "attention-score FLOPs); use none or full with --flops/--params")
        c.hw_ratio = training.FULL_RECOMPUTE_FACTOR if c.recompute == "full" else 1.0
        return c
    c.seq_len = float(inputs["seq_len"] or spec.context)
    from planner.evaluate import predict
    if predict.can_predict(c.device):
        c.predictor = predict.predictor(spec, c.device, int(c.seq_len), inputs)
        c.can_predict = True
    f = training.training_flops(spec, 1.0, inputs["flops_method"], c.recompute,
                                bool(inputs["non_embedding"]), inputs["seq_len"] or None)
    c.flops_per_token, c.params = float(f["model_flops"]), float(f["params"])
    c.hw_ratio = float(f["hardware_flops"] / f["model_flops"])
    if c.predictor is not None:
        c.predict_flops_scale = c.flops_per_token / training.model_flops_per_token(
            spec, int(c.seq_len), inputs["flops_method"])
        for how in ("none", "selective", "full"):
            g = training.training_flops(spec, 1.0, inputs["flops_method"], how,
                                        bool(inputs["non_embedding"]), inputs["seq_len"] or None)
            c.hw_ratio_by[how] = float(g["hardware_flops"] / g["model_flops"])
    tp, pp = inputs["tp"], inputs["pp"]
    c.error = _layout_pin_error(spec, tp, pp, c.node_size)
    if c.error:
        return c
    kw = dict(seq_len=inputs["seq_len"] or None, micro_batch=c.micro_batch, zero=c.zero,
              recompute=c.recompute, sequence_parallel=c.sequence_parallel, mode=mode,
              optimizer_bytes=k_opt)
    if math.isfinite(c.capacity):
        c.layouts = memory.layouts(spec, c.node_size, tp=tp, pp=pp, **kw)
        c.min_mem = c.layouts.min_devices(c.capacity)
        c.min_gpus = c.min_mem["gpus"]
    else:  # memory unknown (an ad-hoc device without --memory): the pinned or plain layout
        c.layouts = memory.layouts(spec, c.node_size, tp=tp or 1, pp=pp or 1, **kw)
    return c


def _layout_pin_error(spec, tp, pp, node_size) -> str | None:
    """A pinned layout must divide the model: heads (and KV heads, or be a multiple of them)
    by TP (Shoeybi et al. 2019 sec. 3), at most one layer per stage (Narayanan et al. 2021)."""
    from planner.estimate.memory import n_blocks
    layers = n_blocks(spec)
    if tp is not None:
        kv = spec.kv_heads
        if spec.n_heads % tp or (kv % tp and tp % kv):
            ok = [t for t in range(1, spec.n_heads + 1)
                  if spec.n_heads % t == 0 and (kv % t == 0 or t % kv == 0)]
            near = sorted(ok, key=lambda t: (abs(t - tp), t))[:3]
            return (f"--tp {tp} does not divide the {spec.n_heads} attention heads "
                    f"({kv} KV heads) of {spec.name} (nearest valid: "
                    f"{', '.join(map(str, sorted(near)))})")
    if pp is not None and pp > layers:
        return f"--pp {pp} exceeds the {layers} layers of {spec.name} (valid: 1 to {layers})"
    return None


def verdicts(seconds, deadline, cost, budget, fits) -> tuple[np.ndarray, np.ndarray]:
    """meets_deadline (no deadline, or within it, and the plan fits) and within_budget (no
    budget, or within it), each with the SLACK of floating-point round-off."""
    meets = (np.isnan(deadline) | (seconds <= deadline * SLACK)) & fits
    return meets, np.isnan(budget) | (cost <= budget * SLACK)


def evaluate(cols: dict[str, Any], n: int, models: dict | None = None,
             hardware_files: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Training answers for `n` plans.

    `cols` maps `TRAIN` keys to scalars, arrays of length n or `Cat`s, numbers in base units
    (tokens, FLOP, seconds, USD, USD per device-hour); 'model' names a key of `models`
    (name -> ModelSpec; '' or None for a bare FLOPs budget).  Returns columns of length n in
    base units, with `error` (None where the plan is answered) and `warning`."""
    from planner.estimate import solve

    models = models or {}
    files = tuple(hardware_files)
    cats, code, combos = resolved_combinations(TRAIN, cols, n,
                                               lambda v: _combo(v, models, files))

    def per(attr: str, dtype=float) -> np.ndarray:
        return np.asarray([getattr(c, attr) for c in combos], dtype=dtype)[code]

    D = defaults("train")
    num = numeric_inputs(TRAIN, cols, n, NUMERIC)
    err = Errors(n)
    has_model = np.asarray([c.spec is not None for c in combos], dtype=bool)[code]
    bad_combo = np.asarray([c.error is not None for c in combos], dtype=bool)
    if bad_combo.any():
        combo_error = per("error", object)
        err.add(bad_combo[code], lambda r: combo_error[r])

    # -- what is trained ------------------------------------------------------------------
    tokens, flops_in, params_in = num["tokens"], num["flops"], num["params"]
    has_flops, has_params = ~np.isnan(flops_in), ~np.isnan(params_in)
    budget = num["budget"]
    err.add(~has_model & ~has_flops & ~has_params,
            "give a MODEL (see `planner models`), a bare --flops F, or --params N with --tokens")
    err.add((has_model | has_params) & np.isnan(tokens) & np.isnan(budget),
            "give --tokens (e.g. --tokens 300B) or --budget to solve for them")
    method = cats[CATEGORICAL.index("flops_method")].column()
    err.add(~has_model & has_params & (method == "exact"),
            "--flops-method exact needs a MODEL architecture, not --params")
    fpt = np.where(has_model, per("flops_per_token"), 6.0 * params_in)
    params = np.where(has_model, per("params"), params_in)
    hw_ratio = per("hw_ratio")

    # -- device, price, utilisation ---------------------------------------------------------
    peak = per("peak")
    devs = [c.device for c in combos]
    dev_price = np.asarray([d.price_per_hour if d else math.nan for d in devs])[code]
    price = np.where(np.isnan(num["price"]), dev_price, num["price"])
    dev_mfu = np.asarray([d.default_mfu if d else math.nan for d in devs])[code]
    mfu_in, hfu_in = num["mfu"], num["hfu"]
    use_hfu = ~np.isnan(hfu_in)
    # No --mfu/--hfu: the utilisation is predicted where the device allows (evaluate.predict),
    # else the profile's default MFU.
    predict = has_model & ~use_hfu & np.isnan(mfu_in) & per("can_predict", bool)
    mfu = np.where(use_hfu, hfu_in / hw_ratio, np.where(np.isnan(mfu_in), dev_mfu, mfu_in))
    mfu = np.where(predict, np.nan, mfu)
    hfu = mfu * hw_ratio
    device_name = np.asarray([d.name if d else None for d in devs], dtype=object)[code]
    has_device = np.asarray([d is not None for d in devs], dtype=bool)[code]
    err.add(np.isnan(mfu) & has_device & ~predict,
            lambda r: f"device {device_name[r]!r} has no default MFU and no network figures "
                      "to predict one; give --mfu (e.g. 0.4) or --hfu")
    per_recompute = per("recompute", object)
    err.add(hfu > 1 + 1e-12, lambda r: f"MFU {mfu[r]:.3g} with {per_recompute[r]} "
                                       f"recomputation means HFU {hfu[r]:.3g} > 1; lower --mfu")
    node = per("node_size")
    # A budget must buy at least one node-hour and needs a price (solve.check_budget).
    given_budget = ~np.isnan(budget)
    err.add(given_budget & ~(price > 0),
            "--budget needs a device price: the profile has none; give --price "
            "(e.g. --price '$2.50/h')")
    err.add(given_budget & (budget < price * node),
            lambda r: f"budget {format_usd(budget[r])} buys less than one node-hour "
                      f"({node[r]:.0f} devices x ${price[r]:,.2f}/h = "
                      f"${price[r] * node[r]:,.2f}); raise --budget or use --node-size 1")

    # -- budget -> tokens, FLOPs ------------------------------------------------------------
    # A budget without tokens buys tokens, priced at the FLOPs the utilisation counts: model
    # FLOPs with MFU, hardware FLOPs with HFU (PaLM App. B).  Cost is linear in devices at a
    # fixed utilisation, so what it buys does not depend on the cluster size.
    util = np.where(use_hfu, hfu, mfu)
    counted_per_token = np.where(use_hfu, fpt * hw_ratio, fpt)
    buy = np.isnan(tokens) & ~has_flops & given_budget
    buy_m = buy & ~predict
    with np.errstate(invalid="ignore", divide="ignore"):
        bought, _, _ = solve.tokens_for_budget(budget, price, peak, util, counted_per_token)
    tokens = np.where(buy_m, bought, tokens)
    model_flops = np.where(has_flops, flops_in, fpt * tokens)
    hw_flops = model_flops * hw_ratio
    counted = np.where(use_hfu, hw_flops, model_flops)

    # -- devices ------------------------------------------------------------------------------
    gpus_in, deadline = num["gpus"], num["deadline"]
    default_target = parse_duration(D["budget_wall_clock"], "budget_wall_clock")
    by_default = np.isnan(gpus_in) & np.isnan(deadline) & given_budget
    err.add(np.isnan(gpus_in) & np.isnan(deadline) & ~given_budget,
            "give --gpus N, --deadline D (solve for devices) or --budget USD (solve for "
            "tokens; the cluster is then sized for a 30-day run)")
    target = np.where(by_default, default_target, deadline)
    min_gpus = per("min_gpus")
    with np.errstate(invalid="ignore", divide="ignore"):
        need_raw = counted / (target * peak * util)
        need = solve.devices_for_deadline(counted, target, peak, util, node, min_gpus)
    solving = np.isnan(gpus_in)
    allocated = np.where(solving, need, gpus_in)
    limit = num["max_gpus"]
    err.add(solving & ~np.isfinite(min_gpus) & has_model & ~predict,
            lambda r: _no_fit(combos[code[r]]))
    too_many = solving & np.isfinite(need) & (need > limit) & ~predict
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        at_limit = counted / (limit * peak * util)
    err.add(too_many & ~by_default,
            lambda r: f"--deadline {format_duration(deadline[r])} needs "
                      f"{format_int(need[r])} devices, more than the largest sensible cluster "
                      f"({format_int(limit[r])}, --max-gpus); at {format_int(limit[r])} devices "
                      f"it takes {format_duration(at_limit[r])}")
    err.add(too_many & by_default,
            lambda r: f"finishing in the default {format_duration(default_target)} needs "
                      f"{format_int(need[r])} devices, more than --max-gpus "
                      f"{format_int(limit[r])}; give --deadline or --gpus")
    allocated = np.where(too_many, np.nan, allocated)

    # -- layout per row (per combination, per distinct device count) --------------------------
    groups = combination_rows(code, len(combos))
    lay = _layouts(combos, groups, allocated, need_raw, solving, node, n)
    used = np.where(has_model, lay["used"], allocated)
    err.add(has_model & (lay["index"] < 0) & np.isfinite(allocated) & ~predict,
            lambda r: f"tp x pp = {_least_model_parallel(combos[code[r]]):.0f} exceeds the "
                      f"{allocated[r]:.0f} devices given")
    known_capacity = np.isfinite(per("capacity"))
    fits = np.where(has_model & known_capacity, lay["fits"], True)
    err.add(has_model & known_capacity & ~lay["fits"] & (lay["index"] >= 0) & ~predict,
            lambda r: _no_fit(combos[code[r]], allocated[r]))

    # -- time, money, energy ------------------------------------------------------------------
    # Narayanan et al. 2021 sec. 5.1: t = FLOP / (devices x peak x utilisation), over the
    # devices the layout uses; idle devices are priced (they are rented) but do no work.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        seconds = counted / (used * peak * util)
    useful = np.ones(n)
    goodput_on = np.asarray([c.goodput is True for c in combos], dtype=bool)[code]
    on_m = ~predict & goodput_on & has_model & np.isfinite(allocated)
    if on_m.any():  # a given utilisation is end-to-end unless --goodput says otherwise
        from planner.estimate.parallel.goodput import goodput
        useful[on_m] = goodput(allocated[on_m], params[on_m])["useful_fraction"]
        seconds = seconds / useful
    pred = {}
    if predict.any():
        from planner.evaluate.predict import evaluate_rows
        pred = evaluate_rows(predict, combos, groups, tokens, budget, price, deadline, gpus_in,
                             by_default, default_target, node, limit, min_gpus, params)
        err.add(predict & np.not_equal(pred["error"], None), lambda r: pred["error"][r])
        for name, arr in (("allocated", allocated), ("used", used), ("seconds", seconds),
                          ("mfu", mfu), ("hfu", hfu), ("tokens", tokens),
                          ("useful", useful)):
            arr[predict] = pred[name][predict]
        # FLOPs are counted one way: the plan's time (tokens/s) with our MFU/HFU accounting -
        # model FLOPs per token as for every plan, hardware FLOPs by the plan's recomputation.
        scale = np.asarray([c.predict_flops_scale for c in combos])[code]
        ratio_of = np.asarray([[c.hw_ratio_by.get(m, np.nan) for m in ("none", "selective",
                                                                       "full")]
                               for c in combos])[code]
        which = np.select([pred["recompute"] == "selective", pred["recompute"] == "full"],
                          [1, 2], 0)
        hw_ratio = np.where(predict, ratio_of[np.arange(n), which], hw_ratio)
        mfu[predict] = (pred["mfu"] * scale)[predict]
        hfu = np.where(predict, mfu * hw_ratio, hfu)
        model_flops = np.where(has_flops, flops_in, fpt * tokens)
        hw_flops = model_flops * hw_ratio
        fits = np.where(predict, np.isfinite(pred["seconds"]), fits)
        for k in ("tp", "pp", "dp"):
            lay[k] = np.where(predict, pred[k], lay[k])
        for k in ("weights", "gradients", "optimizer", "activations", "total"):
            lay[f"memory_{k}"] = np.where(predict, pred[f"memory_{k}"], lay[f"memory_{k}"])
        buy = buy_m | (buy & predict)
    device_hours = seconds * allocated / HOUR
    tdp = np.asarray([d.tdp_w if d and d.tdp_w else math.nan for d in devs])[code]
    energy = tdp * device_hours * num["pue"] / 1e3
    cost = device_hours * price
    err.add(given_budget & ~buy & (cost > budget * SLACK),
            lambda r: f"the plan costs {format_usd(cost[r])}, over the budget of "
                      f"{format_usd(budget[r])}; the budget buys {budget[r] / cost[r]:.1%} of it"
                      + (f" ({format_count(budget[r] / cost[r] * tokens[r])} tokens)"
                         if np.isfinite(tokens[r]) else ""))

    err.add(~solving & ~np.isnan(deadline) & (seconds > deadline * SLACK),
            lambda r: f"on {allocated[r]:,.0f} devices the plan takes "
                      f"{format_duration(seconds[r])}, past the deadline of "
                      f"{format_duration(deadline[r])}; drop --gpus to solve for the devices")
    with np.errstate(invalid="ignore"):      # inf - inf where nothing is allocated
        idle = allocated - used
    warn_idle = np.isfinite(idle) & (idle > 0)
    default_note = (f"no --gpus or --deadline: the cluster is sized to finish in the default "
                    f"{format_duration(default_target)}; give --deadline or --gpus")
    idle_note = ("some devices sit idle (no layout that fits uses them all; gpus_idle counts "
                 "them): they are priced but do no work")
    warn = choose(n, [(by_default & warn_idle, default_note + "; " + idle_note),
                      (by_default, default_note), (warn_idle, idle_note)])
    binds = np.isfinite(min_gpus) & (min_gpus > 1) & (need == solve.round_to_nodes(
        np.where(np.isfinite(min_gpus), min_gpus, 1), node))
    how = choose(n, [(~solving, "given: --gpus"),
                     (by_default, f"sized to finish in the default "
                                  f"{format_duration(default_target)} (--budget without --gpus "
                                  "or --deadline)"),
                     (binds, "smallest whole-node cluster meeting --deadline (memory minimum "
                             "binds)")],
                 "smallest whole-node cluster meeting --deadline")
    dev_src = np.asarray([f"{d.name} profile default ({d.info.get('mfu_source', 'no source')})"
                          if d else None for d in devs], dtype=object)[code]
    util_src = choose(n, [(use_hfu, "from --hfu"), (~np.isnan(mfu_in), "--mfu")], dev_src)
    price_src = choose(n, [(~np.isnan(num["price"]), "--price")], np.asarray(
        [str(d.info.get("price_source", "device profile")) if d and math.isfinite(
            d.price_per_hour) else None for d in devs], dtype=object)[code])

    memory_cols = {f"memory_{k}_bytes": np.where(has_model, lay[f"memory_{k}"], np.nan)
                   for k in ("weights", "gradients", "optimizer", "activations")}
    fits_known = fits == True  # noqa: E712
    meets_deadline, within_budget = verdicts(seconds, deadline, cost, budget, fits_known)
    min_layout = {k: np.asarray([c.min_mem[k] if c.min_mem and c.min_mem.get(k) is not None
                                 and math.isfinite(c.min_mem["gpus"]) else math.nan
                                 for c in combos], dtype=float)[code] for k in ("tp", "pp", "dp")}
    # The predicted plan's own choices (NaN / the input where the utilisation was given).
    opt_note = per("optimizer_note", object)
    chosen = {"recompute": per_recompute, "zero": per("zero"), "micro_batch": per("micro_batch"),
              "sequence_parallel": per("sequence_parallel", bool),
              "precision": per("precision", object)}
    nothing = np.full(n, np.nan)          # shared by the columns no row has (read-only)
    nothing.flags.writeable = False
    extra: dict[str, np.ndarray] = {k: nothing for k in PREDICTED}
    if pred:
        for k in chosen:
            chosen[k] = np.where(predict, pred[k], chosen[k])
        chosen["sequence_parallel"] = chosen["sequence_parallel"].astype(bool)
        for k in PREDICTED:
            extra[k] = np.where(predict, pred[k], np.nan)
        how = choose(n, [(predict & solving & ~by_default,
                          "smallest whole-node cluster meeting --deadline at the predicted "
                          "utilisation")], how)
        util_src = choose(n, [(predict, pred["source"])], util_src)
        opt_note = choose(n, [(predict, pred["optimizer_mode"])], opt_note)
    out = {
        "model": cats[0].column(),
        "device": device_name,
        "precision": chosen["precision"],
        "params": params,
        "tokens": tokens,
        "tokens_solved_from_budget": buy,
        "flops": model_flops,
        "hardware_flops": hw_flops,
        "flops_method": choose(n, [(has_flops, "given")], method),
        "non_embedding": _flags(cats[CATEGORICAL.index("non_embedding")]),
        "recompute": chosen["recompute"],
        "peak_flops_per_gpu": peak,
        "gpus": allocated,
        "gpus_used": used,
        "gpus_idle": idle,
        "gpus_how": how,
        "node_size": node,
        "tp": np.where(has_model, lay["tp"], np.nan),
        "pp": np.where(has_model, lay["pp"], np.nan),
        "dp": np.where(has_model, lay["dp"], np.nan),
        "cp": extra["cp"],
        "ep": extra["ep"],
        "interleave": extra["interleave"],
        "global_batch": extra["global_batch"],
        "mfu": mfu,
        "hfu": hfu,
        "utilisation_source": util_src,
        "step_seconds": extra["step_seconds"],
        "tokens_per_s": extra["tokens_per_s"],
        "tflops_per_gpu": extra["tflops_per_gpu"],
        "goodput": np.where(predict | on_m, useful, np.nan),
        "seconds": seconds,
        "days": seconds / DAY,
        "gpu_hours": device_hours,
        "gpu_days": device_hours / 24.0,
        "gpu_months": device_hours * HOUR / MONTH,
        "pf_days": model_flops / training.PF_DAY,
        "price_per_hour": price,
        "price_source": price_src,
        "cost_usd": cost,
        "tdp_w": tdp,
        "pue": num["pue"],
        "energy_kwh": energy,
        "grid_kg_per_kwh": num["grid_kg_per_kwh"],
        "co2_kg": energy * num["grid_kg_per_kwh"],
        "deadline_seconds": deadline,
        "meets_deadline": meets_deadline,
        "budget_usd": budget,
        "within_budget": within_budget,
        "device_memory_bytes": np.where(known_capacity, per("capacity"), np.nan),
        "memory_per_gpu_bytes": np.where(has_model, lay["memory_total"], np.nan),
        **memory_cols,
        "memory_buffers_bytes": extra["memory_buffers"],
        **{f"time_{t}_seconds": extra[f"time_{t}"] for t in TERMS},
        "fits_memory": choose(n, [(has_model & known_capacity & fits, True),
                                  (has_model & known_capacity, False)]),
        "min_gpus_for_memory": np.where(has_model & known_capacity & np.isfinite(min_gpus),
                                        min_gpus, np.nan),
        "min_memory_tp": min_layout["tp"],
        "min_memory_pp": min_layout["pp"],
        "min_memory_dp": min_layout["dp"],
        "zero": chosen["zero"],
        "micro_batch": chosen["micro_batch"],
        "seq_len": per("seq_len"),
        "sequence_parallel": chosen["sequence_parallel"],
        "optimizer_mode": opt_note,
        "error": err.reason,
        "warning": warn,
    }
    # Issue 14: consistency warnings (planner/evaluate/consistency.py) joined to `warning`, and
    # the empirical error band of a predicted time/utilisation (planner/evaluate/bands.py).
    from planner.evaluate import bands, consistency
    out["warning"] = consistency.train(out, combos, code)
    bands.add_train(out, predict, cats[CATEGORICAL.index("framework")])
    return out


def _flags(cat: Cat) -> np.ndarray:
    return np.asarray([bool(v) for v in cat.values], dtype=bool)[cat.index]


def _least_model_parallel(c: Combo) -> float:
    return float((c.layouts.tp * c.layouts.pp).min())


def _layouts(combos, groups, allocated, need_raw, solving, node, n) -> dict[str, np.ndarray]:
    """Layout columns for every row: per combination with an architecture, the layout of each
    distinct device count (`Layouts.for_devices`).  A solved cluster that the layout cannot
    use whole grows by whole nodes until the devices it uses meet the need."""
    keys = ("index", "tp", "pp", "dp", "used", "idle", "fits", "memory_weights",
            "memory_gradients", "memory_optimizer", "memory_activations", "memory_total")
    out = {k: np.full(n, np.nan) for k in keys}
    out["index"] = np.full(n, -1)
    out["fits"] = np.zeros(n, dtype=bool)
    for c, rows in zip(combos, groups):
        if c.layouts is None:
            continue
        ok = np.isfinite(allocated[rows])
        rows = rows[ok]
        if not len(rows):
            continue
        values, inverse = np.unique(allocated[rows], return_inverse=True)
        res = {k: np.asarray(v, dtype=bool if k == "fits" else float)
               for k, v in c.layouts.for_devices(values, c.capacity).items()}
        # Grow solved clusters (whole nodes) whose layout leaves them short of the need.
        need = np.zeros(len(values))
        np.maximum.at(need, inverse, np.where(solving[rows], need_raw[rows], 0.0))
        grow = np.zeros(len(values), dtype=bool)
        np.logical_or.at(grow, inverse, solving[rows])
        todo = grow & np.isfinite(need) & ((res["used"] < need * (1 - 1e-12)) | ~res["fits"])
        tries = 0
        while todo.any() and tries < 64:
            tries += 1
            values = np.where(todo, values + float(c.node_size), values)
            again = c.layouts.for_devices(values[todo], c.capacity)
            for k in res:
                res[k][todo] = again[k]
            todo = todo & ((res["used"] < need * (1 - 1e-12)) | ~res["fits"])
        allocated[rows] = values[inverse]
        for k in keys:
            out[k][rows] = res[k][inverse]
    return out


def _no_fit(c: Combo, devices: float | None = None) -> str:
    """Why a model does not fit, and what would make it fit."""
    spec, dev = c.spec, c.device
    best = c.min_mem or {}
    m = best.get("memory", {})
    tips = []
    if c.recompute != "full":
        tips.append("--recompute full" if c.recompute == "selective"
                    else "--recompute selective or full")
    if not c.sequence_parallel:
        tips.append("--sequence-parallel")
    if c.zero < 3:
        tips.append(f"--zero {c.zero + 1}")
    if c.micro_batch > 1:
        tips.append("a smaller --micro-batch")
    tips.append("a shorter --seq-len or a device with more memory")
    where = f" on {devices:,.0f} devices" if devices is not None and math.isfinite(
        c.min_gpus) else " at any layout"
    need = ""
    if m:
        need = (f" (best: tp={best['tp']}, pp={best['pp']} needs {format_bytes(m['total'])} per "
                f"device, of which activations {format_bytes(m['activations'])})")
    if devices is not None and math.isfinite(c.min_gpus):
        need = f" (it needs at least {c.min_gpus:,.0f} devices: tp={best['tp']}, " \
               f"pp={best['pp']}, dp={best['dp']})"
        tips.insert(0, f"--gpus {c.min_gpus:,.0f} or more")
    return (f"{spec.name} does not fit in {format_bytes(dev.memory_bytes)} "
            f"({format_bytes(dev.memory_bytes, binary=True)}) of {dev.name}{where}{need}; "
            "try " + ", ".join(tips))


def evaluate_one(plan, models: dict | None = None) -> dict[str, Any]:
    """One plan (a `TrainPlan`) -> its row as plain Python values; its error raises
    `PlannerError` (the command's ``Error:`` line, exit 2)."""
    given, models, files = plan_inputs(plan, models)
    return answered(evaluate(given, 1, models, files))[0]
