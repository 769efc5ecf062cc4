"""Decode and prefill step time: one estimator for local inference and for serving.

A *step* runs `batch` sequences through the model, `new_tokens` tokens each (decode: 1;
prefill: a micro-batch of the prompt), against `context` tokens already cached.  Its time is a
sum of named terms, each a roofline (Williams, Waterman & Patterson 2009, CACM 52(4)) at an
*achievable* fraction of the device's peak, plus fixed costs:

  linear    the weight matrices.  Up to `matvec_max_tokens` tokens a step is a matrix-vector
            product, bound by reading the weights (Pope et al. 2022, "Efficiently Scaling
            Transformer Inference", sec. 2-3) or by the ALU work of dequantising them, whichever
            is longer:  max(W_read / (BW x f_bw), P_read x c_q / ALU peak).  Above it the step
            is a GEMM:  max(FLOPs / P_eff, W16 / (BW x f_bw)) + dequantisation, where P_eff is
            the matmul peak x f_mm, capped by the board power (TDP x FLOP/J; NVIDIA throttles
            clocks at the power limit, nvidia-smi "clocks_event_reasons.sw_power_cap"), and a
            backend that dequantises to f16 before cuBLAS (llama.cpp CUDA, ggml-cuda.cu: "using
            cuBLAS is recommended as it utilizes F16 tensor cores", MMQ only up to 32 tokens)
            pays a read of the quantised weights and a write of the f16 copy.
  attention the KV cache read once per sequence (x n_heads / n_kv_heads where the kernel
            re-reads K and V for every query head: ggml_mul_mat broadcasts src0 over dim 2 in
            the non-flash path), plus without flash attention the f32 score matrix written and
            read back (`score_bytes` per score; Dao et al. 2022, FlashAttention, sec. 3.1
            counts this traffic), at `attention_bandwidth_fraction`; in the GEMM regime also
            4 x q_dim FLOPs per key and query (QK^T and AV; Hoffmann et al. 2022 App. F) at
            `attention_matmul_fraction` of the matmul peak.
  fixed     per layer and per step (kernel launches, synchronisation, sampling): this is why a
            small model on an A100/H100 runs at half its bandwidth roofline.
  tensor    with TP > 1, two all-reduces of T x d_model activations per layer over the
  parallel  scale-up link, ring algorithm: 2 (tp-1)/tp x bytes / link bandwidth + a latency
            (Patarasuk & Yuan 2009; Shoeybi et al. 2019, Megatron-LM sec. 3, two all-reduces
            per layer in the forward pass).

The constants of each backend (llama.cpp CUDA / Metal / CPU today; a serving engine is another
row) live in ``planner/data/decode_backends.toml`` with their sources and the measurements they
were fitted on (``planner/estimate/decode_fit.py``).  Everything is numpy and broadcasts:
bandwidths, peaks, context, batch, ... may be arrays, and a `Workload` or `Backend` may hold
arrays (one element per model x quant, or per device).

Adding a serving engine (vLLM, TensorRT-LLM): add a ``[backend.NAME]`` table with
`matvec_max_tokens = 0` (every step is a GEMM, weights read once per step for the whole batch;
the GEMM regime's `prefill_layer_overhead_s` and `prefill_step_overhead_s` are then the
per-layer and per-step costs: scheduler, launches), `dequant_to_f16 = 0` (fused int4/fp8
kernels), its `matmul_peak` precision ("fp8", "fp4"), `allreduce_latency_s`, and per-family
`matmul_fraction`; call `step_time(w, hw, be, batch=b, context=c, tp=t)` with
`hw = hardware_terms(device, be)` (the link bandwidth is the device's `scale_up_gbs`; NaN
there makes a TP > 1 step NaN, i.e. unknown).  KV in fp8 is `workload(spec, q, kv_type="fp8")`.
Units: bytes, seconds, FLOP, FLOP/s, bytes/s, W.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from planner.errors import unknown
from planner.resources import data_toml

BACKEND_FILE = "decode_backends.toml"

# Kernel families (quantisation types whose kernels cost alike): data, in
# decode_backends.toml [quant_family].
FAMILIES = ("f32", "f16", "q8", "legacy", "kquant", "fp4")


# --- backend constants -----------------------------------------------------------------------

def backend_data() -> dict:
    """planner/data/decode_backends.toml as a dict."""
    return data_toml(BACKEND_FILE)


QUANT_FAMILY: dict[str, str] = backend_data()["quant_family"]


def backend_names() -> list[str]:
    return list(backend_data()["backend"])


@dataclass(frozen=True)
class Backend:
    """One engine's constants, resolved for one kernel family (floats, or arrays to price
    several backends/quantisations at once).  Fractions are of the device's peak; times in s."""

    name: Any
    bandwidth_fraction: Any           # weight streaming, GDDR/LPDDR/DDR
    bandwidth_fraction_hbm: Any       # weight streaming, HBM parts
    alu_flop_per_weight: Any          # matrix-vector dequantisation work per weight (FLOP-eq.)
    layer_overhead_s: Any             # per layer per decode step
    token_overhead_s: Any             # per decode step
    attention_bandwidth_fraction: Any
    score_bytes: Any                  # bytes moved per attention score without flash attention
    gqa_reread: Any                   # 1.0: K/V read once per query head (no flash attention)
    matmul_fraction: Any              # GEMM regime, of the matmul peak
    flops_per_watt: Any               # power-limited matmul throughput; inf = no cap
    attention_matmul_fraction: Any
    prefill_attention_bandwidth_fraction: Any   # score traffic of the GEMM regime
    prefill_layer_overhead_s: Any     # per layer per GEMM step
    prefill_step_overhead_s: Any
    dequant_to_f16: Any               # 1.0: GEMM regime dequantises to f16 first
    matvec_max_tokens: Any
    ubatch: Any                       # prompt tokens per GEMM step (llama.cpp n_ubatch)
    allreduce_latency_s: Any
    matmul_peak: str = "fp16"
    alu_peak: str = "fp32"
    accumulate_boost: float = 1.0     # matmul peak multiplier on `boost_categories`
    boost_categories: tuple = ()


