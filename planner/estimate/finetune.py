"""Local fine-tuning feasibility: full, LoRA and QLoRA memory on one device.

  frozen / full weights  full: 16 bytes per parameter with mixed-precision Adam (16-bit
                 weights and gradients, fp32 master weights, momentum and variance; Rajbhandari
                 et al. 2020, ZeRO, sec. 3.1).  LoRA: the frozen base at 16 bits.  QLoRA: the
                 linear layers in NF4 with double-quantised constants, 4 + 8/64 + 32/(64x256)
                 = 4.127 bits (Dettmers et al. 2023, sec. 3), embeddings and LM head 16-bit.
  adapters       r x (d_in + d_out) parameters per adapted matrix (Hu et al. 2021, sec. 4.1),
                 each with its gradient and two Adam moments: 12 bytes per trainable parameter
                 (bf16 weight and gradient, 32-bit Adam; QLoRA sec. 3).
  activations    per layer, per token (Korthikanti et al. 2022, "Reducing Activation
                 Recomputation in Large Transformer Models", sec. 4.1, 16-bit, with dropout
                 masks): attention sbh(3 + 4 q/h + 4 kv/h) [11sbh at q = kv = h] + 5as^2b
                 without flash attention, MLP sb(2h + 4 d_ff + h) [19sbh at d_ff = 4h] or
                 sb(2h + 6 d_ff) for gated MLPs, norms 4sbh; plus fp32 logits and their
                 gradient, s x b x V x 8 bytes.  Full gradient checkpointing keeps only each
                 layer's input, 2sbh bytes, and recomputes one layer at a time (sec. 5).
All functions broadcast over context and batch arrays.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec, total_params
from planner.estimate.memory import n_blocks
from planner.estimate.quant import adapter_params, inference_data, weight_bytes

METHODS = ("full", "lora", "qlora")


def _c() -> dict:
    return inference_data()["finetune"]


def activation_bytes_per_layer(spec: ModelSpec, context, batch=1, flash_attention=True):
    """Bytes one transformer layer stores for its backward pass (16-bit activations)."""
    s = np.asarray(context, dtype=float)
    b = np.asarray(batch, dtype=float)
    h, q, kv = spec.d_model, spec.q_dim, spec.kv_dim
    by = _c()["activation_bytes"] / 2.0  # Korthikanti's coefficients assume 2-byte values
    attn = s * b * (3 * h + 4 * q + 4 * kv)
    if not flash_attention:
        span = np.minimum(s, spec.sliding_window) if spec.sliding_window else s
        attn = attn + 5 * spec.n_heads * s * span * b
    width = spec.expert_width * spec.experts_per_token if spec.is_moe else spec.d_ff
    mlp = s * b * (2 * h + 6 * width) if spec.gated else s * b * (2 * h + 4 * width + h)
    norms = 4 * s * b * h
    return by * (attn + mlp + norms)


def activations_bytes(spec: ModelSpec, context, batch=1, checkpointing=True,
                      flash_attention=True):
    """Activation memory of one training step (all layers + logits)."""
    s = np.asarray(context, dtype=float)
    b = np.asarray(batch, dtype=float)
    layers = n_blocks(spec)
    per_layer = activation_bytes_per_layer(spec, s, b, flash_attention)
    logits = s * b * spec.vocab_size * _c()["logits_bytes"]
    if checkpointing:
        return layers * 2 * s * b * spec.d_model * _c()["activation_bytes"] / 2 + per_layer + \
            logits
    return layers * per_layer + logits


def finetune_memory(spec: ModelSpec, method: str = "qlora", rank=16,
                    targets: Iterable[str] | None = None, context=2048, batch=1,
                    checkpointing: bool = True, flash_attention: bool = True) -> dict:
    """Memory of fine-tuning `spec` (bytes) and the trainable parameter count."""
    c = _c()
    method = str(method).lower()
    if method not in METHODS:
        raise unknown("fine-tuning method", method, METHODS)
    if targets is None:  # every linear projection the model has (no gate in a 2-matrix MLP)
        targets = [t for t in c["default_targets"] if spec.gated or t != "gate"]
    targets = list(targets)
    if method == "full":
        trainable = float(total_params(spec))
        base = trainable * 2.0  # 16-bit weights, counted inside the 16 bytes below
        states = trainable * (c["full_bytes_per_param"] - 2.0)
        adapter_w = 0.0
    else:
        if not targets:
            raise PlannerError("--targets needs at least one of q, k, v, o, gate, up, down")
        trainable = float(adapter_params(spec, rank, targets))
        base = weight_bytes(spec, "nf4" if method == "qlora" else "bf16").total
        adapter_w = trainable * 2.0
        states = trainable * (c["adapter_bytes_per_param"] - 2.0)
    act = activations_bytes(spec, context, batch, checkpointing, flash_attention)
    act_other = activations_bytes(spec, context, batch, not checkpointing, flash_attention)
    return {
        "method": method,
        "trainable_params": trainable,
        "weights_bytes": base,
        "adapter_bytes": adapter_w,
        "gradient_and_optimizer_bytes": states,
        "activations_bytes": act,
        "activations_bytes_with_checkpointing": act if checkpointing else act_other,
        "activations_bytes_without_checkpointing": act_other if checkpointing else act,
        "targets": list(targets) if method != "full" else [],
    }


def plan_finetune(spec: ModelSpec, device, method: str = "qlora", rank: int | None = None,
                  targets: Iterable[str] | None = None, context: int | None = None,
                  batch: int = 1, checkpointing: bool = True, flash_attention: bool = True,
                  reserve=None, hardware_files: tuple[str, ...] = (),
                  search_devices: bool = True) -> dict:
    """Fine-tuning memory on `device`: the `infer` keys that apply plus trainable_params."""
    from planner.estimate.inference import (parse_reserve, reserve_bytes, runtime_bytes, smallest_device,
                            smallest_memory_tier_gb, usable_bytes)
    c = _c()
    rank = c["default_rank"] if rank is None else rank
    context = min(spec.context, c["default_context"]) if context is None else context
    for name, v in (("rank", rank), ("context", context), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise PlannerError(f"{name} must be a whole number >= 1, got {v!r}")
    m = finetune_memory(spec, method, rank, targets, context, batch, checkpointing,
                        flash_attention)
    reserve = parse_reserve(reserve)
    shared = bool(device.unified_memory)
    mem = float(device.memory_bytes)
    usable = float(usable_bytes(mem, shared, reserve))
    runtime = float(runtime_bytes(shared))
    need = m["weights_bytes"] + m["adapter_bytes"] + m["gradient_and_optimizer_bytes"] + \
        float(m["activations_bytes"])
    total = need + runtime
    record = {
        "model": spec.name, "device": device.name, "method": m["method"],
        "rank": int(rank) if m["method"] != "full" else None, "targets": m["targets"],
        "context": int(context), "batch": int(batch), "gradient_checkpointing": checkpointing,
        "flash_attention": flash_attention,
        "trainable_params": m["trainable_params"],
        "weights_bytes": m["weights_bytes"],
        "adapter_bytes": m["adapter_bytes"],
        "gradient_and_optimizer_bytes": m["gradient_and_optimizer_bytes"],
        "activations_bytes": float(m["activations_bytes"]),
        "activations_bytes_with_checkpointing": float(m["activations_bytes_with_checkpointing"]),
        "activations_bytes_without_checkpointing":
            float(m["activations_bytes_without_checkpointing"]),
        "runtime_bytes": runtime,
        "overhead_bytes": runtime + float(m["activations_bytes"]),
        "total_bytes": total,
        "device_memory_bytes": mem,
        "reserve_bytes": float(reserve_bytes(mem, shared, reserve)),
        "usable_memory_bytes": usable,
        "unified_memory": shared,
        "fits": bool(total <= usable),
        "headroom_bytes": usable - total,
        "smallest_memory_tier_gb": smallest_memory_tier_gb(need, shared, reserve),
    }
    if search_devices:
        record["smallest_device"] = smallest_device(need, tuple(hardware_files), reserve)
    return record
