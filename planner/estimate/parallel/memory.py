"""Memory per GPU of every plan in the grid (bytes), the most loaded pipeline stage.

Model states: ZeRO (Rajbhandari et al. 2020 sec. 5) over the data-parallel ranks, reusing
planner.estimate.memory.model_state_bytes; with context parallelism the distributed optimizer
shards over DP x CP (Megatron-Core), and expert parameters over DP x CP / EP (their
expert-data-parallel group).  Tensor parallelism divides every weight; expert parallelism
divides the routed experts; pipeline stage s holds L/PP layers plus, on the first stage, the
embedding and, on the last, the output layer (a tied embedding is copied there) - the larger
of the two stages is reported (pipeline-stage imbalance).

Activations per layer generalise Korthikanti et al. 2022 sec. 4.1 / Table 2 (bytes, 16-bit):
    replicated (divided by t only with sequence parallelism):
        norm inputs 2Th each, attention input 2Th, MLP input 2Th, dropout masks Th each
    split over TP:  Q and K 2T(q + kv), V 2T kv, projection input 2T q,
                    MLP 2T f x (2: GeLU input and output; 3 for gated: gate, up, product)
    attention scores (kept only without recompute and without FlashAttention):
                    b (a/t) s_q s_kv x (2 softmax output + 1 mask + 2 dropout output)
which for a GPT block (h = q = kv, f = 4h, dropout) is exactly their sbh(10 + 24/t + 5as/(ht)).
T = b s / CP tokens per rank.  FlashAttention (Dao et al. 2022) keeps no scores - only the
softmax statistics, 4 bytes per head and token.  Full recomputation keeps each layer's input
(2Th, /t with SP) plus one layer's full activations while it is recomputed.  In flight: the
1F1B first stage holds min(PP, m) micro-batches of its L/PP layers, times 1 + (PP-1)/(PP v)
with v interleaved stages (Korthikanti et al. 2022 sec. 4.2.3); the last stage holds one, plus
the logits of one micro-batch (16-bit, and fp32 for the loss: 6 bytes per logit).
"""
from __future__ import annotations

import numpy as np

from planner.estimate.memory import BYTE_MODES, model_state_bytes
from planner.estimate.parallel.shape import Shape


def layer_activation_bytes(shape: Shape, tokens, micro_batch, seq_kv, tp, sequence_parallel,
                           recompute, flash: bool, dropout: bool):
    """Activation bytes of one layer on one rank, averaged over dense and MoE layers.
    `recompute` is an index into space.RECOMPUTE (0 none, 1 selective, 2 full); arrays
    broadcast."""
    T, t = np.asarray(tokens, float), np.asarray(tp, float)
    sp = np.asarray(sequence_parallel, bool)
    h, q, kv = shape.hidden, shape.q_dim, shape.kv_dim
    mask = 1.0 if dropout else 0.0
    rep_elems = 2.0 * shape.norms + 2.0 + (2.0 if shape.norms > 1 else 0.0) + 2.0 * mask
    replicated = rep_elems * T * h / np.where(sp, t, 1.0)
    mats = 3.0 if shape.gated else 2.0
    attn_split = 2.0 * T * (q + kv) + 2.0 * T * kv + 2.0 * T * q
    dense_mlp = 2.0 * T * shape.d_ff * mats
    moe_mlp = (T * shape.top_k * (2.0 * shape.expert_ff * mats + 2.0 * h)
               + 2.0 * T * shape.shared_ff * mats + 4.0 * T * shape.experts)
    frac_moe = shape.moe_layers / shape.layers
    mlp = (1.0 - frac_moe) * dense_mlp + frac_moe * moe_mlp
    split = (attn_split + mlp) / t
    heads = shape.heads / t
    r = np.asarray(recompute)
    s_q = T / np.asarray(micro_batch, float)
    scores = np.asarray(micro_batch, float) * heads * s_q * seq_kv * (5.0 if dropout else 2.0)
    if flash:
        scores = 4.0 * T * heads + 0.0 * scores
    else:
        scores = np.where(r == 0, scores, 0.0)
    full_layer = replicated + split + scores
    layer_input = 2.0 * T * h / np.where(sp, t, 1.0)
    return full_layer, np.where(r == 2, layer_input, full_layer)


