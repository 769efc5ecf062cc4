"""The built-in zoo: known models as TOML data files in this folder, one per family.

Each ``[[model]]`` entry holds the architecture (the `ModelSpec` fields), its `source`, and
published figures used by the tests (`published_params`, `exact_params`, `train_tokens`, ...).
Names are lower-case with hyphens; look-ups ignore case and are tolerant of ``_``, ``.`` and
spaces (`planner.names.NameIndex`).
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from planner import safe_io
from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec
from planner.names import NameIndex

_FOLDER = Path(__file__).resolve().parent


MAX_MODEL_FILE_BYTES = 4 * 2**20


def load_file(path: Path) -> list[ModelSpec]:
    """All models of one zoo/model TOML file (``[[model]]`` entries, a ``[model]`` table, or
    the keys at top level).  Read defensively (`planner.safe_io`): a regular UTF-8 file of at
    most 4 MiB, nested at most 64 deep."""
    text = safe_io.read_text(path, "model file", MAX_MODEL_FILE_BYTES)
    if safe_io.json_depth(text) > safe_io.MAX_JSON_DEPTH:  # arrays/tables nest like JSON
        raise PlannerError(f"model file {str(path)!r} is nested more than "
                           f"{safe_io.MAX_JSON_DEPTH} levels deep (not a model description)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlannerError(f"malformed TOML in {path}: {exc}") from None
    except RecursionError:
        raise PlannerError(f"model file {str(path)!r} is nested too deeply") from None
    entries = data.get("model", data)
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        raise PlannerError(f"{Path(path).name}: 'model' must be a table or an array of tables "
                           f"([[model]]), got {type(entries).__name__}")
    specs = []
    for i, e in enumerate(entries):
        where = f"{Path(path).name} entry {i + 1}" if len(entries) > 1 else Path(path).name
        try:
            specs.append(ModelSpec.from_dict(e, where=where))
        except PlannerError as exc:
            msg = str(exc)
            raise PlannerError(msg if where in msg else f"{where}: {msg}") from None
    return specs


@functools.cache
def models() -> dict[str, ModelSpec]:
    """Every zoo model by name, in file order."""
    out: dict[str, ModelSpec] = {}
    for path in sorted(_FOLDER.glob("*.toml")):
        for spec in load_file(path):
            out[spec.name] = spec
    return out


@functools.cache
def _index() -> NameIndex:
    return NameIndex((name, spec.aliases) for name, spec in models().items())


def get(name: str) -> ModelSpec:
    """The zoo model called `name` (or one of its aliases); unknown names suggest the closest."""
    if len(name) > 200:
        raise PlannerError(f"unknown model {name[:40]!r}... ({len(name):,} characters; zoo names "
                           "are short, see `planner models`, or give a config.json or model "
                           "TOML path)")
    hit = _index().find(name)
    if hit is None:
        raise unknown("model", name, _index().all_names,
                      "see `planner models`, or give a config.json or model TOML path")
    return models()[hit]
