"""The model input: `ModelSpec`, a transformer's architecture as data.

Every count, FLOP and byte that follows from the architecture is derived from ONE walk over
its weight tensors (`planner.model.tensors`): the parameter counts and breakdown
(`planner.model.counts`), the forward FLOPs (`planner.model.flops`), the quantised sizes
(`planner.estimate.quant`).  The KV cache follows the attention layout (`planner.model.kv`).
Those names are re-exported here and from `planner.model`, so ``from planner.model.spec import
total_params`` keeps working.

Architectural choices that change the count are explicit fields: gated MLPs have three
matrices of d_model x d_ff (Shazeer 2020), grouped-query attention has n_kv_heads K/V heads
(Ainslie et al. 2023), the head dimension is its own field (Gemma: 16 x 256 != 3072),
LayerNorm has a weight and a bias and RMSNorm a weight only (Zhang & Sennrich 2019), parallel
blocks may share one norm (GPT-J), mixture-of-experts layers have routed experts, shared experts
and a router (Fedus et al. 2021; Dai et al. 2024 DeepSeekMoE), multi-head latent attention
projects K and V through a low-rank latent (DeepSeek-AI 2024, DeepSeek-V2 sec. 2.1), local
layers attend within a window (Beltagy et al. 2020; Gemma Team 2024), attention sinks add one
logit per head (OpenAI 2025, gpt-oss model card sec. 2).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from planner.errors import PlannerError, unknown

ARCHS = ("decoder", "encoder-decoder")
MLPS = ("gelu", "relu", "swiglu", "geglu", "silu")
GATED = ("swiglu", "geglu")
POSITIONS = ("learned", "sinusoidal", "rotary", "alibi", "relative", "xl-relative", "none")
NORMS = ("layernorm", "rmsnorm")
QK_NORMS = ("", "head", "full")      # none; one norm of head_dim shared by the heads; per-head
WINDOW_KINDS = ("sliding", "chunked")
STATUSES = ("", "reported")          # "reported": architecture as reported, not confirmed
PROJECTORS = ("gemma3", "linear")

# Component names of the breakdown, in display order.
COMPONENTS = ("embedding", "positions", "attention", "mlp", "norms", "lm_head")

MAX_NAME = 200

# Valid ranges of the size fields.  Generous (an order of magnitude or more beyond any published
# model, 2026) but finite, so a hostile or mistyped file (10^6 layers, 10^12 context) is refused
# at once instead of making every later step slow.
LIMITS: dict[str, tuple[int, int]] = {
    "vocab_size": (1, 2**27), "d_model": (1, 2**20), "n_layers": (1, 10_000),
    "n_heads": (1, 2**16), "d_ff": (1, 2**24), "context": (1, 2**30),
    "n_encoder_layers": (0, 10_000), "sliding_window": (0, 2**30), "n_experts": (0, 2**16),
    "experts_per_token": (0, 2**16), "n_shared_experts": (0, 2**10),
    "first_dense_layers": (0, 10_000), "q_lora_rank": (0, 2**20), "kv_lora_rank": (0, 2**20),
    "rope_head_dim": (0, 2**16), "mtp_layers": (0, 100), "moe_layer_step": (1, 10_000),
    "relative_attention_buckets": (1, 2**16),
    # optional (None = derived)
    "n_kv_heads": (1, 2**16), "head_dim": (1, 2**16), "v_head_dim": (1, 2**16),
    "n_positions": (1, 2**30), "expert_d_ff": (1, 2**24), "shared_expert_d_ff": (1, 2**24),
    "norms_per_block": (1, 16), "embed_dim": (1, 2**20),
}
REQUIRED = ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "context")
OPTIONAL = ("n_kv_heads", "head_dim", "v_head_dim", "n_positions", "expert_d_ff",
            "shared_expert_d_ff", "norms_per_block", "embed_dim")
FLAGS = ("qkv_bias", "attn_out_bias", "mlp_bias", "parallel_block", "final_norm",
         "embedding_norm", "tie_embeddings", "lm_head_bias", "router_bias",
         "shared_encoder_decoder_embeddings", "attention_sinks", "shared_expert_gate")

# Published figures and provenance a zoo entry may carry (not architecture).
META_NUMBERS = ("published_params", "published_active_params", "exact_params",
                "exact_active_params", "train_tokens", "published_gpu_hours",
                "published_pf_days", "published_flops", "published_neurons",
                "checkpoint_bytes")
META_TEXT = ("exact_params_source", "train_tokens_source", "published_gpu", "hf_id", "notes",
             "published_gpu_hours_source", "published_params_source", "checkpoint_source",
             "checkpoint_format")


def _whole(value: Any, key: str, where: str, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise PlannerError(f"{where}: {key} must be a whole number in {lo:,}..{hi:,}, "
                           f"got {value!r}")


@dataclass(frozen=True)
class VisionSpec:
    """A ViT vision tower and its projector into the text model (Gemma 3: SigLIP-So400m,
    Zhai et al. 2023, with `Gemma3MultiModalProjector`).  Counted and reported apart from the
    text model."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    image_size: int
    patch_size: int
    channels: int = 3
    projector: str = "gemma3"

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def validate(self, where: str) -> None:
        where = f"{where} vision"
        for key, hi in (("d_model", 2**16), ("n_layers", 1000), ("n_heads", 2**12),
                        ("d_ff", 2**18), ("image_size", 2**14), ("patch_size", 2**10),
                        ("channels", 64)):
            _whole(getattr(self, key), key, where, 1, hi)
        if self.d_model % self.n_heads:
            raise PlannerError(f"{where}: n_heads={self.n_heads} does not divide "
                               f"d_model={self.d_model}")
        if self.patch_size > self.image_size:
            raise PlannerError(f"{where}: patch_size={self.patch_size} exceeds "
                               f"image_size={self.image_size}")
        if self.projector not in PROJECTORS:
            raise unknown(f"projector in {where}:", str(self.projector), PROJECTORS)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "VisionSpec":
        if not isinstance(data, dict):
            raise PlannerError(f"{where}: 'vision' must be a table of the vision tower's sizes, "
                               f"got {type(data).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise unknown(f"key in {where} vision:", str(key), known)
        for need in ("d_model", "n_layers", "n_heads", "d_ff", "image_size", "patch_size"):
            if need not in data:
                raise PlannerError(f"{where} vision: missing required key {need!r}")
        spec = cls(**data)
        spec.validate(where)
        return spec


@dataclass(frozen=True)
class ModelSpec:
    """A transformer's architecture.  Field names follow the zoo TOML files.

    Defaults describe a GPT-2/3-style pre-norm decoder; `head_dim` defaults to d_model/n_heads,
    `n_kv_heads` to n_heads, `v_head_dim` to head_dim, `n_positions` to `context`, `expert_d_ff`
    and `shared_expert_d_ff` to `d_ff`."""

    name: str
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    arch: str = "decoder"
    n_encoder_layers: int = 0
    n_kv_heads: int | None = None
    head_dim: int | None = None
    v_head_dim: int | None = None
    mlp: str = "gelu"
    context: int = 2048
    positions: str = "learned"
    n_positions: int | None = None
    norm: str = "layernorm"
    # LayerNorm without its bias (Cohere); None: LayerNorm has one, RMSNorm none.
    norm_bias: bool | None = None
    qkv_bias: bool = True
    attn_out_bias: bool = True
    mlp_bias: bool = True
    parallel_block: bool = False
    norms_per_block: int | None = None
    # q/k normalisation: "head" = one norm of head_dim (Qwen3, Gemma 3; Dehghani et al. 2023),
    # "full" = over all heads (OLMo 2's q_dim and kv_dim wide norms, Cohere's per-head weights).
    qk_norm: str = ""
    final_norm: bool = True
    embedding_norm: bool = False
    tie_embeddings: bool = True
    lm_head_bias: bool = False
    # Local attention: layers marked "L" in `attention_pattern` (repeated to n_layers; empty =
    # every layer) attend within `sliding_window` tokens ("sliding", Beltagy et al. 2020) or
    # within chunks of that size ("chunked", Llama 4); "G" layers attend to the whole context.
    sliding_window: int = 0
    attention_pattern: str = ""
    window_kind: str = "sliding"
    attention_sinks: bool = False
    # Multi-head latent attention (DeepSeek-V2 sec. 2.1.2-2.1.3): K and V from a kv_lora_rank
    # latent, a decoupled RoPE key of rope_head_dim shared by the heads; head_dim is the q/k
    # head width (nope + rope), v_head_dim the value head width; q_lora_rank > 0 adds the
    # low-rank query path.
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    rope_head_dim: int = 0
    n_experts: int = 0
    experts_per_token: int = 0
    n_shared_experts: int = 0
    expert_d_ff: int | None = None
    shared_expert_d_ff: int | None = None
    shared_expert_gate: bool = False
    first_dense_layers: int = 0
    # Layer i >= first_dense_layers is MoE when (i + 1) % moe_layer_step == 0 (HF Llama 4
    # interleave_moe_layer_step, Qwen2-MoE decoder_sparse_step).
    moe_layer_step: int = 1
    router_bias: bool = False
    # Multi-token-prediction modules (DeepSeek-V3 sec. 2.2), reported apart from the model.
    mtp_layers: int = 0
    relative_attention_buckets: int = 32
    shared_encoder_decoder_embeddings: bool = True
    # Width of the token embedding when it differs from d_model (OPT-350m's word_embed_proj_dim
    # = 512 < 1024): the embedding and a tied lm_head are vocab x embed_dim, and two bias-free
    # projections d_model x embed_dim map in and out of the blocks (HF OPTDecoder.project_in/out).
    embed_dim: int | None = None
    vision: VisionSpec | None = None
    # Provenance and published figures (not architecture).
    status: str = ""
    family: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    # -- derived dimensions -------------------------------------------------------------------
    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def d_head(self) -> int:
        """Width of one query/key head (MLA: the nope + rope parts)."""
        return self.d_model // self.n_heads if self.head_dim is None else self.head_dim

    @property
    def d_head_v(self) -> int:
        return self.d_head if self.v_head_dim is None else self.v_head_dim

    @property
    def q_dim(self) -> int:
        """Width of the concatenated query heads (= d_model unless head_dim says otherwise)."""
        return self.n_heads * self.d_head

    @property
    def kv_dim(self) -> int:
        """Width of the K projection (and of V unless v_head_dim differs)."""
        return self.kv_heads * self.d_head

    @property
    def v_dim(self) -> int:
        return self.kv_heads * self.d_head_v

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def gated(self) -> bool:
        return self.mlp in GATED

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def expert_width(self) -> int:
        return self.expert_d_ff or self.d_ff

    @property
    def shared_width(self) -> int:
        """Width of ONE shared expert."""
        return self.shared_expert_d_ff or self.expert_width

    @property
    def embedding_width(self) -> int:
        """Width of the token embedding (= d_model unless embed_dim says otherwise)."""
        return self.embed_dim or self.d_model

    @property
    def positions_rows(self) -> int:
        return self.n_positions or self.context

    @property
    def block_norms(self) -> int:
        """Norms per decoder-only / encoder block: 2 sequential, 1 for a shared parallel norm."""
        if self.norms_per_block is not None:
            return self.norms_per_block
        return 2

    @property
    def norm_has_bias(self) -> bool:
        return (self.norm == "layernorm") if self.norm_bias is None else self.norm_bias

    @property
    def reported(self) -> bool:
        """True for an architecture known only from reports (GPT-4): every output says so."""
        return self.status == "reported"

    def is_moe_layer(self, i: int) -> bool:
        return (self.is_moe and i >= self.first_dense_layers
                and (i + 1) % self.moe_layer_step == 0)

    def is_local_layer(self, i: int) -> bool:
        """Layer i attends within `sliding_window` (False when the model has no window)."""
        if not self.sliding_window:
            return False
        if not self.attention_pattern:
            return True
        return self.attention_pattern[i % len(self.attention_pattern)] == "L"

    @functools.cached_property      # (a frozen spec: computed once per instance)
    def n_moe_layers(self) -> int:
        return sum(self.is_moe_layer(i) for i in range(self.n_layers))

    @functools.cached_property
    def n_local_layers(self) -> int:
        return sum(self.is_local_layer(i) for i in range(self.n_layers))

    def with_(self, **changes: Any) -> "ModelSpec":
        return dataclasses.replace(self, **changes)

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME:
            shown = (repr(self.name[:40]) + "...") if isinstance(self.name, str) else repr(
                self.name)
            raise PlannerError(f"model name must be text of 1..{MAX_NAME} characters, got "
                               f"{shown}" + (f" ({len(self.name)} characters)"
                                             if isinstance(self.name, str) else ""))
        where = f"model {self.name!r}"
        for key in REQUIRED:
            lo, hi = LIMITS[key]
            _whole(getattr(self, key), key, where, max(lo, 1), hi)
        for key, (lo, hi) in LIMITS.items():
            value = getattr(self, key)
            if key in REQUIRED or (key in OPTIONAL and value is None):
                continue
            _whole(value, key, where, lo, hi)
        for key in FLAGS:
            if not isinstance(getattr(self, key), bool):
                raise PlannerError(f"{where}: {key} must be true or false, got "
                                   f"{getattr(self, key)!r}")
        if self.norm_bias is not None and not isinstance(self.norm_bias, bool):
            raise PlannerError(f"{where}: norm_bias must be true or false, got "
                               f"{self.norm_bias!r}")
        for key in ("family", "source", "attention_pattern"):
            if not isinstance(getattr(self, key), str):
                raise PlannerError(f"{where}: {key} must be text, got {getattr(self, key)!r}")
        if not isinstance(self.aliases, tuple) or not all(
                isinstance(a, str) and 0 < len(a) <= MAX_NAME for a in self.aliases):
            raise PlannerError(f"{where}: aliases must be a list of names, got "
                               f"{self.aliases!r}")
        for key, valid in (("arch", ARCHS), ("mlp", MLPS), ("positions", POSITIONS),
                           ("norm", NORMS), ("qk_norm", QK_NORMS),
                           ("window_kind", WINDOW_KINDS), ("status", STATUSES)):
            value = getattr(self, key)
            if not isinstance(value, str) or value not in valid:
                raise unknown(f"{key} in {where}:", str(value), [v for v in valid if v])
        if self.head_dim is None and self.d_model % self.n_heads:
            raise PlannerError(f"{where}: n_heads={self.n_heads} does not divide "
                               f"d_model={self.d_model} (give head_dim explicitly if intended)")
        if self.n_heads % self.kv_heads:
            raise PlannerError(f"{where}: n_kv_heads={self.kv_heads} does not divide "
                               f"n_heads={self.n_heads} (grouped-query attention needs groups "
                               "of equal size)")
        if self.attention_pattern and (set(self.attention_pattern) - {"L", "G"}
                                       or len(self.attention_pattern) > self.n_layers):
            raise PlannerError(f"{where}: attention_pattern must be up to n_layers="
                               f"{self.n_layers} letters L (local) and G (global), got "
                               f"{self.attention_pattern[:40]!r}")
        if self.attention_pattern and not self.sliding_window:
            raise PlannerError(f"{where}: attention_pattern needs a sliding_window > 0")
        if self.arch == "encoder-decoder" and self.n_encoder_layers == 0:
            raise PlannerError(f"{where}: an encoder-decoder model needs n_encoder_layers > 0")
        self._validate_mla(where)
        self._validate_moe(where)
        if self.mtp_layers and not self.mla:
            raise PlannerError(f"{where}: mtp_layers are modelled for DeepSeek-V3-style (MLA) "
                               "models only; set kv_lora_rank or mtp_layers = 0")
        if self.vision is not None:
            if not isinstance(self.vision, VisionSpec):
                raise PlannerError(f"{where}: vision must be a table of the vision tower's "
                                   "sizes")
            self.vision.validate(where)

    def _validate_mla(self, where: str) -> None:
        if not (self.mla or self.q_lora_rank or self.rope_head_dim):
            return
        if not self.mla:
            raise PlannerError(f"{where}: q_lora_rank/rope_head_dim are multi-head latent "
                               "attention keys and need kv_lora_rank > 0")
        if self.head_dim is None or self.v_head_dim is None:
            raise PlannerError(f"{where}: multi-head latent attention needs head_dim (q/k head "
                               "width, nope + rope) and v_head_dim")
        if not 0 < self.rope_head_dim < self.head_dim:
            raise PlannerError(f"{where}: rope_head_dim must be in 1..head_dim-1="
                               f"{self.head_dim - 1}, got {self.rope_head_dim}")
        if self.kv_heads != self.n_heads:
            raise PlannerError(f"{where}: multi-head latent attention has one K/V head per "
                               f"query head (n_kv_heads {self.kv_heads} != n_heads "
                               f"{self.n_heads})")
        if self.arch != "decoder":
            raise PlannerError(f"{where}: multi-head latent attention is modelled for "
                               "decoders only")

    def _validate_moe(self, where: str) -> None:
        if not self.is_moe:
            for key in ("experts_per_token", "n_shared_experts", "first_dense_layers"):
                if getattr(self, key):
                    raise PlannerError(f"{where}: {key}={getattr(self, key)} needs n_experts > 0")
            return
        if not 0 < self.experts_per_token <= self.n_experts:
            raise PlannerError(f"{where}: experts_per_token must be in 1..n_experts="
                               f"{self.n_experts}, got {self.experts_per_token}")
        if self.first_dense_layers > self.n_layers:
            raise PlannerError(f"{where}: first_dense_layers={self.first_dense_layers} "
                               f"exceeds n_layers={self.n_layers}")
        if self.arch != "decoder":
            raise PlannerError(f"{where}: mixture-of-experts layers are modelled for "
                               "decoders only")
        if self.shared_expert_gate and not self.n_shared_experts:
            raise PlannerError(f"{where}: shared_expert_gate needs n_shared_experts > 0")

    # -- construction from a mapping (zoo TOML, scenario inline model) ------------------------
    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> "ModelSpec":
        """Build from a zoo/scenario mapping; unknown keys and mistyped values are errors
        naming the key."""
        if not isinstance(data, dict):
            raise PlannerError(f"{where}: a model must be a table of keys (name, vocab_size, "
                               f"d_model, ...), got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"meta"}
        args: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                if key == "aliases":
                    if not isinstance(value, list):
                        raise PlannerError(f"{where}: aliases must be a list of names, got "
                                           f"{value!r}")
                    value = tuple(value)
                elif key == "vision":
                    value = VisionSpec.from_dict(value, where)
                args[key] = value
            elif key in META_NUMBERS:
                if (not isinstance(value, (int, float)) or isinstance(value, bool)
                        or not math.isfinite(value) or value < 0):
                    raise PlannerError(f"{where}: {key} must be a number >= 0, got {value!r}")
                meta[key] = value
            elif key in META_TEXT:
                if not isinstance(value, str):
                    raise PlannerError(f"{where}: {key} must be text, got {value!r}")
                meta[key] = value
            else:
                raise unknown(f"key in {where}:", str(key),
                              sorted(known | set(META_NUMBERS) | set(META_TEXT)))
        for need in ("name", "vocab_size", "d_model", "n_layers", "n_heads", "d_ff"):
            if need not in args:
                raise PlannerError(f"{where}: missing required key {need!r}")
        return cls(meta=meta, **args)


# The derived quantities, re-exported so the old import paths keep working (defined in their
# own modules; imported last because they use ModelSpec only through annotations).
from planner.model.counts import (HUMAN_BRAIN_NEURONS, active_params, attention_params,  # noqa: E402
                                  breakdown, layer_groups, mlp_params, neurons,
                                  non_embedding_params, parts, separate_params, total_params)
from planner.model.flops import (attention_flops_per_token, flops_per_token_6n,  # noqa: E402
                                 flops_per_token_exact, forward_flops_per_token)
from planner.model.kv import kv_bytes_per_sequence, kv_bytes_per_token  # noqa: E402

__all__ = ["ModelSpec", "VisionSpec", "COMPONENTS", "HUMAN_BRAIN_NEURONS", "active_params",
           "attention_params", "breakdown", "layer_groups", "mlp_params", "neurons",
           "non_embedding_params", "parts", "separate_params", "total_params",
           "attention_flops_per_token", "flops_per_token_6n", "flops_per_token_exact",
           "forward_flops_per_token", "kv_bytes_per_sequence", "kv_bytes_per_token"]
