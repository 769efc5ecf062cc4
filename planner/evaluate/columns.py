"""Columns of plans: how an evaluator receives its inputs.

An evaluator takes `n` plans as columns: each key maps to a scalar (the same for every row), a
numpy array of length n, or a `Cat` - a categorical column, `values[index[row]]`.  Categorical
inputs (model, device, precision, layout, ...) are resolved once per distinct combination:
`combinations` finds the combinations with mixed-radix integer codes (no sorting of strings)
and the evaluator gathers each combination's scalars back to its rows by index.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


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


def object_array(items: list) -> np.ndarray:
    """A 1-D object array of `items`, kept whole even when they are lists or tuples (which
    np.asarray would turn into a second dimension)."""
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def plain(value: Any) -> Any:
    """numpy scalar -> Python value; NaN (an input not given) -> None."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def numeric(cols: dict, key: str, n: int, default: float = math.nan) -> np.ndarray:
    """A numeric input as a float array of length n (absent or None: `default`)."""
    v = cols.get(key)
    if v is None:
        v = default
    return np.broadcast_to(np.asarray(v, dtype=float), (n,))


def resolved_combinations(table, cols: dict, n: int, resolve) -> tuple[list, np.ndarray, list]:
    """The categorical keys of `table` as `Cat`s of length n (an absent key: its default),
    each row's combination code, and `resolve({key: value})` called once per distinct
    combination (the evaluators' Combo)."""
    cats = [Cat.of(cols[k] if cols.get(k) is not None else table[k].default, n)
            for k in table.categorical]
    code, first = combinations(cats, n)
    combos = [resolve({k: plain(c.values[c.index[i]]) for k, c in zip(table.categorical, cats)})
              for i in first]
    return cats, code, combos


def combination_rows(code: np.ndarray, k: int) -> list[np.ndarray]:
    """The rows of each of the `k` combinations (their indices, in row order): one sort for
    all of them."""
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(k + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(k)]


def numeric_inputs(table, cols: dict, n: int, keys) -> dict[str, np.ndarray]:
    """The numeric `keys` of `table` as float arrays of length n (absent: the key's default,
    NaN without one)."""
    return {k: numeric(cols, k, n, math.nan if table[k].default is None else table[k].default)
            for k in keys}


class Errors:
    """Per-row reasons a plan cannot be answered: the first reason found for a row wins.  At
    n = 1 the command turns the reason into its ``Error:`` line; in a sweep it is the row's
    `error` column."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self._free = np.ones(n, dtype=bool)     # rows with no reason yet (no object compares)

    def add(self, mask, message) -> None:
        """Mark the rows in `mask` (a bool array or scalar, or an array of row indices) that
        have no reason yet; `message` is a string or a function of the row index giving one."""
        mask = np.asarray(mask)
        if mask.dtype.kind in "iu":                      # row indices
            rows = mask[self._free[mask]]
        else:
            mask = mask.astype(bool, copy=False)
            if not mask.any():
                return
            rows = np.flatnonzero(np.broadcast_to(mask, self._free.shape) & self._free)
        if not len(rows):
            return
        self._free[rows] = False
        if callable(message):
            cache: dict = {}
            for r in rows.tolist():
                text = message(r)
                self.reason[r] = cache.setdefault(text, text)
        else:
            self.reason[rows] = message



def choose(n: int, cases: list[tuple], default=None) -> np.ndarray:
    """An object column from (mask, value) cases, the first matching case winning; a value is
    a scalar (one Python object shared by its rows: no per-row strings are built) or an object
    array of length n.  Built as an integer index into the few values, then one gather."""
    masks = [np.broadcast_to(np.asarray(m, dtype=bool), (n,)) for m, _ in cases]
    which = np.select(masks, np.arange(len(cases)), default=len(cases)) if cases else \
        np.full(n, 0)
    values = [v for _, v in cases] + [default]
    table = np.empty(len(values), dtype=object)
    for j, v in enumerate(values):
        table[j] = None if isinstance(v, np.ndarray) else v
    out = table[which]
    for j, v in enumerate(values):
        if isinstance(v, np.ndarray):
            sel = which == j
            out[sel] = v[sel]
    return out


def plan_inputs(plan, models: dict | None = None) -> tuple[dict, dict, tuple]:
    """A plan's given keys as evaluator columns (n = 1), its model resolved into `models`
    (name -> ModelSpec) and its hardware files: what every `evaluate_one` starts from."""
    from planner.model.resolve import resolve_model
    given = plan.given()
    files = tuple(given.pop("hardware_file", ()) or ())
    models = dict(models or {})
    if given.get("model"):
        spec = resolve_model(given["model"])
        models[spec.name] = spec
        given["model"] = spec.name
    return given, models, files


def answered(res: dict, n: int = 1) -> list[dict]:
    """The `n` rows of an evaluator's result as plain Python values; a row's error raises
    `PlannerError` (the command's ``Error:`` line, exit 2)."""
    from planner.errors import PlannerError
    rows = [{k: v[i] if isinstance(v[i], (list, tuple)) else plain(v[i])
             for k, v in res.items()} for i in range(n)]
    for r in rows:
        if r.get("error"):
            raise PlannerError(r["error"])
    return rows
