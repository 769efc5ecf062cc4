"""The local-inference evaluator: columns of `InferPlan`s in, a table of answers out.

`planner infer` is this evaluator at n = 1 (or one row per weight format for ``--quant all``
and for the no-device view); a scenario's [infer] rows are the same evaluator at n = millions.
Per distinct combination of the categorical keys (model, device, quantisation, KV type,
backend, ...) the device, the backend's fitted constants and the weight bytes are resolved
once; context, batch, prompt, efficiencies, RAM and -ngl are arrays.  The searches (largest
context and batch that fit, the batch where decode turns compute-bound) are vectorised
bisections over the distinct values of the other input; the quantisations that fit are a
sorted search over every weight format's size; the devices of the tables that run a plan are
one step-model call per backend on (distinct plans x devices) arrays.

Three kinds of column:
  device-free   memory (weights, KV cache, overheads, total), the smallest memory tiers of a
                laptop/desktop and of a discrete GPU, and the devices of the tables that run it
                (smallest, fastest, cheapest): filled with or without a device.
  device        fit verdict, limits and speed on the given device: null (not 0) without one.
  offload       with `ram` / `gpu_layers` / `cpu_moe` on a discrete GPU: the llama.cpp split
                (layers or experts in system RAM) and the blended speed.

Speed is the step model (`planner.estimate.decode`, constants fitted per backend and reported
with leave-one-device-out error, docs/local_speed.md); decode is priced with the cache half
full - the mean step over a conversation that fills the context, so `decode_tokens_per_s` is
tokens generated / time taken over that conversation - and prefill on a `prompt` from an empty
cache.  A given `efficiency` / `prefill_efficiency` replaces the fitted bandwidth / matmul
fraction on its rows only.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from planner.errors import PlannerError
from planner.evaluate.columns import (Cat, Errors, answered, combination_rows, numeric,
                                      object_array, plan_inputs, resolved_combinations)
from planner.plan.defaults import defaults
from planner.plan.infer import INFER
from planner.evaluate.bands import INFER_BAND_COLUMNS  # issue 14: error bands of the speeds

CATEGORICAL = INFER.categorical
GPUS_FOR = ("fp16", "int8", "int4")
FLOAT_COLUMNS = (
    "context", "batch", "prompt", "weights_bytes", "kv_cache_bytes", "compute_buffer_bytes",
    "runtime_bytes", "overhead_bytes", "total_bytes", "device_bytes", "device_memory_bytes",
    "reserve_bytes", "usable_memory_bytes", "headroom_bytes", "bits_per_weight", "max_context",
    "max_batch", "smallest_memory_tier_gb", "smallest_gpu_tier_gb", "devices_that_run",
    "fastest_device_tokens_per_s", "cheapest_device_usd_per_hour",
    "cheapest_device_tokens_per_s", "bandwidth_bytes_per_s", "peak_flops",
    "decode_efficiency", "prefill_efficiency", "decode_context", "bytes_per_token",
    "decode_tokens_per_s", "throughput_tokens_per_s", "prefill_flops_per_token",
    "prefill_tokens_per_s", "time_to_first_token_s", "compute_bound_batch",
    "roofline_batch_weights_only", *(f"gpus_needed_{q}" for q in GPUS_FOR), "gpus_needed_quant",
    "decode_error_median", "decode_error_worst", "prefill_error_median", "n_layers",
    "gpu_layers", "ram_layers", "offload_gpu_bytes", "offload_ram_bytes",
    "ram_bandwidth_bytes_per_s", "ram_usable_bytes", *INFER_BAND_COLUMNS)
# Verdicts: bool columns, object (None where there is no device) when some row has none.
BOOL_COLUMNS = ("fits", "runs", "offload", "decode_compute_bound", "unified_memory")
TEXT_COLUMNS = ("device", "device_kind", "inference_backend", "decode_bound", "quant",
                "smallest_quant_that_fits", "best_quant_that_fits", "smallest_device",
                "fastest_device", "cheapest_device", "offload_mode", "speed_validated_on")
NO_DEVICE_ERROR = ("give --device NAME (see `planner hardware`), or an ad-hoc device with both "
                   "--memory (e.g. 16GB) and --bandwidth (e.g. 100GB/s)")


@dataclass
class Combo:
    """What one combination of an inference plan's categorical keys fixes (model, device,
    weight format, KV type, backend), resolved once however many rows share it."""
    spec: Any = None
    device: Any = None
    quant: str = ""
    kv_type: str = "f16"
    reserve: Any = None
    flash: bool = True
    era: str = "current"
    backend: str | None = None
    cpu_moe: bool = False
    ram_type: str = ""
    shared: bool = True          # no device: the laptop/desktop view (system RAM)
    kind: str | None = None
    usable: float = math.nan
    reserve_bytes: float = math.nan
    bits: float = math.nan
    error: str | None = None


def resolve_device(name, memory, bandwidth, tflops, discrete, files):
    """A named profile (with --memory/--bandwidth/--tflops overrides), an ad-hoc device
    (--memory and --bandwidth), or None when neither is given."""
    from planner.hardware import Device, get_device
    if name:
        dev = get_device(name, files)
        changes: dict[str, Any] = {}
        if memory is not None:
            changes["memory_bytes"] = float(memory)
        if bandwidth is not None:
            changes["bandwidth_bytes_per_s"] = float(bandwidth)
        if tflops is not None:  # the 16-bit peaks prefill uses (planner.estimate.decode)
            changes["peak_flops"] = {**dev.peak_flops, "fp16": tflops * 1e12,
                                     "bf16": tflops * 1e12}
        return dataclasses.replace(dev, **changes) if changes else dev
    if memory is None and bandwidth is None:
        if tflops is not None:
            raise PlannerError(NO_DEVICE_ERROR)
        return None
    if memory is None or bandwidth is None:
        raise PlannerError(NO_DEVICE_ERROR)
    peaks = {"fp16": tflops * 1e12} if tflops is not None else {}
    return Device(name="ad-hoc", memory_bytes=float(memory), bandwidth_bytes_per_s=float(bandwidth),
                  peak_flops=peaks, unified_memory=not discrete, category="ad-hoc")


def default_backend(device) -> str:
    """The llama.cpp backend a device runs (`decode.backend_for`); an ad-hoc shared-memory
    machine runs on its CPU, an ad-hoc discrete GPU on CUDA."""
    from planner.estimate import decode
    if device.category == "ad-hoc":
        return "llama.cpp-cpu" if device.unified_memory else "llama.cpp-cuda"
    return decode.backend_for(device)


def device_kind(device) -> str:
    """How the answer names the machine: 'NVIDIA GPU', 'Apple silicon', 'CPU and system
    RAM', ... (the runtime line of the memory table follows it: no CUDA context on a Mac)."""
    if device.vendor == "Apple":
        return "Apple silicon"
    if device.category in ("laptop", "desktop"):
        return "CPU and system RAM"
    if device.unified_memory:
        return "shared-memory machine"
    if device.vendor in ("NVIDIA", "AMD", "Intel"):
        return f"{device.vendor} GPU"
    return f"{device.vendor} accelerator" if device.vendor else "discrete GPU"


