"""Turn the MODEL argument into a `ModelSpec`.

MODEL is a zoo name (case-insensitive), a path to a Hugging Face ``config.json`` or a folder
holding one, or a model TOML file (same keys as the zoo).

`offline_models(specs)` is for callers that must not touch the file system on a user's behalf
(the web page, `planner ui`): inside it MODEL is one of `specs` (a pasted config.json) or a zoo
name, and is never read as a path.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from planner.model import zoo
from planner.errors import PlannerError
from planner.model.spec import ModelSpec


_OFFLINE: ContextVar[dict[str, ModelSpec] | None] = ContextVar("planner_offline_models",
                                                              default=None)


@contextlib.contextmanager
def offline_models(specs: dict[str, ModelSpec] | None = None) -> Iterator[None]:
    """Within the block (this thread or task only), `resolve_model` answers from `specs` by
    exact name, else from the zoo, and never looks at a file."""
    token = _OFFLINE.set(dict(specs or {}))
    try:
        yield
    finally:
        _OFFLINE.reset(token)


def resolve_model(text: str) -> ModelSpec:
    offline = _OFFLINE.get()
    if offline is not None:
        return offline[text] if text in offline else zoo.get(text)
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