_NUMERIC = ("bandwidth_fraction", "bandwidth_fraction_hbm", "layer_overhead_s",
            "token_overhead_s", "attention_bandwidth_fraction", "score_bytes", "gqa_reread",
            "flops_per_watt", "attention_matmul_fraction",
            "prefill_attention_bandwidth_fraction", "prefill_layer_overhead_s",
            "prefill_step_overhead_s", "dequant_to_f16", "matvec_max_tokens", "ubatch",
            "allreduce_latency_s")


def backend(name: str, quant: str = "fp16", overrides: dict | None = None) -> Backend:
    """The constants of backend `name` for the kernels of `quant` (`overrides`: field ->
    value, e.g. a user's measured bandwidth fraction or a candidate in a fit)."""
    table = backend_data()["backend"]
    if name not in table:
        raise unknown("inference backend", name, table)
    row = table[name]
    fam = family(quant)
    vals: dict[str, Any] = {k: float(row[k]) for k in _NUMERIC
                            if k != "bandwidth_fraction_hbm"}
    vals["bandwidth_fraction_hbm"] = float(row.get("bandwidth_fraction_hbm",
                                                   row["bandwidth_fraction"]))
    for key in ("alu_flop_per_weight", "matmul_fraction"):
        per = row[key]
        vals[key] = float(per.get(fam, per["default"]))
    vals.update(overrides or {})
    return Backend(name=name, matmul_peak=_matmul_precision(row["matmul_peak"], quant, fam),
                   alu_peak=row["alu_peak"],
                   accumulate_boost=float(row.get("accumulate_boost", 1.0)),
                   boost_categories=tuple(row.get("boost_categories", ())), **vals)


def _matmul_precision(entry, quant: str, fam: str) -> str:
    """The GEMM precision of a backend for `quant`: a string (one precision for every format),
    or a table keyed by weight format, then kernel family, then 'default' (a serving engine
    runs fp8 weights on fp8 tensor cores, NVFP4 on fp4 ones, AWQ int4 as W4A16 on fp16)."""
    if isinstance(entry, str):
        return entry
    return str(entry.get(quant, entry.get(fam, entry["default"])))


def family(quant: str) -> str:
    """Kernel family of a weight format (canonical names as `quant.canonical_quant` gives)."""
    from planner.estimate.quant import canonical_quant
    q = quant if quant in QUANT_FAMILY else canonical_quant(quant)
    return QUANT_FAMILY.get(q, "kquant")


def stack_backends(items: Sequence[Backend]) -> Backend:
    """Backends side by side: numeric fields become arrays (one element per item); the
    peak-selection fields must agree (use one backend per device kind)."""
    first = items[0]
    arrays = {f.name: np.array([getattr(b, f.name) for b in items], dtype=float)
              for f in dataclasses.fields(Backend)
              if f.name in _NUMERIC or f.name in ("alu_flop_per_weight", "matmul_fraction")}
    return dataclasses.replace(first, name=np.array([b.name for b in items]), **arrays)


