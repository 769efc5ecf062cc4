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
from typing import Iterator

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


PROBE_ROWS = (256, 256, 4096)   # the first chunks: warm-up, then timed (WorkTimer)


def chunks(axes: list[Axis], chunk_rows: int = DEFAULT_CHUNK,
           probe_rows: tuple[int, ...] = PROBE_ROWS) -> Iterator[dict[str, np.ndarray]]:
    """Per-axis index arrays for consecutive chunks of the grid, in row order (the last axis
    varies fastest, like nested loops in file order).  The first chunks are `probe_rows` long,
    so the time of the whole sweep can be measured on a few rows (`WorkTimer`)."""
    shape = tuple(len(a.values) for a in axes)
    total = grid_size(axes)
    start, sizes = 0, [min(p, chunk_rows) for p in probe_rows]
    while start < total:
        size = sizes.pop(0) if sizes else chunk_rows
        rows = np.arange(start, min(total, start + size), dtype=np.int64)
        idx = np.unravel_index(rows, shape) if axes else ()
        yield {a.column: i for a, i in zip(axes, idx)} | {"_rows": rows}
        start += size


ROWS_PER_SECOND = 3e5   # what --max-rows assumes: ~300,000 rows/s evaluated and written
CLEARLY = 3.0           # a first projection this far over (or under) the budget decides
MARGIN = 1.2            # else the finer one may exceed the budget by this much


class WorkTimer:
    """Bounded time, measured.  The second chunk (256 rows, after the first has paid the
    one-time costs) is timed and the whole sweep projected from it: clearly over what
    --max-rows allows (max_rows / ROWS_PER_SECOND: ~67 s at the default) and it is refused
    there, a second or two in, not hours later; clearly under and it runs; in between the third
    chunk (4,096 rows, which amortise the per-call costs) decides.  Rows whose plans each need
    a search (a categorical input swept, a cluster size per row with a predicted utilisation)
    cost milliseconds, not microseconds: the row count alone would not see it."""

    def __init__(self, total: int, max_rows: int, title: str) -> None:
        import time
        self.total, self.max_rows, self.title = total, max_rows, title
        self.budget = max_rows / ROWS_PER_SECOND
        self.done, self.chunk = 0, 0
        self.decided = total <= sum(PROBE_ROWS[:2])
        # CPU time of this thread: not inflated by other threads (the web page answers
        # requests in parallel) nor by other processes on the machine
        self.clock = time.thread_time
        self.started = self.clock()

    def start(self) -> None:
        self.t0 = self.clock()

    def stop(self, n: int) -> None:
        elapsed = self.clock() - self.t0
        self.done += n
        self.chunk += 1
        if self.decided or self.chunk < 2:
            return
        projected = elapsed / max(n, 1) * (self.total - self.done) + (self.clock() -
                                                                        self.started)
        last = self.chunk >= len(PROBE_ROWS) or self.done >= self.total
        if projected > (MARGIN if last else CLEARLY) * self.budget:
            from planner.units import format_duration
            raise PlannerError(
                f"scenario {self.title!r} would take about {format_duration(projected)} "
                f"({self.total:,} rows at {elapsed / max(n, 1) * 1e3:.3g} ms each, as measured "
                f"on its first rows), more than --max-rows {self.max_rows:,} allows (about "
                f"{format_duration(self.budget)} of work); narrow the ranges or raise "
                "--max-rows")
        self.decided = last or projected < self.budget / CLEARLY


def memory_limit_bytes() -> float:
    """Half the memory this process may use: the machine's physical memory, or less if a
    limit is set on the process (RLIMIT_AS, RLIMIT_DATA) or its cgroup (containers)."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        limits.append(16e9)
    try:
        import resource
        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append(soft)
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read(64).strip()
            if text.isdigit() and 0 < int(text) < 2**60:
                limits.append(int(text))
        except OSError:
            continue
    return 0.5 * min(limits)


WORKING_BYTES = 0.5e9     # evaluating and writing one chunk (measured: benchmarks/bench_run_cli.py)
HOLD_FACTOR = 1.15        # kept rows + one column's copy while concatenating or sorting


def memory_needed(rows: int, bytes_per_row: float) -> float:
    """Peak bytes of holding `rows` result rows (for --sort, --plot, a report): the rows, one
    column copied while they are joined or sorted, and one chunk's working memory."""
    return rows * bytes_per_row * HOLD_FACTOR + WORKING_BYTES


