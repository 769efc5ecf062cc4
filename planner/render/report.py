"""A self-contained HTML report of a scenario: one file to send to someone without the tool.

`html_report(df, meta, summary)` returns one page holding the title, the published numbers the
scenario reproduces, its inputs, the assumptions with their sources, the expected-vs-got checks,
the charts (PNG embedded as base64 ``data:`` URIs, when matplotlib is installed), the result
table (human units via `planner.units`: GB, days, $) and the Monte-Carlo summary.  The page
loads nothing from anywhere: inline CSS, no scripts, no web fonts, no links to resources.  Every
piece of user text goes through `html.escape`.

`meta` (from `planner.scenario`): ``title``, ``source`` (what it reproduces), ``inputs`` (the
scenario as parsed, nested dicts allowed), ``assumptions`` (list of (text, source) pairs),
``expect`` (list of dicts with metric, expected, got, rel_tol, ok).  All keys are optional.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import math
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.render.cells import BOOLS, format_value, header as _header, is_bool, \
    number

MAX_ROWS = 200
CHART_DPI = 100


# Cells are formatted by planner.render.cells (shared with `planner run` and `compare`).
LEADING = ("scenario", "model", "device")
TRAIN_ORDER = LEADING + ("tokens", "gpus", "mfu", "price_per_hour", "flops", "seconds", "days",
                         "gpu_hours", "cost_usd", "energy_kwh", "memory_per_gpu_bytes",
                         "deadline_seconds", "meets_deadline", "budget_usd", "within_budget")
INFER_ORDER = LEADING + ("quant", "context", "batch", "weights_bytes", "kv_cache_bytes",
                         "overhead_bytes", "total_bytes", "device_memory_bytes", "fits",
                         "decode_tokens_per_s", "prefill_tokens_per_s")
HIDDEN = {"kind"}


# --- HTML pieces -------------------------------------------------------------------------------

def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table(headers: list[str], rows: list[list[tuple[str, str]]], cls: str = "") -> str:
    """rows of (text, css class) cells; all text escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f'<td class="{c}">{_e(t)}</td>' if c else f"<td>{_e(t)}</td>"
                                      for t, c in row) + "</tr>" for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"


def _cell_class(column: str, value: Any) -> str:
    """CSS class: ok/bad for verdict columns, num for right-aligned numbers."""
    if column in BOOLS or is_bool(value):
        return "" if number(value) is None and not is_bool(value) else \
            ("ok" if bool(value) else "bad")
    if column in LEADING or column == "quant" or isinstance(value, str):
        return ""
    return "num" if number(value) is not None else ""


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n{body}\n</section>'


