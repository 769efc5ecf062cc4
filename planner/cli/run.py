"""`planner run SCENARIO.toml`: a what-if, a sweep or a Monte-Carlo run."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from planner.errors import PlannerError
from planner.render.output import emit, output_options, plain, text_table
from planner.units import format_bytes, format_count, format_duration, format_flops, format_usd

# Columns shown by the human table, per kind, with their formatters.
SHOW = {
    "train": [("model", str), ("device", str), ("tokens", format_count), ("gpus", "{:,.0f}".format),
              ("days", lambda s: format_duration(s * 86400)), ("gpu_hours", "{:,.0f}".format),
              ("cost_usd", format_usd), ("energy_kwh", "{:,.0f}".format),
              ("memory_per_gpu_bytes", format_bytes), ("meets_deadline", str),
              ("within_budget", str)],
    "infer": [("model", str), ("device", str), ("quant", str), ("context", "{:,.0f}".format),
              ("batch", "{:,.0f}".format), ("weights_bytes", format_bytes),
              ("kv_cache_bytes", format_bytes), ("total_bytes", format_bytes), ("fits", str),
              ("smallest_memory_tier_gb", "{:.0f} GB".format),
              ("decode_tokens_per_s", "{:,.1f}".format),
              ("prefill_tokens_per_s", "{:,.0f}".format)],
    "optimal": [("method", str), ("flops", format_flops), ("params", format_count),
                ("tokens", format_count), ("tokens_per_param", "{:.1f}".format),
                ("loss", "{:.3f}".format)],
}
MAX_SHOWN = 25


def _shown_columns(o) -> list[tuple[str, object]]:
    cols = [(k, f) for k, f in SHOW[o.kind] if k in o.columns]
    # Hide flags that were not asked about, and add swept inputs not in the default set.
    if o.kind == "train":
        if np.all(np.isnan(o.columns["deadline_seconds"].astype(float))):
            cols = [c for c in cols if c[0] != "meets_deadline"]
        if np.all(np.isnan(o.columns["budget_usd"].astype(float))):
            cols = [c for c in cols if c[0] != "within_budget"]
    return cols


def _fmt(f, v) -> str:
    if isinstance(v, (float, np.floating)) and not np.isfinite(v):
        return "n/a"
    try:
        return f(v) if f is not str else str(v)
    except (TypeError, ValueError):
        return str(v)


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
            shown = min(o.rows, MAX_SHOWN)
            rows = [{k: _fmt(f, o.columns[k][i]) for k, f in cols} for i in range(shown)]
            lines.append(text_table(rows, [k for k, _ in cols]))
            if o.rows > shown:
                lines.append(f"... {o.rows - shown:,} more rows (--out FILE.csv writes them all; "
                             "--where/--sort pick the ones that matter)")
        else:
            lines.append("(no rows match)")
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
                    lines.append(f"     {r['metric']}{label}: {_short(r['p10'])} / "
                                 f"{_short(r['p50'])} / {_short(r['p90'])}")
        blocks.append("\n".join(lines))
    notes = ("Assumptions: 6ND training FLOPs (Kaplan et al. 2020), month = 730 h, dense peaks; "
             "see `planner report` for all sources.")
    return "\n\n".join(blocks) + "\n\n" + notes


def _short(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = float(v)
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def _records(frame) -> list[dict]:
    return [dict(zip(frame.columns, r)) for r in frame.itertuples(index=False, name=None)]


def _write(path: Path, frame) -> None:
    """Write the result rows (a DataFrame) to .csv, .json or .parquet."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        from planner.render.csvfast import write_csv
        write_csv(path, {c: frame[c].to_numpy() for c in frame.columns})
    elif suffix == ".json":
        import json
        path.write_text(json.dumps(plain(_records(frame))))
    elif suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise PlannerError("writing parquet needs pyarrow: pip install pyarrow (or write "
                               ".csv or .json)") from None
        frame.to_parquet(path, index=False)
    else:
        raise PlannerError(f"cannot write {path.name!r}: --out must end in .csv, .json or "
                           ".parquet")


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--where", "where", metavar="EXPR",
              help="Keep rows where EXPR holds, e.g. 'meets_deadline and cost_usd < 5M'.")
