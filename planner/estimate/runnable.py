"""The two questions a hobbyist asks first.

`runnable_models(device, specs, ...)`: "what can I run on device D?" - for every model, the best
quantisation that fits (most bits per weight, i.e. the least quantisation error), the largest
context it then holds, and its decode and prefill speed; optionally only quantisations that
reach a minimum decode speed.

`requirements(spec, ...)`: "what does model M need?" with no device - memory per
quantisation, the smallest standard memory size of a laptop/desktop (system RAM, with the OS
share) and of a discrete GPU (VRAM), and the devices of the hardware tables that run it,
fastest first and cheapest first.

Both are pure functions over the memory model of `inference` (weights, KV cache, compute
buffer, runtime share, OS reserve), the placement rules of `offload` (what stays on the host)
and the step model of `decode`, evaluated as arrays over quantisations and devices.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Sequence

import numpy as np

from planner.errors import PlannerError
from planner.estimate import decode, inference
from planner.estimate.quant import canonical_quant, weight_bytes

# llama.cpp file types, best first (more bits per weight = less quantisation error).
LLAMA_CPP_QUANTS = ("fp16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0",
                    "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K")


def need_bytes(spec, quants: Sequence[str], context, backend_name: str, batch=1,
               kv_type: str = "f16", flash_attention: bool = True, era: str = "current"):
    """Bytes that must fit the device's usable memory, one per quantisation (array), with every
    layer on the device: `inference.memory_total` minus what llama.cpp keeps on the host, plus
    the CUDA pool's prefill scratch (`offload.device_resident_bytes`), runtime share included.
    `context` broadcasts against the quantisations (shape (..., 1) for a grid): the
    quantisations run along the last axis."""
    from planner.estimate.offload import device_resident_bytes
    shared = backend_name != "llama.cpp-cuda"
    return np.concatenate([np.atleast_1d(device_resident_bytes(
        spec, q, context, None, batch, kv_type, flash_attention, era, backend_name=backend_name,
        shared_memory=shared)) for q in quants], axis=-1)


def _max_context(spec, quants, usable, backend_name, batch, kv_type, flash_attention, era):
    """Largest context (tokens, <= the model's) whose `need_bytes` fits `usable`, per
    quantisation: the need grows linearly with context above one micro-batch (KV cache and the
    compute buffer's per-cell part), so it is solved from two points and checked."""
    lo, hi = 1024.0, 2048.0
    n_lo = need_bytes(spec, quants, lo, backend_name, batch, kv_type, flash_attention, era)
    n_hi = need_bytes(spec, quants, hi, backend_name, batch, kv_type, flash_attention, era)
    slope = (n_hi - n_lo) / (hi - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        ctx = np.where(slope > 0, lo + (usable - n_lo) / slope, np.inf)
    ctx = np.floor(np.minimum(ctx, float(spec.context)))
    window = spec.sliding_window
    if window:   # the cache stops growing at the window
        fits_window = need_bytes(spec, quants, float(window), backend_name, batch, kv_type,
                                 flash_attention, era) <= usable
        ctx = np.where(fits_window, float(spec.context), ctx)
    small = need_bytes(spec, quants, 1.0, backend_name, batch, kv_type, flash_attention,
                       era) > usable
    return np.where(small, 0.0, np.maximum(ctx, 0.0))


def hardware_terms(device, be) -> decode.HardwareTerms:
    """`decode.hardware_terms`, except that a device without a vector compute figure (an
    ad-hoc one given by memory and bandwidth only) decodes at its bandwidth bound: its ALU
    term is dropped rather than made unknown.  Prefill still needs the matmul peak (NaN)."""
    hw = decode.hardware_terms(device, be)
    if not np.isfinite(hw.alu_peak):
        hw = dataclasses.replace(hw, alu_peak=math.inf)
    return hw


def default_context(spec, context=None) -> int:
    """The context a plan assumes: the given one (a whole number >= 1, at most the model's),
    else min(model context, 4096) (llama.cpp's default n_ctx, inference.toml [speed])."""
    if context is None:
        return int(min(spec.context, inference.inference_data()["speed"]["default_context"]))
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 1:
        raise PlannerError(f"context must be a whole number of tokens >= 1, got {context!r}")
    if context > spec.context:
        raise PlannerError(f"context {context:,} exceeds {spec.name}'s {spec.context:,} tokens "
                           f"(valid: 1 to {spec.context:,})")
    return int(context)


def runnable_models(device, specs: Iterable, context=None, min_speed: float | None = None,
                    quants: Sequence[str] = LLAMA_CPP_QUANTS, batch: int = 1,
                    kv_type: str = "f16", flash_attention: bool = True, reserve=None,
                    prompt: int = 512, sort: str = "quality",
                    era: str = "current", backend_name: str | None = None
                    ) -> list[dict[str, Any]]:
    """One row per model that runs on `device`: the best quantisation (first of `quants`, best
    first) whose memory fits at `context` tokens and, if `min_speed` is given, whose decode
    reaches `min_speed` tokens/s; the largest context at that quantisation; decode tokens/s
    (cache half full: the mean over a conversation filling `context`) and prefill tokens/s of a
    `prompt`.  Models that fit no quantisation are left out.  `sort`: "quality" (parameters,
    then bits per weight, descending) or "speed" (decode, descending).  Units: bytes, tokens,
    tokens/s."""
    if min_speed is not None and not (isinstance(min_speed, (int, float)) and min_speed > 0):
        raise PlannerError(f"minimum speed must be a number of tokens/s > 0, got {min_speed!r}")
    if sort not in ("quality", "speed"):
        raise PlannerError(f"sort must be 'quality' or 'speed', got {sort!r}")
    if context is not None:
        if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or \
                context < 1:
            raise PlannerError(f"context must be a whole number of tokens >= 1, got "
                               f"{context!r}")
    name = backend_name or decode.backend_for(device)
    shared = bool(device.unified_memory)
    usable = float(inference.usable_bytes(device.memory_bytes, shared, inference.parse_reserve(
        reserve)))
    qs = [canonical_quant(q) for q in quants]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        if context is not None and context > spec.context:
            continue                  # the context filter: models that cannot hold it drop out
        ctx = default_context(spec, context)
        need = need_bytes(spec, qs, ctx, name, batch, kv_type, flash_attention, era)
        fits = need <= usable
        if not fits.any():
            continue
        works = [decode.workload(spec, q, kv_type, era) for q in qs]
        bes = [decode.backend(name, q) for q in qs]
        w, be = decode.stack_workloads(works), decode.stack_backends(bes)
        hw = hardware_terms(device, bes[0])
        dec = decode.decode_rate(w, hw, be, ctx / 2.0, batch, flash_attention=flash_attention)
        ok = fits & (True if min_speed is None else dec["tokens_per_s"] >= min_speed)
        if not ok.any():
            continue
        i = int(np.argmax(ok))
        pre = decode.prefill_time(works[i], hw, bes[i], min(prompt, ctx), 0, batch,
                                  flash_attention=flash_attention)
        max_ctx = _max_context(spec, [qs[i]], usable, name, batch, kv_type, flash_attention,
                               era)
        wb = weight_bytes(spec, qs[i], era)
        rows.append({"model": spec.name, "params": wb.params, "quant": qs[i],
                     "bits_per_weight": wb.bits_per_weight, "weights_bytes": wb.total,
                     "total_bytes": float(need[i]), "usable_memory_bytes": usable,
                     "context": ctx, "max_context": int(max_ctx[0]),
                     "decode_tokens_per_s": float(dec["tokens_per_s"][i]),
                     "prefill_tokens_per_s": float(pre["tokens_per_s"]),
                     "backend": name})
    if sort == "speed":
        rows.sort(key=lambda r: -r["decode_tokens_per_s"])
    else:
        rows.sort(key=lambda r: (-r["params"], -r["bits_per_weight"]))
    return rows


def _tier(need_with_runtime, shared: bool, reserve=None):
    """Smallest standard memory size (GB, marketed) whose usable memory holds the need; None
    when even the largest is too small (`inference.memory_tier_gb`)."""
    tier = inference.memory_tier_gb(np.asarray(need_with_runtime, dtype=float)
                                    - inference.runtime_bytes(shared), shared, reserve)
    return [None if np.isnan(t) else int(t) for t in np.atleast_1d(tier)]


def requirements(spec, quant: str = "Q4_K_M", context=None, batch: int = 1,
                 kv_type: str = "f16", flash_attention: bool = True, reserve=None,
                 quants: Sequence[str] = LLAMA_CPP_QUANTS, prompt: int = 512,
                 hardware_files: tuple[str, ...] = (), era: str = "current",
                 top: int | None = None) -> dict[str, Any]:
    """What `spec` needs with no device: per quantisation the weights, KV cache and overheads,
    the total on a laptop/desktop (everything in system RAM; the tier includes the OS share,
    macOS's split by default) and on a discrete GPU (the token embedding stays in host RAM,
    as llama.cpp does; the tier is VRAM), and the smallest memory tier of each; then for
    `quant` the devices of the hardware tables that run it, fastest first, and the priced ones
    cheapest first (USD per device-hour).  Units: bytes, GB (tiers), tokens/s, USD/h."""
    from planner.hardware import devices as all_devices
    ctx = default_context(spec, context)
    res = inference.parse_reserve(reserve)
    qs = [canonical_quant(q) for q in quants]
    q = canonical_quant(quant)
    if q not in qs:
        qs.append(q)
    shared_need = need_bytes(spec, qs, ctx, "llama.cpp-cpu", batch, kv_type, flash_attention,
                             era)
    gpu_need = need_bytes(spec, qs, ctx, "llama.cpp-cuda", batch, kv_type, flash_attention,
                          era)
    kv = float(inference.kv_cache_bytes(spec, ctx, batch, kv_type))
    by_quant = []
    shared_tiers = _tier(shared_need, True, res)
    gpu_tiers = _tier(gpu_need, False, res)
    for i, qq in enumerate(qs):
        wb = weight_bytes(spec, qq, era)
        by_quant.append({"quant": qq, "bits_per_weight": wb.bits_per_weight,
                         "weights_bytes": wb.total, "kv_cache_bytes": kv,
                         "overhead_bytes": float(shared_need[i] - wb.total - kv),
                         "total_bytes": float(shared_need[i]),
                         "gpu_total_bytes": float(gpu_need[i]),
                         "smallest_memory_tier_gb": shared_tiers[i],
                         "smallest_gpu_tier_gb": gpu_tiers[i]})
    i = qs.index(q)
    runs = devices_that_run(spec, q, ctx, all_devices(tuple(hardware_files)), batch, kv_type,
                            flash_attention, res, prompt, era)
    fastest = sorted(runs, key=lambda r: -r["decode_tokens_per_s"])
    cheapest = sorted((r for r in runs if r["price_usd_per_hour"] is not None),
                      key=lambda r: (r["price_usd_per_hour"], -r["decode_tokens_per_s"]))
    return {"model": spec.name, "quant": q, "context": ctx, "batch": batch,
            "weights_bytes": by_quant[i]["weights_bytes"], "kv_cache_bytes": kv,
            "total_bytes": by_quant[i]["total_bytes"],
            "gpu_total_bytes": by_quant[i]["gpu_total_bytes"],
            "smallest_memory_tier_gb": shared_tiers[i], "smallest_gpu_tier_gb": gpu_tiers[i],
            "by_quant": by_quant, "devices_fastest": fastest[:top] if top else fastest,
            "devices_cheapest": cheapest[:top] if top else cheapest}


def device_grid(spec, quant: str, contexts, batches, devices: Sequence, kv_type: str = "f16",
                flash_attention: bool = True, reserve=None, era: str = "current",
                speed: bool = True) -> dict[str, np.ndarray]:
    """`spec` at `quant` over k plans (arrays `contexts`, `batches` of length k) x the m
    `devices`: whether each device's usable memory holds the plan with llama.cpp's placement on
    that device's backend (`offload.device_resident_bytes`), and (`speed`) its decode tokens/s
    with the cache half full (the mean over a conversation that fills the context;
    `decode.decode_rate` with the backend's fitted constants), NaN where it does not fit.  One
    call of the step model per backend on (k, m) arrays.  Returns fits (k, m) and
    decode_tokens_per_s (k, m; all NaN without `speed`)."""
    from planner.estimate.offload import device_resident_bytes
    ctx = np.asarray(contexts, dtype=float).reshape(-1, 1)
    b = np.asarray(batches, dtype=float).reshape(-1, 1)
    k, m = max(len(ctx), len(b)), len(devices)
    fits = np.zeros((k, m), dtype=bool)
    rate = np.full((k, m), np.nan)
    by_backend: dict[str, list[int]] = {}
    for i, d in enumerate(devices):
        by_backend.setdefault(decode.backend_for(d), []).append(i)
    w = decode.workload(spec, quant, kv_type, era)
    for name, idx in by_backend.items():
        devs = [devices[i] for i in idx]
        mem = np.array([d.memory_bytes for d in devs], dtype=float)
        shared = np.array([d.unified_memory for d in devs], dtype=bool)
        need = np.where(shared[None, :],
                        device_resident_bytes(spec, quant, ctx, None, b, kv_type,
                                              flash_attention, era, name, True),
                        device_resident_bytes(spec, quant, ctx, None, b, kv_type,
                                              flash_attention, era, name, False))
        ok = need <= inference.usable_bytes(mem, shared, reserve)[None, :]
        fits[:, idx] = ok
        if not speed:
            continue
        be = decode.backend(name, quant)
        hw = decode.stack_hardware([hardware_terms(d, be) for d in devs])
        dec = decode.decode_rate(w, hw, be, ctx / 2.0, b, flash_attention=flash_attention)
        rate[:, idx] = np.where(ok, np.broadcast_to(dec["tokens_per_s"], ok.shape), np.nan)
    return {"fits": fits, "decode_tokens_per_s": rate}


def devices_that_run(spec, quant: str, context, devices: Sequence, batch: int = 1,
                     kv_type: str = "f16", flash_attention: bool = True, reserve=None,
                     prompt: int = 512, era: str = "current") -> list[dict[str, Any]]:
    """The `devices` whose usable memory holds `spec` at `quant` and `context` (per-backend
    placement, `device_grid`), with decode tokens/s (cache half full), prefill tokens/s of a
    `prompt` and price."""
    grid = device_grid(spec, quant, [context], [batch], devices, kv_type, flash_attention,
                       reserve, era)
    keep = np.flatnonzero(grid["fits"][0])
    w = decode.workload(spec, quant, kv_type, era)
    out: list[dict[str, Any]] = []
    for i in keep:
        d = devices[i]
        name = decode.backend_for(d)
        be = decode.backend(name, quant)
        pre = decode.prefill_time(w, hardware_terms(d, be), be, min(prompt, context), 0,
                                  batch, flash_attention=flash_attention)["tokens_per_s"]
        price = d.price_per_hour
        out.append({"device": d.name, "category": d.category, "backend": name,
                    "memory_bytes": d.memory_bytes,
                    "decode_tokens_per_s": float(grid["decode_tokens_per_s"][0, i]),
                    "prefill_tokens_per_s": float(pre),
                    "price_usd_per_hour": None if math.isnan(price) else float(price)})
    return out