def backend_for(device) -> str:
    """The llama.cpp backend a device runs: Apple -> Metal, CPU-only machines -> CPU, GPUs and
    accelerators -> CUDA (AMD/Intel/TPU: the CUDA constants stand in, not validated)."""
    if getattr(device, "vendor", "") == "Apple":
        return "llama.cpp-metal"
    if getattr(device, "category", "") in ("laptop", "desktop"):
        return "llama.cpp-cpu"
    return "llama.cpp-cuda"


# --- hardware --------------------------------------------------------------------------------

@dataclass(frozen=True)
class HardwareTerms:
    """The device figures the step model reads (floats or arrays, base units)."""

    bandwidth: Any         # bytes/s, vendor peak
    matmul_peak: Any       # FLOP/s of the GEMM precision (dense)
    alu_peak: Any          # FLOP/s of the vector units (fp32)
    tdp_w: Any             # W; inf = no power cap
    hbm: Any               # 1.0 for HBM memory
    link_bandwidth: Any = np.nan   # bytes/s one direction, scale-up link (TP)


def _peak(device, precision: str) -> float:
    peaks = device.peak_flops
    # fp4 without an fp4 peak: the W4A8 kernels (Hopper) run at the fp8 rate.
    for p in (precision, *(("fp8",) if precision == "fp4" else ()), "fp16", "bf16", "fp32"):
        if peaks.get(p):
            return float(peaks[p])
    return math.nan


def hardware_terms(device, be: Backend) -> HardwareTerms:
    """`HardwareTerms` of one `Device` for backend `be`.  GeForce cards: llama.cpp runs cuBLAS
    with CUBLAS_COMPUTE_16F (fp16 accumulate), which is twice the fp32-accumulate figure the
    profile's fp16 column holds (hardware_profiles/README.md) - `accumulate_boost`."""
    mm = _peak(device, be.matmul_peak)
    if device.category in be.boost_categories and device.vendor == "NVIDIA":
        mm *= be.accumulate_boost
    mem_type = str(device.info.get("memory_type", "")).upper()
    tdp = float(device.tdp_w) if device.tdp_w else math.inf
    return HardwareTerms(bandwidth=float(device.bandwidth_bytes_per_s), matmul_peak=mm,
                         alu_peak=_peak(device, be.alu_peak), tdp_w=tdp,
                         hbm=1.0 if mem_type.startswith("HBM") else 0.0,
                         link_bandwidth=float(device.scale_up_bytes_per_s))


def _stack(cls, items):
    """Items of the dataclass `cls` side by side: every field a float array, one element per
    item."""
    return cls(**{f.name: np.array([getattr(x, f.name) for x in items], dtype=float)
                  for f in dataclasses.fields(cls)})


def take_rows(obj, index):
    """Rows `index` of a stacked Workload, HardwareTerms or Backend: every array field
    gathered, scalar fields kept."""
    vals = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        vals[f.name] = v[index] if isinstance(v, np.ndarray) and v.ndim else v
    return dataclasses.replace(obj, **vals)


def stack_hardware(items: Sequence[HardwareTerms]) -> HardwareTerms:
    return _stack(HardwareTerms, items)


