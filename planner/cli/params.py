"""`planner params MODEL`: parameter count with its derivation, breakdown and neurons."""
from __future__ import annotations

import click

from planner.model.spec import (HUMAN_BRAIN_NEURONS, ModelSpec, active_params, attention_params, breakdown,
                     layer_groups, mlp_params, neurons, non_embedding_params, total_params)
from planner.render.output import emit, output_options
from planner.model.resolve import resolve_model
from planner.units import format_count, format_int


def params_record(spec: ModelSpec) -> dict:
    """The `planner params --json` record (all counts in parameters)."""
    record = {
        "name": spec.name,
        "params": total_params(spec),
        "active_params": active_params(spec),
        "non_embedding_params": non_embedding_params(spec),
        "neurons": neurons(spec),
        "breakdown": breakdown(spec),
        "layers": layer_groups(spec),
        "source": spec.source,
    }
    for k in ("published_params", "exact_params"):
        if k in spec.meta:
            record[k] = spec.meta[k]
    if "safetensors_params" in spec.meta:
        record["safetensors_params"] = spec.meta["safetensors_params"]
        record["safetensors_difference"] = spec.meta["safetensors_params"] - record["params"]
        record["safetensors_approximate"] = bool(spec.meta.get("safetensors_approximate"))
    return record


def _describe(spec: ModelSpec) -> str:
    attn = "MHA" if spec.kv_heads == spec.n_heads else (
        "MQA" if spec.kv_heads == 1 else f"GQA, {spec.kv_heads} KV heads")
    mlp = f"{spec.mlp}, {'3 matrices (gated)' if spec.gated else '2 matrices'}"
    layers = (f"{spec.n_encoder_layers} encoder + {spec.n_layers} decoder layers"
              if spec.arch == "encoder-decoder" else f"{spec.n_layers} layers")
    moe = (f", MoE {spec.n_experts} experts top-{spec.experts_per_token}"
           + (f" + {spec.n_shared_experts} shared" if spec.n_shared_experts else "")
           if spec.is_moe else "")
    return (f"{spec.arch}, {layers}, d_model {spec.d_model:,}, {spec.n_heads} heads x "
            f"{spec.d_head} ({attn}), d_ff {spec.d_ff:,} ({mlp}){moe}, vocab "
            f"{spec.vocab_size:,}, context {spec.context:,}, {spec.positions} positions, "
            f"{spec.norm}")


