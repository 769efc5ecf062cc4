"""Hugging Face config -> ModelSpec fields for the established model types (2019-2024):
gpt2, llama, mistral, mixtral, qwen2, gemma, gemma2, phi, phi3, falcon, gpt_neox, gptj, opt,
bloom, t5/mt5.  Each function maps one ``model_type`` the way the transformers modeling code
builds its weights; the docstrings say what matters for the count."""
from __future__ import annotations

from planner.errors import unknown
from planner.model.hf_config import (Config, gated, heads, kv_heads, plain, sliding, top_k,
                                     window_pattern)

def _gpt2(cfg: Config) -> dict:
    """GPT2LMHeadModel: wte + learned wpe (n_positions rows), Conv1D c_attn/c_proj/c_fc with
    biases, ln_1/ln_2 LayerNorms, ln_f, lm_head tied to wte (Radford et al. 2019)."""
    d = cfg.size("n_embd", "hidden_size")
    h = cfg.size("n_head", "num_attention_heads")
    heads(cfg, d, h, "n_embd", "n_head")
    n_pos = cfg.size("n_positions", "max_position_embeddings", default=1024)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("n_layer", "num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("n_inner", default=4 * d),
                mlp=plain(cfg.text("activation_function", default="gelu_new")),
                context=cfg.size("n_ctx", default=n_pos), n_positions=n_pos,
                positions="learned", norm="layernorm",
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


def _llama_like(cfg: Config, *, qkv_bias: bool, o_bias: bool, mlp_bias: bool,
                tie_default: bool, head_dim_key: bool = True, ff_key: str = "intermediate_size"
                ) -> dict:
    """Shared by the Llama family: embed_tokens, q/k/v/o (K/V sized by num_key_value_heads),
    gate/up/down MLP, 2 RMSNorms per layer, final norm, lm_head (tied or not)."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    head_dim = cfg.size("head_dim") if head_dim_key and cfg.has("head_dim") else None
    if head_dim is not None and head_dim * h == d:
        head_dim = None  # the default, say nothing
    heads(cfg, d, h, "hidden_size", "num_attention_heads", head_dim)
    kv = kv_heads(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
             "num_attention_heads")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, n_kv_heads=kv,
                head_dim=head_dim, d_ff=cfg.size(ff_key),
                mlp=gated(cfg.text("hidden_act", "hidden_activation", default="silu")),
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
    """MistralForCausalLM (Jiang et al. 2023): Llama without biases, GQA, sliding window on
    every layer."""
    spec = _llama_like(cfg, qkv_bias=False, o_bias=False, mlp_bias=False, tie_default=False)
    window = sliding(cfg)
    return spec | dict(sliding_window=window,
                       attention_pattern=window_pattern(cfg, spec["n_layers"], window, 0, ""))


def _mixtral(cfg: Config) -> dict:
    """MixtralForCausalLM (Jiang et al. 2024): Mistral attention; every layer's MLP is
    num_local_experts SwiGLU experts of intermediate_size with a bias-free router (gate)."""
    spec = _mistral(cfg)
    n_exp = cfg.size("num_local_experts")
    top = top_k(cfg, n_exp, "num_local_experts", default=2)
    return spec | dict(n_experts=n_exp, experts_per_token=top, router_bias=False)


def qwen_window(cfg: Config, n_layers: int) -> dict:
    """Qwen2/Qwen3 windows: only with use_sliding_window, on layers >= max_window_layers
    (transformers Qwen2Config.layer_types), or as `layer_types` says."""
    if not cfg.flag("use_sliding_window", False):
        return dict(sliding_window=0)
    window = sliding(cfg)
    if not window or cfg.has("layer_types"):
        return dict(sliding_window=window,
                    attention_pattern=window_pattern(cfg, n_layers, window, 0, ""))
    first = min(cfg.count("max_window_layers", 0), n_layers)
    if first >= n_layers:
        return dict(sliding_window=0)
    pattern = "G" * first + "L" * (n_layers - first)
    return dict(sliding_window=window, attention_pattern="" if not first else pattern)


def _qwen2(cfg: Config) -> dict:
    """Qwen2ForCausalLM: biases on q, k, v only (o_proj has none); a sliding window only when
    use_sliding_window is true."""
    spec = _llama_like(cfg, qkv_bias=True, o_bias=False, mlp_bias=False, tie_default=False)
    return spec | qwen_window(cfg, spec["n_layers"])


def _gemma(cfg: Config) -> dict:
    """GemmaForCausalLM (Gemma Team 2024): head_dim 256 (16 x 256 != 3072 for 7B), GeGLU,
    RMSNorm (weight stored as w, applied as 1 + w: still d parameters), tied output."""
    bias = cfg.flag("attention_bias", False)
    return _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=False, tie_default=True)


def _gemma2(cfg: Config) -> dict:
    """Gemma2ForCausalLM (Gemma Team 2024b, Gemma 2 sec. 2): Gemma plus post-attention and
    post-feedforward norms (4 RMSNorms per layer); local (sliding_window 4096) and global
    attention alternate, the even layers local (`is_sliding = not layer_idx % 2`)."""
    spec = _gemma(cfg)
    window = sliding(cfg) if cfg.has("sliding_window") else 4096
    return spec | dict(norms_per_block=4, sliding_window=window,
                       attention_pattern=window_pattern(cfg, spec["n_layers"], window, 2, ""))


def _phi3(cfg: Config) -> dict:
    """Phi3ForCausalLM (Abdin et al. 2024): fused qkv_proj and gate_up_proj without biases,
    RMSNorm, untied lm_head - the same tensors as Llama, packed differently."""
    spec = _llama_like(cfg, qkv_bias=False, o_bias=False, mlp_bias=False, tie_default=False)
    return spec | dict(sliding_window=sliding(cfg))


def _phi(cfg: Config) -> dict:
    """PhiForCausalLM (phi-1.5/phi-2): parallel attention+MLP sharing one input_layernorm,
    biases on q/k/v/dense and fc1/fc2, partial rotary (no parameters), final_layernorm and an
    untied lm_head WITH bias; `qk_layernorm` adds LayerNorms of head_dim on q and k."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    heads(cfg, d, h, "hidden_size", "num_attention_heads")
    kv = kv_heads(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
             "num_attention_heads")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, n_kv_heads=kv,
                d_ff=cfg.size("intermediate_size"),
                mlp=plain(cfg.text("hidden_act", default="gelu_new")),
                context=cfg.size("max_position_embeddings", default=2048), positions="rotary",
                norm="layernorm", parallel_block=True, norms_per_block=1,
                qk_norm="head" if cfg.flag("qk_layernorm", False) else "",
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
    heads(cfg, d, h, "hidden_size", "num_attention_heads")
    new_arch = cfg.flag("new_decoder_architecture", cfg.data.get("model_type") == "RefinedWeb")
    multi_query = cfg.flag("multi_query", True)
    if new_arch or not multi_query:
        kv = cfg.size("num_kv_heads", "n_head_kv", default=h)
    else:
        kv = 1
    kv_heads(cfg, h, kv, "num_kv_heads", "num_attention_heads")
    parallel = cfg.flag("parallel_attn", True)
    if new_arch:
        norms = cfg.size("num_ln_in_parallel_attn", default=2)
    else:
        norms = 1 if parallel else 2
    bias = cfg.flag("bias", False)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers", "n_layer"), n_heads=h, n_kv_heads=kv,
                d_ff=cfg.size("ffn_hidden_size", default=4 * d),
                mlp=plain(cfg.text("activation", default="gelu")),
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
    heads(cfg, d, h, "hidden_size", "num_attention_heads")
    bias = cfg.flag("attention_bias", True)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("intermediate_size", default=4 * d),
                mlp=plain(cfg.text("hidden_act", default="gelu")),
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
    heads(cfg, d, h, "n_embd", "n_head")
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("n_layer", "num_hidden_layers"), n_heads=h,
                d_ff=cfg.size("n_inner", default=4 * d),
                mlp=plain(cfg.text("activation_function", default="gelu_new")),
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
    heads(cfg, d, h, "hidden_size", "num_attention_heads")
    n_pos = cfg.size("max_position_embeddings", default=2048)
    proj = cfg.size("word_embed_proj_dim", default=d)
    bias = cfg.flag("enable_bias", True)
    final = (cfg.flag("do_layer_norm_before", True)
             and not cfg.flag("_remove_final_layer_norm", False))
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, d_ff=cfg.size("ffn_dim"),
                mlp=plain(cfg.text("activation_function", default="relu")),
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
    heads(cfg, d, h, "hidden_size", "n_head")
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


