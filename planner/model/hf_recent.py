"""Hugging Face config -> ModelSpec fields for the model types of 2024-2025: deepseek_v2/v3
(multi-head latent attention, shared experts, MTP), qwen3, qwen3_moe, qwen2_moe, gpt_oss,
gemma3 / gemma3_text (and the multimodal wrapper's vision tower), llama4 (text model),
olmo2, starcoder2, cohere / cohere2.

Each function follows the transformers modeling code of its type
(``src/transformers/models/<type>/modeling_<type>.py``, v4.55-era) so the derived count equals
``model.num_parameters()``; the docstrings say which tensors exist.
"""
from __future__ import annotations

from planner.errors import PlannerError
from planner.model.hf_config import (Config, every_kth_global, gated, heads, kv_heads, plain,
                                     shortest_period, sliding, top_k, window_pattern)
from planner.model.hf_types import _gemma, _llama_like, qwen_window


def _moe_step(cfg: Config, n_layers: int, step_key: str, layers_key: str = "",
              dense_key: str = "") -> dict:
    """MoE layer placement: layer i is MoE when (i + 1) % step == 0 (Llama 4
    interleave_moe_layer_step, Qwen2/3-MoE decoder_sparse_step), after an optional run of
    leading dense layers (Qwen `mlp_only_layers` as a prefix).  An explicit list of MoE layers
    (Llama 4 `moe_layers`) must match that rule."""
    step = cfg.size(step_key, default=1)
    if step > n_layers:
        raise PlannerError(f"{cfg.where}: {step_key}={step} exceeds num_hidden_layers="
                           f"{n_layers} (no layer would be MoE)")
    first = 0
    if dense_key:
        dense = sorted(set(cfg.items(dense_key, int) or []))
        if dense and dense != list(range(len(dense))):
            raise PlannerError(f"{cfg.where}: {dense_key}={dense[:8]} - only a leading run of "
                               "dense layers (0, 1, ..., k-1) is modelled")
        first = len(dense)
    if layers_key and cfg.has(layers_key):
        listed = sorted(set(cfg.items(layers_key, int)))
        rule = [i for i in range(n_layers) if i >= first and (i + 1) % step == 0]
        if listed != rule:
            raise PlannerError(f"{cfg.where}: {layers_key} {listed[:8]}... does not follow "
                               f"{step_key}={step} (every {step}th layer); other layouts are "
                               "not modelled")
    return dict(moe_layer_step=step, first_dense_layers=first)


# --- DeepSeek ----------------------------------------------------------------------------------

