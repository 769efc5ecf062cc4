"""Evaluate scenarios: many plans in one vectorised pass of the estimators.

A chunk of sweep rows arrives as one array per input.  Inputs that pick *things* (model,
device, precision, recompute mode, FLOPs method, ZeRO stage, layout, ...) are categorical
(`Cat`: a few distinct values and a small-integer index per row).  Their distinct combinations
are found with mixed-radix integer codes (no sorting of strings), resolved once each (parameter
counts, peaks, memory layouts) and gathered back to the rows by index.  Everything numeric
(tokens, devices, deadlines, budgets, utilisation, price, ...) is a numpy array, and the
estimators of `planner.training`, `planner.solve` and `planner.memory` run once on the chunk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import PlannerError


@dataclass(frozen=True)
class Cat:
    """A categorical column: `values[index[row]]`."""
    values: tuple
    index: np.ndarray

    @classmethod
    def of(cls, value: Any, n: int) -> "Cat":
        """From a Cat, a scalar (one value for all rows) or an array (factorised)."""
        if isinstance(value, Cat):
            return value
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 0:
            return cls((arr.item(),), np.zeros(n, dtype=np.int64))
        keys = [repr(v) for v in arr.tolist()]
        uniq: dict[str, int] = {}
        index = np.fromiter((uniq.setdefault(k, len(uniq)) for k in keys), np.int64, len(keys))
        values = [None] * len(uniq)
        for v, i in zip(arr.tolist(), index.tolist()):
            values[i] = v
        return cls(tuple(values), index)

    def column(self) -> np.ndarray:
        return np.asarray(self.values, dtype=object)[self.index]


def combinations(cats: list[Cat], n: int) -> tuple[np.ndarray, list[int]]:
    """Row -> combination id (0..k-1), and one representative row per combination.

    The combination code is mixed-radix over the categories' sizes; with a small code space the
    ids come from a lookup table (O(n), no sort), else from numpy.unique."""
    code = np.zeros(n, dtype=np.int64)
    space = 1
    for c in cats:
        code = code * len(c.values) + c.index
        space *= len(c.values)
    if space <= 4 * max(n, 1):
        seen = np.zeros(space, dtype=bool)
        seen[code] = True
        ids = np.cumsum(seen) - 1
        inverse = ids[code]
        first = np.full(int(seen.sum()), -1, dtype=np.int64)
        first[inverse[::-1]] = np.arange(n - 1, -1, -1)  # first row of each id
    else:
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return inverse.ravel(), [int(i) for i in first]


TRAIN_DEFAULTS: dict[str, Any] = {
    "model": "", "hardware": "", "tflops": 0.0, "memory": 0.0, "precision": "",
    "recompute": "", "flops_method": "6nd", "non_embedding": False, "zero": 1, "tp": 0,
    "pp": 0, "micro_batch": 1, "seq_len": 0, "node_size": 8, "pue": 1.2,
    "grid_kg_per_kwh": 0.0,
}
# Inputs resolved once per distinct combination; the others are numeric arrays.
TRAIN_CATEGORICAL = ("model", "hardware", "tflops", "memory", "precision", "recompute",
                     "flops_method", "non_embedding", "zero", "tp", "pp", "micro_batch",
                     "seq_len", "node_size")


def _combo_train(inputs: dict[str, Any], models: dict, extra_files: tuple[str, ...]) -> dict:
    """Scalars of one categorical combination: FLOPs per token, recompute ratio, the device,
    and the memory layout (fewest devices that hold the job; what ZeRO shards over DP)."""
    from planner.hardware import profiles as hardware
    from planner.estimate import memory
    from planner.estimate import training

    out: dict[str, Any] = {}
    spec = models[inputs["model"]] if inputs["model"] else None
    # Default as `planner train`: selective recomputation with a model (Korthikanti et al. 2022
    # sec. 5; it needs the architecture), none for a bare FLOPs budget.
    inputs["recompute"] = inputs["recompute"] or ("selective" if spec is not None else "none")
    if spec is not None:
        f = training.training_flops(spec, 1.0, inputs["flops_method"], inputs["recompute"],
                                    bool(inputs["non_embedding"]),
                                    seq_len=inputs["seq_len"] or None)
        out.update(flops_per_token=float(f["model_flops"]), params=float(f["params"]),
                   hw_ratio=float(f["hardware_flops"] / f["model_flops"]))
    else:
        out.update(flops_per_token=math.nan, params=math.nan,
                   hw_ratio=float(training.hardware_flops(1.0, inputs["recompute"])))
    if inputs["tflops"]:
        precision = inputs["precision"] or "bf16"
        dev = hardware.adhoc_device(float(inputs["tflops"]), inputs["memory"] or None,
                                    precision=precision, name=f"{inputs['tflops']:g} TFLOPS")
    elif inputs["hardware"]:
        dev = hardware.get_device(str(inputs["hardware"]), extra_files)
        precision = inputs["precision"] or dev.best_training_precision()
    else:
        raise PlannerError("a [train] plan needs hardware = NAME or tflops = X")
    # Unknown power (an ad-hoc device) and unknown memory (no architecture) stay NaN: n/a.
    out.update(device=dev.name, peak=dev.peak(precision), precision=precision,
               device_price=dev.price_per_hour, tdp=dev.tdp_w or math.nan,
               device_mfu=dev.default_mfu, min_gpus=1.0, fixed=math.nan, sharded=0.0,
               model_parallel=1.0)
    if spec is not None and math.isfinite(dev.memory_bytes):
        zero = memory.check_zero(inputs["zero"])
        kw = dict(seq_len=inputs["seq_len"] or None, micro_batch=int(inputs["micro_batch"]),
                  zero=zero, recompute=inputs["recompute"])
        best = memory.min_gpus_for_memory(spec, dev.memory_bytes, int(inputs["node_size"]),
                                          tp=inputs["tp"] or None, pp=inputs["pp"] or None, **kw)
        m = memory.memory_for_spec(spec, tp=best["tp"], pp=best["pp"], dp=1, **kw)
        sharded = memory.zero_sharded(m, zero)
        out.update(min_gpus=best["gpus"], fixed=float(m["total"] - sharded),
                   sharded=float(sharded), model_parallel=float(best["tp"] * best["pp"]))
    return out


def train_rows(cols: dict[str, Any], n: int, models: dict | None = None,
               extra_files: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Training plans for `n` rows.

    `cols` maps [train] keys and 'model' (a key of `models`, name -> ModelSpec; '' for a bare
    FLOPs budget) to scalars, arrays of length n, or `Cat`s.  Numeric inputs in base units
    (tokens, FLOP, seconds, USD, USD per device-hour).  Returns result columns in base units."""
    from planner.estimate import solve
    from planner.estimate import training

    cats = [Cat.of(cols.get(k, TRAIN_DEFAULTS[k]), n) for k in TRAIN_CATEGORICAL]
    code, first = combinations(cats, n)
    combos = [_combo_train({k: _plain(c.values[c.index[i]]) for k, c in
                            zip(TRAIN_CATEGORICAL, cats)}, models or {}, extra_files)
              for i in first]

    def per(key: str) -> np.ndarray:
        return np.asarray([c[key] for c in combos])[code]

    def num(key: str) -> np.ndarray:
        v = cols.get(key, TRAIN_DEFAULTS.get(key, np.nan))
        return np.broadcast_to(np.asarray(v, dtype=float), (n,))

    fpt, hw_ratio, peak = per("flops_per_token"), per("hw_ratio"), per("peak")
    tokens, flops_given, budget = num("tokens"), num("flops"), num("budget")
    deadline, gpus_in, node = num("deadline"), num("gpus"), num("node_size")
    price = np.where(np.isnan(num("price")), per("device_price"), num("price"))
    mfu_in, hfu_in = num("mfu"), num("hfu")
    use_hfu = ~np.isnan(hfu_in)
    util = np.where(use_hfu, hfu_in, np.where(np.isnan(mfu_in), per("device_mfu"), mfu_in))
    if np.isnan(util).any():
        raise PlannerError("no utilisation: give mfu (or hfu); the device profile has no default")
    training.check_utilisation(util, "mfu/hfu")

    # A budget without tokens buys tokens (solve.tokens_for_budget), priced at the FLOPs the
    # utilisation counts: model FLOPs with MFU, hardware FLOPs with HFU (PaLM App. B).
    counted_per_token = np.where(use_hfu, fpt * hw_ratio, fpt)
    buy = np.isnan(tokens) & np.isnan(flops_given) & ~np.isnan(budget)
    if buy.any():
        bought, _, _ = solve.tokens_for_budget(budget, price, peak, util, counted_per_token)
        tokens = np.where(buy, bought, tokens)
    model_flops = np.where(np.isnan(flops_given), fpt * tokens, flops_given)
    if np.isnan(model_flops).any():
        raise PlannerError("a [train] plan needs tokens (with a model), flops, or a budget")
    hw_flops = model_flops * hw_ratio
    counted = np.where(use_hfu, hw_flops, model_flops)

    min_gpus = per("min_gpus")
    smallest = solve.round_to_nodes(np.where(np.isfinite(min_gpus), min_gpus, 1.0), node)
    with np.errstate(invalid="ignore", divide="ignore"):
        for_deadline = solve.devices_for_deadline(counted, np.where(np.isnan(deadline), 1.0,
                                                                    deadline),
                                                  peak, util, node, min_gpus)
    gpus = np.where(~np.isnan(gpus_in), gpus_in,
                    np.where(~np.isnan(deadline), for_deadline, smallest))
    with np.errstate(invalid="ignore"):  # inf devices (nothing fits) x 0 W stays NaN
        plan = training.plan_training(counted, gpus, peak, util, price, per("tdp"), num("pue"),
                                      num("grid_kg_per_kwh"))
    # Memory per device at the layout that holds the job, with dp = devices / (tp x pp).
    dp = np.maximum(np.floor(gpus / per("model_parallel")), 1.0)
    fits = gpus >= min_gpus
    slack = 1 + 1e-12
    return {
        "model": cats[0].column(), "device": per("device"), "precision": per("precision"),
        "params": per("params"), "tokens": tokens, "gpus": gpus,
        "mfu": np.where(use_hfu, np.nan, util), "hfu": np.where(use_hfu, util, np.nan),
        "price_per_hour": price, "flops": model_flops, "hardware_flops": hw_flops,
        "pf_days": model_flops / training.PF_DAY, "seconds": plan["seconds"],
        "days": plan["days"], "gpu_hours": plan["device_hours"],
        "gpu_months": plan["device_months"], "cost_usd": plan["cost_usd"],
        "energy_kwh": plan["energy_kwh"], "co2_kg": plan["co2_kg"],
        "memory_per_gpu_bytes": per("fixed") + per("sharded") / dp,
        "min_gpus_for_memory": min_gpus, "fits_memory": fits,
        "deadline_seconds": deadline,
        "meets_deadline": (np.isnan(deadline) | (plan["seconds"] <= deadline * slack)) & fits,
        "budget_usd": budget,
        "within_budget": np.isnan(budget) | (plan["cost_usd"] <= budget * slack),
    }


