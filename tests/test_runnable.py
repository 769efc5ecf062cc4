"""'What can I run on device D' and 'what does model M need' (planner/estimate/runnable.py)."""
from __future__ import annotations

import pytest

from planner.estimate import runnable as R
from planner.hardware import get_device
from planner.model import zoo


def test_seed_tiers_without_a_device():
    """GPT4All's model cards (the seed check): a 7B model at 4 bits needs an 8 GB machine, a
    13B one 16 GB (Llama-2, q4_0, 2048 tokens; macOS's share of unified memory reserved)."""
    r7 = R.requirements(zoo.get("llama-2-7b"), "q4_0", context=2048)
    r13 = R.requirements(zoo.get("llama-2-13b"), "q4_0", context=2048)
    assert r7["smallest_memory_tier_gb"] == 8
    assert r13["smallest_memory_tier_gb"] == 16
    # a discrete GPU has no OS share: 13B q4_0 fits a 12 GB card
    assert r13["smallest_gpu_tier_gb"] <= 12


def test_requirements_per_quant_and_devices():
    r = R.requirements(zoo.get("llama-3-8b"), "Q4_K_M", context=4096)
    quants = [row["quant"] for row in r["by_quant"]]
    assert quants[0] == "fp16" and "Q4_K_M" in quants and "Q2_K" in quants
    totals = [row["total_bytes"] for row in r["by_quant"]]
    assert totals == sorted(totals, reverse=True)        # fewer bits, less memory
    fastest = [d["decode_tokens_per_s"] for d in r["devices_fastest"]]
    assert fastest == sorted(fastest, reverse=True) and len(fastest) > 20
    prices = [d["price_usd_per_hour"] for d in r["devices_cheapest"]]
    assert prices == sorted(prices) and None not in prices
    names = {d["device"] for d in r["devices_fastest"]}
    # an 8 GB Mac runs it (llama-bench ran Llama-3-8B Q4_K_M at 4096 on an 8 GB M1: row L359)
    assert "rtx-3060-12gb" in names and "m1-8gb" in names
    assert all(row["smallest_memory_tier_gb"] >= 8 for row in r["by_quant"])


def test_what_runs_on_a_3060():
    rows = R.runnable_models(get_device("rtx-3060-12gb"), zoo.models().values(), context=4096)
    by = {r["model"]: r for r in rows}
    assert by["llama-2-7b"]["quant"] == "Q8_0"          # 7.2 GB of weights fit 12 GB
    assert by["llama-2-13b"]["quant"] in ("Q4_K_M", "Q5_K_S", "Q4_K_S")
    assert "llama-2-70b" not in by
    for r in rows:
        assert r["total_bytes"] <= r["usable_memory_bytes"]
        assert r["max_context"] >= 4096 or r["max_context"] == zoo.get(r["model"]).context
    fast = R.runnable_models(get_device("rtx-3060-12gb"), zoo.models().values(),
                             context=4096, min_speed=40, sort="speed")
    assert all(r["decode_tokens_per_s"] >= 40 for r in fast)
    speeds = [r["decode_tokens_per_s"] for r in fast]
    assert speeds == sorted(speeds, reverse=True)
    # meeting 40 tokens/s takes a smaller quantisation of the 7B than the best that fits
    assert R.LLAMA_CPP_QUANTS.index(
        {r["model"]: r for r in fast}["llama-2-7b"]["quant"]) > R.LLAMA_CPP_QUANTS.index("Q8_0")


def test_max_context_is_the_largest_that_fits():
    dev = get_device("rtx-3060-12gb")
    row = next(r for r in R.runnable_models(dev, [zoo.get("llama-3.1-8b")], context=4096))
    usable = row["usable_memory_bytes"]
    n = row["max_context"]
    need = R.need_bytes(zoo.get("llama-3.1-8b"), [row["quant"]], [n, n + 64],
                        "llama.cpp-cuda")
    assert need[0] <= usable < need[1]


def test_bad_input_is_a_clear_error():
    from planner.errors import PlannerError
    spec = zoo.get("llama-2-7b")
    with pytest.raises(PlannerError, match="exceeds llama-2-7b's 4,096 tokens"):
        R.requirements(spec, context=8192)
    with pytest.raises(PlannerError, match="quantisation 'Q4_K_N'.*Q4_K_M"):
        R.requirements(spec, "Q4_K_N")
    with pytest.raises(PlannerError, match="minimum speed"):
        R.runnable_models(get_device("rtx-4090"), [spec], min_speed=-1)
    with pytest.raises(PlannerError, match="sort"):
        R.runnable_models(get_device("rtx-4090"), [spec], sort="size")
    # a context filter drops the models that cannot hold it
    assert R.runnable_models(get_device("rtx-4090"), [spec], context=8192) == []
