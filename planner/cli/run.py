"""`planner run SCENARIO.toml`: a what-if, a sweep or a Monte-Carlo run."""
from __future__ import annotations

import click
import numpy as np

from planner.render.cells import format_value, header
from planner.render.output import output_options, text_table

# Columns shown by the human table, per kind (formatted by planner.render.cells).
SHOW = {
    "train": ["model", "device", "tokens", "gpus", "days", "gpu_hours", "cost_usd",
              "energy_kwh", "memory_per_gpu_bytes", "meets_deadline", "within_budget", "error"],
    "infer": ["model", "device", "quant", "context", "batch", "weights_bytes", "kv_cache_bytes",
              "total_bytes", "fits", "smallest_memory_tier_gb", "decode_tokens_per_s",
              "prefill_tokens_per_s", "error"],
    "serve": ["model", "rate_per_s", "hardware", "quant", "tp", "replicas", "gpus",
              "cost_usd_per_hour", "output_tokens_per_s", "ttft_seconds_p99", "tpot_seconds_p99",
              "binding", "error"],
    "optimal": ["method", "flops", "params", "tokens", "tokens_per_param", "loss"],
}
MAX_SHOWN = 25


def _shown_columns(o) -> list[str]:
    cols = [k for k in SHOW.get(o.kind, list(o.columns)[:12]) if k in o.columns]
    # Hide flags and errors that were not asked about or did not happen.
    if o.kind == "train":
        if np.all(np.isnan(o.columns["deadline_seconds"].astype(float))):
            cols.remove("meets_deadline")
        if np.all(np.isnan(o.columns["budget_usd"].astype(float))):
            cols.remove("within_budget")
    if "error" in cols and all(e is None for e in o.columns["error"]):
        cols.remove("error")
    return cols


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def human(outcomes) -> str:
    blocks = []
    for o in outcomes:
        head = f"== {o.scenario.title}  [{o.kind}, {o.rows:,} row{'s' if o.rows != 1 else ''}]"
        lines = [head]
        if o.scenario.source:
            lines.append(f"   source: {o.scenario.source}")
        if o.summary:
            lines.append(f"   {o.rows:,} Monte-Carlo draws; --out FILE.csv writes them all")
        elif o.rows:
            cols = _shown_columns(o)
            shown = min(o.rows, MAX_SHOWN, len(next(iter(o.columns.values()))))
            rows = [{header(k): _clip(format_value(k, o.columns[k][i])) for k in cols}
                    for i in range(shown)]
            lines.append(text_table(rows, [header(k) for k in cols]))
            if o.rows > shown:
                lines.append(f"... {o.rows - shown:,} more rows (--out FILE.csv writes them all; "
                             "--where/--sort pick the ones that matter)")
        else:
            lines.append("(no rows match)")
        if o.failed:
            lines.append(f"   {_failed(o)}")
        for c in o.expect:
            mark = "OK      " if c["ok"] else "MISMATCH"
            tol = f" {c['tolerance']}" if c["tolerance"] else ""
            lines.append(f"   {mark} {c['metric']}: got {_short(c['got'])}, expected "
                         f"{_short(c['expected'])}{tol} ({c['source']})")
        if o.summary:
            lines.append("   Monte-Carlo (P10 / P50 / P90):")
            for r in o.summary:
                label = ", ".join(f"{k}={v}" for k, v in r.items()
                                  if k not in ("metric", "p10", "p50", "p90"))
                label = f" [{label}]" if label else ""
                if r["metric"].startswith("prob_"):
                    lines.append(f"     {r['metric']}{label}: {r['p50']:.1%}")
                else:
                    m = r["metric"]
                    lines.append(f"     {header(m)}{label}: {format_value(m, r['p10'])} / "
                                 f"{format_value(m, r['p50'])} / {format_value(m, r['p90'])}")
        blocks.append("\n".join(lines))
    notes = ("Assumptions: 6ND training FLOPs (Kaplan et al. 2020), month = 730 h, dense peaks; "
             "see `planner report` for all sources.")
    return "\n\n".join(blocks) + "\n\n" + notes


def _failed(o) -> str:
    return (f"{o.failed:,} row{'s' if o.failed != 1 else ''} could not be answered (their "
            f"`error` column says why), e.g.: {o.first_error}")


