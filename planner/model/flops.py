"""FLOPs per token, from the tensor inventory and the attention layout.

Forward FLOPs per token as Hoffmann et al. 2022 App. F (Chinchilla) count them:

  matmuls     2 x (weights a token multiplies): every projection in the blocks (MoE: the k
              routed experts, the shared ones and the router), the embedding (2 V d, counted as
              in App. F) and the output logits (2 d V, also for a tied embedding)
  attention   per layer, over its span S_l (the context, or min(context, window) on local
              layers): logits 2 S_l H d_qk + softmax 3 H S_l + values 2 S_l H d_v
              (App. F's 2 S key_size H, 3 H S, 2 S key_size H; d_qk and d_v split for MLA);
              an encoder-decoder adds the cross-attention over the source.

Training = 3 x forward (App. F: the backward pass has twice the forward's FLOPs); 6N is the
Kaplan et al. 2020 sec. 2.1 approximation C = 6NBS with N the active parameters.
"""
from __future__ import annotations

import functools

from typing import TYPE_CHECKING

from planner.model.kv import decoder_span_sum
from planner.model.tensors import active_elements, main_tensors

if TYPE_CHECKING:  # pragma: no cover
    from planner.model.spec import ModelSpec


@functools.lru_cache(maxsize=512)
def matmul_flops_per_token(spec: "ModelSpec") -> int:
    """2 x the weights one token multiplies (see module docstring)."""
    n = 0
    for t in main_tensors(spec):
        if t.has("linear") or t.role in ("token_embd", "output") or t.name in (
                "project_in.weight", "project_out.weight"):
            n += active_elements(spec, t)
    if spec.tie_embeddings:  # the tied matrix is used twice: lookup (App. F) and logits
        n += spec.vocab_size * spec.embedding_width
    return 2 * n


def attention_span_sum(spec: "ModelSpec", seq_len=None):
    """Sum over the attention layers of the keys each token attends to: the context on global
    layers, min(context, window) on local ones (broadcasts over `seq_len`).  An
    encoder-decoder counts encoder self-attention, decoder self-attention and cross-attention
    over a source of the same length."""
    import numpy as np

    s = np.asarray(spec.context if seq_len is None else seq_len, dtype=float)
    total = decoder_span_sum(spec, s)
    if spec.arch == "encoder-decoder":
        total = total + (spec.n_encoder_layers + spec.n_layers) * s
    return total


def attention_flops_per_token(spec: "ModelSpec", seq_len=None):
    """Forward FLOPs per token of attention over positions (QK^T, softmax, AV), summed over
    the layers' real spans (App. F: 2 S H d_qk + 3 H S + 2 S H d_v per layer)."""
    per_key = 2 * spec.n_heads * spec.d_head + 3 * spec.n_heads + 2 * spec.n_heads * spec.d_head_v
    return per_key * attention_span_sum(spec, seq_len)


def forward_flops_per_token(spec: "ModelSpec", seq_len=None):
    """Forward FLOPs per token at sequence length `seq_len` (default: the model's context);
    a float, or an array for an array of lengths."""
    import numpy as np

    out = matmul_flops_per_token(spec) + attention_flops_per_token(spec, seq_len)
    return float(out) if np.ndim(out) == 0 else out


def flops_per_token_exact(spec: "ModelSpec", seq_len=None):
    """Training FLOPs per token: forward + backward = 3 x forward (Hoffmann et al. 2022 App. F,
    "we assume the backward pass has twice the FLOPs of the forward pass")."""
    return 3 * forward_flops_per_token(spec, seq_len)


def flops_per_token_6n(spec: "ModelSpec", non_embedding: bool = False) -> int:
    """Training FLOPs per token, 6N (Kaplan et al. 2020 sec. 2.1, C = 6NBS: 2N forward, 4N
    backward).  N is the total count as GPT-3's Table D.1 uses it, or Kaplan's non-embedding N;
    MoE models use the parameters active per token."""
    from planner.model.counts import active_params, non_embedding_params

    n = non_embedding_params(spec, active=True) if non_embedding else active_params(spec)
    return 6 * n