@functools.cache
def _all_weights(spec, era: str, backend: str | None) -> tuple[tuple[str, ...], np.ndarray]:
    """Every weight format the planner knows and the bytes its weights take in device memory
    on `backend` (what llama.cpp keeps on the host removed, the CUDA dequantisation scratch
    added; None: all of them), smallest first."""
    from planner.estimate.offload import cuda_prefill_scratch_bytes, host_kept_bytes
    from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES, weight_bytes
    names = tuple(SIMPLE_TYPES) + tuple(GGUF_TYPES)
    sizes = np.array([weight_bytes(spec, q, era).total for q in names], dtype=float)
    if backend is not None:
        sizes -= np.array([host_kept_bytes(spec, q, backend, era) for q in names])
    if backend == "llama.cpp-cuda":   # flash attention and one token: the dequantised matrix
        sizes += np.array([float(cuda_prefill_scratch_bytes(spec, q, 1, 1, True))
                           for q in names])
    order = np.argsort(sizes, kind="stable")
    return tuple(names[i] for i in order), sizes[order]


def _combo(inputs: dict, models: dict, files: tuple) -> Combo:
    from planner.estimate import inference
    from planner.estimate.quant import weight_bytes
    c = Combo(quant=inputs["quant"], kv_type=inputs["kv_cache"], flash=bool(inputs["flash_attn"]),
              era=inputs["recipes"], cpu_moe=bool(inputs["cpu_moe"]),
              ram_type=inputs["ram_type"])
    c.reserve = None if inputs["reserve"] in (None, "auto") else inputs["reserve"]
    if not inputs["model"]:
        c.error = "an inference plan needs a MODEL"
        return c
    c.spec = models[inputs["model"]]
    c.bits = float(weight_bytes(c.spec, c.quant, c.era).bits_per_weight)
    try:
        c.device = resolve_device(inputs["device"], inputs["memory"], inputs["bandwidth"],
                                  inputs["tflops"], bool(inputs["discrete"]), files)
    except PlannerError as exc:
        if inputs["device"]:
            raise                   # an unknown or ambiguous device name: the whole run stops
        c.error = str(exc)
        return c
    if c.device is None:
        if c.cpu_moe:
            c.error = "--cpu-moe needs a discrete GPU: give --device NAME"
        return c
    c.backend = inputs["backend"] or default_backend(c.device)
    c.kind = device_kind(c.device)
    c.shared = bool(c.device.unified_memory)
    mem = float(c.device.memory_bytes)
    c.reserve_bytes = float(inference.reserve_bytes(mem, c.shared, c.reserve))
    c.usable = mem - c.reserve_bytes
    if c.cpu_moe and not c.spec.is_moe:
        c.error = (f"--cpu-moe needs a mixture-of-experts model; {c.spec.name} has no routed "
                   "experts")
    elif c.cpu_moe and c.shared:
        c.error = (f"--cpu-moe splits a model between a discrete GPU and system RAM; "
                   f"{c.device.name} shares one memory")
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
             hardware_files: tuple[str, ...] = (), top_devices: int = 0
             ) -> dict[str, np.ndarray]:
    """Local-inference answers for `n` plans: memory, tiers, fit verdict, limits, speed and
    partial offload.

    `cols` maps `INFER` keys to scalars, arrays or `Cat`s (context, batch, prompt in tokens;
    memory and ram in bytes, bandwidths in bytes/s); 'model' names a key of `models`.
    `top_devices` > 0 adds `devices_fastest` / `devices_cheapest`: per row the first that many
    devices of the tables that run it (lists of dicts; for one plan, not for sweeps)."""
    from planner.hardware import devices as all_devices

    models = models or {}
    files = tuple(hardware_files)
    cats, code, combos = resolved_combinations(INFER, cols, n,
                                               lambda v: _combo(v, models, files))
    err = Errors(n)
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in FLOAT_COLUMNS}
    for k in BOOL_COLUMNS:
        out[k] = np.zeros(n, dtype=bool)
    for k in TEXT_COLUMNS:
        out[k] = np.full(n, None, dtype=object)
    if top_devices:
        out["devices_fastest"] = np.full(n, None, dtype=object)
        out["devices_cheapest"] = np.full(n, None, dtype=object)
    has_device = np.zeros(n, dtype=bool)
    table = _DeviceTable(all_devices(files))
    for c, rows in zip(combos, combination_rows(code, len(combos))):
        if c.error:
            err.add(rows, c.error)
        if c.spec is None:
            continue
        values = _rows(c, cols, n, rows, err, table, top_devices)
        has_device[rows] = c.device is not None
        for k, v in values.items():
            out[k][rows] = v
    if not has_device.all():        # a verdict without a device is null, not false
        for k in BOOL_COLUMNS:
            col = out[k].astype(object)
            col[~has_device] = None
            out[k] = col
    out["model"] = cats[0].column()
    model_cat = cats[0]
    out["model_context"] = np.asarray(
        [models[m].context if m in models else np.nan for m in model_cat.values],
        dtype=float)[model_cat.index]
    out["error"] = err.reason
    return out