@click.option("--sort", "sort", metavar="COLS", help="Sort by columns, '-col' descending, "
              "e.g. 'cost_usd' or '-decode_tokens_per_s'.")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Write all rows to .csv, .json or .parquet (parquet needs pyarrow).")
@click.option("--plot", "plot", type=click.Path(dir_okay=False),
              help="Draw the charts that fit the rows to .png or .svg (needs matplotlib).")
@click.option("--check", is_flag=True, help="Exit 1 if any [expect] figure is not reproduced.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Rows evaluated per vectorised pass.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on large sweeps (default: when stderr is a terminal).")
@click.option("--hardware-file", "hardware_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Extra hardware profile CSV.")
@output_options
def run(scenario, where, sort, out, plot, check, chunk_rows, progress, hardware_files, fmt,
        as_json) -> None:
    """Run a what-if SCENARIO file: one plan, a sweep, or a Monte-Carlo run.

    Any input in the file may be a list or a range (swept: the cartesian product is evaluated
    in vectorised chunks) or a distribution ({low, high}, {mean, sd}, ...; a seeded Monte-Carlo
    run reports P10/P50/P90 and the chance of meeting the deadline and budget).  [expect]
    tables are checked and reported.  See scenarios/ for examples.

    \b
    planner run scenarios/gpt3.toml
    planner run scenarios/sweep_cluster.toml --where meets_deadline --sort cost_usd
    planner run scenarios/uncertain_budget.toml --json
    """
    from planner.whatif.runner import Options, run_path

    opts = Options(where=where, sort=sort, chunk_rows=chunk_rows, progress=progress,
                   hardware_files=tuple(hardware_files))
    path = Path(scenario)
    if not path.exists():
        raise PlannerError(f"scenario file {scenario!r} does not exist")
    machine = as_json or fmt != "table"
    if _can_stream(path, out, opts) and not (plot or check or machine):
        from planner.render.csvfast import write_csv
        streamed = [0]
        with open(out, "wb") as handle:
            def sink(columns: dict) -> None:
                write_csv(handle, columns, header=streamed[0] == 0)
                streamed[0] += len(next(iter(columns.values())))
            opts.sink = sink
            run_path(path, opts)
        click.echo(f"wrote {streamed[0]:,} rows to {out}", err=True)
        click.echo(f"{streamed[0]:,} rows streamed to {out} (a single-section sweep is written "
                   "chunk by chunk, not kept in memory)")
        return
    outcomes = run_path(path, opts)
    frame = None
    if out or plot or machine:
        from planner.whatif.runner import to_frame
        frame = to_frame(outcomes)
    if out:
        _write(Path(out), frame)
        click.echo(f"wrote {len(frame):,} rows to {out}", err=True)
    if plot:
        from planner.render.plots import write_plot
        write_plot(frame, plot)
    if machine:
        emit(_records(frame), fmt, as_json)
    else:
        click.echo(human(outcomes))
    if check and not all(c["ok"] for o in outcomes for c in o.expect):
        raise SystemExit(1)


def _can_stream(path: Path, out: str | None, opts) -> bool:
    """`--out FILE.csv` with one unsorted section: each evaluated chunk is appended to the file
    instead of held, so a sweep larger than memory still runs.  (Not when the rows are needed
    afterwards: --plot, --check or machine output; the caller checks those.)"""
    if not out or Path(out).suffix.lower() != ".csv" or opts.sort:
        return False
    from planner.whatif.scenario import load
    scenarios = load(path)
    return sum(bool(s.train) + bool(s.infer) + bool(s.optimal) for s in scenarios) == 1
