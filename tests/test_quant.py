"""Weight formats and GGUF file sizes against published files.

Published sizes: TheBloke's GGUF model cards (GB = 1e9 bytes, rounded to 0.01), made with the
llama.cpp quantisation mixes of Aug-Dec 2023 (recipes "2023" where they differ: Q2_K, and
Q3_K_M/Q4_K_S at 40/80 layers).  Llama-2-7B-GGUF and Llama-2-13B-GGUF
(https://huggingface.co/TheBloke/Llama-2-7B-GGUF, .../Llama-2-13B-GGUF); full row sets as
transcribed in docs/research/gguf.md sec. 3.  Tolerance: 5 % (the brief); the tallies are in
fact within 0.1 % of every printed figure (the files add a ~0.74 MB header).
"""
from __future__ import annotations

import pytest

from planner.model import zoo
from planner.errors import PlannerError
from planner.model.spec import ModelSpec, total_params
from planner.estimate.quant import (GGUF_TYPES, adapter_params, bits_per_weight, canonical_quant,
                           ggml_bits, ggml_sizes, gguf_tensor_types, kv_bytes_per_element,
                           tensors, weight_bytes, weights_bytes)

# TheBloke's printed file sizes, GB.
THEBLOKE = {
    "llama-2-7b": {"Q2_K": 2.83, "Q3_K_S": 2.95, "Q3_K_M": 3.30, "Q3_K_L": 3.60, "Q4_0": 3.83,
                   "Q4_K_S": 3.86, "Q4_K_M": 4.08, "Q5_0": 4.65, "Q5_K_S": 4.65,
                   "Q5_K_M": 4.78, "Q6_K": 5.53, "Q8_0": 7.16},
    "llama-2-13b": {"Q2_K": 5.43, "Q3_K_S": 5.66, "Q3_K_M": 6.34, "Q3_K_L": 6.93,
                    "Q4_0": 7.37, "Q4_K_S": 7.41, "Q4_K_M": 7.87, "Q5_0": 8.97, "Q5_K_S": 8.97,
                    "Q5_K_M": 9.23, "Q6_K": 10.68, "Q8_0": 13.83},
    # Llama-2-70B-shaped cards (Genz-70b-GGUF, Synthia-70B-v1.1-GGUF), same rows.
    "llama-2-70b": {"Q2_K": 29.28, "Q3_K_S": 29.92, "Q3_K_M": 33.19, "Q3_K_L": 36.15,
                    "Q4_0": 38.87, "Q4_K_S": 39.07, "Q4_K_M": 41.42, "Q5_0": 47.46,
                    "Q5_K_S": 47.46, "Q5_K_M": 48.75, "Q6_K": 56.59, "Q8_0": 73.29},
}


@pytest.mark.parametrize("model,quant,published", [
    ("llama-2-7b", "Q4_0", 3.83), ("llama-2-7b", "Q4_K_M", 4.08), ("llama-2-7b", "Q8_0", 7.16),
    ("llama-2-13b", "Q4_K_M", 7.87)])
def test_thebloke_headline_sizes_within_5_percent(model, quant, published):
    """The brief's four figures, current llama.cpp recipes (identical to 2023 for these)."""
    got = weights_bytes(zoo.get(model), quant) / 1e9
    assert got == pytest.approx(published, rel=0.05)
    assert got == pytest.approx(published, abs=0.01)  # in fact to the printed 0.01 GB


@pytest.mark.parametrize("model", sorted(THEBLOKE))
def test_every_thebloke_row_with_2023_recipes(model):
    spec = zoo.get(model)
    for quant, published in THEBLOKE[model].items():
        got = weights_bytes(spec, quant, era="2023") / 1e9
        assert got == pytest.approx(published, rel=0.05), quant
        assert got == pytest.approx(published, abs=0.015), quant


def test_current_recipes_q2_k_is_smaller_than_thebloke():
    """Known difference (llama.cpp PR #5060, Jan 2024: Q2_K 'has become an actual 2-bit
    quantization'): with today's mix Llama-2-7B Q2_K is 2.53 GB, 10.5 % under the 2.83 GB
    file; every other 7B row agrees within 0.2 %."""
    spec = zoo.get("llama-2-7b")
    assert weights_bytes(spec, "Q2_K") / 1e9 == pytest.approx(2.532, abs=0.005)
    for q, pub in THEBLOKE["llama-2-7b"].items():
        if q != "Q2_K":
            assert weights_bytes(spec, q) / 1e9 == pytest.approx(pub, rel=0.002), q


def test_q4_k_m_exact_bytes_and_bpw():
    """Llama-2-7B Q4_K_M tensor data = 4,080,263,168 B: the published file 4,081,004,224 B
    minus its 741,056-byte header (docs/research/gguf.md sec. 4); 4.84 bits/weight as in
    llama.cpp's quantize README."""
    spec = zoo.get("llama-2-7b")
    assert weights_bytes(spec, "Q4_K_M") == 4_080_263_168
    assert bits_per_weight(spec, "Q4_K_M") == pytest.approx(4.84, abs=0.005)


def test_fp16_7b_is_13_5_gb():
    assert weights_bytes(zoo.get("llama-2-7b"), "fp16") / 1e9 == pytest.approx(13.5, rel=0.01)


