"""Charts of the scenario result table (planner.plots) and the Pareto front (planner.pareto).

The tables here are synthetic, built to the result-table schema the scenario engine produces;
no published figures are involved, so the checks are on structure (files written, series,
scales, units, colours) and on the Pareto invariants (property tests with hypothesis).
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.render import plots
from planner.errors import PlannerError
from planner.whatif.pareto import pareto_front

DAY = 86400.0


# --- synthetic result tables (also used by test_report.py) -------------------------------------

def train_table(devices=(("a100-80gb", 312e12, 1.8), ("h100-sxm", 989e12, 3.5)),
                gpus=(256, 512, 1024, 2048, 4096, 8192), deadline_days=30.0) -> pd.DataFrame:
    """A GPT-3-like training sweep: 3.14e23 FLOP over devices x cluster sizes."""
    rows = []
    for dev, peak, price in devices:
        for g in gpus:
            flops, mfu = 3.14e23, 0.4
            sec = flops / (g * peak * mfu) * (1 + 0.02 * np.log2(g / 256))
            gh = g * sec / 3600
            rows.append(dict(kind="train", scenario="gpt3 sweep", model="gpt3-175b", device=dev,
                             tokens=300e9, gpus=float(g), mfu=mfu, price_per_hour=price,
                             flops=flops, seconds=sec, days=sec / DAY, gpu_hours=gh,
                             cost_usd=gh * price, energy_kwh=gh * 0.4,
                             memory_per_gpu_bytes=2.8e12 / g + 20e9,
                             deadline_seconds=deadline_days * DAY if deadline_days else np.nan,
                             meets_deadline=bool(sec <= deadline_days * DAY)
                             if deadline_days else True,
                             budget_usd=np.nan, within_budget=True))
    return pd.DataFrame(rows)


BITS = {"fp16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56, "Q4_K_M": 4.85, "Q2_K": 3.35}


def infer_table(quants=("fp16", "Q8_0", "Q4_K_M", "Q2_K"), contexts=(2048, 8192, 32768),
                devices=(("rtx-4090", 24e9, 1008e9),)) -> pd.DataFrame:
    """A 13B model on local devices over quantisations x context lengths."""
    rows = []
    for dev, mem, bw in devices:
        for q in quants:
            for c in contexts:
                w = 13e9 * BITS[q] / 8
                kv, oh = c * 0.8e6, 0.5e9 + 0.05 * w
                tot = w + kv + oh
                rows.append(dict(kind="infer", scenario="13b local", model="llama-2-13b",
                                 device=dev, quant=q, context=c, batch=1, weights_bytes=w,
                                 kv_cache_bytes=kv, overhead_bytes=oh, total_bytes=tot,
                                 device_memory_bytes=mem, fits=bool(tot <= mem),
                                 decode_tokens_per_s=0.6 * bw / (w + kv),
                                 prefill_tokens_per_s=2000.0))
    return pd.DataFrame(rows)


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


# --- Pareto front ------------------------------------------------------------------------------

def _dominates(a, b) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


coords = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=40) \
    | st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(coords)
def test_pareto_front_points_are_not_dominated_and_others_are(points):
    x, y = (np.array(v, dtype=float) for v in zip(*points))
    mask = pareto_front(x, y)
    pts = list(zip(x, y))
    front = [p for p, m in zip(pts, mask) if m]
    assert front, "a finite set always has a non-empty front"
    for p, on in zip(pts, mask):
        if on:  # nothing at all dominates a front point
            assert not any(_dominates(q, p) for q in pts)
        else:   # something ON the front dominates every other point
            assert any(_dominates(q, p) for q in front)


def test_pareto_front_small_example_duplicates_and_nan():
    x = [1, 2, 3, 2, 4, 1, np.nan, 0]
    y = [5, 3, 1, 4, 4, 5, 0, np.inf]
    # (1,5) twice: both on; (2,3) on; (3,1) on; (2,4) dominated by (2,3); (4,4) by (3,1);
    # NaN and inf coordinates are never on the front and never dominate.
    assert pareto_front(x, y).tolist() == [True, True, True, False, False, True, False, False]
    assert pareto_front([], []).tolist() == []
    with pytest.raises(ValueError):
        pareto_front([1, 2], [1])


def test_pareto_front_is_vectorised_for_a_million_plans():
    rng = np.random.default_rng(0)
    x, y = rng.random(1_000_000), rng.random(1_000_000)
    mask = pareto_front(x, y)
    fx, fy = x[mask], y[mask]
    order = np.argsort(fx)
    assert np.all(np.diff(fy[order]) < 0)  # along the front, faster always costs more
    assert 1 <= mask.sum() < 100


# --- charts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("chart,table", [
    ("cost_vs_time", "train"), ("time_vs_gpus", "train"),
    ("memory_vs_context", "infer"), ("tokens_per_quant", "infer")])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_each_chart_renders_to_png_and_svg(mpl, tmp_path, chart, table, suffix):
    df = train_table() if table == "train" else infer_table()
    fig = plots.CHARTS[chart](df)
    [path] = plots.save(fig, tmp_path / f"{chart}{suffix}")
    assert path.stat().st_size > 10_000
    head = path.read_bytes()[:400]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in head


def test_cost_vs_time_units_log_scale_and_front(mpl):
    df = train_table()
    ax = plots.cost_vs_time(df).axes[0]
    assert ax.get_xlabel() == "wall-clock (days)"
    assert ax.get_ylabel() == "cost ($ M)"
    assert ax.get_xscale() == "log"          # 1.4 to 113 days: a wide span
    assert ax.get_yscale() == "linear"       # $0.88 M to $1.38 M: narrow
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"a100-80gb", "h100-sxm"} <= set(labels)
    front = next(line for line in ax.get_lines() if line.get_label().startswith("Pareto"))
    # the faster H100 plans are both quicker and cheaper here: the front is exactly them
    assert len(front.get_xdata()) == 6
    assert any(line.get_label().startswith("deadline") for line in ax.get_lines())


def test_time_vs_gpus_has_deadline_line_and_small_costs_use_dollars(mpl):
    df = train_table(deadline_days=30)
    ax = plots.time_vs_gpus(df).axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "GPUs"
    dl = [line for line in ax.get_lines() if line.get_label().startswith("deadline")]
    assert dl and np.allclose(dl[0].get_ydata(), 30.0)
    cheap = df.assign(cost_usd=df["cost_usd"] / 1e4)
    assert plots.cost_vs_time(cheap).axes[0].get_ylabel() == "cost ($)"
    no_deadline = train_table(deadline_days=None)
    ax = plots.time_vs_gpus(no_deadline).axes[0]
    assert not any(line.get_label().startswith("deadline") for line in ax.get_lines())


def test_memory_vs_context_stacks_components_under_device_memory(mpl):
    ax = plots.memory_vs_context(infer_table()).axes[0]
    assert len(ax.collections) == 3          # weights, KV cache, overhead
    mem = [line for line in ax.get_lines() if line.get_label().startswith("device memory")]
    assert mem and np.allclose(mem[0].get_ydata(), 24.0)   # 24e9 bytes in GB
    assert ax.get_ylabel() == "memory (GB)"
    # the chosen set-up is one that fits at short context and not at long (Q8_0 here)
    assert "Q8_0" in ax.get_title()


def test_tokens_per_quant_colours_by_fit(mpl):
    df = infer_table()
    ax = plots.tokens_per_quant(df).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fp16", "Q8_0", "Q4_K_M", "Q2_K"]
    colours = [tuple(np.round(p.get_facecolor()[:3], 3)) for p in ax.patches]
    red = tuple(np.round(np.array([0xd6, 0x27, 0x28]) / 255, 3))
    green = tuple(np.round(np.array([0x2c, 0xa0, 0x2c]) / 255, 3))
    assert colours == [red, green, green, green]   # 26 GB of fp16 weights do not fit in 24 GB


def test_auto_plots_choose_what_varies(mpl, tmp_path):
    assert plots.choose(train_table()) == ["time_vs_gpus", "cost_vs_time"]
    assert plots.choose(infer_table()) == ["memory_vs_context", "tokens_per_quant"]
    assert plots.choose(infer_table(quants=("Q4_K_M",))) == ["memory_vs_context"]
    assert plots.choose(infer_table(contexts=(4096,))) == ["tokens_per_quant"]
    two_devices = infer_table(quants=("Q4_K_M",), contexts=(4096,),
                              devices=(("rtx-4090", 24e9, 1008e9), ("m2-max-32gb", 32e9, 400e9)))
    assert plots.choose(two_devices) == ["tokens_per_quant"]
    assert len(plots.tokens_per_quant(two_devices).axes[0].patches) == 2
    one = train_table(devices=(("h100-sxm", 989e12, 3.5),), gpus=(1024,))
    assert plots.choose(one) == [] and plots.auto_plots(one) == []
    with pytest.raises(PlannerError, match="nothing to plot"):
        plots.overview(one)
    both = pd.concat([train_table(), infer_table()], ignore_index=True)
    named = plots.auto_plots(both)
    assert [n for n, _ in named] == ["time_vs_gpus", "cost_vs_time", "memory_vs_context",
                                     "tokens_per_quant"]
    written = plots.save(named, tmp_path / "plot.png")
    assert [p.name for p in written] == ["plot-1-time_vs_gpus.png", "plot-2-cost_vs_time.png",
                                         "plot-3-memory_vs_context.png",
                                         "plot-4-tokens_per_quant.png"]
    one_file = plots.write_plot(both, tmp_path / "all.svg")
    assert one_file.name == "all.svg" and one_file.stat().st_size > 50_000


def test_save_refuses_unknown_type_and_missing_folder(mpl, tmp_path):
    fig = plots.time_vs_gpus(train_table())
    with pytest.raises(PlannerError, match=r"\.pdf.*valid: \.png, \.svg"):
        plots.save(fig, tmp_path / "chart.pdf")
    with pytest.raises(PlannerError, match="does not exist"):
        plots.save(fig, tmp_path / "nope" / "chart.png")
    with pytest.raises(PlannerError, match="no inference rows"):
        plots.memory_vs_context(train_table())


def test_missing_matplotlib_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    assert not plots.available()
    with pytest.raises(PlannerError) as err:
        plots.require()
    assert str(err.value) == ("plotting needs matplotlib: pip install 'planner[plot]' "
                              "(or pip install matplotlib)")
    with pytest.raises(PlannerError, match=r"pip install 'planner\[plot\]'"):
        plots.cost_vs_time(train_table())
    with pytest.raises(PlannerError, match="needs matplotlib"):
        plots.write_plot(train_table(), "out.png")


def test_serving_sweep_charts(mpl, tmp_path):
    """A [serve] sweep over rates gets GPUs-against-load and latency-against-throughput
    (issue 12); the line for each device has one point per rate."""
    from planner.whatif.runner import run_path, to_frame
    from planner.resources import data_dir
    df = to_frame(run_path(data_dir("scenarios") / "serve_llama70b.toml"))
    assert plots.choose(df) == ["gpus_vs_rate", "latency_vs_throughput"]
    fig = plots.gpus_vs_rate(df)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in ("h100-sxm", "h200")]
    assert len(lines) == 2 and all(len(ln.get_xdata()) == 8 for ln in lines)
    path = plots.write_plot(df, tmp_path / "serve.png")
    assert path.stat().st_size > 10_000
