"""Weight formats: bytes of a model's weights at fp32/fp16/bf16/fp8/int8/int4/nf4 and at
llama.cpp's GGUF quantisation types (Q2_K ... Q8_0), tensor by tensor.

* Per-tensor shapes come from `ModelSpec` (`tensors`): token_embd (V x d), output, per layer
  attn_q/k/v/output and ffn_gate/up/down (or the experts' stacked ffn_*_exps and the router
  ffn_gate_inp), norms and biases, named as in GGUF files.
* Bits per weight of each GGML type are read from llama.cpp's own table,
  ``gguf.constants.GGML_QUANT_SIZES`` (type -> (block_size, bytes_per_block); PyPI ``gguf``,
  gguf-py in github.com/ggml-org/llama.cpp): bits = 8 x bytes_per_block / block_size.
* Which tensor gets which type in a mixed file type (Q4_K_M keeps output.weight at Q6_K and
  attn_v/ffn_down at Q6_K on "use_more_bits" layers, ...) follows llama.cpp's
  ``llama_tensor_get_type`` as transcribed in ``planner/data/gguf_recipes.toml``; tensors that
  llama.cpp never quantises (1-D norms and biases, the MoE router, position embeddings) keep F32.
* The other formats are described in ``planner/data/inference.toml`` (bits, group scales, which
  tensors stay 16-bit).

`tensors` and the byte tallies are per model (cached); `weights_bytes` accepts one format name
or a sequence and returns a float or a numpy array.
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os
import tomllib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec, total_params
from planner.names import NameIndex
from planner.resources import data_dir

# GGUF file types in the order people list them (TheBloke's tables).
GGUF_TYPES = ("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q4_K_S", "Q4_K_M",
              "Q5_0", "Q5_1", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0")
SIMPLE_TYPES = ("fp32", "fp16", "bf16", "fp8", "int8", "int4", "nf4")
RECIPE_ERAS = ("current", "2023")
# Projection roles a LoRA adapter can target (short names as in PEFT target_modules).
LINEAR_ROLES = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
                "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}


# --- data ------------------------------------------------------------------------------------

@functools.cache
def _toml(name: str) -> dict:
    return tomllib.loads((data_dir("data") / name).read_text(encoding="utf-8"))


def inference_data() -> dict:
    """planner/data/inference.toml (formats, overheads, reserve, speed and tier constants)."""
    return _toml("inference.toml")


def recipes_data() -> dict:
    """planner/data/gguf_recipes.toml (llama.cpp's per-tensor mixes)."""
    return _toml("gguf_recipes.toml")


@functools.cache
def ggml_sizes() -> dict[str, tuple[int, int]]:
    """GGML type name -> (block_size, bytes_per_block), from gguf-py's GGML_QUANT_SIZES.

    ``import gguf.constants`` runs the package's __init__, which imports numpy, yaml, tqdm and
    the reader/writer (~0.1 s).  constants.py itself imports only the standard library, so it
    is loaded on its own from the installed package (~0.01 s); a plain import is the fallback."""
    spec = importlib.util.find_spec("gguf")
    module = None
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "constants.py")
        if os.path.isfile(path):
            cspec = importlib.util.spec_from_file_location("_planner_gguf_constants", path)
            module = importlib.util.module_from_spec(cspec)
            cspec.loader.exec_module(module)
    if module is None:
        try:
            import gguf.constants as module  # type: ignore[no-redef]
        except ImportError:  # pragma: no cover - install_requires has gguf
            raise PlannerError("the 'gguf' package (llama.cpp's gguf-py) is needed for GGUF "
                               "block sizes: pip install gguf") from None
    return {t.name: (int(bs), int(bpb)) for t, (bs, bpb) in module.GGML_QUANT_SIZES.items()}


def ggml_bits(type_name: str) -> float:
    """Bits per weight of one GGML type: 8 x bytes_per_block / block_size (Q4_K: 4.5)."""
    bs, bpb = ggml_sizes()[type_name]
    return 8.0 * bpb / bs


# --- names -----------------------------------------------------------------------------------

def quant_names() -> list[str]:
    """Every weight format accepted by `--quant`, smallest-first within each family."""
    return list(SIMPLE_TYPES) + list(GGUF_TYPES)


