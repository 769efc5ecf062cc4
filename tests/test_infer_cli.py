"""`planner infer` and `planner finetune` on the command line: contract keys and errors."""
from __future__ import annotations

from conftest import assert_user_error

CONTRACT = ("weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes",
            "device_memory_bytes", "fits", "decode_tokens_per_s", "prefill_tokens_per_s",
            "smallest_memory_tier_gb", "headroom_bytes", "max_context", "max_batch",
            "smallest_quant_that_fits", "gpus_needed", "time_to_first_token_s")


def test_infer_json_contract(cli):
    r = cli("infer", "llama-2-7b", "--device", "rtx-4090", "--quant", "Q4_0", "--json")
    assert r.code == 0, r.err
    data = r.json()
    for key in CONTRACT:
        assert key in data, key
    assert data["weights_bytes"] == 3_825_065_984
    assert data["kv_cache_bytes"] == 2 * 2**30
    assert data["fits"] is True


def test_infer_human_output_labels_gb_and_gib(cli):
    r = cli("infer", "llama-2-7b", "--device", "rtx-4090")
    assert r.code == 0, r.err
    assert "GB" in r.out and "GiB" in r.out and "Verdict: FITS" in r.out


def test_infer_quant_all_rows(cli):
    r = cli("infer", "llama-2-13b", "--device", "m2-max-32gb", "--quant", "all", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert {row["quant"] for row in rows} >= {"fp16", "Q4_K_M", "Q8_0", "Q2_K"}
    assert all("fits" in row and "decode_tokens_per_s" in row for row in rows)
    human = cli("infer", "llama-2-13b", "--device", "m2-max-32gb", "--quant", "all")
    assert "Q4_K_M" in human.out and "total GiB" in human.out


def test_infer_adhoc_device(cli):
    r = cli("infer", "mistral-7b", "--memory", "16GB", "--bandwidth", "100GB/s", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["device_memory_bytes"] == 16e9 and d["bandwidth_bytes_per_s"] == 100e9


def test_infer_kv_cache_and_reserve_options(cli):
    r = cli("infer", "llama-2-7b", "-d", "laptop-16gb", "--kv-cache", "q8_0", "--reserve",
            "2GB", "--json")
    d = r.json()
    assert d["kv_cache_bytes"] == 1088 * 2**20 and d["reserve_bytes"] == 2e9


def test_bad_input_errors(cli):
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--quant", "Q4_K_N"),
                      "Q4_K_N", "Q4_K_M")
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--context", "0"),
                      "--context")
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--batch", "-1"), "--batch")
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--kv-cache", "q3"),
                      "KV-cache")
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--efficiency", "1.5"),
                      "efficiency")
    assert_user_error(cli("infer", "llama-2-7b", "--memory", "16GB", "--bandwidth", "100"),
                      "bandwidth")
    # no device is a question of its own (tests/test_infer_local.py); half an ad-hoc one is not
    assert_user_error(cli("infer", "llama-2-7b", "--memory", "16GB"), "--device", "--bandwidth")
    assert_user_error(cli("infer", "llama-2-7b", "-d", "rtx-4090", "--reserve", "lots"),
                      "reserve")


def test_finetune_cli(cli):
    r = cli("finetune", "llama-2-7b", "--device", "rtx-4090", "--method", "qlora", "--json")
    assert r.code == 0, r.err
    d = r.json()
    for key in ("weights_bytes", "overhead_bytes", "total_bytes", "device_memory_bytes", "fits",
                "smallest_memory_tier_gb", "trainable_params", "headroom_bytes"):
        assert key in d, key
    assert d["fits"] is True
    human = cli("finetune", "llama-2-7b", "--device", "rtx-4090", "--method", "lora",
                "--rank", "8", "--targets", "q,v")
    assert human.code == 0 and "trainable parameters" in human.out
    assert_user_error(cli("finetune", "llama-2-7b", "-d", "rtx-4090", "--targets", "q,x"), "x")
    assert_user_error(cli("finetune", "llama-2-7b", "-d", "rtx-4090", "--rank", "0"), "--rank")
