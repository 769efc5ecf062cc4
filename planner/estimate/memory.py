"""Training memory per device: model states (ZeRO), activations (Korthikanti), layouts.

Sources:
- Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
  Models", sec. 3.1: mixed-precision Adam holds 2Ψ (fp16/bf16 weights) + 2Ψ (gradients) + KΨ
  optimizer states with K = 12 (fp32 master weights, momentum, variance) = 16Ψ bytes; sec. 5 /
  Figure 1: ZeRO stage 1 (P_os) shards the optimizer states over the N_d *data-parallel* ranks,
  stage 2 (P_os+g) also the gradients, stage 3 (P_os+g+p) also the weights.  Figure 1's example:
  Ψ = 7.5B, N_d = 64: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB.
- Megatron-LM keeps an fp32 gradient buffer (main_grad) for bf16 training: 2 + 4 + 12 = 18
  bytes/parameter, 20 when a bf16 gradient copy is kept as well ("mixed-fp32-grads",
  "mixed-both-grads"; Megatron-LM docs, distributed optimizer).
- Shoeybi et al. 2019 (Megatron-LM) tensor parallelism divides each layer's weights over t
  ranks; Narayanan et al. 2021 pipeline parallelism divides the layers over p stages.
- Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
  sec. 4, Table 2 (bytes of activations per layer, 16-bit, GPT-style block with 4h MLP):
      no parallelism             s·b·h·(34 + 5·a·s/h)
      tensor parallel t          s·b·h·(10 + 24/t + 5·a·s/(h·t))
      + sequence parallel        s·b·h/t·(34 + 5·a·s/h)
      + selective recompute      s·b·h·(10 + 24/t)        (with SP: s·b·h·34/t)
      full recompute             2·s·b·h (the layer input; /t with SP)
  and sec. 4.2.3: with the 1F1B pipeline schedule the first stage holds p micro-batches of
  L/p layers, i.e. L layers' worth whatever p.  The embedding/output-layer activations
  (sec. 4.3) are small and are neglected here, as the paper concludes; the output says so.
"""
from __future__ import annotations

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec, breakdown, layer_groups

# bytes per parameter: (weights, gradients, optimizer states)
BYTE_MODES: dict[str, tuple[float, float, float]] = {
    "mixed": (2.0, 2.0, 12.0),             # ZeRO sec. 3.1, K = 12: 16 bytes/param
    "mixed-fp32-grads": (2.0, 4.0, 12.0),  # fp32 gradient buffer (Megatron-LM): 18
    "mixed-both-grads": (2.0, 6.0, 12.0),  # bf16 + fp32 gradients: 20
    "fp32": (4.0, 4.0, 8.0),               # plain fp32 Adam: weights, grads, m, v: 16
}
BYTE_MODE_NOTES = {
    "mixed": "mixed-precision Adam, 16 B/param: 2 weights + 2 grads + 12 optimizer "
             "(fp32 master + m + v; Rajbhandari et al. 2020 sec. 3.1, K=12)",
    "mixed-fp32-grads": "mixed-precision Adam with an fp32 gradient buffer, 18 B/param: "
                        "2 weights + 4 grads + 12 optimizer",
    "mixed-both-grads": "mixed-precision Adam with bf16 and fp32 gradients, 20 B/param: "
                        "2 weights + 6 grads + 12 optimizer",
    "fp32": "fp32 Adam, 16 B/param: 4 weights + 4 grads + 8 optimizer (m + v)",
}
ZERO_STAGES = (0, 1, 2, 3)
TP_OPTIONS = (1, 2, 4, 8)


def activation_bytes_per_layer(seq_len, micro_batch, hidden, heads, tp=1,
                               recompute="none", sequence_parallel=False):
    """Activation bytes of one transformer layer on one device (Korthikanti et al. 2022
    Table 2); `seq_len` s, `micro_batch` b, `hidden` h, `heads` a, tensor-parallel `tp` t.
    Arguments broadcast; `recompute` is 'none', 'selective' or 'full' (scalar or array)."""
    s, b, h, a, t = (np.asarray(x, dtype=float) for x in (seq_len, micro_batch, hidden, heads,
                                                             tp))
    sp = np.asarray(sequence_parallel, dtype=bool)
    r = np.asarray(recompute)
    sbh = s * b * h
    attn = 5.0 * a * s / h
    plain = np.where(sp, sbh / t * (34.0 + attn), sbh * (10.0 + 24.0 / t + attn / t))
    selective = np.where(sp, sbh * 34.0 / t, sbh * (10.0 + 24.0 / t))
    full = np.where(sp, 2.0 * sbh / t, 2.0 * sbh)
    return np.where(r == "full", full, np.where(r == "selective", selective, plain))


