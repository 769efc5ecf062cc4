"""Turn the MODEL argument into a `ModelSpec`.

MODEL is a zoo name (case-insensitive), a path to a Hugging Face ``config.json`` or a folder
holding one, or a model TOML file (same keys as the zoo).
"""
from __future__ import annotations

from pathlib import Path

from planner.model import zoo
from planner.errors import PlannerError
from planner.model.spec import ModelSpec


def resolve_model(text: str) -> ModelSpec:
    path = Path(text).expanduser()
    if path.is_dir() or (path.suffix == ".json" and path.exists()):
        from planner.model import hf  # lazy: only for config imports
        return hf.load(path)
    if path.suffix == ".toml":
        if not path.exists():
            raise PlannerError(f"model file {text!r} does not exist")
        specs = zoo.load_file(path)
        if len(specs) != 1:
            raise PlannerError(f"model file {text!r} holds {len(specs)} models (expected one)")
        return specs[0]
    if path.suffix == ".json":
        raise PlannerError(f"config file {text!r} does not exist")
    return zoo.get(text)
