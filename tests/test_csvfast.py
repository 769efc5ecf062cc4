"""planner.csvfast: vectorised CSV writer, checked by round trips through pandas.read_csv and
against Python's own formatting ('%.{d-1}e', RFC 4180 quoting via the csv module)."""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from planner.render.csvfast import to_csv_bytes, write_csv
from planner.errors import PlannerError

REL = 1e-7  # digits=8 -> half a unit in the 8th significant figure is 5e-8 relative


def _read(b: bytes, **kw) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(b), keep_default_na=False, na_values=[""], **kw)


def _assert_floats(got, want, rel=REL):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=rel, atol=0)


def _special_floats(rng, n):
    x = rng.lognormal(0, 40, n) * rng.choice([-1.0, 1.0], n)
    x[:12] = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, -1.7976931348623157e308, 1e-300, 0.1, 9.9999999999e22]
    return x


def test_round_trip_mixed_columns():
    rng = np.random.default_rng(1)
    n = 5000
    x = _special_floats(rng, n)
    ints = rng.integers(-10**12, 10**12, n)
    ints[:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max]
    whole = rng.integers(0, 800_000, n).astype(float)
    whole[:3] = [np.nan, -4.0, 0.0]
    flags = rng.random(n) < 0.5
    words = np.array(["plain", "with,comma", 'say "hi"', "two\nlines", "ünïcode", None],
                     dtype=object)
    obj = words[rng.integers(0, len(words), n)]
    cat = (("h100-sxm", "a,b", 'q"q', None), rng.integers(0, 4, n))
    cols = {"x": x, "ints": ints, "whole": whole, "flags": flags, "obj": obj, "cat": cat,
            "small": np.arange(n, dtype=np.uint8)}
    df = _read(to_csv_bytes(cols))
    assert list(df.columns) == list(cols)
    _assert_floats(df["x"], x)
    assert df["ints"].tolist() == ints.tolist()
    _assert_floats(df["whole"], whole, rel=0)
    assert df["flags"].tolist() == flags.tolist()
    want_obj = [None if v is None else v for v in obj]
    assert [None if isinstance(v, float) else v for v in df["obj"]] == want_obj
    want_cat = [cat[0][i] for i in cat[1]]
    assert [None if isinstance(v, float) else v for v in df["cat"]] == want_cat
    assert df["small"].tolist() == list(np.arange(n, dtype=np.uint8))


def test_formats_match_python_scientific():
    """Each non-special float is Python's '%.7e' with trailing mantissa zeros dropped."""
    rng = np.random.default_rng(2)
    x = rng.lognormal(0, 50, 10_000) * rng.choice([-1.0, 1.0], 10_000)
    x[:4] = [1.5, 100.0 + 0.5, 123456785.0, 9.99999996]
    got = to_csv_bytes({"x": x}, header=False).decode().split("\n")[:-1]

    def py(v):
        mant, exp = ("%.7e" % v).split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{exp}"
    mismatches = [(v, g) for v, g in zip(x, got) if g != py(v)]
    # float64 scaling by a power of ten may round a value lying within an ulp of a half-unit
    # boundary the other way; allow a handful in 10,000 random values, each still within REL
    assert len(mismatches) <= 10, mismatches[:5]
    for v, g in mismatches:
        assert abs(float(g) - v) <= REL * abs(v)


def test_special_text():
    out = to_csv_bytes({"x": np.array([0.0, np.nan, np.inf, -np.inf, 2.5, -1e-5]),
                        "w": np.array([1.0, np.nan, np.inf, -np.inf, -3.0, 0.0])},
                       header=False).decode()
    assert out == ("0,1\n,\ninf,inf\n-inf,-inf\n2.5e+00,-3\n-1e-05,0\n")


def test_digits_and_rounding_carry():
    x = np.array([9.9999999e5, 9.99999996, 1.25, 123.456])
    assert to_csv_bytes({"x": x}, header=False, digits=3).decode().split() == \
        ["1e+06", "1e+01", "1.25e+00", "1.23e+02"]
    assert to_csv_bytes({"x": x}, header=False, digits=1).decode().split() == \
        ["1e+06", "1e+01", "1e+00", "1e+02"]
    with pytest.raises(PlannerError, match="digits"):
        to_csv_bytes({"x": x}, digits=0)


