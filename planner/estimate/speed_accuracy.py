"""How far to trust a local speed figure: the held-out (leave-one-device-out) error of the step
model for the class of device that produced it, read from
``planner/data/local_speed_accuracy.toml`` (data with its source; docs/local_speed.md)."""
from __future__ import annotations

from planner.resources import data_toml


def _classes() -> dict[str, dict]:
    return data_toml("local_speed_accuracy.toml")["class"]


def device_class(backend: str | None, category: str, vendor: str) -> str | None:
    """The name of the class a device run on `backend` belongs to, or None where the step
    model was not validated."""
    for name, e in _classes().items():
        if (e["backend"], e["category"], e["vendor"]) == (backend, category, vendor):
            return name
    return None


def held_out(backend: str | None, category: str, vendor: str) -> dict | None:
    """The class entry (label, decode_median, decode_worst, prefill_median, ... as fractions)
    of a device run on `backend`, or None where the step model was not validated."""
    name = device_class(backend, category, vendor)
    return None if name is None else _classes()[name]