def derivation(spec: ModelSpec, r: dict) -> str:
    """The count the way people explain it: embeddings + positions + layers x per-layer + ..."""
    b = r["breakdown"]
    w = 17
    lines = [f"{spec.name}" + (f"  ({spec.source})" if spec.source else ""), _describe(spec), ""]

    def row(label: str, formula: str, value: int) -> None:
        lines.append(f"  {label:<22}{formula:<34}{format_int(value):>{w}}")

    emb_formula = f"{spec.vocab_size:,} x {spec.embedding_width:,}"
    proj = spec.embedding_width != spec.d_model  # OPT-350m: project_in / project_out
    if spec.arch == "encoder-decoder" and not spec.shared_encoder_decoder_embeddings:
        emb_formula = "2 x " + emb_formula
    row("token embedding", emb_formula + (" + project_in" if proj else ""), b["embedding"])
    if b["positions"]:
        row("positions (learned)", f"{spec.positions_rows:,} x {spec.d_model:,}", b["positions"])
    else:
        row(f"positions ({spec.positions})", "no learned table", 0)
    bare = spec.with_(qkv_bias=False, attn_out_bias=False, mlp_bias=False)
    for g in r["layers"]:
        lines.append(f"  per {g['stack']} layer:")
        attn_w = attention_params(bare)
        heads = (f"4 x {spec.d_model:,} x {spec.q_dim:,}" if spec.kv_dim == spec.q_dim else
                 f"2 x {spec.d_model:,} x {spec.q_dim:,} + 2 x {spec.d_model:,} x {spec.kv_dim:,}")
        n_attn = g["attention"] // attention_params(spec)
        prefix = f"{n_attn} x (" if n_attn > 1 else ""
        suffix = ")" if n_attn > 1 else ""
        row("    attention", f"{prefix}{heads}{suffix}", n_attn * attn_w)
        if g["attention"] != n_attn * attn_w:
            row("    attention biases", "", g["attention"] - n_attn * attn_w)
        mats = 3 if spec.gated else 2
        if "moe" in g["stack"]:
            expert = mlp_params(bare, spec.expert_width)
            row("    experts", f"{spec.n_experts} x {mats} x {spec.d_model:,} x "
                f"{spec.expert_width:,}", spec.n_experts * expert)
            row("    router + other", "", g["mlp"] - spec.n_experts * expert)
        else:
            mlp_w = mlp_params(bare)
            row("    mlp", f"{mats} x {spec.d_model:,} x {spec.d_ff:,}", mlp_w)
            if g["mlp"] != mlp_w:
                row("    mlp biases", "", g["mlp"] - mlp_w)
        row("    norms", f"{g['norms'] // (spec.d_model * (2 if spec.norm == 'layernorm' else 1))}"
            f" x {spec.norm}", g["norms"])
        row("    layer total", "", g["total"])
        row(f"  x {g['count']} layers", "", g["count"] * g["total"])
    per_layer = sum(g["count"] * g["norms"] for g in r["layers"])
    if b["norms"] - per_layer:
        row("final/embedding norms", "", b["norms"] - per_layer)
    extra_attn = b["attention"] - sum(g["count"] * g["attention"] for g in r["layers"])
    if extra_attn:
        row("relative position bias", "", extra_attn)
    row("lm head", "tied to token embedding" if spec.tie_embeddings and not b["lm_head"]
        else f"{spec.vocab_size:,} x {spec.embedding_width:,}" if not spec.tie_embeddings
        else "tied; project_out" if proj else "bias only", b["lm_head"])
    lines.append("  " + "-" * (22 + 34 + w))
    row("total", f"({format_count(r['params'])})", r["params"])
    if r["active_params"] != r["params"]:
        row("active per token", f"({format_count(r['active_params'])})", r["active_params"])
    row("non-embedding (N)", "Kaplan et al. 2020 sec. 2.1", r["non_embedding_params"])
    lines.append("")
    for k, label in (("published_params", "published"), ("exact_params", "exact (checkpoint)"),
                     ("safetensors_params", "safetensors headers")):
        if r.get(k):
            diff = (r["params"] - r[k]) / r[k]
            flag = (f"  << differs by {r[k] - r['params']:+,}"
                    if k == "safetensors_params" and r[k] != r["params"] else "")
            if k == "safetensors_params" and r.get("safetensors_approximate"):
                label, flag = "safetensors index (approximate: total_size / dtype bytes)", ""
            lines.append(f"  {label}: {format_int(r[k])} ({format_count(r[k])}); derived is "
                         f"{diff:+.2%}{flag}")
    lines.append(f"  neurons: {format_int(r['neurons'])} (output units of the linear layers in "
                 f"the blocks), {r['neurons'] / HUMAN_BRAIN_NEURONS:.4%} of the human brain's "
                 f"~86 billion")
    return "\n".join(lines)


@click.command()
@click.argument("model")
@output_options
def params(model: str, fmt: str, as_json: bool) -> None:
    """Parameter count of MODEL: total, active (MoE), non-embedding, per component and per
    layer, and the neuron count, derived from the architecture.

    MODEL is a zoo name, a config.json (or a folder holding one; with *.safetensors files the
    exact count from the tensor headers is shown beside the derived one) or a model TOML file.
    """
    spec = resolve_model(model)
    record = params_record(spec)
    emit(record, fmt, as_json, lambda: derivation(spec, record))
