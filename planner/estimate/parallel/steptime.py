"""Step time of every plan in the grid, term by term (seconds; vectorised over plans).

Structure after Calculon (Isaev et al. 2023, SC'23, sec. 3-4): per micro-batch and pipeline
stage, each transformer block's forward, backward and recomputed work is a list of matrix
multiplies (roofline time at a size-dependent achievable fraction of peak, tables.py) and
memory-bound element-wise kernels (bytes / achievable bandwidth), plus the communication each
kind of parallelism adds (alpha-beta, collectives.py).  The terms:

  compute     GEMMs: QKV, attention projection, MLP (3 matrices when gated; MoE: router, the
              routed experts' grouped GEMMs with T k EP / E tokens each, shared experts), the
              output layer; backward = 2 x forward (data and weight gradients).  Attention
              core: without FlashAttention two batched GEMMs (QK^T, scores x V) and the
              softmax/dropout traffic; with it one kernel at FlashAttention's measured
              throughput, causal work halved (Dao 2023 sec. 4: backward = 2.5 x forward FLOPs).
              Element-wise kernels (norms, residual adds, activation, rotary, dropout, MoE
              permutes, the loss): bytes read and written / achievable bandwidth; backward
              moves 2 x the forward's bytes (reads input and output gradient, writes one).
  recompute   full: the forward again (Narayanan et al. 2021 eq. 3 counts it: 96 vs 72
              B s l h^2); selective: only the attention core (Korthikanti et al. 2022 sec. 5);
              nothing for FlashAttention, which recomputes inside its backward kernel.
  tp_comm     Megatron TP (Shoeybi et al. 2019 sec. 3): 2 all-reduces of T h 16-bit values
              per layer forward, 2 backward, 2 more forward under full recompute; with
              sequence parallelism each is an all-gather + reduce-scatter of the same volume
              (Korthikanti et al. 2022 sec. 4.2.2).  Inside the scale-up domain.
  cp          ring attention (Liu et al. 2023; Megatron-Core context parallelism): CP - 1
              exchanges of the K/V block (2 x the gradient block backward), each overlapped
              with one block of attention compute; only the excess is exposed.
  ep_all_to_all   MoE token dispatch and combine (Lepikhin et al. 2021, GShard sec. 3):
              2 all-to-alls forward, 2 backward per MoE layer, T k h 16-bit values per rank.
  pp_p2p      2 sends of the T h / t activation per micro-batch per virtual stage (Narayanan
              et al. 2021 sec. 4.1 scatter/gather: each TP rank sends 1/t).
  pp_bubble   (PP - 1) / v micro-batch stage times (Narayanan et al. 2021 sec. 2.2: bubble
              fraction (p-1)/m, divided by the interleave factor v for the interleaved
              schedule; of total time that is (p-1)/v / (m + (p-1)/v)).  The stage time is the
              slowest stage's (the last one, with the output layer: stage imbalance).
  dp_comm     gradient all-reduce (ZeRO 0) or reduce-scatter + parameter all-gather (ZeRO 1/2,
              Rajbhandari et al. 2020 sec. 7: same volume) over DP x CP ranks, exposed beyond
              the framework's overlap with the last micro-batch's backward / first forward.
  zero_gathers  ZeRO-3 / FSDP: per micro-batch 2 parameter all-gathers (forward, backward)
              and a gradient reduce-scatter (1.5 x DP volume, Rajbhandari et al. 2020 sec.
              7.2.2), overlapped with that micro-batch's compute.
  optimizer   Adam step: bytes per parameter (framework table) of the locally updated
              parameters (1 / (DP x CP) of them with ZeRO >= 1) / achievable bandwidth.
step = m x (micro-batch stage time) + bubble + exposed DP + exposed ZeRO-3 + optimizer.
"""
from __future__ import annotations

import numpy as np

from planner.estimate.parallel import collectives as coll
from planner.estimate.parallel.shape import Shape
from planner.estimate.parallel.terms import TERMS  # noqa: F401  (re-exported)



