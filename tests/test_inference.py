"""Inference memory, verdict and speed against published figures and invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.model import zoo
from planner.hardware.profiles import Device, get_device
from planner.estimate.inference import (compute_buffer_bytes, decode_tokens_per_s, kv_cache_bytes,
                               memory_total, plan_inference, prefill_tokens_per_s,
                               reserve_bytes, roofline_batch, smallest_memory_tier_gb,
                               weights_read_per_step)
from planner.model.spec import ModelSpec
from planner.estimate.quant import weight_bytes

GiB = 2**30
L7, L13, L70 = (zoo.get(n) for n in ("llama-2-7b", "llama-2-13b", "llama-2-70b"))


# --- KV cache --------------------------------------------------------------------------------

def test_kv_llama2_7b_4096_fp16_is_exactly_2_gib():
    """2 x 32 layers x 32 heads x 128 x 4096 x 2 B = 2 GiB (llama.cpp logs 'KV self size =
    2048.00 MiB').  A cache missing its x2 for K and V would give 1 GiB."""
    assert kv_cache_bytes(L7, 4096) == 2 * GiB
    assert kv_cache_bytes(L7, 4096) != 1 * GiB


def test_kv_llama2_70b_gqa_8_heads_is_1_25_gib():
    """80 layers x 8 KV heads (GQA, Touvron et al. 2023b sec. 2.2) x 128 x 4096 x 2 x 2 B."""
    assert kv_cache_bytes(L70, 4096) == 1.25 * GiB


def test_kv_quantised_caches_use_gguf_blocks():
    assert kv_cache_bytes(L7, 4096, kv_type="q8_0") == 1088 * 2**20
    assert kv_cache_bytes(L7, 4096, kv_type="q4_0") == 576 * 2**20


def test_kv_head_dim_not_assumed_d_over_heads():
    """Gemma-like: 16 heads x head_dim 256 = 4096 != d_model 3072."""
    spec = ModelSpec(name="gemma-like", vocab_size=256000, d_model=3072, n_layers=28,
                     n_heads=16, head_dim=256, d_ff=24576, mlp="geglu")
    assert kv_cache_bytes(spec, 1000) == 2 * 28 * 16 * 256 * 1000 * 2
    assert kv_cache_bytes(spec, 1000) != 2 * 28 * 3072 * 1000 * 2
    gemma = zoo.get("gemma-7b")
    assert gemma.d_head == 256
    assert kv_cache_bytes(gemma, 1) == 2 * gemma.n_layers * gemma.kv_heads * 256 * 2


def test_kv_sliding_window_caps_cache():
    mistral = zoo.get("mistral-7b")  # sliding_window 4096 (Jiang et al. 2023)
    assert mistral.sliding_window == 4096
    assert kv_cache_bytes(mistral, 32768) == kv_cache_bytes(mistral, 4096)
    assert kv_cache_bytes(mistral, 2048) < kv_cache_bytes(mistral, 4096)


def test_kv_broadcasts_over_context_and_batch():
    ctx = np.array([[512], [1024], [2048]])
    batch = np.array([1, 2, 4, 8])
    out = kv_cache_bytes(L7, ctx, batch)
    assert out.shape == (3, 4)
    assert out[2, 3] == kv_cache_bytes(L7, 2048, 8) == 16 * kv_cache_bytes(L7, 1024, 1)


# --- overheads -------------------------------------------------------------------------------

def test_compute_buffer_matches_llama_cpp_log():
    """Mistral-7B-shaped model without flash attention, n_ubatch 512: CUDA0 compute buffer
    164 MiB at n_ctx 2048 and 2144 MiB at 32768 (fedora-copr/logdetective PR #106 logs; that
    llama.cpp build kept the full cache, so the window is switched off here)."""
    spec = zoo.get("mistral-7b").with_(sliding_window=0)
    got = compute_buffer_bytes(spec, np.array([2048, 32768]), 1, flash_attention=False) / 2**20
    assert got == pytest.approx([164, 2144], rel=0.02)


def test_reserve_default_follows_macos_split_and_override():
    assert reserve_bytes(16 * GiB, True) == pytest.approx(16 * GiB / 3)
    assert reserve_bytes(64 * GiB, True) == pytest.approx(16 * GiB)
    assert reserve_bytes(24 * GiB, False) == 0
    assert reserve_bytes(16 * GiB, True, 2e9) == 2e9
    assert reserve_bytes(16 * GiB, False, "25%") == 4 * GiB


# --- verdict ---------------------------------------------------------------------------------

def _machine(gib: int) -> Device:
    return get_device(f"laptop-{gib}gb")


@pytest.mark.parametrize("quant", ["Q4_0", "Q4_K_M"])
def test_seed_tiers_gpt4all_7b_on_8gb_13b_on_16gb(quant):
    """GPT4All: 7B models run on 8 GB of RAM, 13B models need 16 GB (4-bit, 2,048 tokens)."""
    r7 = plan_inference(L7, _machine(16), quant, context=2048, search_devices=False)
    r13 = plan_inference(L13, _machine(16), quant, context=2048, search_devices=False)
    assert r7["smallest_memory_tier_gb"] == 8
    assert r13["smallest_memory_tier_gb"] == 16
    assert plan_inference(L7, _machine(8), quant, context=2048, search_devices=False)["fits"]
    assert not plan_inference(L13, _machine(8), quant, context=2048,
                              search_devices=False)["fits"]


def test_tier_reserve_is_user_overridable():
    w, kv, over, total = memory_total(L13, "Q4_0", 2048, shared_memory=True)
    need = float(total) - 0.1e9
    assert smallest_memory_tier_gb(need, True) == 16
    assert smallest_memory_tier_gb(need, True, reserve=1e9) == 12
    assert smallest_memory_tier_gb(need, False) == 12  # a 12 GB GPU, no OS reserve
    assert smallest_memory_tier_gb(1e15, False) is None


@settings(max_examples=40, deadline=None)
@given(c1=st.integers(1, 100_000), c2=st.integers(1, 100_000), b=st.integers(1, 64),
       kv=st.sampled_from(["f16", "q8_0", "q4_0"]))
def test_memory_grows_with_context(c1, c2, b, kv):
    lo, hi = sorted((c1, c2))
    for spec in (L7, zoo.get("mistral-7b")):
        t_lo = memory_total(spec, "Q4_K_M", lo, b, kv)[3]
        t_hi = memory_total(spec, "Q4_K_M", hi, b, kv)[3]
        assert t_hi >= t_lo
        if not spec.sliding_window:
            assert (t_hi > t_lo) == (hi > lo)


def test_max_context_and_batch_are_the_edges_of_fit():
    dev = get_device("rtx-3060-12gb")
    r = plan_inference(L13, dev, "Q4_K_M", context=4096, search_devices=False)
    assert 0 < r["max_context"] <= L13.context
    usable = r["usable_memory_bytes"]
    assert memory_total(L13, "Q4_K_M", r["max_context"])[3] <= usable
    if r["max_context"] < L13.context:
        assert memory_total(L13, "Q4_K_M", r["max_context"] + 1)[3] > usable
    mb = r["max_batch"]
    assert memory_total(L13, "Q4_K_M", 4096, max(mb, 1))[3] <= usable or mb == 0
    assert memory_total(L13, "Q4_K_M", 4096, mb + 1)[3] > usable


def test_quant_search_and_gpus_needed_for_70b():
    r = plan_inference(L70, get_device("rtx-4090"), "fp16", context=4096, search_devices=False)
    assert not r["fits"]
    # 138 GB of fp16 weights over 24 GiB cards: at least 6
    assert r["gpus_needed"]["fp16"] >= 6
    assert r["gpus_needed"]["int4"] == 2
    # Q2_K is 25.5 GB of weights + 1.34 GB KV + 0.5 GB runtime > 24 GiB: nothing fits
    assert r["smallest_quant_that_fits"] is None and r["best_quant_that_fits"] is None
    r = plan_inference(L70, get_device("rtx-5090"), "fp16", context=4096, search_devices=False)
    # 32 GiB: Q2_K (25.5 GB) and Q3_K_S (29.9 GB) fit, Q3_K_M (33.3 GB) does not
    assert r["smallest_quant_that_fits"] == "Q2_K"
    assert r["best_quant_that_fits"] == "Q3_K_S"


# --- speed -----------------------------------------------------------------------------------

def test_rtx_4090_llama2_7b_q4_0_within_1_5x_of_benchmark():
    """XiongjieDai/GPU-Benchmarks-on-LLM-Inference (README 'Overview', Dec 2023, llama.cpp
    CUDA, 1x RTX 4090): LLaMA 2 7B Q4_0 text generation 149.37 tokens/s.
    https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference  Tolerance: factor 1.5."""
    r = plan_inference(L7, get_device("rtx-4090"), "Q4_0", context=128, search_devices=False,
                       flash_attention=False)
    assert 149.37 / 1.5 <= r["decode_tokens_per_s"] <= 149.37 * 1.5
    # prefill, same source: 5531.19 tokens/s prompt processing of 512 tokens; same factor
    r = plan_inference(L7, get_device("rtx-4090"), "Q4_0", context=512, prompt=512,
                       search_devices=False, flash_attention=False)
    assert 5531.19 / 1.5 <= r["prefill_tokens_per_s"] <= 5531.19 * 1.5


def test_m1_max_decode_matches_llama_cpp_4167():
    """llama.cpp discussion #4167: M1 Max (400 GB/s), Llama-2-7B Q4_0 tg128 61.19 t/s.  Not
    in the fit (which saw Llama 3 at Q4_K_M/F16 only); the legacy-quant ALU cost in
    decode_backends.toml is bounded by this table, so the check is tight (10 %)."""
    r = plan_inference(L7, get_device("m1-max-32gb"), "Q4_0", context=128,
                       search_devices=False, flash_attention=False)
    assert r["decode_tokens_per_s"] == pytest.approx(61.19, rel=0.10)


@settings(max_examples=40, deadline=None)
@given(bw=st.floats(1e10, 1e13), k=st.floats(1.1, 10), nbytes=st.floats(1e8, 1e12),
       eff=st.floats(0.05, 1.0))
def test_decode_proportional_to_bandwidth_inverse_to_bytes(bw, k, nbytes, eff):
    base = decode_tokens_per_s(nbytes, bw, eff)
    assert decode_tokens_per_s(nbytes, bw * k, eff) == pytest.approx(base * k, rel=1e-9)
    assert decode_tokens_per_s(nbytes * k, bw, eff) == pytest.approx(base / k, rel=1e-9)


def test_prefill_compute_bound():
    assert prefill_tokens_per_s(1e10, 1e14, 0.5) == 5000


def test_moe_reads_active_experts_only():
    mix = zoo.get("mixtral-8x7b")
    wb = weight_bytes(mix, "Q4_K_M")
    one = weights_read_per_step(mix, "Q4_K_M", 1)
    assert one == pytest.approx(wb.total - wb.embedding - wb.routed_experts * 6 / 8)
    assert one < 0.4 * wb.total
    # a large batch touches every expert
    assert weights_read_per_step(mix, "Q4_K_M", 256) == pytest.approx(
        wb.total - wb.embedding, rel=1e-6)


def test_roofline_batch_and_throughput():
    dev = get_device("rtx-4090")
    w = weights_read_per_step(L7, "Q4_0", 1)
    ridge = roofline_batch(w, 2 * 6.7e9, dev.bandwidth_bytes_per_s, dev.peak("fp16"))
    assert 10 < ridge < 100
    r1 = plan_inference(L7, dev, "Q4_0", context=512, batch=1, search_devices=False)
    r8 = plan_inference(L7, dev, "Q4_0", context=512, batch=8, search_devices=False)
    assert r8["throughput_tokens_per_s"] > r1["throughput_tokens_per_s"]
    assert r8["decode_tokens_per_s"] < r1["decode_tokens_per_s"]
    gqa = plan_inference(L70, get_device("h100-sxm"), "fp16", context=512, batch=1,
                         search_devices=False)
    assert gqa["compute_bound_batch"] is not None and gqa["compute_bound_batch"] > 1


def test_time_to_first_token_scales_with_prompt():
    dev = get_device("rtx-4090")
    a = plan_inference(L7, dev, "Q4_0", prompt=512, search_devices=False)
    b = plan_inference(L7, dev, "Q4_0", prompt=2048, search_devices=False)
    assert b["time_to_first_token_s"] > 3.9 * a["time_to_first_token_s"]