def _distinct(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of equal-length numeric columns: (the columns at those rows, the
    inverse index).  A mixed-radix code of each column's own `np.unique` codes, so only 1-D
    sorts (numpy's row-wise unique sorts whole rows, ~10x slower on a million)."""
    code = np.zeros(len(cols[0]), dtype=np.int64)
    for c in cols:
        c = np.asarray(c)
        if c.ndim and len(c) > 1 and c.strides[0] == 0:
            continue                     # a broadcast scalar: one value, nothing to sort
        u, i = np.unique(c, return_inverse=True)
        code = code * len(u) + i.ravel()
    _, first, inv = np.unique(code, return_index=True, return_inverse=True)
    return [np.asarray(c)[first] for c in cols], inv.ravel()



def _rows(c: Combo, cols: dict, n: int, rows: np.ndarray, err: Errors, table: "_DeviceTable",
          top_devices: int) -> dict[str, Any]:
    """The answers of one combination's rows (arrays over `rows`)."""
    from planner.estimate import inference as inf
    spec = c.spec
    D = defaults("infer")
    ctx_given = numeric(cols, "context", n)
    ctx = numeric(cols, "context", n, min(spec.context, D["context_cap"]))[rows]
    if (ctx > spec.context).any():
        err.add(rows[ctx > spec.context],
                lambda r: f"--context {ctx_given[r]:,.0f} exceeds the {spec.context:,}-token "
                          f"context of {spec.name} (valid: 1 to {spec.context:,})")
    batch = numeric(cols, "batch", n, D["batch"])[rows]
    prompt = np.minimum(numeric(cols, "prompt", n, D["prompt"])[rows], ctx)
    w, kv, over, total = inf.memory_total(spec, c.quant, ctx, batch, c.kv_type, c.shared,
                                          c.flash, c.era)
    compute = inf.compute_buffer_bytes(spec, ctx, batch, c.flash)
    values: dict[str, Any] = {
        "context": ctx, "batch": batch, "prompt": prompt, "weights_bytes": w,
        "kv_cache_bytes": kv, "compute_buffer_bytes": compute,
        "runtime_bytes": float(inf.runtime_bytes(c.shared)), "overhead_bytes": over,
        "total_bytes": total, "bits_per_weight": c.bits, "quant": c.quant,
        "n_layers": float(spec.n_layers)}
    values.update(_tiers(c, ctx, batch))
    values.update(table.answer(c, ctx, batch, top_devices))
    if c.device is not None:
        values.update(_on_device(c, cols, n, rows, ctx, batch, prompt, err))
    else:
        split = ~np.isnan(numeric(cols, "ram", n)[rows]) | ~np.isnan(
            numeric(cols, "gpu_layers", n)[rows])
        if split.any():
            err.add(rows[split], "--ram and --gpu-layers need the GPU they split a "
                    "model with: give --device NAME")
    return values


def _tiers(c: Combo, ctx, batch) -> dict[str, Any]:
    """The smallest standard memory size of a laptop/desktop (everything in system RAM, the
    OS share reserved) and of a discrete GPU (VRAM with llama.cpp's CUDA placement)."""
    from planner.estimate import inference as inf
    from planner.estimate.offload import device_resident_bytes
    spec = c.spec
    ram_need = device_resident_bytes(spec, c.quant, ctx, None, batch, c.kv_type, c.flash,
                                     c.era, "llama.cpp-cpu", True)
    gpu_need = device_resident_bytes(spec, c.quant, ctx, None, batch, c.kv_type, c.flash,
                                     c.era, "llama.cpp-cuda", False)
    return {"smallest_memory_tier_gb": inf.memory_tier_gb(
                ram_need - inf.runtime_bytes(True), True, c.reserve),
            "smallest_gpu_tier_gb": inf.memory_tier_gb(
                gpu_need - inf.runtime_bytes(False), False, c.reserve)}


class _DeviceTable:
    """The devices of the hardware tables, and for a plan the ones whose memory holds it:
    how many and the smallest (least memory, then the most bandwidth) for every plan; for a
    plan without a device - where they are the answer - also the fastest and the cheapest per
    hour (then the fastest), by the step model (`runnable.device_grid`, on the distinct
    (context, batch) pairs of a combination)."""

    def __init__(self, devices: list) -> None:
        self.devices = devices
        mem = np.array([d.memory_bytes for d in devices], dtype=float)
        bw = np.array([d.bandwidth_bytes_per_s for d in devices], dtype=float)
        self.price = np.array([d.price_per_hour for d in devices], dtype=float)
        self.by_size = np.lexsort((-np.nan_to_num(bw), mem))
        self.names = np.array([d.name for d in devices] + [None], dtype=object)

    def answer(self, c: Combo, ctx, batch, top: int) -> dict[str, Any]:
        from planner.estimate.runnable import device_grid
        if not self.devices:
            return {}
        (u_ctx, u_batch), inv = _distinct(ctx, batch)
        g = device_grid(c.spec, c.quant, u_ctx, u_batch, self.devices, c.kv_type, c.flash,
                        c.reserve, c.era, speed=c.device is None)
        ok = g["fits"]
        none = len(self.devices)                       # index of the None name
        any_ok = ok.any(axis=1)
        smallest = np.where(any_ok, self.by_size[np.argmax(ok[:, self.by_size], axis=1)], none)
        out: dict[str, Any] = {"devices_that_run": ok.sum(axis=1)[inv].astype(float),
                               "smallest_device": self.names[smallest][inv]}
        if c.device is not None:
            return out
        rate = np.nan_to_num(g["decode_tokens_per_s"], nan=-1.0)
        fastest = np.where(any_ok, np.argmax(np.where(ok, rate, -np.inf), axis=1), none)
        priced = ok & np.isfinite(self.price)[None, :]
        low = np.min(np.where(priced, self.price[None, :], np.inf), axis=1)
        tie = priced & (self.price[None, :] == low[:, None])
        cheapest = np.where(priced.any(axis=1), np.argmax(np.where(tie, rate, -np.inf), axis=1),
                            none)
        pick = np.append(np.where(ok, rate, np.nan), np.full((len(u_ctx), 1), np.nan), axis=1)
        price = np.append(self.price, np.nan)
        r = np.arange(len(u_ctx))
        out.update({
            "fastest_device": self.names[fastest][inv],
            "fastest_device_tokens_per_s": pick[r, fastest][inv],
            "cheapest_device": self.names[cheapest][inv],
            "cheapest_device_usd_per_hour": price[cheapest][inv],
            "cheapest_device_tokens_per_s": pick[r, cheapest][inv]})
        if top:
            fast, cheap = [], []
            for j in range(len(u_ctx)):
                idx = np.flatnonzero(ok[j])
                by_rate = idx[np.argsort(-rate[j, idx], kind="stable")]
                by_price = [i for i in idx[np.lexsort((-rate[j, idx], self.price[idx]))]
                            if math.isfinite(self.price[i])]
                fast.append([self._entry(i, rate[j, i]) for i in by_rate[:top]])
                cheap.append([self._entry(i, rate[j, i]) for i in by_price[:top]])
            out["devices_fastest"] = object_array(fast)[inv]
            out["devices_cheapest"] = object_array(cheap)[inv]
        return out

    def _entry(self, i: int, rate: float) -> dict[str, Any]:
        d = self.devices[i]
        return {"device": d.name, "category": d.category, "memory_bytes": d.memory_bytes,
                "decode_tokens_per_s": float(rate),
                "price_usd_per_hour": None if math.isnan(self.price[i]) else float(self.price[i])}



def _on_device(c: Combo, cols: dict, n: int, rows: np.ndarray, ctx, batch, prompt,
               err: Errors) -> dict[str, Any]:
    """Verdict, limits and speed of one combination's rows on its device."""
    from planner.estimate import decode, inference as inf
    from planner.estimate.offload import device_resident_bytes
    from planner.estimate.speed_accuracy import held_out
    spec, dev = c.spec, c.device
    resident = device_resident_bytes(spec, c.quant, ctx, dev, batch, c.kv_type, c.flash, c.era,
                                     c.backend)
    fits = resident <= c.usable
    values: dict[str, Any] = {
        "device": dev.name, "device_kind": c.kind, "inference_backend": c.backend,
        "device_memory_bytes": dev.memory_bytes, "reserve_bytes": c.reserve_bytes,
        "usable_memory_bytes": c.usable, "device_bytes": resident,
        "headroom_bytes": c.usable - resident, "fits": fits, "runs": fits,
        "unified_memory": c.shared, "bandwidth_bytes_per_s": dev.bandwidth_bytes_per_s}
    acc = held_out(c.backend, dev.category, dev.vendor)
    if acc:
        values.update({"decode_error_median": acc["decode_median"],
                       "decode_error_worst": acc["decode_worst"],
                       "prefill_error_median": acc["prefill_median"],
                       "speed_validated_on": acc["label"]})
    # --- speed: the step model with the backend's fitted constants; a given efficiency
    # replaces the fitted fraction on its rows (NaN rows take the fitted value).
    work, hw, be = _speed_inputs(c, numeric(cols, "efficiency", n)[rows],
                                 numeric(cols, "prefill_efficiency", n)[rows])
    dctx = ctx / 2.0
    dec = decode.decode_rate(work, hw, be, dctx, batch, flash_attention=c.flash)
    pre = decode.prefill_time(work, hw, be, prompt, 0, batch, flash_attention=c.flash)
    eff = np.where(np.asarray(hw.hbm) > 0, be.bandwidth_fraction_hbm, be.bandwidth_fraction)
    values.update({
        "peak_flops": float(hw.matmul_peak), "decode_context": dctx,
        "decode_efficiency": np.broadcast_to(eff, ctx.shape),
        "prefill_efficiency": np.broadcast_to(be.matmul_fraction, ctx.shape),
        "bytes_per_token": (dec["weight_bytes_read"] + dec["kv_bytes_read"]) / batch,
        "decode_tokens_per_s": dec["tokens_per_s"],
        "throughput_tokens_per_s": dec["throughput_tokens_per_s"],
        "decode_compute_bound": dec["compute_s"] > dec["memory_s"],
        "decode_bound": np.broadcast_to(dec["bound"], ctx.shape).astype(object),
        "prefill_flops_per_token": inf.forward_flops(spec, prompt),
        "prefill_tokens_per_s": pre["tokens_per_s"], "time_to_first_token_s": pre["seconds"]})
    values.update(_limits(c, ctx, batch, work, hw, be, dctx))
    values.update(_offload(c, cols, n, rows, ctx, batch, prompt, resident, fits, err, values))
    # Issue 14: the held-out error band of the fitted constants for this class of device; none
    # for partial offload or a user-given efficiency (planner/evaluate/bands.py).
    from planner.evaluate.bands import infer_values
    own = np.isnan(numeric(cols, "efficiency", n)[rows]) & \
        np.isnan(numeric(cols, "prefill_efficiency", n)[rows]) & ~np.asarray(values.get("offload", False), dtype=bool)
    values.update(infer_values(values, c.backend, dev.category, dev.vendor, own))
    return values


def _speed_inputs(c: Combo, eff, peff):
    """(Workload, HardwareTerms, Backend) of the combination: `inference.speed_inputs` with the
    device (its backend's fitted constants), user fractions only where given.  A device
    without a compute peak (an ad-hoc one without --tflops) decodes at its bandwidth bound
    (no ALU term) and has no prefill figure (NaN)."""
    from planner.estimate import inference as inf, runnable
    work, hw, be = inf.speed_inputs(c.spec, c.quant, kv_type=c.kv_type, era=c.era,
                                    device=c.device, backend=c.backend)
    over: dict[str, Any] = {}
    if not np.isnan(eff).all():
        fitted = be.bandwidth_fraction_hbm if hw.hbm else be.bandwidth_fraction
        over["decode_efficiency"] = np.where(np.isnan(eff), fitted, eff)
    if not np.isnan(peff).all():
        over["prefill_efficiency"] = np.where(np.isnan(peff), be.matmul_fraction, peff)
    if over:
        work, hw, be = inf.speed_inputs(c.spec, c.quant, kv_type=c.kv_type, era=c.era,
                                        device=c.device, backend=c.backend, **over)
    return work, runnable.hardware_terms(c.device, be), be


def _limits(c: Combo, ctx, batch, work, hw, be, dctx) -> dict[str, Any]:
    """Largest context and batch that fit, the quantisations that fit, devices needed per
    format, and where decode turns compute-bound - each on the distinct values it depends on."""
    from planner.estimate import decode, inference as inf
    from planner.estimate.offload import cuda_prefill_scratch_bytes, device_resident_bytes
    spec, usable = c.spec, c.usable

    def resident(context, b):
        return device_resident_bytes(spec, c.quant, context, c.device, b, c.kv_type, c.flash,
                                     c.era, c.backend)

    ub, ib = np.unique(batch, return_inverse=True)
    max_ctx = _largest(lambda x: resident(x, ub) <= usable, 1, np.full(ub.shape, spec.context))
    uc, ic = np.unique(ctx, return_inverse=True)
    max_batch = _largest(lambda x: resident(uc, x) <= usable, 1, np.full(uc.shape, 2.0 ** 16))
    # Quantisations that fit: every format's device-resident weights + this row's KV cache,
    # compute buffer, runtime and (CUDA, no flash attention) the KQ scratch.
    names, sizes = _all_weights(spec, c.era, c.backend)
    kv = inf.kv_cache_bytes(spec, ctx, batch, c.kv_type)
    compute = inf.compute_buffer_bytes(spec, ctx, batch, c.flash)
    runtime = float(inf.runtime_bytes(c.shared))
    kq = (cuda_prefill_scratch_bytes(spec, "fp16", ctx, batch, c.flash)
          if c.backend == "llama.cpp-cuda" else 0.0)
    room = usable - kv - compute - runtime - kq
    fits_any = sizes[0] <= room
    last = np.searchsorted(sizes, room, side="right") - 1
    last = np.searchsorted(sizes, sizes[np.maximum(last, 0)], side="left")  # first of equals
    qnames = np.asarray(names, dtype=object)
    out: dict[str, Any] = {"max_context": np.maximum(max_ctx[ib], 0),
                           "max_batch": np.maximum(max_batch[ic], 0),
                           "smallest_quant_that_fits": np.where(fits_any, qnames[0], None),
                           "best_quant_that_fits": np.where(fits_any,
                                                            qnames[np.maximum(last, 0)], None)}
    from planner.estimate.quant import weight_bytes
    per_gpu = usable - compute - runtime
    with np.errstate(divide="ignore", invalid="ignore"):
        for q in (*GPUS_FOR, c.quant):
            data = weight_bytes(spec, q, c.era).total + kv
            need = np.where(per_gpu > 0, np.ceil(data / per_gpu), np.nan)
            out["gpus_needed_quant" if q == c.quant and q not in GPUS_FOR else
                f"gpus_needed_{q}"] = need
        if c.quant in GPUS_FOR:
            out["gpus_needed_quant"] = out[f"gpus_needed_{c.quant}"]
    # The batch where a decode step turns compute-bound (KV reads grow with batch, so it may
    # never), per distinct (context, fractions); and the textbook ridge counting weights only.
    eff = np.broadcast_to(np.where(np.asarray(hw.hbm) > 0, be.bandwidth_fraction_hbm,
                                   be.bandwidth_fraction), ctx.shape)
    peff = np.broadcast_to(be.matmul_fraction, ctx.shape)
    if math.isfinite(float(hw.matmul_peak)) and float(hw.matmul_peak) > 0:
        (k_ctx, k_eff, k_peff), ik = _distinct(dctx, eff, peff)
        be_k = dataclasses.replace(be, bandwidth_fraction=k_eff, bandwidth_fraction_hbm=k_eff,
                                   matmul_fraction=k_peff)

        def memory_bound(b):
            s = decode.decode_rate(work, hw, be_k, k_ctx, b, flash_attention=c.flash)
            return ~np.asarray(s["compute_s"] > s["memory_s"], dtype=bool)
        edge = _largest(memory_bound, 1, np.full(len(k_ctx), 2.0 ** 20)) + 1
        out["compute_bound_batch"] = np.where(edge <= 2 ** 20, edge, np.nan)[ik]
        out["roofline_batch_weights_only"] = inf.roofline_batch(
            float(inf.weights_read_per_step(spec, c.quant, 1, c.era)),
            inf.forward_flops(spec, dctx), hw.bandwidth, hw.matmul_peak, eff, peff)
    return out


def _offload(c: Combo, cols: dict, n: int, rows: np.ndarray, ctx, batch, prompt, resident,
             fits, err: Errors, speed: dict) -> dict[str, Any]:
    """Partial offload on a discrete GPU (llama.cpp): with `ram`, a model that does not fit
    keeps as many layers on the GPU as fit and the rest in system RAM; `gpu_layers` pins -ngl;
    `cpu_moe` keeps the routed experts in RAM.  On those rows decode and prefill become the
    blended speeds of `offload.offload_speed` / `cpu_moe_speed` (fitted constants; a given
    efficiency applies to the all-GPU figures only), replacing the entries of `speed`.
    Every discrete-GPU row reports how many layers fit the GPU."""
    from planner.estimate import inference as inf
    from planner.estimate import offload as off
    spec = c.spec
    ram = numeric(cols, "ram", n)[rows]
    pinned = numeric(cols, "gpu_layers", n)[rows]
    wants = ~np.isnan(ram) | ~np.isnan(pinned) | c.cpu_moe
    if c.shared:
        if wants.any():
            err.add(rows[wants],
                    f"--ram and --gpu-layers split a model between a discrete GPU and system "
                    f"RAM; {c.device.name} shares one memory (give its size with --memory)")
        return {}
    L = float(spec.n_layers)
    scratch = (off.cuda_prefill_scratch_bytes(spec, c.quant, ctx, batch, c.flash)
               if c.backend == "llama.cpp-cuda" else np.zeros(ctx.shape))
    fit = off.layers_that_fit(spec, c.quant, ctx, c.usable - scratch, batch, c.kv_type, c.flash,
                              False, c.era)
    gpu_layers = np.where(fits, L, fit["gpu_layers"])
    values: dict[str, Any] = {"gpu_layers": gpu_layers, "ram_layers": L - gpu_layers,
                              "offload": np.zeros(ctx.shape, dtype=bool)}
    active = wants & (~fits | ~np.isnan(pinned) | c.cpu_moe)
    if not active.any():
        return values
    bw = numeric(cols, "ram_bandwidth", n)[rows]
    bw = np.where(np.isnan(bw), off.ram_bandwidth(c.ram_type), bw)
    ram_usable = inf.usable_bytes(ram, True, None)     # the OS share, as on any machine
    dctx = ctx / 2.0
    if c.cpu_moe:
        sp = off.cpu_moe_speed(spec, c.quant, c.device, dctx, bw, None, prompt, batch,
                               kv_type=c.kv_type, flash_attention=c.flash, era=c.era)
        host = np.broadcast_to(sp["host_weight_bytes"], ctx.shape)
        gpu = resident - (host - off.host_kept_bytes(spec, c.quant, c.backend, c.era))
        n_gpu, mode = np.full(ctx.shape, L), "experts"
    else:
        n_gpu = np.where(np.isnan(pinned), fit["gpu_layers"], np.minimum(pinned, L))
        out_gpu = np.where(np.isnan(pinned), fit["output_on_gpu"], pinned > L)
        split = off.split_bytes(spec, c.quant, ctx, n_gpu, out_gpu, batch, c.kv_type, c.flash,
                                False, c.era)
        gpu, host = split["gpu_bytes"] + scratch, split["host_bytes"]
        sp = off.offload_speed(spec, c.quant, c.device, n_gpu, dctx, bw, prompt, batch,
                               output_on_gpu=out_gpu, kv_type=c.kv_type,
                               flash_attention=c.flash, era=c.era)
        mode = "layers"
    runs = (gpu <= c.usable) & ~(host > ram_usable)        # RAM not given (NaN): not checked
    dec = np.broadcast_to(sp["decode_tokens_per_s"], ctx.shape)
    pre = np.broadcast_to(sp["prefill_tokens_per_s"], ctx.shape)
    ram_bound = np.broadcast_to(sp["decode_host_s"] > sp["decode_gpu_s"], ctx.shape)
    blended = {"decode_tokens_per_s": dec, "throughput_tokens_per_s": dec * batch,
               "prefill_tokens_per_s": pre, "time_to_first_token_s": prompt * batch / pre,
               "decode_bound": np.where(ram_bound, "ram", "gpu").astype(object),
               "decode_compute_bound": False, "compute_bound_batch": np.nan,
               "roofline_batch_weights_only": np.nan}
    for k, v in blended.items():
        values[k] = np.where(active, v, np.broadcast_to(speed[k], ctx.shape))
    values.update({
        "offload": active, "offload_mode": np.where(active, mode, None),
        "gpu_layers": np.where(active, n_gpu, gpu_layers),
        "ram_layers": np.where(active, L - n_gpu, L - gpu_layers),
        "offload_gpu_bytes": np.where(active, gpu, np.nan),
        "offload_ram_bytes": np.where(active, host, np.nan),
        "ram_bandwidth_bytes_per_s": np.where(active, bw, np.nan),
        "ram_usable_bytes": np.where(active, ram_usable, np.nan),
        "runs": (fits & ~active) | (active & runs)})
    return values


def evaluate_one(plan, models: dict | None = None, quants: tuple[str, ...] | None = None,
                 top_devices: int = 0) -> list[dict[str, Any]]:
    """One plan (an `InferPlan`) -> its row(s) as plain Python values: one row, or one per
    weight format in `quants` (``--quant all``, the no-device view).  An error raises
    `PlannerError`."""
    given, models, files = plan_inputs(plan, models)
    n = 1
    if quants:
        n = len(quants)
        given["quant"] = Cat(tuple(quants), np.arange(n))
    return answered(evaluate(given, n, models, files, top_devices), n)


