"""Scenario files, sweeps, uncertainty and compare (issue 5).  The shipped scenarios each name
the published figures they reproduce in an [expect] table; here every one must hold."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import assert_user_error
from planner.model import zoo
from planner.evaluate.columns import Cat
from planner.evaluate.train import evaluate as train_rows
from planner.resources import data_dir
from planner.whatif.runner import run_file, run_path

SHIPPED = sorted(data_dir("scenarios").glob("*.toml"))


def test_scenarios_are_installed_with_the_package():
    names = {p.name for p in SHIPPED}
    assert {"gpt3.toml", "local_7b_13b.toml", "deadline_70b.toml", "chinchilla_optimal.toml",
            "llama2_family.toml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_reproduces_its_sources(path):
    outcomes = run_path(path)
    assert outcomes
    for o in outcomes:
        for check in o.expect:
            assert check["ok"], check


def test_gpt3_scenario_numbers():
    # Brown et al. 2020 Table D.1; Narayanan et al. 2021 sec. 5.1; the seed's 4,000 GPUs.
    df, meta, _ = run_file(data_dir("scenarios") / "gpt3.toml")
    first, seed = df.iloc[0], df.iloc[1]
    assert first["flops"] == pytest.approx(3.14e23, rel=0.01)
    assert first["pf_days"] == pytest.approx(3640, rel=0.01)
    assert first["days"] == pytest.approx(34, rel=0.05)
    assert seed["gpus"] == 3984  # 3,983 devices rounded up to whole nodes of 8
    assert all(c["ok"] for c in meta["expect"])


def test_cli_run_check_and_json(cli):
    path = data_dir("scenarios") / "llama2_family.toml"
    r = cli("run", path, "--check")
    assert r.code == 0, r.err
    assert r.out.count("OK ") == 3 and "MISMATCH" not in r.out
    rows = cli("run", path, "--json").json()
    assert [row["model"] for row in rows] == ["llama-2-7b", "llama-2-13b", "llama-2-70b"]
    # Touvron et al. 2023b Table 2: 184,320 / 368,640 / 1,720,320 A100-hours, within 10%.
    for row, published in zip(rows, (184_320, 368_640, 1_720_320)):
        assert row["gpu_hours"] == pytest.approx(published, rel=0.10)


def test_check_fails_on_a_mismatch(cli, tmp_path):
    f = tmp_path / "wrong.toml"
    f.write_text('model = "gpt3-175b"\n[train]\ntokens = "300B"\nhardware = "a100-80gb"\n'
                 'gpus = 1024\nmfu = 0.4\n[expect]\nflops = 1e23\n')
    r = cli("run", f, "--check")
    assert r.code == 1 and "MISMATCH" in r.out


# --- sweeps ------------------------------------------------------------------------------------

def test_sweep_where_sort(cli):
    path = data_dir("scenarios") / "sweep_cluster.toml"
    rows = cli("run", path, "--where", "meets_deadline", "--sort", "cost_usd", "--json").json()
    assert rows and all(r["meets_deadline"] for r in rows)
    costs = [r["cost_usd"] for r in rows]
    assert costs == sorted(costs)
    all_rows = cli("run", path, "--json").json()
    assert len(all_rows) == 5 * 16 and len(rows) < len(all_rows)


def test_million_row_sweep_against_closed_form():
    """1,000,000 plans in one vectorised pass, each checked against the arithmetic of
    Narayanan et al. 2021 sec. 5.1 done here by hand: seconds = 6 N D / (GPUs x peak x MFU),
    with N the checkpoint's exact count (Llama 2: 6,738,415,616 and 68,976,648,192; Touvron et
    al. 2023 / HF safetensors) and the dense bf16 peaks of the datasheets (A100 312, H100 SXM
    989.5 TFLOPS; NVIDIA), and device-hours x the profile price."""
    exact = {"llama-2-7b": 6_738_415_616, "llama-2-70b": 68_976_648_192}
    peaks = {"a100-80gb": 312e12, "h100-sxm": 989.5e12}
    models = {n: zoo.get(n) for n in exact}
    devices = tuple(peaks)
    gpus = np.arange(64, 64 * 250_001, 64, dtype=float)
    n = 2 * len(devices) * len(gpus)
    assert n >= 1_000_000
    m, d, g = np.unravel_index(np.arange(n), (2, len(devices), len(gpus)))
    cols = {"model": Cat(tuple(models), m), "hardware": Cat(devices, d), "gpus": gpus[g],
            "tokens": 2e12, "mfu": 0.4}
    big = train_rows(cols, n, models)
    n_params = np.array([exact[k] for k in models])[m]
    peak = np.array([peaks[k] for k in devices])[d]
    expected = 6 * n_params * 2e12 / (gpus[g] * peak * 0.4)
    ok = np.equal(big["error"], None)
    assert ok.mean() > 0.99
    np.testing.assert_allclose(big["seconds"][ok], expected[ok], rtol=1e-9)
    np.testing.assert_allclose(big["gpu_hours"][ok], expected[ok] * gpus[g][ok] / 3600,
                               rtol=1e-9)
    assert (big["gpus_used"][ok] == gpus[g][ok]).all()


def test_out_files(cli, tmp_path):
    path = data_dir("scenarios") / "sweep_cluster.toml"
    out = tmp_path / "rows.csv"
    r = cli("run", path, "--out", out)
    assert r.code == 0, r.err
    import pandas as pd
    df = pd.read_csv(out)
    assert len(df) == 80 and {"gpus", "days", "cost_usd", "device"} <= set(df.columns)
    j = tmp_path / "rows.json"
    assert cli("run", path, "--out", j).code == 0
    assert len(json.loads(j.read_text())) == 80


def test_streamed_csv_has_every_row(cli, tmp_path):
    f = tmp_path / "big.toml"
    f.write_text('model = "llama-2-7b"\n[train]\ntokens = "2T"\nhardware = ["a100-80gb", '
                 '"h100-sxm"]\ngpus = {start = 8, stop = 400000, step = 8}\nmfu = 0.4\n')
    out = tmp_path / "big.csv"
    r = cli("run", f, "--out", out, "--chunk-rows", "30000")
    assert r.code == 0, r.err
    import pandas as pd
    df = pd.read_csv(out)
    assert len(df) == 100_000 and df["gpus"].iloc[-1] == 400_000


# --- uncertainty ---------------------------------------------------------------------------------

def test_monte_carlo_is_seeded_and_summarised():
    path = data_dir("scenarios") / "uncertain_budget.toml"
    a = run_path(path)[0]
    b = run_path(path)[0]
    assert a.rows == 20_000
    assert np.array_equal(a.columns["cost_usd"], b.columns["cost_usd"])  # same seed, same draws
    summary = {r["metric"]: r for r in a.summary}
    assert summary["days"]["p10"] < summary["days"]["p50"] < summary["days"]["p90"]
    assert 0 < summary["prob_meets_deadline"]["p50"] < 1
    mfu = a.columns["mfu"]
    assert mfu.min() >= 0.30 and mfu.max() <= 0.50          # uniform {low, high}
    price = a.columns["price_per_hour"]
    assert price.min() >= 0 and abs(price.mean() - 2.5) < 0.05  # normal, truncated at 0


# --- compare --------------------------------------------------------------------------------------

def test_compare(cli):
    path = data_dir("scenarios") / "llama2_family.toml"
    rows = cli("compare", path, "--json").json()
    flops = next(r for r in rows if r["metric"] == "flops")
    assert flops["Llama-2-70B vs base"] == pytest.approx(68.98 / 6.738 - 1, rel=0.01)
    assert "baseline: Llama-2-7B" in cli("compare", path).out
    assert_user_error(cli("compare", data_dir("scenarios") / "sweep_cluster.toml",
                          data_dir("scenarios") / "gpt3.toml"), "one plan per scenario")


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,fragments", [
    ('model = "gpt2"\n[train\ntokens = 1', ["malformed TOML"]),
    ('model = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpu = 8\n',
     ["line 5", "'gpu'", "gpus"]),
    ('model = "gpt2"\n[trian]\ntokens = 1\n', ["trian", "train"]),
    ('model = "gpt2"\n[train]\ntokens = "lots"\nhardware = "a100-80gb"\ngpus = 8\n',
     ["line 3", "lots"]),
    ('model = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n'
     'mfu = {low = 0.5, high = 0.3}\n', ["line 6", "low must be below high"]),
    ('model = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n'
     'price = {mean = 2, sd = -1}\n', ["sd must be >= 0"]),
    ('model = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\nmfu = 1.5\n',
     ["mfu", "out of range"]),
    ('model = "gpt2"\n[train]\ngpus = 8\nhardware = "a100-80gb"\n'
     'tokens = {start = 1, stop = 1e12, step = 1}\n', ["1,000,000,000,000 values",
                                                      "too large for memory"]),
    ('model = "gpt2"\n[train]\ntokens = {start = 1e9, stop = 1e14, step = 1e8}\n'
     'hardware = "a100-80gb"\ngpus = {start = 8, stop = 8e6, step = 8}\n',
     ["999,991,000,000 rows", "--max-rows 20,000,000", "narrow the ranges"]),
    ('model = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = "__import__(\'os\')"\n',
     ["cannot read"]),
    ('title = "nothing"\n', ["nothing to compute"]),
    ('model = "gpt-5"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n',
     ["unknown model"]),
])
def test_bad_scenarios_are_user_errors(cli, tmp_path, text, fragments):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    assert_user_error(cli("run", f), *fragments)


def test_where_is_not_code(cli):
    path = data_dir("scenarios") / "gpt3.toml"
    assert_user_error(cli("run", path, "--where", "__import__('os').system('echo hi')"),
                      "--where")
    assert_user_error(cli("run", path, "--where", "costs < 5"), "unknown column", "cost_usd")
    assert_user_error(cli("run", path, "--sort", "dayz"), "days")


def test_streaming_does_not_drop_check_or_json(cli, tmp_path):
    # A single-section sweep with --out CSV streams, unless the rows are needed afterwards:
    # --json must still print them and --check must still check the [expect] figures.
    f = tmp_path / "s.toml"
    f.write_text('model = "llama-2-7b"\n[train]\ntokens = "2T"\nhardware = "a100-80gb"\n'
                 'gpus = [256, 512]\nmfu = 0.4\n[expect]\nflops = 1e20\n')
    out = tmp_path / "s.csv"
    r = cli("run", f, "--out", out, "--json")
    assert r.code == 0 and len(r.json()) == 2
    assert cli("run", f, "--out", out, "--check").code == 1
    import pandas as pd
    assert len(pd.read_csv(out)) == 2


def test_a_swept_price_is_numeric_in_train(tmp_path):
    """`price` is a categorical key of [serve] (it picks devices there) but a number in [train]:
    a training sweep over prices prices each row (it crashed when the runner took every key
    categorical in any table as categorical in all)."""
    from planner.whatif.runner import Options, run_path
    path = tmp_path / "p.toml"
    path.write_text('[model]\nname = "gpt2"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
                    'gpus = 8\nmfu = 0.4\nprice = [0.0, 2.5]\n')
    out = run_path(path, Options(keep=True))[0]
    assert list(out.columns["price_per_hour"]) == [0.0, 2.5]
    assert out.columns["cost_usd"][0] == 0.0 and out.columns["cost_usd"][1] > 0
