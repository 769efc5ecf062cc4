"""Weight formats: bytes of a model's weights at fp32/fp16/bf16/fp8/int8/int4/nf4, at the formats
current checkpoints ship in (MXFP4, NVFP4, block-scaled FP8, AWQ/GPTQ at their group sizes) and at
llama.cpp's GGUF file types (Q2_K ... Q8_0, the i-quants, TQ, MXFP4_MOE), tensor by tensor.

* Tensors and shapes come from the one inventory of the model (`planner.model.tensors`):
  token_embd (V x d), output, per layer attn_q/k/v/output (or MLA's latent projections) and
  ffn_gate/up/down (or the experts' stacked ffn_*_exps, shared ffn_*_shexp and the router
  ffn_gate_inp), norms and biases, named as in GGUF files; their elements add up to the
  parameter count by construction (no filler).
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
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec
from planner.model.tensors import Tensor, main_tensors
from planner.names import NameIndex
from planner.resources import data_toml

# GGUF file types in the order people list them (TheBloke's tables).
GGUF_TYPES = ("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q4_K_S", "Q4_K_M",
              "Q5_0", "Q5_1", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0")
SIMPLE_TYPES = ("fp32", "fp16", "bf16", "fp8", "int8", "int4", "nf4")
# Accepted by name, not in the `--quant all` table: current checkpoint formats, and llama.cpp's
# i-quant, ternary and FP4 file types (gguf_recipes.toml).
CHECKPOINT_TYPES = ("mxfp4", "mxfp4-experts", "nvfp4", "fp8-block", "awq", "awq-g64", "awq-g32",
                    "gptq", "gptq-g64", "gptq-g32")
GGUF_MORE_TYPES = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS",
                   "IQ3_S", "IQ3_M", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4_MOE",
                   "NVFP4_GGUF")
RECIPE_ERAS = ("current", "2023")
# Projection roles a LoRA adapter can target (short names as in PEFT target_modules).
LINEAR_ROLES = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
                "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}


# --- data ------------------------------------------------------------------------------------

def inference_data() -> dict:
    """planner/data/inference.toml (formats, overheads, reserve, speed and tier constants)."""
    return data_toml("inference.toml")


def recipes_data() -> dict:
    """planner/data/gguf_recipes.toml (llama.cpp's per-tensor mixes)."""
    return data_toml("gguf_recipes.toml")


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
    return list(SIMPLE_TYPES) + list(CHECKPOINT_TYPES) + list(GGUF_TYPES) + list(GGUF_MORE_TYPES)


def gguf_file_types() -> tuple[str, ...]:
    """The GGUF file types (llama.cpp mixes), classic and i-quant/FP4."""
    return GGUF_TYPES + GGUF_MORE_TYPES


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
    aliases = inference_data().get("kv_aliases", {})
    key = aliases.get(str(kv_type).lower(), str(kv_type).lower())
    if key not in table:
        raise unknown("KV-cache type", str(kv_type), list(table))
    return table[key]


# --- tensors ---------------------------------------------------------------------------------

def tensors(spec: ModelSpec, checkpoint: bool = False) -> tuple[Tensor, ...]:
    """The weight tensors of `spec` from the one inventory (`planner.model.tensors`); their
    elements add up to `total_params(spec)`.  ``checkpoint=True`` adds what a checkpoint
    stores beside the model (MTP modules, vision tower and projector)."""
    return _tensors(spec) if checkpoint else _main(spec)


@functools.lru_cache(maxsize=256)
def _main(spec: ModelSpec) -> tuple[Tensor, ...]:
    return tuple(main_tensors(spec))


def _tensors(spec: ModelSpec) -> tuple[Tensor, ...]:
    from planner.model.tensors import tensors as all_tensors
    return all_tensors(spec)


def _is_linear(t: Tensor) -> bool:
    """A projection inside the blocks (what GPTQ/AWQ/bitsandbytes/NF4/FP8 quantise); MoE
    routers stay 16-bit (vLLM/llm-compressor ignore the gate; DeepSeek-V3 ships it in BF16)."""
    return t.has("linear") and not t.has("router")


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
        elif key == "middle":  # n/8 <= i < 7n/8
            ok = (n // 8 <= i < 7 * n // 8) == bool(want)
        elif key == "gqa_ge":
            ok = ctx["n_gqa"] >= want
        elif key == "expert_ge":
            ok = ctx["n_expert"] >= want
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


def _allows_quantization(t: Tensor) -> bool:
    """llama.cpp tensor_allows_quantization(): 2-D/3-D weights only, never norms, the MoE
    router, position embeddings, T5's relative bias or a vision patch embedding."""
    n = t.name
    return (t.is_matrix and n.endswith("weight") and "_norm.weight" not in n
            and "ffn_gate_inp.weight" not in n and not n.endswith("position_embd.weight")
            and "attn_rel_b.weight" not in n and ".patch_embd" not in n)


def _category(name: str) -> str:
    """llama.cpp tensor_get_category(): the recipe role of a tensor, from its GGUF name."""
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_kv_b.weight", "attn_v"),
                     ("attn_v.weight", "attn_v"), ("attn_k.weight", "attn_k"),
                     ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                     ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def gguf_tensor_types(spec: ModelSpec, ftype: str, era: str = "current",
                      imatrix: bool | None = None) -> list[str]:
    """The GGML type llama-quantize gives each tensor of `spec` for file type `ftype`
    (llama_tensor_get_type, steps 1-6 of gguf_recipes.toml's header).  `imatrix` defaults to
    what the file type needs (the IQ1/IQ2/IQ3_XXS types cannot be made without one)."""
    data = recipes_data()
    recipe = _recipe(ftype, era)
    default = recipe["default"]
    if imatrix is None:
        imatrix = bool(recipe.get("requires_imatrix", False))
    sizes = ggml_sizes()
    ts = tensors(spec)
    tied = not any(t.role == "output" for t in ts)
    ctx = {"n_gqa": spec.n_heads // spec.kv_heads, "n_expert": spec.n_experts,
           "imatrix": imatrix}
    is_70b = spec.n_layers == 80 and spec.kv_heads < spec.n_heads  # llama.cpp LLM_TYPE_70B
    cats = [_category(t.name) for t in ts]
    n_attn_v = cats.count("attn_v") + cats.count("attn_qkv")
    counters: dict[str, int] = {}
    out = []
    for t, cat in zip(ts, cats):
        if not _allows_quantization(t):
            out.append("F32")
            continue
        role = "output" if (cat == "token_embd" and tied) else cat
        counter = "attn_v" if role in ("attn_v", "attn_qkv") else role
        i = counters.get(counter, 0)
        counters[counter] = i + 1
        if counter == "attn_v":
            n = n_attn_v
        elif role.startswith("ffn_"):
            n = spec.n_layers + spec.n_encoder_layers
            if spec.n_experts > 1 and not recipe.get("ffn_by_count", False):
                i = t.layer  # llama.cpp layer_info(): parsed from the name for MoE models
        else:
            n = 0
        chosen = _choose(recipe, role, i, n, ctx, default)
        if not recipe.get("skip_post_rules", False):
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
        if recipe.get("experts_type") and t.count > 1 and role != "output":
            chosen = recipe["experts_type"]  # MXFP4_MOE: stacked experts (ne[2] > 1)
        if role == "output":
            chosen = _output_type(recipe, default, t, sizes, data)
        if t.d_in % sizes[chosen][0]:  # tensor_type_fallback()
            chosen = data["fallback"].get(chosen, chosen)
            if t.d_in % sizes[chosen][0]:
                chosen = data["fallback"]["final"]
        out.append(chosen)
    return out


def _choose(recipe: dict, role: str, i: int, n: int, ctx: dict, default: str) -> str:
    rule = recipe.get(role, default)
    if isinstance(rule, list):
        return next((r["type"] for r in rule if _rule_holds(r, i, n, ctx)), default)
    return rule


def _output_type(recipe: dict, default: str, t: Tensor, sizes: dict, data: dict) -> str:
    """[output_rule]: the output matrix (or the tied embedding)."""
    if default in ("F16", "BF16", "F32"):
        return default
    if recipe.get("output_always"):
        return recipe["output_always"]
    if t.d_in % sizes[default][0]:
        return data["output_rule"]["misaligned"]
    if default == "Q8_0":
        return data["output_rule"]["if_default_is_q8_0"]
    return recipe.get("output", data["output_rule"]["otherwise"])


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


def _quantised(t: Tensor, fmt: dict) -> bool:
    """Does format `fmt` quantise tensor `t`?  "all": every tensor; "linear": the projections
    inside the blocks (`_is_linear`); "experts": the routed experts only (gpt-oss MXFP4)."""
    scope = fmt["quantise"]
    if scope == "all":
        return True
    if scope == "experts":
        return t.has("routed_expert") and t.has("linear")
    return _is_linear(t)


def _tensor_bytes_simple(t: Tensor, fmt: dict) -> float:
    """Bytes of one tensor in a non-GGUF format: `bits` per element plus its scales -
    `overhead_bits` per group of `group_size` elements along a row ("row": one per row), or
    per `block` of rows x columns (DeepSeek-V3's 128 x 128 FP8 scales); `tensor_overhead_bits`
    per matrix (NVFP4's second-level FP32 scale); `input_overhead_bits` per input channel
    (GPTQ's g_idx)."""
    if not _quantised(t, fmt):
        return t.n_elements * fmt["keep_bits"] / 8.0
    bits = t.n_elements * fmt["bits"]
    rows = t.count * t.d_out
    group = fmt.get("group_size")
    if group:
        per_row = 1 if group == "row" else math.ceil(t.d_in / group)
        bits += rows * per_row * fmt["overhead_bits"]
    block = fmt.get("block")
    if block:
        blocks = math.ceil(t.d_out / block[0]) * math.ceil(t.d_in / block[1])
        bits += t.count * blocks * fmt["overhead_bits"]
    bits += t.count * fmt.get("tensor_overhead_bits", 0)
    bits += t.count * t.d_in * fmt.get("input_overhead_bits", 0)
    return bits / 8.0


@functools.lru_cache(maxsize=1024)
def weight_bytes(spec: ModelSpec, quant: str, era: str = "current",
                 imatrix: bool | None = None, checkpoint: bool = False) -> WeightBytes:
    """Bytes of `spec`'s weights in format `quant` (any name `canonical_quant` accepts).
    ``checkpoint=True`` also counts what a checkpoint stores beside the model (MTP modules,
    vision tower; non-GGUF formats only - GGUF files hold the model, a vision tower goes to
    a separate mmproj file)."""
    q = canonical_quant(quant)
    gguf = q in gguf_file_types()
    ts = tensors(spec, checkpoint=checkpoint and not gguf)
    tied = not any(t.role == "output" for t in ts)
    if gguf:
        sizes = ggml_sizes()
        types = gguf_tensor_types(spec, q, era, imatrix)
        each = [t.n_elements / sizes[ty][0] * sizes[ty][1] for t, ty in zip(ts, types)]
    else:
        fmt = inference_data()["weight_formats"][q]
        types = [q if _quantised(t, fmt) else f"{fmt['keep_bits']}-bit" for t in ts]
        each = [_tensor_bytes_simple(t, fmt) for t in ts]
    by_type: dict[str, float] = {}
    for ty, b in zip(types, each):
        by_type[ty] = by_type.get(ty, 0.0) + b
    emb = sum(b for t, b in zip(ts, each) if not t.apart and (
        t.role == "position_embd" or (t.role == "token_embd" and not tied)))
    experts = sum(b for t, b in zip(ts, each) if t.has("routed_expert") and not t.apart)
    return WeightBytes(quant=q, total=float(sum(each)), params=sum(t.n_elements for t in ts),
                       embedding=float(emb), routed_experts=float(experts), by_type=by_type)


def weights_bytes(spec: ModelSpec, quant: str | Sequence[str], era: str = "current",
                  imatrix: bool | None = None):
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
