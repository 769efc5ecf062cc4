"""Issue 14: `planner validate` over the shipped reference table of published figures, the error
bands built from it, the consistency warnings, and the README's generated accuracy table.

The reference table is planner/data/reference/published_*.csv; every row names its source
(paper and table, model card, benchmark README) and the planner inputs that reproduce it.  The
validation runs once for this module (`rows` fixture); no expected value is computed by the
code under test: the published figures are the expected values.
"""
from __future__ import annotations

import csv
import importlib.util
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_user_error
from planner.evaluate import bands, validate as V
from planner.resources import data_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def rows():
    return V.run()


@pytest.fixture(scope="module")
def summary(rows):
    return {s["area"]: s for s in V.summary(rows)}


def _by_id(rows):
    return {r.id: r for r in rows}


def _source_rows(name):
    return list(csv.DictReader((data_dir("data") / name).read_text().splitlines()))


# --- the table -------------------------------------------------------------------------------

def test_every_row_is_answered_by_the_public_api(rows):
    """Every published row gets a finite prediction; none raises - except MLPerf server runs
    the serving model says the deployment cannot sustain (its capacity is 6-25 % under the
    measured rate: a wrong prediction, shown as FAILED in `planner validate`, not hidden).
    As of 2026-11-27 that is 5 of the 11 server runs (R002 R006 R010 R016 R018)."""
    failed = [(r.id, r.failure) for r in rows if r.failure or not math.isfinite(r.predicted)]
    unsustained = [i for i, f in failed if f and "more than the deployment sustains" in f]
    assert [x for x in failed if x[0] not in unsustained] == []
    assert {i.split("-")[1] for i in unsustained} <= {"R002", "R006", "R010", "R016", "R018"}
    assert len(rows) >= 700


def test_rows_are_well_formed(rows):
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert r.source.strip(), r.id
        assert r.published > 0, r.id
        assert r.area in V.AREAS and r.command in V.COMPUTE
        assert not r.circular or r.circular_inputs, f"{r.id}: a circular row names its inputs"
        assert not (r.fit and r.circular), r.id
    # the named sources are all there
    have = " ".join(r.source for r in rows)
    for needle in ("Table D.1", "Hoffmann et al. 2022", "Narayanan et al. 2021", "Touvron et al.",
                   "Dubey et al. 2024", "OPT", "BLOOM", "num_parameters", "GGUF", "llama.cpp",
                   "XiongjieDai", "Korthikanti", "llm-foundry", "Rajbhandari"):
        assert needle in have, needle


def test_published_values_agree_with_their_source_tables(rows):
    """The rows transcribed from the measurement tables already in the package carry the same
    figures and fit flags (so the two cannot drift apart)."""
    by = _by_id(rows)
    for i, r in enumerate(_source_rows("megatron_table1.csv")):
        row = by[f"train-narayanan-{r['params_billion']}b"]
        assert row.published == float(r["tflops_per_gpu"]) and row.fit == (i < 5)
    for r in _source_rows("llmfoundry_mpt_benchmarks.csv"):
        row = by[f"train-mpt-{r['model']}-s{r['seq_len']}-{r['n_gpus']}x{r['gpu']}"]
        assert row.published == float(r["tokens_per_s_per_gpu"])
    for r in _source_rows("llama_runs.csv"):
        row = by[f"train-{r['model']}-gpu-hours"]
        assert row.published == float(r["gpu_hours"]) and row.fit == (r["fit"] == "true")
    for r in _source_rows("megatron_korthikanti2022.csv"):
        mode = "sp-selective" if r["sequence_parallel"] == "true" else "full"
        assert by[f"train-korthikanti-{r['model'].lower()}-{mode}"].published == \
            float(r["iteration_seconds"])
    for r in _source_rows("reference/local_speed_xiongjiedai.csv"):
        if r["n_devices"] == "1" and r["status"] == "ok":
            assert by[f"decode-{r['row_id']}"].published == float(r["gen_tokens_per_s"])
            assert by[f"prefill-{r['row_id']}"].published == float(r["prompt_tokens_per_s"])


