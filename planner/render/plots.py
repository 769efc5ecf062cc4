"""Charts of a scenario's result table (the pandas DataFrame `planner.scenario` produces).

matplotlib is an optional extra (``pip install 'planner[plot]'``); it is imported only inside
these functions, and `require()` turns its absence into a `PlannerError` saying how to get it.
Figures are built with `matplotlib.figure.Figure` directly (no pyplot): nothing global is
touched, nothing needs a display, and PNG/SVG are written by the Agg/SVG renderers.

One function per chart, each ``(df, ax=None) -> Figure``; given `ax` it draws there (so charts
can be panels of one figure, see `overview`):

- `cost_vs_time`      training: cost against wall-clock, one series per device, Pareto front
- `time_vs_gpus`      training: wall-clock against cluster size per device, deadline line
- `memory_vs_context` inference: weights / KV cache / overhead stacked against context length,
                      with the device's memory as a line
- `tokens_per_quant`  inference: decode tokens/s per quantisation, coloured by fit

`auto_plots(df)` picks the charts that make sense for the rows present; `overview(df)` draws
them as panels of one figure (what ``--plot FILE`` writes); `save(fig_or_list, path)` writes
.png or .svg.  Units on the axes are human ones: days (or hours/years), $ M (or $ k/$), GB (1e9).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.errors import PlannerError
from planner.whatif.pareto import pareto_front
from planner.units import DAY, HOUR, YEAR, format_bytes, format_duration, format_usd

__all__ = ["available", "require", "cost_vs_time", "time_vs_gpus", "memory_vs_context",
           "tokens_per_quant", "auto_plots", "overview", "save", "pareto_front", "CHARTS",
           "INSTALL_HINT", "write_plot", "choose", "to_png_bytes"]

INSTALL_HINT = "plotting needs matplotlib: pip install 'planner[plot]' (or pip install matplotlib)"
FORMATS = (".png", ".svg")
WIDE_SPAN = 20.0   # max/min ratio above which an axis goes logarithmic
FIGSIZE = (7.0, 4.4)
DPI = 110
FITS_COLOUR, NOFIT_COLOUR = "#2ca02c", "#d62728"
STACK_COLOURS = ("#4c72b0", "#dd8452", "#8c8c8c")  # weights, KV cache, overhead


# --- matplotlib, lazily ----------------------------------------------------------------------

def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise `PlannerError` with the install hint when matplotlib is missing."""
    if not available():
        raise PlannerError(INSTALL_HINT)


def _new_axes(ax):
    """(figure, axes): the given axes' figure, or a fresh stand-alone Figure (no pyplot)."""
    require()
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


# --- rows and units --------------------------------------------------------------------------

def _rows(df, kind: str, columns: tuple[str, ...], chart: str):
    """The rows of `kind` ("train"/"infer") having every column in `columns`, finite numbers."""
    if df is None or len(df) == 0:
        raise PlannerError(f"nothing to plot for {chart}: the result table is empty")
    d = df[df["kind"] == kind] if "kind" in df.columns else df
    what = {"train": "training", "infer": "inference", "serve": "serving"}[kind]
    if len(d) == 0:
        raise PlannerError(f"nothing to plot for {chart}: the result table has no {what} rows")
    missing = [c for c in columns if c not in d.columns]
    if missing:
        raise PlannerError(f"cannot draw {chart}: the result table has no column "
                           f"{', '.join(missing)}")
    num = [c for c in columns if d[c].dtype.kind in "fiu"]
    if num:
        d = d[np.isfinite(d[num].to_numpy(dtype=float)).all(axis=1)]
    if len(d) == 0:
        raise PlannerError(f"nothing to plot for {chart}: no {what} rows with finite "
                           f"{', '.join(columns)}")
    return d


@dataclass(frozen=True)
class _Unit:
    scale: float
    label: str


def _time_unit(seconds) -> _Unit:
    s = np.asarray(seconds, dtype=float)
    top = np.nanmax(s) if s.size else DAY
    low = np.nanmin(s) if s.size else DAY
    if top < 2 * DAY:
        return _Unit(HOUR, "hours")
    if low >= YEAR:
        return _Unit(YEAR, "years")
    return _Unit(DAY, "days")


def _usd_unit(usd) -> _Unit:
    top = float(np.nanmax(np.asarray(usd, dtype=float))) if len(usd) else 0.0
    for scale, label in ((1e9, "$ B"), (1e6, "$ M"), (1e3, "$ k")):
        if top >= scale:
            return _Unit(scale, label)
    return _Unit(1.0, "$")