def _f(grid, *keys):
    return [np.asarray(grid[k], dtype=float) for k in keys]


def hardware_flops_per_sequence(shape: Shape, seq_len: int, recompute, flash: bool):
    """FLOPs the hardware executes per sequence (forward + backward + recomputation), matrix
    multiplies only, attention counted in full (not causal-halved) as Narayanan et al. 2021
    eq. 3 does: for a GPT block 96 B s l h^2 (1 + s/6h + V/16lh) with full recompute."""
    s, h, q, kv = float(seq_len), shape.hidden, shape.q_dim, shape.kv_dim
    s_kv = min(s, shape.window) if shape.window else s
    g = 3.0 if shape.gated else 2.0
    attn_proj = 2 * s * h * (q + 2 * kv) + 2 * s * q * h
    core = 4.0 * s * s_kv * q
    dense_mlp = 2 * s * h * shape.d_ff * g
    moe_mlp = (2 * s * h * shape.experts + shape.top_k * 2 * s * h * shape.expert_ff * g
               + 2 * s * h * shape.shared_ff * g)
    frac = shape.moe_layers / shape.layers
    layer = attn_proj + core + (1 - frac) * dense_mlp + frac * moe_mlp
    r = np.asarray(recompute)
    extra = np.where(r == 2, layer, np.where((r == 1) & (not flash), core, 0.0))
    logits = 2 * s * h * shape.vocab
    return shape.layers * (3.0 * layer + extra) + 3.0 * logits


