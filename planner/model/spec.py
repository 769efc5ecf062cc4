"""The model input: `ModelSpec`, and what follows from the architecture alone.

Parameter counts are derived weight matrix by weight matrix, so every architectural choice that
changes the count is explicit: gated MLPs have three matrices of d_model x d_ff (Shazeer 2020,
"GLU Variants Improve Transformer"), grouped-query attention has n_kv_heads K/V heads (Ainslie
et al. 2023), the head dimension is its own field (Gemma: 16 x 256 != 3072), LayerNorm has a
weight and a bias and RMSNorm a weight only (Zhang & Sennrich 2019), parallel attention+MLP
blocks may share one norm (GPT-J, Falcon-7B; Wang & Komatsuzaki 2021), mixture-of-experts
layers have n_experts MLPs and a router (Fedus et al. 2021; Jiang et al. 2024 for Mixtral).

FLOPs per token follow Kaplan et al. 2020 (6N, Table 1 / eq. 2.1 C = 6NBS) and Hoffmann et al.
2022 App. F (the exact count with attention and embeddings).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from planner.errors import PlannerError, unknown

ARCHS = ("decoder", "encoder-decoder")
MLPS = ("gelu", "relu", "swiglu", "geglu", "silu")
GATED = ("swiglu", "geglu")
POSITIONS = ("learned", "sinusoidal", "rotary", "alibi", "relative", "xl-relative", "none")
NORMS = ("layernorm", "rmsnorm")

# Component names of the breakdown, in display order.
COMPONENTS = ("embedding", "positions", "attention", "mlp", "norms", "lm_head")


@dataclass(frozen=True)
class ModelSpec:
    """A transformer's architecture.  Field names follow the zoo TOML files.

    Defaults describe a GPT-2/3-style pre-norm decoder; `head_dim` defaults to d_model/n_heads,
    `n_kv_heads` to n_heads, `n_positions` to `context`, `expert_d_ff` to `d_ff`."""

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
    mlp: str = "gelu"
    context: int = 2048
    positions: str = "learned"
    n_positions: int | None = None
    norm: str = "layernorm"
    qkv_bias: bool = True
    attn_out_bias: bool = True
    mlp_bias: bool = True
    parallel_block: bool = False
    norms_per_block: int | None = None
    final_norm: bool = True
    embedding_norm: bool = False
    tie_embeddings: bool = True
    lm_head_bias: bool = False
    sliding_window: int = 0
    n_experts: int = 0
    experts_per_token: int = 0
    n_shared_experts: int = 0
    expert_d_ff: int | None = None
    shared_expert_d_ff: int | None = None
    first_dense_layers: int = 0
    router_bias: bool = False
    relative_attention_buckets: int = 32
    shared_encoder_decoder_embeddings: bool = True
    # Width of the token embedding when it differs from d_model (OPT-350m's word_embed_proj_dim
    # = 512 < 1024): the embedding and a tied lm_head are vocab x embed_dim, and two bias-free
    # projections d_model x embed_dim map in and out of the blocks (HF OPTDecoder.project_in/out).
    embed_dim: int | None = None
    # Provenance and published figures (not architecture).
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
        return self.d_model // self.n_heads if self.head_dim is None else self.head_dim

    @property
    def q_dim(self) -> int:
        """Width of the concatenated query heads (= d_model unless head_dim says otherwise)."""
        return self.n_heads * self.d_head

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.d_head

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

    def with_(self, **changes: Any) -> "ModelSpec":
        return dataclasses.replace(self, **changes)

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        where = f"model {self.name!r}"
        for fld in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "context"):
            v = getattr(self, fld)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise PlannerError(f"{where}: {fld} must be a positive whole number, got {v!r}")
        for fld in ("n_encoder_layers", "sliding_window", "n_experts", "experts_per_token",
                    "n_shared_experts", "first_dense_layers"):
            v = getattr(self, fld)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise PlannerError(f"{where}: {fld} must be a whole number >= 0, got {v!r}")
        for fld in ("n_kv_heads", "head_dim", "n_positions", "expert_d_ff", "shared_expert_d_ff",
                    "norms_per_block", "embed_dim"):
            v = getattr(self, fld)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise PlannerError(f"{where}: {fld} must be a positive whole number, got {v!r}")
        for fld, valid in (("arch", ARCHS), ("mlp", MLPS), ("positions", POSITIONS),
                           ("norm", NORMS)):
            v = getattr(self, fld)
            if v not in valid:
                raise unknown(f"{fld} in {where}:", str(v), valid)
        if self.head_dim is None and self.d_model % self.n_heads:
            raise PlannerError(f"{where}: n_heads={self.n_heads} does not divide "
                               f"d_model={self.d_model} (give head_dim explicitly if intended)")
        if self.n_heads % self.kv_heads:
            raise PlannerError(f"{where}: n_kv_heads={self.kv_heads} does not divide "
                               f"n_heads={self.n_heads} (grouped-query attention needs groups "
                               "of equal size)")
        if self.arch == "encoder-decoder" and self.n_encoder_layers == 0:
            raise PlannerError(f"{where}: an encoder-decoder model needs n_encoder_layers > 0")
        if self.is_moe:
            if not 0 < self.experts_per_token <= self.n_experts:
                raise PlannerError(f"{where}: experts_per_token must be in 1..n_experts="
                                   f"{self.n_experts}, got {self.experts_per_token}")
            if self.first_dense_layers > self.n_layers:
                raise PlannerError(f"{where}: first_dense_layers={self.first_dense_layers} "
                                   f"exceeds n_layers={self.n_layers}")

    # -- construction from a mapping (zoo TOML, scenario inline model) ------------------------
    @classmethod
    def from_dict(cls, data: dict, where: str = "model") -> "ModelSpec":
        """Build from a zoo/scenario mapping; unknown keys are errors naming the key."""
        known = {f.name for f in dataclasses.fields(cls)} - {"meta"}
        meta_keys = {"published_params", "exact_params", "exact_params_source", "train_tokens",
                     "train_tokens_source", "published_gpu_hours", "published_gpu",
                     "published_pf_days", "published_flops", "hf_id", "notes",
                     "published_gpu_hours_source", "published_params_source"}
        args: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                args[key] = tuple(value) if key == "aliases" else value
            elif key in meta_keys:
                meta[key] = value
            else:
                raise unknown(f"key in {where}:", key, sorted(known | meta_keys))
        for need in ("name", "vocab_size", "d_model", "n_layers", "n_heads", "d_ff"):
            if need not in args:
                raise PlannerError(f"{where}: missing required key {need!r}")
        return cls(meta=meta, **args)


# --- parameter counting --------------------------------------------------------------------------

def _norm_params(spec: ModelSpec) -> int:
    """One norm over d_model: LayerNorm has weight and bias, RMSNorm a weight only."""
    return spec.d_model * (2 if spec.norm == "layernorm" else 1)


def attention_params(spec: ModelSpec, cross: bool = False) -> int:
    """Q, K, V and output projections with their biases (Vaswani et al. 2017 sec. 3.2.2;
    K/V sized by n_kv_heads for MQA/GQA).  Cross-attention has the same shapes."""
    d, q, kv = spec.d_model, spec.q_dim, spec.kv_dim
    weights = d * q + 2 * d * kv + q * d
    if spec.positions == "xl-relative":
        # Transformer-XL relative positions (Dai et al. 2019 sec. 3.3): each layer projects the
        # sinusoidal relative encodings with its own W_{k,R} (d_model x heads*d_head).  Gopher
        # and Chinchilla use them (Rae et al. 2021 sec. 3; Hoffmann et al. 2022 sec. 4.1).
        weights += d * q
    biases = (q + 2 * kv if spec.qkv_bias else 0) + (d if spec.attn_out_bias else 0)
    return weights + biases


def mlp_params(spec: ModelSpec, width: int | None = None) -> int:
    """One MLP: 2 matrices (up, down) or 3 for gated units (gate, up, down; Shazeer 2020)."""
    w = spec.d_ff if width is None else width
    n_in = 2 if spec.gated else 1
    weights = (n_in + 1) * spec.d_model * w
    biases = (n_in * w + spec.d_model) if spec.mlp_bias else 0
    return weights + biases


def _moe_layer_mlp(spec: ModelSpec, experts: int) -> int:
    """MLP part of an MoE layer holding `experts` routed experts, the shared ones and the
    router (d_model x n_experts; Fedus et al. 2021 sec. 2.1)."""
    routed = experts * mlp_params(spec, spec.expert_width)
    shared = spec.n_shared_experts * mlp_params(spec, spec.shared_expert_d_ff or spec.expert_width)
    router = spec.d_model * spec.n_experts + (spec.n_experts if spec.router_bias else 0)
    return routed + shared + router


def _relative_bias(spec: ModelSpec) -> int:
    """T5's relative position bias: buckets x heads, held by the first layer of each stack
    (Raffel et al. 2020 sec. 2.1)."""
    return spec.relative_attention_buckets * spec.n_heads if spec.positions == "relative" else 0


def layer_groups(spec: ModelSpec, active: bool = False) -> list[dict]:
    """Runs of identical layers: stack, count, and the attention/mlp/norms/total of one layer.

    With ``active=True`` an MoE layer counts only the experts a token is routed to."""
    groups: list[dict] = []
    norm = _norm_params(spec)

    def add(stack: str, count: int, attention: int, mlp: int, norms: int) -> None:
        if count:
            groups.append({"stack": stack, "count": count, "attention": attention, "mlp": mlp,
                           "norms": norms, "total": attention + mlp + norms})

    if spec.arch == "encoder-decoder":
        enc_norms = spec.block_norms * norm
        add("encoder", spec.n_encoder_layers, attention_params(spec), mlp_params(spec), enc_norms)
        # Decoder blocks add cross-attention and its norm (Vaswani et al. 2017 sec. 3.1).
        add("decoder", spec.n_layers, 2 * attention_params(spec), mlp_params(spec),
            enc_norms + norm)
        return groups
    norms = spec.block_norms * norm
    if not spec.is_moe:
        add("decoder", spec.n_layers, attention_params(spec), mlp_params(spec), norms)
        return groups
    experts = spec.experts_per_token if active else spec.n_experts
    add("decoder (dense)", spec.first_dense_layers, attention_params(spec), mlp_params(spec),
        norms)
    add("decoder (moe)", spec.n_layers - spec.first_dense_layers, attention_params(spec),
        _moe_layer_mlp(spec, experts), norms)
    return groups


def breakdown(spec: ModelSpec, active: bool = False) -> dict[str, int]:
    """Parameters by component: embedding, positions, attention, mlp, norms, lm_head."""
    groups = layer_groups(spec, active)
    stacks = 2 if spec.arch == "encoder-decoder" else 1
    emb = spec.vocab_size * spec.embedding_width
    if spec.arch == "encoder-decoder" and not spec.shared_encoder_decoder_embeddings:
        emb *= 2
    # OPT-350m style factorised embedding: project_in (embed_dim -> d_model) counted with the
    # embedding, project_out (d_model -> embed_dim) with the lm_head; both without bias.
    projection = spec.d_model * spec.embedding_width if spec.embedding_width != spec.d_model else 0
    emb += projection
    positions = spec.positions_rows * spec.d_model if spec.positions == "learned" else 0
    positions *= stacks if spec.arch == "encoder-decoder" else 1
    attention = sum(g["count"] * g["attention"] for g in groups) + stacks * _relative_bias(spec)
    mlp = sum(g["count"] * g["mlp"] for g in groups)
    norms = sum(g["count"] * g["norms"] for g in groups)
    norms += stacks * _norm_params(spec) * spec.final_norm
    norms += _norm_params(spec) * spec.embedding_norm
    lm_head = 0 if spec.tie_embeddings else spec.vocab_size * spec.embedding_width
    lm_head += spec.vocab_size * spec.lm_head_bias + projection
    return {"embedding": emb, "positions": positions, "attention": attention, "mlp": mlp,
            "norms": norms, "lm_head": lm_head}


def total_params(spec: ModelSpec) -> int:
    return sum(breakdown(spec).values())


def active_params(spec: ModelSpec) -> int:
    """Parameters a token passes through (MoE: experts_per_token routed experts + shared)."""
    return sum(breakdown(spec, active=True).values())


def non_embedding_params(spec: ModelSpec, active: bool = False) -> int:
    """Kaplan et al. 2020's N (sec. 2.1): excludes the vocabulary and position embeddings.
    An untied output matrix is a vocabulary embedding too, so it is excluded as well."""
    b = breakdown(spec, active)
    return b["attention"] + b["mlp"] + b["norms"]


def neurons(spec: ModelSpec) -> int:
    """Output units of every linear layer inside the blocks.

    Per block: the q, k, v projections (n_heads*d_head + 2*n_kv_heads*d_head), the attention
    output (d_model), the MLP hidden layer(s) (d_ff, twice for gated MLPs whose gate and up
    projections are both linear layers) and the MLP output (d_model); cross-attention adds
    another q, k, v, o; MoE layers count every expert and the router's n_experts outputs.
    GPT-3 175B: (3d + d + 4d + d) = 9d per layer, 96 x 9 x 12,288 = 10,616,832."""
    attn = spec.q_dim + 2 * spec.kv_dim + spec.d_model

    def mlp_units(width: int) -> int:
        return (2 if spec.gated else 1) * width + spec.d_model

    dense_block = attn + mlp_units(spec.d_ff)
    if spec.arch == "encoder-decoder":
        return spec.n_encoder_layers * dense_block + spec.n_layers * (dense_block + attn)
    if not spec.is_moe:
        return spec.n_layers * dense_block
    moe_block = (attn + spec.n_experts * mlp_units(spec.expert_width) + spec.n_experts
                 + spec.n_shared_experts * mlp_units(spec.shared_expert_d_ff or spec.expert_width))
    return (spec.first_dense_layers * dense_block
            + (spec.n_layers - spec.first_dense_layers) * moe_block)


HUMAN_BRAIN_NEURONS = 86e9  # Azevedo et al. 2009, J. Comp. Neurol. 513:532: 86.1 +/- 8.1 billion


# --- FLOPs and KV cache --------------------------------------------------------------------------

def flops_per_token_6n(spec: ModelSpec, non_embedding: bool = False) -> int:
    """Training FLOPs per token, 6N (Kaplan et al. 2020 sec. 2.1, C = 6NBS: 2N forward, 4N
    backward).  N is the total count as GPT-3's Table D.1 uses it, or Kaplan's non-embedding N;
    MoE models use the parameters active per token."""
    n = non_embedding_params(spec, active=True) if non_embedding else active_params(spec)
    return 6 * n


def forward_flops_per_token(spec: ModelSpec, seq_len: int | None = None) -> float:
    """Forward FLOPs per token counted as in Hoffmann et al. 2022 App. F (Chinchilla), per
    sequence of `seq_len` tokens divided by seq_len:

      embeddings  2 * V * d
      attention   2*3*d*(kq_size) [q,k,v; with GQA: 2*d*(q_dim + 2 kv_dim)]
                  + 2*S*q_dim (logits) + 3*H*S (softmax) + 2*S*q_dim (values) + 2*q_dim*d (out)
      dense block 2 * d * d_ff * (2, or 3 for gated MLPs; MoE: active experts) + router
      logits      2 * d * V
    (The attention-over-positions terms are per token, so they scale with S, not S^2.)"""
    s = spec.context if seq_len is None else seq_len
    d, v = spec.d_model, spec.vocab_size
    mats = 3 if spec.gated else 2

    def attention(self_len: int) -> float:
        proj = 2 * d * (spec.q_dim + 2 * spec.kv_dim)
        span = min(self_len, spec.sliding_window) if spec.sliding_window else self_len
        return (proj + 2 * span * spec.q_dim + 3 * spec.n_heads * span + 2 * span * spec.q_dim
                + 2 * spec.q_dim * d)

    def dense(width: int, experts: int = 1) -> float:
        return 2 * mats * d * width * experts

    per_layer_dense = attention(s) + dense(spec.d_ff)
    if spec.arch == "encoder-decoder":
        # Source and target of length s: encoder tokens and decoder tokens each pass a stack;
        # the decoder adds cross-attention.  Counted per decoder token (both stacks' work).
        layers = spec.n_encoder_layers * per_layer_dense + spec.n_layers * (
            per_layer_dense + attention(s))
    elif spec.is_moe:
        moe = (attention(s) + dense(spec.expert_width, spec.experts_per_token)
               + dense(spec.shared_expert_d_ff or spec.expert_width, spec.n_shared_experts)
               + 2 * d * spec.n_experts)
        layers = (spec.first_dense_layers * per_layer_dense
                  + (spec.n_layers - spec.first_dense_layers) * moe)
    else:
        layers = spec.n_layers * per_layer_dense
    return 2 * v * d + layers + 2 * d * v


def flops_per_token_exact(spec: ModelSpec, seq_len: int | None = None) -> float:
    """Training FLOPs per token: forward + backward = 3 x forward (Hoffmann et al. 2022 App. F,
    "we assume the backward pass has twice the FLOPs of the forward pass")."""
    return 3 * forward_flops_per_token(spec, seq_len)


def kv_bytes_per_token(spec: ModelSpec, bytes_per_element: float = 2.0) -> float:
    """KV cache per token of context: 2 (K and V) x layers x n_kv_heads x d_head x bytes
    (Pope et al. 2022, "Efficiently Scaling Transformer Inference", sec. 3.1)."""
    return 2 * spec.n_layers * spec.kv_dim * bytes_per_element