def _short(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = float(v)
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


@click.command()
@click.argument("scenario")
@click.option("--where", "where", metavar="EXPR",
              help="Keep rows where EXPR holds, e.g. 'meets_deadline and cost_usd < 5M'.")
@click.option("--sort", "sort", metavar="COLS", help="Sort by columns, '-col' descending, "
              "e.g. 'cost_usd' or '-decode_tokens_per_s'.")
@click.option("--out", "out", metavar="FILE",
              help="Write all rows to .csv, .json, .parquet or .md (streamed chunk by chunk; "
                   "an existing file is replaced only when the run succeeds).")
@click.option("--plot", "plot", metavar="FILE",
              help="Draw the charts that fit the rows to .png or .svg (needs matplotlib).")
@click.option("--check", is_flag=True, help="Exit 1 if any [expect] figure is not reproduced.")
@click.option("--chunk-rows", type=click.IntRange(min=1, max=10_000_000), default=200_000,
              show_default=True, help="Rows evaluated and written per vectorised pass.")
@click.option("--max-rows", type=click.IntRange(min=1, max=10**15), default=20_000_000,
              show_default=True,
              help="Refuse sweeps with more rows than this (before any work), or whose time, "
                   "measured on their first rows, is far beyond ~300,000 rows/s of it.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on large sweeps (default: when stderr is a terminal).")
@click.option("--hardware-file", "hardware_files", multiple=True, metavar="CSV",
              help="Extra hardware profile CSV.")
@output_options
def run(scenario, where, sort, out, plot, check, chunk_rows, max_rows, progress, hardware_files,
        fmt, as_json) -> None:
    """Run a what-if SCENARIO file: one plan, a sweep, or a Monte-Carlo run.

    Any input in the file may be a list or a range (swept: the cartesian product is evaluated
    in vectorised chunks) or a distribution ({low, high}, {mean, sd}, ...; a seeded Monte-Carlo
    run reports P10/P50/P90 and the chance of meeting the deadline and budget).  [expect]
    tables are checked and reported.  Machine formats (--json, --format csv|markdown) and
    --out stream every row; the table format shows the first rows.  See scenarios/.

    \b
    planner run scenarios/gpt3.toml
    planner run scenarios/sweep_cluster.toml --where meets_deadline --sort cost_usd
    planner run scenarios/uncertain_budget.toml --json
    """
    import contextlib
    import sys

    from planner.render.rows import RowWriter, format_of
    from planner.safe_io import atomic_write, check_writable_target
    from planner.whatif.runner import Options, run_path, section_count

    machine = as_json or fmt != "table"
    out_fmt = format_of(out) if out else None
    inputs = (scenario, *hardware_files)
    if out:
        check_writable_target(out, inputs=inputs)
    if plot:
        from planner.render.plots import _check_path
        _check_path(plot)                      # the image type, before --out is replaced
        check_writable_target(plot, "chart file", inputs=inputs + ((out,) if out else ()))
    stdout_fmt = "json" if as_json else (fmt if machine else None)
    sections = section_count(scenario)
    # A CSV of several sections needs the union of their columns: keep the rows, write after.
    union = sections > 1 and "csv" in (out_fmt, stdout_fmt)
    opts = Options(where=where, sort=sort, chunk_rows=chunk_rows, progress=progress,
                   hardware_files=tuple(hardware_files), max_rows=max_rows,
                   keep=bool(plot) or union)
    with contextlib.ExitStack() as stack:
        writers = []
        if out:
            handle = stack.enter_context(atomic_write(out, "wb"))
            writers.append(RowWriter(handle, out_fmt))
        if stdout_fmt:
            writers.append(RowWriter(sys.stdout.buffer, stdout_fmt))
        if not union:
            opts.writers = writers
        outcomes = run_path(scenario, opts)
        if union:
            from planner.whatif.runner import union_chunks
            for chunk in union_chunks(outcomes, chunk_rows):
                for w in writers:
                    w.write(chunk)
        for w in writers:
            w.close()
    if out:
        rows = sum(o.rows for o in outcomes)
        click.echo(f"wrote {rows:,} rows to {out}", err=True)
    if machine:
        for o in outcomes:
            if o.failed:
                click.echo(f"Warning: {o.scenario.title} [{o.kind}]: {_failed(o)}", err=True)
    if plot:
        from planner.render.plots import write_plot
        from planner.whatif.runner import to_frame
        write_plot(to_frame(outcomes), plot)
    if not machine:
        click.echo(human(outcomes))
    if check and not all(c["ok"] for o in outcomes for c in o.expect):
        raise SystemExit(1)
