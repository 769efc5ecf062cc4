"""Fast CSV writing for big sweeps: every column formatted with numpy integer arithmetic.

`pandas.DataFrame.to_csv` spends ~130 s on 1M rows x 22 float columns and ``'{:.6g}'.format``
over lists ~15 s.  Here a chunk of rows becomes one numpy record array whose fields are the
ASCII bytes of the columns (0 = padding): digits from integer division by 10,000 and a 4-digit
lookup table (one uint32 per group), sign / first digit / '.' and exponents from lookup tables,
trailing and leading zeros blanked with word masks, text gathered from a table of each distinct
value's bytes; ',' and newline bytes separate the fields, and the padding is dropped from the
chunk's bytes with one ``bytes.translate``.  No Python runs per row.

Column kinds (`columns` maps a header name to one of):

* a float array: if every finite value is a whole number with ``|x| < 2**53`` the column is
  written as integers (``1024``, ``-3``); otherwise in scientific notation with `digits`
  significant figures, trailing zeros of the mantissa dropped (``3.1428767e+23``, ``2.5e-01``,
  ``1e+00``); ``0`` for zero, an empty field for NaN, ``inf`` / ``-inf``;
* an int / uint array: decimal integers;  a bool array: ``True`` / ``False``;
* an object or string array: factorised with `pandas.factorize` (a hash table, no sort), each
  distinct value formatted once; None / NaN -> empty field;
* a categorical pair ``(values_tuple, index_array)``, a `planner.evaluate.Cat` or a
  `pandas.Categorical`: row i is ``values[index[i]]`` (index -1: empty field); the distinct
  values are formatted once and gathered to the rows by fancy indexing.

Fields containing a comma, a double quote, CR or LF are quoted as RFC 4180 sec. 2 rules 6-7
prescribe (enclosed in double quotes, inner quotes doubled); column names too.  A table of one
column writes an empty field as ``""`` (a blank line would be skipped by readers).  NUL
characters in text are dropped (0 is the padding byte).

Accuracy: the mantissa is ``rint(|x| * 10**-s)`` with ``s = floor(log10|x|) - digits + 1``,
computed in float64 with correctly rounded powers of ten, so a value reads back within
``0.5 * 10**(1 - digits)`` relative error plus a few float64 ulps (digits <= 15 recommended;
up to 17 accepted).  A value within half a unit of the last digit of the largest float64
(1.797...e308) rounds up to a text that reads back as inf.
"""
from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Iterator, Mapping, Union

import numpy as np

from planner.errors import PlannerError

Column = Union[np.ndarray, "tuple[tuple, np.ndarray]"]

CHUNK_ROWS = 8_192  # rows formatted at a time (the chunk's row records, ~2 MB, stay in cache)
_COMMA, _NL, _ZERO, _DOT, _MINUS = ord(","), ord("\n"), ord("0"), ord("."), ord("-")
_EXACT_INT = 2.0 ** 53
_MAX_DIGITS = 17

# Four ASCII digits of 0..9999 as one uint32 each (memory order = text order).
_Q4 = np.frombuffer(b"".join(b"%04d" % k for k in range(10_000)), dtype=np.uint32)
# Trailing zeros of a 4-digit group (0000 counts 4); significant digits of a group (0 has 1).
_TZ4 = np.array([4] + [len(str(k)) - len(str(k).rstrip("0")) for k in range(1, 10_000)],
                dtype=np.int64)
_ND4 = np.array([len(str(k)) for k in range(10_000)], dtype=np.intp)
# _M4[k]: a uint32 mask keeping the first 4 - k bytes (clears the last k);
# _L4[k]: keeping the last k bytes (clears leading zeros of a group with k digits shown).
_M4 = np.array([int.from_bytes(b"\xff" * (4 - k) + b"\0" * k, "little") for k in range(5)],
               dtype=np.uint32)
_L4 = np.array([int.from_bytes(b"\0" * (4 - k) + b"\xff" * k, "little") for k in range(5)],
               dtype=np.uint32)
