"""The built-in zoo: known models as TOML data files in this folder, one per family.

Each ``[[model]]`` entry holds the architecture (the `ModelSpec` fields), its `source`, and
published figures used by the tests (`published_params`, `exact_params`, `train_tokens`, ...).
Names are lower-case with hyphens; look-ups ignore case and are tolerant of ``_``, ``.`` and
spaces (`planner.names.NameIndex`).
"""
from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

from planner import safe_io
from planner.errors import PlannerError, unknown
from planner.model.spec import ModelSpec
from planner.names import NameIndex

_FOLDER = Path(__file__).resolve().parent


MAX_MODEL_FILE_BYTES = 4 * 2**20


def load_file(path: Path, builtin: bool = False) -> list[ModelSpec]:
    """All models of one zoo/model TOML file (``[[model]]`` entries, a ``[model]`` table, or
    the keys at top level).  A user's file is read defensively (`planner.safe_io`): a regular
    UTF-8 file of at most 4 MiB, nested at most 64 deep."""
    text = safe_io.read_text(path, "model file", MAX_MODEL_FILE_BYTES)
    if builtin:
        data = tomllib.loads(text)
    else:  # nesting limits (arrays, inline tables, dotted keys) and one-line errors
        data = safe_io.parse_toml(text, f"model file {str(path)!r}")
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
    for path in _files():
        for spec in _file_models(path):
            out[spec.name] = spec
    return out


def _files() -> list[Path]:
    return sorted(_FOLDER.glob("*.toml"))


@functools.cache
def _file_models(path: Path) -> tuple[ModelSpec, ...]:
    return tuple(load_file(path, builtin=True))


_NAME = re.compile(r'^name = "([^"]+)"\s*$', re.M)
_ALIASES = re.compile(r'^aliases = \[([^\]]*)\]\s*$', re.M)


@functools.cache
def _catalogue() -> tuple[NameIndex, dict[str, Path]]:
    """Names and aliases of every zoo model, and the file holding each, from a quick scan of
    the files' ``name =`` / ``aliases =`` lines (so one look-up parses one file, not all);
    `test_zoo_catalogue_matches_the_files` checks the scan against the parsed files."""
    entries: list[tuple[str, list[str]]] = []
    where: dict[str, Path] = {}
    for path in _files():
        text = path.read_text(encoding="utf-8")
        for block in text.split("[[model]]")[1:]:
            name = _NAME.search(block)
            if name is None:  # pragma: no cover - a zoo file not in the usual layout
                return _catalogue_parsed()
            aliases = _ALIASES.search(block)
            names = re.findall(r'"([^"]+)"', aliases.group(1)) if aliases else []
            entries.append((name.group(1), names))
            where[name.group(1)] = path
    return NameIndex(entries), where


def _catalogue_parsed() -> tuple[NameIndex, dict[str, Path]]:
    where = {spec.name: path for path in _files() for spec in _file_models(path)}
    return (NameIndex((n, spec.aliases) for n, spec in models().items()), where)


def get(name: str) -> ModelSpec:
    """The zoo model called `name` (or one of its aliases); unknown names suggest the closest."""
    if len(name) > 200:
        raise PlannerError(f"unknown model {name[:40]!r}... ({len(name):,} characters; zoo names "
                           "are short, see `planner models`, or give a config.json or model "
                           "TOML path)")
    index, where = _catalogue()
    hit = index.find(name)
    if hit is None:
        raise unknown("model", name, index.all_names,
                      "see `planner models`, or give a config.json or model TOML path")
    return next(spec for spec in _file_models(where[hit]) if spec.name == hit)
