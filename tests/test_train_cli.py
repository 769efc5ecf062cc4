"""`planner train` and `planner optimal` on the command line: contract keys, published
figures end to end, and the error contract for bad input."""
from __future__ import annotations

import pytest

from conftest import assert_user_error

TRAIN_KEYS = {"flops", "gpus", "seconds", "days", "gpu_hours", "pf_days", "cost_usd",
              "energy_kwh", "memory_per_gpu_bytes", "min_gpus_for_memory", "gpu_months",
              "hardware_flops", "mfu", "hfu", "tokens", "params", "price_per_hour", "co2_kg",
              "memory"}


def test_train_contract_gpt3(cli):
    """GPT-3 175B, 300B tokens (Brown et al. 2020 Table D.1: 3.14e23 FLOP, 3,640 PF-days)."""
    r = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus",
            "1024", "--json")
    assert r.code == 0, r.err
    j = r.json()
    assert TRAIN_KEYS <= set(j)
    assert j["flops"] == pytest.approx(3.14e23, rel=0.005)
    assert j["pf_days"] == pytest.approx(3640, rel=0.005)
    assert j["gpus"] == 1024
    assert j["gpu_hours"] == pytest.approx(j["seconds"] * 1024 / 3600)
    assert j["gpu_months"] == pytest.approx(j["gpu_hours"] / 730)
    assert j["cost_usd"] == pytest.approx(j["gpu_hours"] * j["price_per_hour"])
    assert j["energy_kwh"] == pytest.approx(400 * j["gpu_hours"] * 1.2 / 1000)
    assert {"weights", "gradients", "optimizer", "activations"} <= set(j["memory"])
    assert j["memory_per_gpu_bytes"] == pytest.approx(sum(j["memory"].values()))
    assert j["fits_in_memory"] is True and j["min_gpus_for_memory"] >= 33


def test_seed_cli(cli):
    """planner train --flops 3.14e23 --tflops 10 --mfu 1 --deadline "3 months" -> 3,984
    devices (3,982.75 rounded up to whole 8-device nodes)."""
    j = cli("train", "--flops", "3.14e23", "--tflops", "10", "--mfu", "1", "--deadline",
            "3 months", "--json").json()
    assert j["gpus"] == 3984
    assert j["seconds"] <= 3 * 730 * 3600


def test_narayanan_cli(cli):
    """Narayanan et al. 2021: GPT-3 175B on 1,024 A100s at 140 TFLOP/s with full recompute ->
    about 34 days (2%); given as HFU 140/312 on the A100 profile."""
    j = cli("train", "--params", "175B", "--tokens", "300B", "--hardware", "a100-80gb",
            "--gpus", "1024", "--recompute", "full", "--hfu", str(140 / 312), "--json").json()
    assert j["days"] == pytest.approx(34, rel=0.02)
    assert j["hardware_flops"] == pytest.approx(8 * 175e9 * 300e9)
    assert j["mfu"] == pytest.approx(140 / 312 * 6 / 8)


def test_human_output_names_assumptions(cli):
    r = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus",
            "1024")
    assert r.code == 0
    for frag in ("3.14e23 FLOP", "730 h", "predicted", "PUE 1.2", "$2.79/device-hour",
                 "B/param", "ZeRO-", "goodput", "layout"):
        assert frag in r.out, frag


def test_deadline_meets_and_holds(cli):
    """At a given MFU every whole-node size can be laid out: the answer is the smallest."""
    base = ["train", "llama-2-70b", "--tokens", "2T", "--hardware", "h100-sxm", "--mfu", "0.4"]
    j = cli(*base, "--deadline", "30d", "--json").json()
    assert j["seconds"] <= 30 * 86400 and j["gpus"] % 8 == 0 and j["fits_in_memory"]
    j2 = cli(*base, "--gpus", str(j["gpus"] - 8), "--json").json()
    assert j2["seconds"] > 30 * 86400


