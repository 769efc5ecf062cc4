"""The models of 2024-2025 (issue 13): counts against published figures and checkpoint sizes, the
KV cache of latent and windowed attention by hand, the new quantisation formats against published
files, and bad configs of the new types.

Tolerances: "exact" where a checkpoint's byte total is published (index.json
``metadata.total_size`` over the stored dtype, nothing else in it); otherwise one unit of the last
digit the publisher printed (a "3.3B" is 3.3 +- 0.1 B), as the figures are rounded or truncated.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_user_error
from planner.errors import PlannerError
from planner.estimate.inference import kv_cache_bytes
from planner.estimate.quant import weight_bytes
from planner.model import hf, zoo
from planner.model.flops import attention_flops_per_token, matmul_flops_per_token
from planner.model.spec import (active_params, kv_bytes_per_token, layer_groups, neurons,
                                non_embedding_params, separate_params, total_params)

DATA = Path(__file__).parent / "data" / "hf"
B = 1e9

# Published totals of the new fixtures (folder -> count), sources beside each.
RECENT = {
    # DeepSeek-V3 Technical Report, Table 1 / abstract: "671B total"; the hand sum is below.
    "deepseek-v3": 671_026_419_200,
    # DeepSeek-V2 App. B: "15.7B total parameters"
    "deepseek-v2-lite": 15_706_484_224,
    # Qwen3 model cards: 0.6B ("0.44B non-embedding"), 8.2B
    "qwen3-0.6b": 596_049_920,
    "qwen3-8b": 8_190_735_360,
    # model.safetensors.index.json total_size 61,064,245,248 B / 2 (BF16; no buffers, untied)
    "qwen3-30b-a3b": 61_064_245_248 // 2,
    # model.safetensors.index.json total_size 470,187,269,120 B / 2 (BF16; no buffers, untied)
    "qwen3-235b-a22b": 470_187_269_120 // 2,
    # Qwen1.5-MoE-A2.7B model card: 14.3B total, 2.7B activated
    "qwen1.5-moe-a2.7b": 14_315_784_192,
    # gpt-oss model card Table 1: 116.83B and 20.91B total
    "gpt-oss-120b": 116_829_156_672,
    "gpt-oss-20b": 20_914_757_184,
    # gemma-2-9b(-it) model.safetensors.index.json total_size 18,483,411,968 B / 2 (bf16; the
    # tied embedding is stored once, no buffers)
    "gemma-2-9b": 18_483_411_968 // 2,
    # Gemma 3 Table 1: 1B = 302M embedding + 698M non-embedding
    "gemma-3-1b-it": 999_885_952,
    # Gemma 3 Table 1: 4B non-embedding 3,209M; + 671M embedding (text model only; the 417M
    # vision encoder is counted apart)
    "gemma-3-4b-it": 3_880_263_168,
    # Llama 4 model card: 109B total with the vision encoder (~0.87B, not counted here)
    "llama-4-scout-17b-16e": 107_769_861_120,
    # hub safetensors metadata of allenai/OLMo-2-1124-7B: {"F32": 7,298,617,344}
    # (= index total_size 29,194,469,376 B / 4)
    "olmo-2-1124-7b": 7_298_617_344,
    # StarCoder2 model card "3B"; hub 3.03B
    "starcoder2-3b": 3_030_371_328,
    # Command R model card "35B"
    "c4ai-command-r-v01": 34_980_831_232,
    # Phi-4 hub "14.7B"
    "phi-4": 14_659_507_200,
}


def load(name: str):
    return hf.load(DATA / name)


@pytest.mark.parametrize("name", sorted(RECENT))
def test_recent_fixture_counts(name):
    assert total_params(load(name)) == RECENT[name]


def test_deepseek_v3_by_hand():
    """DeepSeek-V3 (config: d 7168, 128 heads, q rank 1536, kv rank 512, rope 64, nope 128,
    v 128; 3 dense layers of 18432; 58 MoE layers of 256 + 1 shared experts of 2048; vocab
    129280, untied).  Paper: 671B total, 37B activated (the input embedding not counted)."""
    d, h = 7168, 128
    attn = (d * 1536 + 1536 + 1536 * h * 192      # q_a, q_a_norm, q_b
            + d * (512 + 64) + 512 + 512 * h * 256  # kv_a, kv_a_norm, kv_b
            + h * 128 * d)                          # o
    expert = 3 * d * 2048
    dense = attn + 2 * d + 3 * d * 18432
    moe = attn + 2 * d + 256 * expert + expert + 256 * d + 256  # + router, + bias
    emb = 129280 * d
    spec = load("deepseek-v3")
    assert total_params(spec) == 3 * dense + 58 * moe + 2 * emb + d
    assert round(total_params(spec) / B) == 671
    active = 3 * dense + 58 * (attn + 2 * d + 9 * expert + 256 * d + 256) + emb + d
    assert active_params(spec, include_embedding=False) == active
    assert abs(active / B - 37) < 0.5
    assert [g["count"] for g in layer_groups(spec)] == [3, 58]
    # The MTP module (sec. 2.2) is reported apart: one MoE block + enorm, hnorm, eh_proj (2d x
    # d), shared_head norm; the checkpoint also stores its embedding and head again.
    apart = separate_params(spec)
    assert apart["mtp"] == moe + 3 * d + 2 * d * d
    assert apart["mtp_copies"] == 2 * emb
    # The model card's "685B on Hugging Face" is the model plus the MTP module.
    assert round((total_params(spec) + sum(apart.values())) / B) == 684  # 684.49 -> "685B"


@pytest.mark.parametrize("name,total,active", [
    # gpt-oss model card Table 1: total and "active parameters per token" (without embedding)
    ("gpt-oss-120b", 116.83, 5.13), ("gpt-oss-20b", 20.91, 3.61)])
def test_gpt_oss_table_1(name, total, active):
    spec = load(name)
    assert round(total_params(spec) / B, 2) == total
    assert round(active_params(spec, include_embedding=False) / B, 2) == active


@pytest.mark.parametrize("name,total,active,unit,apart", [
    ("qwen3-235b-a22b", 235, 22, 1, 0),        # model card: 235B total, 22B activated
    ("qwen3-30b-a3b", 30.5, 3.3, 0.1, 0),      # model card: 30.5B total, 3.3B activated
    ("qwen1.5-moe-a2.7b", 14.3, 2.7, 0.1, 0),  # model card: 14.3B, 2.7B activated
    # model card: 109B total with the vision encoder (~0.87B, not counted here), 17B active
    ("llama-4-scout-17b-16e", 109, 17, 1, 0.87),
])
def test_moe_published_totals_and_active(name, total, active, unit, apart):
    spec = load(name)
    assert abs(total_params(spec) / B + apart - total) <= unit
    assert abs(active_params(spec) / B - active) <= unit


def test_deepseek_v2_lite_published():
    spec = load("deepseek-v2-lite")  # DeepSeek-V2 App. B: 15.7B total, 2.4B activated
    assert round(total_params(spec) / B, 1) == 15.7
    assert abs(active_params(spec, include_embedding=False) / B - 2.4) <= 0.1


def test_qwen3_non_embedding_from_model_cards():
    # Qwen3-0.6B card: "Number of Parameters (Non-Embedding): 0.44B"; 8B: 6.95B
    assert round(non_embedding_params(load("qwen3-0.6b")) / B, 2) == 0.44
    assert round(non_embedding_params(load("qwen3-8b")) / B, 2) == 6.95


@pytest.mark.parametrize("name,vision,non_embedding", [
    # Gemma 3 Technical Report Table 1 (millions): vision encoder, non-embedding parameters
    ("gemma-3-1b", 0, 698), ("gemma-3-4b", 417, 3209), ("gemma-3-12b", 417, 10759),
    ("gemma-3-27b", 417, 25600)])
def test_gemma_3_table_1(name, vision, non_embedding):
    spec = zoo.get(name)
    assert round(non_embedding_params(spec) / 1e6) == non_embedding
    assert round(separate_params(spec).get("vision_tower", 0) / 1e6) == vision


def test_gemma_3_4b_wrapper_reports_vision_apart():
    spec = load("gemma-3-4b-it")
    apart = separate_params(spec)
    # SigLIP So400m/14 at 896: 27 blocks of 1152 wide, fc 4304, 64 x 64 patches
    d, f = 1152, 4304
    block = 4 * (d * d + d) + 2 * (d * f) + f + d + 4 * d
    tower = 27 * block + d * 3 * 14 * 14 + d + 64 * 64 * d + 2 * d
    assert apart["vision_tower"] == tower
    assert apart["projector"] == d * 2560 + d
    # model card / hub: 4.3B with the vision tower
    assert round((total_params(spec) + sum(apart.values())) / B, 1) == 4.3


def test_patterns_of_local_and_global_layers():
    oss = load("gpt-oss-120b")
    assert oss.attention_pattern == "LG" and oss.n_local_layers == 18
    gemma3 = load("gemma-3-1b-it")  # sliding_window_pattern 6: layers 5, 11, 17, 23 global
    assert [i for i in range(26) if not gemma3.is_local_layer(i)] == [5, 11, 17, 23]
    assert gemma3.sliding_window == 512
    gemma2 = load("gemma-2-9b")  # even layers local (window 4096)
    assert gemma2.n_local_layers == 21 and gemma2.is_local_layer(0)
    scout = load("llama-4-scout-17b-16e")  # no_rope_layers: every 4th layer global NoPE
    assert scout.attention_pattern == "LLLG" and scout.window_kind == "chunked"
    assert scout.sliding_window == 8192 and scout.n_moe_layers == 48


# --- KV cache and FLOPs by hand ---------------------------------------------------------------

def test_deepseek_v3_kv_cache_is_the_latent():
    """DeepSeek-V2 sec. 2.1.3 / Table 1: MLA caches (d_c + d_h^R) elements per token and layer;
    DeepSeek-V3: 61 layers x (512 + 64)."""
    spec = load("deepseek-v3")
    assert kv_bytes_per_token(spec, 2.0) == 61 * (512 + 64) * 2 == 70_272
    assert kv_cache_bytes(spec, 32768, 1, "f16") == 61 * 576 * 2 * 32768
    # A plain 128-head cache of the same heads would be 2 x 61 x 128 x (192 + 128) / 2 ...
    gqa_equivalent = 61 * 128 * (192 + 128) * 2
    assert kv_bytes_per_token(spec, 2.0) / gqa_equivalent < 0.025


def test_gpt_oss_kv_cache_with_sliding_layers():
    """gpt-oss-120b: 36 layers, 8 KV heads of 64; 18 sliding layers keep 128 tokens."""
    spec = load("gpt-oss-120b")
    per_token_layer = 2 * 8 * 64 * 2  # K and V, bf16
    assert kv_bytes_per_token(spec, 2.0) == 36 * per_token_layer == 73_728
    ctx = 8192
    by_hand = 18 * ctx * per_token_layer + 18 * 128 * per_token_layer
    assert kv_cache_bytes(spec, ctx, 1, "f16") == by_hand == 306_708_480
    assert kv_bytes_per_token(spec, 2.0, context=ctx) == by_hand / ctx
    assert kv_cache_bytes(spec, 100, 1, "f16") == 36 * 100 * per_token_layer  # within window
    # sinks are parameters, not cached tokens
    assert spec.attention_sinks


def test_gpt_oss_attention_flops_follow_the_window():
    """App. F per layer and key: 2 H d_qk + 3 H + 2 H d_v; 18 layers span S, 18 span 128."""
    spec = load("gpt-oss-120b")
    per_key = 2 * 64 * 64 + 3 * 64 + 2 * 64 * 64
    assert attention_flops_per_token(spec, 131072) == per_key * (18 * 131072 + 18 * 128)
    # the matmuls use the ACTIVE parameters: 2 x (active weights + the logits' use of the head)
    active = active_params(spec)
    assert matmul_flops_per_token(spec) == pytest.approx(2 * active, rel=2e-3)


def test_mla_attention_flops_split_qk_and_v_widths():
    spec = load("deepseek-v3")
    per_key = 2 * 128 * 192 + 3 * 128 + 2 * 128 * 128
    assert attention_flops_per_token(spec, 4096) == per_key * 61 * 4096


# --- quantised checkpoints against published sizes ---------------------------------------------

def test_gpt_oss_mxfp4_checkpoint_bytes():
    """MXFP4 experts (32-element blocks + one E8M0 scale = 17 bytes per 32) and BF16 for the
    rest.  gpt-oss-120b safetensors tensor bytes 65,248,815,744 (model card Table 1: 60.8 GiB);
    gpt-oss-20b: 12.8 GiB (Table 1).  Within 2 % (the brief); 120b in fact to the byte."""
    big = weight_bytes(load("gpt-oss-120b"), "mxfp4-experts").total
    assert big == pytest.approx(60.8 * 2**30, rel=0.02)
    assert big == 65_248_815_744
    small = weight_bytes(load("gpt-oss-20b"), "mxfp4-experts").total
    assert small == pytest.approx(12.8 * 2**30, rel=0.02)
    assert round(small / 2**30, 1) == 12.8


def test_deepseek_v3_fp8_checkpoint_bytes():
    """FP8 E4M3 linear layers with one FP32 scale per 128 x 128 block, BF16 embedding, head,
    norms and router, the MTP module included: the 163 weight files of deepseek-ai/DeepSeek-V3
    hold 688,586,727,753 bytes (with their JSON headers, ~73 KB each).  Within 2 % (the brief);
    in fact within the headers."""
    got = weight_bytes(load("deepseek-v3"), "fp8-block", checkpoint=True).total
    assert got == pytest.approx(688_586_727_753, rel=0.02)
    assert 0 < 688_586_727_753 - got < 163 * 100_000


def test_qwen3_moe_gguf_file():
    """Qwen/Qwen3-30B-A3B-GGUF, Qwen3-30B-A3B-Q4_K_M.gguf: 18,556,685,824 bytes (file size as
    pinned with its SHA-256 in public download scripts); the tensor data is that minus the
    GGUF header and metadata (its 151,936-token vocabulary: a few MB)."""
    got = weight_bytes(zoo.get("qwen3-30b-a3b"), "Q4_K_M").total
    assert got == pytest.approx(18_556_685_824, rel=0.02)
    assert 0 < 18_556_685_824 - got < 8 * 2**20


@pytest.mark.parametrize("quant,published", [
    # TheBloke/Llama-2-7B-AWQ (128g GEMM): model.safetensors 3.89 GB
    ("awq", 3.89),
    # TheBloke/Llama-2-7B-GPTQ main branch (4-bit, 128g, act-order): 3.90 GB
    ("gptq", 3.90)])
def test_awq_gptq_llama_2_7b_files(quant, published):
    got = weight_bytes(zoo.get("llama-2-7b"), quant).total / 1e9
    assert got == pytest.approx(published, rel=0.02)
    assert got == pytest.approx(published, abs=0.02)


def test_fp4_formats_bits_per_weight():
    """OCP MX v1.0: 32 E2M1 + one E8M0 = 4.25 bits; NVFP4: 16 E2M1 + one E4M3 = 4.5 bits plus
    one FP32 per tensor; gguf's own table agrees for MXFP4 (17 bytes / 32) and NVFP4 (36 / 64)."""
    from planner.estimate.quant import ggml_sizes
    assert ggml_sizes()["MXFP4"] == (32, 17) and ggml_sizes()["NVFP4"] == (64, 36)
    spec = zoo.get("llama-2-7b")
    linear = sum(t.n_elements for t in __import__("planner.model.tensors", fromlist=["x"])
                 .main_tensors(spec) if t.has("linear"))
    rest = (total_params(spec) - linear) * 2
    assert weight_bytes(spec, "mxfp4").total == pytest.approx(rest + linear * 4.25 / 8)
    nv = weight_bytes(spec, "nvfp4").total
    assert nv == pytest.approx(rest + linear * 4.5 / 8 + 32 * 7 * 4 / 8)


