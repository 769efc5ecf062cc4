"""Scenario files: TOML what-ifs, sweeps and uncertain inputs, read with `tomllib`.

A scenario names a model, a training plan (`[train]`) and/or a local-inference set-up
(`[infer]`), published figures it should reproduce (`[expect]`) and Monte-Carlo settings
(`[montecarlo]`).  Several plans go in one file as ``[[scenario]]`` tables; top-level tables are
defaults that each ``[[scenario]]`` overrides.  Any input may be

* a value: ``tokens = "300B"``, ``gpus = 1024``, ``hardware = "h100-sxm"``;
* a sweep: a list ``hardware = ["a100-80gb", "h100-sxm"]`` or a range
  ``gpus = {start = 256, stop = 8192, step = 256}`` (stop included) or
  ``context = {start = 512, stop = 32768, num = 7, log = true}``;
* a distribution (Monte-Carlo): ``mfu = {low = 0.3, high = 0.5}`` (uniform),
  ``price = {mean = 2.5, sd = 0.5}`` (normal, truncated to the key's valid range),
  ``{low, mode, high}`` (triangular), ``{median, sigma}`` (log-normal).

Nothing in a scenario is evaluated as code: every value goes through a typed parser, and unknown
keys and wrong types are errors naming the key and its line in the file.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import PlannerError, closest
from planner.plan.infer import INFER
from planner.plan.keys import Key, KeyTable
from planner.plan.optimal import OPTIMAL
from planner.plan.serve import SERVE
from planner.plan.train import TRAIN


# --- typed values ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sweep:
    """A list of values to sweep (the cartesian product with the other sweeps is evaluated)."""
    values: tuple


@dataclass(frozen=True)
class Dist:
    """An uncertain input: kind in uniform | normal | triangular | lognormal."""
    kind: str
    params: dict
    lower: float = -math.inf   # valid range of the key (normal draws are truncated to it)
    upper: float = math.inf

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` draws.  Uniform/triangular/lognormal by numpy; the truncated normal by
        scipy.stats.truncnorm (inverse-CDF, so every draw lies in the key's valid range)."""
        p = self.params
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], n)
        if self.kind == "triangular":
            return rng.triangular(p["low"], p["mode"], p["high"], n)
        if self.kind == "lognormal":
            return rng.lognormal(math.log(p["median"]), p["sigma"], n)
        from scipy.stats import truncnorm
        if p["sd"] == 0:
            return np.full(n, float(p["mean"]))
        a = (self.lower - p["mean"]) / p["sd"]
        b = (self.upper - p["mean"]) / p["sd"]
        return truncnorm.rvs(a, b, loc=p["mean"], scale=p["sd"], size=n, random_state=rng)


# --- the keys each section accepts: the plan key tables, one typed boundary --------------------

MONTECARLO = KeyTable("montecarlo", keys=[
    Key("samples", "count", "Monte-Carlo draws.", lower=1, upper=1e9, integer=True),
    Key("seed", "count", "Random seed.", lower=0, upper=2**63 - 1, integer=True),
    Key("model_error", "flag", "Also draw the estimator's own error: each sample scales the "
        "predicted times and rates by a published / predicted ratio of the estimator's "
        "held-out validation runs (planner/data/error_bands.toml), one draw per sample for "
        "every row; rows without a predicted figure or band are not scaled.", default=False),
])
MODEL_REF_KEYS = ("name", "config", "file")
TOP_KEYS = ("title", "source", "notes", "model", "train", "infer", "optimal", "serve",
            "expect", "montecarlo", "scenario")
SECTIONS: dict[str, KeyTable] = {"train": TRAIN, "infer": INFER, "optimal": OPTIMAL,
                                 "serve": SERVE, "montecarlo": MONTECARLO}