def _deepseek(cfg: Config) -> dict:
    """DeepseekV2/V3ForCausalLM (DeepSeek-AI 2024, DeepSeek-V2 sec. 2; DeepSeek-V3 sec. 2).

    Attention is multi-head latent attention: q_a_proj (hidden -> q_lora_rank) + q_a_layernorm
    + q_b_proj (-> heads x (qk_nope + qk_rope)), or one q_proj when q_lora_rank is null
    (V2-Lite); kv_a_proj_with_mqa (hidden -> kv_lora_rank + qk_rope) + kv_a_layernorm +
    kv_b_proj (-> heads x (qk_nope + v_head_dim)); o_proj (heads x v_head_dim -> hidden).
    Layers >= first_k_dense_replace are MoE: n_routed_experts experts of moe_intermediate_size,
    n_shared_experts folded into one MLP of n_shared x moe_intermediate_size, a router without
    bias but with V3's e_score_correction_bias (topk_method "noaux_tc"); the first layers are
    dense MLPs of intermediate_size.  num_nextn_predict_layers MTP modules are stored in the
    checkpoint after the last layer and reported apart; lm_head untied."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    n = cfg.size("num_hidden_layers")
    kv_rank = cfg.size("kv_lora_rank")
    q_rank = cfg.count("q_lora_rank")
    rope = cfg.size("qk_rope_head_dim")
    nope = cfg.size("qk_nope_head_dim")
    v_head = cfg.size("v_head_dim")
    mt = cfg.data.get("model_type")
    bias = cfg.flag("attention_bias", False)
    spec = dict(vocab_size=cfg.size("vocab_size"), d_model=d, n_layers=n, n_heads=h,
                head_dim=nope + rope, v_head_dim=v_head, rope_head_dim=rope,
                kv_lora_rank=kv_rank, q_lora_rank=q_rank, d_ff=cfg.size("intermediate_size"),
                mlp=gated(cfg.text("hidden_act", default="silu")),
                context=cfg.size("max_position_embeddings", default=4096),
                positions="rotary", norm="rmsnorm", qkv_bias=bias, attn_out_bias=bias,
                mlp_bias=False, tie_embeddings=cfg.flag("tie_word_embeddings", False),
                mtp_layers=cfg.count("num_nextn_predict_layers"))
    if not cfg.has("n_routed_experts"):
        return spec  # every layer dense (DeepseekV2MLP)
    n_exp = cfg.size("n_routed_experts")
    if cfg.size("moe_layer_freq", default=1) != 1:
        raise PlannerError(f"{cfg.where}: moe_layer_freq={cfg.data['moe_layer_freq']} - only "
                           "moe_layer_freq 1 (every layer after first_k_dense_replace) is "
                           "modelled")
    first = cfg.count("first_k_dense_replace")
    if first > n:
        raise PlannerError(f"{cfg.where}: first_k_dense_replace={first} exceeds "
                           f"num_hidden_layers={n}")
    noaux = mt == "deepseek_v3" or cfg.text("topk_method", default="") == "noaux_tc"
    return spec | dict(n_experts=n_exp,
                       experts_per_token=top_k(cfg, n_exp, "n_routed_experts"),
                       n_shared_experts=cfg.count("n_shared_experts"),
                       expert_d_ff=cfg.size("moe_intermediate_size"),
                       first_dense_layers=first, router_bias=noaux)


# --- Qwen ----------------------------------------------------------------------------------

def _qwen3(cfg: Config) -> dict:
    """Qwen3ForCausalLM (Qwen Team 2025, Qwen3 Technical Report sec. 2): Llama-shaped without
    biases (attention_bias false), head_dim its own key (128 for every size, so q is wider than
    hidden for 0.6B-4B), q_norm and k_norm RMSNorms of head_dim in every layer, untied head
    except where tie_word_embeddings says so (0.6B-4B)."""
    bias = cfg.flag("attention_bias", False)
    spec = _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=False, tie_default=False)
    return spec | dict(qk_norm="head") | qwen_window(cfg, spec["n_layers"])


def _qwen3_moe(cfg: Config) -> dict:
    """Qwen3MoeForCausalLM: Qwen3 attention; MoE layers (every decoder_sparse_step-th, none
    of mlp_only_layers) hold num_experts experts of moe_intermediate_size and a bias-free
    router, no shared expert; dense layers (if any) use intermediate_size."""
    spec = _qwen3(cfg)
    n_exp = cfg.size("num_experts")
    return spec | dict(n_experts=n_exp, experts_per_token=top_k(cfg, n_exp, "num_experts"),
                       expert_d_ff=cfg.size("moe_intermediate_size")) | _moe_step(
        cfg, spec["n_layers"], "decoder_sparse_step", dense_key="mlp_only_layers")


def _qwen2_moe(cfg: Config) -> dict:
    """Qwen2MoeForCausalLM (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2 attention (biases on q, k, v);
    MoE layers hold num_experts experts of moe_intermediate_size, a bias-free router, ONE shared
    expert of shared_expert_intermediate_size and its shared_expert_gate (hidden -> 1)."""
    spec = _llama_like(cfg, qkv_bias=cfg.flag("qkv_bias", True), o_bias=False, mlp_bias=False,
                       tie_default=False) | qwen_window(cfg, cfg.size("num_hidden_layers"))
    n_exp = cfg.size("num_experts")
    shared = cfg.count("shared_expert_intermediate_size")
    return spec | dict(n_experts=n_exp, experts_per_token=top_k(cfg, n_exp, "num_experts"),
                       expert_d_ff=cfg.size("moe_intermediate_size"),
                       n_shared_experts=1 if shared else 0, shared_expert_d_ff=shared or None,
                       shared_expert_gate=bool(shared)) | _moe_step(
        cfg, spec["n_layers"], "decoder_sparse_step", dense_key="mlp_only_layers")


# --- gpt-oss ---------------------------------------------------------------------------------

def _gpt_oss(cfg: Config) -> dict:
    """GptOssForCausalLM (OpenAI 2025, gpt-oss model card sec. 2): every layer MoE -
    num_local_experts experts of intermediate_size (gate_up_proj and down_proj WITH biases), a
    router with bias; attention with biases on q, k, v and o, GQA, head_dim 64, one learned
    `sinks` logit per head; sliding-window (128) and full attention alternate, the even layers
    sliding (`layer_types`); untied head."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    n = cfg.size("num_hidden_layers")
    head_dim = cfg.size("head_dim", default=64)
    kv = kv_heads(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
                  "num_attention_heads")
    n_exp = cfg.size("num_local_experts", "num_experts")
    top = top_k(cfg, n_exp, "num_local_experts", ("num_experts_per_tok", "experts_per_token"),
                default=4)
    window = sliding(cfg)
    bias = cfg.flag("attention_bias", True)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d, n_layers=n, n_heads=h,
                n_kv_heads=kv, head_dim=head_dim, d_ff=cfg.size("intermediate_size"),
                mlp="swiglu", context=cfg.size("max_position_embeddings", default=131072),
                positions="rotary", norm="rmsnorm", qkv_bias=bias, attn_out_bias=bias,
                mlp_bias=True, tie_embeddings=cfg.flag("tie_word_embeddings", False),
                attention_sinks=True, sliding_window=window,
                attention_pattern=window_pattern(cfg, n, window, 2, ""),
                n_experts=n_exp, experts_per_token=top, router_bias=True)


