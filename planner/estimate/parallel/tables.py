"""The efficiency tables of the parallel step-time model, read from
``planner/data/parallel_efficiency.toml`` (data with a source on every row, not code).

`Efficiency` gathers, for one device, what the step-time model needs: the matrix engine's
large-GEMM ceiling and per-kernel cost, the achievable memory bandwidth, FlashAttention's
throughput, and the alpha-beta parameters of its scale-up and scale-out networks; `Framework`
holds what the training software overlaps and how it stores state.  The split mirrors Calculon
(Isaev et al. 2023, SC'23, sec. 3): system (device + networks), execution (framework), and the
application (the model) passed separately.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.errors import PlannerError, unknown
from planner.hardware.device import Device
from planner.resources import data_toml

FILE = "parallel_efficiency.toml"


def table() -> dict:
    """The whole TOML file as a dict (cached)."""
    return data_toml(FILE)


@dataclass(frozen=True)
class Network:
    """One network kind: per-step latency (s) and bus-bandwidth efficiencies (fractions)."""
    kind: str
    alpha_s: float
    collective: float
    p2p: float
    all_to_all: float


@dataclass(frozen=True)
class Efficiency:
    """Achievable fractions for one device (see the TOML for sources)."""
    family: str
    matmul: dict            # precision -> fraction of dense peak for large GEMMs
    kernel_s: float         # fixed seconds per kernel
    memory: float           # fraction of memory bandwidth
    attention_fwd: float    # FlashAttention forward, fraction of bf16 peak
    attention_bwd: float
    scale_up: Network
    scale_out: Network

    def matmul_eff(self, precision: str) -> float:
        eff = self.matmul.get(precision)
        if eff is None:
            raise PlannerError(f"no matmul efficiency for {precision} in the {self.family} family "
                               f"of {FILE} (have: {', '.join(self.matmul)})")
        return eff


@dataclass(frozen=True)
class Framework:
    """What the training software does (see [framework.*] in the TOML).  `kappa` is the
    fitted fraction of the microbenchmark GEMM/attention rates it achieves end to end."""
    name: str
    kappa: float
    flash_attention: bool
    dropout: bool
    dp_overlap: float
    tp_overlap: float
    p2p_overlap: float
    grad_reduce_bytes: float
    state_bytes: str
    optimizer_bytes_per_param: float
    reserved_bytes: float

    def with_(self, **changes) -> "Framework":
        return replace(self, **changes)


def family_of(device: Device) -> str:
    """The device family whose `match` prefix is the longest match of the device name."""
    best, length = "generic", 0
    for fam, row in table()["family"].items():
        for prefix in row.get("match", ()):
            if device.name.startswith(prefix) and len(prefix) > length:
                best, length = fam, len(prefix)
    return best


def _network(kind: str) -> Network:
    row = table()["network"][kind]
    return Network(kind, float(row["alpha_s"]), float(row["collective"]), float(row["p2p"]),
                   float(row["all_to_all"]))


def scale_up_kind(device: Device) -> str:
    """The scale-up network kind from the profile's `interconnect` text (first match wins)."""
    text = str(device.info.get("interconnect", ""))
    for kind, row in table()["network"].items():
        if any(m in text for m in row.get("match", ())):
            return kind
    return "pcie"


def efficiency(device: Device) -> Efficiency:
    """The efficiency tables that apply to `device`."""
    fam = family_of(device)
    row = table()["family"][fam]
    return Efficiency(fam, {p: float(v) for p, v in row["matmul"].items()},
                      float(row["kernel_s"]), float(row["memory"]),
                      float(row["attention_fwd"]), float(row["attention_bwd"]),
                      _network(scale_up_kind(device)), _network("scale-out"))


DEFAULT_FRAMEWORK = "production"


def frameworks() -> tuple[str, ...]:
    return tuple(table()["framework"])


def framework(name: str = DEFAULT_FRAMEWORK, kappa: float | None = None) -> Framework:
    """The framework profile `name`; `kappa` overrides its fitted factor."""
    rows = table()["framework"]
    if name not in rows:
        raise unknown("framework", name, rows)
    r = rows[name]
    k = float(r["kappa"]) if kappa is None else float(kappa)
    if not (math.isfinite(k) and 0 < k <= 1.5):
        raise PlannerError(f"kappa must be in (0, 1.5], got {kappa!r}")
    return Framework(name, k, bool(r["flash_attention"]), bool(r["dropout"]),
                     float(r["dp_overlap"]),
                     float(r["tp_overlap"]), float(r["p2p_overlap"]), float(r["grad_reduce_bytes"]),
                     str(r["state_bytes"]), float(r["optimizer_bytes_per_param"]),
                     float(r["reserved_bytes"]))