def test_iquant_recipes_follow_llama_cpp():
    """llama_tensor_get_type_impl: IQ2_XXS keeps attn_v at Q4_K when n_gqa >= 4, the output at
    Q5_K, token_embd at Q2_K; the first n/8 ffn_down at Q2_K."""
    from planner.estimate.quant import gguf_tensor_types, tensors
    spec = zoo.get("llama-3-8b")  # 32 heads / 8 KV heads: n_gqa 4
    types = dict(zip([t.name for t in tensors(spec)], gguf_tensor_types(spec, "IQ2_XXS")))
    assert types["blk.0.attn_v.weight"] == "Q4_K" and types["output.weight"] == "Q5_K"
    assert types["token_embd.weight"] == "Q2_K"
    assert types["blk.3.ffn_down.weight"] == "Q2_K" and types["blk.4.ffn_down.weight"] == "IQ2_XXS"
    assert types["blk.10.ffn_gate.weight"] == "IQ2_XXS"
    moe = load("gpt-oss-20b")  # MXFP4_MOE: experts MXFP4, the rest Q8_0
    mtypes = dict(zip([t.name for t in tensors(moe)], gguf_tensor_types(moe, "MXFP4_MOE")))
    assert mtypes["blk.0.ffn_down_exps.weight"] == "MXFP4"
    assert mtypes["blk.0.attn_q.weight"] == "Q8_0" and mtypes["output.weight"] == "Q8_0"


