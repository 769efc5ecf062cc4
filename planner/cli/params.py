"""`planner params MODEL`: parameter count with its derivation, breakdown and neurons."""
from __future__ import annotations

import click

from planner.model.spec import (HUMAN_BRAIN_NEURONS, ModelSpec, active_params, breakdown,
                                kv_bytes_per_token, layer_groups, neurons,
                                non_embedding_params, parts, separate_params, total_params)
from planner.render.output import emit, output_options
from planner.model.resolve import resolve_model
from planner.units import format_count, format_int

LW, FW = 30, 36  # label and formula column widths of the derivation

APART_LABELS = {"vision_tower": "vision tower", "projector": "multimodal projector",
                "mtp": "multi-token-prediction module(s)",
                "mtp_copies": "embedding and head stored again for MTP"}


def reported_caveat(spec: ModelSpec) -> str:
    """The line every output about a reported (unconfirmed) architecture carries."""
    if not spec.reported:
        return ""
    return (f"REPORTED, UNCONFIRMED architecture: {spec.name} was never published by its "
            f"maker; figures follow {spec.meta.get('published_params_source') or spec.source}")


def params_record(spec: ModelSpec) -> dict:
    """The `planner params --json` record (all counts in parameters)."""
    apart = separate_params(spec)
    record = {
        "name": spec.name,
        "params": total_params(spec),
        "active_params": active_params(spec),
        "active_params_excl_embedding": active_params(spec, include_embedding=False),
        "non_embedding_params": non_embedding_params(spec),
        "neurons": neurons(spec),
        "active_neurons": neurons(spec, active=True),
        "breakdown": breakdown(spec),
        "parts": {f"{c}: {p}": n for (c, p), n in parts(spec).items()},
        "layers": layer_groups(spec),
        "kv_cache_bytes_per_token_16bit": kv_bytes_per_token(spec, 2.0),
        "reported_apart": apart,
        "checkpoint_params": total_params(spec) + sum(apart.values()),
        "source": spec.source,
    }
    if spec.reported:
        record["status"] = "reported, unconfirmed"
        record["caveat"] = reported_caveat(spec)
    for k in ("published_params", "published_active_params", "exact_params",
              "published_neurons"):
        if k in spec.meta:
            record[k] = spec.meta[k]
    if "safetensors_params" in spec.meta:
        record["safetensors_params"] = spec.meta["safetensors_params"]
        record["safetensors_difference"] = spec.meta["safetensors_params"] - record["params"]
        record["safetensors_approximate"] = bool(spec.meta.get("safetensors_approximate"))
    return record


def _attention_kind(spec: ModelSpec) -> str:
    if spec.mla:
        q = f", q rank {spec.q_lora_rank:,}" if spec.q_lora_rank else ""
        return (f"MLA: kv rank {spec.kv_lora_rank:,} + rope {spec.rope_head_dim}{q}, "
                f"v {spec.d_head_v}")
    kind = "MHA" if spec.kv_heads == spec.n_heads else (
        "MQA" if spec.kv_heads == 1 else f"GQA, {spec.kv_heads} KV heads")
    extras = [kind]
    if spec.qk_norm:
        extras.append("q/k norm")
    if spec.attention_sinks:
        extras.append("sinks")
    return ", ".join(extras)


def _window(spec: ModelSpec) -> str:
    if not spec.sliding_window:
        return ""
    local = spec.n_local_layers
    kind = "chunked attention" if spec.window_kind == "chunked" else "sliding window"
    where = "every layer" if local == spec.n_layers else f"{local} of {spec.n_layers} layers"
    return f", {kind} {spec.sliding_window:,} on {where}"