def _tick(v: float, _pos=None) -> str:
    """Plain tick labels (12, 0.5, 1,500) instead of 10^x."""
    if v == 0 or not math.isfinite(v):
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _scale_axis(ax, axis: str, values, base: int = 10, wide_span: float = WIDE_SPAN) -> None:
    """Log scale when `values` span more than `wide_span`; plain tick labels either way."""
    from matplotlib import ticker
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    wide = v.size > 1 and v.max() / v.min() > wide_span
    target = ax.xaxis if axis == "x" else ax.yaxis
    if wide:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
        if base == 10 and v.max() / v.min() < 1e4:
            target.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        target.set_minor_formatter(ticker.NullFormatter())
    target.set_major_formatter(ticker.FuncFormatter(_tick))


def _colours(names) -> dict:
    """A stable colour per name (sorted), the same in every chart of one table."""
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(sorted(set(names)))}


def _first_finite(series) -> float:
    v = np.asarray(series, dtype=float)
    v = v[np.isfinite(v)]
    return float(v[0]) if v.size else float("nan")


def _style(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _mode(series):
    """Most frequent value (first in order on ties)."""
    counts = series.value_counts(sort=False)
    return counts.idxmax()


# --- charts ----------------------------------------------------------------------------------

def cost_vs_time(df, ax=None):
    """Cost against wall-clock time for each device; the Pareto front (plans no other plan
    beats on both time and cost, `planner.pareto`) ringed and joined by a dashed line."""
    d = _rows(df, "train", ("seconds", "cost_usd"), "cost against time")
    fig, ax = _new_axes(ax)
    tu, cu = _time_unit(d["seconds"]), _usd_unit(d["cost_usd"])
    x, y = d["seconds"] / tu.scale, d["cost_usd"] / cu.scale
    devices = d["device"] if "device" in d.columns else np.full(len(d), "plan")
    colour = _colours(devices)
    for dev in sorted(set(devices)):
        sel = np.asarray(devices == dev)
        order = np.argsort(x[sel].to_numpy())
        ax.plot(x[sel].to_numpy()[order], y[sel].to_numpy()[order], marker="o", ms=4, lw=1.2,
                color=colour[dev], label=str(dev))
    front = pareto_front(d["seconds"], d["cost_usd"])
    fx, fy = x[front].to_numpy(), y[front].to_numpy()
    order = np.argsort(fx)
    labelled = "gpus" in d.columns and front.sum() <= 8
    ax.plot(fx[order], fy[order], ls="--", lw=1.0, color="black", marker="o", ms=10,
            mfc="none", mec="black", zorder=3,
            label="Pareto front" + (" (labels: GPUs)" if labelled else ""))
    if labelled:
        for xi, yi, g in zip(fx, fy, d["gpus"][front]):
            ax.annotate(f"{g:,.0f}", (xi, yi), textcoords="offset points", xytext=(6, 5),
                        fontsize=7, color="0.25")
    _deadline_budget(ax, d, tu, cu, vertical_deadline=True)
    _scale_axis(ax, "x", x)
    _scale_axis(ax, "y", y)
    if ax.get_yscale() == "linear":
        ax.set_ylim(bottom=0)
    _style(ax, "Cost against wall-clock time" + _model_suffix(d), f"wall-clock ({tu.label})",
           f"cost ({cu.label})")
    ax.legend(fontsize=8)
    return fig


def _model_suffix(d) -> str:
    if "model" in d.columns and d["model"].nunique() == 1:
        return f" - {d['model'].iloc[0]}"
    return ""


def _deadline_budget(ax, d, tu: _Unit, cu: _Unit | None, vertical_deadline: bool) -> None:
    """Dotted lines at the plan's deadline (and budget) when the table has them."""
    if "deadline_seconds" in d.columns:
        dl = _first_finite(d["deadline_seconds"])
        if math.isfinite(dl):
            line = ax.axvline if vertical_deadline else ax.axhline
            line(dl / tu.scale, color="0.3", ls=":", lw=1.2,
                 label=f"deadline {format_duration(dl)}")
    if cu is not None and "budget_usd" in d.columns:
        b = _first_finite(d["budget_usd"])
        if math.isfinite(b):
            ax.axhline(b / cu.scale, color="0.5", ls="-.", lw=1.0,
                       label=f"budget {format_usd(b)}")


def time_vs_gpus(df, ax=None):
    """Wall-clock time against cluster size, one line per device; a line at the deadline."""
    d = _rows(df, "train", ("gpus", "seconds"), "time against cluster size")
    fig, ax = _new_axes(ax)
    tu = _time_unit(d["seconds"])
    devices = d["device"] if "device" in d.columns else np.full(len(d), "plan")
    colour = _colours(devices)
    missed = False
    drawn: dict[tuple, str] = {}
    for dev in sorted(set(devices)):
        g = d[np.asarray(devices == dev)].sort_values("gpus")
        # A line exactly under another (same peak and utilisation: H100 and H200) is drawn
        # dashed and wide, and its label says which it coincides with.
        key = tuple(np.round(np.concatenate([g["gpus"].to_numpy(dtype=float),
                                             g["seconds"].to_numpy(dtype=float)]), 6))
        same = drawn.get(key)
        ax.plot(g["gpus"], g["seconds"] / tu.scale, marker="o" if same is None else "s",
                ms=4 if same is None else 7, mfc="none" if same else None,
                lw=1.4 if same is None else 3.0, ls="-" if same is None else "--",
                color=colour[dev], label=str(dev) + (f" (same as {same})" if same else ""),
                zorder=2 if same is None else 1)
        drawn.setdefault(key, str(dev))
        if "meets_deadline" in g.columns and "deadline_seconds" in g.columns \
                and np.isfinite(_first_finite(g["deadline_seconds"])):
            late = ~g["meets_deadline"].astype(bool)
            ax.plot(g["gpus"][late], g["seconds"][late] / tu.scale, ls="none", marker="x",
                    ms=8, mew=1.5, color=colour[dev])
            missed = missed or bool(late.any())
    if missed:
        ax.plot([], [], ls="none", marker="x", color="0.3", label="misses the deadline")
    _deadline_budget(ax, d, tu, None, vertical_deadline=False)
    _scale_axis(ax, "x", d["gpus"], base=2, wide_span=4.0)
    _scale_axis(ax, "y", d["seconds"] / tu.scale)
    _style(ax, "Time against cluster size" + _model_suffix(d), "GPUs", f"wall-clock ({tu.label})")
    ax.legend(fontsize=8)
    return fig


def memory_vs_context(df, ax=None):
    """Inference memory stacked by component (weights, KV cache, overhead) against context
    length, for one model / device / quantisation / batch (the one with the most context
    lengths), with the device's memory as a horizontal line."""
    cols = ("context", "weights_bytes", "kv_cache_bytes", "overhead_bytes")
    d = _rows(df, "infer", cols, "memory against context")
    keys = [k for k in ("model", "device", "quant", "batch") if k in d.columns]
    if keys:
        d = d[_group_mask(d, keys, _memory_group(d, keys))]
    d = d.drop_duplicates("context").sort_values("context")
    fig, ax = _new_axes(ax)
    ctx = d["context"].to_numpy(dtype=float)
    parts = [d[c].to_numpy(dtype=float) / 1e9 for c in cols[1:]]
    labels = ["weights", "KV cache", "overhead"]
    ax.stackplot(ctx, *parts, labels=labels, colors=STACK_COLOURS, alpha=0.85)
    mem = _first_finite(d["device_memory_bytes"]) if "device_memory_bytes" in d.columns \
        else float("nan")
    if math.isfinite(mem):
        ax.axhline(mem / 1e9, color="black", lw=1.4, ls="--",
                   label=f"device memory {format_bytes(mem)}")
    # the engine's verdict when present (it may hold memory back for the OS), else the sum
    fits = d["fits"].astype(bool).to_numpy() if "fits" in d.columns else \
        np.sum(parts, axis=0) <= mem / 1e9
    fit = ctx[fits]
    if fit.size and fit.size < ctx.size:
        ax.axvline(fit.max(), color="0.35", ls=":", lw=1.0,
                   label=f"largest context that fits: {fit.max():,.0f}")
    _scale_axis(ax, "x", ctx, base=2, wide_span=4.0)
    if ctx.size > 1:
        ax.set_xlim(ctx.min(), ctx.max())
    ax.set_ylim(bottom=0)
    what = " / ".join(str(d[k].iloc[0]) for k in ("model", "device", "quant") if k in d.columns)
    batch = f", batch {int(d['batch'].iloc[0])}" if "batch" in d.columns else ""
    _style(ax, f"Memory against context - {what}{batch}", "context length (tokens)",
           "memory (GB)")
    handles, labs = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labs[::-1], fontsize=8, loc="upper left")
    return fig