# --- the zoo and the CLI -----------------------------------------------------------------------

def test_gpt_4_is_marked_reported_everywhere(cli):
    spec = zoo.get("gpt-4")
    assert spec.reported
    # SemiAnalysis (July 2023): ~1.8T total, ~280B per forward pass, 16 experts, 2 routed
    assert abs(total_params(spec) / 1.8e12 - 1) < 0.03
    assert abs(active_params(spec) / 280e9 - 1) < 0.01
    # the seed's estimate of ~100M neurons (10 x GPT-3's 10.6M)
    assert abs(neurons(spec) / 100e6 - 1) < 0.1
    r = cli("params", "gpt-4")
    assert r.code == 0 and r.out.count("REPORTED, UNCONFIRMED") == 2
    assert "18,065,280 active per token" in r.out and "100,000,000" in r.out
    assert "REPORTED, UNCONFIRMED" in r.err  # the note every command prints
    j = cli("params", "gpt-4", "--json").json()
    assert j["status"] == "reported, unconfirmed" and "UNCONFIRMED" in j["caveat"]
    listing = cli("models").out
    assert "gpt-4 *" in listing and "reported, unconfirmed" in listing


def test_params_shows_the_new_parts(cli):
    ds = cli("params", "deepseek-v3").out
    for text in ("latent projections (MLA)", "shared experts", "routed experts",
                 "multi-token-prediction module(s)", "70,272 bytes (MLA latent + rope key)",
                 "671,026,419,200"):
        assert text in ds, text
    assert "sinks" in cli("params", "gpt-oss-120b").out
    g3 = cli("params", "gemma-3-4b").out
    assert "vision tower" in g3 and "416,866,032" in g3 and "q/k norms" in g3
    j = cli("params", "qwen3-235b-a22b", "--json").json()
    assert j["params"] == 235_093_634_560 and j["active_params"] == 22_190_763_520