def test_block_sizes_come_from_gguf_py():
    sizes = ggml_sizes()
    assert sizes["Q4_K"] == (256, 144) and sizes["Q8_0"] == (32, 34)
    assert ggml_bits("Q4_0") == 4.5 and ggml_bits("Q6_K") == 6.5625 and ggml_bits("Q2_K") == 2.625


def test_q4_k_m_mix_keeps_output_q6_k_and_more_bits_layers():
    spec = zoo.get("llama-2-7b")
    types = dict(zip([t.name for t in tensors(spec)], gguf_tensor_types(spec, "Q4_K_M")))
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    # use_more_bits(i, 32): 0-3, 6, 9, ..., 27, 28-31
    assert types["blk.6.attn_v.weight"] == "Q6_K" and types["blk.7.attn_v.weight"] == "Q4_K"
    assert types["blk.31.ffn_down.weight"] == "Q6_K" and types["blk.4.ffn_down.weight"] == "Q4_K"
    assert types["blk.5.attn_q.weight"] == "Q4_K"


def test_70b_attn_v_bump_and_moe_rules():
    spec = zoo.get("llama-2-70b")
    types = dict(zip([t.name for t in tensors(spec)], gguf_tensor_types(spec, "Q4_K_S")))
    assert types["blk.50.attn_v.weight"] == "Q5_K"  # LLM_TYPE_70B: Q4_K -> Q5_K
    mix = zoo.get("mixtral-8x7b")
    types = dict(zip([t.name for t in tensors(mix)], gguf_tensor_types(mix, "Q4_K_M")))
    assert types["blk.3.attn_k.weight"] == "Q8_0"  # n_expert == 8
    assert types["blk.3.ffn_gate_inp.weight"] == "F32"  # router never quantised


def test_tensor_inventory_matches_published_gguf_files():
    """The inventory against what llama.cpp prints when it loads TheBloke's
    llama-2-7b.Q4_K_M.gguf: "loaded meta data with 19 key-value pairs and 291 tensors" and
    "type f32: 65 tensors, type q4_K: 193 tensors, type q6_K: 33 tensors"; its elements are
    the checkpoint's 6,738,415,616 parameters (meta-llama/Llama-2-7b-hf)."""
    spec = zoo.get("llama-2-7b")
    ts = tensors(spec)
    assert len(ts) == 291
    assert sum(t.n_elements for t in ts) == 6_738_415_616
    types = gguf_tensor_types(spec, "Q4_K_M")
    assert {ty: types.count(ty) for ty in set(types)} == {"F32": 65, "Q4_K": 193, "Q6_K": 33}


def test_quantised_formats_keep_embeddings_16_bit():
    spec = zoo.get("llama-2-7b")
    emb = 2 * 32000 * 4096  # token_embd + output
    int4 = weight_bytes(spec, "int4")
    linear = total_params(spec) - emb - 65 * 4096
    assert int4.total == pytest.approx(emb * 2 + 65 * 4096 * 2 + linear * (4 + 20 / 128) / 8)
    nf4 = weight_bytes(spec, "nf4")
    # Dettmers et al. 2023 sec. 3: 4 + 8/64 + 32/(64*256) = 4.127 bits per quantised weight
    assert (nf4.total - emb * 2 - 65 * 4096 * 2) * 8 / linear == pytest.approx(4.127, abs=1e-3)


def test_weights_bytes_vectorised_over_formats():
    spec = zoo.get("llama-2-7b")
    arr = weights_bytes(spec, list(GGUF_TYPES))
    assert arr.shape == (len(GGUF_TYPES),)
    assert arr[GGUF_TYPES.index("Q8_0")] == weights_bytes(spec, "Q8_0")


def test_names_are_forgiving_and_near_misses_suggest():
    assert canonical_quant("q4_k_m") == "Q4_K_M"
    assert canonical_quant("FP16") == "fp16" and canonical_quant("half") == "fp16"
    with pytest.raises(PlannerError, match="Q4_K_M"):
        canonical_quant("Q4_K_N")


def test_kv_element_sizes_from_gguf_blocks():
    assert kv_bytes_per_element("f16") == 2.0
    assert kv_bytes_per_element("q8_0") == 34 / 32
    assert kv_bytes_per_element("q4_0") == 18 / 32
    with pytest.raises(PlannerError):
        kv_bytes_per_element("q3_k")


def test_lora_trainable_params_hu_et_al_table_4():
    """Hu et al. 2021 Table 4, GPT-3 175B with LoRA on W_q and W_v: 4.7M at r = 1 and 37.7M
    at r = 8 (sec. 4.2: r = 4 on q, v shrinks the checkpoint from 350 GB to ~35 MB)."""
    g = zoo.get("gpt3-175b")
    assert adapter_params(g, 1, ["q", "v"]) / 1e6 == pytest.approx(4.7, abs=0.05)
    assert adapter_params(g, 8, ["q", "v"]) / 1e6 == pytest.approx(37.7, abs=0.05)
    assert adapter_params(g, 4, ["q", "v"]) * 2 / 1e6 == pytest.approx(35, rel=0.1)


def test_gqa_adapter_shapes():
    spec = ModelSpec(name="g", vocab_size=100, d_model=64, n_layers=2, n_heads=8,
                     n_kv_heads=2, d_ff=128, mlp="swiglu")
    # k: 64 -> 16 (2 kv heads x 8), so r*(64+16) per layer
    assert adapter_params(spec, 4, ["k"]) == 2 * 4 * (64 + 16)
