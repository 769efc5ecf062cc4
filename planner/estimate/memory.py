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

from dataclasses import dataclass

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec, breakdown, layer_groups
from planner.resources import data_toml



def _data() -> dict:
    return data_toml("training.toml")


# bytes per parameter: (weights, gradients, optimizer states), and what each mode means
BYTE_MODES: dict[str, tuple[float, float, float]] = {
    k: tuple(v["bytes"]) for k, v in _data()["optimizer_modes"].items()}
BYTE_MODE_NOTES: dict[str, str] = {k: v["note"] for k, v in _data()["optimizer_modes"].items()}
ACTIVATIONS_NOTE: str = _data()["layouts"]["activations_note"]
TP_OPTIONS = tuple(_data()["layouts"]["tp_options"])


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


def n_blocks(spec: ModelSpec) -> int:
    """Transformer blocks of `spec`: its decoder layers, plus an encoder-decoder's encoder
    layers."""
    return spec.n_layers + (spec.n_encoder_layers if spec.arch == "encoder-decoder" else 0)


def _spec_parts(spec: ModelSpec) -> tuple[float, float, float, int]:
    """(layer params, extra params on one stage when pp = 1, largest extra on one stage when
    pp > 1, layer count) of `spec`."""
    layers = float(sum(g["count"] * g["total"] for g in layer_groups(spec)))
    b = breakdown(spec)
    extra = float(sum(b.values())) - layers
    first = b["embedding"] + b["positions"]
    # The last stage holds the output layer: its own matrix, or a copy of a tied embedding.
    last = b["lm_head"] if not spec.tie_embeddings else b["embedding"] + b["lm_head"]
    n_layers = n_blocks(spec)
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
    n_layers = n_blocks(spec)
    pps = np.arange(1, n_layers + 1, dtype=float)
    t, p = np.meshgrid(tps, pps, indexing="ij")
    return t.ravel(), p.ravel()


@dataclass(frozen=True)
class Layouts:
    """The candidate (tp, pp) layouts of one job and their memory per device at dp = 1, split
    into what ZeRO shards over the data-parallel ranks (`sharded`) and what it does not
    (`fixed`; Rajbhandari et al. 2020 sec. 5).  At dp ranks a device holds
    fixed + sharded / dp.  Arrays have one entry per layout."""

    tp: np.ndarray
    pp: np.ndarray
    parts: dict             # weights, gradients, optimizer, activations at dp = 1
    zero: int

    @property
    def total1(self) -> np.ndarray:
        return sum(self.parts[k] for k in ("weights", "gradients", "optimizer", "activations"))

    @property
    def sharded(self) -> np.ndarray:
        return zero_sharded(self.parts, self.zero) + 0.0 * self.tp

    @property
    def fixed(self) -> np.ndarray:
        return self.total1 - self.sharded

    def breakdown(self, i, dp) -> dict[str, np.ndarray]:
        """Weights, gradients, optimizer, activations and total per device of layouts `i` at
        `dp` data-parallel ranks (arrays broadcast)."""
        dp = np.asarray(dp, dtype=float)
        z = self.zero
        out = {"weights": self.parts["weights"][i] / (dp if z >= 3 else 1.0),
               "gradients": self.parts["gradients"][i] / (dp if z >= 2 else 1.0),
               "optimizer": self.parts["optimizer"][i] / (dp if z >= 1 else 1.0),
               "activations": self.parts["activations"][i] + 0.0 * dp}
        out["total"] = out["weights"] + out["gradients"] + out["optimizer"] + out["activations"]
        return out

    def _min_dp(self, capacity_bytes: float) -> np.ndarray:
        """Per layout, the smallest dp with fixed + sharded/dp <= capacity (closed form; inf
        if none)."""
        room = capacity_bytes - self.fixed
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.total1 <= capacity_bytes, 1.0,
                            np.where((room > 0) & (self.sharded > 0),
                                     np.ceil(self.sharded / room), np.inf))

    def min_devices(self, capacity_bytes: float) -> dict:
        """The fewest devices whose memory holds the job: for each layout the smallest dp with
        fixed + sharded/dp <= capacity (closed form), then the layout with the fewest devices,
        the least model parallelism and the fewest stages.  gpus is inf when nothing fits."""
        dp = self._min_dp(capacity_bytes)
        gpus = self.tp * self.pp * dp
        if not np.isfinite(gpus).any():
            i = int(np.argmin(self.total1))
            return {"gpus": float("inf"), "tp": int(self.tp[i]), "pp": int(self.pp[i]),
                    "dp": None, "index": i, "memory": {k: float(v) for k, v in
                                                       self.breakdown(i, 1.0).items()}}
        i = int(np.lexsort((self.pp, self.tp * self.pp, gpus))[0])
        return {"gpus": float(gpus[i]), "tp": int(self.tp[i]), "pp": int(self.pp[i]),
                "dp": int(dp[i]), "index": i,
                "memory": {k: float(v) for k, v in self.breakdown(i, dp[i]).items()}}

    def min_devices_each(self, capacity_bytes: float) -> np.ndarray:
        """Per layout, the fewest devices at which it fits: tp·pp·dp_min, with dp_min the
        smallest dp such that fixed + sharded/dp <= capacity (inf if none)."""
        return self.tp * self.pp * self._min_dp(capacity_bytes)

    def for_devices(self, n_devices, capacity_bytes: float) -> dict[str, np.ndarray]:
        """The layout of `n_devices` (an array): dp = floor(n / (tp·pp)).  The rule: a layout
        that fits in memory; among those, one that uses every device (no idle ones); then the
        least model parallelism tp·pp; then the fewest pipeline stages.  When none fits, the
        one with the least memory per device (fits False).  Returns per n: index (-1 when even
        tp·pp exceeds n), tp, pp, dp, used, idle, fits, and the memory breakdown.

        A layout fits n devices exactly when n >= its `min_devices_each` (dp = floor(n/mp) >=
        dp_min), so the search is integer comparisons over (n, layouts) in (tp·pp, pp) order:
        first the layouts that fit and divide n; for the n left, the least idle devices."""
        n = np.atleast_1d(np.asarray(n_devices, dtype=float))
        mp = self.tp * self.pp
        min_n = self.min_devices_each(capacity_bytes)
        order = np.lexsort((self.pp, mp))                 # preference: tp·pp, then pp
        order = order[np.isfinite(min_n[order])]          # layouts that never fit: skipped
        ni = np.where(np.isfinite(n), n, 0).astype(np.int64)
        idx = np.full(len(n), -1)
        found = np.zeros(len(n), dtype=bool)
        todo = np.arange(len(n))
        for j in order:                 # layouts in preference order; n resolved drop out
            if not len(todo):
                break
            m = int(mp[j])
            hit = (ni[todo] >= min_n[j]) & (ni[todo] % m == 0)
            idx[todo[hit]] = j
            found[todo[hit]] = True
            todo = todo[~hit]
        if len(todo):                   # no fitting layout uses every device: least idle
            best = np.full(len(todo), np.inf)
            for j in order:
                m = int(mp[j])
                idle = np.where(ni[todo] >= min_n[j], ni[todo] % m, np.inf)
                better = idle < best
                best = np.where(better, idle, best)
                idx[todo[better]] = j
            found[todo[np.isfinite(best)]] = True
        # Nothing fits: the valid layout with the least memory per device.
        lost = np.flatnonzero(~found)
        if len(lost):
            nl = n[lost, None]
            dp = np.floor(nl / mp[None, :])
            with np.errstate(divide="ignore", invalid="ignore"):
                mem = np.where(dp >= 1, self.fixed[None, :] + self.sharded[None, :] / dp, np.inf)
            best = np.argmin(mem, axis=1)
            idx[lost] = np.where(np.isfinite(mem[np.arange(len(lost)), best]), best, -1)
        ok = idx >= 0
        i = np.where(ok, idx, 0)
        dp_i = np.where(ok, np.floor(n / mp[i]), np.nan)
        out = {"index": idx, "tp": np.where(ok, self.tp[i], np.nan),
               "pp": np.where(ok, self.pp[i], np.nan), "dp": dp_i,
               "used": np.where(ok, mp[i] * dp_i, np.nan),
               "idle": np.where(ok, n - mp[i] * dp_i, np.nan),
               "fits": ok & found}
        out.update({f"memory_{k}": np.where(ok, v, np.nan)
                    for k, v in self.breakdown(i, np.where(ok, dp_i, 1.0)).items()})
        return out