# --- the model's side ------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """Per model x weight format: what one token reads and computes (floats or arrays)."""

    n_layers: Any
    n_heads: Any
    kv_heads: Any
    d_model: Any
    weight_bytes: Any            # every tensor, bytes
    embedding_bytes: Any         # token/position tables: one row per token, kept on the host
    expert_bytes: Any            # routed experts (all of them)
    lm_head_bytes: Any
    params_per_byte: Any         # weight elements per byte of the file
    linear_params: Any           # matmul weights one token uses (active experts, LM head)
    lm_head_params: Any
    kv_bytes_per_token: Any      # K and V, all layers, at the cache type
    attention_flops_per_key: Any  # per query token per cached key, all layers
    n_experts: Any = 0.0
    experts_per_token: Any = 0.0

    def touched(self, tokens) -> Any:
        """Fraction of the routed experts a step of `tokens` tokens reads: uniform independent
        top-k routing of T tokens among E experts touches E (1 - (1 - k/E)^T)."""
        e = np.asarray(self.n_experts, dtype=float)
        k = np.asarray(self.experts_per_token, dtype=float)
        t = np.maximum(np.asarray(tokens, dtype=float), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = 1.0 - (1.0 - np.where(e > 0, k / np.where(e > 0, e, 1.0), 1.0)) ** t
        return np.where(e > 0, frac, 1.0)

    def bytes_read(self, tokens) -> Any:
        """Weight bytes one step reads: all but the embedding rows, experts as touched."""
        dense = np.asarray(self.weight_bytes) - self.embedding_bytes - self.expert_bytes
        return dense + np.asarray(self.expert_bytes) * self.touched(tokens)


@functools.lru_cache(maxsize=4096)
def workload(spec, quant: str, kv_type: str = "f16", era: str = "current") -> Workload:
    """`Workload` of `spec` in weight format `quant` with a `kv_type` cache, from the model's
    public counts: `weight_bytes` (bytes, embedding, routed experts), `forward_flops_per_token`
    (Hoffmann et al. 2022 App. F: its slope in the span is the attention-over-keys work; its
    constant minus the 2 V d embedding term is 2 x the matmul weights a token uses) and
    `kv_bytes_per_token`."""
    from planner.estimate.quant import kv_bytes_per_element, weight_bytes
    from planner.model.spec import forward_flops_per_token, kv_bytes_per_token
    wb = weight_bytes(spec, quant, era)
    f0 = float(forward_flops_per_token(spec, 0))
    slope = float(forward_flops_per_token(spec, 1)) - f0
    v, d = float(spec.vocab_size), float(spec.d_model)
    linear = (f0 - 2.0 * v * d) / 2.0
    per_byte = wb.params / wb.total
    kv = float(kv_bytes_per_token(spec, kv_bytes_per_element(kv_type)))
    if spec.arch == "encoder-decoder":
        kv *= 2.0
    return Workload(n_layers=float(spec.n_layers), n_heads=float(spec.n_heads),
                    kv_heads=float(spec.kv_heads), d_model=d, weight_bytes=wb.total,
                    embedding_bytes=wb.embedding, expert_bytes=wb.routed_experts,
                    lm_head_bytes=v * d / per_byte, params_per_byte=per_byte,
                    linear_params=linear, lm_head_params=v * d, kv_bytes_per_token=kv,
                    attention_flops_per_key=slope, n_experts=float(spec.n_experts),
                    experts_per_token=float(spec.experts_per_token))


def stack_workloads(items: Sequence[Workload]) -> Workload:
    return _stack(Workload, items)


# --- the step --------------------------------------------------------------------------------

def _harmonic(a, b):
    """1 / (1/a + 1/b): the smooth minimum of two throughputs (inf leaves the other)."""
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 / a + 1.0 / b)


