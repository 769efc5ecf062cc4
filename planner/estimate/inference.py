"""Local inference: memory (weights, KV cache, overheads), the fit verdict, and speed.

Memory
  weights      `quant.weights_bytes` (GGUF mixes tensor by tensor, or fp16/int4/...).
  KV cache     2 (K and V) x layers x kv_heads x head_dim x context x batch x bytes/element
               (Pope et al. 2022, "Efficiently Scaling Transformer Inference", sec. 3.1;
               `model.kv_bytes_per_token`).  kv_heads is n_kv_heads (MQA: Shazeer 2019; GQA:
               Ainslie et al. 2023); head_dim is the spec's own (Gemma: 256 != d/heads); a
               sliding-window (local) layer caches at most `sliding_window` tokens (Beltagy et al.
               2020; Jiang et al. 2023, Mistral 7B sec. 2 "rolling buffer cache"); MLA caches its
               latent and rope key (DeepSeek-V2 sec. 2.1); quantised caches use GGML block sizes
               (q8_0 = 34/32 bytes, q4_0 = 18/32).  Encoder-decoder models add the
               cross-attention cache over a source of the same length (`planner.model.kv`).
  overheads    llama.cpp's compute buffer (see inference.toml [compute_buffer]) and the
               runtime's own share (CUDA context ~0.3-0.8 GB on discrete GPUs).
  reserve      on shared-memory machines (Device.unified_memory), what the OS and other
               programs keep: by default macOS's split (1/3 up to 32 GiB, 1/4 above),
               overridable (`reserve=2e9` bytes or `reserve="25%"`).

Speed: `planner.estimate.decode` - the step model shared with serving (decode and prefill
  time = weights read at a fitted fraction of bandwidth, or their dequantisation work, + the
  KV/attention terms + per-layer and per-step overheads; prefill as GEMMs at a fitted fraction
  of the matmul peak, capped by board power).  Constants per backend (llama.cpp CUDA, Metal,
  CPU) in planner/data/decode_backends.toml, fitted on public llama-bench tables and reported
  with leave-one-device-out error.  `decode_tokens_per_s` / `prefill_tokens_per_s` remain the
  bare rooflines (efficiency x peak / work) for callers that want them.

Every function broadcasts over numpy arrays of context, batch, bandwidth, ... (one call prices
one plan or a sweep); `plan_inference` assembles the record the CLI prints.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.estimate import decode
from planner.hardware.profiles import Device
from planner.model.spec import ModelSpec, forward_flops_per_token, kv_bytes_per_sequence
from planner.estimate.quant import (GGUF_TYPES, SIMPLE_TYPES, canonical_quant, inference_data,
                    kv_bytes_per_element, weight_bytes)


def _c() -> dict:
    return inference_data()


# --- memory ----------------------------------------------------------------------------------

def cached_tokens(spec: ModelSpec, context):
    """Cache cells a sequence needs in its longest layer cache: the context, capped at the
    window only when every layer is local."""
    ctx = np.asarray(context, dtype=float)
    if spec.sliding_window and spec.n_local_layers == spec.n_layers:
        return np.minimum(ctx, spec.sliding_window)
    return ctx


def kv_cache_bytes(spec: ModelSpec, context, batch=1, kv_type: str = "f16"):
    """KV cache bytes of `batch` sequences of `context` tokens, layer by layer
    (`planner.model.kv`: GQA 2 x kv_heads x head_dim, MLA latent + rope key, local layers capped
    at their window, cross-attention for encoder-decoders).  Llama-2-7B, 4,096 tokens, f16:
    exactly 2 GiB."""
    per_sequence = kv_bytes_per_sequence(spec, context, kv_bytes_per_element(kv_type))
    return per_sequence * np.asarray(batch, dtype=float)


def compute_buffer_bytes(spec: ModelSpec, context, batch=1, flash_attention: bool = True):
    """llama.cpp's compute buffer for a micro-batch of n_ubatch (512) tokens against a unified
    cache of context x batch cells: KQ scores (f32, per head) and mask without flash attention,
    the f16 mask with it, plus 16 x d_model bytes per micro-batch token (fitted; see
    inference.toml [compute_buffer])."""
    c = _c()["compute_buffer"]
    ctx = np.asarray(context, dtype=float)
    b = np.asarray(batch, dtype=float)
    ubatch = np.minimum(c["n_ubatch"], ctx * b)
    cells = cached_tokens(spec, ctx) * b
    if flash_attention:
        per_cell = c["mask_bytes_fa"]
    else:
        per_cell = spec.n_heads * c["scores_bytes"] + c["mask_bytes_no_fa"]
    return ubatch * (cells * per_cell + c["base_bytes_per_token_per_dmodel"] * spec.d_model)


def runtime_bytes(shared_memory) -> np.ndarray:
    """The runtime's own share: a discrete GPU's CUDA context (0.5 GB) or, on shared-memory
    machines, the runtime process (0.1 GB, assumed)."""
    r = _c()["runtime"]
    return np.where(np.asarray(shared_memory, dtype=bool), r["shared_bytes"], r["discrete_bytes"])


def parse_reserve(text) -> float | str | None:
    """``2GB`` -> 2e9 bytes; ``25%`` -> "25%"; None/"auto" -> None (the default rule): the
    `reserve` key's parser (`planner.plan.infer.parse_reserve`) for programmatic callers."""
    if text is None:
        return None
    from planner.plan.infer import parse_reserve as parse
    value = parse(text, "--reserve")
    return None if value == "auto" else value


