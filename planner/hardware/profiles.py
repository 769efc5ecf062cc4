"""Device profiles from CSV tables, looked up by name.

Profiles live in ``hardware_profiles/*.csv`` (installed with the package); a user adds more with
``--hardware-file FILE`` or by naming a folder of CSVs in ``PLANNER_HARDWARE_PATH``
(``os.pathsep``-separated).  Columns are described in ``hardware_profiles/README.md``.  Peaks are
*dense* TFLOPS per precision (vendor sheets often print sparse figures, twice as large);
``memory`` carries its unit (``80GiB``, ``192GB``) so GB and GiB are never confused.

The tables are read with the standard library's `csv` (no pandas: a command that needs one
device starts in a fraction of the time).  Every row is validated like every other - built-in or
user - and a bad row becomes an error naming its file and line *when that device is asked for*,
so one bad row never poisons the other devices.  A later file's row replaces an earlier row of
the same name, or takes over a name that was an earlier row's alias.
"""
from __future__ import annotations

import csv
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError, closest
from planner.hardware.device import PRECISIONS, Device
from planner.names import loose_key, split_aliases, strict_key
from planner.resources import data_dir
from planner.units import parse_bytes

PEAK_COLUMNS = {p: (f"{p}_tops" if p == "int8" else f"{p}_tflops") for p in PRECISIONS}
REQUIRED = ("name", "memory", "memory_bandwidth_gbs")
ENV_PATH = "PLANNER_HARDWARE_PATH"
MAX_FILE_BYTES = 8 * 2**20     # a hardware table is a few hundred kB at most
# Numeric columns: (lower bound, upper bound); all must be finite and within these.
NUMERIC = {
    "memory_bandwidth_gbs": (0.0, 1e6), "interconnect_gbs": (0.0, 1e6), "tdp_w": (0.0, 1e6),
    "price_usd_per_hour": (0.0, 1e5), "default_mfu": (0.0, 1.0),
    "scale_up_domain": (1.0, 1e6), "scale_up_gbs": (0.0, 1e6), "scale_out_gbs": (0.0, 1e6),
    **{col: (0.0, 1e7) for col in PEAK_COLUMNS.values()},
}


@dataclass(frozen=True)
class Row:
    """One profile row as read: its fields (strings), where it came from, and either the
    `Device` or the reason it is not valid."""
    name: str
    fields: dict
    file: str
    line: int
    device: Device | None
    error: str | None


def _files(extra: tuple[str, ...], env: str) -> list[Path]:
    files = sorted(data_dir("hardware_profiles").glob("*.csv"))
    for folder in filter(None, env.split(os.pathsep)):
        p = Path(folder).expanduser()
        if not p.is_dir():
            raise PlannerError(f"{ENV_PATH} names {folder!r}, which is not a folder of CSV files")
        files.extend(sorted(p.glob("*.csv")))
    for f in extra:
        p = Path(f).expanduser()
        if not p.is_file():
            raise PlannerError(f"hardware file {f!r} does not exist or is not a regular file")
        files.append(p)
    return files


