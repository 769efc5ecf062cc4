"""Parse and format quantities: counts, FLOPs, bytes, durations and prices.

Conventions (DESIGN.md): GB = 1e9 bytes and GiB = 2**30 bytes, never mixed; a month is 730 hours
(365 days / 12) and a year 8,760 hours; TFLOPS = 1e12 FLOP/s.  Parsers take what people type
(``175B``, ``6.7 billion``, ``16GiB``, ``3 months``, ``$2.50/h``) and return plain base units
(count, FLOP, bytes, seconds, USD per hour); formatters go the other way for human output.
Parsers raise `PlannerError` naming the bad text and what would be valid.
"""
from __future__ import annotations

import math
import re

from planner.errors import PlannerError

# --- scale words and suffixes ----------------------------------------------------------------

_COUNT_SUFFIX = {
    "": 1.0,
    "k": 1e3, "thousand": 1e3,
    "m": 1e6, "mn": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "g": 1e9, "billion": 1e9,
    "t": 1e12, "trillion": 1e12,
    "p": 1e15, "quadrillion": 1e15,
}
# Words that may follow a count and carry no scale ("300B tokens", "7B params").
_COUNT_NOUNS = ("tokens", "token", "params", "parameters", "parameter", "flops", "flop", "ops")

_BYTE_UNIT = {
    "b": 1, "byte": 1, "bytes": 1,
    "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 730 * HOUR  # 365/12 days, the convention of DESIGN.md; output says so
YEAR = 8760 * HOUR

_DURATION_UNIT = {
    "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": HOUR, "hr": HOUR, "hrs": HOUR, "hour": HOUR, "hours": HOUR,
    "d": DAY, "day": DAY, "days": DAY,
    "w": WEEK, "wk": WEEK, "week": WEEK, "weeks": WEEK,
    "mo": MONTH, "month": MONTH, "months": MONTH,
    "y": YEAR, "yr": YEAR, "year": YEAR, "years": YEAR,
}

# Digits with commas only as thousands separators (1,000,000) or Python-style underscores
# (1_000_000): "1,,,0" or "10,00" is a typo, not 10.
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)"
_NUMBER = rf"[-+]?(?:{_INT}(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_PLAIN_NUMBER = re.compile(rf"^\s*({_NUMBER})\s*$")
_NUM_UNIT = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z]*)\s*$")


def _to_float(text: str) -> float:
    return float(text.replace(",", "").replace("_", ""))


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _float(text, what), ""
    s = str(text).strip()
    m = _NUM_UNIT.match(s)
    if not m:
        raise PlannerError(f"cannot read {what} {text!r} (expected e.g. {example})")
    return _to_float(m.group(1)), m.group(2).lower()


def _check_finite(value: float, text, what: str) -> float:
    if not math.isfinite(value):
        raise PlannerError(f"{what} {_shown(text)} is not a finite number")
    return value


def _float(x: int | float, what: str) -> float:
    """A TOML/Python number as a float: an integer too large for one (10**400) is refused."""
    try:
        return float(x)
    except OverflowError:
        raise PlannerError(f"{what} {_shown(x)} is not a finite number") from None


def _shown(x) -> str:
    text = repr(x)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


# --- parsers -----------------------------------------------------------------------------------

def parse_number(text: str | float, what: str = "number") -> float:
    """A plain finite number without a unit: ``0.45``, ``1e3``, ``1,000``, ``1_000``.  Text
    such as ``nan``, ``inf``, ``0x10`` or ``1,,,0`` is refused."""
    if isinstance(text, bool):
        raise PlannerError(f"{what} must be a number, got {text!r}")
    if isinstance(text, (int, float)):
        return _check_finite(_float(text, what), text, what)
    m = _PLAIN_NUMBER.match(str(text))
    if not m:
        raise PlannerError(f"{what} must be a number, got {text!r}")
    return _check_finite(_to_float(m.group(1)), text, what)


def parse_count(text: str | float, what: str = "count") -> float:
    """``175B`` -> 1.75e11; accepts k/M/B(G)/T/P suffixes, words (``6.7 billion``), plain
    numbers (``1.5e9``) and a trailing noun (``300B tokens``, ``7B params``)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _check_finite(_float(text, what), text, what)
    s = str(text).strip().lower()
    for noun in _COUNT_NOUNS:
        if s.endswith(noun) and len(s) > len(noun):
            s = s[: -len(noun)].strip()
            break
    m = re.match(rf"^({_NUMBER})\s*([a-z]*)$", s)
    if not m or m.group(2) not in _COUNT_SUFFIX:
        raise PlannerError(
            f"cannot read {what} {text!r} (expected e.g. 175B, 1.5e9, 6.7 billion, 300B, 2T)")
    return _check_finite(_to_float(m.group(1)) * _COUNT_SUFFIX[m.group(2)], text, what)


def parse_flops(text: str | float) -> float:
    """``3.14e23``, ``3.14e23 FLOP``, ``314 zetta``-free: a FLOP count with optional k..P suffix."""
    return parse_count(text, "FLOPs")


def parse_bytes(text: str | float, what: str = "memory") -> float:
    """``16GB`` -> 16e9, ``16GiB`` -> 17179869184, ``512MiB``.  A bare number is refused: GB and
    GiB differ by 7%, so the unit must be said."""
    value, unit = _split(text, what, "16GB, 16GiB, 512MiB")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _check_finite(value, text, what)  # programmatic use: already bytes
    if unit == "":
        raise PlannerError(f"{what} {text!r} needs a unit (e.g. {value:g}GB = {value:g}e9 bytes "
                           f"or {value:g}GiB = {value:g} x 2^30 bytes)")
    if unit not in _BYTE_UNIT:
        raise PlannerError(f"{what} {text!r} has an unknown memory unit {unit!r} "
                           "(valid: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return _check_finite(value * _BYTE_UNIT[unit], text, what)


def parse_bandwidth(text: str | float, what: str = "bandwidth") -> float:
    """``100GB/s``, ``1.2 TB/s``, ``900 GiB/s``, ``100GBps`` -> bytes per second (the unit is
    required, as for memory)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _check_finite(_float(text, what), text, what)  # programmatic: bytes/s
    s = str(text).strip()
    m = re.match(r"^(.*?)\s*(?:/\s*s|/\s*sec|ps|\s+per\s+second)$", s, re.IGNORECASE)
    if not m:
        raise PlannerError(f"cannot read {what} {text!r} (expected e.g. 100GB/s, 1.2TB/s, "
                           "900GiB/s)")
    return parse_bytes(m.group(1), what)