def step_time(shape: Shape, grid: dict, seq_len: int, device, eff, fw,
              precisions: tuple[str, ...]) -> dict:
    """Seconds per step and per term (TERMS) of each plan; also the per-micro-batch forward
    and backward stage times.  NaN where a needed network figure is missing."""
    t, p, c, e, b, v, dp, m = _f(grid, "tp", "pp", "cp", "ep", "micro_batch", "interleave", "dp",
                                 "micro_batches")
    sp, r, z = grid["sequence_parallel"], grid["recompute"], grid["zero"]
    prec = grid["precision"]
    peak = np.array([device.peak(x) for x in precisions])[prec]
    rate = peak * np.array([eff.matmul_eff(x) for x in precisions])[prec] * fw.kappa
    elem = np.array([1.0 if x in ("fp8", "fp4") else 2.0 for x in precisions])[prec]
    base_peak = device.peak(precisions[0])
    base_rate = base_peak * eff.matmul_eff(precisions[0]) * fw.kappa
    mem_bw = device.bandwidth_bytes_per_s * eff.memory
    domain = device.scale_up_domain if np.isfinite(device.scale_up_domain) else 1.0
    up_bw, out_bw = device.scale_up_bytes_per_s, device.scale_out_bytes_per_s
    up, out = eff.scale_up, eff.scale_out

    h, q, kv, dh = shape.hidden, shape.q_dim, shape.kv_dim, shape.head_dim
    heads = shape.heads / t
    T = b * seq_len / c                      # tokens per rank per micro-batch
    s_q = seq_len / c
    s_kv = min(seq_len, shape.window) if shape.window else float(seq_len)
    g = 2.0 if shape.gated else 1.0          # fused gate+up output width factor

    def gemm(M, K, N, count=1.0, r_=rate, el=elem):
        flops = 2.0 * M * K * N
        moved = el * (M * K + K * N) + 2.0 * M * N
        return count * (np.maximum(flops / r_, moved / mem_bw) + eff.kernel_s)

    # -- one layer, forward, one rank: GEMMs ------------------------------------------------------
    attn_gemms = gemm(T, h, (q + 2 * kv) / t) + gemm(T, q / t, h)
    dense_mlp = gemm(T, h, g * shape.d_ff / t) + gemm(T, shape.d_ff / t, h)
    if shape.is_moe:
        local = shape.experts / e
        Te = T * shape.top_k / local
        moe_mlp = (gemm(T, h, float(shape.experts))
                   + gemm(Te, h, g * shape.expert_ff / t, local)
                   + gemm(Te, shape.expert_ff / t, h, local))
        if shape.shared_ff:
            moe_mlp = moe_mlp + gemm(T, h, g * shape.shared_ff / t) + gemm(T, shape.shared_ff / t, h)
    else:
        moe_mlp = 0.0
    frac = shape.moe_layers / shape.layers
    gemm_fwd = attn_gemms + (1 - frac) * dense_mlp + frac * moe_mlp

    # -- attention core -------------------------------------------------------------------------
    core_flops = 4.0 * b * heads * s_q * s_kv * dh
    scores = b * heads * s_q * s_kv           # score elements per rank
    if fw.flash_attention:
        causal = 1.0 if (shape.window and shape.window < seq_len) else 0.5
        core_fwd = causal * core_flops / (eff.attention_fwd * fw.kappa * base_peak)
        core_bwd = 2.5 * causal * core_flops / (eff.attention_bwd * fw.kappa * base_peak)
        score_bytes = 0.0
    else:
        count = b * heads
        core_fwd = (gemm(s_q, dh, s_kv, count, base_rate, 2.0)
                    + gemm(s_q, s_kv, dh, count, base_rate, 2.0))
        core_bwd = 2.0 * core_fwd
        score_bytes = (4.0 + (5.0 if fw.dropout else 0.0)) * scores  # softmax r/w, dropout

    # -- element-wise kernels (bytes moved, forward) --------------------------------------------
    mask = 2.0 if fw.dropout else 0.0
    rep = (4.0 * shape.norms + 12.0 + mask) * T * h / np.where(sp, t, 1.0)
    act = (6.0 if shape.gated else 4.0)
    dense_elem = act * T * shape.d_ff / t
    moe_elem = (act * T * shape.top_k * shape.expert_ff / t + act * T * shape.shared_ff / t
                + 8.0 * T * shape.top_k * h)
    rope = 4.0 * T * (q + kv) / t if shape.rotary else 0.0
    elem_fwd = (rep + (1 - frac) * dense_elem + frac * moe_elem + rope + score_bytes) / mem_bw
    score_fwd = score_bytes / mem_bw

    layer_fwd = gemm_fwd + core_fwd + elem_fwd
    layer_bwd = 2.0 * gemm_fwd + core_bwd + 2.0 * elem_fwd
    selective = 0.0 if fw.flash_attention else core_fwd + score_fwd
    layer_re = np.where(r == 2, layer_fwd, np.where(r == 1, selective, 0.0))

    # -- tensor parallel ------------------------------------------------------------------------
    tp_bw, tp_a = coll.group_links(t, 1.0, domain, up_bw, out_bw, up.collective, out.collective,
                                   up.alpha_s, out.alpha_s)
    act_bytes = 2.0 * T * h
    one = coll.all_reduce(act_bytes, t, tp_bw, tp_a)   # = all-gather + reduce-scatter (SP)
    tp_layer = (4.0 + np.where(r == 2, 2.0, 0.0)) * one * (1.0 - fw.tp_overlap)

    # -- context parallel (ring attention) ------------------------------------------------------
    cp_bw, cp_a = coll.group_links(c, t, domain, up_bw, out_bw, up.p2p, out.p2p,
                                   up.alpha_s, out.alpha_s)
    kv_block = 2.0 * b * s_q * kv * 2.0 / t
    hop = coll.p2p(kv_block, cp_bw, cp_a)
    cp_fwd = (c - 1.0) * np.maximum(0.0, hop - core_fwd / c)
    cp_bwd = (c - 1.0) * np.maximum(0.0, 2.0 * hop - core_bwd / c)
    cp_layer = np.where(c > 1, cp_fwd + cp_bwd + np.where(r == 2, cp_fwd, 0.0), 0.0)

    # -- expert parallel all-to-all -------------------------------------------------------------
    if shape.is_moe:
        k_local = np.clip(np.floor(domain / (t * c)), 1.0, e)
        inside = t * c * e <= domain
        a2a = coll.all_to_all(T * shape.top_k * h * 2.0 / t, e, np.where(inside, e, k_local),
                              up_bw * up.all_to_all, out_bw * out.all_to_all,
                              np.where(inside, up.alpha_s, out.alpha_s))
        ep_layer = frac * (4.0 + np.where(r == 2, 2.0, 0.0)) * a2a
    else:
        ep_layer = np.zeros_like(t)

    # -- one micro-batch through the slowest stage ----------------------------------------------
    Ls = shape.layers / p
    logits_fwd = gemm(T, h, shape.vocab / t) + 12.0 * T * shape.vocab / t / mem_bw
    logits_bwd = 2.0 * gemm(T, h, shape.vocab / t) + 8.0 * T * shape.vocab / t / mem_bw
    fwd_mb = Ls * layer_fwd + logits_fwd
    bwd_mb = Ls * layer_bwd + logits_bwd
    compute_mb = fwd_mb + bwd_mb
    recompute_mb = Ls * layer_re
    tp_mb, cp_mb, ep_mb = Ls * tp_layer, Ls * cp_layer, Ls * ep_layer
    pp_inside = t * c * dp * p <= domain
    p2p_bw = np.where(pp_inside, up_bw * up.p2p, out_bw * out.p2p)
    p2p_a = np.where(pp_inside, up.alpha_s, out.alpha_s)
    p2p_mb = np.where(p > 1, 2.0 * v * coll.p2p(act_bytes / t, p2p_bw, p2p_a), 0.0) * (
        1.0 - fw.p2p_overlap)
    stage_mb = compute_mb + recompute_mb + tp_mb + cp_mb + ep_mb + p2p_mb
    bubble = (p - 1.0) / v * stage_mb

    # -- data parallel and optimizer ------------------------------------------------------------
    extra = np.where(p > 1, max(shape.first_extra, shape.last_extra), shape.single_extra)
    P_dense = (shape.dense_params_per_layer * Ls + extra) / t
    P_exp = shape.expert_params_per_layer * Ls / (t * e)
    gb = fw.grad_reduce_bytes

    def dp_terms(P, n, inner):
        bw, a = coll.group_links(n, inner, domain, up_bw, out_bw, up.collective,
                                 out.collective, up.alpha_s, out.alpha_s)
        ar = coll.all_reduce(P * gb, n, bw, a)
        rs = coll.reduce_scatter(P * gb, n, bw, a)
        ag = coll.all_gather(P * 2.0, n, bw, a)
        grad = np.where(z == 0, ar, np.where(z < 3, rs, 0.0))
        gather = np.where((z >= 1) & (z < 3), ag, 0.0)
        z3 = np.where(z == 3, m * (2.0 * ag + rs), 0.0)
        return grad, gather, z3

    gd, ga, z3d = dp_terms(P_dense, dp * c, t)
    if shape.is_moe:
        ge, gae, z3e = dp_terms(P_exp, dp * c / e, t * e)
        gd, ga, z3d = gd + ge, ga + gae, z3d + z3e
    ov = fw.dp_overlap
    dp_exposed = np.maximum(0.0, gd - ov * bwd_mb) + np.maximum(0.0, ga - ov * fwd_mb)
    z3_exposed = np.maximum(0.0, z3d - ov * m * (fwd_mb + bwd_mb))
    shard = np.where(z >= 1, dp * c, 1.0)
    P_opt = P_dense / shard + P_exp / np.where(z >= 1, dp * c / e, 1.0)
    optimizer = fw.optimizer_bytes_per_param * P_opt / mem_bw

    terms = {"compute": m * compute_mb, "recompute": m * recompute_mb, "tp_comm": m * tp_mb,
             "cp": m * cp_mb, "ep_all_to_all": m * ep_mb, "pp_p2p": m * p2p_mb,
             "pp_bubble": bubble, "dp_comm": dp_exposed, "zero_gathers": z3_exposed,
             "optimizer": optimizer}
    step = sum(terms.values())
    return {"step_seconds": step, "terms": terms, "peak_flops": peak,
            "forward_mb_seconds": fwd_mb, "backward_mb_seconds": bwd_mb}