def test_deadline_at_predicted_utilisation(cli):
    """With the utilisation predicted, the solver answers a usable cluster that meets the
    deadline, and half of it does not."""
    base = ["train", "llama-2-70b", "--tokens", "2T", "--hardware", "h100-sxm"]
    j = cli(*base, "--deadline", "30d", "--json").json()
    assert j["seconds"] <= 30 * 86400 and j["gpus"] % 8 == 0 and j["fits_in_memory"]
    assert j["tp"] * j["pp"] * j["dp"] * j["cp"] == j["gpus"] and j["gpus_idle"] == 0
    j2 = cli(*base, "--gpus", str(j["gpus"] // 2), "--json").json()
    assert j2["seconds"] > 30 * 86400


def test_budget_buys_tokens(cli):
    j = cli("train", "llama-2-7b", "--hardware", "a100-80gb", "--budget", "$100k", "--price",
            "$2/h", "--mfu", "0.5", "--json").json()
    assert j["tokens_solved_from_budget"]
    assert j["cost_usd"] == pytest.approx(1e5)
    assert j["tokens"] == pytest.approx(5e4 * 3600 * 312e12 * 0.5 / (6 * j["params"]))


def test_budget_too_small(cli):
    assert_user_error(cli("train", "llama-2-7b", "--hardware", "a100-80gb", "--budget", "$5"),
                      "less than one node-hour")


def test_budget_below_cost(cli):
    assert_user_error(cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb",
                          "--gpus", "1024", "--budget", "$100k"), "over the budget", "buys")


def test_deadline_beyond_max_cluster(cli):
    assert_user_error(cli("train", "--flops", "1e30", "--hardware", "h100", "--deadline", "1d"),
                      "largest sensible cluster", "--max-gpus", "takes")


def test_model_that_never_fits(cli):
    assert_user_error(cli("train", "gpt3-175b", "--tokens", "300B", "--hardware",
                          "rtx-3060-12gb", "--deadline", "1y", "--recompute", "none",
                          "--zero", "0"), "does not fit", "--recompute")


def test_price_override_and_co2(cli):
    j = cli("train", "--flops", "1e21", "--hardware", "h100", "--gpus", "8", "--price",
            "$2.50/h", "--grid-kg-per-kwh", "0.4", "--json").json()
    assert j["price_per_hour"] == 2.5 and j["cost_usd"] == pytest.approx(2.5 * j["gpu_hours"])
    assert j["co2_kg"] == pytest.approx(0.4 * j["energy_kwh"])


def test_exact_method_and_selective(cli):
    j = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "1024",
            "--flops-method", "exact", "--recompute", "selective", "--json").json()
    assert j["flops"] != pytest.approx(3.1428e23, rel=1e-4)
    assert j["hardware_flops"] > j["flops"] and j["hfu"] > j["mfu"]


def test_optimizer_bytes_modes(cli):
    base = ["train", "gpt3-6.7b", "--tokens", "1B", "--hardware", "a100", "--gpus", "8",
            "--tp", "1", "--pp", "1", "--zero", "0", "--memory", "200GB", "--mfu", "0.4",
            "--json"]
    m16 = cli(*base).json()["memory"]
    m18 = cli(*base, "--optimizer-bytes", "mixed-fp32-grads").json()["memory"]
    assert m18["gradients"] == pytest.approx(2 * m16["gradients"])
    assert_user_error(cli(*base, "--optimizer-bytes", "lots"), "--optimizer-bytes")


@pytest.mark.parametrize("args,frags", [
    (["gpt3-175b", "--tokens", "0", "--hardware", "a100", "--gpus", "8"], ["--tokens", "> 0"]),
    (["gpt3-175b", "--tokens", "-5B", "--hardware", "a100", "--gpus", "8"], ["--tokens"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "8", "--mfu", "1.5"],
     ["--mfu", "(0, 1]"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "8", "--mfu", "0"],
     ["--mfu"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "8", "--hfu", "-1"],
     ["--hfu"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "h10", "--gpus", "8"],
     ["unknown device", "h100"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--deadline", "0d"],
     ["--deadline"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--deadline", "30"],
     ["needs a unit"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100"], ["--gpus", "--deadline"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "0"], ["--gpus"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "8", "--zero", "5"],
     ["--zero"]),
    (["--flops", "1e23", "--tflops", "10", "--gpus", "8"], ["--mfu"]),
    (["--flops", "1e23", "--tflops", "-10", "--mfu", "0.5", "--gpus", "8"], ["--tflops"]),
    (["--flops", "1e23", "--hardware", "a100", "--gpus", "8", "--recompute", "selective"],
     ["selective", "MODEL"]),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100", "--gpus", "8",
      "--price", "cheap"], ["--price"]),
])
def test_bad_input(cli, args, frags):
    """Bad input -> one 'Error:' line naming the value and what is valid, exit 2."""
    assert_user_error(cli("train", *args), *frags)


def test_optimal_contract(cli):
    """Hoffmann et al. 2022 Table 3: 5.76e23 FLOP -> 67B parameters, 1.5T tokens (10%)."""
    j = cli("optimal", "--flops", "5.76e23", "--json").json()
    assert {"params", "tokens", "flops", "loss"} <= set(j)
    assert j["params"] == pytest.approx(67e9, rel=0.1)
    assert j["tokens"] == pytest.approx(1.5e12, rel=0.1)
    assert set(j["methods"]) == {"approach1", "approach3", "besiroglu", "rule20"}


def test_optimal_from_cluster(cli):
    j = cli("optimal", "--gpus", "1024", "--hardware", "h100", "--days", "30", "--mfu", "0.4",
            "--json").json()
    assert j["flops"] == pytest.approx(1024 * 989.5e12 * 0.4 * 30 * 86400)


def test_optimal_methods(cli):
    j = cli("optimal", "--flops", "1e24", "--method", "besiroglu", "--json").json()
    assert j["method"] == "besiroglu" and j["loss_constants"] == "besiroglu"


@pytest.mark.parametrize("args,frags", [
    (["--flops", "0"], ["--flops"]),
    (["--flops", "-1e20"], ["--flops"]),
    ([], ["--flops"]),
    (["--gpus", "8", "--hardware", "a100"], ["--days"]),
    (["--gpus", "8", "--hardware", "a100", "--days", "3", "--mfu", "2"], ["--mfu"]),
])
def test_optimal_bad_input(cli, args, frags):
    assert_user_error(cli("optimal", *args), *frags)
