"""Defaults of plan keys and the notes printed under answers, read from
``planner/data/plan_defaults.toml`` (data, with sources, not code)."""
from __future__ import annotations

import functools
import tomllib

from planner.resources import data_dir


@functools.cache
def _data() -> dict:
    return tomllib.loads((data_dir("data") / "plan_defaults.toml").read_text(encoding="utf-8"))


def defaults(kind: str) -> dict:
    """The default values of one plan kind ('train', 'infer')."""
    return dict(_data().get(kind, {}))


def note(name: str) -> str:
    return _data()["notes"][name]
