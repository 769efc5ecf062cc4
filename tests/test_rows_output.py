"""Result rows written as CSV, JSON, parquet and markdown (planner.render.rows): exact round
trips, nulls for what was not asked for, and streaming in chunks."""
from __future__ import annotations

import io
import json
import math

import numpy as np
from hypothesis import given, settings, strategies as st

from planner.evaluate.columns import Cat
from planner.render.rows import write_rows

CHUNK = {
    "seconds": np.array([67_492_143.26, np.nan, 1e-7, 3.14e23, np.inf]),
    "gpus": np.array([1024.0, 8.0, 3984.0, 1.0, 2.0]),
    "device": Cat(("h100-sxm", "a100-80gb"), np.array([0, 1, 0, 1, 0])),
    "error": np.array([None, 'a "quoted", comma', None, "two\nlines", None], dtype=object),
    "fits": np.array([True, None, False, None, True], dtype=object),
    "ok": np.array([True, False, True, True, False]),
}


def test_json_round_trip_is_exact_and_nulls_nan():
    buf = io.BytesIO()
    assert write_rows(buf, "json", [CHUNK, CHUNK]) == 10
    rows = json.loads(buf.getvalue())
    assert len(rows) == 10
    # 67,492,143.26 is written in full, not rounded to 8 digits (issue 8).
    assert rows[0]["seconds"] == 67_492_143.26 and rows[0]["gpus"] == 1024
    assert rows[1]["seconds"] is None and rows[4]["seconds"] is None  # NaN, inf -> null
    assert rows[1]["error"] == 'a "quoted", comma' and rows[3]["error"] == "two\nlines"
    assert rows[1]["fits"] is None and rows[2]["fits"] is False and rows[1]["ok"] is False
    assert [r["device"] for r in rows[:2]] == ["h100-sxm", "a100-80gb"]


def test_csv_round_trip_through_pandas():
    import pandas as pd
    buf = io.BytesIO()
    write_rows(buf, "csv", [CHUNK, CHUNK])
    df = pd.read_csv(io.BytesIO(buf.getvalue()))
    assert len(df) == 10 and list(df.columns) == list(CHUNK)
    assert df["seconds"][0] == 67_492_143.26 and math.isnan(df["seconds"][1])
    assert df["error"][3] == "two\nlines" and df["device"][1] == "a100-80gb"


def test_parquet_and_markdown():
    import pyarrow.parquet as pq
    buf = io.BytesIO()
    write_rows(buf, "parquet", [CHUNK, CHUNK])
    t = pq.read_table(io.BytesIO(buf.getvalue()))
    assert t.num_rows == 10 and t.column("seconds")[0].as_py() == 67_492_143.26
    md = io.BytesIO()
    write_rows(md, "markdown", [CHUNK])
    lines = md.getvalue().decode().splitlines()
    assert lines[0].startswith("| seconds | gpus |") and len(lines) == 2 + 5
    assert "\\|" not in lines[0] and lines[3].startswith("|  | 8 |")


def test_empty_json_is_a_list():
    buf = io.BytesIO()
    write_rows(buf, "json", [])
    assert json.loads(buf.getvalue()) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_any_float_reads_back_exactly(values):
    """Property: every finite float64 is written as text that parses back to the same value
    (CSV and JSON), whatever its magnitude."""
    arr = np.array(values, dtype=float)
    buf = io.BytesIO()
    write_rows(buf, "json", [{"x": arr}])
    assert [r["x"] for r in json.loads(buf.getvalue())] == list(arr)
    buf = io.BytesIO()
    write_rows(buf, "csv", [{"x": arr}])
    back = [float(line) for line in buf.getvalue().decode().splitlines()[1:]]
    assert back == list(arr)


def test_long_columns_of_repeated_and_missing_values():
    """Columns with few distinct values are formatted once per value: the text must be the
    same as value by value, and an all-null column stays null (a regression: it vanished)."""
    n = 1000
    chunk = {"same": np.full(n, 2e12), "none": np.full(n, np.nan),
             "text": np.full(n, None, dtype=object), "few": np.arange(n) % 3 * 0.5}
    buf = io.BytesIO()
    write_rows(buf, "json", [chunk])
    rows = json.loads(buf.getvalue())
    assert len(rows) == n and rows[5] == {"same": 2e12, "none": None, "text": None, "few": 1.0}