def check_fits_in_memory(rows: int, bytes_per_row: float, limit: float | None = None,
                         what: str = "the sweep") -> None:
    need = memory_needed(rows, bytes_per_row)
    limit = memory_limit_bytes() if limit is None else limit
    if need > limit:
        raise PlannerError(
            f"{what} has {rows:,} rows of about {bytes_per_row:,.0f} bytes, about "
            f"{need / 1e9:,.1f} GB held in memory: too large (this process may use "
            f"{limit / 1e9:,.1f} GB: half the machine's memory or of its limits); narrow the "
            "ranges or use fewer Monte-Carlo samples, keep only the rows you need with "
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
MAX_WHERE_CHARS = 2000
MAX_CLAUSES = 64

# The unit of a result column, from its name (the evaluators' naming rule: base units, with the
# unit in the name where it is not a plain count): (kind, the column's unit in base units, words).
_UNIT_RULES = (
    (lambda c: c == "days" or c.endswith("_days"), "duration", 86400.0, "days"),
    (lambda c: c.endswith("_hours"), "duration", 3600.0, "hours"),
    (lambda c: c.endswith("_months"), "duration", 730 * 3600.0, "months of 730 h"),
    (lambda c: c == "seconds" or c.endswith("_seconds") or (c.endswith("_s") and
                                                           not c.endswith("_per_s")),
     "duration", 1.0, "seconds"),
    (lambda c: c.endswith("_bytes_per_s"), "bandwidth", 1.0, "bytes/s"),
    (lambda c: c.endswith("_bytes"), "bytes", 1.0, "bytes"),
    (lambda c: c.endswith("_gb"), "bytes", 1e9, "GB"),
    (lambda c: c.endswith("_usd"), "usd", 1.0, "USD"),
    (lambda c: c == "price_per_hour", "price", 1.0, "USD per device-hour"),
)
_EXAMPLES = {"duration": "30, 30d, 720h, 2 weeks", "bandwidth": "2TB/s, 900GiB/s",
             "bytes": "80GB, 75GiB, 8e10", "usd": "$1M, 5e6, $250k", "price": "$2.50/h, 2.5",
             "count": "1B, 2.5e9, 300k"}


def column_unit(col: str) -> tuple[str, float, str]:
    """(kind, scale, words): how a --where value for column `col` is read.  A bare number is in
    the column's own unit; a value with a unit is converted to it (``days <= 30d`` keeps rows
    of at most 30 days, ``days <= 720h`` too)."""
    for test, kind, scale, words in _UNIT_RULES:
        if test(col):
            return kind, scale, words
    return "count", 1.0, "a plain number"


def _where_number(col: str, raw: str) -> float:
    from planner import units
    text = raw.strip().strip("'\"").strip()
    what = f"--where: {col}"
    kind, scale, words = column_unit(col)
    try:
        return units.parse_number(text, what)          # bare: the column's own unit
    except PlannerError:
        pass
    parsers = {"bandwidth": units.parse_bandwidth, "bytes": units.parse_bytes,
               "usd": units.parse_usd, "price": units.parse_price, "count": units.parse_count}
    try:
        if kind == "duration":
            # 1M, 2.5B, 300k: a count of the column's unit (M is million; m is minutes)
            if text[-1:] in ("k", "K", "M", "B", "T") and _is_number(text[:-1]):
                return units.parse_count(text, what)
            return units.parse_duration(text, what) / scale
        return parsers[kind](text, what) / scale
    except PlannerError:
        raise PlannerError(f"--where: {col} is in {words}; cannot read {raw.strip()!r} as one "
                           f"(e.g. {_EXAMPLES[kind]})") from None


def _is_number(text: str) -> bool:
    from planner.units import parse_number
    try:
        parse_number(text)
        return True
    except PlannerError:
        return False


def _column_kind(data: np.ndarray) -> str:
    """'bool', 'number' or 'text' (object columns by their values; None is missing)."""
    if data.dtype.kind == "b":
        return "bool"
    if data.dtype.kind in "fiu":
        return "number"
    sample = [v for v in data[:1000].tolist() if v is not None]
    if sample and all(isinstance(v, (bool, np.bool_)) for v in sample):
        return "bool"
    if sample and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                      for v in sample):
        return "number"
    return "text"


