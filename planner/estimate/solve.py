"""Solve a training plan for what the user did not give: devices for a deadline, tokens or time
for a budget.

Time is linear in FLOPs and inverse in devices (Narayanan et al. 2021 sec. 5.1: t = 8TP/(nX);
no communication or batch-size limits are modelled here), so the deadline and budget answers
are closed forms; the cluster is rounded up to whole nodes and never below the memory minimum
(`planner.memory.min_gpus_for_memory`).  Infeasible asks raise `PlannerError` (exit 2) naming
why and what would be feasible.

All functions are vectorised over their numeric arguments.
"""
from __future__ import annotations

import numpy as np

from planner.errors import PlannerError
from planner.units import HOUR


def round_to_nodes(devices, node_size=8):
    """Devices rounded up to whole nodes of `node_size` (at least one node)."""
    d = np.asarray(devices, dtype=float)
    node = np.asarray(node_size, dtype=float)
    return np.maximum(np.ceil(d / node - 1e-9), 1.0) * node


def devices_for_deadline(flops, deadline_seconds, peak, mfu, node_size=8, min_devices=1):
    """Smallest cluster (devices, a whole number of nodes) finishing `flops` FLOP within
    `deadline_seconds` at `peak` dense FLOP/s per device and utilisation `mfu`, and holding the
    job in memory (`min_devices`):  n = nodes(max(ceil(F / (T·peak·mfu)), min_devices)).
    A relative slack of 1e-9 absorbs float rounding (3.14e23 FLOP at 10 TFLOPS in 3 months ->
    3,982.75 -> 3,983 -> 3,984 on 8-device nodes).  Arguments broadcast; `min_devices` may be
    inf (nothing fits) and then so is the answer."""
    f = np.asarray(flops, dtype=float)
    t = np.asarray(deadline_seconds, dtype=float)
    raw = f / (t * np.asarray(peak, dtype=float) * np.asarray(mfu, dtype=float))
    need = np.ceil(raw * (1 - 1e-12) - 1e-9)
    need = np.maximum(np.maximum(need, np.asarray(min_devices, dtype=float)), 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(need), round_to_nodes(need, node_size), np.inf)


def check_deadline(deadline_seconds) -> float:
    d = float(deadline_seconds)
    if not np.isfinite(d) or d <= 0:
        raise PlannerError(f"--deadline must be a positive duration (e.g. 30d, 3 months), "
                           f"got {deadline_seconds!r} s")
    return d


def tokens_for_budget(budget_usd, price_per_hour, peak, mfu, flops_per_token):
    """Tokens a budget buys: device-hours = budget / price; FLOP = device-hours x 3600 x peak x
    mfu; tokens = FLOP / flops_per_token.  Independent of the cluster size (cost is linear in
    devices at fixed utilisation).  Returns (tokens, flops, device_hours)."""
    hours = np.asarray(budget_usd, dtype=float) / np.asarray(price_per_hour, dtype=float)
    flops = hours * HOUR * np.asarray(peak, dtype=float) * np.asarray(mfu, dtype=float)
    return flops / np.asarray(flops_per_token, dtype=float), flops, hours


def check_budget(budget_usd: float, price_per_hour: float, node_size: int) -> None:
    """A budget must buy at least one node-hour; a price is needed to spend it."""
    if not np.isfinite(budget_usd) or budget_usd <= 0:
        raise PlannerError(f"--budget must be a positive amount of USD, got {budget_usd!r}")
    if not np.isfinite(price_per_hour) or price_per_hour <= 0:
        raise PlannerError("--budget needs a device price: the profile has none; give --price "
                           "(e.g. --price '$2.50/h')")
    node_hour = price_per_hour * node_size
    if budget_usd < node_hour:
        raise PlannerError(f"budget ${budget_usd:,.2f} buys less than one node-hour "
                           f"({node_size} devices x ${price_per_hour:,.2f}/h = "
                           f"${node_hour:,.2f}); raise --budget or use --node-size 1")
