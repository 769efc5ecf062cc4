"""The model as the step-time and memory models see it: sizes as floats, parameters split by
where they live (per layer, expert or not; first-stage and last-stage extras).

Counts come from planner.model.spec (weight matrix by weight matrix); an encoder-decoder is
treated as one stack of n_encoder_layers + n_layers blocks (cross-attention's time is not
modelled separately - an approximation the report states).
"""
from __future__ import annotations

from dataclasses import dataclass

from planner.model.spec import ModelSpec, breakdown, layer_groups, mlp_params


@dataclass(frozen=True)
class Shape:
    name: str
    hidden: float          # d_model
    layers: int            # transformer blocks (encoder + decoder)
    heads: int
    kv_heads: int
    head_dim: float
    q_dim: float
    kv_dim: float
    d_ff: float
    gated: bool
    vocab: float
    rotary: bool
    norms: int             # norms per block (2 sequential, 1 shared parallel block)
    window: float          # sliding-window span (0 = full attention)
    experts: int           # routed experts (0 = dense)
    top_k: int
    expert_ff: float
    shared_ff: float       # total width of the shared experts (0 if none)
    moe_layers: int
    dense_params_per_layer: float   # average over layers: everything but routed experts
    expert_params_per_layer: float  # average over layers: routed experts (all of them)
    first_extra: float     # embedding + positions (first pipeline stage)
    last_extra: float      # output layer + final norm (last stage; a tied copy when pp > 1)
    single_extra: float    # all extras when one stage holds everything

    @property
    def is_moe(self) -> bool:
        return self.experts > 0


def shape_of(spec: ModelSpec) -> Shape:
    groups = layer_groups(spec)
    layers = sum(g["count"] for g in groups)
    routed = spec.n_experts * mlp_params(spec, spec.expert_width) if spec.is_moe else 0
    moe_layers = sum(g["count"] for g in groups if "moe" in g["stack"])
    total_layer = sum(g["count"] * g["total"] for g in groups)
    expert = moe_layers * routed
    b = breakdown(spec)
    norm = b["norms"] - sum(g["count"] * g["norms"] for g in groups)  # final (and embedding) norms
    first = b["embedding"] + b["positions"]
    tied_copy = b["embedding"] if spec.tie_embeddings else 0
    last = b["lm_head"] + tied_copy + norm
    single = b["embedding"] + b["positions"] + b["lm_head"] + norm
    shared_ff = spec.n_shared_experts * (spec.shared_expert_d_ff or spec.expert_width)
    return Shape(
        name=spec.name, hidden=float(spec.d_model), layers=int(layers), heads=spec.n_heads,
        kv_heads=spec.kv_heads, head_dim=float(spec.d_head), q_dim=float(spec.q_dim),
        kv_dim=float(spec.kv_dim), d_ff=float(spec.d_ff), gated=spec.gated,
        vocab=float(spec.vocab_size), rotary=spec.positions == "rotary",
        norms=spec.block_norms, window=float(spec.sliding_window),
        experts=spec.n_experts, top_k=spec.experts_per_token,
        expert_ff=float(spec.expert_width), shared_ff=float(shared_ff), moe_layers=int(moe_layers),
        dense_params_per_layer=(total_layer - expert) / layers,
        expert_params_per_layer=expert / layers,
        first_extra=float(first), last_extra=float(last), single_extra=float(single))