def test_fit_flags_match_the_fits(rows):
    """Rows marked fit are exactly those the constants were fitted on: the kappa of each
    framework (planner/estimate/parallel/reference.py) and the llama.cpp step model
    (decode_fit: single-device rows that ran, less the flagged anomalies)."""
    from planner.estimate import decode_fit
    from planner.estimate.parallel import reference
    fitted = {}
    for run in reference.runs():
        fitted[run.framework] = fitted.get(run.framework, 0) + run.fit
    for fw, count in fitted.items():
        assert sum(r.fit for r in rows if r.estimator == f"parallel/{fw}") == count, fw
    lr = decode_fit.load_rows()
    assert sum(r.fit for r in rows if r.estimator.startswith("decode/")) == int(lr.use_tg.sum())
    assert sum(r.fit for r in rows if r.estimator.startswith("prefill/")) == int(lr.use_pp.sum())
    # Chinchilla Table 3 is what approach 1's power law is fitted to
    assert all(r.fit for r in rows if r.id.startswith("optimal-") and "chinchilla" not in r.id)


def test_kept_out_rows_are_not_in_the_figures(rows, summary):
    for area, s in summary.items():
        mine = [r for r in rows if r.area == area]
        counted = [r for r in mine if not (r.fit or r.circular or r.excluded or r.failure)]
        assert s["count"] == len(counted)
        assert s["failed_rows"] == len([r for r in mine if r.failure])
        if counted:
            assert s["median_error"] == pytest.approx(np.median([abs(r.error) for r in counted]))


# --- published figures, with their tolerance --------------------------------------------------

@pytest.mark.parametrize("row_id, published, tolerance", [
    # Brown et al. 2020 Table D.1: GPT-3 175B on 300B tokens, 3.14e23 FLOP; within 0.5 %
    ("flops-d1-gpt3-175b", 3.14e23, 0.005),
    # Dubey et al. 2024 sec. 3.2.1: Llama 3 405B, 3.8e25 FLOP; within 1 %
    ("flops-llama-3.1-405b-6nd", 3.8e25, 0.01),
    # Narayanan et al. 2021 Table 1, held-out 145.6B row: 148 TFLOP/s per GPU; within 5 %
    ("train-narayanan-145.6b", 148, 0.05),
    # Touvron et al. 2023b Table 2: Llama 2 7B, 184,320 A100 GPU-hours; within 15 % (issue 10)
    ("train-llama-2-7b-gpu-hours", 184320, 0.15),
    # Rajbhandari et al. 2020 Figure 1, P_os: 31.4 GB per device; within 1 %
    ("memory-zero-figure1-stage1", 31.4e9, 0.01),
    # TheBloke/Llama-2-7B-GGUF: Q4_K_M 4.08 GB; within 0.5 %
    ("weights-llama-2-7b-Q4_K_M", 4.08e9, 0.005),
    # llama.cpp discussion #4167: M1 Max, Llama-2-7B Q4_0 tg128 61.19 t/s; within 12 %
    ("decode-llama.cpp-4167-m1-max-32gb", 61.19, 0.12),
])
def test_named_rows(rows, row_id, published, tolerance):
    r = _by_id(rows)[row_id]
    assert r.published == published
    assert r.predicted == pytest.approx(published, rel=tolerance)


def test_shortfalls_are_reported_not_hidden(rows):
    """OPT-175B's published 809,472 GPU-hours (Touvron et al. 2023a Table 15) are twice what
    its own 147 TFLOP/s implies: the circular row shows it (about -41 %), the prediction
    more so; both are listed with their errors, neither is dropped."""
    by = _by_id(rows)
    assert by["train-opt-175b-147-tflops"].circular
    assert by["train-opt-175b-147-tflops"].error < -0.3
    assert by["train-opt-175b-gpu-hours"].counted


# --- the recorded figures and the README ------------------------------------------------------