def _memory_group(d, keys: list[str]) -> tuple:
    """The group to draw: most context lengths; among those, prefer one that fits at some
    lengths and not at others (the interesting crossing), then one that fits at all, then
    the largest weights (best quality)."""
    g = d.assign(_fits=d["fits"].astype(bool) if "fits" in d.columns else True)
    stats = g.groupby(keys, sort=False).agg(n=("context", "nunique"), some=("_fits", "any"),
                                            all=("_fits", "all"), w=("weights_bytes", "mean"))
    stats["rank"] = stats["some"].astype(int) + (stats["some"] & ~stats["all"]).astype(int)
    # ties: the largest weights (the best-quality quantisation) of the equally good groups
    best = stats.sort_values(["n", "rank", "w"], ascending=False, kind="stable").index[0]
    return best if isinstance(best, tuple) else (best,)


def _group_mask(d, keys: list[str], values: tuple) -> np.ndarray:
    sel = np.ones(len(d), dtype=bool)
    for k, v in zip(keys, values):
        sel &= np.asarray(d[k] == v)
    return sel


def _quant_order(d) -> list:
    """Quantisations from the largest weights to the smallest (fp16 ... Q2_K)."""
    if "weights_bytes" in d.columns:
        size = d.groupby("quant", sort=False)["weights_bytes"].mean()
        return list(size.sort_values(ascending=False).index)
    return list(dict.fromkeys(d["quant"]))