def _read(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of one CSV file; structural problems are errors naming the file."""
    from planner.safe_io import read_text
    text = read_text(path, "hardware file", MAX_FILE_BYTES)
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PlannerError(f"hardware file {path} lacks column(s) {', '.join(missing)} "
                           f"(required: {', '.join(REQUIRED)}; see hardware_profiles/README.md)")
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise PlannerError(f"hardware file {path} line {reader.line_num}: {exc}") from None


def _number(row: dict, col: str) -> float | None:
    """A numeric cell: None when empty; an error when not a finite number in range."""
    text = (row.get(col) or "").strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise PlannerError(f"{col} = {text!r} is not a number") from None
    lo, hi = NUMERIC[col]
    if not math.isfinite(value) or not lo <= value <= hi:
        raise PlannerError(f"{col} = {text!r} is out of range (valid: {lo:g} to {hi:g})")
    return value


def device_from_row(row: dict) -> Device:
    """A validated `Device` from one CSV row (strings), or `PlannerError` naming the cell."""
    name = strict_key(row.get("name") or "")
    if not name:
        raise PlannerError("name is empty")
    memory = parse_bytes((row.get("memory") or "").strip(), "memory")
    if not math.isfinite(memory) or memory <= 0:
        raise PlannerError(f"memory = {row.get('memory')!r} must be > 0")
    bw = _number(row, "memory_bandwidth_gbs")
    if bw is None or bw <= 0:
        raise PlannerError("memory_bandwidth_gbs must be a number > 0")
    peaks = {}
    for p, col in PEAK_COLUMNS.items():
        v = _number(row, col)
        if v:
            peaks[p] = v * 1e12
    unified_text = (row.get("unified_memory") or "").strip().lower()
    if unified_text not in ("", "true", "false", "1", "0", "yes", "no"):
        raise PlannerError(f"unified_memory = {row.get('unified_memory')!r} must be true or false")

    def opt(col: str, default: float) -> float:
        v = _number(row, col) if col in row else None
        return default if v is None else v

    return Device(name=name, memory_bytes=memory, bandwidth_bytes_per_s=bw * 1e9,
                  peak_flops=peaks, interconnect_bytes_per_s=opt("interconnect_gbs", 0.0) * 1e9,
                  tdp_w=opt("tdp_w", 0.0), price_per_hour=opt("price_usd_per_hour", math.nan),
                  default_mfu=opt("default_mfu", math.nan),
                  scale_up_domain=opt("scale_up_domain", math.nan),
                  scale_up_bytes_per_s=opt("scale_up_gbs", math.nan) * 1e9,
                  scale_out_bytes_per_s=opt("scale_out_gbs", math.nan) * 1e9,
                  unified_memory=unified_text in ("true", "1", "yes"),
                  category=(row.get("category") or "").strip(),
                  vendor=(row.get("vendor") or "").strip(),
                  aliases=tuple(split_aliases(row.get("aliases"))),
                  info={k: v for k, v in row.items() if k and v not in (None, "")})


def rows(extra: tuple[str, ...] = ()) -> dict[str, Row]:
    """Every profile by canonical name, in file order (built-in, PLANNER_HARDWARE_PATH, then
    `extra`); later rows replace earlier ones of the same name."""
    return _rows(tuple(extra), os.environ.get(ENV_PATH, ""))


@functools.cache
def _rows(extra: tuple[str, ...], env: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for path in _files(extra, env):
        for line, fields in _read(path):
            name = strict_key(fields.get("name") or "")
            if not name:
                continue
            try:
                dev, err = device_from_row(fields), None
            except PlannerError as exc:
                dev, err = None, f"hardware file {path.name} line {line} ({name}): {exc}"
            out.pop(name, None)
            out[name] = Row(name, {**fields, "file": path.name}, path.name, line, dev, err)
    return out


class _Index:
    """Names and aliases -> canonical name.  A strict match wins (case folded, ``_`` and spaces
    read as ``-``); else a loose match (separators dropped) when it names one device.  A later
    row takes over a name or alias that an earlier row used."""

    def __init__(self, table: dict[str, Row]) -> None:
        self.strict: dict[str, str] = {}
        self.loose: dict[str, set[str]] = {}
        for name, row in table.items():
            for alias in (name, *split_aliases(row.fields.get("aliases"))):
                k = strict_key(alias)
                old = self.strict.get(k)
                if old is not None and old != name:
                    self.loose.get(loose_key(k), set()).discard(old)
                self.strict[k] = name
                self.loose.setdefault(loose_key(alias), set()).add(name)
        self.all_names = list(self.strict)

    def find(self, name: str) -> str | None:
        hit = self.strict.get(strict_key(name))
        if hit is None:
            hits = self.loose.get(loose_key(name), set())
            hit = next(iter(hits)) if len(hits) == 1 else None
        return hit


def _index(extra: tuple[str, ...] = ()) -> _Index:
    return _index_of(tuple(extra), os.environ.get(ENV_PATH, ""))


@functools.cache
def _index_of(extra: tuple[str, ...], env: str) -> _Index:
    return _Index(_rows(extra, env))


def names(extra: tuple[str, ...] = ()) -> list[str]:
    return list(rows(tuple(extra)))


def get_device(name: str, extra: tuple[str, ...] = ()) -> Device:
    """The profile called `name` or one of its aliases (case-insensitive, '-'/'_'/'.' ignored);
    unknown names suggest the closest."""
    extra = tuple(extra)
    text = str(name)
    if len(text) > 200:
        raise PlannerError(f"device name of {len(text)} characters is too long (see "
                           "`planner hardware` for the names)")
    index = _index(extra)
    hit = index.find(text)
    if hit is None:
        near = closest(text, index.all_names)
        hint = ("did you mean " + ", ".join(repr(n) for n in near) + "?") if near else \
            "see `planner hardware` for the names"
        raise PlannerError(f"unknown device {text!r} ({hint})")
    row = rows(extra)[hit]
    if row.error:
        raise PlannerError(row.error)
    return row.device


def devices(extra: tuple[str, ...] = ()) -> list[Device]:
    """Every valid profile (rows with errors are left out)."""
    return [r.device for r in rows(tuple(extra)).values() if r.device is not None]


def table(extra: tuple[str, ...] = ()):
    """All valid profiles as a pandas DataFrame (the CSV fields, plus memory_bytes and file)."""
    import pandas as pd
    recs = []
    for r in rows(tuple(extra)).values():
        if r.device is None:
            continue
        recs.append({**r.fields, "name": r.name, "memory_bytes": r.device.memory_bytes})
    df = pd.DataFrame(recs)
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce")
    return df


def adhoc_device(tflops: float, memory: float | None = None, bandwidth: float | None = None,
                 precision: str = "bf16", name: str = "ad-hoc", tdp_w: float = 0.0,
                 price_per_hour: float = float("nan")) -> Device:
    """An inline device: ``--tflops 10 --memory 32GB`` (TFLOPS dense at `precision`; memory in
    bytes; bandwidth in bytes/s)."""
    if tflops is None or not math.isfinite(tflops) or tflops <= 0:
        raise PlannerError(f"--tflops must be a finite number > 0, got {tflops!r}")
    for what, v in (("--memory", memory), ("--bandwidth", bandwidth)):
        if v is not None and (not math.isfinite(v) or v <= 0):
            raise PlannerError(f"{what} must be > 0, got {v!r}")
    return Device(name=name, memory_bytes=float("inf") if memory is None else memory,
                  bandwidth_bytes_per_s=float("nan") if bandwidth is None else bandwidth,
                  peak_flops={precision: tflops * 1e12}, tdp_w=tdp_w,
                  price_per_hour=price_per_hour)
