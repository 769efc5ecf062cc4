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

from planner.errors import PlannerError
from planner.hardware.device import PRECISIONS, Device
from planner.names import loose_key, lookup, split_aliases, strict_key
from planner.resources import data_dir
from planner.units import parse_bytes

PEAK_COLUMNS = {p: (f"{p}_tops" if p == "int8" else f"{p}_tflops") for p in PRECISIONS}
REQUIRED = ("name", "memory", "memory_bandwidth_gbs")
ENV_PATH = "PLANNER_HARDWARE_PATH"
MAX_FILE_BYTES = 8 * 2**20     # a hardware table is a few hundred kB at most
MAX_FILE_ROWS = 10_000
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
    out = []
    try:
        for row in reader:
            if len(out) >= MAX_FILE_ROWS:
                raise PlannerError(f"hardware file {path} has more than {MAX_FILE_ROWS:,} rows "
                                   "(a device table is a few hundred)")
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise PlannerError(f"hardware file {path} line {reader.line_num}: {exc}") from None
    return out


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
    read as ``-``); else a loose match (separators dropped) when it names one device; else the
    words a person types (`match_words`).  A later row takes over a name or alias that an
    earlier row used."""

    def __init__(self, table: dict[str, Row]) -> None:
        self.strict: dict[str, str] = {}
        self.loose: dict[str, set[str]] = {}
        self.words: list[tuple[str, frozenset, frozenset]] = []
        for name, row in table.items():
            memory = _memory_words(row)
            for alias in (name, *split_aliases(row.fields.get("aliases"))):
                k = strict_key(alias)
                old = self.strict.get(k)
                if old is not None and old != name:
                    self.loose.get(loose_key(k), set()).discard(old)
                self.strict[k] = name
                self.loose.setdefault(loose_key(alias), set()).add(name)
                self.words.append((name, frozenset(_words(alias)), memory))
        # canonical names, smallest memory first (so candidates read m2-8gb, m2-16gb, ...)
        self.canonical = sorted(table, key=lambda n: (
            table[n].device.memory_bytes if table[n].device else math.inf, n))

    def find(self, name: str) -> str | None:
        return lookup(self.strict, self.loose, name)

    def match_words(self, text: str) -> list[str]:
        """Devices whose name or an alias holds every word of `text` (product words such as
        "MacBook Air" or "GeForce" dropped; "16", "16GB", "16 GB" read as a memory size that
        the device's memory also answers to), keeping those with the fewest extra words: ``m2
        16gb`` -> m2-16gb (m2-pro-16gb has the extra word "pro"), ``m2`` -> every plain M2."""
        query = frozenset(_words(text, typed=True))
        if not query:
            return []
        best: dict[str, int] = {}
        for name, words, memory in self.words:
            if not query <= words | memory:
                continue
            extra = len(words - query - memory)
            if extra < best.get(name, 10**6):
                best[name] = extra
        if not best:
            return []
        low = min(best.values())
        return [n for n in self.canonical if best.get(n) == low]

    def closest(self, text: str, n: int = 3) -> list[str]:
        """The `n` canonical names nearest to `text`: shared words first, then spelling
        (difflib ratio of the strict keys) - always `n`, never an alphabetical list."""
        import difflib
        key = strict_key(text)
        query = frozenset(_words(text, typed=True))
        score: dict[str, tuple] = {}
        for name, words, memory in self.words:
            shared = len(query & (words | memory))
            ratio = difflib.SequenceMatcher(None, key, "-".join(sorted(words))).ratio()
            ratio = max(ratio, difflib.SequenceMatcher(None, key, name).ratio())
            score[name] = max(score.get(name, (0, 0.0)), (shared, ratio))
        return sorted(score, key=lambda k: (-score[k][0], -score[k][1], k))[:n]


# Words that name a product line or a vendor, not a device in the tables.
_PRODUCT_WORDS = {"apple", "nvidia", "geforce", "amd", "radeon", "intel", "google", "the",
                  "gpu", "card", "graphics", "with", "and", "unified", "memory", "ram", "vram",
                  "macbook", "mac", "imac", "mini", "studio", "air", "chip"}
_MACHINE_WORDS = {"macbook", "mac", "imac"}
_MACHINE_SUFFIX = {"pro", "air", "mini", "studio"}


def _words(text: str, typed: bool = False) -> list[str]:
    """``MacBook Air M2 16 GB`` -> ["m2", "16gb"]: lower case, split at separators; a number
    followed by "gb"/"gib"/"g" becomes one "<n>gb" word; with `typed`, product words are
    dropped ("MacBook Pro" is a machine, "m3 pro" a chip) and GPU core counts ("40-core",
    "40c") ignored."""
    import re
    raw = [t for t in re.split(r"[\s_\-./,()]+", str(text).lower()) if t]
    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if typed and t in _MACHINE_WORDS:
            i += 2 if nxt in _MACHINE_SUFFIX else 1
            continue
        m = re.fullmatch(r"(\d+)(gb|gib|g)", t)
        if m:
            out.append(m.group(1) + "gb")
        elif t.isdigit() and nxt in ("gb", "gib", "g"):
            out.append(t + "gb")
            i += 1
        elif typed and (re.fullmatch(r"\d+c|\d+core|\d+cores", t) or
                        (t.isdigit() and nxt in ("core", "cores"))):
            i += 2 if t.isdigit() else 1
            continue
        elif typed and t in ("core", "cores"):
            pass
        elif not (typed and t in _PRODUCT_WORDS):
            out.append(t)
        i += 1
    return out


def _memory_words(row: Row) -> frozenset:
    """The words a device's memory answers to: "16gb" and "16" for 16 GiB (and for 16e9 B)."""
    if row.device is None:
        return frozenset()
    mem = row.device.memory_bytes
    sizes = {round(mem / 2**30), round(mem / 1e9)}
    return frozenset(w for n in sizes for w in (f"{n}gb", str(n)))


def _index(extra: tuple[str, ...] = ()) -> _Index:
    return _index_of(tuple(extra), os.environ.get(ENV_PATH, ""))


@functools.cache
def _index_of(extra: tuple[str, ...], env: str) -> _Index:
    return _Index(_rows(extra, env))


def names(extra: tuple[str, ...] = ()) -> list[str]:
    return list(rows(tuple(extra)))


def get_device(name: str, extra: tuple[str, ...] = ()) -> Device:
    """The profile called `name`: its canonical name or an alias first (case-insensitive,
    '-'/'_'/' ' alike, then separators ignored), else the words a person types
    (``"macbook air m2 16gb"``, ``m2-16``, ``geforce rtx 4090``).  A name that fits several
    devices equally well is an error listing them (``m2``: m2-8gb, m2-16gb, m2-24gb); an
    unknown one suggests the closest three."""
    extra = tuple(extra)
    text = str(name)
    if len(text) > 200:
        raise PlannerError(f"device name of {len(text)} characters is too long (see "
                           "`planner hardware` for the names)")
    index = _index(extra)
    hit = index.find(text)
    if hit is None:
        hits = index.match_words(text)
        if len(hits) == 1:
            hit = hits[0]
        elif len(hits) > 1:
            shown = ", ".join(hits[:8]) + (f", ... ({len(hits)} in all)" if len(hits) > 8
                                           else "")
            raise PlannerError(f"device {text!r} is ambiguous: it could be {shown} (give one "
                               "of these names)")
    if hit is None:
        near = index.closest(text)
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