# --- Gemma 3 -------------------------------------------------------------------------------

# Gemma3TextConfig / SiglipVisionConfig defaults for the keys the published multimodal
# configs leave out (google/gemma-3-4b-it's text_config gives only hidden_size,
# intermediate_size, num_hidden_layers, rope_scaling and sliding_window).
_GEMMA3_TEXT_DEFAULTS = {"vocab_size": 262_208, "num_attention_heads": 8,
                         "num_key_value_heads": 4, "head_dim": 256,
                         "hidden_activation": "gelu_pytorch_tanh",
                         "max_position_embeddings": 131_072, "sliding_window": 4096,
                         "sliding_window_pattern": 6}


def _gemma3_text(cfg: Config) -> dict:
    """Gemma3ForCausalLM / the text model of Gemma3ForConditionalGeneration (Gemma Team 2025,
    Gemma 3 Technical Report sec. 2): Gemma 2's four RMSNorms per layer plus q_norm and k_norm
    of head_dim; five local layers (sliding_window 1024; 512 for 1B) to one global
    (sliding_window_pattern 6, or `layer_types`); head_dim its own key; tied embedding."""
    cfg = Config(_GEMMA3_TEXT_DEFAULTS | cfg.data, cfg.where)
    spec = _gemma(cfg)
    window = sliding(cfg)
    return spec | dict(norms_per_block=4, qk_norm="head", sliding_window=window,
                       head_dim=cfg.size("head_dim"),
                       attention_pattern=window_pattern(cfg, spec["n_layers"], window, 6))