def reserve_bytes(memory_bytes, shared_memory, reserve: float | str | None = None):
    """Memory the OS and other programs keep.  Default: on shared-memory machines macOS's own
    split - 1/3 of memory up to 32 GiB, 1/4 above (Metal recommendedMaxWorkingSetSize: 2/3 on a
    16 GB Mac, 3/4 on 64 GB; inference.toml [reserve]); nothing on a discrete GPU.  A fixed
    `reserve` (bytes) or a percentage ("25%") applies to every machine kind."""
    mem = np.asarray(memory_bytes, dtype=float)
    if isinstance(reserve, str):
        return mem * float(reserve.rstrip("%")) / 100.0
    if reserve is not None:
        return np.broadcast_to(np.asarray(reserve, dtype=float), mem.shape) + 0.0
    r = _c()["reserve"]
    frac = np.where(mem > r["large_above_gib"] * 2**30, r["large_fraction"], r["small_fraction"])
    return np.where(np.asarray(shared_memory, dtype=bool), mem * frac, 0.0)


def usable_bytes(memory_bytes, shared_memory, reserve=None):
    return np.asarray(memory_bytes, dtype=float) - reserve_bytes(memory_bytes, shared_memory,
                                                                 reserve)


def memory_total(spec: ModelSpec, quant: str, context, batch=1, kv_type: str = "f16",
                 shared_memory=False, flash_attention: bool = True, era: str = "current"):
    """(weights, kv, overhead, total) bytes, broadcasting over context, batch, shared_memory."""
    w = weight_bytes(spec, quant, era).total
    kv = kv_cache_bytes(spec, context, batch, kv_type)
    over = compute_buffer_bytes(spec, context, batch, flash_attention) + runtime_bytes(
        shared_memory)
    return w, kv, over, w + kv + over


# --- speed -----------------------------------------------------------------------------------

def decode_tokens_per_s(bytes_per_token, bandwidth, efficiency=0.6):
    """Memory-bound decode speed: efficiency x bandwidth / bytes read per token."""
    return np.asarray(efficiency, dtype=float) * np.asarray(bandwidth, dtype=float) / \
        np.asarray(bytes_per_token, dtype=float)


def prefill_tokens_per_s(flops_per_token, peak, efficiency=0.5):
    """Compute-bound prefill speed: efficiency x peak FLOP/s / forward FLOPs per token."""
    return np.asarray(efficiency, dtype=float) * np.asarray(peak, dtype=float) / \
        np.asarray(flops_per_token, dtype=float)


def forward_flops(spec: ModelSpec, seq_len):
    """Forward FLOPs per token at sequence length `seq_len` (array-friendly), Hoffmann et al.
    2022 App. F: the matmuls plus attention over each layer's real span (local layers capped
    at their window; `planner.model.flops`)."""
    return forward_flops_per_token(spec, seq_len)