def test_new_zoo_entries_listed(cli):
    names = {r["name"] for r in cli("models", "--json").json()}
    for needed in ("deepseek-v3", "deepseek-r1", "deepseek-v2-lite", "qwen3-0.6b", "qwen3-1.7b",
                   "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b",
                   "qwen3-235b-a22b", "gpt-oss-20b", "gpt-oss-120b", "llama-4-scout",
                   "llama-4-maverick", "llama-3.2-1b", "llama-3.2-3b", "llama-3.3-70b",
                   "gemma-2-2b", "gemma-2-9b", "gemma-2-27b", "gemma-3-1b", "gemma-3-4b",
                   "gemma-3-12b", "gemma-3-27b", "phi-3-mini", "phi-3-medium", "phi-4",
                   "phi-4-mini", "mistral-nemo-12b", "mistral-small-24b", "olmo-2-7b",
                   "olmo-2-13b", "smollm2-135m", "smollm2-360m", "smollm2-1.7b", "gpt-4"):
        assert needed in names, needed


@pytest.mark.parametrize("name,published,unit", [
    # model cards / reports, at their printed precision
    ("llama-3.2-1b", 1.23, 0.01), ("llama-3.2-3b", 3.21, 0.01), ("llama-4-maverick", 400, 2),
    ("gemma-2-27b", 27.2, 0.1), ("phi-3-medium", 14, 0.5), ("phi-4-mini", 3.8, 0.1),
    ("mistral-nemo-12b", 12, 0.5), ("mistral-small-24b", 24, 0.5), ("olmo-2-13b", 13.7, 0.1),
    ("smollm2-135m", 0.135, 0.001), ("smollm2-360m", 0.360, 0.002), ("smollm2-1.7b", 1.7, 0.1),
    ("qwen3-1.7b", 1.7, 0.1), ("qwen3-4b", 4.0, 0.1), ("qwen3-14b", 14.8, 0.1),
    ("qwen3-32b", 32.8, 0.1)])
