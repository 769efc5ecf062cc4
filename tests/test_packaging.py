"""The package as `pip install .` builds it (not an editable install): every module folder is
a listed package, and every data file the code reads is package data."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_every_module_folder_is_a_listed_package():
    """A folder of modules without __init__.py or missing from setup.cfg works in a checkout
    and an editable install, and is absent from a wheel (planner.estimate.serving was)."""
    listed = set(_setup()["options"]["packages"].split())
    folders = {p.parent for p in (ROOT / "planner").rglob("*.py")}
    for folder in folders:
        name = ".".join(folder.relative_to(ROOT).parts)
        assert (folder / "__init__.py").exists(), f"{name} has no __init__.py"
        assert name in listed, f"{name} is not in setup.cfg [options] packages"


def _glob(rel: str, pattern: str) -> bool:
    """setuptools' package_data glob: `*` stays within one folder."""
    rx = "".join("[^/]*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, rel) is not None


def test_every_data_file_is_package_data():
    patterns = {}
    for line in _setup()["options.package_data"].items():
        patterns[line[0]] = [p.strip() for p in line[1].split(",")]
    for package, folder in (("planner.data", ROOT / "planner" / "data"),
                            ("planner.model.zoo", ROOT / "planner" / "model" / "zoo"),
                            ("planner.ui", ROOT / "planner" / "ui")):
        for f in folder.rglob("*"):
            if not f.is_file() or f.suffix in (".py", ".pyc") or "__pycache__" in f.parts:
                continue
            rel = f.relative_to(folder).as_posix()
            assert any(_glob(rel, p) for p in patterns[package]), \
                f"{package}: {rel} is not matched by package_data {patterns[package]}"