def weights_read_per_step(spec: ModelSpec, quant: str, batch=1, era: str = "current"):
    """Weight bytes one decode step reads: everything but the embedding tables (one row per
    token), and for MoE only the experts the batch routes to - expected distinct experts of
    B tokens with top-k routing among E, assuming uniform independent routing:
    E x (1 - (1 - k/E)^B)  (`decode.Workload.bytes_read`)."""
    return decode.workload(spec, quant, era=era).bytes_read(batch)


def speed_inputs(spec: ModelSpec, quant: str, bandwidth=None, peak=None,
                 decode_efficiency=None, prefill_efficiency=None, kv_type: str = "f16",
                 era: str = "current", device: Device | None = None, backend: str | None = None):
    """(Workload, HardwareTerms, Backend) for the step model.  With a `device` its figures and
    its backend's fitted constants are used; without one, `bandwidth` and `peak` describe a
    device priced with the llama.cpp CUDA constants (peak doubles as the vector peak).  A
    given `decode_efficiency` replaces the fitted bandwidth fraction, `prefill_efficiency`
    the fitted matmul fraction (user overrides, arrays allowed)."""
    name = backend or (decode.backend_for(device) if device is not None else "llama.cpp-cuda")
    over: dict[str, Any] = {}
    if decode_efficiency is not None:
        over["bandwidth_fraction"] = over["bandwidth_fraction_hbm"] = np.asarray(
            decode_efficiency, dtype=float)
    if prefill_efficiency is not None:
        over["matmul_fraction"] = np.asarray(prefill_efficiency, dtype=float)
    be = decode.backend(name, quant, over)
    if device is not None:
        hw = decode.hardware_terms(device, be)
    else:
        hw = decode.HardwareTerms(bandwidth=np.asarray(bandwidth, dtype=float),
                                  matmul_peak=np.asarray(peak, dtype=float),
                                  alu_peak=np.asarray(peak, dtype=float), tdp_w=math.inf,
                                  hbm=0.0)
    return decode.workload(spec, quant, kv_type, era), hw, be