def _describe(spec: ModelSpec) -> str:
    mlp = f"{spec.mlp}, {'3 matrices (gated)' if spec.gated else '2 matrices'}"
    if spec.arch == "encoder-decoder":
        layers = f"{spec.n_encoder_layers} encoder + {spec.n_layers} decoder layers"
    elif spec.is_moe and spec.n_moe_layers != spec.n_layers:
        layers = (f"{spec.n_layers} layers ({spec.n_layers - spec.n_moe_layers} dense + "
                  f"{spec.n_moe_layers} MoE)")
    else:
        layers = f"{spec.n_layers} layers"
    ff = f"d_ff {spec.d_ff:,} ({mlp})"
    if spec.is_moe:
        shared = (f" + {spec.n_shared_experts} shared of {spec.shared_width:,}"
                  if spec.n_shared_experts else "")
        moe = (f"MoE {spec.n_experts} experts of {spec.expert_width:,} top-"
               f"{spec.experts_per_token}{shared}")
        ff = moe + (f" ({mlp})" if spec.n_moe_layers == spec.n_layers else f", dense {ff}")
    return (f"{spec.arch}, {layers}, d_model {spec.d_model:,}, {spec.n_heads} heads x "
            f"{spec.d_head} ({_attention_kind(spec)}), {ff}, vocab {spec.vocab_size:,}, "
            f"context {spec.context:,}{_window(spec)}, {spec.positions} positions, {spec.norm}")


def _part_formula(spec: ModelSpec, part: str, tensors: list) -> str:
    """A short formula for one part of a layer (weights only; biases are their own rows)."""
    d, mats = spec.d_model, (3 if spec.gated else 2)
    if part == "q/k/v/o":
        if spec.kv_dim == spec.q_dim and spec.v_dim == spec.q_dim:
            return f"4 x {d:,} x {spec.q_dim:,}"
        return f"2 x {d:,} x {spec.q_dim:,} + 2 x {d:,} x {spec.kv_dim:,}"
    if part == "latent projections (MLA)":
        q = f"q {spec.q_lora_rank:,}, " if spec.q_lora_rank else ""
        return f"ranks {q}kv {spec.kv_lora_rank} + rope {spec.rope_head_dim}"
    if part == "q/o":
        return f"o {spec.n_heads} x {spec.d_head_v} > {d:,}"
    if part == "sinks":
        return f"{spec.n_heads} heads"
    if part == "mlp":
        return f"{mats} x {d:,} x {spec.d_ff:,}"
    if part == "routed experts":
        return f"{spec.n_experts} x {mats} x {d:,} x {spec.expert_width:,}"
    if part == "shared experts":
        gate = " + gate" if spec.shared_expert_gate else ""
        return f"{spec.n_shared_experts} x {mats} x {d:,} x {spec.shared_width:,}{gate}"
    if part == "router":
        return f"{d:,} x {spec.n_experts}" + (" + bias" if spec.router_bias else "")
    if "norms" in part:
        n = sum(1 for t in tensors if t.has("norm") and not t.has("bias"))
        kind = spec.norm + ("" if spec.norm_has_bias or spec.norm != "layernorm"
                            else " (no bias)")
        return f"{n} x {kind}"
    return ""