def test_zoo_counts_within_published_precision(name, published, unit):
    assert abs(total_params(zoo.get(name)) / B - published) <= unit


# --- bad configs of the new types ---------------------------------------------------------------

def _cfg(name: str, **changes) -> dict:
    data = json.loads((DATA / name / "config.json").read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return data


@pytest.mark.parametrize("base,changes,fragments", [
    ("deepseek-v3", {"qk_rope_head_dim": None}, ["missing required key 'qk_rope_head_dim'"]),
    ("deepseek-v3", {"num_attention_heads": None}, ["missing required key 'num_attention_heads'"]),
    ("deepseek-v3", {"num_experts_per_tok": 300}, ["num_experts_per_tok=300",
                                                    "n_routed_experts=256"]),
    ("deepseek-v3", {"first_k_dense_replace": 99}, ["first_k_dense_replace=99"]),
    ("deepseek-v3", {"moe_layer_freq": 2}, ["moe_layer_freq"]),
    ("gpt-oss-20b", {"num_experts_per_tok": 64, "experts_per_token": 64},
     ["num_experts_per_tok=64", "num_local_experts=32"]),
    ("gpt-oss-20b", {"layer_types": ["full_attention"] * 3}, ["'layer_types' lists 3 layers"]),
    ("qwen3-30b-a3b", {"num_experts_per_tok": 129}, ["num_experts_per_tok=129"]),
    ("qwen3-30b-a3b", {"mlp_only_layers": [3, 7]}, ["mlp_only_layers"]),
    ("gemma-3-4b-it", {"text_config": [1, 2]}, ["'text_config' must be an object"]),
    ("gemma-3-4b-it", {"text_config": None}, ["missing required key 'text_config'"]),
    ("llama-4-scout-17b-16e", {"model_type": "mamba"}, ["unknown model_type", "deepseek_v3",
                                                        "gpt_oss", "supported:"]),
])
def test_bad_configs_of_new_types(cli, tmp_path, base, changes, fragments):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(_cfg(base, **changes)))
    with pytest.raises(PlannerError):
        hf.load(folder)
    assert_user_error(cli("params", str(folder)), *fragments)


def test_mla_key_without_latent_rank_is_refused():
    from planner.model.spec import ModelSpec
    with pytest.raises(PlannerError, match="need kv_lora_rank"):
        ModelSpec(name="x", vocab_size=10, d_model=64, n_layers=1, n_heads=4, d_ff=8,
                  q_lora_rank=16)


def test_zoo_catalogue_matches_the_files():
    """The quick name scan that lets one look-up parse one zoo file agrees with parsing all."""
    (index, where), (parsed, parsed_where) = zoo._catalogue(), zoo._catalogue_parsed()
    assert sorted(index.all_names) == sorted(parsed.all_names) and where == parsed_where
    assert index.strict == parsed.strict
