"""Typed look-ups in a Hugging Face config.json, and the helpers the per-type mappers share.

Every value is checked where it is read: whole numbers are whole and within the range of what
they size (`planner.model.spec.LIMITS`: a config with 10^6 layers or a 10^12-token context is
refused here, naming the key), flags are JSON booleans, lists hold what they should.
"""
from __future__ import annotations

from typing import Any

from planner.errors import PlannerError
from planner.model.spec import LIMITS

# Config keys -> the ModelSpec size whose range bounds them.
KEY_LIMITS = {
    "vocab_size": "vocab_size", "hidden_size": "d_model", "n_embd": "d_model",
    "n_embed": "d_model", "d_model": "d_model", "num_hidden_layers": "n_layers",
    "n_layer": "n_layers", "num_layers": "n_layers", "num_decoder_layers": "n_layers",
    "num_attention_heads": "n_heads", "n_head": "n_heads", "num_heads": "n_heads",
    "num_key_value_heads": "n_heads", "num_kv_heads": "n_heads", "n_head_kv": "n_heads",
    "intermediate_size": "d_ff", "ffn_dim": "d_ff", "n_inner": "d_ff", "d_ff": "d_ff",
    "ffn_hidden_size": "d_ff", "moe_intermediate_size": "d_ff",
    "shared_expert_intermediate_size": "d_ff", "intermediate_size_mlp": "d_ff",
    "head_dim": "head_dim", "d_kv": "head_dim", "v_head_dim": "head_dim",
    "qk_nope_head_dim": "head_dim", "qk_rope_head_dim": "head_dim",
    "num_local_experts": "n_experts", "num_experts": "n_experts", "n_routed_experts": "n_experts",
    "num_experts_per_tok": "n_experts", "experts_per_token": "n_experts",
    "n_shared_experts": "n_shared_experts", "first_k_dense_replace": "first_dense_layers",
    "kv_lora_rank": "kv_lora_rank", "q_lora_rank": "q_lora_rank",
    "num_nextn_predict_layers": "mtp_layers", "word_embed_proj_dim": "d_model",
    "relative_attention_num_buckets": "relative_attention_buckets",
}


