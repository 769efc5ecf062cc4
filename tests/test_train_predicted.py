"""`planner train` with no --mfu/--hfu: the utilisation is predicted by the parallel step-time
model (issue 10), and the same plan in a scenario gives the same answer."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("model,published", [
    ("llama-2-7b", 184_320), ("llama-2-13b", 368_640), ("llama-2-70b", 1_720_320)])
def test_llama2_gpu_hours_without_mfu(cli, model, published):
    """Touvron et al. 2023 (Llama 2) Table 2: 184,320 / 368,640 / 1,720,320 A100-80GB hours on
    2T tokens, global batch 4M tokens at 4,096 (sec. 2.2).  The cluster size is not published;
    the hours are 2,048 x 90 / 180 / 840 whole hours, so 2,048 GPUs.  Tolerance 15% (issue
    10); the utilisation is predicted (no --mfu), not taken from Meta's figures."""
    j = cli("train", model, "--tokens", "2T", "--hardware", "a100-80gb", "--gpus", "2048",
            "--json").json()
    assert j["utilisation_source"].startswith("predicted")
    assert j["gpu_hours"] == pytest.approx(published, rel=0.15)


def test_predicted_plan_is_explicit(cli):
    j = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus",
            "1024", "--json").json()
    assert j["tp"] * j["pp"] * j["dp"] * j["cp"] == 1024 and j["gpus_idle"] == 0
    assert 0 < j["mfu"] < j["hfu"] <= 1 or j["recompute"] == "none"
    assert 0.9 < j["goodput"] < 1
    # Time = tokens / predicted tokens/s / goodput.
    assert j["seconds"] == pytest.approx(300e9 / j["tokens_per_s"] / j["goodput"])
    # A given MFU overrides the prediction (and is taken as end-to-end: no goodput).
    k = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus",
            "1024", "--mfu", "0.4", "--json").json()
    assert k["mfu"] == 0.4 and k["goodput"] is None and k["step_seconds"] is None


def test_global_batch_limits_scaling(cli):
    """With a fixed global batch, a deadline that needs more data parallelism than the batch
    allows is refused, saying where more devices stop helping."""
    from conftest import assert_user_error
    assert_user_error(cli("train", "llama-2-7b", "--tokens", "2T", "--hardware", "h100-sxm",
                          "--deadline", "6h", "--global-batch", "64"),
                      "caps data parallelism", "--global-batch")


def test_auto_pins_in_scenarios_and_options(cli, tmp_path):
    """Every plan dimension takes "auto" (searched), in a scenario sweep and as an option: a
    sweep over tp = ["auto", 8] gives the free search's plan and the pinned one."""
    f = tmp_path / "auto.toml"
    f.write_text('model = "gpt3-175b"\n[train]\ntokens = "300B"\nhardware = "a100-80gb"\n'
                 'gpus = 1024\ntp = ["auto", 8]\nzero = "auto"\nsequence_parallel = "auto"\n')
    r = cli("run", f, "--json")
    assert r.code == 0, r.err
    free, pinned = r.json()
    assert pinned["tp"] == 8 and free["step_seconds"] <= pinned["step_seconds"]
    cmd = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus",
              "1024", "--tp", "auto", "--json").json()
    assert cmd["tp"] == free["tp"] and cmd["seconds"] == pytest.approx(free["seconds"])
