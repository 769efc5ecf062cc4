"""Hugging Face import: a ``config.json`` (or a checkpoint folder holding one) -> `ModelSpec`.

Each supported ``model_type`` is mapped the way the transformers modeling code builds the
weights (``src/transformers/models/<type>/modeling_<type>.py``), so the derived count equals
``model.num_parameters()``: which projections carry biases, how many norms a block has, whether
the output matrix is tied, how wide the K/V projections are, how attention and experts are laid
out.  The mappers live in `hf_types` (2019-2024 types) and `hf_recent` (2024-2025 types); the
typed look-ups in `hf_config`.

The file is read defensively (`planner.safe_io`): a regular file, at most 4 MiB, UTF-8, JSON
nested at most 64 deep; every wrong type or out-of-range size is an error naming the file and
the key.  When the folder also holds ``*.safetensors`` files (or
``model.safetensors.index.json``), the exact count read from the tensor headers is put in
``spec.meta["safetensors_params"]`` (see `planner.model.safetensors`) and `planner params`
shows it beside the derived count.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from planner import safe_io
from planner.errors import PlannerError, unknown
from planner.model import hf_recent, hf_types as t
from planner.model.hf_config import Config
from planner.model.spec import ModelSpec, VisionSpec

CONFIG_NAME = "config.json"
MAX_CONFIG_BYTES = 4 * 2**20

MAPPERS: dict[str, Callable[[Config], dict]] = {
    "gpt2": t._gpt2, "llama": t._llama, "mistral": t._mistral, "mixtral": t._mixtral,
    "qwen2": t._qwen2, "gemma": t._gemma, "gemma2": t._gemma2, "phi": t._phi, "phi3": t._phi3,
    "falcon": t._falcon, "RefinedWeb": t._falcon, "RefinedWebModel": t._falcon,
    "gpt_neox": t._gpt_neox, "gptj": t._gptj, "opt": t._opt, "bloom": t._bloom, "t5": t._t5,
    "mt5": t._t5, **hf_recent.MAPPERS,
}
SUPPORTED = tuple(MAPPERS)

# `architectures[0]` -> model_type, for configs without a model_type key.
_ARCH_TYPES = {
    "GPT2LMHeadModel": "gpt2", "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral", "Qwen2ForCausalLM": "qwen2", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "PhiForCausalLM": "phi", "Phi3ForCausalLM": "phi3",
    "FalconForCausalLM": "falcon", "GPTNeoXForCausalLM": "gpt_neox",
    "GPTJForCausalLM": "gptj", "OPTForCausalLM": "opt", "BloomForCausalLM": "bloom",
    "T5ForConditionalGeneration": "t5", "T5WithLMHeadModel": "t5",
    "MT5ForConditionalGeneration": "mt5", **hf_recent.ARCH_TYPES,
}

# Extra facts worth keeping (no parameters, but they matter elsewhere: KV cache, positions).
_META_KEYS = ("torch_dtype", "dtype", "rope_theta", "partial_rotary_factor", "rotary_pct",
              "rotary_dim", "sliding_window", "max_position_embeddings", "_name_or_path",
              "qk_layernorm")


def read_config(path: Path) -> dict:
    """Parse a config.json into a dict: a regular UTF-8 file of at most 4 MiB, nested at most
    64 deep, with the line and column of any JSON error."""
    return _mapping(safe_io.read_json(path, "config file", MAX_CONFIG_BYTES), str(path))


def parse_config(text: str, where: str = CONFIG_NAME) -> dict:
    """A config.json's text (pasted into the web page) -> its mapping, under the same limits as
    a file: at most 4 MiB, nested at most 64 deep; errors name `where`."""
    if len(text.encode("utf-8", "replace")) > MAX_CONFIG_BYTES:
        raise PlannerError(f"{where} is larger than the {MAX_CONFIG_BYTES // 2**20} MiB a "
                           "config.json can be")
    return _mapping(safe_io.parse_json(text, where), where)


def _mapping(data, where: str) -> dict:
    if not isinstance(data, dict):
        raise PlannerError(f"{where} is not a JSON object (a Hugging Face config.json maps "
                           "keys such as model_type and hidden_size to values)")
    return data


def _model_type(data: dict, path: Path) -> str:
    mt = data.get("model_type")
    if mt is None:
        archs = data.get("architectures") or []
        for a in archs if isinstance(archs, list) else []:
            if isinstance(a, str) and a in _ARCH_TYPES:
                return _ARCH_TYPES[a]
        raise PlannerError(f"{path} has no model_type (supported: {', '.join(SUPPORTED)})")
    if not isinstance(mt, str) or len(mt) > 100:
        raise PlannerError(f"{path}: model_type must be a short string, got {repr(mt)[:60]} "
                           f"(supported: {', '.join(SUPPORTED)})")
    if mt not in MAPPERS:
        raise unknown(f"model_type in {path}:", mt, SUPPORTED,
                      hint="supported: " + ", ".join(SUPPORTED))
    return mt


def from_config(data: dict, name: str = "hf-model", where: str = CONFIG_NAME) -> ModelSpec:
    """`ModelSpec` from a parsed config.json mapping."""
    if not isinstance(data, dict):
        raise PlannerError(f"{where} is not a JSON object")
    mt = _model_type(data, Path(where))
    cfg = Config(data, f"{where} ({mt})")
    fields = MAPPERS[mt](cfg)
    meta = {k: data[k] for k in _META_KEYS
            if data.get(k) is not None and isinstance(data[k], (str, int, float))}
    meta["hf_model_type"] = mt
    notes = []
    if mt == "llama4" and isinstance(data.get("vision_config"), dict):
        notes.append("the vision tower of vision_config is not counted (text model only)")
    if fields.get("mtp_layers"):
        notes.append(f"{fields['mtp_layers']} multi-token-prediction module(s) stored in the "
                     "checkpoint are reported apart, not in the count")
    if notes:
        meta["notes"] = "; ".join(notes)
    vision = fields.pop("vision", None)
    try:
        return ModelSpec(name=name, family=mt, source=f"Hugging Face {where} (model_type {mt})",
                         meta=meta, vision=VisionSpec(**vision) if vision else None, **fields)
    except PlannerError as exc:  # a size the config implies is out of range, or contradictory
        raise PlannerError(f"{where} ({mt}): {exc}") from None


def _config_path(path: Path) -> Path:
    if path.is_dir():
        cfg = path / CONFIG_NAME
        if not cfg.exists():
            raise PlannerError(f"folder {str(path)!r} holds no {CONFIG_NAME} (expected a "
                               "Hugging Face checkpoint folder)")
        return safe_io.check_regular(cfg, "config file")
    return safe_io.check_regular(path, "config file")


def _name(path: Path, data: dict) -> str:
    """The checkpoint's name: its folder (``.../Llama-2-7b-hf/config.json`` ->
    ``Llama-2-7b-hf``), else the file stem."""
    folder = path.parent.name if path.name == CONFIG_NAME else path.stem
    return (folder or str(data.get("_name_or_path") or "hf-model"))[:200]


def load(path: str | Path) -> ModelSpec:
    """MODEL given as a config.json or a folder holding one.  Safetensors beside the config
    (single files, or shards listed by model.safetensors.index.json) add their header count
    to ``spec.meta`` (``safetensors_params`` and friends, see `planner.safetensors`)."""
    from planner.model import safetensors  # lazy: only when a checkpoint folder is given

    path = _config_path(Path(path).expanduser())
    data = read_config(path)
    spec = from_config(data, _name(path, data), str(path))
    count = safetensors.checkpoint_count(path.parent, tied=spec.tie_embeddings,
                                         torch_dtype=data.get("torch_dtype") or data.get("dtype"))
    if count is not None:
        spec.meta.update(count.meta())
    return spec
