"""`planner train`: training FLOPs, time, cost, energy and memory; solves for devices or tokens.

A thin shell: the options come from the `TRAIN` key table, the answer from the training
evaluator at n = 1 (`planner.evaluate.train`), the same one a scenario's [train] rows use.
"""
from __future__ import annotations

import math

import click

from planner.estimate.parallel.terms import TERMS
from planner.plan.train import TRAIN, TrainPlan
from planner.render.output import emit, output_options
from planner.units import (MONTH, format_bytes, format_count, format_duration, format_flops,
                           format_int, format_usd)


@click.command()
@TRAIN.options
@output_options
def train(fmt, as_json, **values) -> None:
    """Training FLOPs, time, cost, energy and memory per device of MODEL on --tokens.

    Give --gpus N, --deadline D (the smallest cluster, in whole nodes, that finishes in time
    and holds the model) or --budget USD (the tokens it buys).  Instead of MODEL, a bare
    --flops F (or --params N --tokens D) works with any device, e.g.

    \b
      planner train gpt3-175b --tokens 300B --hardware a100-80gb --gpus 1024
      planner train llama-2-70b --tokens 2T --hardware h100-sxm --deadline 30d
      planner train --flops 3.14e23 --tflops 10 --mfu 1 --deadline "3 months"

    The layout rule: of the (tp, pp) layouts that fit in memory, one that uses every device,
    then the least model parallelism tp x pp, then the fewest pipeline stages; devices a layout
    cannot use sit idle and are priced.
    """
    from planner.evaluate.train import evaluate_one

    row = evaluate_one(TrainPlan.from_cli(values))
    for line in (row["warning"] or "").split("\n"):  # one line per warning (issue 14)
        if line:
            click.echo(f"Warning: {line}", err=True)
    rec = record(row)
    emit(rec, fmt, as_json, lambda: human(rec))


def record(row: dict) -> dict:
    """The `--json` record of one training row: every column of the evaluator (base units),
    plus the nested `memory`, `layout` and `memory_assumptions` of earlier versions."""
    rec = dict(row)
    has_memory = row["memory_per_gpu_bytes"] is not None
    rec["memory"] = ({k: row[f"memory_{k}_bytes"] for k in
                      ("weights", "gradients", "optimizer", "activations", "buffers")
                      if row[f"memory_{k}_bytes"] is not None} if has_memory else None)
    rec["layout"] = ({k: _int(row[k]) for k in ("tp", "pp", "dp")} if has_memory else None)
    for k in ("gpus", "gpus_used", "gpus_idle", "tp", "pp", "dp", "cp", "ep", "interleave",
              "global_batch", "min_gpus_for_memory",
              "min_memory_tp", "min_memory_pp", "min_memory_dp", "node_size", "zero",
              "micro_batch", "seq_len"):
        rec[k] = _int(row[k])
    rec["fits_in_memory"] = row["fits_memory"]
    rec["min_memory_layout"] = ({"tp": rec["min_memory_tp"], "pp": rec["min_memory_pp"],
                                 "dp": rec["min_memory_dp"]}
                                if rec["min_gpus_for_memory"] is not None else None)
    rec["memory_assumptions"] = ({
        "optimizer_mode": row["optimizer_mode"], "zero": rec["zero"],
        "micro_batch": rec["micro_batch"], "seq_len": rec["seq_len"],
        "sequence_parallel": bool(row["sequence_parallel"]),
        "activations": _activations_note() if row["step_seconds"] is None else
        "Korthikanti et al. 2022 Table 2 generalised to GQA, gated MLPs, MoE, FlashAttention and "
        "CP, most loaded pipeline stage, logits and framework buffers counted "
        "(planner/estimate/parallel/memory.py)"} if has_memory else None)
    rec["month_hours"] = MONTH / 3600
    return rec


