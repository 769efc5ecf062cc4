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


MAX_MODEL_ARG = 1000  # a path or a name; longer is not a model


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
    """The MODEL argument as a `ModelSpec`.  A reported (unconfirmed) architecture such as
    GPT-4 is announced on stderr, so every command that uses it says so."""
    offline = _OFFLINE.get()
    if offline is not None:
        spec = offline[text] if text in offline else zoo.get(text)
    else:
        spec = _resolve(text)
    if spec.reported:
        _announce(spec)
    return spec


def _announce(spec: ModelSpec) -> None:
    import sys

    if spec.name not in _ANNOUNCED:
        _ANNOUNCED.add(spec.name)
        print(f"note: {spec.name} is a REPORTED, UNCONFIRMED architecture ({spec.source}); "
              "every figure for it rests on that report", file=sys.stderr)


_ANNOUNCED: set[str] = set()


def _resolve(text: str) -> ModelSpec:
    if not isinstance(text, str) or not text.strip():
        raise PlannerError("MODEL must be a zoo name, a config.json or folder, or a model "
                           "TOML file (got an empty name)")
    if len(text) > MAX_MODEL_ARG or "\x00" in text:
        raise PlannerError(f"MODEL {text[:40]!r}... is {len(text):,} characters: not a model "
                           f"name or path (at most {MAX_MODEL_ARG:,})")
    path = Path(text).expanduser()
    try:
        return _resolve_path(text, path)
    except OSError as exc:  # e.g. a name too long for the file system
        if len(text) > 200:
            raise PlannerError(f"MODEL {text[:40]!r}... ({len(text):,} characters) is neither "
                               "a zoo name nor a readable file") from None
        raise PlannerError(f"cannot read MODEL {text!r}: {exc.strerror}") from None


def _resolve_path(text: str, path: Path) -> ModelSpec:
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
    if "/" in text and path.exists():   # a path, not a zoo name: say what is wrong with it
        from planner.safe_io import check_regular
        check_regular(path, "MODEL file")
        raise PlannerError(f"MODEL file {text!r} is neither a config.json (or its folder) nor "
                           "a model TOML file (.toml)")
    return zoo.get(text)
