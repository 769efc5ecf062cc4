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
from planner.estimate.parallel.search import (best_by_gpus, evaluate_plans, global_batch_sequences, plan_row,
                                              predicted_utilisation, search, training_precisions)
from planner.estimate.parallel.space import DIMENSIONS, RECOMPUTE
from planner.estimate.parallel.steptime import TERMS

__all__ = ["best_by_gpus", "evaluate_plans", "search", "predicted_utilisation", "plan_row",
           "global_batch_sequences", "training_precisions", "DIMENSIONS", "RECOMPUTE", "TERMS"]