def roofline_batch(weight_bytes_read, flops_per_token, bandwidth, peak, decode_efficiency=0.6,
                   prefill_efficiency=0.5):
    """The textbook ridge: the batch at which reading the weights once takes as long as
    computing batch x FLOPs/token (Williams et al. 2009), ignoring KV reads:
    B* = (W / (eff_m x BW)) / (F / (eff_c x peak))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(weight_bytes_read) / (np.asarray(decode_efficiency) *
                                                 np.asarray(bandwidth, dtype=float))) / (
            np.asarray(flops_per_token) / (np.asarray(prefill_efficiency) *
                                           np.asarray(peak, dtype=float)))


def _largest_int(ok, lo: int, hi: int) -> int:
    """Largest n in [lo, hi] with ok(n) True for a monotone predicate (True then False);
    lo - 1 if none.  Bisection: log2(hi) evaluations of the vectorised estimators."""
    if not ok(lo):
        return lo - 1
    if ok(hi):
        return hi
    good, bad = lo, hi
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    return good


# --- device helpers --------------------------------------------------------------------------

def memory_tiers() -> tuple[np.ndarray, np.ndarray]:
    """(marketed GB, bytes) of the standard memory sizes; a "16 GB" part holds 16 GiB."""
    t = _c()["tiers"]
    gb = np.array(t["gb"], dtype=float)
    return gb, gb * t["bytes_per_gb"]


def memory_tier_gb(need_without_runtime, shared_memory, reserve=None) -> np.ndarray:
    """Smallest standard memory size (4 ... 256 GB) whose usable memory holds the plan:
    tier bytes - reserve(tier) >= need + runtime share, where the reserve is the same rule as
    for the named device (macOS split on shared-memory machines unless --reserve says
    otherwise; none on discrete GPUs).  Vectorised over `need_without_runtime`; NaN where even
    256 GB is too small."""
    gb, tier_bytes = memory_tiers()
    need = np.asarray(need_without_runtime, dtype=float) + runtime_bytes(shared_memory)
    fits = usable_bytes(tier_bytes, shared_memory, reserve) >= need[..., None]
    return np.where(fits.any(axis=-1), gb[np.argmax(fits, axis=-1)], np.nan)


def smallest_memory_tier_gb(need_without_runtime, shared_memory, reserve=None):
    """`memory_tier_gb` for one plan: GB as an int, or None if even 256 GB is too small."""
    tier = float(memory_tier_gb(float(need_without_runtime), shared_memory, reserve))
    return None if np.isnan(tier) else int(tier)


# --- the plan --------------------------------------------------------------------------------

def _check_positive(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise PlannerError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_efficiency(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise PlannerError(f"{name} must be in (0, 1], got {value!r}")


def plan_inference(spec: ModelSpec, device: Device, quant: str = "Q4_K_M",
                   context: int | None = None, batch: int = 1, kv_type: str = "f16",
                   efficiency: float | None = None, prefill_efficiency: float | None = None,
                   reserve=None, prompt: int | None = None, flash_attention: bool = True,
                   era: str = "current", gpus_for: tuple[str, ...] = ("fp16", "int8", "int4"),
                   search_devices: bool = True, hardware_files: tuple[str, ...] = ()) -> dict:
    """Memory, verdict and speed of running `spec` on `device` (one record, base units)."""
    c = _c()
    q = canonical_quant(quant)
    if context is None:
        context = min(spec.context, c["speed"]["default_context"])
    if prompt is None:
        prompt = min(c["speed"]["default_prompt"], context)
    _check_positive("context", context)
    _check_positive("batch", batch)
    _check_positive("prompt", prompt)
    if efficiency is not None:
        _check_efficiency("efficiency", efficiency)
    if prefill_efficiency is not None:
        _check_efficiency("prefill efficiency", prefill_efficiency)
    kv_bpe = kv_bytes_per_element(kv_type)
    reserve = parse_reserve(reserve)
    shared = bool(device.unified_memory)
    mem = float(device.memory_bytes)
    usable = float(usable_bytes(mem, shared, reserve))
    w, kv, over, total = memory_total(spec, q, context, batch, kv_type, shared, flash_attention,
                                      era)
    compute = compute_buffer_bytes(spec, context, batch, flash_attention)
    runtime = float(runtime_bytes(shared))
    work, hw, be = speed_inputs(spec, q, decode_efficiency=efficiency,
                                prefill_efficiency=prefill_efficiency, kv_type=kv_type, era=era,
                                device=device)
    bw, peak = device.bandwidth_bytes_per_s, float(hw.matmul_peak)
    eff = float(be.bandwidth_fraction_hbm if hw.hbm else be.bandwidth_fraction)
    peff = float(be.matmul_fraction)
    step = decode.decode_rate(work, hw, be, context, batch, flash_attention=flash_attention)
    pre = decode.prefill_time(work, hw, be, prompt, flash_attention=flash_attention)
    prefill_fpt = float(forward_flops(spec, prompt))

    def fits_ctx(n: int) -> bool:
        return float(memory_total(spec, q, n, batch, kv_type, shared, flash_attention,
                                  era)[3]) <= usable

    def fits_batch(n: int) -> bool:
        return float(memory_total(spec, q, context, n, kv_type, shared, flash_attention,
                                  era)[3]) <= usable

    def compute_bound(n: int) -> bool:
        st = decode.decode_rate(work, hw, be, context, n, flash_attention=flash_attention)
        return bool(st["compute_s"] > st["memory_s"])

    max_context = max(_largest_int(fits_ctx, 1, spec.context), 0)
    max_batch = max(_largest_int(fits_batch, 1, 2**16), 0)
    ridge = None
    if math.isfinite(peak) and peak > 0 and math.isfinite(bw):
        first_compute = _largest_int(lambda n: not compute_bound(n), 1, 2**20) + 1
        ridge = first_compute if first_compute <= 2**20 else None
    ridge_w = roofline_batch(float(weights_read_per_step(spec, q, 1, era)),
                             float(forward_flops(spec, context)), bw, peak, eff, peff)

    all_q = list(SIMPLE_TYPES) + list(GGUF_TYPES)
    totals = {qq: float(memory_total(spec, qq, context, batch, kv_type, shared, flash_attention,
                                     era)[3]) for qq in all_q}
    fitting = sorted((v, k) for k, v in totals.items() if v <= usable)
    smallest_q = fitting[0][1] if fitting else None
    best_q = fitting[-1][1] if fitting else None

    need = float(w + kv + compute)
    tier = smallest_memory_tier_gb(need, shared, reserve)

    gpus: dict[str, int | None] = {}
    per_gpu = usable - float(compute) - runtime
    for qq in dict.fromkeys(list(gpus_for) + [q]):
        data = weight_bytes(spec, qq, era).total + float(kv)
        gpus[canonical_quant(qq)] = int(math.ceil(data / per_gpu)) if per_gpu > 0 else None

    ttft = float(pre["seconds"])
    record: dict[str, Any] = {
        "model": spec.name,
        "device": device.name,
        "quant": q,
        "bits_per_weight": weight_bytes(spec, q, era).bits_per_weight,
        "context": int(context),
        "batch": int(batch),
        "kv_cache_type": str(kv_type).lower(),
        "kv_bytes_per_element": kv_bpe,
        "weights_bytes": float(w),
        "kv_cache_bytes": float(kv),
        "compute_buffer_bytes": float(compute),
        "runtime_bytes": runtime,
        "overhead_bytes": float(over),
        "total_bytes": float(total),
        "device_memory_bytes": mem,
        "reserve_bytes": float(reserve_bytes(mem, shared, reserve)),
        "usable_memory_bytes": usable,
        "unified_memory": shared,
        "fits": bool(total <= usable),
        "headroom_bytes": usable - float(total),
        "max_context": int(max_context),
        "max_batch": int(max_batch),
        "smallest_quant_that_fits": smallest_q,
        "best_quant_that_fits": best_q,
        "smallest_memory_tier_gb": tier,
        "gpus_needed": gpus,
        "bandwidth_bytes_per_s": bw,
        "peak_flops": peak,
        "decode_efficiency": eff,
        "prefill_efficiency": peff,
        "inference_backend": str(be.name),
        "bytes_per_token": float((step["weight_bytes_read"] + step["kv_bytes_read"]) / batch),
        "decode_tokens_per_s": float(step["tokens_per_s"]),
        "throughput_tokens_per_s": float(step["throughput_tokens_per_s"]),
        "decode_compute_bound": bool(step["compute_s"] > step["memory_s"]),
        "decode_bound": str(step["bound"]),
        "compute_bound_batch": ridge,
        "roofline_batch_weights_only": float(ridge_w),
        "prompt_tokens": int(prompt),
        "prefill_flops_per_token": prefill_fpt,
        "prefill_tokens_per_s": float(pre["tokens_per_s"]),
        "time_to_first_token_s": ttft,
        "flash_attention": bool(flash_attention),
        "gguf_recipes": era,
    }
    if search_devices:
        record["smallest_device"] = smallest_device(
            need, hardware_files, reserve, prefer_kind=None)
    return record


def smallest_device(need_without_runtime: float, hardware_files: tuple[str, ...] = (),
                    reserve=None, prefer_kind=None) -> str | None:
    """The device profile with the least memory whose usable memory holds the plan (ties: the
    higher bandwidth).  Searches the whole hardware table (built-in CSVs + user files)."""
    from planner.hardware import devices
    devs = devices(tuple(hardware_files))
    if not devs:
        return None
    shared = np.array([d.unified_memory for d in devs], dtype=bool)
    mem = np.array([d.memory_bytes for d in devs], dtype=float)
    ok = usable_bytes(mem, shared, reserve) >= need_without_runtime + runtime_bytes(shared)
    if not ok.any():
        return None
    bw = np.array([d.bandwidth_bytes_per_s for d in devs], dtype=float)
    best = min(np.flatnonzero(ok), key=lambda i: (mem[i], -np.nan_to_num(bw[i])))
    return devs[best].name
