"""Evaluate every valid parallel plan at once, rank them, and predict utilisation.

    evaluate_plans(spec, device, gpus, global_batch, seq_len, pins)  -> dict of arrays
    search(...)                                                      -> ranked table
    predicted_utilisation(...)                                       -> the best plan's figures

MFU = model FLOPs / (step x GPUs x peak), HFU = hardware FLOPs (recomputation included) /
(step x GPUs x peak) (Chowdhery et al. 2022, PaLM, App. B); model FLOPs per token are 6N
(Kaplan et al. 2020; `flops_method="6nd"`, what `planner train` uses by default) or the exact
count (Hoffmann et al. 2022 App. F; "exact"); hardware FLOPs count the matrix multiplies the
plan executes, attention in full, as Narayanan et al. 2021 eq. 3 does.  Peak is the dense peak
at the plan's precision (bf16, or fp8 for fp8 plans).
"""
from __future__ import annotations

import numpy as np

from planner.errors import PlannerError
from planner.estimate.parallel import tables
from planner.estimate.parallel.memory import plan_memory
from planner.estimate.parallel.shape import shape_of
from planner.estimate.parallel.space import DIMENSIONS, RECOMPUTE, plan_grid, whole
from planner.estimate.parallel.steptime import TERMS, hardware_flops_per_sequence, step_time
from planner.estimate.training import model_flops_per_token
from planner.hardware.device import Device
from planner.model.spec import ModelSpec



def training_precisions(device: Device) -> tuple[str, ...]:
    """The precisions a plan may train in: the device's mixed-precision format (bf16, else fp16,
    else fp32) and fp8 where the device has an fp8 peak (Hopper and later, MI300, Gaudi)."""
    base = device.best_training_precision()
    return (base, "fp8") if device.peak_flops.get("fp8") else (base,)


def global_batch_sequences(global_batch=None, seq_len: int = 2048, tokens=None) -> int:
    """The global batch in sequences, from sequences or from tokens (which must be a whole
    number of sequences)."""
    if (global_batch is None) == (tokens is None):
        raise PlannerError("give the global batch in sequences or in tokens (one of them)")
    if tokens is not None:
        n = float(tokens) / seq_len
        if n < 1 or n != int(n):
            raise PlannerError(f"a global batch of {tokens:g} tokens is not a whole number of "
                               f"{seq_len}-token sequences")
        return int(n)
    return whole(global_batch, "--global-batch (sequences)")


def _domain(device: Device) -> int:
    d = device.scale_up_domain
    return int(d) if np.isfinite(d) and d >= 1 else 1


