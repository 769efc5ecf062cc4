"""Parameter counts, their breakdown and the neuron count: sums over `tensors(spec)`.

Conventions: the total is `model.num_parameters()` of the transformers model (tied matrices
counted once; buffers are not parameters); an MoE model's active count takes k of the
n_experts routed experts per token (Fedus et al. 2021 sec. 2); Kaplan et al. 2020's N
excludes the vocabulary and position embeddings (sec. 2.1).  Parts a checkpoint may hold
beside the model - a vision tower and projector (Gemma 3), multi-token-prediction modules
(DeepSeek-V3) - are counted apart (`separate_params`).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from planner.model.tensors import MAIN, active_elements, block_tensors, main_tensors, tensors

if TYPE_CHECKING:  # pragma: no cover
    from planner.model.spec import ModelSpec

HUMAN_BRAIN_NEURONS = 86e9  # Azevedo et al. 2009, J. Comp. Neurol. 513:532: 86.1 +/- 8.1 billion


def _elements(spec: "ModelSpec", t, active: bool) -> int:
    return active_elements(spec, t) if active else t.n_elements


@functools.lru_cache(maxsize=512)
def _breakdown(spec: "ModelSpec", active: bool) -> tuple[tuple[str, int], ...]:
    out = dict.fromkeys(MAIN, 0)
    for t in main_tensors(spec):
        out[t.component] += _elements(spec, t, active)
    return tuple(out.items())


def breakdown(spec: "ModelSpec", active: bool = False) -> dict[str, int]:
    """Parameters by component: embedding, positions, attention, mlp, norms, lm_head.  With
    ``active=True`` the routed experts count k of n_experts."""
    return dict(_breakdown(spec, active))


def parts(spec: "ModelSpec", active: bool = False) -> dict[tuple[str, str], int]:
    """Parameters by (component, part): the finer split the derivation prints - q/k/v/o,
    latent projections (MLA), sinks, q/k norms, routed and shared experts, router, biases."""
    out: dict[tuple[str, str], int] = {}
    for t in main_tensors(spec):
        key = (t.component, t.part)
        out[key] = out.get(key, 0) + _elements(spec, t, active)
    return out


def separate_params(spec: "ModelSpec") -> dict[str, int]:
    """What a checkpoint may hold beside the model, counted apart: ``vision_tower``,
    ``projector`` (multimodal wrappers), ``mtp`` (DeepSeek-V3's multi-token-prediction modules'
    own parameters) and ``mtp_copies`` (the embedding and head the checkpoint stores again
    for them).  Only the present ones."""
    out: dict[str, int] = {}
    for t in tensors(spec):
        if t.apart:
            out[t.component] = out.get(t.component, 0) + t.n_elements
    return out


def total_params(spec: "ModelSpec") -> int:
    return sum(breakdown(spec).values())


def active_params(spec: "ModelSpec", include_embedding: bool = True) -> int:
    """Parameters a token passes through (MoE: experts_per_token routed experts + shared).

    Publishers differ on the input embedding (a token reads one row of it): Mixtral's 12.9B,
    Llama 4's 17B and Qwen3's 3.3B / 22B count it; gpt-oss's 5.1B / 3.6B (model card Table 1)
    and DeepSeek-V3's 37B leave it out - ``include_embedding=False`` (the output head stays)."""
    b = breakdown(spec, active=True)
    return sum(b.values()) - (0 if include_embedding else b["embedding"] + b["positions"])


def non_embedding_params(spec: "ModelSpec", active: bool = False) -> int:
    """Kaplan et al. 2020's N (sec. 2.1): excludes the vocabulary and position embeddings.
    An untied output matrix is a vocabulary embedding too, so it is excluded as well."""
    b = breakdown(spec, active)
    return b["attention"] + b["mlp"] + b["norms"]


def layer_groups(spec: "ModelSpec", active: bool = False) -> list[dict]:
    """Groups of identical layers: stack (``decoder``, ``decoder (dense)``, ``decoder (moe)``,
    ``encoder``), count, and the attention/mlp/norms/total of one layer.

    With ``active=True`` an MoE layer counts only the experts a token is routed to."""
    return [dict(g) for g in _layer_groups(spec, active)]   # copies: the cache stays intact


@functools.lru_cache(maxsize=512)
def _layer_groups(spec: "ModelSpec", active: bool) -> tuple[dict, ...]:
    per_layer: dict[tuple[str, int], dict[str, int]] = {}
    for t in main_tensors(spec):
        if t.layer < 0:
            continue
        row = per_layer.setdefault((t.stack, t.layer), {"attention": 0, "mlp": 0, "norms": 0})
        row[t.component] += _elements(spec, t, active)
    groups: dict[tuple, dict] = {}
    for (stack, i), row in per_layer.items():
        label = stack
        if spec.is_moe and stack == "decoder":
            label = "decoder (moe)" if spec.is_moe_layer(i) else "decoder (dense)"
        key = (label, row["attention"], row["mlp"], row["norms"])
        if key in groups:
            groups[key]["count"] += 1
        else:
            groups[key] = {"stack": label, "count": 1, **row,
                           "total": row["attention"] + row["mlp"] + row["norms"]}
    return tuple(groups.values())


def _block_sum(spec: "ModelSpec", component: str, cross: bool) -> int:
    stack = "decoder" if spec.arch == "decoder" or cross else "encoder"
    ts = block_tensors(spec, stack)
    if spec.arch == "encoder-decoder" and not cross:
        ts = [t for t in ts if "cross_" not in t.name]
    return sum(t.n_elements for t in ts if t.component == component)


def attention_params(spec: "ModelSpec", cross: bool = False) -> int:
    """Attention parameters of one block (q, k, v, o and their biases, latent projections,
    sinks; norms are counted with the norms).  ``cross=True``: a decoder block of an
    encoder-decoder model, with its cross-attention."""
    return _block_sum(spec, "attention", cross)


def mlp_params(spec: "ModelSpec", width: int | None = None) -> int:
    """One dense MLP: 2 matrices (up, down) or 3 for gated units (gate, up, down; Shazeer
    2020), with biases if the model has them; `width` defaults to d_ff.  Built by the same walk
    as the model's own MLPs."""
    from planner.model.tensors import _Walk

    w = _Walk(spec)
    w.mlp("blk", 0, "decoder", spec.d_ff if width is None else width)
    return sum(t.n_elements for t in w.out)


@functools.lru_cache(maxsize=512)
def neurons(spec: "ModelSpec", active: bool = False) -> int:
    """Output units of every linear layer inside the blocks.

    Per block: the q, k, v projections, the attention output (d_model), the MLP hidden
    layer(s) (d_ff, twice for gated MLPs whose gate and up projections are both linear layers)
    and the MLP output (d_model); MLA's latent projections; cross-attention adds another
    q, k, v, o; an MoE layer counts every expert (``active=True``: the k routed to) and the
    router's n_experts outputs.  GPT-3 175B: (3d + d + 4d + d) = 9d per layer,
    96 x 9 x 12,288 = 10,616,832."""
    total = 0
    for t in main_tensors(spec):
        if t.has("linear"):
            copies = t.count
            if active and t.has("routed_expert"):
                copies = spec.experts_per_token
            total += t.d_out * copies
    return total
