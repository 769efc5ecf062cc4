"""Concurrent requests evaluated together: the plans that arrive while one evaluation runs are
priced by the next one, in a single vectorised call of the evaluator (the same call a scenario
sweep makes), instead of one call each.

Under load this turns 200 simultaneous questions into a few evaluator calls (the evaluators
cost ~1 ms per call at n = 1 and a few microseconds per extra row); alone, a request is
evaluated at once, as a batch of one.  No request waits for a timer: the thread that finds the
evaluator free takes every plan queued so far (group commit).

`rows(evaluate, table, plans)` is `evaluate_one` for n plans: plans that give the same keys
are stacked into columns (categorical keys as `Cat`, numbers as arrays), so every row sees the
defaults it would see alone; each plan gets its row or its `PlannerError`.  The rows equal
`evaluate_one`'s exactly (tests/test_ui.py checks it on random plans).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from planner.errors import PlannerError


def rows(evaluate: Callable, table, plans: list) -> list:
    """Each plan's evaluator row (plain values), or the `PlannerError` of its error; models
    are zoo names (or specs the caller put in scope with `offline_models`)."""
    from planner.evaluate.columns import Cat, object_array, plain
    out: list = [None] * len(plans)
    groups: dict[tuple, list[int]] = {}
    given = []
    for i, plan in enumerate(plans):
        g = plan.given()
        g.pop("hardware_file", None)
        given.append(g)
        groups.setdefault(tuple(sorted(g)), []).append(i)
    for keys, members in groups.items():
        try:
            models = _models(given, members)
        except PlannerError as exc:     # a name the zoo does not know: only its plan fails
            if len(members) == 1:
                out[members[0]] = exc
            else:
                for i in members:
                    out[i] = rows(evaluate, table, [plans[i]])[0]
            continue
        n = len(members)
        cols: dict[str, Any] = {}
        for k in keys:
            values = [given[i][k] for i in members]
            if table[k].categorical or not table[k].numeric:
                cols[k] = Cat.of(object_array(values), n)
            else:
                cols[k] = np.asarray(values, dtype=float)
        res = {k: _values(v, plain) for k, v in evaluate(cols, n, models, ()).items()}
        for j, i in enumerate(members):
            row = {k: v[j] for k, v in res.items()}
            out[i] = PlannerError(row["error"]) if row["error"] else row
    return out


def _values(column, plain) -> list:
    """A result column as plain Python values, as `plain` gives them one by one (NaN ->
    None), converted a column at a time."""
    arr = np.asarray(column)
    if arr.dtype.kind in "biu":
        return arr.tolist()
    if arr.dtype.kind == "f":
        return [None if x != x else x for x in arr.tolist()]
    return [plain(x) for x in arr]


def _models(given: list[dict], members: list[int]) -> dict:
    """Resolve the members' MODEL names (in place, to the specs' names) -> name: spec."""
    from planner.model.resolve import resolve_model
    models = {}
    for i in members:
        if given[i].get("model"):
            spec = resolve_model(given[i]["model"])
            models[spec.name] = spec
            given[i]["model"] = spec.name
    return models


@dataclass
class _Slot:
    plan: Any
    result: Any = None
    done: bool = False


class Batcher:
    """Group commit over `many(plans) -> [row or PlannerError]`."""

    def __init__(self, many: Callable[[list], list]) -> None:
        self.many = many
        self.queue: list[_Slot] = []
        self.queue_lock = threading.Lock()
        self.run_lock = threading.Lock()

    def __call__(self, plan):
        slot = _Slot(plan)
        with self.queue_lock:
            self.queue.append(slot)
        with self.run_lock:
            if not slot.done:
                with self.queue_lock:
                    batch, self.queue = self.queue, []
                results = self._run([s.plan for s in batch])
                for s, r in zip(batch, results):
                    s.result, s.done = r, True
        if isinstance(slot.result, BaseException):
            raise slot.result
        return slot.result

    def _run(self, plans: list) -> list:
        try:
            return self.many(plans)
        except Exception as exc:  # noqa: BLE001 - a bug: find the plan it belongs to
            if len(plans) == 1:
                return [exc]
            return [r for p in plans for r in self._run([p])]
