"""`ParallelPlan`: which layout trains a model fastest - the key table behind
`planner parallel`.  Its keys are the training plan's (`TRAIN`), so a layout pinned here means
the same as in `planner train` or a scenario's [train] section; only the list of cluster sizes
and the number of plans to show are its own."""
from __future__ import annotations

import dataclasses
from typing import Any

from planner.errors import PlannerError
from planner.plan.keys import Conflict, Key, KeyTable, make_plan_type
from planner.plan.train import TRAIN


def parse_counts(raw: Any, what: str) -> tuple[int, ...]:
    """``1024`` or ``64,256,1024``: one or several cluster sizes."""
    key = TRAIN["gpus"]
    parts = [p for p in str(raw).split(",") if p.strip()] if isinstance(raw, str) else [raw]
    if not parts or len(parts) > 64:
        raise PlannerError(f"{what} {raw!r} must be 1 to 64 comma-separated device counts")
    return tuple(key.parse(p, what) for p in parts)


PIN_KEYS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "sequence_parallel",
            "zero", "recompute", "precision")

PARALLEL = KeyTable("parallel", argument="model", keys=[
    TRAIN["model"],
    TRAIN["hardware"],
    TRAIN["hardware_file"],
    Key("gpus", "text", "Devices: one count, or several comma-separated (the cheapest is then "
        "reported too).", short="-n", parser=parse_counts, metavar="N[,N...]"),
    TRAIN["global_batch"],
    TRAIN["global_batch_tokens"],
    dataclasses.replace(TRAIN["seq_len"], option="--seq", short="-s"),
    *(TRAIN[k] for k in PIN_KEYS),
    TRAIN["framework"],
    Key("top", "count", "How many plans to list.", lower=1, upper=100, integer=True,
        default=5, scenario=False),
], conflicts=[Conflict(("global_batch", "global_batch_tokens"),
                       "one global batch, in sequences or tokens")])

ParallelPlan = make_plan_type("ParallelPlan", PARALLEL, """A layout question: the keys of
`PARALLEL`, each None when not given.""")