# Exponent field: 'e', sign and at least two digits in 5 bytes (0 = padding), e in +-_EOFF.
_EOFF = 400
_EXPW = np.frombuffer(b"".join(
    (b"e-" if k < 0 else b"e+") + (b"%03d" % abs(k) if abs(k) >= 100 else b"\0%02d" % abs(k))
    for k in range(-_EOFF, _EOFF + 1)), dtype="V5")
# Correctly rounded powers of ten 1e-400 .. 1e400 (0 and inf at the ends, never used there).
_P10OFF = 400
_P10 = np.array([float(f"1e{k}") for k in range(-_P10OFF, _P10OFF + 1)])


def _word(text: bytes, size: int = 8) -> int:
    """`text` right-aligned (zero padding first) in a little-endian word of `size` bytes."""
    return int.from_bytes(text.rjust(size, b"\0"), "little")


_SPECIAL = {"nan": b"", "zero": b"0", "inf": b"inf", "-inf": b"-inf"}


# --- integers -------------------------------------------------------------------------------

def _groups(u: np.ndarray, g: int) -> list[np.ndarray]:
    """Base-10,000 digits of non-negative integers `u`, least significant first (`g` of them;
    the last holds whatever is left)."""
    out, q = [], u
    for _ in range(g - 1):
        q, r = np.divmod(q, 10_000)
        out.append(r.astype(np.intp, copy=False))
    out.append(q.astype(np.intp, copy=False))
    return out


def _abs_int(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|v| as int64, or uint64 beyond 2**63 - 1; negative mask)."""
    if v.dtype.kind == "u":
        u = v.astype(np.uint64, copy=False)
        neg = np.zeros(v.shape[0], dtype=bool)
    else:
        v = v.astype(np.int64, copy=False)
        neg = v < 0
        if neg.any() and v.min() == np.iinfo(np.int64).min:
            return np.where(neg, ~v.astype(np.uint64) + np.uint64(1), v.astype(np.uint64)), neg
        u = np.abs(v)
    if u.dtype == np.uint64 and (u.size == 0 or u.max() < 2 ** 63):
        u = u.astype(np.int64)
    return u, neg


class _IntLayout:
    """An integer field: a sign byte ('-' or padding) then base-10,000 groups, one uint32 of
    four ASCII digits each, most significant first, leading zeros blanked."""

    def __init__(self, most_digits: int, sign: bool):
        self.g = max((most_digits + 3) // 4, 1)
        self.sign = sign
        self.formats = (["u1"] if sign else []) + ["<u4"] * self.g

    def write(self, fields: list[np.ndarray], u: np.ndarray, neg: np.ndarray) -> None:
        gs = _groups(u, self.g)
        nd = _ND4.take(gs[0])                          # significant digits of the value
        for j, gj in enumerate(gs[1:], start=1):
            nd = np.where(gj != 0, 4 * j + _ND4.take(gj), nd)
        words = fields[1:] if self.sign else fields
        for j, gj in enumerate(gs):                    # words[-1 - j] holds group j
            shown = np.clip(nd - 4 * j, 0, 4)
            words[-1 - j][...] = _Q4.take(gj) & _L4.take(shown)
        if self.sign:
            fields[0][...] = neg.view(np.uint8) * np.uint8(_MINUS)

    def special(self, fields: list[np.ndarray], rows: np.ndarray, text: bytes) -> None:
        for f in fields:
            f[rows] = 0
        if text.startswith(b"-"):
            fields[0][rows] = _MINUS
            text = text[1:]
        if text:
            fields[-1][rows] = _word(text, 4)


# --- floats in scientific notation ----------------------------------------------------------

def _sci_parts(a: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Mantissa (an integer of exactly `digits` digits) and decimal exponent of finite
    positive `a`: a ~= m * 10**(e - digits + 1)."""
    def mantissa(a, e):
        s = e - (digits - 1)               # a / 10**s in two steps, so neither power of ten
        s1 = s // 2                        # over- or underflows (s in [-340, 308])
        return np.rint(a * _P10.take(_P10OFF - s1) * _P10.take(_P10OFF + s1 - s)
                       ).astype(np.int64)

    e = np.floor(np.log10(a)).astype(np.int64)
    m = mantissa(a, e)
    top, low = 10 ** digits, 10 ** (digits - 1)
    for shift, bad in ((1, m >= top), (-1, m < low)):  # log10 off by one next to a power of 10
        idx = np.flatnonzero(bad)
        if idx.size:
            e[idx] += shift
            m[idx] = mantissa(a[idx], e[idx])
    carry = np.flatnonzero(m >= top)                   # rounding 9.99..95 up to 10.0
    if carry.size:
        m[carry] //= 10
        e[carry] += 1
    return m, e