def test_median_errors_within_recorded(summary):
    """Fails when an area's median (or worst) held-out error grows past the figure recorded in
    tests/data/validation_recorded.toml, or its row count changes (re-record with
    `python docs/build_readme.py --record`)."""
    recorded = tomllib.loads((DATA / "validation_recorded.toml").read_text())["area"]
    assert set(recorded) == set(V.AREAS)
    for area, rec in recorded.items():
        s = summary[area]
        assert s["count"] == rec["count"], area
        if rec["count"]:
            assert s["median_error"] <= rec["median"], (area, s["median_error"], rec["median"])
            assert s["worst_error"] <= rec["worst"], (area, s["worst_error"], rec["worst"])


def _builder():
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "docs" /
                                                  "build_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_table_is_current(rows):
    """README.md's accuracy table is `planner validate --format markdown` as of now (regenerate
    with `python docs/build_readme.py`)."""
    from planner.cli.validate import markdown
    b = _builder()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert b.current(readme) == b.block(markdown(V.summary(rows))), \
        "README.md's accuracy table is stale: run python docs/build_readme.py"


def test_builder_adds_markers_when_absent():
    b = _builder()
    out = b.replace("# title\n\ntext\n", "| a |")
    assert out.startswith("# title") and b.BEGIN in out and out.rstrip().endswith(b.END)
    assert b.replace(out, "| b |").count(b.BEGIN) == 1 and "| b |" in b.replace(out, "| b |")


# --- the command ------------------------------------------------------------------------------

def test_cli_json_area(cli):
    r = cli("validate", "--area", "flops", "--json")
    assert r.code == 0
    d = r.json()
    assert {x["area"] for x in d["rows"]} == {"flops"}
    for x in d["rows"]:
        assert x["error"] == pytest.approx(x["predicted"] / x["published"] - 1)
        assert "inputs" in x and "source" in x
    assert [s["area"] for s in d["summary"]] == ["flops"]


def test_cli_area_is_case_blind_for_rows_and_summary(cli):
    d = cli("validate", "--area", " FLOPs ", "--json").json()
    assert {x["area"] for x in d["rows"]} == {"flops"}
    assert [s["area"] for s in d["summary"]] == ["flops"]


def test_cli_summary_lists_every_area(cli):
    r = cli("validate", "--area", "training-memory", "--area", "serving-latency")
    assert r.code == 0
    assert "training memory" in r.out and "serving latency" in r.out
    assert "memory-zero-figure1-stage0" in r.out


def test_cli_unknown_area(cli):
    assert_user_error(cli("validate", "--area", "speed"), "area", "local-speed")


# --- error bands ------------------------------------------------------------------------------

def test_training_bands_match_the_validation(rows):
    """planner/data/error_bands.toml's training bands are what the held-out rows give now
    (regenerate with `python -m planner.evaluate.bands --write`)."""
    fresh = bands.validation_bands(rows)
    assert fresh, "no training bands"
    for name, e in fresh.items():
        shipped = bands.band(name)
        assert shipped is not None, name
        assert shipped["rows"] == e["rows"] and shipped["row_ids"] == e["row_ids"]
        assert shipped["low"] == pytest.approx(e["low"], abs=1e-4)
        assert shipped["high"] == pytest.approx(e["high"], abs=1e-4)


def test_local_speed_bands_match_the_cross_validation():
    """The local-speed bands are the 10th/90th percentiles of measured / leave-one-device-out
    prediction per device class, as tests/data/local_speed_errors.csv records them."""
    table = list(csv.DictReader((DATA / "local_speed_errors.csv").read_text().splitlines()))
    classes = tomllib.loads((data_dir("data") / "local_speed_accuracy.toml").read_text())["class"]
    for name, cls in classes.items():
        for step, key in (("decode", "tg"), ("prefill", "pp")):
            ratios = [float(r[f"{key}_measured"]) / float(r[f"{key}_predicted_lodo"])
                      for r in table if r[f"{key}_used"] == "True" and
                      (r["backend"], r["category"]) == (cls["backend"], cls["category"])]
            b = bands.band(f"{step}/{name}")
            assert b["rows"] == len(ratios) == cls[f"{step}_rows"]
            lo, hi = np.quantile(ratios, bands.QUANTILES)
            assert b["low"] == pytest.approx(lo, abs=2e-3) and b["high"] == pytest.approx(hi, abs=2e-3)