def _number(v: Any, what: str) -> float:
    """A plain finite number (an [expect] value, a distribution parameter)."""
    from planner.units import parse_number
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PlannerError(f"{what} must be a number, got {v!r}")
    return parse_number(v, what)   # finite, as a float (NaN, inf, 10**400 refused)


MAX_TITLE = 200


def _text(v: Any, what: str, limit: int = 1000) -> str:
    if not isinstance(v, str) or not v.strip():
        raise PlannerError(f"{what} must be a non-empty string, got {str(v)[:60]!r}")
    if len(v) > limit:
        raise PlannerError(f"{what} is {len(v):,} characters long (at most {limit:,})")
    return v


@dataclass
class Scenario:
    """One parsed scenario: each section maps key -> value | Sweep | Dist."""
    title: str
    path: Path
    source: str = ""
    notes: str = ""
    model: dict = field(default_factory=dict)      # {"name": ...} | {"config": ...} | inline
    train: dict = field(default_factory=dict)
    infer: dict = field(default_factory=dict)
    optimal: dict = field(default_factory=dict)
    serve: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)     # metric -> {"value", "rel"} | {"min","max"}
    montecarlo: dict = field(default_factory=dict)

    def inputs(self) -> dict:
        """The scenario as parsed, for reports: values as people write them (by their key's
        unit: ``15.0 T`` tokens, ``30.0 days``), sweeps and distributions described."""
        from planner.render.cells import format_input

        def show(section: str, key: str, v: Any) -> Any:
            table = SECTIONS.get(section)
            unit = table[key].unit if table is not None and key in table else ""
            one = lambda x: format_input(unit, x)  # noqa: E731
            if isinstance(v, Sweep):
                return [one(x) for x in v.values] if len(v.values) <= 12 else \
                    f"{len(v.values)} values from {one(v.values[0])} to {one(v.values[-1])}"
            if isinstance(v, Dist):
                return f"{v.kind}({', '.join(f'{k}={one(x)}' for k, x in v.params.items())})"
            return one(v)
        return {name: {k: show(name, k, v) for k, v in sec.items()}
                for name, sec in (("model", self.model), ("train", self.train),
                                  ("infer", self.infer), ("optimal", self.optimal))
                if sec}


# --- loading ----------------------------------------------------------------------------------