def _plain(value: Any) -> Any:
    """numpy scalar -> Python value; NaN (an input not given) -> None."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# --- inference ------------------------------------------------------------------------------------

INFER_DEFAULTS: dict[str, Any] = {"model": "", "device": "", "quant": "Q4_K_M", "kv_cache": "f16",
                                  "reserve": None}
INFER_CATEGORICAL = ("model", "device", "quant", "kv_cache", "reserve")


def infer_rows(cols: dict[str, Any], n: int, models: dict,
               extra_files: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Local-inference plans for `n` rows: memory, fit and speed (`planner.inference`).

    Categorical inputs (model, device, quant, kv_cache, reserve) are resolved per distinct
    combination; context, batch, efficiency and prompt are arrays, evaluated once per
    combination over all its rows."""
    from planner.hardware import profiles as hardware
    from planner.estimate import inference
    from planner.estimate.quant import canonical_quant

    c = inference._c()["speed"]
    cats = [Cat.of(cols.get(k, INFER_DEFAULTS[k]), n) for k in INFER_CATEGORICAL]
    code, first = combinations(cats, n)

    def num(key: str, default: float) -> np.ndarray:
        v = cols.get(key)
        return np.broadcast_to(np.asarray(default if v is None else v, dtype=float), (n,))

    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in (
        "context", "batch", "weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes",
        "device_memory_bytes", "usable_memory_bytes", "headroom_bytes", "decode_tokens_per_s",
        "throughput_tokens_per_s", "prefill_tokens_per_s", "time_to_first_token_s",
        "smallest_memory_tier_gb")}
    out["fits"] = np.zeros(n, dtype=bool)
    out["device"] = np.empty(n, dtype=object)
    out["quant"] = np.empty(n, dtype=object)
    eff_all = num("efficiency", c["decode_efficiency"])
    peff = c["prefill_efficiency"]
    for cid, row in enumerate(first):
        inputs = {k: _plain(cat.values[cat.index[row]]) for k, cat in zip(INFER_CATEGORICAL, cats)}
        if not inputs["model"]:
            raise PlannerError("an [infer] plan needs a [model]")
        spec = models[inputs["model"]]
        if not inputs["device"]:
            raise PlannerError("an [infer] plan needs device = NAME")
        dev = hardware.get_device(str(inputs["device"]), extra_files)
        q = canonical_quant(str(inputs["quant"]))
        kv_type = str(inputs["kv_cache"])
        reserve = inputs["reserve"]
        rows = code == cid
        ctx = num("context", min(spec.context, c["default_context"]))[rows]
        batch = num("batch", 1)[rows]
        eff = eff_all[rows]
        prompt = np.minimum(num("prompt", c["default_prompt"])[rows], ctx)
        shared = bool(dev.unified_memory)
        w, kv, over, total = inference.memory_total(spec, q, ctx, batch, kv_type, shared)
        usable = float(inference.usable_bytes(dev.memory_bytes, shared, reserve))
        bw, peak = dev.bandwidth_bytes_per_s, inference.prefill_peak(dev, q)
        step = inference.decode_step(spec, q, ctx, batch, bw, peak, eff, peff, kv_type)
        tier = inference.memory_tier_gb(total - inference.runtime_bytes(shared), shared, reserve)
        fpt = inference.forward_flops(spec, prompt)
        with np.errstate(divide="ignore", invalid="ignore"):
            prefill = inference.prefill_tokens_per_s(fpt, peak, peff)
        ttft = inference.time_to_first_token(spec, q, prompt, bw, peak, eff, peff)
        values = {"context": ctx, "batch": batch, "weights_bytes": w, "kv_cache_bytes": kv,
                  "overhead_bytes": over, "total_bytes": total,
                  "device_memory_bytes": dev.memory_bytes, "usable_memory_bytes": usable,
                  "headroom_bytes": usable - total,
                  "decode_tokens_per_s": step["tokens_per_s"],
                  "throughput_tokens_per_s": step["throughput_tokens_per_s"],
                  "prefill_tokens_per_s": prefill, "time_to_first_token_s": ttft,
                  "smallest_memory_tier_gb": tier, "fits": total <= usable,
                  "device": dev.name, "quant": q}
        for k, v in values.items():
            out[k][rows] = v
    out["model"] = cats[0].column()
    return out