def _gemma3(cfg: Config) -> dict:
    """Gemma3ForConditionalGeneration: the text model (`text_config`, `_gemma3_text`) plus a
    SigLIP vision tower (`vision_config`: patch embedding with bias, learned positions, blocks
    of LayerNorm + biased q/k/v/o + LayerNorm + biased fc1/fc2, post-LayerNorm; no pooling
    head) and the projector (mm_input_projection_weight vision x text, mm_soft_emb_norm) -
    counted apart as the vision tower and projector.  The wrapper ties the head to the text
    embedding."""
    text = cfg.sub("text_config")
    spec = _gemma3_text(text)
    spec["tie_embeddings"] = cfg.flag("tie_word_embeddings", spec["tie_embeddings"])
    vis = cfg.sub("vision_config", required=False)
    if vis is not None:
        if vis.flag("vision_use_head", False):
            raise PlannerError(f"{vis.where}: vision_use_head true (a pooling head) is not "
                               "modelled")
        d_v = vis.size("hidden_size", default=768)
        h_v = vis.size("num_attention_heads", default=12)
        heads(vis, d_v, h_v, "hidden_size", "num_attention_heads")
        spec["vision"] = dict(d_model=d_v, n_layers=vis.size("num_hidden_layers", default=12),
                              n_heads=h_v, d_ff=vis.size("intermediate_size", default=3072),
                              image_size=vis.size("image_size", default=224),
                              patch_size=vis.size("patch_size", default=16),
                              channels=vis.size("num_channels", default=3), projector="gemma3")
    return spec


# --- Llama 4 -------------------------------------------------------------------------------

def _llama4_text(cfg: Config) -> dict:
    """Llama4ForCausalLM / the text model of Llama4ForConditionalGeneration (Meta 2025, Llama 4
    model card): Llama attention (GQA, head_dim 128, qk L2-norm without parameters); MoE
    layers every interleave_moe_layer_step-th (Scout: all, Maverick: every 2nd) with
    num_local_experts experts of intermediate_size, one shared expert of the same width and a
    bias-free router (top-1); dense layers use intermediate_size_mlp; chunked attention
    (attention_chunk_size 8192) on the RoPE layers, a global NoPE layer every 4th
    (`no_rope_layers`).  Untied head."""
    spec = _llama_like(cfg, qkv_bias=cfg.flag("attention_bias", False),
                       o_bias=cfg.flag("attention_bias", False), mlp_bias=False,
                       tie_default=False, ff_key="intermediate_size_mlp")
    n = spec["n_layers"]
    n_exp = cfg.size("num_local_experts")
    chunk = cfg.count("attention_chunk_size")
    pattern = ""
    if chunk:
        flags = cfg.items("no_rope_layers", int)
        if flags:
            if len(flags) != n:
                raise PlannerError(f"{cfg.where}: 'no_rope_layers' lists {len(flags)} layers, "
                                   f"num_hidden_layers is {n}")
            pattern = shortest_period("".join("L" if f else "G" for f in flags))
        else:
            pattern = every_kth_global(cfg.size("no_rope_layer_interval", default=4))
    width = cfg.size("intermediate_size")
    return spec | dict(n_experts=n_exp, experts_per_token=top_k(cfg, n_exp,
                                                                "num_local_experts",
                                                                default=1),
                       expert_d_ff=width, n_shared_experts=1, shared_expert_d_ff=width,
                       sliding_window=chunk, window_kind="chunked", attention_pattern=pattern
                       ) | _moe_step(cfg, n, "interleave_moe_layer_step", "moe_layers")


def _llama4(cfg: Config) -> dict:
    """Llama4ForConditionalGeneration: the text model of `text_config`; the vision tower
    (`vision_config`) is not counted here - said so in the notes."""
    spec = _llama4_text(cfg.sub("text_config"))
    spec["tie_embeddings"] = cfg.flag("tie_word_embeddings", spec["tie_embeddings"])
    return spec


# --- OLMo 2, StarCoder2, Cohere --------------------------------------------------------------

def _olmo2(cfg: Config) -> dict:
    """Olmo2ForCausalLM (OLMo Team 2024, "2 OLMo 2 Furious" sec. 2): Llama-shaped without
    biases, post-norms (post_attention_layernorm and post_feedforward_layernorm: 2 RMSNorms
    per layer), q_norm over all query heads and k_norm over all key heads (hidden wide for
    MHA), untied head."""
    bias = cfg.flag("attention_bias", False)
    spec = _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=False, tie_default=False)
    return spec | dict(qk_norm="full")