@functools.cache
def _quant_index() -> NameIndex:
    aliases = {name: fmt.get("aliases", []) for name, fmt in
               inference_data()["weight_formats"].items()}
    return NameIndex((n, aliases.get(n, [])) for n in quant_names())


def canonical_quant(name: str) -> str:
    """``q4_k_m`` -> ``Q4_K_M``, ``FP16``/``half`` -> ``fp16``; unknown names suggest the
    closest (``Q4_K_N`` -> did you mean 'Q4_K_M'?)."""
    hit = _quant_index().find(name)
    if hit is None:
        raise unknown("quantisation", str(name), quant_names(), "or 'all'")
    return hit


def kv_types() -> dict[str, float]:
    """KV-cache element type -> bytes per element: llama.cpp's --cache-type-k/-v choices from
    GGML_QUANT_SIZES (q8_0 = 34/32 = 1.0625, q4_0 = 18/32 = 0.5625) plus vLLM's fp8."""
    sizes = ggml_sizes()
    out = {n.lower(): sizes[n][1] / sizes[n][0]
           for n in ("F32", "F16", "BF16", "Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL")}
    out.update(inference_data()["kv_extra"])
    return out


def kv_bytes_per_element(kv_type: str) -> float:
    table = kv_types()
    aliases = {"fp16": "f16", "fp32": "f32", "float16": "f16", "half": "f16"}
    key = aliases.get(str(kv_type).lower(), str(kv_type).lower())
    if key not in table:
        raise unknown("KV-cache type", str(kv_type), list(table))
    return table[key]


# --- tensors ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tensor:
    """One weight tensor: GGUF-style name, role, layer, matrix shape and how many stacked copies
    (experts).  ``ne0`` (GGUF's row length) is the input dimension."""

    name: str
    role: str
    layer: int          # block index, -1 outside the blocks
    d_in: int
    d_out: int = 1      # 1 for vectors (norms, biases)
    count: int = 1      # stacked copies (routed experts)

    @property
    def n_elements(self) -> int:
        return self.count * self.d_in * self.d_out

    @property
    def is_matrix(self) -> bool:
        return self.d_out > 1