def where_mask(columns: dict[str, np.ndarray], expr: str) -> np.ndarray:
    """Rows where `expr` holds.  Grammar: clause (and|or clause)*, with ``and`` binding tighter;
    clause := [not] column | column op value, op in < <= > >= == != (= means ==); value is a
    number in the column's unit or with a unit of the same kind (30d, 80GB, $1M), true/false,
    or a name.  Example: ``meets_deadline and cost_usd < 5M``."""
    if len(expr) > MAX_WHERE_CHARS:
        raise PlannerError(f"--where expression of {len(expr):,} characters is too long (at most "
                           f"{MAX_WHERE_CHARS:,})")
    disjuncts = [re.split(r"\s+and\s+", d) for d in re.split(r"\s+or\s+", expr.strip())]
    if sum(len(d) for d in disjuncts) > MAX_CLAUSES:
        raise PlannerError(f"--where has {sum(len(d) for d in disjuncts):,} clauses (at most "
                           f"{MAX_CLAUSES})")
    n = len(next(iter(columns.values()))) if columns else 0
    result = np.zeros(n, dtype=bool)
    for disjunct in disjuncts:
        part = np.ones(n, dtype=bool)
        for clause in disjunct:
            part &= _clause_mask(columns, clause, n)
        result |= part
    return result


_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
        "==": np.equal, "=": np.equal, "!=": np.not_equal}


def _column(columns: dict[str, np.ndarray], col: str, option: str) -> tuple[np.ndarray, str]:
    """A column named in --where/--sort and its kind; an unknown name is an error naming the
    closest columns."""
    if col not in columns:
        near = closest(col, list(columns))
        hint = f"did you mean {', '.join(near)}?" if near else "columns: " + ", ".join(columns)
        raise PlannerError(f"{option}: unknown column {col[:80]!r} ({hint})")
    data = np.asarray(columns[col])
    return data, _column_kind(data)


def _clause_mask(columns: dict[str, np.ndarray], clause: str, n: int) -> np.ndarray:
    m = _CLAUSE.match(clause)
    if not m:
        raise PlannerError(f"--where: cannot read clause {clause[:80]!r} (expected e.g. "
                           "'cost_usd < 5M', 'days <= 30d', 'meets_deadline', 'not fits', "
                           "'device == h100-sxm')")
    negate, col, op, raw = m.groups()
    data, kind = _column(columns, col, "--where")
    if op is None:
        if kind != "bool":
            raise PlannerError(f"--where: column {col!r} is not true/false; compare it, e.g. "
                               f"'{col} > 0'")
        mask = np.equal(data, True)
    elif kind == "number":
        value = _where_number(col, raw)
        values = data.astype(float) if data.dtype.kind != "O" else np.asarray(
            [np.nan if v is None else v for v in data.tolist()], dtype=float)
        mask = _OPS[op](values, value)
    else:
        text = raw.strip().strip("'\"")
        if op not in ("==", "=", "!="):
            raise PlannerError(f"--where: {col} is {'true/false' if kind == 'bool' else 'text'}; "
                               f"compare it with == or != (not {op})")
        if kind == "bool":
            if text.lower() not in ("true", "false"):
                raise PlannerError(f"--where: {col} is true/false, not {raw.strip()!r}")
            mask = np.equal(data, text.lower() == "true")
        else:
            mask = np.asarray([v is not None and str(v) == text for v in data.tolist()],
                              dtype=bool) if data.dtype.kind == "O" else np.equal(data, text)
        if op == "!=":
            mask = ~mask
    return ~mask if negate else mask


MAX_SORT_COLUMNS = 16


def sort_order(columns: dict[str, np.ndarray], spec: str) -> np.ndarray:
    """Row order for ``--sort`` ``col[,col...]``; a leading ``-`` sorts that column descending.
    Stable (numpy lexsort), so ties keep the sweep order."""
    keys = []
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items or len(items) > MAX_SORT_COLUMNS:
        raise PlannerError(f"--sort {spec[:80]!r} needs 1 to {MAX_SORT_COLUMNS} comma-separated "
                           "columns, '-col' for descending (e.g. 'cost_usd' or '-days,gpus')")
    for item in reversed(items):
        desc = item.startswith("-")
        col = item.lstrip("-+")
        data, kind = _column(columns, col, "--sort")
        if kind == "text":   # by name; missing (None) first
            data = np.unique(np.asarray(["" if v is None else str(v) for v in data.tolist()]),
                             return_inverse=True)[1].ravel()
        elif data.dtype.kind == "O":
            data = np.asarray([np.nan if v is None else float(v) for v in data.tolist()])
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
