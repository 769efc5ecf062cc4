"""The local-inference evaluator: columns of `InferPlan`s in, a table of answers out.

`planner infer` is this evaluator at n = 1 (or one row per weight format for ``--quant all``);
a scenario's [infer] rows are the same evaluator at n = millions.  Per distinct combination of
the categorical keys (model, device, quantisation, KV type, reserve, ...) the device and the
weight bytes are resolved once; context, batch, prompt and the efficiencies are arrays.  The
searches (largest context and batch that fit, the batch where decode turns compute-bound) are
vectorised bisections over the distinct values of the other input; the quantisations that fit
are a sorted search over every weight format's size.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from planner.errors import PlannerError
from planner.evaluate.columns import Cat, Errors, combinations, numeric, plain
from planner.plan.defaults import defaults
from planner.plan.infer import INFER

CATEGORICAL = INFER.categorical
GPUS_FOR = ("fp16", "int8", "int4")


def _default(key: str) -> Any:
    return INFER[key].default


@dataclass
class Combo:
    spec: Any = None
    device: Any = None
    quant: str = ""
    kv_type: str = "f16"
    reserve: Any = None
    flash: bool = True
    era: str = "current"
    shared: bool = False
    usable: float = math.nan
    reserve_bytes: float = math.nan
    bandwidth: float = math.nan
    peak: float = math.nan
    bits: float = math.nan
    weights: float = math.nan
    error: str | None = None


def resolve_device(name, memory, bandwidth, tflops, discrete, files):
    """A named profile (with --memory/--bandwidth/--tflops overrides) or an ad-hoc device."""
    from planner.hardware import Device, get_device
    if name:
        dev = get_device(name, files)
        changes: dict[str, Any] = {}
        if memory is not None:
            changes["memory_bytes"] = float(memory)
        if bandwidth is not None:
            changes["bandwidth_bytes_per_s"] = float(bandwidth)
        if tflops is not None:  # the 16-bit peaks prefill uses (planner.estimate.inference)
            changes["peak_flops"] = {**dev.peak_flops, "fp16": tflops * 1e12,
                                     "bf16": tflops * 1e12}
        return dataclasses.replace(dev, **changes) if changes else dev
    if memory is None or bandwidth is None:
        return None
    peaks = {"fp16": tflops * 1e12} if tflops is not None else {}
    return Device(name="ad-hoc", memory_bytes=float(memory), bandwidth_bytes_per_s=float(bandwidth),
                  peak_flops=peaks, unified_memory=not discrete, category="ad-hoc")


@functools.cache
def _all_weights(spec, era: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Every weight format the planner knows and its bytes for `spec`, smallest first."""
    from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES, weight_bytes
    names = tuple(SIMPLE_TYPES) + tuple(GGUF_TYPES)
    sizes = np.array([weight_bytes(spec, q, era).total for q in names], dtype=float)
    order = np.argsort(sizes, kind="stable")
    return tuple(names[i] for i in order), sizes[order]


def _combo(inputs: dict, models: dict, files: tuple) -> Combo:
    from planner.estimate import inference
    from planner.estimate.quant import weight_bytes
    c = Combo(quant=inputs["quant"], kv_type=inputs["kv_cache"], flash=bool(inputs["flash_attn"]),
              era=inputs["recipes"])
    c.reserve = None if inputs["reserve"] in (None, "auto") else inputs["reserve"]
    if not inputs["model"]:
        c.error = "an inference plan needs a MODEL"
        return c
    c.spec = models[inputs["model"]]
    c.device = resolve_device(inputs["device"], inputs["memory"], inputs["bandwidth"],
                              inputs["tflops"], bool(inputs["discrete"]), files)
    wb = weight_bytes(c.spec, c.quant, c.era)
    c.weights, c.bits = float(wb.total), float(wb.bits_per_weight)
    if c.device is None:
        c.error = ("give --device NAME (see `planner hardware`), or an ad-hoc device with "
                   "--memory (e.g. 16GB) and --bandwidth (e.g. 100GB/s)")
        return c
    c.shared = bool(c.device.unified_memory)
    mem = float(c.device.memory_bytes)
    c.reserve_bytes = float(inference.reserve_bytes(mem, c.shared, c.reserve))
    c.usable = mem - c.reserve_bytes
    c.bandwidth = c.device.bandwidth_bytes_per_s
    c.peak = inference.prefill_peak(c.device, c.quant)
    return c