def model_state_bytes(params_per_rank, dp=1, zero=0, weight_bytes=2.0, grad_bytes=2.0,
                      optimizer_bytes=12.0) -> dict:
    """Weights, gradients and optimizer states on one device (bytes).  `params_per_rank` are the
    parameters of one model-parallel rank; ZeRO `zero` shards over the `dp` data-parallel ranks
    only (Rajbhandari et al. 2020 sec. 5): stage >= 1 the optimizer states, >= 2 the gradients,
    3 the weights."""
    p = np.asarray(params_per_rank, dtype=float)
    dp = np.asarray(dp, dtype=float)
    z = np.asarray(zero)
    return {"weights": p * weight_bytes / np.where(z >= 3, dp, 1.0),
            "gradients": p * grad_bytes / np.where(z >= 2, dp, 1.0),
            "optimizer": p * optimizer_bytes / np.where(z >= 1, dp, 1.0)}


def training_memory(layer_params, extra_params, n_layers, hidden, heads, seq_len, micro_batch=1,
                    tp=1, pp=1, dp=1, zero=0, recompute="none", sequence_parallel=False,
                    weight_bytes=2.0, grad_bytes=2.0, optimizer_bytes=12.0,
                    microbatches_in_flight=None) -> dict:
    """Training memory per device (bytes) of the most loaded rank, arguments broadcasting.

    `layer_params`: parameters in the `n_layers` transformer layers; `extra_params`: the rest
    (embeddings, positions, final norm, untied output layer) - on one stage when pp = 1, else the
    larger of the first stage's embedding and the last stage's output layer, passed as
    `extra_params` by `memory_for_spec`.  Layers per stage = ceil(L/pp); TP divides every weight
    (vocabulary-parallel embedding too).  Activations: per-layer bytes (Korthikanti Table 2) x
    layers per stage x micro-batches in flight (default pp, the 1F1B first stage).
    Returns weights, gradients, optimizer, activations, total, params_per_device."""
    L = np.asarray(n_layers, dtype=float)
    t, p = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    layers_per_stage = np.ceil(L / p)
    params_rank = (np.asarray(layer_params, dtype=float) * layers_per_stage / L
                   + np.asarray(extra_params, dtype=float)) / t
    states = model_state_bytes(params_rank, dp, zero, weight_bytes, grad_bytes, optimizer_bytes)
    in_flight = p if microbatches_in_flight is None else np.minimum(
        np.asarray(microbatches_in_flight, dtype=float), p)
    act = (activation_bytes_per_layer(seq_len, micro_batch, hidden, heads, tp, recompute,
                                      sequence_parallel) * layers_per_stage * in_flight)
    total = states["weights"] + states["gradients"] + states["optimizer"] + act
    return {**states, "activations": act, "total": total, "params_per_device": params_rank}


def _spec_parts(spec: ModelSpec) -> tuple[float, float, float, int]:
    """(layer params, extra params on one stage when pp = 1, largest extra on one stage when
    pp > 1, layer count) of `spec`."""
    layers = float(sum(g["count"] * g["total"] for g in layer_groups(spec)))
    b = breakdown(spec)
    extra = float(sum(b.values())) - layers
    first = b["embedding"] + b["positions"]
    # The last stage holds the output layer: its own matrix, or a copy of a tied embedding.
    last = b["lm_head"] if not spec.tie_embeddings else b["embedding"] + b["lm_head"]
    n_layers = spec.n_layers + (spec.n_encoder_layers if spec.arch == "encoder-decoder" else 0)
    return layers, extra, float(max(first, last)) + (extra - first - b["lm_head"]), n_layers


def memory_for_spec(spec: ModelSpec, seq_len=None, micro_batch=1, tp=1, pp=1, dp=1, zero=0,
                    recompute="none", sequence_parallel=False, mode: str = "mixed",
                    optimizer_bytes=None, microbatches_in_flight=None) -> dict:
    """`training_memory` for a model: parameter split from the architecture, h = d_model,
    a = n_heads, s = `seq_len` (default: the model's context).  `mode` picks bytes per parameter
    (BYTE_MODES); `optimizer_bytes` overrides the optimizer's K."""
    if mode not in BYTE_MODES:
        raise unknown("optimizer bytes mode", mode, BYTE_MODES)
    wb, gb, ob = BYTE_MODES[mode]
    if optimizer_bytes is not None:
        ob = float(optimizer_bytes)
    layers, extra1, extra_pp, n_layers = _spec_parts(spec)
    extra = np.where(np.asarray(pp) > 1, extra_pp, extra1)
    return training_memory(layers, extra, n_layers, spec.d_model, spec.n_heads,
                           spec.context if seq_len is None else seq_len, micro_batch, tp, pp,
                           dp, zero, recompute, sequence_parallel, wb, gb, ob,
                           microbatches_in_flight)