def tokens_per_quant(df, ax=None):
    """Bars of decode tokens/s per quantisation, green where the model fits in memory and red
    where it does not; one bar per device (hatched differently) when several are present.
    Uses the table's most common model, and its smallest context and batch."""
    d = _rows(df, "infer", ("quant",), "tokens/s per quantisation")
    if "decode_tokens_per_s" not in d.columns:
        raise PlannerError("cannot draw tokens/s per quantisation: the result table has no "
                           "column decode_tokens_per_s")
    if "model" in d.columns:
        d = d[d["model"] == _mode(d["model"])]
    for k in ("context", "batch"):
        if k in d.columns:
            d = d[d[k] == d[k].min()]
    fig, ax = _new_axes(ax)
    quants = _quant_order(d)
    devices = list(dict.fromkeys(d["device"])) if "device" in d.columns else ["-"]
    width = 0.8 / len(devices)
    hatches = ("", "//", "..", "xx", "\\\\", "++")
    top = np.nanmax(d["decode_tokens_per_s"].to_numpy(dtype=float), initial=0.0)
    for j, dev in enumerate(devices):
        g = d[d["device"] == dev] if "device" in d.columns else d
        g = g.drop_duplicates("quant").set_index("quant")
        xs = np.arange(len(quants)) + (j - (len(devices) - 1) / 2) * width
        speed = g["decode_tokens_per_s"].reindex(quants).to_numpy(dtype=float)
        fits = (g["fits"].reindex(quants).fillna(False).astype(bool).to_numpy()
                if "fits" in g.columns else np.ones(len(quants), dtype=bool))
        h = np.where(np.isfinite(speed), speed, 0.0)
        ax.bar(xs, h, width * 0.92, color=np.where(fits, FITS_COLOUR, NOFIT_COLOUR),
               hatch=hatches[j % len(hatches)], edgecolor="white", linewidth=0.5)
        present = g["decode_tokens_per_s"].reindex(quants).index.isin(g.index)
        for xi, s, here in zip(xs, speed, present):
            if here:
                ax.annotate(f"{s:.3g}" if np.isfinite(s) else "n/a",
                            (xi, s if np.isfinite(s) else 0.0), textcoords="offset points",
                            xytext=(0, 2), ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(quants)), [str(q) for q in quants],
                  rotation=30 if len(quants) > 6 else 0)
    ax.set_ylim(0, top * 1.12 if top > 0 else 1)
    from matplotlib.patches import Patch
    handles = [Patch(color=FITS_COLOUR, label="fits in memory"),
               Patch(color=NOFIT_COLOUR, label="does not fit")]
    if len(devices) > 1:
        handles += [Patch(facecolor="0.85", edgecolor="0.3", hatch=hatches[j % len(hatches)],
                          label=str(dev)) for j, dev in enumerate(devices)]
    ax.legend(handles=handles, fontsize=8)
    model = f" - {d['model'].iloc[0]}" if "model" in d.columns else ""
    dev = f" on {devices[0]}" if len(devices) == 1 and devices[0] != "-" else ""
    ctx = f", context {int(d['context'].iloc[0]):,}" if "context" in d.columns else ""
    _style(ax, f"Decode speed per quantisation{model}{dev}{ctx}", "quantisation",
           "decode tokens/s")
    ax.grid(False, axis="x")
    return fig


