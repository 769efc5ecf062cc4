"""The serving solver: the cheapest device x TP x PP x precision x replica count that serves a
request rate within TTFT and TPOT targets at a percentile.

Every candidate replica shape is one element of a stacked `step.Replica`.  For each, the
largest decode batch that meets the targets (and the KV cache, the batch limit and the token
budget) is found by one vectorised bisection (latency and memory grow with the batch), which
gives the replica's capacity lambda_max; a rate R then needs ceil(R / lambda_max) replicas.
Capacity does not depend on R, so a sweep over rates costs one bisection.  Load is spread
evenly over the replicas (a round-robin or least-load router).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.estimate.serving import engine as E, load as L, step as S

DEFAULT_TTFT = 2.0      # MLPerf Inference Llama-2-70B server scenario: TTFT <= 2 s at p99
DEFAULT_TPOT = 0.2      # ... and TPOT <= 200 ms


@dataclass
class Candidates:
    """Replica shapes side by side (arrays of length k)."""
    device: np.ndarray
    quant: np.ndarray
    kv_cache: np.ndarray
    tp: np.ndarray
    pp: np.ndarray
    gpus: np.ndarray              # per replica
    price: np.ndarray             # USD per GPU-hour (NaN: none)
    budget: np.ndarray            # tokens per step
    limit_mem: np.ndarray         # sequences the KV cache holds at the mix
    limit: np.ndarray             # ... capped at the engine's batch limit
    rep: Any                      # stacked step.Replica
    memory: dict = field(default_factory=dict)
    rejected: list = field(default_factory=list)   # (device, quant, tp, pp, reason)

    def __len__(self) -> int:
        return len(self.tp)


def device_supports(device, fmt: str, eng: E.Engine) -> bool:
    """fp4 needs an fp4 tensor-core peak (Blackwell); fp8 on TensorRT-LLM needs fp8 tensor
    cores (Ada/Hopper+), while vLLM runs fp8 weights on Ampere as W8A16 (Marlin kernels)."""
    peaks = device.peak_flops
    if fmt in ("nvfp4", "mxfp4"):
        return bool(peaks.get("fp4"))
    if fmt == "fp8" and eng.name == "trtllm":
        return bool(peaks.get("fp8"))
    return True


def build(spec, devices, engine_name: str, precisions, tps, pps, kv_cache: str, util: float,
          mix: L.Mix, max_batch=None, max_num_tokens=None, price=None,
          strict: bool = False, kv_policy: str | None = None) -> Candidates:
    """Every feasible-to-load replica shape.  `strict`: keep shapes the precision/device
    rules would drop (the evaluate form prices what it is told); `kv_policy`: the engine's
    admission rule overridden (reserve / on_demand)."""
    import dataclasses
    eng = E.engine(engine_name)
    if kv_policy:
        eng = dataclasses.replace(eng, kv_policy=kv_policy)
    if max_batch is not None or max_num_tokens is not None:
        eng = dataclasses.replace(eng, max_batch=float(max_batch or eng.max_batch),
                                  max_num_tokens=float(max_num_tokens or eng.max_num_tokens))
    rows, reps, rejected = [], [], []
    for dev in devices:
        link = dev.scale_up_bytes_per_s
        if eng.name == "trtllm" and dev.vendor != "NVIDIA":
            rejected.append((dev.name, "-", 0, 0, "TensorRT-LLM runs on NVIDIA GPUs only"))
            continue
        for prec in precisions:
            fmt = E.weight_format(prec)
            if not strict and not device_supports(dev, fmt, eng):
                rejected.append((dev.name, prec, 0, 0, f"no {E.matmul_precision(fmt)} "
                                 "tensor cores"))
                continue
            kv = E.default_kv(eng, fmt) if kv_cache in (None, "auto") else kv_cache
            for pp in pps:
                for tp in tps:
                    if not E.head_divisible(spec, tp):
                        rejected.append((dev.name, prec, tp, pp, f"{spec.n_heads} heads not "
                                         f"divisible by TP {tp}"))
                        continue
                    if tp > 1 and not (link > 0):
                        rejected.append((dev.name, prec, tp, pp, "no scale-up link for TP"))
                        continue
                    rows.append((dev, prec, fmt, kv, tp, pp))
    if not rows:
        return _empty(rejected)
    mem = np.array([d.memory_bytes for d, *_ in rows], dtype=float)
    tp_a = np.array([r[4] for r in rows], dtype=float)
    pp_a = np.array([r[5] for r in rows], dtype=float)
    weights = np.array([E.weight_bytes(spec, r[2]) for r in rows])
    per_tok = np.array([float(E.kv_per_token_per_gpu(spec, r[3], r[4], r[5])) for r in rows])
    m = E.replica_memory_arrays(spec, eng, mem, tp_a, pp_a, util, weights, per_tok, mix)
    ok = m["max_sequences"] >= 1
    for i in np.flatnonzero(~ok):
        d, prec, fmt, kv, tp, pp = rows[i]
        rejected.append((d.name, prec, tp, pp, "weights do not fit"))
    keep = [rows[i] for i in np.flatnonzero(ok)]
    if not keep:
        return _empty(rejected)
    for d, prec, fmt, kv, tp, pp in keep:
        reps.append(S.replica(spec, fmt, kv, d, engine_name, tp, pp))
    idx = np.flatnonzero(ok)
    prices = np.array([float(price) if price is not None else d.price_per_hour
                       for d, *_ in keep], dtype=float)
    return Candidates(
        device=np.array([r[0].name for r in keep], dtype=object),
        quant=np.array([r[1] for r in keep], dtype=object),
        kv_cache=np.array([r[3] for r in keep], dtype=object),
        tp=tp_a[idx], pp=pp_a[idx], gpus=tp_a[idx] * pp_a[idx], price=prices,
        budget=np.full(len(keep), eng.max_num_tokens),
        limit_mem=m["kv_sequences"][idx], limit=m["max_sequences"][idx],
        rep=S.stack_replicas(reps), memory={k: np.asarray(v)[idx] if np.ndim(v) else v
                                            for k, v in m.items()},
        rejected=rejected)


def _empty(rejected) -> Candidates:
    z = np.zeros(0)
    return Candidates(device=z.astype(object), quant=z.astype(object), kv_cache=z.astype(object),
                      tp=z, pp=z, gpus=z, price=z, budget=z, limit_mem=z, limit=z, rep=None,
                      rejected=rejected)


def capacity(c: Candidates, mix: L.Mix, ttft: float, tpot: float, percentile: float
             ) -> dict[str, np.ndarray]:
    """Per candidate: the largest per-replica rate meeting the targets, the decode batch there,
    which limit binds, and the latency floors (at a vanishing load)."""
    key = L._pkey(percentile)
    z = L._z(percentile / 100.0)

    def check(d):
        r = L.at_batch(c.rep, mix, d, c.budget, percentile, percentiles=(percentile,))
        occupancy = d + z * np.sqrt(d)         # Poisson fluctuation of the batch (M/G/inf)
        return r, {"ttft": r[f"ttft_{key}"] <= ttft, "tpot": r[f"tpot_{key}"] <= tpot,
                   "memory": occupancy <= c.limit, "compute": r["stable"]}

    hi = np.maximum(np.minimum(c.limit, L.budget_batch(mix, c.budget) * 0.999), 1e-3)
    lo = np.full(len(c), 1e-3)
    r0, ok0 = check(lo)
    feasible0 = np.logical_and.reduce(list(ok0.values()))
    d = L.bisect_batch(lambda x: np.logical_and.reduce(list(check(x)[1].values())), lo, hi)
    r, _ = check(d)
    _, above = check(np.minimum(d * 1.02 + 1e-3, hi * 1.5))
    binding = np.full(len(c), "compute", dtype=object)
    for name in ("compute", "memory", "tpot", "ttft"):
        binding = np.where(~above[name], name, binding)
    floor_reason = np.where(~ok0["tpot"], "tpot", np.where(~ok0["ttft"], "ttft",
                            np.where(~ok0["memory"], "memory", "compute")))
    return {"rate": np.where(feasible0, r["rate"], 0.0), "batch": d, "feasible": feasible0,
            "binding": np.where(feasible0, binding, floor_reason),
            "bound": np.where(feasible0, r["decode_bound"], r0["decode_bound"]),
            "ttft_floor": r0[f"ttft_{key}"], "tpot_floor": r0[f"tpot_{key}"]}


def choose(c: Candidates, cap: dict, rate) -> dict[str, np.ndarray]:
    """Per rate (array): the cheapest candidate (cost = GPUs x price; without prices, the
    fewest GPUs), its replica count and GPUs.  -1 where nothing is feasible."""
    rate = np.atleast_1d(np.asarray(rate, dtype=float))
    lam = np.where(cap["feasible"] & (cap["rate"] > 0), cap["rate"], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = np.ceil(rate[:, None] / lam[None, :] * (1 - 1e-9))
    reps = np.maximum(reps, 1.0)
    gpus = reps * c.gpus[None, :]
    priced = np.isfinite(c.price) & (c.price > 0)
    cost = np.where(priced[None, :], gpus * c.price[None, :], np.nan)
    any_price = priced.any()
    score = np.where(np.isfinite(gpus), cost if any_price else gpus, np.inf)
    score = np.where(np.isnan(score), np.inf, score)
    # ties: fewer GPUs, then lower TTFT floor (a stable preference order)
    tie = gpus + 1e-6 * np.nan_to_num(cap["ttft_floor"], nan=1e9)[None, :]
    tie = np.where(np.isfinite(tie), tie, np.inf)
    order = np.lexsort((tie, score), axis=1) if score.shape[1] else None
    best = order[:, 0] if order is not None else np.full(len(rate), -1)
    ok = np.isfinite(score[np.arange(len(rate)), best]) if order is not None else \
        np.zeros(len(rate), bool)
    best = np.where(ok, best, -1)
    pick = lambda a: np.where(ok, a[np.arange(len(rate)), np.maximum(best, 0)], np.nan)
    return {"index": best, "replicas": pick(reps), "gpus": pick(gpus),
            "cost_usd_per_hour": np.where(ok, pick(cost), np.nan)}


def infeasible_message(c: Candidates, cap: dict, ttft: float, tpot: float, percentile: float,
                       model: str) -> str:
    """Why no candidate meets the targets: the bound that breaks, and what would be
    feasible."""
    q = f"p{percentile:g}"
    if len(c) == 0:
        reasons = sorted({r[4] for r in c.rejected})
        return (f"{model} fits no replica shape on the devices considered "
                f"({'; '.join(reasons) or 'no candidates'}): the weights and a KV cache need "
                "more memory (memory bound); add --hardware with more memory, a larger --tp "
                "or --pp, or a smaller --quant (fp8, int4)")
    best_tpot = float(np.nanmin(cap["tpot_floor"]))
    best_ttft = float(np.nanmin(cap["ttft_floor"]))
    i = int(np.nanargmin(cap["tpot_floor"]))
    if best_tpot > tpot:
        return (f"no replica meets --tpot {_ms(tpot)} at {q}: the single-token floor (one "
                f"sequence, weights and KV read once per token: the {cap['bound'][i]} bound) "
                f"is {_ms(best_tpot)} at best ({c.device[i]}, TP {int(c.tp[i])}, "
                f"{c.quant[i]}); feasible from --tpot {_ms(best_tpot * 1.05)}")
    j = int(np.nanargmin(cap["ttft_floor"]))
    if best_ttft > ttft:
        return (f"no replica meets --ttft {_ms(ttft)} at {q}: prefilling the prompt alone "
                f"takes {_ms(best_ttft)} at best ({c.device[j]}, TP {int(c.tp[j])}, "
                f"{c.quant[j]}; the compute bound); feasible from --ttft {_ms(best_ttft * 1.05)}"
                ", or shorten the prompt")
    return (f"no replica meets --ttft {_ms(ttft)} and --tpot {_ms(tpot)} together at {q} "
            f"(each alone is feasible: TTFT from {_ms(best_ttft)}, TPOT from "
            f"{_ms(best_tpot)}); relax one of them")


def _ms(s: float) -> str:
    return f"{s * 1e3:.3g}ms" if s < 1 else f"{s:.3g}s"


def take(c: Candidates, j: int) -> Candidates:
    """Candidate `j` alone (arrays of length 1)."""
    sl = slice(j, j + 1)
    return Candidates(device=c.device[sl], quant=c.quant[sl], kv_cache=c.kv_cache[sl],
                      tp=c.tp[sl], pp=c.pp[sl], gpus=c.gpus[sl], price=c.price[sl],
                      budget=c.budget[sl], limit_mem=c.limit_mem[sl], limit=c.limit[sl],
                      rep=S.take(c.rep, sl),
                      memory={k: (np.asarray(v)[sl] if np.ndim(v) else v)
                              for k, v in c.memory.items()})