def test_train_json_has_bands_only_when_predicted(cli):
    args = ("train", "llama-2-7b", "--tokens", "2T", "--hardware", "a100-80gb", "--gpus", "2048")
    p = cli(*args, "--json").json()
    b = bands.band("parallel/production")
    assert p["band_rows"] == b["rows"] and p["band_estimator"] == "parallel/production"
    assert p["seconds_low"] == pytest.approx(p["seconds"] * b["low"])
    assert p["seconds_high"] == pytest.approx(p["seconds"] * b["high"])
    assert p["mfu_low"] == pytest.approx(p["mfu"] / b["high"])
    # time x rate is the tokens either way: the band inverts consistently
    assert p["seconds_low"] * p["tokens_per_s_high"] == pytest.approx(p["seconds"] * p["tokens_per_s"])
    human = cli(*args).out
    assert "typically" in human and f"{b['rows']} held-out published runs" in human
    given = cli(*args, "--mfu", "0.4", "--json").json()
    assert given["seconds_low"] is None and given["mfu_high"] is None and given["band_rows"] is None


def test_infer_and_parallel_have_bands(cli):
    d = cli("infer", "llama-3-8b", "-d", "rtx-4090", "--json").json()
    b = bands.band("decode/consumer-gpu")
    assert d["decode_tokens_per_s_low"] == pytest.approx(d["decode_tokens_per_s"] * b["low"])
    assert d["time_to_first_token_s_high"] > d["time_to_first_token_s"] * 0.99
    off = cli("infer", "llama-3-70b", "-d", "rtx-4090", "--ram", "64GB", "--json").json()
    assert off["offload"] and off["decode_tokens_per_s_low"] is None
    plans = cli("parallel", "llama-2-7b", "-H", "a100-80gb", "--gpus", "64", "--global-batch",
                "512", "--top", "2", "--json").json()
    for p in plans:
        assert p["step_seconds_low"] < p["step_seconds_high"] and p["band_rows"] >= 5


# --- consistency warnings ----------------------------------------------------------------------

def _warnings(result):
    lines = result.err.strip().splitlines()
    assert all(line.startswith("Warning: ") for line in lines), result.err
    return lines


def test_utilisation_above_published_warns(cli):
    """MPT-7B at 64.23 % MFU on A100 is the highest in the table (llm-foundry benchmarking
    README): --mfu 0.7 on an A100 warns, 0.6 does not."""
    base = ("train", "llama-2-7b", "--tokens", "2T", "-H", "a100-80gb", "--gpus", "256")
    w = _warnings(cli(*base, "--mfu", "0.7"))
    assert len(w) == 1 and "0.642" in w[0] and "MPT-7B" in w[0]
    assert _warnings(cli(*base, "--mfu", "0.6")) == []


def test_sparse_peak_warns(cli):
    """H100 SXM bf16: 989 TFLOPS dense, 1,979 with sparsity (NVIDIA H100 datasheet)."""
    base = ("train", "llama-2-7b", "--tokens", "2T", "-H", "h100-sxm", "--gpus", "256",
            "--mfu", "0.3")
    w = _warnings(cli(*base, "--tflops", "1979"))
    assert len(w) == 1 and "sparse" in w[0] and "989" in w[0]
    assert _warnings(cli(*base, "--tflops", "989.5")) == []
    assert _warnings(cli(*base, "--tflops", "1979", "--precision", "fp8")) == []


def test_tokens_per_parameter_far_outside_warns(cli):
    """70B on 300M tokens is 0.004 tokens per parameter, a hundredth of the fewest published
    (MT-NLG 530B on 270B tokens, 0.51)."""
    base = ("train", "llama-2-70b", "-H", "a100-80gb", "--gpus", "64", "--mfu", "0.4")
    w = _warnings(cli(*base, "--tokens", "300M"))
    assert len(w) == 1 and "tokens per parameter" in w[0]
    assert _warnings(cli(*base, "--tokens", "2T")) == []