def plan_memory(shape: Shape, grid: dict, seq_len: int, fw, precisions: tuple[str, ...],
                capacity_bytes: float) -> dict:
    """Bytes per GPU of each plan: weights, gradients, optimizer, activations, reserved, total
    (of the most loaded stage) and fits (total <= capacity)."""
    f = {k: np.asarray(grid[k], dtype=float) for k in
         ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "micro_batches")}
    t, p, c, e, b, v, dp, m = (f[k] for k in ("tp", "pp", "cp", "ep", "micro_batch",
                                               "interleave", "dp", "micro_batches"))
    z = grid["zero"]
    # a mode name of memory.BYTE_MODES, or (weights, gradients, optimizer) bytes per parameter
    wb, gb, ob = (BYTE_MODES[fw.state_bytes] if isinstance(fw.state_bytes, str)
                  else fw.state_bytes)
    layers_stage = shape.layers / p
    dense = shape.dense_params_per_layer * layers_stage / t
    expert = shape.expert_params_per_layer * layers_stage / (t * e)
    first_extra = np.where(p > 1, shape.first_extra, shape.single_extra) / t
    last_extra = np.where(p > 1, shape.last_extra, shape.single_extra) / t

    def states(extra):
        d = model_state_bytes(dense + extra, dp * c, z, wb, gb, ob)
        x = model_state_bytes(expert, dp * c / e, z, wb, gb, ob)
        return {k: d[k] + x[k] for k in d}

    fp8 = np.asarray([precisions[i] == "fp8" for i in range(len(precisions))])[grid["precision"]]
    layer_params = (shape.dense_params_per_layer / t
                    + shape.expert_params_per_layer / (t * e))
    extra_bufs = (np.where(fp8, 1.0 * (dense + expert), 0.0)          # fp8 weight copies
                  + np.where(z >= 3, 2.0 * layer_params * wb, 0.0))    # ZeRO-3 prefetched layers
    T = b * seq_len / c
    seq_kv = min(seq_len, shape.window) if shape.window else seq_len
    full_layer, kept = layer_activation_bytes(shape, T, b, seq_kv, t, grid["sequence_parallel"],
                                              grid["recompute"], fw.flash_attention, fw.dropout)
    working = np.where(grid["recompute"] == 2, full_layer, 0.0)
    interleave = np.where(v > 1, 1.0 + (p - 1.0) / (p * v), 1.0)
    in_flight = np.where(p > 1, np.minimum(p, m) * interleave, 1.0)
    act_first = kept * layers_stage * in_flight + working
    logits = 6.0 * T * shape.vocab / t
    act_last = kept * layers_stage + working + logits
    s_first, s_last = states(first_extra), states(last_extra)
    tot_first = sum(s_first.values()) + act_first
    tot_last = sum(s_last.values()) + act_last
    # one stage when PP = 1: the embedding and output layer are both in `single_extra`
    tot_first = np.where(p > 1, tot_first, sum(s_first.values()) + act_first + logits)
    last = tot_last > tot_first
    pick = lambda a, bb: np.where(last, bb, a)  # noqa: E731
    total = np.maximum(tot_first, tot_last) + extra_bufs + fw.reserved_bytes
    return {"weights": pick(s_first["weights"], s_last["weights"]),
            "gradients": pick(s_first["gradients"], s_last["gradients"]),
            "optimizer": pick(s_first["optimizer"], s_last["optimizer"]),
            "activations": np.where(p > 1, pick(act_first, act_last), act_first + logits),
            "buffers": extra_bufs + fw.reserved_bytes, "total": total,
            "fits": total <= capacity_bytes}
