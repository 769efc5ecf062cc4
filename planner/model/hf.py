"""Hugging Face import: a ``config.json`` (or a checkpoint folder holding one) -> `ModelSpec`.

Each supported ``model_type`` is mapped the way the transformers modeling code builds the
weights (``src/transformers/models/<type>/modeling_<type>.py``), so the derived count equals
``model.num_parameters()``: which projections carry biases, how many norms a block has, whether
the output matrix is tied, how wide the K/V projections are.  Per-type notes are in the
docstrings of the ``_<type>`` functions below.

When the folder also holds ``*.safetensors`` files (or ``model.safetensors.index.json``), the
exact count read from the tensor headers is put in ``spec.meta["safetensors_params"]`` (see
`planner.safetensors`) and `planner params` shows it beside the derived count.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec

CONFIG_NAME = "config.json"


class Config:
    """A config.json mapping with typed, user-worded look-ups."""

    def __init__(self, data: dict, where: str) -> None:
        self.data = data
        self.where = where  # e.g. "config.json (llama)"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _first(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        for k in keys:
            if self.data.get(k) is not None:
                return k, self.data[k]
        return keys[0], None

    def size(self, *keys: str, default: int | None = None) -> int:
        """A positive whole number under the first present key (aliases: GPT-2's n_embd is
        BLOOM's n_embed is everyone else's hidden_size)."""
        key, value = self._first(keys)
        if value is None:
            if default is not None:
                return default
            alias = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
            raise PlannerError(f"{self.where}: missing required key {keys[0]!r}{alias}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise PlannerError(f"{self.where}: {key!r} must be a positive whole number, "
                               f"got {value!r}")
        return value

    def count(self, key: str, default: int = 0) -> int:
        """A whole number >= 0 (e.g. a sliding window, where 0 or null means none)."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PlannerError(f"{self.where}: {key!r} must be a whole number >= 0, "
                               f"got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise PlannerError(f"{self.where}: {key!r} must be true or false, got {value!r}")
        return value

    def text(self, *keys: str, default: str = "") -> str:
        key, value = self._first(keys)
        if value is None:
            return default
        if not isinstance(value, str):
            raise PlannerError(f"{self.where}: {key!r} must be a string, got {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise PlannerError(f"{self.where}: {key!r} must be a number, got {value!r}")
        return float(value)


def _heads(cfg: Config, d_model: int, n_heads: int, d_key: str, h_key: str,
           head_dim: int | None = None) -> None:
    """The head count must split d_model (unless the config gives the head width)."""
    if head_dim is None and d_model % n_heads:
        raise PlannerError(f"{cfg.where}: {h_key}={n_heads} does not divide {d_key}={d_model} "
                           "(each head gets d_model / n_heads dimensions)")


def _kv(cfg: Config, n_heads: int, n_kv: int, kv_key: str, h_key: str) -> int:
    if n_heads % n_kv:
        raise PlannerError(f"{cfg.where}: {kv_key}={n_kv} does not divide {h_key}={n_heads} "
                           "(grouped-query attention needs groups of equal size)")
    return n_kv


def _gated(act: str) -> str:
    """The gated MLP kind of a Llama-style gate/up/down MLP from its activation name:
    SiLU -> SwiGLU, GELU (any approximation) -> GeGLU (Shazeer 2020)."""
    a = act.lower()
    if a.startswith("gelu"):
        return "geglu"
    return "swiglu"


def _plain(act: str, default: str = "gelu") -> str:
    """The 2-matrix MLP kind from an activation name."""
    a = (act or default).lower()
    if a.startswith("relu"):
        return "relu"
    if a in ("silu", "swish"):
        return "silu"
    return "gelu"


def _sliding(cfg: Config) -> int:
    return cfg.count("sliding_window")


# --- one function per model_type ---------------------------------------------------------------

def _gpt2(cfg: Config) -> dict:
    """GPT2LMHeadModel: wte + learned wpe (n_positions rows), Conv1D c_attn/c_proj/c_fc with
    biases, ln_1/ln_2 LayerNorms, ln_f, lm_head tied to wte (Radford et al. 2019)."""
    d = cfg.size("n_embd", "hidden_size")
    h = cfg.size("n_head", "num_attention_heads")
    _heads(cfg, d, h, "n_embd", "n_head")
    n_pos = cfg.size("n_positions", "max_position_embeddings", default=1024)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("n_layer", "num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("n_inner", default=4 * d),
                mlp=_plain(cfg.text("activation_function", default="gelu_new")),
                context=cfg.size("n_ctx", default=n_pos), n_positions=n_pos,
                positions="learned", norm="layernorm",
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


def _llama_like(cfg: Config, *, qkv_bias: bool, o_bias: bool, mlp_bias: bool,
                tie_default: bool, head_dim_key: bool = True) -> dict:
    """Shared by the Llama family: embed_tokens, q/k/v/o (K/V sized by num_key_value_heads),
    gate/up/down MLP, 2 RMSNorms per layer, final norm, lm_head (tied or not)."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    head_dim = cfg.size("head_dim") if head_dim_key and cfg.has("head_dim") else None
    if head_dim is not None and head_dim * h == d:
        head_dim = None  # the default, say nothing
    _heads(cfg, d, h, "hidden_size", "num_attention_heads", head_dim)
    kv = _kv(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
             "num_attention_heads")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, n_kv_heads=kv,
                head_dim=head_dim, d_ff=cfg.size("intermediate_size"),
                mlp=_gated(cfg.text("hidden_act", "hidden_activation", default="silu")),
                context=cfg.size("max_position_embeddings", default=2048), positions="rotary",
                norm="rmsnorm", qkv_bias=qkv_bias, attn_out_bias=o_bias, mlp_bias=mlp_bias,
                tie_embeddings=cfg.flag("tie_word_embeddings", tie_default))


def _llama(cfg: Config) -> dict:
    """LlamaForCausalLM (Touvron et al. 2023): `attention_bias` puts biases on q, k, v AND o;
    `mlp_bias` on gate/up/down; `head_dim` may override hidden/heads; untied by default."""
    bias = cfg.flag("attention_bias", False)
    return _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=cfg.flag("mlp_bias", False),
                       tie_default=False)


def _mistral(cfg: Config) -> dict:
    """MistralForCausalLM (Jiang et al. 2023): Llama without biases, GQA, sliding window."""
    spec = _llama_like(cfg, qkv_bias=False, o_bias=False, mlp_bias=False, tie_default=False)
    return spec | dict(sliding_window=_sliding(cfg))


def _mixtral(cfg: Config) -> dict:
    """MixtralForCausalLM (Jiang et al. 2024): Mistral attention; every layer's MLP is
    num_local_experts SwiGLU experts of intermediate_size with a bias-free router (gate)."""
    spec = _mistral(cfg)
    n_exp = cfg.size("num_local_experts")
    top = cfg.size("num_experts_per_tok", default=2)
    if top > n_exp:
        raise PlannerError(f"{cfg.where}: num_experts_per_tok={top} exceeds "
                           f"num_local_experts={n_exp}")
    return spec | dict(n_experts=n_exp, experts_per_token=top, router_bias=False)


def _qwen2(cfg: Config) -> dict:
    """Qwen2ForCausalLM: biases on q, k, v only (o_proj has none); a sliding window only when
    use_sliding_window is true."""
    spec = _llama_like(cfg, qkv_bias=True, o_bias=False, mlp_bias=False, tie_default=False)
    window = _sliding(cfg) if cfg.flag("use_sliding_window", False) else 0
    return spec | dict(sliding_window=window)


def _gemma(cfg: Config) -> dict:
    """GemmaForCausalLM (Gemma Team 2024): head_dim 256 (16 x 256 != 3072 for 7B), GeGLU,
    RMSNorm (weight stored as w, applied as 1 + w: still d parameters), tied output."""
    bias = cfg.flag("attention_bias", False)
    return _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=False, tie_default=True)


def _gemma2(cfg: Config) -> dict:
    """Gemma2ForCausalLM: Gemma plus pre- and post-feedforward norms (4 RMSNorms per layer).
    Local (sliding_window) and global attention alternate; the window is recorded in meta
    only, since ModelSpec applies one window to every layer."""
    spec = _gemma(cfg)
    return spec | dict(norms_per_block=4)


def _phi3(cfg: Config) -> dict:
    """Phi3ForCausalLM (Abdin et al. 2024): fused qkv_proj and gate_up_proj without biases,
    RMSNorm, untied lm_head - the same tensors as Llama, packed differently."""
    spec = _llama_like(cfg, qkv_bias=False, o_bias=False, mlp_bias=False, tie_default=False)
    return spec | dict(sliding_window=_sliding(cfg))


def _phi(cfg: Config) -> dict:
    """PhiForCausalLM (phi-1.5/phi-2): parallel attention+MLP sharing one input_layernorm,
    biases on q/k/v/dense and fc1/fc2, partial rotary (no parameters), final_layernorm and an
    untied lm_head WITH bias."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    _heads(cfg, d, h, "hidden_size", "num_attention_heads")
    kv = _kv(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
             "num_attention_heads")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, n_kv_heads=kv,
                d_ff=cfg.size("intermediate_size"),
                mlp=_plain(cfg.text("hidden_act", default="gelu_new")),
                context=cfg.size("max_position_embeddings", default=2048), positions="rotary",
                norm="layernorm", parallel_block=True, norms_per_block=1,
                tie_embeddings=cfg.flag("tie_word_embeddings", False), lm_head_bias=True)


def _falcon(cfg: Config) -> dict:
    """FalconForCausalLM (Almazrouei et al. 2023).  Attention is one fused query_key_value:
    new_decoder_architecture -> num_kv_heads K/V heads; else multi_query -> 1 K/V head (even
    when num_kv_heads is also set, as in falcon-7b-instruct's config); else num_kv_heads
    (default: all heads).  Norms per layer: new architecture -> num_ln_in_parallel_attn
    (default 2: ln_attn, ln_mlp); old with parallel_attn -> 1 (input_layernorm); old
    sequential -> 2.  `bias` covers every linear layer; `alibi` replaces rotary; lm_head tied.
    The older RefinedWeb/RefinedWebModel configs name the keys n_head, n_layer, n_head_kv."""
    d = cfg.size("hidden_size", "n_embed")
    h = cfg.size("num_attention_heads", "n_head")
    _heads(cfg, d, h, "hidden_size", "num_attention_heads")
    new_arch = cfg.flag("new_decoder_architecture", cfg.data.get("model_type") == "RefinedWeb")
    multi_query = cfg.flag("multi_query", True)
    if new_arch or not multi_query:
        kv = cfg.size("num_kv_heads", "n_head_kv", default=h)
    else:
        kv = 1
    _kv(cfg, h, kv, "num_kv_heads", "num_attention_heads")
    parallel = cfg.flag("parallel_attn", True)
    if new_arch:
        norms = cfg.size("num_ln_in_parallel_attn", default=2)
    else:
        norms = 1 if parallel else 2
    bias = cfg.flag("bias", False)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers", "n_layer"), n_heads=h, n_kv_heads=kv,
                d_ff=cfg.size("ffn_hidden_size", default=4 * d),
                mlp=_plain(cfg.text("activation", default="gelu")),
                context=cfg.size("max_position_embeddings", default=2048),
                positions="alibi" if cfg.flag("alibi", False) else "rotary",
                norm="layernorm", qkv_bias=bias, attn_out_bias=bias, mlp_bias=bias,
                parallel_block=parallel or new_arch, norms_per_block=norms,
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


def _gpt_neox(cfg: Config) -> dict:
    """GPTNeoXForCausalLM (Black et al. 2022): fused query_key_value and dense with biases
    (`attention_bias`, default true), dense_h_to_4h/4h_to_h with biases, input_layernorm and
    post_attention_layernorm in every layer (also with use_parallel_residual), final
    layer norm, untied embed_out without bias.  rotary_pct has no parameters."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    _heads(cfg, d, h, "hidden_size", "num_attention_heads")
    bias = cfg.flag("attention_bias", True)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("intermediate_size", default=4 * d),
                mlp=_plain(cfg.text("hidden_act", default="gelu")),
                context=cfg.size("max_position_embeddings", default=2048), positions="rotary",
                norm="layernorm", qkv_bias=bias, attn_out_bias=bias, mlp_bias=True,
                parallel_block=cfg.flag("use_parallel_residual", True), norms_per_block=2,
                tie_embeddings=cfg.flag("tie_word_embeddings", False))


def _gptj(cfg: Config) -> dict:
    """GPTJForCausalLM (Wang & Komatsuzaki 2021): parallel block with one ln_1, q/k/v/out
    projections WITHOUT biases, fc_in/fc_out WITH biases, n_inner None -> 4 x n_embd, rotary
    on rotary_dim of each head (no parameters), ln_f, untied lm_head with bias."""
    d = cfg.size("n_embd", "hidden_size")
    h = cfg.size("n_head", "num_attention_heads")
    _heads(cfg, d, h, "n_embd", "n_head")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("n_layer", "num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("n_inner", default=4 * d),
                mlp=_plain(cfg.text("activation_function", default="gelu_new")),
                context=cfg.size("n_positions", "max_position_embeddings", default=2048),
                positions="rotary", norm="layernorm", qkv_bias=False, attn_out_bias=False,
                mlp_bias=True, parallel_block=True, norms_per_block=1,
                tie_embeddings=cfg.flag("tie_word_embeddings", False), lm_head_bias=True)


def _opt(cfg: Config) -> dict:
    """OPTForCausalLM (Zhang et al. 2022): learned positions with max_position_embeddings + 2
    rows (OPTLearnedPositionalEmbedding's offset of 2), q/k/v/out_proj and fc1/fc2 with biases
    when enable_bias, 2 LayerNorms per layer, a final_layer_norm only when do_layer_norm_before
    (opt-350m is post-norm and has none), lm_head tied to embed_tokens.  word_embed_proj_dim <
    hidden_size (opt-350m: 512) adds project_in/project_out (ModelSpec.embed_dim)."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    _heads(cfg, d, h, "hidden_size", "num_attention_heads")
    n_pos = cfg.size("max_position_embeddings", default=2048)
    proj = cfg.size("word_embed_proj_dim", default=d)
    bias = cfg.flag("enable_bias", True)
    final = (cfg.flag("do_layer_norm_before", True)
             and not cfg.flag("_remove_final_layer_norm", False))
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, d_ff=cfg.size("ffn_dim"),
                mlp=_plain(cfg.text("activation_function", default="relu")),
                context=n_pos, n_positions=n_pos + 2, positions="learned", norm="layernorm",
                qkv_bias=bias, attn_out_bias=bias, mlp_bias=bias, final_norm=final,
                embed_dim=proj if proj != d else None,
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


def _bloom(cfg: Config) -> dict:
    """BloomForCausalLM (BigScience 2022): word_embeddings followed by
    word_embeddings_layernorm, ALiBi (no position parameters), fused query_key_value and
    dense with biases, 4h MLP with biases, 2 LayerNorms per layer, ln_f, tied lm_head."""
    d = cfg.size("hidden_size", "n_embed")
    h = cfg.size("n_head", "num_attention_heads")
    _heads(cfg, d, h, "hidden_size", "n_head")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("n_layer", "num_hidden_layers"), n_heads=h, d_ff=4 * d,
                mlp="gelu", context=cfg.size("seq_length", default=2048), positions="alibi",
                norm="layernorm", embedding_norm=True,
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


_T5_MLP = {"relu": "relu", "gelu": "gelu", "gated-gelu": "geglu", "gated-silu": "swiglu",
           "gated-relu": "swiglu", "gated-gelu_new": "geglu", "gated-gelu_pytorch_tanh": "geglu"}


def _t5(cfg: Config) -> dict:
    """T5ForConditionalGeneration (Raffel et al. 2020): shared embedding for encoder and
    decoder, q/k/v/o of n_heads x d_kv (d_kv need not be d_model / num_heads: t5-11b has
    128 x 128 = 16,384 != 1,024), no biases anywhere, T5LayerNorm = RMS scale only, relative
    position bias (buckets x heads) in the first layer of each stack, final norm per stack.
    feed_forward_proj "relu" (v1.0) or "gated-gelu" (v1.1/Flan: wi_0, wi_1, wo).  v1.0 ties
    the lm_head; v1.1 (tie_word_embeddings false) has its own."""
    d = cfg.size("d_model")
    h = cfg.size("num_heads")
    ff = cfg.text("feed_forward_proj", default="relu").lower()
    if ff not in _T5_MLP:
        raise unknown(f"feed_forward_proj in {cfg.where}:", ff, _T5_MLP)
    n_enc = cfg.size("num_layers")
    mt5 = cfg.data.get("model_type") == "mt5"
    return dict(arch="encoder-decoder", vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_decoder_layers", default=n_enc), n_encoder_layers=n_enc,
                n_heads=h, head_dim=cfg.size("d_kv"), d_ff=cfg.size("d_ff"), mlp=_T5_MLP[ff],
                context=cfg.size("n_positions", default=512), positions="relative",
                norm="rmsnorm", qkv_bias=False, attn_out_bias=False, mlp_bias=False,
                relative_attention_buckets=cfg.size("relative_attention_num_buckets",
                                                    default=32),
                tie_embeddings=cfg.flag("tie_word_embeddings", not mt5))


MAPPERS: dict[str, Callable[[Config], dict]] = {
    "gpt2": _gpt2, "llama": _llama, "mistral": _mistral, "mixtral": _mixtral, "qwen2": _qwen2,
    "gemma": _gemma, "gemma2": _gemma2, "phi": _phi, "phi3": _phi3, "falcon": _falcon,
    "RefinedWeb": _falcon, "RefinedWebModel": _falcon, "gpt_neox": _gpt_neox, "gptj": _gptj,
    "opt": _opt, "bloom": _bloom, "t5": _t5, "mt5": _t5,
}
SUPPORTED = tuple(MAPPERS)

# `architectures[0]` -> model_type, for configs without a model_type key.
_ARCH_TYPES = {
    "GPT2LMHeadModel": "gpt2", "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral", "Qwen2ForCausalLM": "qwen2", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "PhiForCausalLM": "phi", "Phi3ForCausalLM": "phi3",
    "FalconForCausalLM": "falcon", "GPTNeoXForCausalLM": "gpt_neox",
    "GPTJForCausalLM": "gptj", "OPTForCausalLM": "opt", "BloomForCausalLM": "bloom",
    "T5ForConditionalGeneration": "t5", "T5WithLMHeadModel": "t5",
    "MT5ForConditionalGeneration": "mt5",
}

# Extra facts worth keeping (no parameters, but they matter elsewhere: KV cache, positions).
_META_KEYS = ("torch_dtype", "dtype", "rope_theta", "partial_rotary_factor", "rotary_pct",
              "rotary_dim", "sliding_window", "max_position_embeddings", "_name_or_path",
              "qk_layernorm")


def read_config(path: Path) -> dict:
    """Parse a config.json into a dict, with the line and column of any JSON error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlannerError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlannerError(f"{path} is not UTF-8 text (expected a Hugging Face config.json)") \
            from None
    return parse_config(text, str(path))


def parse_config(text: str, where: str = CONFIG_NAME) -> dict:
    """A config.json's text (read from a file, or pasted into the web page) -> its mapping;
    errors name `where` and the line and column of a JSON error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlannerError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}") from None
    if not isinstance(data, dict):
        raise PlannerError(f"{where} is not a JSON object (a Hugging Face config.json maps "
                           "keys such as model_type and hidden_size to values)")
    return data


def _model_type(data: dict, path: Path) -> str:
    mt = data.get("model_type")
    if mt is None:
        archs = data.get("architectures") or []
        for a in archs if isinstance(archs, list) else []:
            if a in _ARCH_TYPES:
                return _ARCH_TYPES[a]
        raise PlannerError(f"{path} has no model_type (supported: {', '.join(SUPPORTED)})")
    if not isinstance(mt, str):
        raise PlannerError(f"{path}: model_type must be a string, got {mt!r}")
    if mt not in MAPPERS:
        raise unknown(f"model_type in {path}:", mt, SUPPORTED,
                      hint="supported: " + ", ".join(SUPPORTED))
    return mt


def from_config(data: dict, name: str = "hf-model", where: str = CONFIG_NAME) -> ModelSpec:
    """`ModelSpec` from a parsed config.json mapping."""
    mt = _model_type(data, Path(where))
    cfg = Config(data, f"{where} ({mt})")
    fields = MAPPERS[mt](cfg)
    meta = {k: data[k] for k in _META_KEYS if data.get(k) is not None}
    meta["hf_model_type"] = mt
    if mt == "gemma2" and data.get("sliding_window"):
        meta["notes"] = ("Gemma 2 alternates sliding-window (local) and global attention "
                         "layers; the window is not applied to all layers here")
    if data.get("qk_layernorm"):
        meta["notes"] = ("qk_layernorm adds per-head LayerNorms on q and k that are not "
                         "counted here")
    return ModelSpec(name=name, family=mt, source=f"Hugging Face {where} (model_type {mt})",
                     meta=meta, **fields)


def _config_path(path: Path) -> Path:
    if path.is_dir():
        cfg = path / CONFIG_NAME
        if not cfg.is_file():
            raise PlannerError(f"folder {str(path)!r} holds no {CONFIG_NAME} (expected a "
                               "Hugging Face checkpoint folder)")
        return cfg
    if not path.is_file():
        raise PlannerError(f"config file {str(path)!r} does not exist")
    return path


def _name(path: Path, data: dict) -> str:
    """The checkpoint's name: its folder (``.../Llama-2-7b-hf/config.json`` ->
    ``Llama-2-7b-hf``), else the file stem."""
    folder = path.parent.name if path.name == CONFIG_NAME else path.stem
    return folder or str(data.get("_name_or_path") or "hf-model")


def load(path: str | Path) -> ModelSpec:
    """MODEL given as a config.json or a folder holding one.  Safetensors beside the config
    (single files, or shards listed by model.safetensors.index.json) add their header count
    to ``spec.meta`` (``safetensors_params`` and friends, see `planner.safetensors`)."""
    from planner.model import safetensors  # lazy: only when a checkpoint folder is given

    path = _config_path(Path(path).expanduser())
    data = read_config(path)
    spec = from_config(data, _name(path, data), str(path))
    count = safetensors.checkpoint_count(path.parent, tied=spec.tie_embeddings,
                                         torch_dtype=data.get("torch_dtype") or data.get("dtype"))
    if count is not None:
        spec.meta.update(count.meta())
    return spec
