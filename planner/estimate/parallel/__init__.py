"""Parallelism-aware training step-time model, plan search and goodput.

Public API (all vectorised over plans; base units):
    evaluate_plans(spec, device, gpus, global_batch, seq_len, pins) -> dict of arrays
    search(spec, device, gpus, global_batch, seq_len, pins, top=5)   -> ranked plans
    predicted_utilisation(spec, device, gpus, global_batch, seq_len) -> best plan's MFU/HFU
    best_by_gpus(spec, device, [gpus...], global_batch, seq_len)     -> best plan per cluster size
    goodput.useful_fraction(...)                                      -> checkpoint/restart loss
See the modules: space (plan grid and validity), steptime (terms), collectives (alpha-beta),
memory (per-GPU bytes), tables (efficiency data), reference (validation runs, calibration).
"""
from typing import Any

__all__ = ["best_by_gpus", "evaluate_plans", "search", "predicted_utilisation", "plan_row",
           "global_batch_sequences", "training_precisions", "DIMENSIONS", "RECOMPUTE", "TERMS"]


_FROM_SEARCH = ("best_by_gpus", "evaluate_plans", "search", "predicted_utilisation", "plan_row",
                "global_batch_sequences", "training_precisions")


def __getattr__(name: str) -> Any:
    """Imported on first use, so naming the package costs nothing at start-up.  (importlib,
    not ``from . import``: the submodule `search` shares its name with the function.)"""
    import importlib
    if name == "TERMS":
        from planner.estimate.parallel.terms import TERMS
        return TERMS
    if name in ("DIMENSIONS", "RECOMPUTE"):
        return getattr(importlib.import_module(__name__ + ".space"), name)
    if name in _FROM_SEARCH:
        mod = importlib.import_module(__name__ + ".search")
        for n in _FROM_SEARCH:          # the functions, not the submodule, under these names
            globals()[n] = getattr(mod, n)
        return globals()[name]
    raise AttributeError(f"module 'planner.estimate.parallel' has no attribute {name!r}")
