"""Units: parsing what people type, formatting for people, and round trips (DESIGN.md
conventions: GB = 1e9 bytes, GiB = 2**30 bytes, month = 730 h)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlannerError
from planner.units import (DAY, HOUR, MONTH, format_bytes, format_count, format_duration,
                           format_flops, format_usd, parse_bytes, parse_count, parse_duration,
                           parse_flops, parse_price, parse_usd)


@pytest.mark.parametrize("text,value", [
    ("175B", 175e9), ("1.5e9", 1.5e9), ("6.7 billion", 6.7e9), ("300B", 300e9),
    ("300B tokens", 300e9), ("2T", 2e12), ("125M", 125e6), ("7k", 7e3), ("1,000,000", 1e6),
    ("13b params", 13e9), ("3.14e23", 3.14e23), ("1_000", 1000.0),
])
def test_parse_count(text, value):
    assert parse_count(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text,value", [
    ("16GB", 16e9), ("16GiB", 16 * 2**30), ("512MiB", 512 * 2**20), ("1.5 TB", 1.5e12),
    ("80 GiB", 80 * 2**30), ("100 bytes", 100),
])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


def test_gb_and_gib_are_different():
    # The trap: 16 GB and 16 GiB differ by 7.4%; neither may be read as the other.
    assert parse_bytes("16GiB") / parse_bytes("16GB") == pytest.approx(2**30 / 1e9)
    assert format_bytes(16e9) == "16.0 GB" and format_bytes(16 * 2**30, binary=True) == "16.0 GiB"
    assert format_bytes(16 * 2**30) == "17.2 GB"


@pytest.mark.parametrize("text,value", [
    ("90d", 90 * DAY), ("12h", 12 * HOUR), ("3 months", 3 * 730 * HOUR), ("2 weeks", 14 * DAY),
    ("1y", 8760 * HOUR), ("45 min", 2700), ("30s", 30),
])
def test_parse_duration(text, value):
    assert parse_duration(text) == pytest.approx(value)


def test_month_is_730_hours():
    assert MONTH == 730 * 3600


@pytest.mark.parametrize("text,value", [
    ("$2.50/h", 2.5), ("2.5", 2.5), ("$60/day", 2.5), ("$1825/month", 2.5), ("$2.5 per hour", 2.5),
])
def test_parse_price(text, value):
    assert parse_price(text) == pytest.approx(value)


@pytest.mark.parametrize("text,value", [("$5M", 5e6), ("$250k", 2.5e5), ("1,000,000", 1e6)])
def test_parse_usd(text, value):
    assert parse_usd(text) == pytest.approx(value)


@pytest.mark.parametrize("bad,parser", [
    ("abc", parse_count), ("12X", parse_count), ("16", parse_bytes), ("16 GBs", parse_bytes),
    ("90", parse_duration), ("3 fortnights", parse_duration), ("$2.5/lightyear", parse_price),
    ("inf", parse_count),
])
def test_parse_errors_name_the_text(bad, parser):
    with pytest.raises(PlannerError) as info:
        parser(bad)
    assert repr(bad) in str(info.value)


def test_formatting():
    assert format_count(174_604_259_328) == "174.6 B"
    assert format_count(124_439_808) == "124.4 M"
    assert format_flops(3.14e23) == "3.14e23 FLOP"
    assert format_bytes(13.5e9) == "13.5 GB"
    assert format_bytes(13.5e9, binary=True) == "12.6 GiB"
    assert format_duration(34 * DAY) == "34.0 days"
    assert format_duration(90) == "90.0 s"
    assert format_usd(1_234_567) == "$1.23 M"
    assert format_usd(912.5) == "$912.50"


# Round trips: what we print, we read back (to the printed precision).
finite_positive = st.floats(min_value=1.0, max_value=1e27, allow_nan=False, allow_infinity=False)


@settings(max_examples=200)
@given(finite_positive)
def test_count_round_trip(x):
    assert parse_count(format_count(x, digits=6).replace(" ", "")) == pytest.approx(x, rel=1e-5)


@settings(max_examples=200)
@given(finite_positive)
def test_flops_round_trip(x):
    assert parse_flops(format_flops(x, digits=8).replace(" FLOP", "")) == \
        pytest.approx(x, rel=1e-7)


@settings(max_examples=200)
@given(st.floats(min_value=1.0, max_value=1e16), st.booleans())
def test_bytes_round_trip(x, binary):
    assert parse_bytes(format_bytes(x, binary=binary, digits=7)) == pytest.approx(x, rel=1e-6)


@settings(max_examples=200)
@given(st.floats(min_value=0.001, max_value=1e10))
def test_duration_round_trip(x):
    assert parse_duration(format_duration(x, digits=7)) == pytest.approx(x, rel=1e-6)


@settings(max_examples=100)
@given(st.floats(min_value=0.01, max_value=1e4))
def test_price_round_trip(x):
    assert parse_price(f"${x!r}/h") == pytest.approx(x)
    assert parse_price(f"${x * 730!r}/month") == pytest.approx(x)
    assert math.isfinite(parse_price(f"{x}/day"))