def evaluate_plans(spec: ModelSpec, device: Device, gpus: int, global_batch: int, seq_len: int,
                   pins: dict | None = None, *,
                   framework: str | tables.Framework = tables.DEFAULT_FRAMEWORK,
                   kappa: float | None = None, flops_method: str = "6nd") -> dict:
    """Every valid plan for `gpus` devices, global batch `global_batch` sequences of `seq_len`
    tokens, with `pins` (dimension -> value or list; None/"auto" = searched).

    Returns a dict of 1-D arrays, one element per plan (n = len(result["tp"])):
      tp pp dp cp ep micro_batch interleave micro_batches zero (int); sequence_parallel (bool);
      recompute precision (str); step_seconds (s); tokens_per_s; mfu hfu (fractions);
      tflops_per_gpu (TFLOP/s, hardware FLOPs); memory_per_gpu_bytes; fits (bool);
      peak_flops (FLOP/s per GPU at the plan's precision);
      breakdown: {term: seconds per step} for steptime.TERMS (they sum to step_seconds);
      memory: {weights, gradients, optimizer, activations, buffers: bytes per GPU}.
    Raises PlannerError when the pins leave no valid plan (naming the rule and nearest values).
    """
    fw = (tables.framework(framework, kappa) if isinstance(framework, str)
          else framework if kappa is None else framework.with_(kappa=float(kappa)))
    eff = tables.efficiency(device)
    precisions = training_precisions(device)
    shape = shape_of(spec)
    domain = _domain(device)
    if isinstance(gpus, (int, np.integer)) and gpus > domain and not np.isfinite(
            device.scale_out_bytes_per_s):
        raise PlannerError(f"{gpus} GPUs exceed one scale-up domain of {device.name} "
                           f"({domain}), and its profile has no scale-out bandwidth "
                           f"(scale_out_gbs) to join domains")
    grid = plan_grid(shape, gpus, global_batch, seq_len, domain, precisions, pins,
                     fw.flash_attention)
    st = step_time(shape, grid, seq_len, device, eff, fw, precisions)
    ok = np.isfinite(st["step_seconds"])
    if not ok.all():
        if not ok.any():
            raise PlannerError(f"every plan needs a network figure that {device.name}'s profile "
                               f"lacks (scale_up_gbs / scale_out_gbs)")
        grid = {k: v[ok] for k, v in grid.items()}
        st = step_time(shape, grid, seq_len, device, eff, fw, precisions)
    mem = plan_memory(shape, grid, seq_len, fw, precisions, device.memory_bytes)
    step = st["step_seconds"]
    tokens = float(global_batch) * seq_len
    denom = step * gpus * st["peak_flops"]
    hw = global_batch * hardware_flops_per_sequence(shape, seq_len, grid["recompute"],
                                                    fw.flash_attention)
    model = tokens * model_flops_per_token(spec, seq_len, flops_method)
    hfu = hw / denom
    out = {k: grid[k] for k in DIMENSIONS if k not in ("recompute", "precision")}
    out["micro_batches"] = grid["micro_batches"]
    out["recompute"] = np.asarray(RECOMPUTE)[grid["recompute"]]
    out["precision"] = np.asarray(precisions)[grid["precision"]]
    out.update(step_seconds=step, tokens_per_s=tokens / step, mfu=model / denom, hfu=hfu,
               tflops_per_gpu=hfu * st["peak_flops"] / 1e12,
               memory_per_gpu_bytes=mem["total"], fits=mem["fits"], peak_flops=st["peak_flops"],
               breakdown=st["terms"],
               memory={k: mem[k] for k in ("weights", "gradients", "optimizer", "activations",
                                           "buffers")})
    return out


ROW_KEYS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "micro_batches",
            "sequence_parallel", "recompute", "zero", "precision", "gpus", "step_seconds",
            "tokens_per_s", "mfu", "hfu", "tflops_per_gpu", "memory_per_gpu_bytes", "fits")


def plan_row(plans: dict, i: int) -> dict:
    """Plan `i` of an `evaluate_plans` result as plain Python values (base units)."""
    row = {}
    for k in ROW_KEYS:
        if k not in plans:
            continue
        v = plans[k][i]
        row[k] = v.item() if hasattr(v, "item") else v
    row["breakdown"] = {t: float(plans["breakdown"][t][i]) for t in TERMS}
    row["memory"] = {k: float(a[i]) for k, a in plans["memory"].items()}
    return row


def _concat(results: list[dict]) -> dict:
    out = {}
    for k, v in results[0].items():
        if isinstance(v, dict):
            out[k] = {kk: np.concatenate([r[k][kk] for r in results]) for kk in v}
        else:
            out[k] = np.concatenate([r[k] for r in results])
    return out


