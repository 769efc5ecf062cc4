"""Where the data files live, installed or in a source checkout.

`pip install .` copies the top-level `hardware_profiles/` and `scenarios/` folders into the
package (see `package_dir` in setup.cfg); in a source checkout they sit beside `planner/`.
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """The folder holding `kind` ('hardware_profiles', 'scenarios', 'zoo', 'data')."""
    for candidate in (_HERE / kind, _HERE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"planner data folder {kind!r} is missing from the installation")


@functools.cache
def data_toml(name: str) -> dict:
    """planner/data/`name` parsed (cached: read once per process; callers must not mutate
    it)."""
    return tomllib.loads((data_dir("data") / name).read_text(encoding="utf-8"))