def _serve_series(d):
    """Serving rows grouped by device (and quantisation when it varies), sorted by rate."""
    keys = ["hardware"] + (["quant"] if "quant" in d.columns and d["quant"].nunique() > 1
                           else [])
    for name, g in d.groupby(keys, sort=True):
        label = " / ".join(str(x) for x in (name if isinstance(name, tuple) else (name,)))
        yield label, g.sort_values("rate_per_s")


def gpus_vs_rate(df, ax=None):
    """GPUs (and replicas) a deployment needs against the request rate, one line per device:
    the cheapest plan at each rate that meets the latency targets (`planner serve`)."""
    d = _rows(df, "serve", ("rate_per_s", "gpus"), "GPUs against load")
    fig, ax = _new_axes(ax)
    colour = _colours(d["hardware"])
    for label, g in _serve_series(d):
        ax.plot(g["rate_per_s"], g["gpus"], marker="o", ms=4, lw=1.4,
                color=colour.get(label.split(" / ")[0], None), label=label)
    _scale_axis(ax, "x", d["rate_per_s"])
    _scale_axis(ax, "y", d["gpus"], base=2, wide_span=4.0)
    _style(ax, "GPUs against load" + _model_suffix(d), "requests per second", "GPUs")
    ax.legend(fontsize=8)
    return fig


def latency_vs_throughput(df, ax=None):
    """Per-token latency (p99 TPOT, and p99 TTFT dashed) against the deployment's output
    tokens/s, one line per device, with the targets as dotted lines."""
    d = _rows(df, "serve", ("output_tokens_per_s", "tpot_seconds_p99"),
              "latency against throughput")
    fig, ax = _new_axes(ax)
    colour = _colours(d["hardware"])
    for label, g in _serve_series(d):
        c = colour.get(label.split(" / ")[0], None)
        g = g.sort_values("output_tokens_per_s")
        ax.plot(g["output_tokens_per_s"], g["tpot_seconds_p99"] * 1e3, marker="o", ms=4,
                lw=1.4, color=c, label=f"{label} TPOT p99")
        if "ttft_seconds_p99" in g.columns:
            ax.plot(g["output_tokens_per_s"], g["ttft_seconds_p99"] * 1e3, ls="--", lw=1.0,
                    marker="s", ms=3, color=c, label=f"{label} TTFT p99")
    for col, style in (("tpot_target_seconds", ":"), ("ttft_target_seconds", "-.")):
        if col in d.columns:
            target = _first_finite(d[col])
            if math.isfinite(target):
                ax.axhline(target * 1e3, color="0.4", ls=style, lw=1.0,
                           label=f"{col.split('_')[0].upper()} target {target * 1e3:,.0f} ms")
    _scale_axis(ax, "x", d["output_tokens_per_s"])
    _scale_axis(ax, "y", d["tpot_seconds_p99"] * 1e3)
    _style(ax, "Latency against throughput" + _model_suffix(d), "output tokens/s",
           "latency (ms)")
    ax.legend(fontsize=7)
    return fig


CHARTS = {
    "gpus_vs_rate": gpus_vs_rate,
    "latency_vs_throughput": latency_vs_throughput,
    "time_vs_gpus": time_vs_gpus,
    "cost_vs_time": cost_vs_time,
    "memory_vs_context": memory_vs_context,
    "tokens_per_quant": tokens_per_quant,
}


# --- choosing and saving ---------------------------------------------------------------------

def _varies(d, column: str, within: list[str]) -> bool:
    """True when `column` takes more than one value inside some group of `within`."""
    if column not in d.columns or len(d) < 2:
        return False
    keys = [k for k in within if k in d.columns]
    if not keys:
        return d[column].nunique() > 1
    return bool((d.groupby(keys, sort=False)[column].nunique() > 1).any())


