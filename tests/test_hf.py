"""Hugging Face import: config.json -> ModelSpec, checked against published exact counts, and
safetensors header counting on fake (sparse, zero-filled) checkpoints."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_user_error
from planner.model import hf
from planner.model import safetensors as stf
from planner.errors import PlannerError
from planner.model.spec import active_params, total_params

DATA = Path(__file__).parent / "data" / "hf"

# Exact parameter counts of the published checkpoints: `model.num_parameters()` (tied matrices
# counted once), as stated on the model card / hub safetensors metadata / printed by
# `print_trainable_parameters()` in public fine-tuning logs.  Tolerance: none (exact).
PUBLISHED = {
    # GPT2LMHeadModel.num_parameters() for openai-community/gpt2{,-medium,-large,-xl}
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    # LlamaForCausalLM.num_parameters() for meta-llama/Llama-2-{7,13,70}b-hf
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    # MistralForCausalLM / MixtralForCausalLM.num_parameters() (mistralai/*-v0.1)
    "mistral-7b-v0.1": 7_241_732_096,
    "mixtral-8x7b-v0.1": 46_702_792_704,
    # Qwen/Qwen2-7B and Qwen/Qwen2-0.5B: hub safetensors metadata (7.62B / 0.49B; the
    # Qwen2.5 checkpoints of the same shapes report the same 7,615,616,512 / 494,032,768)
    "qwen2-7b": 7_615_616_512,
    "qwen2-0.5b": 494_032_768,
    # google/gemma-7b: hub safetensors metadata 8,537,680,896 (tied head counted once)
    "gemma-7b": 8_537_680_896,
    # microsoft/phi-2: PhiForCausalLM.num_parameters() (printed by PEFT "all params")
    "phi-2": 2_779_683_840,
    # tiiuae/falcon-7b(-instruct): FalconForCausalLM.num_parameters(); the hub's "7.22B"
    # is this plus the lm_head copy the checkpoint stores (65,024 x 4,544 = 295,469,056)
    "falcon-7b-instruct": 6_921_720_704,
    # EleutherAI/gpt-neox-20b model card: 20,554,567,680
    "gpt-neox-20b": 20_554_567_680,
    # EleutherAI/gpt-j-6b: GPTJForCausalLM.num_parameters() = tensor-by-tensor sum of the hub
    # weights (attention masks excluded)
    "gpt-j-6b": 6_050_882_784,
    # facebook/opt-125m, facebook/opt-350m: OPTForCausalLM.num_parameters()
    "opt-125m": 125_239_296,
    "opt-350m": 331_196_416,
    # bigscience/bloom-560m model card: 559,214,592 parameters
    "bloom-560m": 559_214_592,
    # T5ForConditionalGeneration.num_parameters() (shared embedding counted once)
    "t5-small": 60_506_624,
    "t5-base": 222_903_552,
    "t5-11b": 11_307_321_344,
    "t5-v1_1-base": 247_577_856,
    "flan-t5-base": 247_577_856,
}


def test_every_fixture_has_a_published_count():
    from test_models_2026 import RECENT  # the 2024-2025 types, with their own sources

    folders = {p.name for p in DATA.iterdir() if p.is_dir()}
    assert folders == set(PUBLISHED) | set(RECENT)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_exact_count_of_published_checkpoint(name):
    spec = hf.load(DATA / name)
    assert total_params(spec) == PUBLISHED[name]


def test_config_path_and_folder_agree():
    a, b = hf.load(DATA / "llama-2-7b"), hf.load(DATA / "llama-2-7b" / "config.json")
    assert a == b and a.name == "llama-2-7b"
    assert "safetensors_params" not in a.meta  # no weights beside the fixture


def test_mixtral_active_parameters():
    # Mistral AI, "Mixtral of experts" (2023-12-11): "12.9B active parameters" per token;
    # tolerance 0.5% (the published figure is rounded to 0.1B).
    spec = hf.load(DATA / "mixtral-8x7b-v0.1")
    assert spec.n_experts == 8 and spec.experts_per_token == 2 and not spec.router_bias
    assert abs(active_params(spec) - 12.9e9) / 12.9e9 < 0.005
    assert active_params(spec) == 12_879_925_248


def test_field_mapping_details():
    gemma = hf.load(DATA / "gemma-7b")
    assert gemma.d_head == 256 and gemma.q_dim == 4096 and gemma.tie_embeddings
    assert gemma.mlp == "geglu" and gemma.norm == "rmsnorm"
    qwen = hf.load(DATA / "qwen2-7b")
    assert qwen.qkv_bias and not qwen.attn_out_bias and qwen.kv_heads == 4
    assert qwen.sliding_window == 0  # use_sliding_window is false
    assert hf.load(DATA / "qwen2-0.5b").tie_embeddings
    mistral = hf.load(DATA / "mistral-7b-v0.1")
    assert mistral.sliding_window == 4096 and mistral.kv_heads == 8 and mistral.mlp == "swiglu"
    # falcon-7b-instruct says num_kv_heads 71 AND multi_query: the model builds 1 K/V head.
    falcon = hf.load(DATA / "falcon-7b-instruct")
    assert falcon.kv_heads == 1 and falcon.block_norms == 1 and falcon.positions == "rotary"
    assert falcon.d_ff == 4 * 4544 and not falcon.qkv_bias and falcon.tie_embeddings
    phi = hf.load(DATA / "phi-2")
    assert phi.parallel_block and phi.block_norms == 1 and phi.lm_head_bias
    assert not phi.tie_embeddings and phi.qkv_bias and phi.mlp_bias
    assert phi.meta["partial_rotary_factor"] == 0.4
    neox = hf.load(DATA / "gpt-neox-20b")
    assert neox.parallel_block and neox.block_norms == 2 and not neox.lm_head_bias
    gptj = hf.load(DATA / "gpt-j-6b")
    assert gptj.d_ff == 16384 and not gptj.qkv_bias and gptj.mlp_bias and gptj.lm_head_bias
    opt = hf.load(DATA / "opt-125m")
    assert opt.positions_rows == 2050 and opt.embed_dim is None and opt.final_norm
    opt350 = hf.load(DATA / "opt-350m")
    assert opt350.embed_dim == 512 and not opt350.final_norm
    bloom = hf.load(DATA / "bloom-560m")
    assert bloom.embedding_norm and bloom.positions == "alibi" and bloom.d_ff == 4096
    t5 = hf.load(DATA / "t5-small")  # no feed_forward_proj / num_decoder_layers / tie keys
    assert (t5.arch, t5.mlp, t5.n_layers, t5.n_encoder_layers) == ("encoder-decoder", "relu",
                                                                   6, 6)
    assert t5.tie_embeddings and t5.norm == "rmsnorm" and not t5.qkv_bias
    t5_11b = hf.load(DATA / "t5-11b")
    assert t5_11b.d_head == 128 and t5_11b.q_dim == 16384  # d_kv != d_model / num_heads
    flan = hf.load(DATA / "flan-t5-base")
    assert flan.mlp == "geglu" and not flan.tie_embeddings
    gpt2 = hf.load(DATA / "gpt2")
    assert gpt2.context == 1024 and gpt2.positions_rows == 1024 and gpt2.d_ff == 3072


def test_more_model_types_from_published_shapes():
    # Architecture keys of google/gemma-2-2b and microsoft/Phi-3-mini-4k-instruct; exact
    # counts 2,614,341,888 and 3,821,079,552 (hub safetensors metadata / num_parameters()).
    gemma2 = hf.from_config({
        "model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216,
        "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
        "head_dim": 256, "vocab_size": 256000, "hidden_activation": "gelu_pytorch_tanh",
        "max_position_embeddings": 8192, "sliding_window": 4096})
    assert total_params(gemma2) == 2_614_341_888 and gemma2.block_norms == 4
    phi3 = hf.from_config({
        "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
        "vocab_size": 32064, "hidden_act": "silu", "max_position_embeddings": 4096,
        "tie_word_embeddings": False, "sliding_window": 2047})
    assert total_params(phi3) == 3_821_079_552


def test_llama_attention_bias_and_mlp_bias_and_head_dim():
    base = json.loads((DATA / "llama-2-7b" / "config.json").read_text())
    plain = total_params(hf.from_config(base))
    biased = hf.from_config(base | {"attention_bias": True, "mlp_bias": True})
    # q, k, v, o biases (4 x 4096) and gate, up, down biases (2 x 11008 + 4096) per layer
    assert total_params(biased) - plain == 32 * (4 * 4096 + 2 * 11008 + 4096)
    wide = hf.from_config(base | {"head_dim": 256})  # 32 x 256 = 8192 != 4096
    assert wide.q_dim == 8192 and total_params(wide) > plain


def test_falcon_variants():
    base = {"model_type": "falcon", "hidden_size": 64, "num_attention_heads": 8,
            "num_hidden_layers": 2, "vocab_size": 100}
    old_seq = hf.from_config(base | {"multi_query": False, "parallel_attn": False,
                                     "bias": True, "alibi": True})  # falcon-rw-1b style
    assert old_seq.kv_heads == 8 and old_seq.block_norms == 2 and old_seq.qkv_bias
    assert old_seq.positions == "alibi"
    new = hf.from_config(base | {"new_decoder_architecture": True, "num_kv_heads": 2})
    assert new.kv_heads == 2 and new.block_norms == 2  # ln_attn + ln_mlp (falcon-40b)
    one_ln = hf.from_config(base | {"new_decoder_architecture": True, "num_kv_heads": 2,
                                    "num_ln_in_parallel_attn": 1})
    assert one_ln.block_norms == 1
    rw = hf.from_config({"model_type": "RefinedWeb", "hidden_size": 64, "n_head": 8,
                         "n_head_kv": 2, "n_layer": 2, "vocab_size": 100})
    assert rw.kv_heads == 2 and rw.n_layers == 2


def test_model_type_inferred_from_architectures():
    spec = hf.from_config({"architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_head": 4,
                           "n_layer": 2, "vocab_size": 100})
    assert spec.meta["hf_model_type"] == "gpt2"


# --- errors -------------------------------------------------------------------------------------

def _write(tmp_path: Path, text: str, folder: str = "m") -> Path:
    d = tmp_path / folder
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(text)
    return d


LLAMA_TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 160,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 100, "max_position_embeddings": 128}


@pytest.mark.parametrize("change, fragments", [
    ({"model_type": "lama"}, ["unknown model_type", "'lama'", "llama", "supported:"]),
    ({"model_type": "bert"}, ["unknown model_type", "'bert'", "gpt2", "t5"]),
    ({"hidden_size": None}, ["missing required key 'hidden_size'"]),
    ({"hidden_size": -64}, ["'hidden_size' must be a positive whole number", "-64"]),
    ({"num_hidden_layers": 0}, ["'num_hidden_layers' must be a positive whole number"]),
    ({"num_hidden_layers": "2"}, ["'num_hidden_layers' must be a positive whole number"]),
    ({"num_attention_heads": 5}, ["num_attention_heads=5 does not divide hidden_size=64"]),
    ({"num_key_value_heads": 3}, ["num_key_value_heads=3 does not divide"]),
    ({"tie_word_embeddings": "yes"}, ["'tie_word_embeddings' must be true or false"]),
    ({"model_type": None}, ["no model_type", "supported:", "llama"]),
])
def test_config_errors(tmp_path, change, fragments):
    cfg = {k: v for k, v in (LLAMA_TINY | change).items() if v is not None}
    with pytest.raises(PlannerError) as exc:
        hf.load(_write(tmp_path, json.dumps(cfg)))
    msg = str(exc.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_malformed_json_names_line_and_column(tmp_path):
    folder = _write(tmp_path, '{\n  "model_type": "llama",\n  "hidden_size": 64\n  "x": 1\n}')
    with pytest.raises(PlannerError, match=r"not valid JSON: Expecting ',' delimiter at line 4, "
                                           r"column 3"):
        hf.load(folder)


def test_other_bad_inputs(tmp_path):
    with pytest.raises(PlannerError, match="holds no config.json"):
        hf.load(tmp_path)
    with pytest.raises(PlannerError, match="not a JSON object"):
        hf.load(_write(tmp_path, "[1, 2]", "arr"))
    t5 = {"model_type": "t5", "d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2,
          "num_heads": 4, "vocab_size": 100, "feed_forward_proj": "gated-tanh"}
    with pytest.raises(PlannerError, match="unknown feed_forward_proj"):
        hf.from_config(t5)
    mixtral = LLAMA_TINY | {"model_type": "mixtral", "num_local_experts": 2,
                            "num_experts_per_tok": 4}
    with pytest.raises(PlannerError, match="num_experts_per_tok=4 exceeds num_local_experts=2"):
        hf.from_config(mixtral)


# --- safetensors --------------------------------------------------------------------------------

def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """A valid .safetensors file with a zero (sparse) data area; returns its data bytes."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = stf.DTYPE_BYTES[dtype]
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)  # sparse zeros: no weights are ever written
    return offset


