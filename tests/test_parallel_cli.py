"""`planner parallel` on the command line: the JSON contract of issue 10, pins, errors."""
from __future__ import annotations

import pytest

from conftest import assert_user_error

KEYS = {"tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "sequence_parallel",
        "recompute", "step_seconds", "tokens_per_s", "mfu", "hfu", "tflops_per_gpu",
        "memory_per_gpu_bytes", "fits", "breakdown"}
TERMS = {"compute", "recompute", "tp_comm", "cp", "ep_all_to_all", "pp_p2p", "pp_bubble",
         "dp_comm", "zero_gathers", "optimizer"}
BASE = ("parallel", "gpt3-175b", "--hardware", "a100-80gb", "--gpus", "1024",
        "--global-batch", "1536", "--seq", "2048")


def test_json_contract_best_first(cli):
    r = cli(*BASE, "--top", "4", "--json")
    assert r.code == 0, r.err
    plans = r.json()
    assert len(plans) == 4
    for p in plans:
        assert KEYS <= set(p) and set(p["breakdown"]) == TERMS
        assert p["tp"] * p["pp"] * p["dp"] * p["cp"] == 1024
        assert p["fits"] is True
        assert sum(p["breakdown"].values()) == pytest.approx(p["step_seconds"])
    steps = [p["step_seconds"] for p in plans]
    assert steps == sorted(steps)


def test_pins_are_honoured(cli):
    plans = cli(*BASE, "--tp", "8", "--pp", "8", "--recompute", "selective",
                "--sequence-parallel", "--zero", "1", "--json").json()
    assert {(p["tp"], p["pp"], p["recompute"], p["sequence_parallel"], p["zero"])
            for p in plans} == {(8, 8, "selective", True, 1)}


def test_human_table(cli):
    r = cli(*BASE, "--top", "2")
    assert r.code == 0, r.err
    assert "Where the time of plan 1 goes" in r.out and "MFU" in r.out
    assert "valid plans evaluated" in r.out


def test_global_batch_in_tokens(cli):
    a = cli(*BASE[:-4], "--global-batch-tokens", "3145728", "--seq", "2048", "--top", "1",
            "--json").json()
    b = cli(*BASE, "--top", "1", "--json").json()
    assert a == b


@pytest.mark.parametrize("args,fragments", [
    (("--tp", "16"), ("--tp 16", "scale-up domain", "nearest valid --tp: 4 or 8")),
    (("--pp", "7"), ("--pp 7", "divide the layers (96)", "nearest valid --pp")),
    (("--ep", "4"), ("--ep 4", "mixture-of-experts")),
    (("--interleave", "5", "--pp", "8"), ("--interleave 5", "pp x interleave")),
])
def test_bad_pins(cli, args, fragments):
    assert_user_error(cli(*BASE, *args), *fragments)


def test_batch_smaller_than_dp(cli):
    r = cli("parallel", "gpt3-175b", "-H", "a100-80gb", "--gpus", "1024", "--global-batch",
            "100", "--tp", "1", "--pp", "1", "--cp", "1")
    assert_user_error(r, "global batch (100 sequences)", "DP would be 1024")


def test_unknown_network_device(cli):
    r = cli("parallel", "llama-2-7b", "-H", "m2-max-32gb", "--gpus", "2", "--global-batch", "8")
    assert_user_error(r, "scale-out bandwidth")


def test_unknown_hardware_and_missing_batch(cli):
    assert_user_error(cli("parallel", "gpt2", "-H", "a100-80gbb", "--gpus", "8",
                          "--global-batch", "8"), "unknown device")
    assert_user_error(cli("parallel", "gpt2", "-H", "a100-80gb", "--gpus", "8",
                          "--global-batch-tokens", "1000"), "less than one")
    assert_user_error(cli("parallel", "gpt2", "-H", "a100-80gb", "--gpus", "8",
                          "--global-batch", "8", "--global-batch-tokens", "8192"), "not both")
    assert_user_error(cli("parallel", "gpt2", "-H", "a100-80gb", "--gpus", "8",
                          "--global-batch", "8", "--framework", "megatron"), "framework")


def test_default_global_batch(cli):
    """Without a batch, the default 4,194,304 tokens (Llama 2's 4M; plan_defaults.toml):
    1,024 sequences of 4,096 tokens for Llama-2-7B."""
    r = cli("parallel", "llama-2-7b", "-H", "a100-80gb", "--gpus", "64")
    assert r.code == 0, r.err
    assert "global batch 1,024 x 4,096 tokens" in r.out


def test_several_gpu_counts_report_the_cheapest(cli):
    """Fastest = least wall-clock; cheapest = fewest GPU-seconds per token."""
    r = cli("parallel", "llama-2-7b", "-H", "a100-80gb", "--gpus", "64,256,1024",
            "--global-batch", "512", "--seq", "4096")
    assert r.code == 0, r.err
    assert "64 / 256 / 1,024" in r.out and "Cheapest" in r.out
    plans = cli("parallel", "llama-2-7b", "-H", "a100-80gb", "--gpus", "64,256,1024",
                "--global-batch", "512", "--seq", "4096", "--json").json()
    assert plans[0]["gpus"] == 1024
