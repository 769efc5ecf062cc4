"""What the page's pickers offer, and the model a request names.

* `models()` / `devices()`: the zoo and the hardware tables as picker rows (name, aliases and a
  short description the search matches on); read once, then served from memory.
* `pasted_model(text)`: a Hugging Face config.json given as text (pasted or uploaded in the
  browser) -> `ModelSpec`, through the same importer as ``planner params config.json``; nothing
  is written to disk.
* `examples()`: the scenario files that ship with the package, read once at start-up (a request
  names one of them; it never names a path).
"""
from __future__ import annotations

import functools
import json
import math
import re

from planner.errors import PlannerError
from planner.model.spec import ModelSpec
from planner.units import format_bytes, format_count

MAX_CONFIG_CHARS = 60_000      # a config.json is 1-5 kB; the query string holds at most 64 kB
DEFAULT_CONFIG_NAME = "hf-model"   # what `planner params config.json` calls a nameless config


@functools.cache
def models() -> list[dict]:
    """Zoo models as picker rows: name, aliases, family, parameters, context, source."""
    from planner.model import zoo
    from planner.model.spec import total_params
    rows = []
    for name, spec in zoo.models().items():
        n = total_params(spec)
        rows.append({"name": name, "aliases": list(spec.aliases), "family": spec.family,
                     "params": n, "label": f"{format_count(n)} params, context "
                                           f"{spec.context:,}" + (f", {spec.family}"
                                                                   if spec.family else ""),
                     "source": spec.source})
    return rows


@functools.cache
def devices() -> list[dict]:
    """Hardware profiles as picker rows: name, aliases, category, memory, bandwidth, peak and
    price (the figures the forms' answers use)."""
    from planner.hardware import devices as all_devices
    rows = []
    for d in all_devices():
        peak = max((d.peak_flops.get(p) or 0.0) for p in ("bf16", "fp16", "fp32"))
        price = d.price_per_hour
        label = [format_bytes(d.memory_bytes), f"{d.bandwidth_bytes_per_s / 1e9:,.0f} GB/s"]
        if peak:
            label.append(f"{peak / 1e12:,.4g} TFLOPS")
        if math.isfinite(price):
            label.append(f"${price:.2f}/h")
        rows.append({"name": d.name, "aliases": list(d.aliases), "category": d.category,
                     "vendor": d.vendor, "memory_bytes": d.memory_bytes,
                     "label": ", ".join(label) + (f" ({d.category})" if d.category else "")})
    return rows


def pasted_model(text: str) -> ModelSpec:
    """A config.json given as text -> its `ModelSpec`, named as `planner params config.json`
    names it (the config's ``_name_or_path``, else "hf-model")."""
    from planner.model import hf
    if len(text) > MAX_CONFIG_CHARS:
        raise PlannerError(f"the pasted config.json is {len(text):,} characters long (at most "
                           f"{MAX_CONFIG_CHARS:,}; a Hugging Face config.json is a few kB)")
    data = hf.parse_config(text, "the pasted config.json")
    name = str(data.get("_name_or_path") or DEFAULT_CONFIG_NAME)[:200]
    return hf.from_config(data, name, "config.json")


@functools.cache
def examples() -> dict[str, str]:
    """The packaged example scenarios: file stem -> TOML text (read once)."""
    from planner.resources import data_dir
    folder = data_dir("scenarios")
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.toml"))}


# --- TOML text (the "scenario TOML" download) -------------------------------------------------

_BARE_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


def toml_value(v) -> str:
    """A TOML literal for a string (as typed), number, bool or list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else json.dumps(str(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    text = str(v)
    if _BARE_NUMBER.match(text):
        return text
    # JSON's escapes (\" \\ \n \uXXXX for other control characters) are TOML's basic-string ones
    return json.dumps(text, ensure_ascii=False)


def toml_table(name: str, values: dict) -> str:
    lines = [f"[{name}]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def model_fields(spec: ModelSpec) -> dict:
    """The architecture of `spec` as model-TOML keys (those that differ from the defaults;
    the name and meta data left out), e.g. for an inline [model] section."""
    import dataclasses
    out = {}
    for f in dataclasses.fields(spec):
        if f.name in ("name", "meta", "aliases"):
            continue
        value = getattr(spec, f.name)
        default = f.default if f.default is not dataclasses.MISSING else object()
        if value is None or value == default:
            continue
        out[f.name] = value
    return out
