"""Sweeps: the cartesian product of a scenario's swept inputs, evaluated chunk by chunk.

The grid is never built row by row: a chunk of row numbers is turned into per-axis indices with
`numpy.unravel_index`, each axis's values are gathered with one fancy-index, and the estimators
run once on the whole chunk (numpy broadcasting).  Filters (``--where``) use a small grammar
parsed here - comparisons joined by ``and``/``or`` - so nothing a user types is evaluated as code.
"""
from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from planner.errors import PlannerError, closest

DEFAULT_CHUNK = 1_000_000


@dataclass(frozen=True)
class Axis:
    section: str            # "model", "train", "infer"
    key: str
    values: tuple

    @property
    def column(self) -> str:
        return self.key if self.section != "model" else "model"


def grid_size(axes: list[Axis]) -> int:
    return math.prod(len(a.values) for a in axes) if axes else 1


def chunks(axes: list[Axis], chunk_rows: int = DEFAULT_CHUNK) -> Iterator[dict[str, np.ndarray]]:
    """Per-axis index arrays for consecutive chunks of the grid, in row order (the last axis
    varies fastest, like nested loops in file order)."""
    shape = tuple(len(a.values) for a in axes)
    total = grid_size(axes)
    for start in range(0, total, chunk_rows):
        rows = np.arange(start, min(total, start + chunk_rows), dtype=np.int64)
        idx = np.unravel_index(rows, shape) if axes else ()
        yield {a.column: i for a, i in zip(axes, idx)} | {"_rows": rows}


def memory_limit_bytes() -> float:
    """Half the machine's physical memory (a sweep result must fit comfortably)."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8e9


WORKING_BYTES = 0.5e9     # evaluating and writing one chunk (measured: benchmarks/bench_run_cli.py)
HOLD_FACTOR = 1.15        # kept rows + one column's copy while concatenating or sorting


def memory_needed(rows: int, bytes_per_row: float) -> float:
    """Peak bytes of holding `rows` result rows (for --sort, --plot, a report): the rows, one
    column copied while they are joined or sorted, and one chunk's working memory."""
    return rows * bytes_per_row * HOLD_FACTOR + WORKING_BYTES


def check_fits_in_memory(rows: int, bytes_per_row: float, limit: float | None = None) -> None:
    need = memory_needed(rows, bytes_per_row)
    limit = memory_limit_bytes() if limit is None else limit
    if need > limit:
        raise PlannerError(
            f"the sweep has {rows:,} rows of about {bytes_per_row:,.0f} bytes, about "
            f"{need / 1e9:,.1f} GB held in memory: too large (this machine allows "
            f"{limit / 1e9:,.1f} GB); narrow the ranges, keep only the rows you need with "
            "--where, or drop --sort/--plot and stream to a file with --out FILE.csv")


class Progress:
    """A one-line progress bar on stderr for long sweeps (only where stderr is a terminal,
    unless forced)."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def update(self, n: int) -> None:
        self.done += n
        if self.enabled:
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r[{bar:<30}] {self.done:,}/{self.total:,} rows")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


# --- --where and --sort -----------------------------------------------------------------------

_CLAUSE = re.compile(r"^\s*(not\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:(<=|>=|==|!=|<|>|=)\s*(.+?))?"
                     r"\s*$")


def _parse_value(text: str) -> Any:
    from planner.units import parse_bytes, parse_count, parse_duration
    t = text.strip().strip("'\"")
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for parser in (parse_count, parse_bytes, parse_duration):
        try:
            return parser(t)
        except PlannerError:
            continue
    return t


def where_mask(columns: dict[str, np.ndarray], expr: str) -> np.ndarray:
    """Rows where `expr` holds.  Grammar: clause (and|or clause)*, with ``and`` binding tighter;
    clause := [not] column | column op value, op in < <= > >= == != (= means ==); value is a
    number (units allowed: 5M, 30d, 80GB), true/false or a name.  Example:
    ``meets_deadline and cost_usd < 5M``."""
    n = len(next(iter(columns.values()))) if columns else 0
    result = np.zeros(n, dtype=bool)
    for disjunct in re.split(r"\s+or\s+", expr.strip()):
        part = np.ones(n, dtype=bool)
        for clause in re.split(r"\s+and\s+", disjunct):
            part &= _clause_mask(columns, clause, n)
        result |= part
    return result


def _clause_mask(columns: dict[str, np.ndarray], clause: str, n: int) -> np.ndarray:
    m = _CLAUSE.match(clause)
    if not m:
        raise PlannerError(f"cannot read --where clause {clause!r} (expected e.g. "
                           "'cost_usd < 5M', 'meets_deadline', 'not fits', 'device == h100-sxm')")
    negate, col, op, raw = m.groups()
    if col not in columns:
        near = closest(col, list(columns))
        hint = f"did you mean {', '.join(near)}?" if near else "columns: " + ", ".join(columns)
        raise PlannerError(f"unknown column {col!r} in --where ({hint})")
    data = np.asarray(columns[col])
    if op is None:
        if data.dtype != bool:
            raise PlannerError(f"--where: column {col!r} is not true/false; compare it, e.g. "
                               f"'{col} > 0'")
        mask = data.copy()
    else:
        value = _parse_value(raw)
        if isinstance(value, str) and data.dtype.kind in "fiub":
            raise PlannerError(f"--where: {col} is numeric but {raw!r} is not a number")
        ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
               "==": np.equal, "=": np.equal, "!=": np.not_equal}
        mask = ops[op](data, value)
    return ~mask if negate else mask


def sort_order(columns: dict[str, np.ndarray], spec: str) -> np.ndarray:
    """Row order for ``--sort`` ``col[,col...]``; a leading ``-`` sorts that column descending.
    Stable (numpy lexsort), so ties keep the sweep order."""
    keys = []
    for item in reversed([s.strip() for s in spec.split(",") if s.strip()]):
        desc = item.startswith("-")
        col = item.lstrip("-+")
        if col not in columns:
            near = closest(col, list(columns))
            hint = f"did you mean {', '.join(near)}?" if near else "columns: " + ", ".join(columns)
            raise PlannerError(f"unknown column {col!r} in --sort ({hint})")
        data = np.asarray(columns[col])
        if data.dtype.kind in "OUS":
            data = np.unique(data, return_inverse=True)[1]
        keys.append(-data.astype(float) if desc else data)
    return np.lexsort(keys) if keys else np.arange(len(next(iter(columns.values()))))


# --- Monte-Carlo summaries ------------------------------------------------------------------------

def percentiles(values: np.ndarray, group: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """P10/P50/P90 of `values` (per group of equal `group` ids, if given)."""
    if group is None:
        p = np.nanpercentile(values, [10, 50, 90])
        return {"p10": p[0], "p50": p[1], "p90": p[2]}
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    parts = np.split(values[order], bounds)
    p = np.array([np.nanpercentile(x, [10, 50, 90]) for x in parts])
    return {"p10": p[:, 0], "p50": p[:, 1], "p90": p[:, 2]}
