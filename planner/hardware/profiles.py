"""The hardware input: device profiles from CSV tables, looked up by name.

Profiles live in ``hardware_profiles/*.csv`` (installed with the package); a user adds more with
``--hardware-file FILE`` or by naming a folder of CSVs in ``PLANNER_HARDWARE_PATH``
(``os.pathsep``-separated).  Columns are described in ``hardware_profiles/README.md``.  Peaks are
*dense* TFLOPS per precision (vendor sheets often print sparse figures, twice as large);
``memory`` carries its unit (``80GiB``, ``192GB``) so GB and GiB are never confused.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from planner.errors import PlannerError, unknown
from planner.names import NameIndex, split_aliases
from planner.resources import data_dir
from planner.units import parse_bytes

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8")
PEAK_COLUMNS = {p: (f"{p}_tops" if p == "int8" else f"{p}_tflops") for p in PRECISIONS}
REQUIRED = ("name", "memory", "memory_bandwidth_gbs")
ENV_PATH = "PLANNER_HARDWARE_PATH"


@dataclass(frozen=True)
class Device:
    """One accelerator (or machine).  Units: bytes, bytes/s, FLOP/s, W, USD per device-hour."""

    name: str
    memory_bytes: float
    bandwidth_bytes_per_s: float
    peak_flops: dict[str, float]          # precision -> dense FLOP/s
    interconnect_bytes_per_s: float = 0.0
    tdp_w: float = 0.0
    price_per_hour: float = float("nan")
    default_mfu: float = float("nan")
    unified_memory: bool = False
    category: str = ""
    vendor: str = ""
    aliases: tuple[str, ...] = ()
    info: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s at `precision`; a clear error if the device lacks it."""
        p = precision.lower()
        if p not in PRECISIONS:
            raise unknown("precision", precision, PRECISIONS)
        value = self.peak_flops.get(p)
        if not value:
            have = [k for k in PRECISIONS if self.peak_flops.get(k)]
            raise PlannerError(f"device {self.name!r} has no {p} peak in its profile "
                               f"(available: {', '.join(have) or 'none'})")
        return value

    def best_training_precision(self) -> str:
        """bf16 where the device has it, else fp16, else fp32 (mixed-precision training)."""
        for p in ("bf16", "fp16", "fp32"):
            if self.peak_flops.get(p):
                return p
        raise PlannerError(f"device {self.name!r} has no bf16/fp16/fp32 peak in its profile")


def _files(extra: tuple[str, ...]) -> list[Path]:
    files = sorted(data_dir("hardware_profiles").glob("*.csv"))
    for folder in filter(None, os.environ.get(ENV_PATH, "").split(os.pathsep)):
        p = Path(folder).expanduser()
        if not p.is_dir():
            raise PlannerError(f"{ENV_PATH} names {folder!r}, which is not a folder of CSV files")
        files.extend(sorted(p.glob("*.csv")))
    for f in extra:
        p = Path(f).expanduser()
        if not p.is_file():
            raise PlannerError(f"hardware file {f!r} does not exist")
        files.append(p)
    return files


@functools.cache
def table(extra: tuple[str, ...] = ()) -> "pd.DataFrame":
    """All profiles as one DataFrame (built-in, then PLANNER_HARDWARE_PATH, then `extra`
    files; a later row with the same name replaces an earlier one)."""
    import pandas as pd

    frames = []
    for path in _files(extra):
        try:
            df = pd.read_csv(path, dtype={"name": str, "aliases": str, "memory": str})
        except Exception as exc:  # pandas raises several types for malformed CSV
            raise PlannerError(f"cannot read hardware file {path}: {exc}") from None
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise PlannerError(f"hardware file {path} lacks column(s) {', '.join(missing)} "
                               f"(required: {', '.join(REQUIRED)}; see hardware_profiles/README.md)")
        df["file"] = path.name
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["name"] = df["name"].str.strip().str.lower()
    df = df.drop_duplicates("name", keep="last").reset_index(drop=True)
    df["memory_bytes"] = [parse_bytes(m, f"memory of {n}") for n, m in zip(df["name"],
                                                                            df["memory"])]
    return df


def _row_to_device(row: dict) -> Device:
    def num(key: str, default: float = float("nan")) -> float:
        v = row.get(key)
        try:
            v = float(v)
        except (TypeError, ValueError):
            return default
        return default if v != v else v

    peaks = {p: num(col) * 1e12 for p, col in PEAK_COLUMNS.items() if num(col, 0.0) > 0}
    aliases = tuple(split_aliases(row.get("aliases")))
    unified = str(row.get("unified_memory", "")).strip().lower() in ("true", "1", "yes")
    return Device(name=row["name"], memory_bytes=float(row["memory_bytes"]),
                  bandwidth_bytes_per_s=num("memory_bandwidth_gbs") * 1e9, peak_flops=peaks,
                  interconnect_bytes_per_s=num("interconnect_gbs", 0.0) * 1e9,
                  tdp_w=num("tdp_w", 0.0), price_per_hour=num("price_usd_per_hour"),
                  default_mfu=num("default_mfu"), unified_memory=unified,
                  category=str(row.get("category") or ""), vendor=str(row.get("vendor") or ""),
                  aliases=aliases, info={k: v for k, v in row.items() if v == v})


@functools.cache
def _index(extra: tuple[str, ...]) -> NameIndex:
    df = table(extra)
    aliases = df["aliases"] if "aliases" in df else [None] * len(df)
    return NameIndex((name, split_aliases(text)) for name, text in zip(df["name"], aliases))


def names(extra: tuple[str, ...] = ()) -> list[str]:
    return list(table(extra)["name"])


def get_device(name: str, extra: tuple[str, ...] = ()) -> Device:
    """The profile called `name` or one of its aliases (case-insensitive, '-'/'_'/'.' ignored);
    unknown names suggest the closest."""
    extra = tuple(extra)
    hit = _index(extra).find(name)
    df = table(extra)
    if hit is None:
        raise unknown("device", name, _index(extra).all_names, "see `planner hardware`")
    return _row_to_device(df[df["name"] == hit].iloc[0].to_dict())


def adhoc_device(tflops: float, memory: float | None = None, bandwidth: float | None = None,
                 precision: str = "bf16", name: str = "ad-hoc", tdp_w: float = 0.0,
                 price_per_hour: float = float("nan")) -> Device:
    """An inline device: ``--tflops 10 --memory 32GB`` (TFLOPS dense at `precision`; memory in
    bytes; bandwidth in bytes/s)."""
    if not tflops or tflops <= 0:
        raise PlannerError(f"--tflops must be > 0, got {tflops!r}")
    return Device(name=name, memory_bytes=float("inf") if memory is None else memory,
                  bandwidth_bytes_per_s=float("nan") if bandwidth is None else bandwidth,
                  peak_flops={precision: tflops * 1e12}, tdp_w=tdp_w,
                  price_per_hour=price_per_hour)
