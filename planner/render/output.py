"""Render results: ``--format table|json|csv|markdown`` (``--json`` = ``--format json``).

Machine formats carry plain base units (parameters, FLOP, seconds, bytes, USD, kWh); the table
format is the human one, formatted by the command (see `planner.units`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Callable, Iterable

import click

FORMATS = ("table", "json", "csv", "markdown")


def output_options(func: Callable) -> Callable:
    """Add ``--format`` and its ``--json`` alias to a click command (both at once, with another
    format than json, is an error: which one was meant?)."""
    import functools

    command = func

    @functools.wraps(command)
    def func(*args, **kwargs):
        if kwargs.get("as_json") and kwargs.get("fmt") not in ("table", "json"):
            from planner.errors import PlannerError
            raise PlannerError(f"give --json or --format {kwargs['fmt']}, not both")
        return command(*args, **kwargs)

    func = click.option("--json", "as_json", is_flag=True,
                        help="Machine-readable JSON in base units (alias of --format json).")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="Output format.")(func)
    return func


def plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> JSON-able Python values; NaN/inf -> None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def flatten(record: dict, prefix: str = "") -> dict:
    """Nested dicts -> one level with dotted keys (``breakdown.mlp``); lists are JSON text."""
    out: dict = {}
    for k, v in record.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (list, tuple)):
            out[name] = json.dumps(plain(v))
        else:
            out[name] = plain(v)
    return out


def rows_of(payload: Any) -> list[dict]:
    if isinstance(payload, dict):
        return [flatten(payload)]
    return [flatten(r) for r in payload]


def to_csv(rows: list[dict]) -> str:
    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _columns(rows: Iterable[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    return cols


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def text_table(rows: list[dict], columns: list[str] | None = None, markdown: bool = False) -> str:
    """Aligned plain-text (or GitHub markdown) table of `rows`."""
    cols = columns or _columns(rows)
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]

    # a column is right-aligned when every non-empty cell in it is a number (computed once)
    right = [all(_numeric(row[i]) for row in cells if row[i]) for i in range(len(cols))]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if right[i] else v.ljust(w)
                 for i, (v, w) in enumerate(zip(values, widths))]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(cols)]
    if markdown:
        out.append("|" + "|".join(("-" * (w + 1) + ":") if right[i] else ("-" * (w + 2))
                                  for i, w in enumerate(widths)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _numeric(s: str) -> bool:
    try:
        float(s.replace(",", ""))
        return True
    except ValueError:
        return False


def emit(payload: Any, fmt: str = "table", as_json: bool = False,
         human: Callable[[], str] | None = None, columns: list[str] | None = None) -> None:
    """Print `payload` (a record or a list of records) in the chosen format.  `human` renders
    the table format; without it the records are shown as an aligned table."""
    if as_json:
        fmt = "json"
    if fmt == "json":
        click.echo(json.dumps(plain(payload), indent=2))
    elif fmt == "csv":
        click.echo(to_csv(rows_of(payload)), nl=False)
    elif fmt == "markdown":
        click.echo(text_table(rows_of(payload), columns, markdown=True))
    elif human is not None:
        click.echo(human())
    else:
        click.echo(text_table(rows_of(payload), columns))
