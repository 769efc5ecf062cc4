"""`planner serve` (issue 12): published figures, properties, bad input, the --json keys."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from planner.cli.main import cli
from planner.estimate.serving import load as L, reference as R
from planner.evaluate.serve import evaluate_one
from planner.plan.serve import ServePlan

ROWS = {r["row_id"]: r for r in R.rows()}


@pytest.fixture(scope="module")
def predicted():
    p = R.predict()
    return {rid: {k: float(v[i]) for k, v in p.items() if k != "row_id"}
            for i, rid in enumerate(p["row_id"])}


# --- published figures (none of these rows is in the fit subset) ------------------------------

def test_mlperf41_llama2_70b_offline_h100_and_h200(predicted):
    """MLPerf Inference v4.1 closed, Llama-2-70B Offline (mlcommons/inference_results_v4.1 @
    198fc46799b3, NVIDIA DGX-H100 and H200 TRT results): 8 x H100-SXM (TensorRT-LLM, FP8,
    TP2 x 4) 24,525 output tokens/s; 8 x H200 (TP1 x 8) 31,303.  Within 25 % each, the
    H200/H100 ratio within 15 % (issue 12).  OpenOrca mix: output mean 294; the prompt mean is
    an assumption stated in the reference file."""
    assert ROWS["R001"]["subset"] == "holdout" and ROWS["R005"]["subset"] == "holdout"
    h100, h200 = predicted["R001"]["output_tokens_per_s"], predicted["R005"]["output_tokens_per_s"]
    assert h100 == pytest.approx(24524.9, rel=0.25)
    assert h200 == pytest.approx(31302.7, rel=0.25)
    assert h200 / h100 == pytest.approx(31302.7 / 24524.9, rel=0.15)


@pytest.mark.parametrize("rid", ["R201", "R202", "R203", "R204", "R205", "R206", "R207"])
def test_trtllm_h200_launch_table(predicted, rid):
    """TensorRT-LLM H200 launch blog (docs/source/blogs/H200launch.md @ 1555478c1b41), FP8
    max throughput, Llama-2-13B/70B, 128/128 ... 2048/128: within 30 % on each row."""
    meas = ROWS[rid]["output_tokens_per_s"]
    assert predicted[rid]["output_tokens_per_s"] == pytest.approx(meas, rel=0.30)


def test_cross_validated_error_file_meets_the_goal():
    """tests/data/serving_errors.csv (written by planner.estimate.serving.fit): the median
    leave-one-device-out and leave-one-model-out throughput errors of the fit rows are within
    20 % (issue 12's goal).  The held-out rows' median is 27.9 % since B200 got its dense FP4
    peak (9 PF; before, FP4 fell back to the FP8 rate and the median was 12 %): the GEMM
    efficiency fitted on Hopper FP8 over-predicts Blackwell FP4 in the TRT-LLM overview rows
    by 30-54 % while matching MLPerf's B200 FP4 within 1 %.  Asserted at 30 % so that a
    regression shows; the shortfall against the 20 % goal is reported, not tuned away."""
    rows = list(csv.DictReader(open(Path(__file__).parent / "data" / "serving_errors.csv")))
    col = lambda k, sub: np.array([abs(float(r[k])) for r in rows
                                   if r["subset"] == sub and r[k] != ""])
    assert np.median(col("lodo_error", "fit")) <= 0.20
    assert np.median(col("lomo_error", "fit")) <= 0.20
    assert np.median(col("error_output_tokens_per_s", "holdout")) <= 0.30


def test_error_file_matches_the_model(predicted):
    """The stored per-row predictions are what the model gives today (rel 1e-3)."""
    rows = list(csv.DictReader(open(Path(__file__).parent / "data" / "serving_errors.csv")))
    for r in rows:
        assert predicted[r["row_id"]]["output_tokens_per_s"] == pytest.approx(
            float(r["predicted_output_tokens_per_s"]), rel=1e-3)


# --- properties -------------------------------------------------------------------------------

def _solve(rate, tpot=0.05, hardware=("h100-sxm",), quant="fp8"):
    return evaluate_one(ServePlan(model="llama-3.1-8b", rate=rate, prompt=1000, output=200,
                                  ttft=1.0, tpot=tpot, hardware=hardware, quant=quant))


@settings(max_examples=12, deadline=None)
@given(r1=st.floats(0.5, 400), r2=st.floats(0.5, 400))
def test_more_load_never_needs_fewer_gpus(r1, r2):
    lo, hi = sorted((r1, r2))
    assert _solve(hi)["gpus"] >= _solve(lo)["gpus"]


@settings(max_examples=12, deadline=None)
@given(t1=st.floats(0.012, 0.2), t2=st.floats(0.012, 0.2))
def test_a_tighter_tpot_never_lowers_the_cost(t1, t2):
    tight, loose = sorted((t1, t2))
    a = _solve(50, tight, hardware=("h100-sxm", "a100-80gb", "h200"), quant=None)
    b = _solve(50, loose, hardware=("h100-sxm", "a100-80gb", "h200"), quant=None)
    assert a["cost_usd_per_hour"] >= b["cost_usd_per_hour"] - 1e-9


def _replica(bandwidth_scale=1.0, clients=64):
    import dataclasses
    from planner.estimate.serving import step as S
    from planner.hardware import get_device
    from planner.model.resolve import resolve_model
    spec = resolve_model("llama-3.1-8b")
    dev = get_device("h100-sxm")
    dev = dataclasses.replace(dev, bandwidth_bytes_per_s=dev.bandwidth_bytes_per_s
                              * bandwidth_scale)
    rep = S.replica(spec, "fp8", "fp8", dev, "trtllm", 1, 1)
    return rep, L.closed_loop(rep, L.Mix(1000.0, 200.0), clients, 8192.0, clients)


@settings(max_examples=15, deadline=None)
@given(s1=st.floats(0.3, 4.0), s2=st.floats(0.3, 4.0), n=st.integers(1, 512))
def test_more_bandwidth_never_lowers_tokens_per_s(s1, s2, n):
    lo, hi = sorted((s1, s2))
    assert _replica(hi, n)[1]["output_tokens_per_s"] >= \
        _replica(lo, n)[1]["output_tokens_per_s"] * (1 - 1e-9)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 2048), scale=st.floats(0.3, 3.0))
def test_replica_throughput_within_compute_and_bandwidth_bounds(n, scale):
    """Tokens/s per replica <= peak FLOP/s / FLOPs per token (every token, prompt and output,
    passes the weights) and, for output tokens, <= batch x bandwidth / weight bytes."""
    rep, r = _replica(scale, n)
    flops_per_token = 2.0 * float(rep.w.linear_params)
    peak = float(rep.hw.matmul_peak)
    total = float(r["output_tokens_per_s"] + r["input_tokens_per_s"])
    assert total <= peak / flops_per_token
    weights = float(rep.w.weight_bytes - rep.w.embedding_bytes)
    assert float(r["output_tokens_per_s"]) <= \
        float(r["batch"]) * float(rep.hw.bandwidth) / weights * (1 + 1 / 199.0)


# --- the command --------------------------------------------------------------------------

def run(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True)


JSON_KEYS = ("replicas", "gpus", "tp", "pp", "quant", "batch", "output_tokens_per_s",
             "output_tokens_per_s_per_gpu", "total_tokens_per_s", "ttft_seconds",
             "tpot_seconds", "ttft_seconds_p50", "ttft_seconds_p99", "tpot_seconds_p50",
             "tpot_seconds_p99", "cost_usd_per_hour", "cost_usd_per_mtok_output",
             "cost_usd_per_mtok_input", "bound")


def test_both_forms_give_the_json_keys():
    runner = CliRunner()
    for args in (["llama-3.1-8b", "--rate", "20/s", "--prompt", "1000", "--output", "200",
                  "--ttft", "1s", "--tpot", "50ms", "-H", "h100-sxm", "-H", "a100-80gb",
                  "--json"],
                 ["llama-2-70b", "-H", "h100-sxm", "--tp", "2", "--quant", "fp8", "--prompt",
                  "400", "--output", "294", "--concurrency", "max", "--json"]):
        res = runner.invoke(cli, ["serve", *args])
        assert res.exit_code == 0, res.output
        rec = json.loads(res.output)
        for k in JSON_KEYS:
            assert k in rec
        assert rec["bound"] in ("memory", "bandwidth", "compute")


@pytest.mark.parametrize("args, words", [
    (["--rate", "0"], "must be > 0"),
    (["--rate", "-3/s"], "must be > 0"),
    (["--rate", "10/s", "--tpot", "0.1ms"], "single-token floor"),
    (["--rate", "10/s", "-H", "h100-sxmm"], "did you mean"),
    (["--rate", "10/s", "--ttft", "fast"], "cannot read"),
    (["--rate", "10/s", "--ttft", "0ms"], "must be > 0"),
    (["--concurrency", "10,00", "-H", "h100-sxm"], "neither a number nor 'max'"),
])
def test_bad_input_is_one_error_line(args, words):
    res = run("serve", "llama-3.1-8b", *args)
    assert res.returncode == 2
    assert res.stderr.startswith("Error:") and words in res.stderr
    assert "Traceback" not in res.stderr


def test_a_model_that_fits_no_replica_names_the_memory_bound():
    res = run("serve", "llama-3.1-405b", "--rate", "1/s", "-H", "rtx-4090", "--quant", "bf16")
    assert res.returncode == 2 and res.stderr.startswith("Error:")
    assert "memory" in res.stderr and "Traceback" not in res.stderr


def test_infeasible_tpot_names_what_would_be_feasible():
    with pytest.raises(Exception) as exc:
        _solve(10, tpot=1e-4)
    assert "feasible from --tpot" in str(exc.value)


# --- the fixed-deployment form (--rate with --replicas) -------------------------------------------

MLPERF_H100 = ["llama-2-70b", "-H", "h100-sxm", "--tp", "2", "--quant", "fp8", "--kv-cache", "fp8",
               "--engine", "trtllm", "--prompt", "400", "--prompt-sd", "300", "--output", "290",
               "--output-sd", "250", "--replicas", "4"]


def test_a_fixed_deployment_reports_latency_at_the_rate():
    """MLPerf v4.1 Llama-2-70B server, 4 x (2 x H100) TRT-LLM: at half the load the figures
    are the open loop's: the rate is the user's, latency above the single-request floor and
    below the measured p99 at 75/s (TTFT 461 ms, TPOT 175 ms; serving_reference.csv R002)."""
    res = CliRunner().invoke(cli, ["serve", *MLPERF_H100, "--rate", "35/s", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["mode"] == "deployment" and rec["replicas"] == 4 and rec["gpus"] == 8
    assert rec["requests_per_s"] == pytest.approx(35)
    assert 0 < rec["utilisation"] < 1
    assert rec["ttft_seconds_p50"] <= rec["ttft_seconds_p99"] < 0.461
    assert rec["tpot_seconds_p50"] <= rec["tpot_seconds_p99"] < 0.175


def test_a_deployment_that_cannot_keep_up_is_an_error_not_a_latency():
    res = run("serve", *MLPERF_H100, "--rate", "500/s")
    assert res.returncode == 2 and res.stderr.startswith("Error:")
    assert "more than the deployment sustains" in res.stderr and "--replicas" in res.stderr
    assert "Traceback" not in res.stderr


def test_more_replicas_never_raise_latency():
    import planner
    recs = [planner.serve(model="llama-3.1-8b", hardware="h100-sxm", rate="30/s", replicas=n,
                          prompt=1000, output=200) for n in (2, 3, 6)]
    for a, b in zip(recs, recs[1:]):
        assert b["ttft_seconds_p99"] <= a["ttft_seconds_p99"] * (1 + 1e-9)
        assert b["tpot_seconds_p99"] <= a["tpot_seconds_p99"] * (1 + 1e-9)


def test_kv_policy_reserve_holds_fewer_sequences_than_on_demand():
    """Reserving prompt + output per sequence (TRT-LLM's GUARANTEED_NO_EVICT) admits fewer
    sequences than paging KV as tokens arrive."""
    import planner

    def seqs(policy):
        return planner.serve(model="llama-2-70b", hardware="h100-sxm", tp=2, quant="fp8",
                             engine="trtllm", prompt=400, output=1000, concurrency="max",
                             kv_policy=policy)["max_sequences"]
    assert seqs("reserve") < seqs("on_demand")


def test_tensorrt_llm_is_nvidia_only():
    res = run("serve", "llama-3.1-8b", "-H", "mi300x", "--engine", "trtllm", "--concurrency", "8")
    assert res.returncode == 2 and "NVIDIA GPUs only" in res.stderr
    import planner
    rec = planner.serve(model="llama-3.1-70b", rate="20/s", engine="trtllm",
                        hardware=["mi300x", "h100-sxm"])
    assert rec["hardware"] == "h100-sxm"


def test_a_sweep_of_replica_plans_prices_each_row_with_its_own_lengths():
    """Evaluate-form rows of one shape with different lengths and memory fractions (a scenario
    sweep) each get their own KV limit - the same figures as one row at a time."""
    import planner
    spec = planner.load_model("llama-3.1-8b")
    cols = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "concurrency": "max",
            "prompt": np.array([500.0, 2000.0, 500.0]), "output": 200.0,
            "gpu_memory_utilization": np.array([0.9, 0.9, 0.6])}
    res = planner.evaluate_serve(cols, 3, {"llama-3.1-8b": spec})
    for i in range(3):
        one = planner.serve(model="llama-3.1-8b", hardware="h100-sxm", concurrency="max",
                            prompt=cols["prompt"][i], output=200,
                            gpu_memory_utilization=cols["gpu_memory_utilization"][i])
        for k in ("max_sequences", "kv_tokens_per_replica", "output_tokens_per_s"):
            assert res[k][i] == pytest.approx(one[k])
    assert res["kv_tokens_per_replica"][0] > res["kv_tokens_per_replica"][2]


def test_serving_bands_come_from_held_out_runs():
    """A replica's throughput carries the band of the engine's held-out offline runs, a
    deployment's latency that of its held-out server runs (planner/data/error_bands.toml)."""
    rec = json.loads(CliRunner().invoke(cli, ["serve", *MLPERF_H100[:-2], "--concurrency",
                                              "max", "--json"]).output)
    assert rec["band_estimator"] == "serve/trtllm-offline"
    assert rec["output_tokens_per_s_low"] < rec["output_tokens_per_s"] < \
        rec["output_tokens_per_s_high"]
    assert rec["ttft_seconds_p99_low"] is None
    rec = json.loads(CliRunner().invoke(cli, ["serve", *MLPERF_H100, "--rate", "35/s",
                                              "--json"]).output)
    assert rec["band_estimator"] == "serve/trtllm-server"
    assert rec["ttft_seconds_p99_low"] > rec["ttft_seconds_p99"]   # it under-predicts latency


def test_a_non_positive_target_is_refused_not_replaced_by_the_default():
    """A latency target or rate of 0 or below (a scenario or library value) is an error at the
    boundary; it used to fall back silently to the 2 s / 200 ms defaults."""
    import planner
    from planner.errors import PlannerError
    for keys in ({"ttft": -1}, {"tpot": 0}, {"rate": float("inf")}):
        with pytest.raises(PlannerError, match="must be > 0"):
            planner.serve(**{"model": "llama-3.1-8b", "rate": "2/s", **keys})