def _int(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else int(v)


def _activations_note() -> str:
    from planner.estimate.memory import ACTIVATIONS_NOTE
    return ACTIVATIONS_NOTE


def _layout(r: dict) -> str:
    """``tp 8 x pp 4 x dp 32 x cp 1, ep 1, micro-batch 1 (48 per step), interleave 1, ...``."""
    return (f"tp {r['tp']} x pp {r['pp']} x dp {r['dp']} x cp {r['cp']}, ep {r['ep']}, "
            f"micro-batch {r['micro_batch']}, interleave {r['interleave']}, sequence parallel "
            f"{'on' if r['sequence_parallel'] else 'off'}, recompute {r['recompute']}, "
            f"ZeRO-{r['zero']}, {r['precision']}")


def _band(r: dict, col: str, fmt) -> list[tuple[str, str]]:
    """A row ``typically 31.9 days to 39.4 days (-8% / +14%, 13 held-out published runs)``
    under the figure, where it is predicted and its estimator has a band
    (planner/evaluate/bands.py); no row otherwise."""
    from planner.evaluate.bands import describe
    text = describe(r, col, fmt)
    return [("", text)] if text else []


def human(r: dict) -> str:
    """The table format: inputs echoed, results, assumptions named."""
    def money(x):
        return format_usd(x) if x is not None else "n/a (no price; give --price)"

    rows: list[tuple[str, str]] = []
    what = r["model"] or ("bare FLOPs budget" if r["params"] is None else
                          f"{format_count(r['params'])} parameters")
    rows.append(("model", what + (f" ({format_count(r['params'])} params"
                                  + (", non-embedding" if r["non_embedding"] else "") + ")"
                                  if r["model"] else "")))
    if r["tokens"]:
        rows.append(("tokens", format_count(r["tokens"])
                     + ("  (bought by the budget)" if r["tokens_solved_from_budget"] else "")))
    method = {"6nd": "6·N·D (Kaplan 2020; GPT-3 Table D.1)",
              "exact": "exact count (Hoffmann et al. 2022 App. F)", "given": "given"}
    rows.append(("training FLOPs", f"{format_flops(r['flops'])}  [{method[r['flops_method']]}]"
                 f" = {r['pf_days']:,.4g} PF-days"))
    if r["recompute"] != "none":
        rows.append(("hardware FLOPs", f"{format_flops(r['hardware_flops'])}  "
                     f"[{r['recompute']} recompute]"))
    rows.append(("device", f"{r['device']}, {r['precision']} dense peak "
                 f"{r['peak_flops_per_gpu'] / 1e12:,.4g} TFLOPS"))
    idle = f"; {format_int(r['gpus_idle'])} idle" if r["gpus_idle"] else ""
    rows.append(("devices", f"{format_int(r['gpus'])}  ({r['gpus_how']}{idle})"))
    rows.append(("utilisation", f"MFU {r['mfu']:.3g}, HFU {r['hfu']:.3g}  "
                 f"({r['utilisation_source']})"))
    rows += _band(r, "mfu", lambda x: f"{x:.2g}")
    predicted = r["step_seconds"] is not None
    if predicted:
        rows.append(("layout", _layout(r)))
        total = r["step_seconds"]
        parts = sorted(((r[f"time_{t}_seconds"] or 0.0, t) for t in TERMS), reverse=True)
        where = ", ".join(f"{t} {100 * v / total:.0f}%" for v, t in parts if v > 0.005 * total)
        rows.append(("step", f"{format_duration(total)} per step of {format_int(r['global_batch'])}"
                     f" x {format_int(r['seq_len'])} tokens, {r['tokens_per_s']:,.0f} tokens/s, "
                     f"{r['tflops_per_gpu']:,.4g} TFLOP/s per device ({where})"))
    if r["goodput"] is not None:
        rows.append(("goodput", f"{r['goodput']:.1%} of wall-clock trains (failures, checkpoints "
                     "and restarts; Daly 2006; Llama 3's failure rate) - time and cost include "
                     "it"))
    if r["deadline_seconds"]:
        rows.append(("deadline", format_duration(r["deadline_seconds"])))
    rows.append(("wall-clock", f"{format_duration(r['seconds'])}  ({r['days']:,.4g} days)"))
    rows += _band(r, "seconds", format_duration)
    rows.append(("device time", f"{format_int(r['gpu_hours'])} device-hours = "
                 f"{r['gpu_days']:,.4g} device-days = {r['gpu_months']:,.4g} device-months "
                 f"(730 h)"))
    if r["price_per_hour"] is not None:
        rows.append(("cost", f"{money(r['cost_usd'])}  at ${r['price_per_hour']:.2f}/device-hour"
                     f" ({r['price_source']})"))
    else:
        rows.append(("cost", money(None)))
    if r["budget_usd"] is not None:
        rows.append(("budget", format_usd(r["budget_usd"])))
    if r["energy_kwh"] is not None:
        e = f"{format_int(r['energy_kwh'])} kWh  (TDP {r['tdp_w']:g} W x device-hours x PUE " \
            f"{r['pue']:g})"
        rows.append(("energy", e))
    if r["co2_kg"] is not None:
        rows.append(("CO2", f"{r['co2_kg'] / 1e3:,.4g} t  ({r['grid_kg_per_kwh']:g} kg/kWh)"))
    if r["memory_per_gpu_bytes"] is not None:
        m, lay = r["memory"], r["layout"]
        fit = "" if r["fits_in_memory"] is None else "  fits in "
        cap = (f"{format_bytes(r['device_memory_bytes'])} "
               f"({format_bytes(r['device_memory_bytes'], binary=True)})"
               if r["device_memory_bytes"] else "")
        rows.append(("memory / device", f"{format_bytes(r['memory_per_gpu_bytes'])}{fit}{cap}"
                     f"  (tp={lay['tp']}, pp={lay['pp']}, dp={lay['dp']})"))
        rows.append(("  of which", ", ".join(f"{k} {format_bytes(v)}" for k, v in m.items())))
        a = r["memory_assumptions"]
        rows.append(("  assuming", f"{a['optimizer_mode']}; ZeRO-{a['zero']} over dp; "
                     f"micro-batch {a['micro_batch']} x {a['seq_len']:,} tokens; recompute "
                     f"{r['recompute']}; sequence parallel "
                     f"{'on' if a['sequence_parallel'] else 'off'}; {a['activations']}"))
    if r["min_gpus_for_memory"] is not None and not predicted:
        ml = r["min_memory_layout"]
        rows.append(("min devices (memory)", f"{format_int(r['min_gpus_for_memory'])}  "
                     f"(tp={ml['tp']}, pp={ml['pp']}, dp={ml['dp']})"))
    elif r["model"] is None:
        rows.append(("memory", "not estimated (needs a MODEL architecture)"))
    width = max(len(k) for k, _ in rows) + 2
    from planner.plan.defaults import note
    notes = " ".join([note("month"), note("predicted" if predicted else "perfect_scaling")]
                     + ([note("idle")] if r["gpus_idle"] else []))
    return "\n".join(f"{k:<{width}}{v}" for k, v in rows) + "\n\n" + notes