@functools.lru_cache(maxsize=256)
def tensors(spec: ModelSpec) -> tuple[Tensor, ...]:
    """The weight tensors of `spec` as (name, role, layer, shape); their element count equals
    `model.total_params(spec)`.  Roles are llama.cpp's: token_embd, position_embd, output,
    output_norm, attn_norm, ffn_norm, attn_q/k/v/output, ffn_gate/up/down, ffn_gate_inp
    (router), ffn_{gate,up,down}_exps (routed experts), ffn_*_shexp (shared experts), bias,
    attn_rel_b (T5 relative position bias)."""
    d, q, kv, v = spec.d_model, spec.q_dim, spec.kv_dim, spec.vocab_size
    norm_vectors = 2 if spec.norm == "layernorm" else 1  # LayerNorm weight + bias
    out: list[Tensor] = []

    def norm(name: str, role: str, layer: int = -1) -> None:
        for k in range(norm_vectors):
            out.append(Tensor(name + (".bias" if k else ".weight"), role if not k else "bias",
                              layer, d))

    def attention(prefix: str, layer: int, cross: bool = False) -> None:
        tag = "cross_" if cross else ""
        for role, din, dout in (("attn_q", d, q), ("attn_k", d, kv), ("attn_v", d, kv),
                                ("attn_output", q, d)):
            out.append(Tensor(f"{prefix}.{tag}{role}.weight", role, layer, din, dout))
        if spec.qkv_bias:
            out.append(Tensor(f"{prefix}.{tag}attn_qkv.bias", "bias", layer, q + 2 * kv))
        if spec.attn_out_bias:
            out.append(Tensor(f"{prefix}.{tag}attn_output.bias", "bias", layer, d))

    def mlp(prefix: str, layer: int, width: int, suffix: str = "", count: int = 1) -> None:
        ins = ("ffn_gate", "ffn_up") if spec.gated else ("ffn_up",)
        for role in ins:
            out.append(Tensor(f"{prefix}.{role}{suffix}.weight", role, layer, d, width, count))
        out.append(Tensor(f"{prefix}.ffn_down{suffix}.weight", "ffn_down", layer, width, d,
                          count))
        if spec.mlp_bias:
            out.append(Tensor(f"{prefix}.ffn{suffix}.bias", "bias", layer,
                              count * (len(ins) * width + d)))

    def block(prefix: str, layer: int, cross: bool = False, moe: bool = False) -> None:
        norm(f"{prefix}.attn_norm", "attn_norm", layer)
        attention(prefix, layer)
        if cross:
            norm(f"{prefix}.cross_attn_norm", "attn_norm", layer)
            attention(prefix, layer, cross=True)
        if spec.block_norms > 1:
            norm(f"{prefix}.ffn_norm", "ffn_norm", layer)
            for extra in range(spec.block_norms - 2):
                norm(f"{prefix}.post_norm_{extra}", "attn_norm", layer)
        if not moe:
            mlp(prefix, layer, spec.d_ff)
            return
        out.append(Tensor(f"{prefix}.ffn_gate_inp.weight", "ffn_gate_inp", layer, d,
                          spec.n_experts))
        if spec.router_bias:
            out.append(Tensor(f"{prefix}.ffn_gate_inp.bias", "bias", layer, spec.n_experts))
        mlp(prefix, layer, spec.expert_width, "_exps", spec.n_experts)
        if spec.n_shared_experts:
            mlp(prefix, layer, spec.shared_expert_d_ff or spec.expert_width, "_shexp",
                spec.n_shared_experts)

    e = getattr(spec, "embedding_width", d)  # OPT-350m: embed_dim != d_model
    out.append(Tensor("token_embd.weight", "token_embd", -1, e, v))
    if e != d:  # project_in / project_out (HF OPTDecoder), bias-free
        out.append(Tensor("project_in.weight", "other", -1, e, d))
        out.append(Tensor("project_out.weight", "other", -1, d, e))
    if spec.positions == "learned":
        out.append(Tensor("position_embd.weight", "position_embd", -1, d, spec.positions_rows))
    if spec.embedding_norm:
        norm("token_embd_norm", "output_norm")
    if spec.arch == "encoder-decoder":
        if not spec.shared_encoder_decoder_embeddings:
            out.append(Tensor("dec.token_embd.weight", "token_embd", -1, e, v))
        if spec.positions == "learned":
            out.append(Tensor("dec.position_embd.weight", "position_embd", -1, d,
                              spec.positions_rows))
        for i in range(spec.n_encoder_layers):
            block(f"enc.blk.{i}", i)
        for i in range(spec.n_layers):
            block(f"dec.blk.{i}", i, cross=True)
        stacks = ("enc.", "dec.")
    else:
        for i in range(spec.n_layers):
            block(f"blk.{i}", i, moe=spec.is_moe and i >= spec.first_dense_layers)
        stacks = ("",)
    for s in stacks:
        if spec.positions == "relative":
            out.append(Tensor(f"{s}attn_rel_b.weight", "attn_rel_b", -1,
                              spec.relative_attention_buckets, spec.n_heads))
        if spec.final_norm:
            norm(f"{s}output_norm", "output_norm")
    if not spec.tie_embeddings:
        out.append(Tensor("output.weight", "output", -1, e, v))
    if spec.lm_head_bias:
        out.append(Tensor("output.bias", "bias", -1, v))
    # Whatever model.py counts that has no tensor here yet (e.g. Transformer-XL relative
    # position matrices) is kept as an "other" matrix of d_model rows, so the tally always
    # equals total_params; llama.cpp gives unlisted roles the file type's default type.
    residual = total_params(spec) - sum(t.n_elements for t in out)
    if residual >= d:
        out.append(Tensor("other.weight", "other", -1, d, residual // d))
        residual -= d * (residual // d)
    if residual > 0:
        out.append(Tensor("other.bias", "bias", -1, residual))
    return tuple(out)


_NEVER_QUANTISED = ("attn_norm", "ffn_norm", "output_norm", "bias", "ffn_gate_inp",
                    "position_embd", "attn_rel_b")


def _is_linear(t: Tensor) -> bool:
    """A projection inside the blocks (what GPTQ/AWQ/bitsandbytes/NF4 quantise)."""
    return t.role in LINEAR_ROLES.values()


# --- GGUF recipes ----------------------------------------------------------------------------

def _use_more_bits(i: int, n: int) -> bool:
    """llama.cpp use_more_bits(i, n): the first and last eighth of the layers and every third
    layer between (integer arithmetic; gguf_recipes.toml [use_more_bits])."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _rule_holds(rule: dict, i: int, n: int, ctx: dict) -> bool:
    for key, want in rule.items():
        if key == "type":
            continue
        if key == "more_bits":
            ok = _use_more_bits(i, n) == bool(want)
        elif key == "layer_lt":
            ok = i < want
        elif key == "layer_lt_div":
            ok = i < n // want
        elif key == "gqa_ge":
            ok = ctx["n_gqa"] >= want
        elif key == "n_expert":
            ok = ctx["n_expert"] == want
        elif key == "imatrix":
            ok = ctx["imatrix"] == bool(want)
        else:  # pragma: no cover - guards a data file change
            raise PlannerError(f"gguf_recipes.toml: unknown rule condition {key!r}")
        if not ok:
            return False
    return True


def _recipe(ftype: str, era: str) -> dict:
    data = recipes_data()
    if era not in RECIPE_ERAS:
        raise unknown("GGUF recipe era", era, RECIPE_ERAS)
    if era == "2023" and ftype in data.get("recipes_2023", {}):
        return data["recipes_2023"][ftype]
    return data["recipes"][ftype]


def gguf_tensor_types(spec: ModelSpec, ftype: str, era: str = "current",
                      imatrix: bool = False) -> list[str]:
    """The GGML type llama-quantize gives each tensor of `spec` for file type `ftype`
    (llama_tensor_get_type, steps 1-6 of gguf_recipes.toml's header)."""
    data = recipes_data()
    recipe = _recipe(ftype, era)
    default = recipe["default"]
    sizes = ggml_sizes()
    ts = tensors(spec)
    tied = not any(t.role == "output" for t in ts)
    ctx = {"n_gqa": spec.n_heads // spec.kv_heads, "n_expert": spec.n_experts,
           "imatrix": imatrix}
    is_70b = spec.n_layers == 80 and spec.kv_heads < spec.n_heads  # llama.cpp LLM_TYPE_70B
    totals: dict[str, int] = {}
    for t in ts:
        totals[t.role] = totals.get(t.role, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for t in ts:
        i = seen.get(t.role, 0)
        seen[t.role] = i + 1
        n = totals[t.role]
        if t.role in _NEVER_QUANTISED or not t.is_matrix:
            out.append("F32")
            continue
        role = "output" if (t.role == "token_embd" and tied) else t.role
        rule = recipe.get(role, default)
        if isinstance(rule, list):
            chosen = next((r["type"] for r in rule if _rule_holds(r, i, n, ctx)), default)
        else:
            chosen = rule
        for post in data.get("post_rules", []):
            when = post.get("when", {})
            if role not in post["roles"]:
                continue
            if when.get("model_type_70b") and not is_70b:
                continue
            if "n_expert" in when and when["n_expert"] != spec.n_experts:
                continue
            frm = post["from"]
            if frm == "any" or chosen in frm:
                chosen = post["to"]
        if role == "output":
            orule = data["output_rule"]
            if default in ("F16", "BF16", "F32"):
                chosen = default
            elif t.d_in % sizes[default][0]:
                chosen = orule["misaligned"]
            elif default == "Q8_0":
                chosen = orule["if_default_is_q8_0"]
            else:
                chosen = orule["otherwise"]
        if t.d_in % sizes[chosen][0]:
            chosen = data["fallback"].get(chosen, chosen)
            if t.d_in % sizes[chosen][0]:
                chosen = data["fallback"]["final"]
        out.append(chosen)
    return out


# --- bytes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WeightBytes:
    """Bytes of a model's weights in one format, split the way decoding reads them."""

    quant: str
    total: float            # bytes on disk / in memory (tensor data)
    params: int             # elements
    embedding: float        # token/position embedding tables (a decode step reads one row)
    routed_experts: float   # the routed experts' tensors (a token reads top-k of n_experts)
    by_type: dict           # storage type -> bytes

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.total / self.params


def _tensor_bytes_simple(t: Tensor, fmt: dict) -> float:
    quantise = fmt["quantise"] == "all" or (fmt["quantise"] == "linear" and _is_linear(t))
    if not quantise:
        return t.n_elements * fmt["keep_bits"] / 8.0
    bits = t.n_elements * fmt["bits"]
    group = fmt.get("group_size")
    if group:
        size = t.d_in if group == "row" else group
        bits += math.ceil(t.n_elements / size) * fmt["overhead_bits"]
    return bits / 8.0


@functools.lru_cache(maxsize=1024)
def weight_bytes(spec: ModelSpec, quant: str, era: str = "current",
                 imatrix: bool = False) -> WeightBytes:
    """Bytes of `spec`'s weights in format `quant` (any name `canonical_quant` accepts)."""
    q = canonical_quant(quant)
    ts = tensors(spec)
    tied = not any(t.role == "output" for t in ts)
    if q in GGUF_TYPES:
        sizes = ggml_sizes()
        types = gguf_tensor_types(spec, q, era, imatrix)
        each = [t.n_elements / sizes[ty][0] * sizes[ty][1] for t, ty in zip(ts, types)]
    else:
        fmt = inference_data()["weight_formats"][q]
        types = [(q if (fmt["quantise"] == "all" or _is_linear(t)) else
                  f"{fmt['keep_bits']}-bit") for t in ts]
        each = [_tensor_bytes_simple(t, fmt) for t in ts]
    by_type: dict[str, float] = {}
    for ty, b in zip(types, each):
        by_type[ty] = by_type.get(ty, 0.0) + b
    emb = sum(b for t, b in zip(ts, each)
              if t.role == "position_embd" or (t.role == "token_embd" and not tied))
    experts = sum(b for t, b in zip(ts, each) if t.name.split(".")[-2].endswith("_exps"))
    return WeightBytes(quant=q, total=float(sum(each)), params=sum(t.n_elements for t in ts),
                       embedding=float(emb), routed_experts=float(experts), by_type=by_type)


def weights_bytes(spec: ModelSpec, quant: str | Sequence[str], era: str = "current",
                  imatrix: bool = False):
    """Weights memory in bytes: a float for one format name, an array for a sequence."""
    if isinstance(quant, str):
        return weight_bytes(spec, quant, era, imatrix).total
    return np.array([weight_bytes(spec, qq, era, imatrix).total for qq in quant])


def bits_per_weight(spec: ModelSpec, quant: str, era: str = "current") -> float:
    """Effective bits per parameter of the whole file (Llama-2-7B Q4_K_M: 4.84)."""
    return weight_bytes(spec, quant, era).bits_per_weight


def adapter_params(spec: ModelSpec, rank, targets: Iterable[str]) -> np.ndarray | float:
    """LoRA trainable parameters: r x (d_in + d_out) per adapted matrix (Hu et al. 2021, sec.
    4.1: W0 + BA with B d_out x r and A r x d_in), summed over every layer's (and expert's)
    matrices whose role is in `targets` (q, k, v, o, gate, up, down).  Broadcasts over rank."""
    roles = {_target_role(t, spec) for t in targets}
    per_rank = sum(t.count * (t.d_in + t.d_out) for t in tensors(spec) if t.role in roles)
    return np.asarray(rank, dtype=float) * per_rank


def _target_role(target: str, spec: ModelSpec) -> str:
    key = str(target).strip().lower()
    key = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "gate_proj": "gate",
           "up_proj": "up", "down_proj": "down", "query": "q", "value": "v", "key": "k",
           "out": "o", "w1": "gate", "w3": "up", "w2": "down"}.get(key, key)
    if key not in LINEAR_ROLES:
        raise unknown("LoRA target", str(target), list(LINEAR_ROLES))
    if key == "gate" and not spec.gated:
        raise PlannerError(f"LoRA target 'gate': {spec.name} has a {spec.mlp} MLP without a "
                           "gate projection (valid: q, k, v, o, up, down)")
    return LINEAR_ROLES[key]