def derivation(spec: ModelSpec, r: dict) -> str:
    """The count the way people explain it: embeddings + positions + layers x per-layer + ..."""
    from planner.model.tensors import main_tensors

    b = r["breakdown"]
    w = 17
    lines = []
    if spec.reported:
        lines += [r["caveat"], ""]
    lines += [f"{spec.name}" + (f"  ({spec.source})" if spec.source else ""), _describe(spec),
              ""]

    def row(label: str, formula: str, value: int) -> None:
        lines.append(f"  {label:<{LW}}{formula:<{FW}}{format_int(value):>{w}}")

    emb_formula = f"{spec.vocab_size:,} x {spec.embedding_width:,}"
    proj = spec.embedding_width != spec.d_model  # OPT-350m: project_in / project_out
    if spec.arch == "encoder-decoder" and not spec.shared_encoder_decoder_embeddings:
        emb_formula = "2 x " + emb_formula
    row("token embedding", emb_formula + (" + project_in" if proj else ""), b["embedding"])
    if b["positions"]:
        row("positions (learned)", f"{spec.positions_rows:,} x {spec.d_model:,}", b["positions"])
    else:
        row(f"positions ({spec.positions})", "no learned table", 0)
    by_layer: dict[tuple[str, int], list] = {}
    for t in main_tensors(spec):
        if t.layer >= 0:
            by_layer.setdefault((t.stack, t.layer), []).append(t)
    for g in r["layers"]:
        label = g["stack"]
        key = next(k for k in by_layer if _group_label(spec, k) == label
                   and _layer_sum(by_layer[k]) == g["total"])
        lines.append(f"  per {label} layer:")
        rows: dict[str, list] = {}
        order = {"attention": 0, "mlp": 1, "norms": 2}
        for t in sorted(by_layer[key], key=lambda t: order.get(t.component, 3)):
            rows.setdefault(t.part, []).append(t)
        for name, ts in rows.items():
            label_name = {"q/k/v/o": "attention", "q/k/v/o biases": "attention biases"}.get(
                name, name)
            row(f"    {label_name}", _part_formula(spec, name, ts),
                sum(t.n_elements for t in ts))
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
    lines.append("  " + "-" * (LW + FW + w))
    row("total", f"({format_count(r['params'])})", r["params"])
    if r["active_params"] != r["params"]:
        row("active per token", f"({format_count(r['active_params'])})", r["active_params"])
        row("  without input embedding", f"({format_count(r['active_params_excl_embedding'])})",
            r["active_params_excl_embedding"])
    row("non-embedding (N)", "Kaplan et al. 2020 sec. 2.1", r["non_embedding_params"])
    if r["reported_apart"]:
        lines.append("")
        lines.append("  reported apart (not in the total):")
        for k, n in r["reported_apart"].items():
            lines.append(f"    {APART_LABELS.get(k, k):<{LW + FW - 2}}{format_int(n):>{w}}")
        row("  checkpoint holds", f"({format_count(r['checkpoint_params'])})",
            r["checkpoint_params"])
    lines.append("")
    for k, label in (("published_params", "published"),
                     ("published_active_params", "published active"),
                     ("exact_params", "exact (checkpoint)"),
                     ("safetensors_params", "safetensors headers")):
        if r.get(k):
            base = r["params"]
            if k == "published_active_params":  # publishers differ on the input embedding
                base = min((r["active_params"], r["active_params_excl_embedding"]),
                           key=lambda a: abs(a - r[k]))
                if base != r["active_params"]:
                    label += " (without input embedding)"
            diff = (base - r[k]) / r[k]
            flag = (f"  << differs by {r[k] - r['params']:+,}"
                    if k == "safetensors_params" and r[k] != r["params"] else "")
            if k == "safetensors_params" and r.get("safetensors_approximate"):
                label, flag = "safetensors index (approximate: total_size / dtype bytes)", ""
            lines.append(f"  {label}: {format_int(r[k])} ({format_count(r[k])}); derived is "
                         f"{diff:+.2%}{flag}")
    kv = r["kv_cache_bytes_per_token_16bit"]
    lines.append(f"  KV cache per token (16-bit, before any window cap): {kv:,.0f} bytes"
                 + (" (MLA latent + rope key)" if spec.mla else ""))
    active_n = (f"; {format_int(r['active_neurons'])} active per token"
                if r["active_neurons"] != r["neurons"] else "")
    lines.append(f"  neurons: {format_int(r['neurons'])} (output units of the linear layers in "
                 f"the blocks{active_n}), {r['neurons'] / HUMAN_BRAIN_NEURONS:.4%} of the human "
                 f"brain's ~86 billion")
    if spec.meta.get("published_neurons"):
        lines.append(f"  neurons as the seed material estimates them: "
                     f"{format_int(spec.meta['published_neurons'])}")
    if spec.meta.get("notes") and (spec.reported or spec.meta.get("hf_model_type")):
        lines.append(f"  note: {spec.meta['notes']}")
    if spec.reported:
        lines += ["", r["caveat"]]
    return "\n".join(lines)


def _group_label(spec: ModelSpec, key: tuple[str, int]) -> str:
    stack, i = key
    if spec.is_moe and stack == "decoder":
        return "decoder (moe)" if spec.is_moe_layer(i) else "decoder (dense)"
    return stack


def _layer_sum(ts: list) -> int:
    return sum(t.n_elements for t in ts if t.component in ("attention", "mlp", "norms"))


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