class _SciLayout:
    """-d.ddde+XX: a uint64 'top' word (sign, first digit, '.', the rest of the most
    significant base-10,000 group), uint32 words of four digits, then 'e' and the exponent
    (5 bytes from a table).  Trailing zeros of the mantissa (and a bare '.') are blanked with
    word masks."""

    _tables: dict = {}

    def __init__(self, digits: int):
        self.d = digits
        self.g = (digits + 3) // 4
        self.r = digits - 4 * (self.g - 1)             # digits in the top group (1..4)
        self.formats = ["<u8"] + ["<u4"] * (self.g - 1) + ["V5"]
        self.top, self.top_mask = self._top_tables(digits)

    @classmethod
    def _top_tables(cls, digits: int):
        if digits not in cls._tables:
            r = digits - 4 * ((digits + 3) // 4 - 1)
            top = np.zeros(2 * 10_000, dtype=np.uint64)
            for v in range(10 ** (r - 1), 10 ** r):
                t = b"%d" % v
                t = t[:1] + (b"." + t[1:] if digits > 1 else b"")
                top[v], top[10_000 + v] = _word(t), _word(b"-" + t)
            # row k < r: clear the last k digits; row r: the last r - 1 digits and the '.'
            n_text = 2 + r  # at most: sign, first digit, '.', r - 1 digits
            masks = [_word(b"\xff" * (n_text - k) + b"\0" * k) for k in range(r)]
            masks.append(_word(b"\xff" * 2 + b"\0" * r) if digits > 1 else masks[0])
            cls._tables[digits] = (top, np.array(masks, dtype=np.uint64))
        return cls._tables[digits]

    def write(self, fields: list[np.ndarray], x: np.ndarray) -> None:
        """Finite non-zero rows of `x` (the others get garbage the caller overwrites)."""
        a = np.abs(x)
        ok = np.isfinite(a) & (a > 0)
        if not ok.all():
            a = np.where(ok, a, 1.0)
        m, e = _sci_parts(a, self.d)
        gs = _groups(m, self.g)
        frac = self.d - 1
        tz = _TZ4.take(gs[0])                          # trailing zeros of the mantissa
        run = gs[0] == 0
        for gj in gs[1:]:
            tz = np.where(run, tz + _TZ4.take(gj), tz)
            run &= gj == 0
        tz = np.minimum(tz, frac)
        for j in range(self.g - 1):                    # fields[g - 1 - j] holds group j
            fields[self.g - 1 - j][...] = _Q4.take(gs[j]) & _M4.take(np.clip(tz - 4 * j, 0, 4))
        k_top = np.clip(tz - 4 * (self.g - 1), 0, self.r - 1) + (tz == frac) * (frac > 0)
        idx = gs[-1] + (x < 0) * 10_000
        fields[0][...] = self.top.take(idx) & self.top_mask.take(k_top)
        fields[-1][...] = _EXPW.take(e + _EOFF)

    def special(self, fields: list[np.ndarray], rows: np.ndarray, text: bytes) -> None:
        for f in fields[:-1]:
            f[rows] = 0
        fields[-1][rows] = np.zeros(1, dtype="V5")
        if text:
            fields[0][rows] = _word(text)


# --- text -------------------------------------------------------------------------------------

def _quote(s: str) -> str:
    """RFC 4180 sec. 2 (6)-(7): quote fields with a comma, quote or line break; double quotes."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def _text_of(value: Any, digits: int) -> str:
    """One distinct value of a categorical / object column as CSV text."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer, float, np.floating)):
        return _texts_of_array(np.array([value]), digits)[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return _quote(str(value))


def _texts_of_array(arr: np.ndarray, digits: int) -> list[str]:
    """Texts of a numeric array's values (as a column of its own would write them)."""
    mat = b"".join(iter_csv_chunks({"v": arr}, header=False, digits=digits))
    return ["" if t == '""' else t for t in mat.decode("utf-8").split("\n")[:-1]]


def _table(texts: list[str]) -> np.ndarray:
    """(k + 1, width) uint8 rows of the UTF-8 texts, zero padded; the extra last row is empty
    (index -1, pandas.factorize's code for a missing value, lands on it)."""
    enc = [t.encode("utf-8") for t in texts]
    width = max([len(b) for b in enc] + [0])
    tab = np.zeros((len(enc) + 1, width), dtype=np.uint8)
    for i, b in enumerate(enc):
        if b:
            tab[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    return tab


def _categorical_texts(values: tuple, digits: int) -> list[str]:
    """Each distinct value formatted once; an all-numeric tuple is formatted as one column
    (so 1.0, 2.5 -> '1e+00', '2.5e+00' as an array column would be)."""
    vals = list(values)
    numeric = bool(vals) and all(isinstance(v, (int, float, np.integer, np.floating))
                                 and not isinstance(v, (bool, np.bool_)) for v in vals)
    if numeric:
        return _texts_of_array(np.asarray(vals), digits)
    return [_text_of(v, digits) for v in vals]


# --- columns ----------------------------------------------------------------------------------

class _Prepared:
    """A column analysed once (kind, field layout) and then written chunk by chunk into its
    fields of the row record."""

    def __init__(self, col: Any, digits: int, name: str):
        self.digits = digits
        self.layout: Any = None
        from planner.evaluate.columns import Cat
        if isinstance(col, Cat):                       # the sweep engine's categorical columns
            col = (col.values, col.index)
        elif hasattr(col, "codes") and hasattr(col, "categories"):  # a pandas.Categorical
            col = (tuple(col.categories), col.codes)   # code -1 (missing) -> the empty row
        if isinstance(col, tuple) and len(col) == 2 and not isinstance(col[1], (str, bytes)):
            values, index = col
            self._cat(_categorical_texts(tuple(values), digits), np.asarray(index))
            if self.index.size and (self.index.max() >= len(values) or self.index.min() < -1):
                raise ValueError(f"column {name!r}: index out of range of its {len(values)} "
                                 "values")
            return
        arr = np.asarray(col)
        if arr.ndim != 1:
            raise ValueError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
        self.n = arr.shape[0]
        k = arr.dtype.kind
        if k == "b":
            self._cat(["False", "True"], arr.view(np.uint8))
        elif k in "iu":
            u, neg = _abs_int(arr)
            self.kind, self.arr = "int", arr
            self.layout = _IntLayout(len(str(int(u.max()))) if u.size else 1, bool(neg.any()))
        elif k == "f":
            x = arr.astype(np.float64, copy=False)
            finite = np.isfinite(x)
            fin = x if finite.all() else x[finite]
            self.arr, self.all_nan = x, bool(np.isnan(x).all())
            if np.all(fin == np.rint(fin)) and np.all(np.abs(fin) < _EXACT_INT):
                u, neg = _abs_int(fin.astype(np.int64))
                most = len(str(int(u.max()))) if u.size else 1
                if np.isinf(x).any():
                    most = max(most, 3)
                self.kind = "float_int"
                self.layout = _IntLayout(most, bool(neg.any() or (x == -np.inf).any()))
            else:
                self.kind, self.layout = "float_sci", _SciLayout(digits)
        elif k in "OUSMm":
            import pandas as pd
            if k in "Mm":
                arr = arr.astype(str)
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
            self._cat([_text_of(v, digits) for v in list(uniques)], codes)
        else:
            raise TypeError(f"column {name!r}: cannot write dtype {arr.dtype} to CSV")
        if k == "f" and self.all_nan:
            self.formats = []                          # an empty field on every row
        elif self.layout is not None:
            self.formats = self.layout.formats

    def _cat(self, texts: list[str], index: np.ndarray) -> None:
        """Rows gather the bytes of their value from a (k + 1, width) table, as one void
        item of `width` bytes each."""
        self.kind, table = "cat", _table(texts)
        width = table.shape[1]
        self.table = table.view(f"V{width}").ravel() if width else None
        self.index = index.astype(np.intp, copy=False)
        self.n = self.index.shape[0]
        self.formats = [f"V{width}"] if width else []

    def write(self, fields: list[np.ndarray], start: int, stop: int) -> None:
        """Rows start:stop into this column's `fields` (views of the chunk's record array)."""
        if not fields:
            return
        if self.kind == "cat":
            fields[0][...] = self.table.take(self.index[start:stop])
            return
        x = self.arr[start:stop]
        if self.kind == "int":
            self.layout.write(fields, *_abs_int(x))
            return
        if self.kind == "float_int":
            finite = np.isfinite(x)
            v = x.astype(np.int64) if finite.all() else np.where(finite, x, 0).astype(np.int64)
            self.layout.write(fields, *_abs_int(v))
            zero = False
        else:
            self.layout.write(fields, x)
            finite, zero = None, True
        self._specials(fields, x, finite, zero)

    def _specials(self, fields, x, finite, zero: bool) -> None:
        """NaN -> empty, +/-inf -> inf / -inf, and in scientific columns 0 -> '0'."""
        if zero:
            rows = np.flatnonzero(x == 0)
            if rows.size:
                self.layout.special(fields, rows, _SPECIAL["zero"])
        if finite is None:
            finite = np.isfinite(x)
        if finite.all():
            return
        for key, rows in (("nan", np.isnan(x)), ("inf", x == np.inf), ("-inf", x == -np.inf)):
            rows = np.flatnonzero(rows)
            if rows.size:
                self.layout.special(fields, rows, _SPECIAL[key])


# --- rows -----------------------------------------------------------------------------------

def _check_digits(digits: int) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) \
            or not 1 <= digits <= _MAX_DIGITS:
        raise PlannerError(f"CSV digits must be a whole number from 1 to {_MAX_DIGITS}, "
                           f"got {digits!r}")
    return int(digits)


def header_line(names) -> bytes:
    """The header row: names quoted per RFC 4180 where needed."""
    return (",".join(_quote(str(c)) for c in names) + "\n").encode("utf-8")


class _Rows:
    """The row record: every column's fields, then ',' (or '\\n' after the last column)."""

    def __init__(self, prepared: list[_Prepared]):
        names, formats, self.fields, self.seps = [], [], [], []
        for i, p in enumerate(prepared):
            own = []
            for f in p.formats:
                own.append(f"f{len(names)}")
                names.append(own[-1])
                formats.append(f)
            self.fields.append(own)
            self.seps.append((f"f{len(names)}", _COMMA if i < len(prepared) - 1 else _NL))
            names.append(self.seps[-1][0])
            formats.append("u1")
        sizes = [np.dtype(f).itemsize for f in formats]
        self.dtype = np.dtype({"names": names, "formats": formats,
                               "offsets": list(np.cumsum([0] + sizes[:-1])),
                               "itemsize": int(sum(sizes))})
        self.prepared = prepared
        self._local = threading.local()

    def _buffer(self, n: int) -> np.ndarray:
        """This thread's record array (separators filled in once), first `n` rows."""
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.shape[0] < n:
            buf = np.empty(n, dtype=self.dtype)
            for name, byte in self.seps:
                buf[name] = byte
            self._local.buf = buf
        return buf[:n]

    def chunk(self, start: int, stop: int) -> bytes:
        rec = self._buffer(stop - start)
        for p, own in zip(self.prepared, self.fields):
            p.write([rec[f] for f in own], start, stop)
        text = rec.tobytes().translate(None, b"\0")    # drop the padding bytes
        if len(self.prepared) == 1 and b"\n\n" in b"\n" + text:
            # one column: an empty field would be a blank line, which readers skip; write ""
            # as Python's csv module does (twice: a run of empty rows overlaps)
            text = (b"\n" + text).replace(b"\n\n", b'\n""\n').replace(b"\n\n", b'\n""\n')[1:]
        return text


def iter_csv_chunks(columns: Mapping[str, Column], header: bool = True, digits: int = 8,
                    chunk_rows: int = CHUNK_ROWS, threads: int = 1) -> Iterator[bytes]:
    """The CSV text of `columns` as successive byte strings (the header first if asked).
    `threads` > 1 formats chunks in a thread pool (numpy releases the GIL); order is kept."""
    digits = _check_digits(digits)
    names = list(columns)
    if not names:
        return
    prepared = [_Prepared(columns[c], digits, str(c)) for c in names]
    n = prepared[0].n
    for c, p in zip(names, prepared):
        if p.n != n:
            raise ValueError(f"column {c!r} has {p.n} rows, {names[0]!r} has {n}")
    if header:
        yield header_line(names)
    rows = _Rows(prepared)
    starts = range(0, n, chunk_rows)
    if threads <= 1 or len(starts) < 2:
        for s in starts:
            yield rows.chunk(s, min(s + chunk_rows, n))
        return
    with ThreadPoolExecutor(threads) as pool:
        yield from pool.map(lambda s: rows.chunk(s, min(s + chunk_rows, n)), starts)


def _threads(threads: int | None) -> int:
    # One by default: measured on 2 cores, a second thread gains nothing (the final
    # tobytes/translate holds the GIL and the per-chunk numpy calls are short).
    return 1 if threads is None else max(1, int(threads))


def to_csv_bytes(columns: Mapping[str, Column], header: bool = True, digits: int = 8,
                 threads: int | None = None) -> bytes:
    """CSV text (UTF-8, ``\\n`` line ends) of `columns`, a mapping name -> numpy array or
    categorical pair ``(values_tuple, index_array)``; see the module docstring for formats.
    `threads`: formatting threads (default 1)."""
    return b"".join(iter_csv_chunks(columns, header, digits, threads=_threads(threads)))


def write_csv(path_or_file: Union[str, os.PathLike, BinaryIO, io.TextIOBase],
              columns: Mapping[str, Column], header: bool = True, append: bool = False,
              digits: int = 8, threads: int | None = None) -> int:
    """Write `columns` as CSV to a path or an open file; returns the bytes written.

    With ``append=True`` a path is opened for appending and the header is written only if the
    file is new or empty (so chunks of a sweep can be streamed into one file); an open file is
    written at its current position, with the header if `header` is true."""
    if isinstance(path_or_file, (str, os.PathLike)):
        if append:
            try:
                header = header and os.path.getsize(path_or_file) == 0
            except OSError:
                pass
        with open(path_or_file, "ab" if append else "wb") as f:
            return _write_to(f, columns, header, digits, threads)
    return _write_to(path_or_file, columns, header, digits, threads)


def _write_to(f, columns, header: bool, digits: int, threads: int | None) -> int:
    text = isinstance(f, io.TextIOBase)
    total = 0
    for chunk in iter_csv_chunks(columns, header, digits, threads=_threads(threads)):
        f.write(chunk.decode("utf-8") if text else chunk)
        total += len(chunk)
    return total
