"""`planner validate`: every published figure of the shipped reference table, predicted through
the public API - predicted, published, relative error per row and a summary per area.

Thin: the rows and their errors come from `planner.evaluate.validate`; this renders them.
"""
from __future__ import annotations

import json
import math

import click

from planner.render.output import output_options


@click.command()
@click.option("--area", "areas", multiple=True, metavar="AREA",
              help="Only this area (repeatable): parameters, flops, compute-optimal, "
                   "training-time, training-memory, inference-memory, local-speed, "
                   "serving-throughput, serving-latency.")
@click.option("--summary", "summary_only", is_flag=True,
              help="Only the summary per area (the markdown format prints only it).")
@output_options
def validate(fmt, as_json, areas, summary_only) -> None:
    """Check the planner against published figures: each row of the reference table
    (planner/data/reference/published_*.csv: GPT-3, Chinchilla, Megatron-LM, MPT, Llama,
    OPT and BLOOM runs, checkpoint counts, GGUF files, llama.cpp speeds, ...) is run through
    the public API with the inputs that reproduce it, and compared with the published value.

    \b
    Error = predicted / published - 1.  The accuracy figures (count, median, worst |error|)
    leave out rows an estimator's constants were fitted on (fit), rows whose inputs come
    from the source itself (circular, e.g. a reported utilisation) and flagged measurement
    anomalies (excluded); those rows are listed and counted apart.

    \b
      planner validate --summary
      planner validate --area training-time
      planner validate --json > validation.json
    """
    from planner.evaluate.validate import run, summary

    wanted = tuple(a.strip().lower() for a in areas)
    rows = run(wanted)
    summ = summary(rows)
    if wanted:
        summ = [s for s in summ if s["area"] in wanted]
    fmt = "json" if as_json else fmt
    if fmt == "json":
        payload = {"summary": summ} if summary_only else \
            {"summary": summ, "rows": [r.record() for r in rows]}
        click.echo(json.dumps(payload, indent=1))
    elif fmt == "csv":
        from planner.render.output import to_csv
        click.echo(to_csv(summ if summary_only else [r.record() for r in rows]), nl=False)
    elif fmt == "markdown":
        click.echo(markdown(summ))
    else:
        if not summary_only:
            click.echo(row_table(rows))
            click.echo("")
        click.echo(summary_table(summ))


def _pct(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def _abs_pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1e4 and abs(x) < 1e12 and x == round(x) else f"{x:.4g}"


def _flags(r) -> str:
    if r.failure:
        return "FAILED: " + r.failure
    parts = [f for f, on in (("fit", r.fit), ("circular", r.circular),
                             ("excluded", bool(r.excluded))) if on]
    return ", ".join(parts)


def row_table(rows) -> str:
    """One line per row: id, predicted, published, unit, error, why it is kept out."""
    width = max([len(r.id) for r in rows] + [2])
    lines = [f"{'row':<{width}}  {'predicted':>12}  {'published':>12}  {'unit':<18}  "
             f"{'error':>8}  kept out"]
    for r in rows:
        lines.append(f"{r.id:<{width}}  {_num(r.predicted):>12}  {_num(r.published):>12}  "
                     f"{r.unit[:18]:<18}  {_pct(r.error):>8}  {_flags(r)}")
    return "\n".join(lines)


def _worst(s: dict) -> str:
    return "-" if s["worst_row"] is None else f"{_pct(s['worst_signed'])} ({s['worst_row']})"


def _kept_out(s: dict) -> str:
    parts = [f"{s[k]} {name}" for k, name in (("fit_rows", "fit"),
                                              ("circular_rows", "circular"),
                                              ("excluded_rows", "excluded"),
                                              ("failed_rows", "failed")) if s[k]]
    return ", ".join(parts) or "-"


def summary_table(summ: list[dict]) -> str:
    head = (f"{'area':<26}  {'rows':>5}  {'median':>7}  {'worst':<48}  kept out "
            "(not in the figures)")
    lines = [head]
    for s in summ:
        lines.append(f"{s['label']:<26}  {s['count']:>5}  {_abs_pct(s['median_error']):>7}  "
                     f"{_worst(s):<48}  {_kept_out(s)}")
    lines += ["", "median and worst: |predicted / published - 1| over the rows counted (held "
              "out: not fitted on, not circular, not excluded). Rows: planner validate --area "
              "AREA; sources: planner/data/reference/published_*.csv."]
    return "\n".join(lines)


def markdown(summ: list[dict]) -> str:
    """The summary as a markdown table (the README's accuracy table)."""
    lines = ["| area | published rows counted | median error | worst error (row) | kept out |",
             "| --- | ---: | ---: | --- | --- |"]
    for s in summ:
        worst = "-" if s["worst_row"] is None else \
            f"{_pct(s['worst_signed'])} (`{s['worst_row']}`)"
        lines.append(f"| {s['label']} | {s['count']} | {_abs_pct(s['median_error'])} | "
                     f"{worst} | {_kept_out(s)} |")
    return "\n".join(lines)
