"""One cell as human text: a result column's value in base units -> ``13.5 GB``, ``34.0 days``,
``$1.65 M``; and an input key's value by its unit.  Shared by the `planner run` table,
`planner compare` and the HTML report, so a figure reads the same everywhere."""
from __future__ import annotations

import math
from typing import Any, Callable

from planner.units import format_bytes, format_count, format_duration, format_flops, format_int, \
    format_usd


def number(v: Any) -> float | None:
    """A finite float, or None for NaN/None/inf/non-numbers."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _rate(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _plain(v: float) -> str:
    return f"{v:,.1f}" if abs(v) < 1e6 else f"{v:.3g}"


# column -> (header, formatter of a finite float).  Base units in, human text out.
COLUMNS: dict[str, tuple[str, Callable[[float], str]]] = {
    "params": ("parameters", format_count),
    "hardware_flops": ("hardware compute", format_flops),
    "pf_days": ("PF-days", lambda v: f"{v:,.4g}"),
    "gpu_months": ("GPU-months", lambda v: f"{v:,.4g}"),
    "hfu": ("HFU", lambda v: f"{v:.1%}"),
    "tokens_per_s": ("tokens/s", lambda v: f"{v:,.0f}"),
    "step_seconds": ("step", format_duration),
    "co2_kg": ("CO2", lambda v: f"{v / 1e3:,.4g} t"),
    "loss": ("loss", lambda v: f"{v:.3f}"),
    "tokens_per_param": ("tokens/param", lambda v: f"{v:.1f}"),
    "smallest_memory_tier_gb": ("tier", lambda v: f"{v:.0f} GB"),
    "time_to_first_token_s": ("TTFT", format_duration),
    "rate_per_s": ("rate/s", lambda v: f"{v:,.3g}"),
    "replicas": ("replicas", format_int),
    "cost_usd_per_hour": ("$/h", format_usd),
    "output_tokens_per_s": ("output tok/s", lambda v: f"{v:,.0f}"),
    "ttft_seconds_p99": ("TTFT p99", format_duration),
    "tpot_seconds_p99": ("TPOT p99", lambda v: f"{v * 1e3:,.1f} ms"),
    "tokens": ("tokens", format_count),
    "gpus": ("GPUs", format_int),
    "mfu": ("MFU", lambda v: f"{v:.1%}"),
    "price_per_hour": ("price/GPU-hour", lambda v: format_usd(v) + "/h"),
    "flops": ("compute", format_flops),
    "seconds": ("wall-clock", format_duration),
    "days": ("days", _plain),
    "gpu_hours": ("GPU-hours", format_count),
    "cost_usd": ("cost", format_usd),
    "energy_kwh": ("energy (kWh)", format_count),
    "memory_per_gpu_bytes": ("memory/GPU", format_bytes),
    "deadline_seconds": ("deadline", format_duration),
    "budget_usd": ("budget", format_usd),
    "quant": ("quant", str),
    "context": ("context", format_int),
    "batch": ("batch", format_int),
    "weights_bytes": ("weights", format_bytes),
    "kv_cache_bytes": ("KV cache", format_bytes),
    "overhead_bytes": ("overhead", format_bytes),
    "total_bytes": ("total memory", format_bytes),
    "device_memory_bytes": ("device memory", format_bytes),
    "decode_tokens_per_s": ("decode tok/s", _rate),
    "prefill_tokens_per_s": ("prefill tok/s", _rate),
}
BOOLS = {"meets_deadline": "meets deadline", "within_budget": "within budget", "fits": "fits"}
def is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def format_value(column: str, value: Any) -> str:
    """One cell as human text: base units -> GB, days, $ ... (planner.units); NaN -> '-'."""
    if column in BOOLS or is_bool(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return "yes" if bool(value) else "no"
    if column in COLUMNS and COLUMNS[column][1] is not str:
        x = number(value)
        return "-" if x is None else COLUMNS[column][1](x)
    x = number(value)
    if x is not None and not isinstance(value, str):
        return f"{x:,.0f}" if x == int(x) and abs(x) < 1e15 else f"{x:.4g}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value)


def header(column: str) -> str:
    if column in COLUMNS:
        return COLUMNS[column][0]
    return BOOLS.get(column, column.replace("_", " "))




# Input keys by the unit of their plan key (planner/plan/*.py): base units -> human text.
UNITS: dict[str, Callable[[float], str]] = {
    "tokens": format_count, "FLOP": format_flops, "s": format_duration, "USD": format_usd,
    "USD/h": lambda v: format_usd(v) + "/h", "bytes": format_bytes,
    "bytes/s": lambda v: format_bytes(v) + "/s", "parameters": format_count,
    "devices": format_int, "sequences": format_int,
}


def format_input(unit: str, value: Any) -> Any:
    """An input's value as people write it (``15.0 T`` tokens, ``30.0 days``), by its key's
    unit; values of other keys as they are."""
    f = UNITS.get(unit)
    x = number(value)
    if f is None or x is None or isinstance(value, (bool, str)):
        return value
    return f(x)
