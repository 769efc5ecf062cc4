"""The compute-optimal evaluator: an `OptimalPlan` -> parameters, tokens and loss by every
method (Hoffmann et al. 2022; Besiroglu et al. 2024; the 20 tokens/parameter rule)."""
from __future__ import annotations

from typing import Any

from planner.errors import PlannerError
from planner.units import DAY


def budget(plan) -> tuple[float, str]:
    """The FLOPs budget of a plan: --flops, or devices x peak x MFU x days."""
    g = plan.given()
    if "flops" in g:
        return g["flops"], "--flops"
    if "gpus" not in g or "days" not in g or not ("hardware" in g or "tflops" in g):
        raise PlannerError("give --flops C (e.g. 5.76e23), or --gpus N --hardware H --days T "
                           "[--mfu U]")
    from planner.hardware import adhoc_device, get_device
    if "hardware" in g:
        dev = get_device(g["hardware"], tuple(g.get("hardware_file", ())))
    else:
        dev = adhoc_device(g["tflops"], precision=g.get("precision") or "bf16")
    prec = g.get("precision") or dev.best_training_precision()
    mfu = g.get("mfu")
    if mfu is None:
        if dev.default_mfu != dev.default_mfu:  # NaN
            raise PlannerError(f"device {dev.name!r} has no default MFU; give --mfu")
        mfu, src = dev.default_mfu, f"{dev.name} profile default MFU"
    else:
        src = "--mfu"
    gpus, days = g["gpus"], g["days"]
    c = gpus * dev.peak(prec) * mfu * days * DAY
    return c, (f"{gpus:g} x {dev.name} ({prec} {dev.peak(prec) / 1e12:g} TFLOPS) x MFU {mfu:g} "
               f"x {days:g} days [{src}]")


def evaluate_one(plan) -> dict[str, Any]:
    """The record of `planner optimal` (and of a scenario's [optimal] row)."""
    from planner.estimate.scaling import METHODS, compute_optimal, method_source
    c, how = budget(plan)
    method = plan.method or plan.table["method"].default
    rows = {}
    for m in METHODS:
        r = compute_optimal(c, m)
        rows[m] = {"params": float(r["params"]), "tokens": float(r["tokens"]),
                   "tokens_per_param": float(r["tokens_per_param"]), "loss": float(r["loss"]),
                   "loss_constants": r["loss_constants"], "source": method_source(m)}
    chosen = compute_optimal(c, method)
    rows["rule20"] = {"params": float(chosen["rule20_params"]),
                      "tokens": float(chosen["rule20_tokens"]), "tokens_per_param": 20.0,
                      "loss": float(chosen["rule20_loss"]),
                      "loss_constants": chosen["loss_constants"],
                      "source": method_source("rule20")}
    return {"flops": c, "budget_from": how, "method": method,
            **{k: rows[method][k] for k in ("params", "tokens", "tokens_per_param", "loss")},
            "loss_constants": rows[method]["loss_constants"], "source": rows[method]["source"],
            "methods": rows}