def _largest(ok: Callable[[np.ndarray], np.ndarray], lo: int, hi: np.ndarray) -> np.ndarray:
    """Per element, the largest integer x in [lo, hi] with ok(x) True, for a predicate that
    is True then False (monotone); lo - 1 where ok(lo) is False.  A vectorised bisection:
    log2(hi) evaluations of the vectorised estimators for all elements at once."""
    hi = np.asarray(hi, dtype=float)
    good = np.where(ok(np.full(hi.shape, float(lo))), float(lo), lo - 1.0)
    top_ok = ok(hi)
    bad = np.where(top_ok, hi + 1, hi)
    good = np.where(top_ok, hi, good)
    active = good == lo
    while active.any():
        mid = np.floor((good + bad) / 2)
        res = ok(mid)
        good = np.where(active & res, mid, good)
        bad = np.where(active & ~res, mid, bad)
        active = (bad - good) > 1
    return good


def evaluate(cols: dict[str, Any], n: int, models: dict | None = None,
             hardware_files: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Local-inference answers for `n` plans: memory, fit verdict, limits and speed.

    `cols` maps `INFER` keys to scalars, arrays or `Cat`s (context, batch, prompt in tokens;
    memory in bytes, bandwidth in bytes/s); 'model' names a key of `models`."""
    from planner.estimate import inference as inf
    from planner.hardware import devices as all_devices

    models = models or {}
    files = tuple(hardware_files)
    D = defaults("infer")
    speed = inf._c()["speed"]
    cats = [Cat.of(cols[k] if cols.get(k) is not None else _default(k), n)
            for k in CATEGORICAL]
    code, first = combinations(cats, n)
    combos = [_combo({k: plain(c.values[c.index[i]]) for k, c in zip(CATEGORICAL, cats)},
                     models, files) for i in first]
    err = Errors(n)
    names = ("context", "batch", "prompt", "weights_bytes", "kv_cache_bytes",
             "compute_buffer_bytes", "runtime_bytes", "overhead_bytes", "total_bytes",
             "device_memory_bytes", "reserve_bytes", "usable_memory_bytes", "headroom_bytes",
             "bits_per_weight", "max_context", "max_batch", "smallest_memory_tier_gb",
             "bandwidth_bytes_per_s", "peak_flops", "decode_efficiency", "prefill_efficiency",
             "bytes_per_token", "decode_tokens_per_s", "throughput_tokens_per_s",
             "prefill_flops_per_token", "prefill_tokens_per_s", "time_to_first_token_s",
             "compute_bound_batch", "roofline_batch_weights_only",
             *(f"gpus_needed_{q}" for q in GPUS_FOR), "gpus_needed_quant")
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in names}
    for k in ("fits", "decode_compute_bound", "unified_memory"):
        out[k] = np.zeros(n, dtype=bool)
    for k in ("device", "quant", "smallest_quant_that_fits", "best_quant_that_fits",
              "smallest_device"):
        out[k] = np.full(n, None, dtype=object)
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(combos) + 1))
    ctx_given = numeric(cols, "context", n)
    eff_all = numeric(cols, "efficiency", n, speed["decode_efficiency"])
    peff_all = numeric(cols, "prefill_efficiency", n, speed["prefill_efficiency"])
    devs = all_devices(files)
    dev_mem = np.array([d.memory_bytes for d in devs], dtype=float)
    dev_shared = np.array([d.unified_memory for d in devs], dtype=bool)
    dev_bw = np.array([d.bandwidth_bytes_per_s for d in devs], dtype=float)
    dev_order = np.lexsort((-np.nan_to_num(dev_bw), dev_mem))
    for cid, c in enumerate(combos):
        rows = order[bounds[cid]:bounds[cid + 1]]
        if c.error:
            err.add(_mask(n, rows), c.error)
            if c.spec is None:
                continue
        spec = c.spec
        ctx = numeric(cols, "context", n, min(spec.context, D["context_cap"]))[rows]
        err.add(_mask(n, rows[ctx > spec.context]),
                lambda r: f"--context {ctx_given[r]:,.0f} exceeds the {spec.context:,}-token "
                          f"context of {spec.name} (valid: 1 to {spec.context:,})")
        batch = numeric(cols, "batch", n, D["batch"])[rows]
        prompt = np.minimum(numeric(cols, "prompt", n, D["prompt"])[rows], ctx)
        eff, peff = eff_all[rows], peff_all[rows]
        w, kv, over, total = inf.memory_total(spec, c.quant, ctx, batch, c.kv_type, c.shared,
                                              c.flash, c.era)
        compute = inf.compute_buffer_bytes(spec, ctx, batch, c.flash)
        runtime = float(inf.runtime_bytes(c.shared))
        tier = inf.memory_tier_gb(w + kv + compute, c.shared, c.reserve)
        values: dict[str, Any] = {
            "context": ctx, "batch": batch, "prompt": prompt, "weights_bytes": w,
            "kv_cache_bytes": kv, "compute_buffer_bytes": compute, "runtime_bytes": runtime,
            "overhead_bytes": over, "total_bytes": total, "bits_per_weight": c.bits,
            "smallest_memory_tier_gb": tier, "quant": c.quant,
            "decode_efficiency": eff, "prefill_efficiency": peff}
        # What it needs on a device of the table: the smallest whose usable memory holds it.
        need = w + kv + compute
        uniq_need, inv = np.unique(need, return_inverse=True)
        holds = (inf.usable_bytes(dev_mem[dev_order], dev_shared[dev_order], c.reserve)[None, :]
                 >= uniq_need[:, None] + inf.runtime_bytes(dev_shared[dev_order])[None, :])
        first_dev = np.where(holds.any(axis=1), np.argmax(holds, axis=1), -1)
        values["smallest_device"] = np.array([devs[dev_order[i]].name if i >= 0 else None
                                              for i in first_dev], dtype=object)[inv]
        if c.device is not None:
            usable = c.usable
            values.update({
                "device": c.device.name, "device_memory_bytes": c.device.memory_bytes,
                "reserve_bytes": c.reserve_bytes, "usable_memory_bytes": usable,
                "headroom_bytes": usable - total, "fits": total <= usable,
                "unified_memory": c.shared, "bandwidth_bytes_per_s": c.bandwidth,
                "peak_flops": c.peak})
            step = inf.decode_step(spec, c.quant, ctx, batch, c.bandwidth, c.peak, eff, peff,
                                   c.kv_type, c.era)
            fpt = inf.forward_flops(spec, prompt)
            with np.errstate(divide="ignore", invalid="ignore"):
                prefill = inf.prefill_tokens_per_s(fpt, c.peak, peff)
            values.update({
                "bytes_per_token": step["bytes_per_token"],
                "decode_tokens_per_s": step["tokens_per_s"],
                "throughput_tokens_per_s": step["throughput_tokens_per_s"],
                "decode_compute_bound": step["compute_bound"],
                "prefill_flops_per_token": fpt, "prefill_tokens_per_s": prefill,
                "time_to_first_token_s": inf.time_to_first_token(
                    spec, c.quant, prompt, c.bandwidth, c.peak, eff, peff, c.era)})
            values.update(_limits(c, ctx, batch, eff, peff, usable))
        for k, v in values.items():
            out[k][rows] = v
    out["model"] = cats[0].column()
    out["error"] = err.reason
    return out


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


def _limits(c: Combo, ctx, batch, eff, peff, usable: float) -> dict[str, Any]:
    """Largest context and batch that fit, the quantisations that fit, devices needed per
    format, and where decode turns compute-bound - each on the distinct values it depends on."""
    from planner.estimate import inference as inf
    spec = c.spec

    def total(context, b):
        return inf.memory_total(spec, c.quant, context, b, c.kv_type, c.shared, c.flash,
                                c.era)[3]

    ub, ib = np.unique(batch, return_inverse=True)
    max_ctx = _largest(lambda x: total(x, ub) <= usable, 1, np.full(ub.shape, spec.context))
    uc, ic = np.unique(ctx, return_inverse=True)
    max_batch = _largest(lambda x: total(uc, x) <= usable, 1, np.full(uc.shape, 2.0 ** 16))
    # Quantisations that fit: every format's weights + this row's KV cache and overheads.
    names, sizes = _all_weights(spec, c.era)
    _, kv, over, _ = inf.memory_total(spec, c.quant, ctx, batch, c.kv_type, c.shared, c.flash,
                                      c.era)
    room = usable - kv - over
    fits_any = sizes[0] <= room
    last = np.searchsorted(sizes, room, side="right") - 1
    last = np.searchsorted(sizes, sizes[np.maximum(last, 0)], side="left")  # first of equals
    qnames = np.asarray(names, dtype=object)
    smallest = np.where(fits_any, qnames[0], None)
    best = np.where(fits_any, qnames[np.maximum(last, 0)], None)
    compute = inf.compute_buffer_bytes(spec, ctx, batch, c.flash)
    per_gpu = usable - compute - float(inf.runtime_bytes(c.shared))
    out: dict[str, Any] = {"max_context": np.maximum(max_ctx[ib], 0),
                           "max_batch": np.maximum(max_batch[ic], 0),
                           "smallest_quant_that_fits": smallest,
                           "best_quant_that_fits": best}
    from planner.estimate.quant import weight_bytes
    with np.errstate(divide="ignore", invalid="ignore"):
        for q in (*GPUS_FOR, c.quant):
            data = weight_bytes(spec, q, c.era).total + kv
            need = np.where(per_gpu > 0, np.ceil(data / per_gpu), np.nan)
            out["gpus_needed_quant" if q == c.quant and q not in GPUS_FOR else
                f"gpus_needed_{q}"] = need
        if c.quant in GPUS_FOR:
            out["gpus_needed_quant"] = out[f"gpus_needed_{c.quant}"]
    # The batch where a decode step turns compute-bound (KV reads grow with batch, so it may
    # never), found per distinct context; and the textbook ridge counting weights only.
    if math.isfinite(c.peak) and c.peak > 0 and math.isfinite(c.bandwidth):
        e0, p0 = float(np.asarray(eff).flat[0]), float(np.asarray(peff).flat[0])

        def memory_bound(b):
            s = inf.decode_step(spec, c.quant, uc, b, c.bandwidth, c.peak, e0, p0, c.kv_type,
                                c.era)
            return ~np.asarray(s["compute_bound"], dtype=bool)
        edge = _largest(memory_bound, 1, np.full(uc.shape, 2.0 ** 20)) + 1
        out["compute_bound_batch"] = np.where(edge <= 2 ** 20, edge, np.nan)[ic]
        out["roofline_batch_weights_only"] = inf.roofline_batch(
            float(inf.weights_read_per_step(spec, c.quant, 1, c.era)),
            inf.forward_flops(spec, ctx), c.bandwidth, c.peak, eff, peff)
    return out


def evaluate_one(plan, models: dict | None = None, quants: tuple[str, ...] | None = None
                 ) -> list[dict[str, Any]]:
    """One plan (an `InferPlan`) -> its row(s) as plain Python values: one row, or one per
    weight format in `quants` (``--quant all``).  An error raises `PlannerError`."""
    from planner.model.resolve import resolve_model
    given = plan.given()
    files = tuple(given.pop("hardware_file", ()) or ())
    models = dict(models or {})
    if given.get("model"):
        spec = resolve_model(given["model"])
        models[spec.name] = spec
        given["model"] = spec.name
    n = 1
    if quants:
        n = len(quants)
        given["quant"] = Cat(tuple(quants), np.arange(n))
    res = evaluate(given, n, models, files)
    rows = [{k: plain(v[i]) for k, v in res.items()} for i in range(n)]
    for r in rows:
        if r["error"]:
            raise PlannerError(r["error"])
    return rows