def test_published_flops_far_from_6nd_warns(cli):
    """Gopher: 5.76e23 FLOPs (Hoffmann et al. 2022 Table 3) vs 6·N·D = 5.03e23, 14 % apart
    where the attention term explains 2 %; Chinchilla's 5.76e23 vs 5.88e23 is explained."""
    base = ("-H", "a100-80gb", "--gpus", "1024", "--mfu", "0.4")
    w = _warnings(cli("train", "gopher-280b", "--tokens", "300B", *base))
    assert len(w) == 1 and "6·N·D" in w[0] and "+14.4%" in w[0]
    assert _warnings(cli("train", "chinchilla-70b", "--tokens", "1.4T", *base)) == []


def test_several_warnings_one_line_each(cli):
    w = _warnings(cli("train", "llama-2-70b", "--tokens", "300M", "-H", "a100-80gb", "--gpus",
                      "64", "--mfu", "0.8"))
    assert len(w) == 2


@settings(max_examples=60, deadline=None)
@given(value=st.floats(1e-3, 1e9), low=st.floats(0.2, 1.5), width=st.floats(0.0, 2.0),
       quantity=st.sampled_from(["time", "rate"]))
def test_band_interval_invariants(value, low, width, quantity):
    """low <= high; a time band and the rate of the same run invert consistently (time x rate
    is the work, whichever end of the band is true)."""
    b = {"low": low, "high": low + width, "quantity": quantity, "rows": 5}
    t_lo, t_hi = bands.interval(value, b, "time")
    r_lo, r_hi = bands.interval(1.0 / value, b, "rate")
    assert t_lo <= t_hi and r_lo <= r_hi
    assert float(t_lo * r_hi) == pytest.approx(1.0) and float(t_hi * r_lo) == pytest.approx(1.0)


# --- Monte-Carlo draws of the estimators' own error ([montecarlo] model_error) ------------------

def test_model_error_draws_come_from_the_held_out_runs(tmp_path):
    """Each sample's wall-clock is the prediction times one published/predicted ratio of the
    step-time model's held-out runs (planner/data/error_bands.toml), so every drawn ratio is
    one of those ratios, and the verdicts follow the scaled time and cost."""
    import planner
    from planner.whatif.runner import Options, run_path
    base = planner.train(model="llama-3-70b", tokens="15T", hardware="h100-sxm", gpus=4096)
    ratios = set(bands.band("parallel/production")["ratios"])
    assert len(ratios) >= 5
    path = tmp_path / "me.toml"
    path.write_text('[model]\nname = "llama-3-70b"\n[train]\ntokens = "15T"\n'
                    'hardware = "h100-sxm"\ngpus = 4096\ndeadline = "90d"\n'
                    '[montecarlo]\nsamples = 400\nseed = 1\nmodel_error = true\n')
    out = run_path(path, Options(keep=True))[0]
    r = out.columns["model_error_ratio"]
    assert set(np.round(r, 4)) <= ratios and len(set(np.round(r, 4))) >= 5
    assert out.columns["days"] == pytest.approx(base["days"] * r, rel=1e-9)
    assert out.columns["mfu"] == pytest.approx(base["mfu"] / r, rel=1e-9)
    assert (out.columns["meets_deadline"] == (out.columns["days"] <= 90)).all()
    again = run_path(path, Options(keep=True))[0]       # seeded: the same draws
    assert (again.columns["model_error_ratio"] == r).all()


def test_model_error_leaves_a_given_utilisation_alone(tmp_path):
    """With --mfu given the utilisation is the user's: no band, nothing scaled."""
    from planner.whatif.runner import Options, run_path
    path = tmp_path / "me.toml"
    path.write_text('[model]\nname = "llama-2-7b"\n[train]\ntokens = "2T"\n'
                    'hardware = "a100-80gb"\ngpus = 512\nmfu = 0.4\n'
                    '[montecarlo]\nsamples = 50\nmodel_error = true\n')
    out = run_path(path, Options(keep=True))[0]
    assert np.isnan(out.columns["model_error_ratio"]).all()
    assert len(set(out.columns["days"].tolist())) == 1