def llama_tensors(cfg: dict, dtype: str = "BF16", store_tied_head: bool = False,
                  inv_freq: bool = False) -> dict:
    """Tensor names and shapes of a LlamaForCausalLM state dict, as transformers names them
    (an independent layout, so the header count checks the ModelSpec derivation)."""
    d, L, h = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    kv, ff, v = cfg.get("num_key_value_heads", h), cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg.get("head_dim") or d // h
    bias, mbias = cfg.get("attention_bias", False), cfg.get("mlp_bias", False)
    t = {"model.embed_tokens.weight": (dtype, [v, d]), "model.norm.weight": (dtype, [d])}
    for i in range(L):
        p = f"model.layers.{i}."
        for proj, out in (("q", h * hd), ("k", kv * hd), ("v", kv * hd)):
            t[p + f"self_attn.{proj}_proj.weight"] = (dtype, [out, d])
            if bias:
                t[p + f"self_attn.{proj}_proj.bias"] = (dtype, [out])
        t[p + "self_attn.o_proj.weight"] = (dtype, [d, h * hd])
        if bias:
            t[p + "self_attn.o_proj.bias"] = (dtype, [d])
        for proj, shape in (("gate", [ff, d]), ("up", [ff, d]), ("down", [d, ff])):
            t[p + f"mlp.{proj}_proj.weight"] = (dtype, shape)
            if mbias:
                t[p + f"mlp.{proj}_proj.bias"] = (dtype, [shape[0]])
        t[p + "input_layernorm.weight"] = (dtype, [d])
        t[p + "post_attention_layernorm.weight"] = (dtype, [d])
        if inv_freq:
            t[p + "self_attn.rotary_emb.inv_freq"] = ("F32", [hd // 2])
    if not cfg.get("tie_word_embeddings", False) or store_tied_head:
        t["lm_head.weight"] = (dtype, [v, d])
    return t


def _folder(tmp_path: Path, cfg: dict, name: str = "ckpt") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def test_single_file_header_count_matches_derived(tmp_path):
    d = _folder(tmp_path, LLAMA_TINY)
    nbytes = write_safetensors(d / "model.safetensors", llama_tensors(LLAMA_TINY, inv_freq=True))
    spec = hf.load(d)
    assert spec.meta["safetensors_params"] == total_params(spec)
    assert spec.meta["safetensors_bytes"] == 2 * total_params(spec)
    assert nbytes == spec.meta["safetensors_bytes"] + 2 * 8 * 4  # + two F32 inv_freq buffers
    assert spec.meta["safetensors_dtype_bytes"] == 2.0
    assert spec.meta["safetensors_dtypes"] == {"BF16": total_params(spec)}
    assert len(spec.meta["safetensors_ignored_buffers"]) == 2  # the inv_freq buffers
    assert spec.meta["safetensors_approximate"] is False


def test_sharded_checkpoint_with_index(tmp_path):
    cfg = LLAMA_TINY | {"torch_dtype": "bfloat16"}
    d = _folder(tmp_path, cfg)
    tensors = llama_tensors(cfg)
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    total = 0
    for shard, part in shards.items():
        total += write_safetensors(d / shard, {n: tensors[n] for n in part})
    index = {"metadata": {"total_size": total},
             "weight_map": {n: s for s, part in shards.items() for n in part}}
    (d / stf.INDEX_NAME).write_text(json.dumps(index))
    spec = hf.load(d / "config.json")
    assert spec.meta["safetensors_params"] == total_params(spec)
    assert spec.meta["safetensors_files"] == sorted(shards)
    assert "2 shard(s)" in spec.meta["safetensors_source"]
    # Only the index present (shards not downloaded): total_size / 2 bytes, approximate.
    for shard in shards:
        (d / shard).unlink()
    approx = hf.load(d)
    assert approx.meta["safetensors_approximate"] is True
    assert approx.meta["safetensors_params"] == total // 2 == total_params(spec)
    assert "approximate" in approx.meta["safetensors_source"]


def test_tied_copies_and_gpt2_mask_buffers_are_not_parameters(tmp_path):
    # An old GPT-2 checkpoint stores h.N.attn.bias (1x1xCxC causal mask) and attn.masked_bias;
    # this one also stores the tied lm_head.  num_parameters() counts neither.
    cfg = {"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 16,
           "vocab_size": 50}
    d, p, v, f = 32, 16, 50, "F32"
    t = {"wte.weight": (f, [v, d]), "wpe.weight": (f, [p, d]), "ln_f.weight": (f, [d]),
         "ln_f.bias": (f, [d]), "lm_head.weight": (f, [v, d])}
    for i in range(2):
        q = f"h.{i}."
        t |= {q + "ln_1.weight": (f, [d]), q + "ln_1.bias": (f, [d]),
              q + "ln_2.weight": (f, [d]), q + "ln_2.bias": (f, [d]),
              q + "attn.c_attn.weight": (f, [d, 3 * d]), q + "attn.c_attn.bias": (f, [3 * d]),
              q + "attn.c_proj.weight": (f, [d, d]), q + "attn.c_proj.bias": (f, [d]),
              q + "mlp.c_fc.weight": (f, [d, 4 * d]), q + "mlp.c_fc.bias": (f, [4 * d]),
              q + "mlp.c_proj.weight": (f, [4 * d, d]), q + "mlp.c_proj.bias": (f, [d]),
              q + "attn.bias": ("BOOL", [1, 1, p, p]), q + "attn.masked_bias": (f, [])}
    folder = _folder(tmp_path, cfg)
    write_safetensors(folder / "model.safetensors", t)
    spec = hf.load(folder)
    assert spec.meta["safetensors_params"] == total_params(spec)
    assert spec.meta["safetensors_tied_duplicates"] == ["lm_head.weight"]
    assert len(spec.meta["safetensors_ignored_buffers"]) == 4


def test_untied_head_is_counted(tmp_path):
    # Same shapes as a tied copy, but the config unties it: both matrices are parameters.
    cfg = LLAMA_TINY | {"tie_word_embeddings": False}
    d = _folder(tmp_path, cfg)
    write_safetensors(d / "model.safetensors", llama_tensors(cfg))
    spec = hf.load(d)
    assert spec.meta["safetensors_params"] == total_params(spec)
    assert "safetensors_tied_duplicates" not in spec.meta


def test_real_llama_2_7b_shapes_in_a_sparse_checkpoint(tmp_path):
    # The tensor names/shapes of meta-llama/Llama-2-7b-hf in two sparse shards (13.5 GB of
    # apparent size, no data written): the header count is the published 6,738,415,616.
    cfg = json.loads((DATA / "llama-2-7b" / "config.json").read_text())
    d = _folder(tmp_path, cfg)
    tensors = llama_tensors(cfg, dtype="F16")
    names = list(tensors)
    write_safetensors(d / "model-00001-of-00002.safetensors",
                      {n: tensors[n] for n in names[:150]})
    write_safetensors(d / "model-00002-of-00002.safetensors",
                      {n: tensors[n] for n in names[150:]})
    spec = hf.load(d)
    assert spec.meta["safetensors_params"] == 6_738_415_616 == total_params(spec)


def test_malformed_safetensors(tmp_path):
    d = _folder(tmp_path, LLAMA_TINY)
    bad = d / "model.safetensors"
    bad.write_bytes(b"\x01\x02")
    with pytest.raises(PlannerError, match="shorter than its 8-byte header length"):
        hf.load(d)
    bad.write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(PlannerError, match="does not fit"):
        hf.load(d)
    bad.write_bytes(struct.pack("<Q", 4) + b"{x}!")
    with pytest.raises(PlannerError, match="malformed safetensors header"):
        hf.load(d)
    hdr = json.dumps({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 8]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(hdr)) + hdr + bytes(8))
    with pytest.raises(PlannerError, match="data_offsets"):
        hf.load(d)
    hdr = json.dumps({"w": {"dtype": "F17", "shape": [1], "data_offsets": [0, 2]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(hdr)) + hdr + bytes(2))
    with pytest.raises(PlannerError, match="dtype 'F17'"):
        hf.load(d)


@settings(max_examples=25, deadline=None)
@given(heads=st.sampled_from([1, 2, 4, 8]), group=st.sampled_from([1, 2, 4]),
       head_dim=st.sampled_from([4, 8, 16]), layers=st.integers(1, 4),
       ff=st.integers(1, 96), vocab=st.integers(1, 300), bias=st.booleans(),
       mlp_bias=st.booleans(), tie=st.booleans(), explicit_head_dim=st.booleans())
def test_property_header_count_equals_derived_llama(tmp_path_factory, heads, group, head_dim,
                                                    layers, ff, vocab, bias, mlp_bias, tie,
                                                    explicit_head_dim):
    """For any Llama-family config, the count derived from config.json equals the sum of the
    tensors transformers would save (independent layout above)."""
    kv = max(1, heads // group)
    d = heads * head_dim * (2 if explicit_head_dim else 1)
    cfg = {"model_type": "llama", "hidden_size": d, "intermediate_size": ff,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "vocab_size": vocab, "attention_bias": bias, "mlp_bias": mlp_bias,
           "tie_word_embeddings": tie}
    if explicit_head_dim:
        cfg["head_dim"] = head_dim
    folder = _folder(tmp_path_factory.mktemp("p"), cfg)
    write_safetensors(folder / "model.safetensors", llama_tensors(cfg, store_tied_head=tie))
    spec = hf.load(folder)
    assert spec.meta["safetensors_params"] == total_params(spec)


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_params_folder_and_config(cli):
    for target in (DATA / "llama-2-7b", DATA / "llama-2-7b" / "config.json"):
        r = cli("params", str(target), "--json")
        assert r.code == 0, r.err
        out = r.json()
        assert out["params"] == 6_738_415_616
        assert "safetensors_params" not in out
    text = cli("params", str(DATA / "opt-350m"))
    assert text.code == 0 and "331,196,416" in text.out


def test_cli_reports_and_flags_safetensors(cli, tmp_path):
    same = _folder(tmp_path, LLAMA_TINY, "same")
    write_safetensors(same / "model.safetensors", llama_tensors(LLAMA_TINY))
    r = cli("params", str(same), "--json").json()
    assert r["safetensors_params"] == r["params"] and r["safetensors_difference"] == 0
    human = cli("params", str(same)).out
    assert "safetensors headers" in human and "differs" not in human
    # A checkpoint that does not match its config (one layer's MLP missing): flagged.
    other = _folder(tmp_path, LLAMA_TINY, "other")
    tensors = {k: v for k, v in llama_tensors(LLAMA_TINY).items()
               if not k.startswith("model.layers.1.mlp.")}
    write_safetensors(other / "model.safetensors", tensors)
    r = cli("params", str(other), "--json").json()
    assert r["safetensors_difference"] == -3 * 64 * 160
    assert "<< differs" in cli("params", str(other)).out


def test_cli_approximate_label(cli, tmp_path):
    d = _folder(tmp_path, LLAMA_TINY | {"torch_dtype": "float32"})
    (d / stf.INDEX_NAME).write_text(json.dumps(
        {"metadata": {"total_size": 4_000}, "weight_map": {"a": "model-00001.safetensors"}}))
    r = cli("params", str(d), "--json").json()
    assert r["safetensors_params"] == 1_000 and r["safetensors_approximate"] is True
    human = cli("params", str(d)).out
    assert "approximate" in human and "differs" not in human


@pytest.mark.parametrize("text, fragments", [
    ('{"model_type": "gpt-3", "n_embd": 64}', ["unknown model_type", "gpt-3", "gpt2"]),
    ('{"model_type": "gpt2", "n_head": 4}', ["missing required key 'n_embd'"]),
    ('{"model_type": "gpt2",,}', ["not valid JSON", "line 1, column 23"]),
    ('{"model_type": "gpt2", "n_embd": 0, "n_head": 4}', ["'n_embd' must be a positive"]),
    ('{"model_type": "gpt2", "n_embd": 10, "n_head": 4, "n_layer": 1, "vocab_size": 9}',
     ["n_head=4 does not divide n_embd=10"]),
])
def test_cli_error_contract(cli, tmp_path, text, fragments):
    folder = _write(tmp_path, text)
    assert_user_error(cli("params", str(folder)), *fragments)
    assert_user_error(cli("params", str(folder / "config.json")), *fragments)


def test_cli_missing_paths(cli, tmp_path):
    assert_user_error(cli("params", str(tmp_path)), "holds no config.json")
    assert_user_error(cli("params", str(tmp_path / "nope.json")), "does not exist")
