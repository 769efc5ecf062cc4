"""Charts of a single answer: a small sweep around the plan, evaluated as a scenario (the same
evaluator, vectorised) and drawn by `planner.render.plots` (matplotlib, optional).

* training: the plan's GPU count x 1/16 .. x 16 (whole nodes), on its device and, when the
  plan sets nothing device-specific, on the A100 and H100 for comparison -> time against
  cluster size, and cost against time with the Pareto front;
* inference: context lengths 256 .. the model's context (powers of two and the plan's own)
  -> memory against context; every weight format -> decode tokens/s per quantisation;
* serving: the rate x 1/8 .. x 8 on the plan's devices (or the chosen one, the A100 and H100)
  -> GPUs against the rate; the deployment found (or given) at rates up to 95% of its
  capacity, or one replica under 1, 2, 4, ... clients up to what its KV cache holds ->
  latency against throughput;
* parallel layouts: no sweep - the listed plans' step time split into its terms.

Rows the evaluator cannot answer (the model does not fit that cluster) are left out of the
charts.  matplotlib is not thread-safe, so drawing holds `LOCK`.
"""
from __future__ import annotations

import threading
from pathlib import Path

from planner.errors import PlannerError

LOCK = threading.Lock()
COMPARE_DEVICES = ("a100-80gb", "h100-sxm")
MAX_SERVE_DEVICES = 4               # lines of a serving chart
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


def _serve_rates(plan, record: dict):
    """The solver at 1/8 .. 8 times the rate, on each of the plan's devices (or the one it
    chose, the A100 and the H100)."""
    from planner.whatif.scenario import Sweep
    if plan.hardware:
        devices = tuple(dict.fromkeys(plan.hardware))[:MAX_SERVE_DEVICES]
    else:
        from planner.hardware import names
        known = set(names())
        devices = tuple(dict.fromkeys([record["hardware"]] + [d for d in COMPARE_DEVICES
                                                              if d in known]))
    rate = float(record["rate_per_s"])
    return _frame(plan, "serve", {"rate": Sweep(tuple(rate * 2.0 ** k for k in range(-3, 4))),
                                  "hardware": Sweep(devices)})


def _serve_loads(plan, record: dict):
    """This deployment (device, shape, precision, replicas) at other loads: rates up to 95%
    of its capacity, or - one replica under N clients - 1, 2, 4, ... clients up to as many
    sequences as its KV cache holds."""
    from planner.whatif.scenario import Sweep
    changes = {"hardware": record["hardware"], "tp": int(record["tp"]),
               "pp": int(record["pp"]), "quant": record["quant"]}
    if record["mode"] == "replica":
        most = int(record["max_sequences"])
        clients = {float(2 ** k) for k in range(0, 31) if 2 ** k <= most}
        clients |= {float(most), float(record["concurrency"])}
        changes["concurrency"] = Sweep(tuple(sorted(clients)))
    else:
        replicas = int(record["replicas"])
        top = float(record["replica_capacity_per_s"]) * replicas
        rates = {top * f for f in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)}
        changes.update(replicas=replicas, rate=Sweep(tuple(sorted(
            rates | {float(record["rate_per_s"])}))))
    return _frame(plan, "serve", changes)


def serve_gpus_vs_rate(plan, record: dict):
    from planner.render import plots
    return plots.gpus_vs_rate(_serve_rates(plan, record))


def serve_latency_vs_throughput(plan, record: dict):
    from planner.render import plots
    return plots.latency_vs_throughput(_serve_loads(plan, record))


def parallel_step_time(plan, plans: list):
    """Horizontal bars, one per listed layout (fastest on top), each split into the terms of
    its step time (`planner parallel`'s breakdown); the fastest one's error band as a
    whisker.  Nothing is computed here: the figures are the record's."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from planner.render.plots import DPI, FIGSIZE
    from planner.ui.summaries import layout_text
    if not plans:
        raise PlannerError("nothing to chart: no layout fits")
    scale, unit = (1e3, "ms") if max(p["step_seconds"] for p in plans) < 1 else (1.0, "s")
    terms = [t for t in plans[0]["breakdown"] if any(p["breakdown"].get(t, 0) > 0
                                                     for p in plans)]
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    rows = range(len(plans))
    left = [0.0] * len(plans)
    cmap = colormaps["tab10"]
    for j, term in enumerate(terms):
        widths = [p["breakdown"].get(term, 0.0) * scale for p in plans]
        ax.barh(rows, widths, left=left, color=cmap(j % 10), label=term, height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    best = plans[0]
    lo, hi = best.get("step_seconds_low"), best.get("step_seconds_high")
    if lo is not None and hi is not None:
        step = best["step_seconds"]
        ax.errorbar([step * scale], [0], xerr=[[(step - lo) * scale], [(hi - step) * scale]],
                    fmt="none", ecolor="0.25", elinewidth=1.0, capsize=4,
                    label=f"typical error ({best['band_rows']} held-out runs)")
    many = len({p["gpus"] for p in plans}) > 1

    def name(i: int, p: dict) -> str:
        extra = [f"{p['gpus']} GPUs"] if many else []
        extra += [f"mb {p['micro_batch']}", f"ZeRO {p['zero']}"]
        if p["recompute"] != "none":
            extra.append(f"recompute {p['recompute']}")
        return f"{i}. {layout_text(p)}\n{', '.join(extra)}"

    ax.set_yticks(list(rows), [name(i, p) for i, p in enumerate(plans, 1)], fontsize=8)
    ax.invert_yaxis()
    ax.set_title("Step time of each layout, by term", fontsize=11)
    ax.set_xlabel(f"step time ({unit})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def png(chart, plan, record) -> bytes:
    """Draw one chart to PNG bytes (matplotlib is imported here, under the lock)."""
    from planner.render import plots
    plots.require()
    with LOCK:
        return plots.to_png_bytes(chart.draw(plan, record))