def test_quoting_matches_csv_module():
    """RFC 4180 sec. 2 rules 6-7, as Python's csv module (QUOTE_MINIMAL) writes them."""
    texts = ["a", "b,c", 'x"y', "l1\nl2", "cr\rx", "", " sp "]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # so that a lone CR is quoted too
    w.writerow(["s,1", "t"])
    for t in texts:
        w.writerow([t, t])
    cols = {"s,1": np.array(texts, dtype=object), "t": (tuple(texts), np.arange(len(texts)))}
    want = buf.getvalue().replace("\r\n", "\n")
    # the csv module writes a lone empty field as "" ; csvfast leaves it empty
    want = want.replace('""\n', "\n").replace('"",', ",")
    assert to_csv_bytes(cols).decode() == want


def test_header_and_append(tmp_path):
    path = tmp_path / "out.csv"
    a = {"n": np.array([1, 2]), "x": np.array([0.5, 1.5])}
    b = {"n": np.array([3]), "x": np.array([2.5])}
    write_csv(path, a)
    write_csv(path, b, append=True)               # the file has a header: not written again
    assert path.read_text() == "n,x\n1,5e-01\n2,1.5e+00\n3,2.5e+00\n"
    new = tmp_path / "new.csv"
    write_csv(new, b, append=True)                # a new file gets its header
    write_csv(new, b, append=True, header=False)
    assert new.read_text() == "n,x\n3,2.5e+00\n3,2.5e+00\n"
    text = io.StringIO()
    write_csv(text, a, header=False)
    assert text.getvalue() == "1,5e-01\n2,1.5e+00\n"
    assert to_csv_bytes({"n": np.array([], dtype=float)}) == b"n\n"
    # one column: empty fields are written "" (a blank line would be skipped by readers)
    assert to_csv_bytes({"n": np.array([np.nan, np.nan, 1.0, np.nan])}) == b'n\n""\n""\n1\n""\n'


def test_bad_columns():
    with pytest.raises(ValueError, match="rows"):
        to_csv_bytes({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="out of range"):
        to_csv_bytes({"a": (("x",), np.array([0, 1]))})
    with pytest.raises(ValueError, match="out of range"):
        to_csv_bytes({"a": (("x",), np.array([0, -2]))})


def test_categorical_kinds_agree():
    """A (values, index) pair, planner.evaluate.Cat, pandas.Categorical and the plain object
    column write the same text; index -1 is an empty field."""
    from planner.evaluate.columns import Cat
    values, index = ("a100", "h,100", None), np.array([0, 1, 2, 1, 0])
    plain = to_csv_bytes({"d": np.array(values, dtype=object)[index]})
    assert plain == b'd\na100\n"h,100"\n""\n"h,100"\na100\n'
    assert to_csv_bytes({"d": (values, index)}) == plain
    assert to_csv_bytes({"d": Cat(values, index)}) == plain
    assert to_csv_bytes({"d": pd.Categorical(np.array(values, dtype=object)[index])}) == plain
    nums = to_csv_bytes({"n": ((1.0, 2.5), np.array([0, 1]))}, header=False)
    assert nums == to_csv_bytes({"n": np.array([1.0, 2.5])}, header=False) == b"1e+00\n2.5e+00\n"
    two = {"n": ((1.0, np.nan), np.array([0, 1])), "k": np.array([1, 2])}
    assert to_csv_bytes(two, header=False) == b"1,1\n,2\n"
    with pytest.raises(TypeError, match="complex"):
        to_csv_bytes({"a": np.zeros(2, dtype=complex)})


def test_chunks_and_threads_agree():
    rng = np.random.default_rng(3)
    cols = {"x": _special_floats(rng, 9000), "i": rng.integers(-5, 5, 9000)}
    one = to_csv_bytes(cols)
    from planner.render.csvfast import iter_csv_chunks
    assert b"".join(iter_csv_chunks(cols, chunk_rows=1000, threads=2)) == one


# |x| <= 1e308: a value within half a unit of float64's largest would round up to inf text
floats = hnp.arrays(np.float64, st.integers(1, 200),
                    elements=st.floats(allow_nan=True, allow_infinity=True, width=64)
                    .filter(lambda v: not abs(v) > 1e308 or abs(v) == float("inf")))


@settings(max_examples=60, deadline=None)
@given(floats, st.integers(3, 15))
def test_property_round_trip(x, digits):
    """Any float64 array reads back within half a unit in the last written digit
    (+ float64 scaling error), NaN as NaN and infinities exactly."""
    df = _read(to_csv_bytes({"x": x}, digits=digits), dtype={"x": float})
    _assert_floats(df["x"].to_numpy(), x, rel=0.5 * 10.0 ** (1 - digits) * (1 + 1e-6) + 4e-16)