def _describe_value(v: Any, limit: int = 12) -> str:
    """An input value as text: sweeps and distributions (dataclasses) by their fields."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
        name = type(v).__name__.lower()
        if set(fields) == {"values"}:
            return f"{name} of {len(fields['values'])}: {_describe_value(fields['values'])}"
        inner = ", ".join(f"{k}={_describe_value(x)}" for k, x in fields.items()
                          if not (isinstance(x, float) and math.isinf(x)))
        return f"{name}({inner})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_describe_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        shown = ", ".join(_describe_value(x) for x in list(v)[:limit])
        return f"[{shown}{', ...' if len(v) > limit else ''}]"
    if hasattr(v, "tolist"):
        return _describe_value(v.tolist())
    return str(v)


def _flatten_inputs(inputs: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(inputs, dict):
        out: list[tuple[str, str]] = []
        for k, v in inputs.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                out.extend(_flatten_inputs(v, key + "."))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                for i, x in enumerate(v):
                    out.extend(_flatten_inputs(x, f"{key}[{i + 1}]."))
            else:
                out.append((key, _describe_value(v)))
        return out
    if inputs in (None, "", [], {}):
        return []
    return [(prefix.rstrip(".") or "input", _describe_value(inputs))]


def _inputs_html(inputs: Any) -> str:
    rows = _flatten_inputs(inputs)
    if not rows:
        return '<p class="note">No inputs recorded.</p>'
    return _table(["input", "value"], [[(k, "key"), (v, "")] for k, v in rows], "inputs")


def _assumptions_html(assumptions: Any) -> str:
    items = []
    for a in assumptions or []:
        if isinstance(a, dict):
            text, source = a.get("text", ""), a.get("source", "")
        elif isinstance(a, (list, tuple)):
            text, source = (list(a) + ["", ""])[:2]
        else:
            text, source = a, ""
        src = f'<span class="source">Source: {_e(source)}</span>' if source else \
            '<span class="source missing">no source given</span>'
        items.append(f"<li>{_e(text)}<br>{src}</li>")
    if not items:
        return '<p class="note">No assumptions recorded.</p>'
    return "<ul class=\"assumptions\">\n" + "\n".join(items) + "\n</ul>"


def _check_ok(c: dict) -> bool | None:
    if "ok" in c and c["ok"] is not None:
        return bool(c["ok"])
    exp, got, tol = number(c.get("expected")), number(c.get("got")), number(c.get("rel_tol"))
    if exp is None or got is None or tol is None:
        return None
    return abs(got - exp) <= tol * abs(exp)


def _expect_html(expect: Any) -> tuple[str, str]:
    """(html, one-line verdict)."""
    checks = list(expect or [])
    if not checks:
        return '<p class="note">No published figures to check against.</p>', ""
    rows, n_ok = [], 0
    for c in checks:
        metric = str(c.get("metric", "?"))
        exp, got = c.get("expected"), c.get("got")
        ok = _check_ok(c)
        n_ok += bool(ok)
        e, g, t = number(exp), number(got), number(c.get("rel_tol"))
        diff = f"{(g - e) / abs(e):+.2%}" if e not in (None, 0) and g is not None else "-"
        rows.append([(metric, "key"), (format_value(metric, exp), "num"),
                     (format_value(metric, got), "num"), (diff, "num"),
                     (f"±{t:.1%}" if t is not None else "-", "num"),
                     ("OK" if ok else "MISMATCH" if ok is not None else "?",
                      "ok" if ok else "bad")])
    verdict = f"{n_ok} of {len(checks)} checks against published figures OK"
    table = _table(["metric", "expected (published)", "got", "difference", "tolerance",
                    "verdict"], rows, "checks")
    return f'<p class="verdict {"ok" if n_ok == len(checks) else "bad"}">{_e(verdict)}</p>' \
        + table, verdict


def _kind_tables(df) -> list[tuple[str, Any, tuple]]:
    if df is None or len(df) == 0:
        return []
    if "kind" in df.columns:
        parts = [("Training plans", df[df["kind"] == "train"], TRAIN_ORDER),
                 ("Inference set-ups", df[df["kind"] == "infer"], INFER_ORDER)]
        other = df[~df["kind"].isin(["train", "infer"])]
        if len(other):
            parts.append(("Other rows", other, LEADING))
    elif "decode_tokens_per_s" in df.columns or "weights_bytes" in df.columns:
        parts = [("Inference set-ups", df, INFER_ORDER)]
    else:
        parts = [("Training plans", df, TRAIN_ORDER)]
    return [p for p in parts if len(p[1])]


def _results_html(df, max_rows: int) -> str:
    parts = _kind_tables(df)
    if not parts:
        return '<p class="note">The scenario produced no rows.</p>'
    out = []
    for title, d, order in parts:
        d = d.dropna(axis=1, how="all")
        # a verdict against a limit nobody set says nothing: leave it out with its limit
        d = d.drop(columns=[v for v, limit in (("meets_deadline", "deadline_seconds"),
                                               ("within_budget", "budget_usd"))
                            if v in d.columns and limit not in d.columns])
        cols = [c for c in order if c in d.columns]
        cols += [c for c in d.columns if c not in cols and c not in HIDDEN]
        shown = d.head(max_rows)
        records = shown[cols].to_dict("records")
        rows = [[(format_value(c, r[c]), _cell_class(c, r[c])) for c in cols] for r in records]
        note = (f'<p class="note">Showing the first {max_rows:,} of {len(d):,} rows; the full '
                f"table is in <code>planner run SCENARIO --format csv</code>.</p>"
                if len(d) > max_rows else f'<p class="note">{len(d):,} row(s).</p>')
        out.append(f"<h3>{_e(title)}</h3>\n" + note + "\n" +
                   '<div class="scroll">' + _table([_header(c) for c in cols], rows, "results")
                   + "</div>")
    return "\n".join(out)


def _summary_html(summary) -> str:
    if summary is None:
        return ""
    import pandas as pd
    s = summary if isinstance(summary, pd.DataFrame) else pd.DataFrame(summary)
    if len(s) == 0:
        return ""
    body = ""
    if "metric" in s.columns:
        qs = [q for q in ("p10", "p50", "p90") if q in s.columns]
        rows = [[(str(r["metric"]), "key")] + [(format_value(str(r["metric"]), r[q]), "num")
                                                for q in qs] for r in s.to_dict("records")]
        body += _table(["metric"] + qs, rows, "summary")
    probs = []
    for col, label in (("prob_meets_deadline", "meets the deadline"),
                       ("prob_within_budget", "stays within budget")):
        if col in s.columns:
            vals = [v for v in s[col].tolist() if number(v) is not None]
            if vals:
                probs.append(f"<li>Probability the plan {label}: <b>{vals[0]:.0%}</b></li>")
    if probs:
        body += "<ul>" + "".join(probs) + "</ul>"
    return body


def _charts_html(df) -> str:
    """Embedded PNGs, or a note on how to get charts."""
    from planner.render import plots
    if not plots.available():
        return f'<p class="note">No charts: {_e(plots.INSTALL_HINT)}.</p>'
    figures = []
    for name in plots.choose(df):
        try:
            figures.append((name, plots.CHARTS[name](df)))
        except PlannerError as exc:
            figures.append((name, exc))
    if not figures:
        return ('<p class="note">No charts: the rows vary neither the GPU count, the device, '
                'the context length nor the quantisation.</p>')
    out = []
    for name, fig in figures:
        if isinstance(fig, Exception):
            out.append(f'<p class="note">Chart {_e(name)} skipped: {_e(fig)}</p>')
            continue
        data = base64.b64encode(plots.to_png_bytes(fig, dpi=CHART_DPI)).decode("ascii")
        title = fig.axes[0].get_title() if fig.axes else name
        out.append(f'<figure><img alt="{_e(title)}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{_e(CAPTIONS.get(name, ''))}</figcaption></figure>")
    return '<div class="charts">\n' + "\n".join(out) + "\n</div>"


CAPTIONS = {
    "time_vs_gpus": "Wall-clock time against the number of GPUs, per device; crosses miss the "
                    "deadline.",
    "cost_vs_time": "Cost against wall-clock time; ringed plans are the Pareto front (no other "
                    "plan is both faster and cheaper).",
    "memory_vs_context": "Memory by component against context length; the dashed line is the "
                         "device's memory.",
    "tokens_per_quant": "Decode speed per quantisation; green fits in memory, red does not.",
}


CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
.subtitle { color: #555; margin-top: 0; }
.meta { color: #777; font-size: .85em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f3f4f6; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
td.ok, .verdict.ok { color: #176a1f; font-weight: 600; }
td.bad, .verdict.bad { color: #b3261e; font-weight: 600; }
.scroll { overflow-x: auto; }
table.results td { white-space: nowrap; }
.note { color: #666; font-size: .9em; }
.source { color: #555; font-size: .85em; }
.source.missing { color: #b3261e; }
ul.assumptions li { margin-bottom: .4em; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr));
          gap: 1em; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .85em; }
code { background: #f3f4f6; padding: 0 .25em; }
@media print { .scroll { overflow: visible; } }
"""


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("planner")
    except Exception:  # noqa: BLE001 - not installed: no version to show
        return "?"


