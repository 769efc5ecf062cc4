"""`Device`: one accelerator or one whole machine, in base units."""
from __future__ import annotations

from dataclasses import dataclass, field

from planner.errors import PlannerError, unknown

PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")


@dataclass(frozen=True)
class Device:
    """One accelerator (or machine).  Units: bytes, bytes/s, FLOP/s, W, USD per device-hour."""

    name: str
    memory_bytes: float
    bandwidth_bytes_per_s: float
    peak_flops: dict[str, float]          # precision -> dense FLOP/s
    interconnect_bytes_per_s: float = 0.0  # vendor's scale-up figure, both directions summed
    # Networks for the parallelism model (hardware_profiles/README.md): the scale-up domain
    # (GPUs joined by NVLink/xGMI/ICI: 8 in an HGX node, 72 in an NVL72 rack), its per-GPU
    # bandwidth in one direction, and the per-GPU scale-out (InfiniBand/RoCE NIC) bandwidth in
    # one direction.  NaN where unknown.
    scale_up_domain: float = float("nan")
    scale_up_bytes_per_s: float = float("nan")
    scale_out_bytes_per_s: float = float("nan")
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
