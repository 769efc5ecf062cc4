"""Defaults of plan keys and the notes printed under answers, read from
``planner/data/plan_defaults.toml`` (data, with sources, not code)."""
from __future__ import annotations


from planner.resources import data_toml


def _data() -> dict:
    return data_toml("plan_defaults.toml")


def defaults(kind: str) -> dict:
    """The default values of one plan kind ('train', 'infer')."""
    return dict(_data().get(kind, {}))


def note(name: str) -> str:
    return _data()["notes"][name]