def zero_sharded(memory: dict, zero: int):
    """Bytes that ZeRO divides over the data-parallel ranks (Rajbhandari et al. 2020 sec. 5):
    stage 1 the optimizer states, stage 2 also the gradients, stage 3 also the weights.
    `memory` is a `memory_for_spec` result at dp = 1."""
    return ((memory["optimizer"] if zero >= 1 else 0.0)
            + (memory["gradients"] if zero >= 2 else 0.0)
            + (memory["weights"] if zero >= 3 else 0.0))


def _layout_grid(spec: ModelSpec, node_size: int, tp_options=TP_OPTIONS):
    tps = np.array([t for t in tp_options if t <= max(node_size, 1) and spec.n_heads % t == 0]
                   or [1], dtype=float)
    n_layers = spec.n_layers + (spec.n_encoder_layers if spec.arch == "encoder-decoder" else 0)
    pps = np.arange(1, n_layers + 1, dtype=float)
    t, p = np.meshgrid(tps, pps, indexing="ij")
    return t.ravel(), p.ravel()


def min_gpus_for_memory(spec: ModelSpec, capacity_bytes: float, node_size: int = 8,
                        tp_options=TP_OPTIONS, tp=None, pp=None, **kw) -> dict:
    """The fewest devices whose memory (`capacity_bytes` each) holds the job.

    Searches TP in `tp_options` (within a node, dividing the heads) and PP in 1..L, unless `tp`
    / `pp` are given; for each the data-parallel degree needed is the smallest dp with
    fixed + sharded/dp <= capacity, where 'sharded' is what the ZeRO stage divides over dp
    (closed form).  Other keyword arguments go to `memory_for_spec` (dp is searched).
    Returns gpus (inf when nothing fits), tp, pp, dp and the memory breakdown at that layout."""
    kw.pop("dp", None)
    t, p = _layout_grid(spec, node_size, tp_options)
    if tp is not None:
        t, p = np.full_like(p, float(tp)), p
    if pp is not None:
        t, p = t, np.full_like(t, float(pp))
    if tp is not None and pp is not None:
        t, p = np.array([float(tp)]), np.array([float(pp)])
    t, p = np.unique(np.stack([t, p]), axis=1)
    m1 = memory_for_spec(spec, tp=t, pp=p, dp=1, **kw)
    sharded = zero_sharded(m1, int(kw.get("zero", 0)))
    fixed = m1["total"] - sharded
    room = capacity_bytes - fixed
    with np.errstate(divide="ignore", invalid="ignore"):
        dp = np.where(m1["total"] <= capacity_bytes, 1.0,
                      np.where((room > 0) & (sharded > 0), np.ceil(sharded / room), np.inf))
    gpus = t * p * dp
    if not np.isfinite(gpus).any():
        i = int(np.argmin(m1["total"]))
        return {"gpus": float("inf"), "tp": int(t[i]), "pp": int(p[i]), "dp": None,
                "memory": {k: float(v[i]) for k, v in m1.items()}}
    order = np.lexsort((p, t * p, gpus))  # fewest devices, then least model parallelism
    i = int(order[0])
    m = memory_for_spec(spec, tp=t[i], pp=p[i], dp=dp[i], **kw)
    return {"gpus": float(gpus[i]), "tp": int(t[i]), "pp": int(p[i]), "dp": int(dp[i]),
            "memory": {k: float(v) for k, v in m.items()}}


def layout_for_devices(spec: ModelSpec, n_devices: int, capacity_bytes: float, node_size: int = 8,
                       tp_options=TP_OPTIONS, tp=None, pp=None, **kw) -> dict:
    """A (tp, pp, dp) layout for `n_devices` and its memory per device: the fitting layout with
    the least model parallelism (tp·pp), dp = floor(n / (tp·pp)) (leftover devices idle);
    if none fits, the layout with the least memory, flagged fits=False."""
    kw.pop("dp", None)
    t, p = _layout_grid(spec, node_size, tp_options)
    if tp is not None:
        t = np.full_like(p, float(tp))
    if pp is not None:
        p = np.full_like(t, float(pp))
    t, p = np.unique(np.stack([t, p]), axis=1)
    ok = t * p <= n_devices
    if not ok.any():
        raise PlannerError(f"tp x pp = {int((t * p).min())} exceeds the {n_devices} devices given")
    t, p = t[ok], p[ok]
    dp = np.floor(n_devices / (t * p))
    m = memory_for_spec(spec, tp=t, pp=p, dp=dp, **kw)
    fits = m["total"] <= capacity_bytes
    if fits.any():
        i = int(np.lexsort((p, t * p, ~fits))[0])
    else:
        i = int(np.argmin(m["total"]))
    return {"tp": int(t[i]), "pp": int(p[i]), "dp": int(dp[i]), "fits": bool(fits[i]),
            "memory": {k: float(v[i]) for k, v in m.items()}}


def check_zero(zero) -> int:
    try:
        z = int(zero)
    except (TypeError, ValueError):
        z = -1
    if z not in ZERO_STAGES:
        raise PlannerError(f"--zero must be 0, 1, 2 or 3, got {zero!r}")
    return z
