"""`planner compare A.toml B.toml ...`: plans side by side with their differences."""
from __future__ import annotations

import click
import numpy as np

from planner.errors import PlannerError
from planner.render.output import emit, output_options, text_table

# Metrics compared, in order, with a human formatter.
METRICS = ("params", "tokens", "flops", "gpus", "days", "gpu_hours", "cost_usd", "energy_kwh",
           "memory_per_gpu_bytes", "weights_bytes", "kv_cache_bytes", "total_bytes",
           "decode_tokens_per_s", "prefill_tokens_per_s", "loss")


def compare_rows(outcomes) -> tuple[list[str], list[dict]]:
    """One record per metric: the value of each plan, and each plan's absolute and relative
    difference from the first (the baseline)."""
    plans = []
    for o in outcomes:
        if o.rows != 1:
            raise PlannerError(f"compare needs one plan per scenario; {o.scenario.title!r} "
                               f"[{o.kind}] has {o.rows:,} rows (a sweep: use planner run)")
        plans.append((o.scenario.title, o.columns))
    titles = [t for t, _ in plans]
    if len(set(titles)) != len(titles):
        titles = [f"{i + 1}: {t}" for i, t in enumerate(titles)]
    rows = []
    for m in METRICS:
        if not all(m in cols for _, cols in plans):
            continue
        values = [float(cols[m][0]) for _, cols in plans]
        if not any(np.isfinite(values)):
            continue
        base = values[0]
        rec = {"metric": m}
        for t, v in zip(titles, values):
            rec[t] = v
        for t, v in zip(titles[1:], values[1:]):
            rec[f"{t} - base"] = v - base
            rec[f"{t} vs base"] = (v - base) / base if base else float("nan")
        rows.append(rec)
    if not rows:
        raise PlannerError("the scenarios share no metric to compare (train with train, infer "
                           "with infer)")
    return titles, rows


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--hardware-file", "hardware_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Extra hardware profile CSV.")
@output_options
def compare(scenarios, hardware_files, fmt, as_json) -> None:
    """Put plans side by side: SCENARIOS are TOML files (one plan each, or one file with several
    [[scenario]] tables).  The first plan is the baseline; the others show their absolute and
    relative differences from it.

    \b
    planner compare scenarios/llama2_family.toml
    """
    from planner.whatif.runner import Options, run_path
    from pathlib import Path
    opts = Options(hardware_files=tuple(hardware_files))
    outcomes = []
    for s in scenarios:
        if not Path(s).exists():
            raise PlannerError(f"scenario file {s!r} does not exist")
        outcomes.extend(run_path(s, opts))
    if len(outcomes) < 2:
        raise PlannerError("compare needs at least two plans (two files, or [[scenario]] "
                           "tables in one file)")
    titles, rows = compare_rows(outcomes)

    def human() -> str:
        from planner.render.cells import format_value, header
        table = []
        for r in rows:
            line = {"metric": header(r["metric"])}
            for t in titles:
                line[t] = format_value(r["metric"], r[t])
            for t in titles[1:]:
                rel = r[f"{t} vs base"]
                line[f"{t} vs base"] = f"{rel:+.1%}" if np.isfinite(rel) else "n/a"
            table.append(line)
        return text_table(table) + f"\n\nbaseline: {titles[0]}"

    emit(rows, fmt, as_json, human)