def parse_duration(text: str | float, what: str = "duration") -> float:
    """``90d``, ``12h``, ``3 months`` (730 h each), ``2 weeks``, ``1y``, ``45 min`` -> seconds.
    A bare number is refused (seconds? days?)."""
    value, unit = _split(text, what, "90d, 12h, 3 months, 2 weeks")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _check_finite(value, text, what)  # programmatic use: already seconds
    if unit not in _DURATION_UNIT:
        hint = "needs a unit" if unit == "" else f"has an unknown unit {unit!r}"
        raise PlannerError(f"{what} {text!r} {hint} (valid: s, min, h, d, weeks, months, years; "
                           "e.g. 90d, 12h, 3 months)")
    return _check_finite(value * _DURATION_UNIT[unit], text, what)


_PRICE = re.compile(rf"^\s*(?:usd\s*)?\$?\s*({_NUMBER})\s*(?:usd)?\s*(?:/|per\s+)?\s*([a-z]*)\s*$")


def parse_price(text: str | float, what: str = "price") -> float:
    """``$2.50/h``, ``2.5``, ``$60/day``, ``$1800/month`` -> USD per device-hour."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _check_finite(_float(text, what), text, what)
    m = _PRICE.match(str(text).strip().lower())
    if not m:
        raise PlannerError(f"cannot read {what} {text!r} (expected e.g. $2.50/h, 2.5, $60/day)")
    value, unit = _to_float(m.group(1)), m.group(2)
    if unit == "":
        return _check_finite(value, text, what)
    if unit not in _DURATION_UNIT or unit in ("m",):
        raise PlannerError(f"{what} {text!r} has an unknown price period {unit!r} (valid: /h, "
                           "/day, /month)")
    return _check_finite(value * HOUR / _DURATION_UNIT[unit], text, what)


def parse_usd(text: str | float, what: str = "budget") -> float:
    """``$5M``, ``2.5e6``, ``$250k``, ``1,000,000`` -> USD."""
    s = text if isinstance(text, (int, float)) else str(text).strip().lower().lstrip("$").strip()
    if isinstance(s, str) and s.endswith("usd"):
        s = s[:-3].strip()
    return parse_count(s, what)


# --- formatters --------------------------------------------------------------------------------

def _finite_only(fmt):
    """Formatters print a figure that overflowed (a utilisation of 1e-300 takes 'infinite'
    days) or is unknown (NaN) as words instead of failing on it."""
    import functools

    @functools.wraps(fmt)
    def wrapper(x, *args, **kwargs):
        x = float(x)
        if math.isnan(x):
            return "n/a"
        if math.isinf(x):
            return "infinite" if x > 0 else "-infinite"
        return fmt(x, *args, **kwargs)
    return wrapper


def _sig(x: float, digits: int) -> str:
    """`digits` significant figures, without exponent for the usual range."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


@_finite_only
def format_count(n: float, digits: int = 4) -> str:
    """174604259328 -> ``174.6 B``; 124439808 -> ``124.4 M``; 950 -> ``950``."""
    n = float(n)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{_sig(n / scale, digits)} {suffix}"
    return f"{n:.0f}" if n == int(n) else _sig(n, digits)


@_finite_only
def format_int(n: float) -> str:
    """Exact count with thousands separators: ``174,604,259,328``."""
    return f"{int(round(float(n))):,}"


@_finite_only
def format_flops(f: float, digits: int = 3) -> str:
    """3.14e23 -> ``3.14e23 FLOP``."""
    f = float(f)
    if f == 0:
        return "0 FLOP"
    mantissa, exp = f"{f:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exp)} FLOP"


@_finite_only
def format_bytes(b: float, binary: bool = False, digits: int = 3) -> str:
    """13.5e9 -> ``13.5 GB``; with ``binary=True`` -> ``12.6 GiB``."""
    b = float(b)
    units = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)) if binary else \
        (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
    for name, scale in units:
        if abs(b) >= scale:
            return f"{_sig(b / scale, digits)} {name}"
    return f"{_sig(b, digits)} B"


def format_duration(seconds: float, digits: int = 3) -> str:
    """2937600 -> ``34.0 days``.  Picks seconds, minutes, hours, days or years."""
    s = float(seconds)
    if not math.isfinite(s):
        return "never"
    for name, scale, limit in (("years", YEAR, 2 * YEAR), ("days", DAY, 2 * DAY),
                               ("hours", HOUR, 2 * HOUR), ("min", 60.0, 120.0)):
        if abs(s) >= limit:
            return f"{_sig(s / scale, digits)} {name}"
    return f"{_sig(s, digits)} s"


@_finite_only
def format_usd(x: float) -> str:
    """1234567 -> ``$1.23 M``; 912.5 -> ``$912.50``."""
    x = float(x)
    if abs(x) >= 1e6:
        return f"${format_count(x, 3)}"
    if abs(x) >= 1e3:
        return f"${x:,.0f}"
    return f"${x:,.2f}"
