"""KV cache per layer, as the attention layout dictates.

* Multi-head / grouped-query attention: K and V per token and layer, 2 x n_kv_heads x
  head_dim elements (Pope et al. 2022, "Efficiently Scaling Transformer Inference", sec. 3.1;
  Ainslie et al. 2023 for GQA); V may be narrower than K (v_head_dim).
* Multi-head latent attention caches the compressed latent and the decoupled RoPE key, shared
  by all heads: kv_lora_rank + rope_head_dim elements per token and layer (DeepSeek-V2 sec.
  2.1.2-2.1.3, eq. 9-10; Table 1: (d_c + d_h^R) l elements = 4.5 d_h l for V2).
* Local layers (sliding-window or chunked attention) keep at most `sliding_window` tokens
  (Mistral 7B sec. 2 "rolling buffer cache"; Gemma 2/3 local layers); global layers keep the
  whole context.
* Attention sinks are per-head parameters, not cached tokens: they add nothing per token.
* An encoder-decoder adds the cross-attention K/V over a source of the same length (the
  decoder's self-attention cache doubles).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from planner.model.spec import ModelSpec


def kv_elements_per_layer(spec: "ModelSpec") -> int:
    """Cached elements per token in one decoder layer (see module docstring)."""
    if spec.mla:
        return spec.kv_lora_rank + spec.rope_head_dim
    elements = spec.kv_dim + spec.v_dim
    if spec.arch == "encoder-decoder":
        elements *= 2  # + cross-attention K/V of the source
    return elements


def decoder_span_sum(spec: "ModelSpec", s):
    """Sum over the decoder layers of the tokens each one covers in a sequence of `s` (a float
    array): all `s` on a global layer, min(s, sliding_window) on a local one (Mistral 7B
    sec. 2; Gemma 2/3 local layers).  The tokens the KV cache holds, and the keys attention
    reads (`planner.model.flops.attention_span_sum`)."""
    import numpy as np

    local = spec.n_local_layers
    total = (spec.n_layers - local) * s
    if local:
        total = total + local * np.minimum(s, spec.sliding_window)
    return total


def kv_bytes_per_sequence(spec: "ModelSpec", context, bytes_per_element: float = 2.0):
    """KV cache bytes of one sequence of `context` tokens, each layer capped at its window
    (broadcasts over `context`).  Llama-2-7B, 4,096 tokens, f16: exactly 2 GiB."""
    import numpy as np

    ctx = np.asarray(context, dtype=float)
    per_layer = kv_elements_per_layer(spec) * float(bytes_per_element)
    return per_layer * decoder_span_sum(spec, ctx)


def kv_bytes_per_token(spec: "ModelSpec", bytes_per_element: float = 2.0, context=None):
    """KV cache bytes per token of context.  Without `context`: every layer caches the token
    (the figure for contexts within every window).  With `context`: the average over a
    sequence of that length, local layers capped at their window (array-friendly)."""
    if context is None:
        return float(kv_elements_per_layer(spec) * spec.n_layers * float(bytes_per_element))
    import numpy as np

    ctx = np.asarray(context, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = kv_bytes_per_sequence(spec, ctx, bytes_per_element) / ctx
    return float(out) if np.ndim(out) == 0 else out