class Config:
    """A config.json mapping with typed, user-worded look-ups."""

    def __init__(self, data: dict, where: str) -> None:
        self.data = data
        self.where = where  # e.g. "config.json (llama)"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _first(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        for k in keys:
            if self.data.get(k) is not None:
                return k, self.data[k]
        return keys[0], None

    def size(self, *keys: str, default: int | None = None) -> int:
        """A positive whole number under the first present key (aliases: GPT-2's n_embd is
        BLOOM's n_embed is everyone else's hidden_size), within the stated range of what it
        sizes (`planner.model.spec.LIMITS`)."""
        key, value = self._first(keys)
        if value is None:
            if default is not None:
                return default
            alias = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
            raise PlannerError(f"{self.where}: missing required key {keys[0]!r}{alias}")
        return self._whole(key, value, 1)

    def count(self, key: str, default: int = 0) -> int:
        """A whole number >= 0 (e.g. a sliding window, where 0 or null means none)."""
        value = self.data.get(key)
        if value is None:
            return default
        return self._whole(key, value, 0)

    def _whole(self, key: str, value: Any, lo: int) -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        hi = LIMITS[KEY_LIMITS[key]][1] if key in KEY_LIMITS else 2**30
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            kind = "positive whole number" if lo else "whole number >= 0"
            shown = repr(value) if not isinstance(value, (str, list, dict)) else (
                repr(value)[:40] + ("..." if len(repr(value)) > 40 else ""))
            raise PlannerError(f"{self.where}: {key!r} must be a {kind} up to {hi:,}, got "
                               f"{shown}")
        return value

    def sub(self, key: str, required: bool = True) -> "Config | None":
        """A nested configuration (text_config, vision_config) as its own Config."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise PlannerError(f"{self.where}: missing required key {key!r}")
            return None
        if not isinstance(value, dict):
            raise PlannerError(f"{self.where}: {key!r} must be an object, got "
                               f"{type(value).__name__}")
        return Config(value, f"{self.where} {key}")

    def items(self, key: str, kind: type, max_len: int = 10_000) -> list | None:
        """A list of values of one type (layer_types, no_rope_layers, moe_layers), or None."""
        value = self.data.get(key)
        if value is None:
            return None
        if (not isinstance(value, list) or len(value) > max_len
                or not all(isinstance(v, kind) and not (kind is int and isinstance(v, bool))
                           for v in value)):
            raise PlannerError(f"{self.where}: {key!r} must be a list of "
                               f"{'strings' if kind is str else 'whole numbers'}, got "
                               f"{repr(value)[:60]}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise PlannerError(f"{self.where}: {key!r} must be true or false, got {value!r}")
        return value

    def text(self, *keys: str, default: str = "") -> str:
        key, value = self._first(keys)
        if value is None:
            return default
        if not isinstance(value, str):
            raise PlannerError(f"{self.where}: {key!r} must be a string, got {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise PlannerError(f"{self.where}: {key!r} must be a number, got {value!r}")
        return float(value)


def heads(cfg: Config, d_model: int, n_heads: int, d_key: str, h_key: str,
           head_dim: int | None = None) -> None:
    """The head count must split d_model (unless the config gives the head width)."""
    if head_dim is None and d_model % n_heads:
        raise PlannerError(f"{cfg.where}: {h_key}={n_heads} does not divide {d_key}={d_model} "
                           "(each head gets d_model / n_heads dimensions)")


def kv_heads(cfg: Config, n_heads: int, n_kv: int, kv_key: str, h_key: str) -> int:
    if n_heads % n_kv:
        raise PlannerError(f"{cfg.where}: {kv_key}={n_kv} does not divide {h_key}={n_heads} "
                           "(grouped-query attention needs groups of equal size)")
    return n_kv


def gated(act: str) -> str:
    """The gated MLP kind of a Llama-style gate/up/down MLP from its activation name:
    SiLU -> SwiGLU, GELU (any approximation) -> GeGLU (Shazeer 2020)."""
    a = act.lower()
    if a.startswith("gelu"):
        return "geglu"
    return "swiglu"


def plain(act: str, default: str = "gelu") -> str:
    """The 2-matrix MLP kind from an activation name."""
    a = (act or default).lower()
    if a.startswith("relu"):
        return "relu"
    if a in ("silu", "swish"):
        return "silu"
    return "gelu"


def sliding(cfg: Config) -> int:
    return cfg.count("sliding_window")


def top_k(cfg: Config, n_experts: int, e_key: str, k_keys: tuple[str, ...] = (
        "num_experts_per_tok",), default: int | None = None) -> int:
    """Experts per token (the first of `k_keys` present), no more than the `n_experts` that
    `e_key` gives."""
    top = cfg.size(*k_keys, default=default)
    if top > n_experts:
        raise PlannerError(f"{cfg.where}: {k_keys[0]}={top} exceeds {e_key}={n_experts} (a "
                           "token cannot be routed to more experts than there are)")
    return top


def every_kth_global(k: int) -> str:
    """The layout with every `k`-th layer global ("LLLG" for 4), in the shortest repeating
    form `window_pattern` gives: "G" for 1, "" (every layer local) for 0."""
    if k <= 1:
        return "" if k == 0 else "G"
    return "L" * (k - 1) + "G"


def window_pattern(cfg: Config, n_layers: int, window: int, default_global_every: int = 0,
                   pattern_key: str = "sliding_window_pattern") -> str:
    """The local/global layout of a model with a window: "L" (local) or "G" (global) per layer,
    shortest repeating form.  From ``layer_types`` when given ("sliding_attention" /
    "chunked_attention" local, "full_attention" global), else every `k`-th layer global with
    k = ``sliding_window_pattern`` (Gemma 3: 6; Gemma 2, gpt-oss: 2), else every layer local."""
    if not window:
        return ""
    types = cfg.items("layer_types", str)
    if types is not None:
        if len(types) != n_layers:
            raise PlannerError(f"{cfg.where}: 'layer_types' lists {len(types)} layers, "
                               f"num_hidden_layers is {n_layers}")
        local = {"sliding_attention", "chunked_attention", "local_attention", "sliding"}
        full = {"full_attention", "global_attention", "attention", "full"}
        for t in types:
            if t not in local | full:
                raise PlannerError(f"{cfg.where}: 'layer_types' entry {t[:40]!r} is not a "
                                   "known attention kind (sliding_attention, full_attention, "
                                   "chunked_attention)")
        pattern = "".join("L" if t in local else "G" for t in types)
    else:
        every = cfg.count(pattern_key, default_global_every) if pattern_key else \
            default_global_every
        return every_kth_global(every)
    return shortest_period(pattern)


def shortest_period(pattern: str) -> str:
    """"LGLGLG" -> "LG"; "LLLLLLLLLG" stays; an all-"L" pattern is "" (every layer local)."""
    if set(pattern) == {"L"}:
        return ""
    n = len(pattern)
    for p in range(1, n + 1):
        if n % p == 0 and pattern[:p] * (n // p) == pattern:
            return pattern[:p]
    return pattern