def choose(df) -> list[str]:
    """Names of the charts that make sense for the rows present: a training sweep over GPUs
    -> time_vs_gpus; two or more training plans -> cost_vs_time; inference over context ->
    memory_vs_context; inference over quantisation or device -> tokens_per_quant."""
    if df is None or len(df) == 0:
        return []
    kind = df["kind"] if "kind" in df.columns else None
    names: list[str] = []
    train = df[kind == "train"] if kind is not None else df.iloc[0:0]
    if len(train):
        ok = np.isfinite(train["seconds"].to_numpy(dtype=float)) if "seconds" in train else []
        t = train[ok] if len(ok) else train
        if _varies(t, "gpus", ["device", "model"]):
            names.append("time_vs_gpus")
        if {"seconds", "cost_usd"} <= set(t.columns) and \
                len(t[["seconds", "cost_usd"]].drop_duplicates()) >= 2:
            names.append("cost_vs_time")
    serve = df[kind == "serve"] if kind is not None else df.iloc[0:0]
    if len(serve) and "rate_per_s" in serve.columns:
        s = serve[np.isfinite(serve["gpus"].to_numpy(dtype=float))] if "gpus" in serve else serve
        if _varies(s, "rate_per_s", ["hardware", "model"]):
            names += ["gpus_vs_rate", "latency_vs_throughput"]
    infer = df[kind == "infer"] if kind is not None else df.iloc[0:0]
    if len(infer):
        if _varies(infer, "context", ["model", "device", "quant", "batch"]):
            names.append("memory_vs_context")
        if "decode_tokens_per_s" in infer.columns and (
                _varies(infer, "quant", ["model"]) or _varies(infer, "device", ["model"])):
            names.append("tokens_per_quant")
    return names


def auto_plots(df) -> list[tuple[str, object]]:
    """[(name, Figure)] for the charts `choose` picks; [] when nothing varies."""
    require()
    return [(name, CHARTS[name](df)) for name in choose(df)]


def overview(df):
    """All the charts `choose` picks as panels of one figure (one column, two when there
    are three or more charts).  This is what ``--plot FILE`` writes."""
    require()
    names = choose(df)
    if not names:
        n = 0 if df is None else len(df)
        raise PlannerError(f"nothing to plot: the {n} result row(s) vary neither the GPU count, "
                           "the device, the context length nor the quantisation")
    from matplotlib.figure import Figure
    ncols = 1 if len(names) < 3 else 2
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(FIGSIZE[0] * ncols, FIGSIZE[1] * nrows), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        CHARTS[name](df, ax=ax)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


def _check_path(path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise PlannerError(f"cannot write a chart to {str(path)!r}: unknown image type "
                           f"{p.suffix or '(none)'!r} (valid: .png, .svg)")
    return p


def save(fig_or_list, path) -> list[Path]:
    """Write a Figure to `path` (.png or .svg, by its suffix).  A list of figures (or of
    (name, Figure) pairs from `auto_plots`) with more than one entry is written as numbered
    files beside `path`: ``plot.png`` -> ``plot-1-time_vs_gpus.png``, ``plot-2-...``.  For all
    charts in ONE file use ``save(overview(df), path)``.  Returns the paths written."""
    p = _check_path(path)
    items = fig_or_list if isinstance(fig_or_list, (list, tuple)) else [fig_or_list]
    items = [it if isinstance(it, tuple) else (f"chart{i + 1}", it) for i, it in enumerate(items)]
    if not items:
        raise PlannerError("no chart to save")
    if not p.parent.exists():
        raise PlannerError(f"cannot write {str(path)!r}: folder {str(p.parent)!r} does not exist")
    if len(items) == 1:
        targets = [p]
    else:
        targets = [p.with_name(f"{p.stem}-{i + 1}-{name}{p.suffix}")
                   for i, (name, _) in enumerate(items)]
    from planner.safe_io import atomic_path
    for (_, fig), target in zip(items, targets):
        with atomic_path(target, "chart file") as tmp:   # an old chart survives a failure
            fig.savefig(tmp, format=target.suffix[1:].lower(), dpi=DPI,
                        metadata={"Date": None} if target.suffix.lower() == ".svg" else None)
    return targets


def to_png_bytes(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (for embedding in the HTML report)."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_plot(df, path) -> Path:
    """What ``--plot FILE.png|svg`` does: check the file type and matplotlib first, then draw
    `overview(df)` (every chart that fits the rows, as panels of one figure) into `path`."""
    _check_path(path)
    require()
    return save(overview(df), path)[0]