def html_report(df, meta: dict | None = None, summary=None, charts: bool = True,
                max_rows: int = MAX_ROWS) -> str:
    """The report as one self-contained HTML page (a string).  `df` is the scenario's result
    table, `meta` its description (see the module docstring), `summary` the optional
    Monte-Carlo summary (columns metric, p10, p50, p90, prob_*)."""
    meta = dict(meta or {})
    title = str(meta.get("title") or "planner scenario report")
    source = meta.get("source")
    expect_html, verdict = _expect_html(meta.get("expect"))
    charts_html = _charts_html(df) if charts else ""
    n_rows = 0 if df is None else len(df)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="subtitle">Reproduces: {_e(source)}</p>' if source else "",
        f'<p class="meta">{n_rows:,} result row(s)' + (f"; {_e(verdict)}" if verdict else "")
        + f". Generated by planner {_e(_version())} on {stamp}. GB = 10<sup>9</sup> bytes; "
        "a month is 730 hours; MFU counts model FLOPs (6·N·D).</p></header>",
        _section("Inputs", _inputs_html(meta.get("inputs")), "inputs"),
        _section("Assumptions", _assumptions_html(meta.get("assumptions")), "assumptions"),
        _section("Expected vs got", expect_html, "checks"),
    ]
    if charts:
        parts.append(_section("Charts", charts_html, "charts"))
    parts.append(_section("Results", _results_html(df, max_rows), "results"))
    mc = _summary_html(summary)
    if mc:
        parts.append(_section("Monte-Carlo summary", mc, "montecarlo"))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def write_report(path, df, meta: dict | None = None, summary=None, **kwargs) -> Path:
    """Write `html_report(...)` to `path` (UTF-8) and return the path."""
    from planner.safe_io import atomic_write
    page = html_report(df, meta, summary, **kwargs)
    with atomic_write(path, "w", "report file") as fh:   # an old page survives a failure
        fh.write(page)
    return Path(path)