def search(spec: ModelSpec, device: Device, gpus, global_batch: int, seq_len: int,
           pins: dict | None = None, *, top: int = 5, require_fit: bool = True,
           **kw) -> dict:
    """Rank every valid plan for one or several GPU counts (`gpus`: int or list of ints).

    Returns {"plans": [row, ...] best first (the `top` fastest fitting plans; rows as
    `plan_row`, with a `gpus` key), "fastest": row, "cheapest": row (fewest GPU-seconds per
    token; the same as fastest for one GPU count), "evaluated": plans evaluated, "fitting":
    plans that fit}.  With no fitting plan: PlannerError naming the least-memory plan, unless
    `require_fit=False` (then rows are ranked by memory)."""
    counts = [int(g) for g in np.atleast_1d(gpus)]
    results, errors = [], []
    for n in counts:
        try:
            res = evaluate_plans(spec, device, n, global_batch, seq_len, pins, **kw)
        except PlannerError as exc:
            errors.append(exc)
            continue
        res["gpus"] = np.full(len(res["tp"]), n)
        results.append(res)
    if not results:
        raise errors[0]
    plans = _concat(results)
    fits = plans["fits"]
    if fits.any():
        idx = np.flatnonzero(fits)
        order = idx[np.lexsort((plans["memory_per_gpu_bytes"][idx],
                                plans["step_seconds"][idx]))]
        gpu_s = plans["gpus"][idx] / plans["tokens_per_s"][idx]  # GPU-seconds per token
        cheapest = int(idx[np.argmin(gpu_s)])
    elif require_fit:
        i = int(np.argmin(plans["memory_per_gpu_bytes"]))
        r = plan_row(plans, i)
        from planner.units import format_bytes
        raise PlannerError(
            f"no plan fits in {format_bytes(device.memory_bytes)} per GPU; the least memory is "
            f"{format_bytes(r['memory_per_gpu_bytes'])} with tp={r['tp']} pp={r['pp']} "
            f"dp={r['dp']} cp={r['cp']} zero={r['zero']} recompute={r['recompute']} "
            f"micro_batch={r['micro_batch']} (more GPUs, more model parallelism or a smaller "
            f"micro-batch would be needed)")
    else:
        order = np.argsort(plans["memory_per_gpu_bytes"], kind="stable")
        cheapest = int(order[0])
    rows = [plan_row(plans, int(i)) for i in order[:top]]
    return {"plans": rows, "fastest": rows[0], "cheapest": plan_row(plans, cheapest),
            "evaluated": int(len(plans["tp"])), "fitting": int(fits.sum())}


def predicted_utilisation(spec: ModelSpec, device: Device, gpus: int, global_batch: int,
                          seq_len: int, pins: dict | None = None, **kw) -> dict:
    """The best (fastest fitting) plan's figures, for `planner train` when no --mfu is given:
    {"mfu", "hfu", "step_seconds", "tokens_per_s", "plan": row}.  Training time for D tokens
    is D / tokens_per_s; mfu is consistent with `flops_method` (default 6N)."""
    best = search(spec, device, gpus, global_batch, seq_len, pins, top=1, **kw)["fastest"]
    return {"mfu": best["mfu"], "hfu": best["hfu"], "step_seconds": best["step_seconds"],
            "tokens_per_s": best["tokens_per_s"], "plan": best}


def best_by_gpus(spec: ModelSpec, device: Device, gpus, global_batch: int, seq_len: int,
                 pins: dict | None = None, **kw) -> dict:
    """The fastest fitting plan at each GPU count in `gpus` (for the deadline solver: scaling
    losses and the global-batch limit on DP show as tokens_per_s that stops growing).

    Returns arrays aligned with `gpus`: gpus, tokens_per_s, step_seconds, mfu, hfu (NaN where no
    plan is valid or fits), and lists: plan (row dict or None), reason (None or why not)."""
    counts = np.atleast_1d(np.asarray(gpus)).astype(int)
    cols = {k: np.full(len(counts), np.nan) for k in ("tokens_per_s", "step_seconds", "mfu",
                                                      "hfu")}
    plan, reason = [], []
    for i, n in enumerate(counts):
        try:
            best = search(spec, device, int(n), global_batch, seq_len, pins, top=1,
                          **kw)["fastest"]
        except PlannerError as exc:
            plan.append(None)
            reason.append(str(exc))
            continue
        for k in cols:
            cols[k][i] = best[k]
        plan.append(best)
        reason.append(None)
    return {"gpus": counts, **cols, "plan": plan, "reason": reason}