def step_time(w: Workload, hw: HardwareTerms, be: Backend, *, new_tokens=1, context=0,
              batch=1, outputs=None, tp=1, flash_attention: bool = False,
              prefill_tokens=None, prefill_keys=0) -> dict[str, Any]:
    """Seconds for one step of `batch` sequences x `new_tokens` tokens at `context` cached
    tokens, split into terms (all arrays broadcast).  `outputs`: tokens whose logits are
    computed (default: every token in the step; llama-bench prompt processing: one per
    sequence).  Returns the terms, `seconds`, and `bound` ("memory", "compute" or
    "overhead": the largest term).

    `prefill_tokens`: prompt tokens riding in the same step (chunked prefill mixed into decode
    steps, as vLLM/SGLang/TensorRT-LLM schedule them: Agrawal et al. 2024, Sarathi-Serve,
    sec. 4), each attending `prefill_keys` keys on average (a whole prompt of P: P / 2).  They
    share the step's weight read, add their GEMM FLOPs, their attention FLOPs and one read of
    the keys they attend, and widen the TP all-reduces; no logits (the first token's logits
    are one row per prompt, negligible).  None: a plain step, exactly as before."""
    n = np.asarray(new_tokens, dtype=float)
    b = np.asarray(batch, dtype=float)
    tok = n * b
    out = tok if outputs is None else np.asarray(outputs, dtype=float)
    extra = 0.0 if prefill_tokens is None else np.asarray(prefill_tokens, dtype=float)
    tp = np.asarray(tp, dtype=float)
    keys = np.asarray(context, dtype=float) + n
    bw = np.asarray(hw.bandwidth, dtype=float)
    f_bw = np.where(np.asarray(hw.hbm) > 0, be.bandwidth_fraction_hbm, be.bandwidth_fraction)
    mm_peak = _harmonic(np.asarray(hw.matmul_peak, dtype=float) * be.matmul_fraction,
                        np.asarray(hw.tdp_w, dtype=float) * be.flops_per_watt)

    # linear layers (per device: TP splits every matrix)
    w_read = w.bytes_read(tok + extra) / tp
    p_read = w_read * w.params_per_byte
    matvec = tok <= be.matvec_max_tokens
    t_read = w_read / (bw * f_bw)
    t_alu = p_read * be.alu_flop_per_weight / np.asarray(hw.alu_peak, dtype=float)
    flops = 2.0 * ((w.linear_params - w.lm_head_params) * (tok + extra)
                   + w.lm_head_params * out) / tp
    deq = np.asarray(be.dequant_to_f16) > 0
    quantised = w.params_per_byte > 0.51          # fewer than 16 bits per weight
    via_f16 = deq & quantised
    w16 = np.where(via_f16, 2.0 * p_read, w_read)
    t_dequant = np.where(via_f16, (w_read + 2.0 * p_read) / (bw * f_bw), 0.0)
    t_gemm = np.maximum(flops / mm_peak, w16 / (bw * f_bw)) + t_dequant
    t_linear = np.where(matvec, np.maximum(t_read, t_alu), t_gemm)

    # attention
    gqa = np.where(np.asarray(be.gqa_reread) > 0, w.n_heads / w.kv_heads, 1.0)
    if flash_attention:
        gqa, score = 1.0, 0.0
    else:
        score = be.score_bytes
    kv_bytes = b * keys * w.kv_bytes_per_token * gqa / tp
    if prefill_tokens is not None:   # the chunk reads the keys it attends once (flash tiles)
        span = np.where(extra > 0, np.maximum(extra, 2.0 * np.asarray(prefill_keys, float)), 0.0)
        kv_bytes = kv_bytes + span * w.kv_bytes_per_token / tp
    score_bytes = tok * keys * w.n_heads * w.n_layers * score / tp
    f_att = np.where(matvec, be.attention_bandwidth_fraction,
                     be.prefill_attention_bandwidth_fraction)
    t_att_mem = (kv_bytes + score_bytes) / (bw * f_att)
    att_flops = (tok * keys + extra * np.asarray(prefill_keys, dtype=float)) \
        * w.attention_flops_per_key / tp
    t_att_mm = np.where(matvec, 0.0, att_flops / (np.asarray(hw.matmul_peak, dtype=float)
                                                   * be.attention_matmul_fraction))
    t_attention = t_att_mem + t_att_mm

    # fixed costs, tensor-parallel all-reduces
    t_fixed = np.where(matvec, w.n_layers * be.layer_overhead_s + be.token_overhead_s,
                       w.n_layers * be.prefill_layer_overhead_s + be.prefill_step_overhead_s)
    link = np.asarray(hw.link_bandwidth, dtype=float)
    msg = (tok + extra) * w.d_model * 2.0             # 16-bit activations
    with np.errstate(invalid="ignore"):
        t_tp = np.where(tp > 1, 2.0 * w.n_layers * (be.allreduce_latency_s
                                                    + 2.0 * (tp - 1) / tp * msg / link), 0.0)
    total = t_linear + t_attention + t_fixed + t_tp
    mem = np.where(matvec, t_read, np.maximum(w16 / (bw * f_bw), 0.0) + t_dequant) + t_att_mem
    comp = np.where(matvec, t_alu, flops / mm_peak) + t_att_mm
    bound = np.where(t_fixed + t_tp > np.maximum(mem, comp), "overhead",
                     np.where(comp > mem, "compute", "memory"))
    return {"seconds": total, "linear_s": t_linear, "attention_s": t_attention,
            "fixed_s": t_fixed, "tensor_parallel_s": t_tp, "memory_s": mem, "compute_s": comp,
            "weight_bytes_read": w_read, "kv_bytes_read": kv_bytes, "flops": flops + att_flops,
            "bound": bound}


def decode_rate(w: Workload, hw: HardwareTerms, be: Backend, context, batch=1, tp=1,
                flash_attention: bool = False) -> dict[str, Any]:
    """Decode at `context` cached tokens: seconds per step, tokens/s per sequence and in all
    (batch / step time), and the step's terms."""
    s = step_time(w, hw, be, new_tokens=1, context=context, batch=batch, tp=tp,
                  flash_attention=flash_attention)
    t = s["seconds"]
    return {**s, "tokens_per_s": 1.0 / t, "throughput_tokens_per_s": np.asarray(batch) / t}