def layouts(spec: ModelSpec, node_size: int = 8, tp_options=TP_OPTIONS, tp=None, pp=None,
            **kw) -> Layouts:
    """Candidate layouts of `spec`: TP in `tp_options` within a node dividing the heads (or the
    given `tp`), PP in 1..L (or the given `pp`); memory per device at dp = 1 from
    `memory_for_spec` (other keyword arguments: seq_len, micro_batch, zero, recompute, ...)."""
    kw.pop("dp", None)
    t, p = _layout_grid(spec, node_size, tp_options)
    if tp is not None:
        t = np.full_like(p, float(tp))
    if pp is not None:
        p = np.full_like(t, float(pp))
    t, p = np.unique(np.stack([t, p]), axis=1)
    m1 = memory_for_spec(spec, tp=t, pp=p, dp=1, **kw)
    parts = {k: np.broadcast_to(np.asarray(m1[k], dtype=float), t.shape) + 0.0
             for k in ("weights", "gradients", "optimizer", "activations")}
    return Layouts(t, p, parts, int(kw.get("zero", 0)))


def min_gpus_for_memory(spec: ModelSpec, capacity_bytes: float, node_size: int = 8,
                        tp_options=TP_OPTIONS, tp=None, pp=None, **kw) -> dict:
    """The fewest devices whose memory (`capacity_bytes` each) holds the job
    (`Layouts.min_devices`); gpus is inf when nothing fits."""
    return layouts(spec, node_size, tp_options, tp, pp, **kw).min_devices(capacity_bytes)


def layout_for_devices(spec: ModelSpec, n_devices: int, capacity_bytes: float, node_size: int = 8,
                       tp_options=TP_OPTIONS, tp=None, pp=None, **kw) -> dict:
    """The (tp, pp, dp) layout of `n_devices` by the rule of `Layouts.for_devices`."""
    lay = layouts(spec, node_size, tp_options, tp, pp, **kw).for_devices(n_devices,
                                                                          capacity_bytes)
    if lay["index"][0] < 0:
        raise PlannerError(f"tp x pp exceeds the {n_devices} devices given")
    return {"tp": int(lay["tp"][0]), "pp": int(lay["pp"][0]), "dp": int(lay["dp"][0]),
            "fits": bool(lay["fits"][0]), "idle": int(lay["idle"][0]),
            "memory": {k: float(lay[f"memory_{k}"][0]) for k in
                       ("weights", "gradients", "optimizer", "activations", "total")}}