class _Locator:
    """Finds the line of a key in the TOML text, so errors can say where it is."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def where(self, section: str, key: str) -> str:
        header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]?\]")
        current = ""
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i, line in enumerate(self.lines, 1):
            m = header.match(line)
            if m:
                current = m.group(1).split(".")[-1]
                continue
            if current == section.split(".")[-1] and pat.match(line):
                return f"{self.path.name} line {i}"
            if section == "" and current == "" and pat.match(line):
                return f"{self.path.name} line {i}"
        for i, line in enumerate(self.lines, 1):
            if pat.match(line) or re.search(rf"[{{,]\s*{re.escape(key)}\s*=", line):
                return f"{self.path.name} line {i}"
        return self.path.name


MAX_SCENARIO_BYTES = 2**20   # scenario files are a few kB; a MiB holds ~200,000 swept values
MAX_SCENARIOS = 1000         # [[scenario]] tables in one file (~10 ms each)


def load(path: str | Path) -> list[Scenario]:
    """Parse and validate a scenario file into one or more `Scenario`s."""
    from planner.safe_io import read_text
    path = Path(path)
    return loads(read_text(path, "scenario file", MAX_SCENARIO_BYTES), path)


def loads(text: str, name: str | Path = "scenario.toml") -> list[Scenario]:
    """Parse and validate scenario TOML text (a pasted or uploaded file; `name` is what errors
    call it).  The same checks as `load` (size, NUL bytes, nesting); nothing is read from disk
    here, but a [model] that names a config or file is resolved later, by the runner."""
    path = Path(name)
    if len(text) > MAX_SCENARIO_BYTES or "\x00" in text:
        raise PlannerError(f"{path.name} is " + ("larger than the 1 MiB a scenario can be"
                                                  if len(text) > MAX_SCENARIO_BYTES else
                                                  "not text (it holds NUL bytes)"))
    return list(_parse(path, text))


@functools.lru_cache(maxsize=4)   # `planner run` reads a file twice (sections, then rows)
def _parse(path: Path, text: str) -> tuple[Scenario, ...]:
    from planner.safe_io import parse_toml
    data = parse_toml(text, path.name)
    loc = _Locator(path, text)
    for key in data:
        if key not in TOP_KEYS:
            raise _unknown_key(loc, "", key, TOP_KEYS)
    tables = data.get("scenario")
    if tables is None:
        return (_scenario(data, {}, loc, path, 0),)
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PlannerError(f"{loc.where('', 'scenario')}: 'scenario' must be [[scenario]] tables")
    if len(tables) > MAX_SCENARIOS:
        raise PlannerError(f"{path.name} holds {len(tables):,} [[scenario]] tables (at most "
                           f"{MAX_SCENARIOS:,}; sweep an input with a list or range instead)")
    defaults = {k: v for k, v in data.items() if k != "scenario"}
    return tuple(_scenario(t, defaults, loc, path, i) for i, t in enumerate(tables))


def _unknown_key(loc: _Locator, section: str, key: str, valid) -> PlannerError:
    near = closest(key, valid)
    hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else \
        "valid: " + ", ".join(valid)
    where = f"[{section}]" if section else "the top level"
    shown = repr(key) if len(key) <= 60 else f"{key[:40]!r}... ({len(key):,} characters)"
    return PlannerError(f"{loc.where(section, key)}: unknown key {shown} in {where} ({hint})")


def _scenario(table: dict, defaults: dict, loc: _Locator, path: Path, index: int) -> Scenario:
    for key in table:
        if key not in TOP_KEYS or key == "scenario":
            raise _unknown_key(loc, "scenario", key, [k for k in TOP_KEYS if k != "scenario"])
    merged: dict = {}
    for key in TOP_KEYS:
        base, over = defaults.get(key), table.get(key)
        if isinstance(base, dict) and isinstance(over, dict):
            merged[key] = {**base, **over}
        elif over is not None:
            merged[key] = over
        elif base is not None:
            merged[key] = base
    title = merged.get("title") or (f"{path.stem} #{index + 1}" if "scenario" in defaults or
                                    index else path.stem)
    for key in ("title", "source", "notes"):
        if key in merged:
            _text(merged[key], f"{loc.where('', key)}: {key}", MAX_TITLE if key == "title"
                  else 10_000)
    sc = Scenario(title=str(title), path=path, source=str(merged.get("source", "")),
                  notes=str(merged.get("notes", "")))
    for section, table in SECTIONS.items():
        raw = merged.get(section, {})
        if not isinstance(raw, dict):
            raise PlannerError(f"{loc.where('', section)}: [{section}] must be a table")
        parsed = {}
        for key, value in raw.items():
            if key not in table or not table[key].scenario:
                raise _unknown_key(loc, section, key, table.scenario_keys)
            parsed[key] = _value(table[key], value,
                                 f"{loc.where(section, key)}: {section}.{key}")
        try:
            table.check_conflicts(parsed)
        except PlannerError as exc:
            raise PlannerError(f"{path.name}: [{section}] of scenario {sc.title!r}: {exc}") \
                from None
        setattr(sc, section, parsed)
    sc.model = _model_section(merged.get("model", {}), loc)
    sc.expect = _expect_section(merged.get("expect", {}), loc)
    if not (sc.train or sc.infer or sc.optimal or sc.serve):
        raise PlannerError(f"{path.name}: scenario {sc.title!r} has no [train], [infer], "
                           "[optimal] or [serve] section (nothing to compute)")
    bare = [k for k in ("flops", "params") if k in sc.train]
    if sc.model and bare:
        raise PlannerError(f"{path.name}: scenario {sc.title!r} gives both a [model] and "
                           f"train.{bare[0]} (a bare budget replaces the model; give one)")
    if (sc.train and not sc.model and not bare) or ((sc.infer or sc.serve) and not sc.model):
        raise PlannerError(f"{path.name}: scenario {sc.title!r} needs a [model] (name = ..., "
                           "config = ..., or inline architecture keys)")
    return sc


def _value(key: Key, value: Any, what: str) -> Any:
    """A scalar, a Sweep (list or range) or a Dist, each element parsed by the key's parser
    (the same one the command line uses)."""
    if isinstance(value, list):
        if not value:
            raise PlannerError(f"{what}: an empty list sweeps nothing")
        _check_axis(len(value), what)
        return Sweep(tuple(key.parse(v, what) for v in value))
    if isinstance(value, dict):
        if not key.numeric:
            raise PlannerError(f"{what}: a range or distribution needs a numeric key "
                               "(give a list to sweep)")
        return _range_or_dist(key, value, what)
    return key.parse(value, what)


MAX_AXIS = 1_000_000  # values on one swept axis (held in memory; more is not a plan, a grid)


def _check_axis(n: float, what: str) -> None:
    if n > MAX_AXIS:
        raise PlannerError(f"{what}: a range of {n:,.0f} values is too large for memory (at "
                           f"most {MAX_AXIS:,} per axis); narrow it or take a larger step")


_DISTS = {
    frozenset({"low", "high"}): "uniform",
    frozenset({"mean", "sd"}): "normal",
    frozenset({"low", "mode", "high"}): "triangular",
    frozenset({"median", "sigma"}): "lognormal",
}


def _range_or_dist(key: Key, spec: dict, what: str) -> Sweep | Dist:
    keys = set(spec)
    if "start" in keys:
        allowed = {"start", "stop", "step", "num", "log"}
        if keys - allowed or "stop" not in keys or not ({"step", "num"} & keys):
            raise PlannerError(f"{what}: a range needs start, stop and step (or num, with "
                               f"log = true for geometric spacing); got {sorted(keys)}")
        start, stop = key.parse(spec["start"], what), key.parse(spec["stop"], what)
        if stop < start:
            raise PlannerError(f"{what}: a range needs start <= stop")
        if "step" in spec:
            step = key.parse(spec["step"], what + ".step") if not isinstance(
                spec["step"], (int, float)) or isinstance(spec["step"], bool) else \
                _number(spec["step"], what + ".step")
            if not step > 0:
                raise PlannerError(f"{what}: a range needs step > 0")
            if key.integer and step != int(step):
                raise PlannerError(f"{what}: {key.name} counts things, so the step must be a "
                                   f"whole number, not {step:g}")
            count = math.floor((stop - start) / step + 1e-9) + 1
            _check_axis(count, what)
            values = start + step * np.arange(int(count))
        else:
            num = MONTECARLO["samples"].parse(spec["num"], what + ".num")
            _check_axis(num, what)
            if spec.get("log", False) is not False and not isinstance(spec.get("log"), bool):
                raise PlannerError(f"{what}.log must be true or false")
            if spec.get("log", False):
                if start <= 0:
                    raise PlannerError(f"{what}: a log range needs start > 0")
                values = np.geomspace(start, stop, num)
            else:
                values = np.linspace(start, stop, num)
        if key.integer:
            values = np.unique(np.round(values).astype(np.int64))
        for v in (values[0], values[-1]):
            key.check(v.item(), what)
        return Sweep(tuple(values.tolist()))
    kind = _DISTS.get(frozenset(keys - {"dist"}))
    if kind is None:
        raise PlannerError(f"{what}: cannot read {spec!r} (a range {{start, stop, step}} or a "
                           "distribution {low, high} | {mean, sd} | {low, mode, high} | "
                           "{median, sigma})")
    if key.integer or key.categorical:
        raise PlannerError(f"{what}: a distribution needs a continuous key; {key.name} is "
                           + ("a whole number" if key.integer else "resolved per value")
                           + ": sweep it with a list or a range {start, stop, step} instead")
    params = {k: (key.parse(v, f"{what}.{k}") if isinstance(v, str) and k not in ("sd", "sigma")
                  else _number(v, f"{what}.{k}"))
              for k, v in spec.items() if k != "dist"}
    bad = ""
    if kind in ("uniform", "triangular") and not params["low"] < params["high"]:
        bad = "low must be below high"
    elif kind == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
        bad = "mode must lie between low and high"
    elif kind == "normal" and params["sd"] < 0:
        bad = "sd must be >= 0"
    elif kind == "lognormal" and (params["median"] <= 0 or params["sigma"] < 0):
        bad = "median must be > 0 and sigma >= 0"
    elif kind == "normal" and not key.lower <= params["mean"] <= key.upper:
        bad = f"mean must lie in the valid range ({key.range_text()})"
    if not bad and kind in ("uniform", "triangular"):
        key.check(params["low"], what)
        key.check(params["high"], what)
    if not bad and kind == "lognormal":
        key.check(params["median"], what)
    if bad:
        raise PlannerError(f"{what}: invalid {kind} distribution {spec!r} ({bad})")
    return Dist(kind, params, key.lower, key.upper)


MAX_MODELS = 1000   # models in one [model] sweep (each is read and resolved)


def _model_section(raw: Any, loc: _Locator) -> dict:
    if isinstance(raw, str):
        return {"name": raw}
    if not isinstance(raw, dict):
        raise PlannerError(f"{loc.where('', 'model')}: [model] must be a table or a name")
    refs = [k for k in MODEL_REF_KEYS if k in raw]
    if len(refs) > 1:
        raise PlannerError(f"{loc.where('model', refs[1])}: give one of name, config, file")
    if refs:
        extra = set(raw) - set(refs)
        if extra:
            raise _unknown_key(loc, "model", sorted(extra)[0], list(MODEL_REF_KEYS))
        value = raw[refs[0]]
        if isinstance(value, list):
            what = f"{loc.where('model', refs[0])}: model.{refs[0]}"
            if not value or len(value) > MAX_MODELS:
                raise PlannerError(f"{what}: a sweep of 1 to {MAX_MODELS:,} models, got "
                                   f"{len(value):,}")
            return {refs[0]: Sweep(tuple(_text(v, what) for v in value))}
        return {refs[0]: _text(value, f"{loc.where('model', refs[0])}: model.{refs[0]}")}
    if raw:
        from planner.model.spec import ModelSpec
        try:
            ModelSpec.from_dict({"name": "inline", **raw}, where="[model]")
        except PlannerError as exc:
            m = re.search(r"key in \[model\]: '([^']+)'", str(exc))
            prefix = loc.where("model", m.group(1)) if m else loc.path.name
            raise PlannerError(f"{prefix}: {exc}") from None
        return {"inline": raw}
    return {}


def _expect_section(raw: Any, loc: _Locator) -> dict:
    if not isinstance(raw, dict):
        raise PlannerError(f"{loc.where('', 'expect')}: [expect] must be a table")
    out = {}
    for metric, spec in raw.items():
        what = f"{loc.where('expect', metric)}: expect.{metric}"
        if isinstance(spec, bool):
            out[metric] = {"equals": spec}
        elif isinstance(spec, (int, float)):
            out[metric] = {"value": _number(spec, what), "rel": 0.02}
        elif isinstance(spec, dict) and set(spec) <= {"value", "rel", "abs", "min", "max", "source"}:
            out[metric] = {k: (_text(v, what) if k == "source" else _number(v, what))
                           for k, v in spec.items()}
        else:
            raise PlannerError(f"{what}: expected a number, true/false, or a table with value "
                               "(and rel or abs) or min/max")
    return out
