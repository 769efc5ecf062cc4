"""Charts of a single answer: a small sweep around the plan, evaluated as a scenario (the same
evaluator, vectorised) and drawn by `planner.render.plots` (matplotlib, optional).

* training: the plan's GPU count x 1/16 .. x 16 (whole nodes), on its device and, when the
  plan sets nothing device-specific, on the A100 and H100 for comparison -> time against
  cluster size, and cost against time with the Pareto front;
* inference: context lengths 256 .. the model's context (powers of two and the plan's own)
  -> memory against context; every weight format -> decode tokens/s per quantisation.

Rows the evaluator cannot answer (the model does not fit that cluster) are left out of the
charts.  matplotlib is not thread-safe, so drawing holds `LOCK`.
"""
from __future__ import annotations

import threading
from pathlib import Path

from planner.errors import PlannerError

LOCK = threading.Lock()
COMPARE_DEVICES = ("a100-80gb", "h100-sxm")
DEVICE_SPECIFIC = ("tflops", "memory", "bandwidth", "tdp", "price", "precision")
MAX_CHART_ROWS = 2_000


def _frame(plan, kind: str, changes: dict):
    """The plan as a one-section scenario with `changes` (Sweeps) applied -> result rows."""
    from planner.whatif.runner import Options, run_scenario, to_frame
    from planner.whatif.scenario import Scenario
    section = {k: v for k, v in plan.given().items() if k not in ("model", "hardware_file")}
    section.update(changes)
    model = {"name": plan.model} if plan.model else {}
    sc = Scenario(title="page", path=Path("page.toml"), model=model, **{kind: section})
    df = to_frame(run_scenario(sc, Options(keep=True, max_rows=MAX_CHART_ROWS)))
    if "error" in df.columns:
        df = df[df["error"].isna()]
    if not len(df):
        raise PlannerError("nothing to chart: no plan around this one can be answered")
    return df


def _gpu_counts(record: dict) -> tuple[int, ...]:
    base, node = int(record["gpus"]), int(record["node_size"] or 1)
    counts = set()
    for k in range(-4, 5):
        g = base * 2.0 ** k
        g = max(1, round(g / node) * node) if g >= node else max(1, round(g))
        counts.add(int(g))
    return tuple(sorted(counts))


def _train_sweep(plan, record: dict):
    from planner.whatif.scenario import Sweep
    changes = {"gpus": Sweep(_gpu_counts(record))}
    given = plan.given()
    if given.get("hardware") and not any(k in given for k in DEVICE_SPECIFIC):
        from planner.hardware import names
        known = set(names())
        devices = [record["device"]] + [d for d in COMPARE_DEVICES
                                        if d in known and d != record["device"]]
        changes["hardware"] = Sweep(tuple(devices))
    return _frame(plan, "train", changes)


def train_time_vs_gpus(plan, record: dict):
    from planner.render import plots
    return plots.time_vs_gpus(_train_sweep(plan, record))


def train_cost_vs_time(plan, record: dict):
    from planner.render import plots
    return plots.cost_vs_time(_train_sweep(plan, record))


def infer_memory_vs_context(plan, record):
    from planner.model.resolve import resolve_model
    from planner.render import plots
    from planner.whatif.scenario import Sweep
    first = record[0] if isinstance(record, list) else record
    top = resolve_model(plan.model).context
    contexts = {2 ** k for k in range(8, 31) if 2 ** k <= top} | {top, int(first["context"])}
    changes = {"context": Sweep(tuple(sorted(contexts)))}
    if plan.quant == "all":
        changes["quant"] = first["quant"]
    return plots.memory_vs_context(_frame(plan, "infer", changes))


def infer_tokens_per_quant(plan, record):
    from planner.render import plots
    return plots.tokens_per_quant(_frame(plan, "infer", {"quant": "all"}))


def png(chart, plan, record) -> bytes:
    """Draw one chart to PNG bytes (matplotlib is imported here, under the lock)."""
    from planner.render import plots
    plots.require()
    with LOCK:
        return plots.to_png_bytes(chart.draw(plan, record))