def generation_context(prompt, generated):
    """Mean cached tokens while generating `generated` tokens after a `prompt`: the context
    grows from prompt to prompt + generated - 1 (llama-bench tgN starts from an empty cache)."""
    return np.asarray(prompt, dtype=float) + (np.asarray(generated, dtype=float) - 1.0) / 2.0


def prefill_time(w: Workload, hw: HardwareTerms, be: Backend, prompt, context=0, batch=1,
                 tp=1, flash_attention: bool = False, all_logits: bool = False) -> dict[str, Any]:
    """Processing a `prompt` of P tokens (per sequence) after `context` cached ones, in
    ceil(P / ubatch) steps of equal size (llama.cpp splits a batch into n_ubatch micro-batches);
    step j sees context + j x u cached tokens, and step time is linear in the keys, so the
    total is steps x the step at the mean context, context + (P - u) / 2.  Logits only for the
    last token of each sequence unless `all_logits` (llama.cpp skips the unused outputs).
    Returns `seconds`, `tokens_per_s` (P x batch / seconds) and the mean step's terms."""
    p = np.maximum(np.asarray(prompt, dtype=float), 1.0)
    steps = np.ceil(p / be.ubatch)
    u = p / steps
    mean_ctx = np.asarray(context, dtype=float) + (p - u) / 2.0
    outputs = np.asarray(batch, dtype=float) * (u if all_logits else 1.0 / steps)
    s = step_time(w, hw, be, new_tokens=u, context=mean_ctx, batch=batch, outputs=outputs,
                  tp=tp, flash_attention=flash_attention)
    total = steps * s["seconds"]
    return {**s, "seconds": total, "steps": steps,
            "tokens_per_s": p * np.asarray(batch, dtype=float) / total}


# --- one device, one model: the convenience the CLI uses ------------------------------------

def device_speed(spec, quant: str, device, context=4096, prompt=512, batch=1,
                 kv_type: str = "f16", flash_attention: bool = True, backend_name=None,
                 overrides: dict | None = None, era: str = "current") -> dict[str, Any]:
    """Decode and prefill speed of `spec` at `quant` on `device` (arrays broadcast over
    context, prompt and batch): decode tokens/s per sequence and in all at `context` cached
    tokens, prefill tokens/s of a `prompt` from an empty cache, time to first token (the
    prefill: the first token is sampled from its last logits), the backend and the decode
    bound."""
    name = backend_name or backend_for(device)
    be = backend(name, quant, overrides)
    hw = hardware_terms(device, be)
    w = workload(spec, quant, kv_type, era)
    dec = decode_rate(w, hw, be, context, batch, flash_attention=flash_attention)
    pre = prefill_time(w, hw, be, prompt, 0, batch, flash_attention=flash_attention)
    return {"backend": name, "decode_tokens_per_s": dec["tokens_per_s"],
            "throughput_tokens_per_s": dec["throughput_tokens_per_s"],
            "decode_seconds_per_step": dec["seconds"], "decode_bound": dec["bound"],
            "prefill_tokens_per_s": pre["tokens_per_s"],
            "time_to_first_token_s": pre["seconds"],
            "bytes_per_token": (dec["weight_bytes_read"] + dec["kv_bytes_read"])
            / np.asarray(batch, dtype=float)}


def validate_backend_table(data: dict | None = None) -> list[str]:
    """Problems in the backend table (missing fields, fractions outside (0, 1.5]); [] if
    none.  Used by the tests."""
    data = backend_data() if data is None else data
    bad = []
    for name, row in data.get("backend", {}).items():
        for k in tuple(x for x in _NUMERIC if x != "bandwidth_fraction_hbm") + ("matmul_peak", "alu_peak", "alu_flop_per_weight",
                             "matmul_fraction", "source"):
            if k not in row:
                bad.append(f"{name}: {k} missing")
        for k in ("bandwidth_fraction", "bandwidth_fraction_hbm",
                  "attention_bandwidth_fraction", "prefill_attention_bandwidth_fraction"):
            v = row.get(k)
            if v is not None and not 0 < float(v) <= 1.5:
                bad.append(f"{name}: {k} = {v} outside (0, 1.5]")
        for v in row.get("matmul_fraction", {}).values():
            if not 0 < float(v) <= 1.0:
                bad.append(f"{name}: matmul_fraction {v} outside (0, 1]")
    return bad