def _starcoder2(cfg: Config) -> dict:
    """Starcoder2ForCausalLM (Lozhkov et al. 2024, StarCoder 2 sec. 5): LayerNorms with bias
    (norm_type layer_norm), `use_bias` on q/k/v/o and on the two-matrix GELU MLP (c_fc, c_proj),
    GQA, sliding window on every layer, tied head."""
    d = cfg.size("hidden_size")
    h = cfg.size("num_attention_heads")
    heads(cfg, d, h, "hidden_size", "num_attention_heads")
    kv = kv_heads(cfg, h, cfg.size("num_key_value_heads", default=h), "num_key_value_heads",
                  "num_attention_heads")
    norm = cfg.text("norm_type", default="layer_norm")
    if norm not in ("layer_norm", "rms_norm"):
        raise PlannerError(f"{cfg.where}: 'norm_type' must be layer_norm or rms_norm, got "
                           f"{norm[:40]!r}")
    bias = cfg.flag("use_bias", True)
    window = sliding(cfg)
    return dict(vocab_size=cfg.size("vocab_size"), d_model=d,
                n_layers=cfg.size("num_hidden_layers"), n_heads=h, n_kv_heads=kv,
                d_ff=cfg.size("intermediate_size"),
                mlp=plain(cfg.text("hidden_act", default="gelu_pytorch_tanh")),
                context=cfg.size("max_position_embeddings", default=4096), positions="rotary",
                norm="layernorm" if norm == "layer_norm" else "rmsnorm", qkv_bias=bias,
                attn_out_bias=bias, mlp_bias=bias, sliding_window=window,
                tie_embeddings=cfg.flag("tie_word_embeddings", True))


def _cohere(cfg: Config) -> dict:
    """CohereForCausalLM (Command R / R+): parallel attention and MLP after ONE LayerNorm
    without bias per layer (CohereLayerNorm), final norm likewise, SwiGLU MLP, no biases
    (attention_bias false), `use_qk_norm` (R+): per-head LayerNorm weights on q and k
    (heads x head_dim each), tied head (logit_scale has no parameters)."""
    bias = cfg.flag("attention_bias", False)
    spec = _llama_like(cfg, qkv_bias=bias, o_bias=bias, mlp_bias=False, tie_default=True)
    return spec | dict(norm="layernorm", norm_bias=False, parallel_block=True,
                       norms_per_block=1, qk_norm="full" if cfg.flag("use_qk_norm", False)
                       else "")


def _cohere2(cfg: Config) -> dict:
    """Cohere2ForCausalLM (Command R7B, Command A): Cohere's block with three sliding-window
    layers to one global (sliding_window_pattern 4, or `layer_types`)."""
    spec = _cohere(cfg)
    window = sliding(cfg)
    return spec | dict(sliding_window=window,
                       attention_pattern=window_pattern(cfg, spec["n_layers"], window, 4))


MAPPERS = {
    "deepseek_v2": _deepseek, "deepseek_v3": _deepseek, "qwen3": _qwen3,
    "qwen3_moe": _qwen3_moe, "qwen2_moe": _qwen2_moe, "gpt_oss": _gpt_oss,
    "gemma3": _gemma3, "gemma3_text": _gemma3_text, "llama4": _llama4,
    "llama4_text": _llama4_text, "olmo2": _olmo2, "starcoder2": _starcoder2,
    "cohere": _cohere, "cohere2": _cohere2,
}

ARCH_TYPES = {
    "DeepseekV2ForCausalLM": "deepseek_v2", "DeepseekV3ForCausalLM": "deepseek_v3",
    "Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe",
    "Qwen2MoeForCausalLM": "qwen2_moe", "GptOssForCausalLM": "gpt_oss",
    "Gemma3ForConditionalGeneration": "gemma3", "Gemma3ForCausalLM": "gemma3_text",
    "Llama4ForConditionalGeneration": "llama4", "Llama4ForCausalLM": "llama4_text",
    "Olmo2ForCausalLM": "olmo2", "Starcoder2ForCausalLM": "starcoder2",
    "CohereForCausalLM": "cohere", "Cohere2ForCausalLM": "cohere2",
}
