"""Writing result rows: CSV, JSON, parquet and markdown, chunk by chunk.

Rows arrive as chunks (dicts of numpy columns or `Cat`s) and go out as they come, so a sweep of
millions of rows is never held as text.  Numbers are formatted by Apache Arrow's C++ casts,
which give the shortest text that reads back to the same float64 (67492143.26 stays
67492143.26); NaN and infinities become empty CSV fields and JSON nulls (a figure that was not
asked for is null, never 0).  pyarrow is used because it does this exactly and several times
faster than code of ours or pandas could (pandas `to_csv`: ~130 s for 1M x 22 floats).
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Iterable

import numpy as np

from planner.errors import PlannerError
from planner.evaluate.columns import Cat

SUFFIXES = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".md": "markdown"}
THREADS = max(1, min(4, os.cpu_count() or 1))
# Bytes of memory per row and column while a chunk is formatted (the arrays, Arrow's copy and
# the text), measured with `benchmarks/bench_outputs.py`; the runner's memory guard uses it.
FORMAT_BYTES_PER_CELL = {"csv": 60, "json": 110, "parquet": 40, "markdown": 70}


def _pa():
    import pyarrow as pa
    return pa


def arrow_column(values: Any):
    """A numpy column or `Cat` -> an Arrow array: floats with NaN/inf as nulls, text and None
    as strings, bools (with None) as booleans."""
    pa = _pa()
    if isinstance(values, Cat):
        import pyarrow.compute as pc
        return pc.take(arrow_column(np.asarray(values.values, dtype=object)),
                       pa.array(values.index))
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return pa.array(np.where(np.isfinite(arr), arr, np.nan), from_pandas=True)
    if arr.dtype.kind in "iub":
        return pa.array(arr)
    if arr.dtype.kind in "US":
        return pa.array(arr.astype(object))
    # object: bools (and None), numbers, or text
    sample = [v for v in arr[:1000].tolist() if v is not None]
    if sample and all(isinstance(v, (bool, np.bool_)) for v in sample):
        return pa.array(arr.tolist(), type=pa.bool_())
    if sample and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                      for v in sample):
        return pa.array(np.asarray([np.nan if v is None else v for v in arr.tolist()],
                                   dtype=float), from_pandas=True)
    return pa.array([None if v is None else str(v) for v in arr.tolist()], type=pa.string())


def arrow_table(chunk: dict[str, Any]):
    pa = _pa()
    return pa.table({k: arrow_column(v) for k, v in chunk.items()}).combine_chunks()


def _strings(col, quote: str):
    """Arrow column -> text of each value for JSON (quote='"') or markdown (quote='')."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        s = col
        if quote:
            for a, b in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                         ("\t", "\\t")):
                s = pc.replace_substring(s, a, b)
            s = pc.replace_substring_regex(s, "[\\x00-\\x1f]", " ")
            s = pc.binary_join_element_wise(quote, s, quote, "")
        else:
            s = pc.replace_substring(s, "|", "\\|")
            s = pc.replace_substring_regex(s, "[\\r\\n]", " ")
    elif pa.types.is_boolean(col.type) and not quote:
        s = pc.cast(col, pa.string())
    else:
        s = pc.cast(col, pa.string())
    return pc.fill_null(s, "null" if quote else "")


class RowWriter:
    """Write chunks of rows to a binary stream in one format."""

    def __init__(self, stream: IO[bytes], fmt: str, path: str | None = None) -> None:
        if fmt not in ("csv", "json", "parquet", "markdown"):
            raise PlannerError(f"unknown output format {fmt!r} (valid: csv, json, parquet, "
                               "markdown)")
        self.stream, self.fmt, self.rows = stream, fmt, 0
        self._parquet = None             # pyarrow.parquet.ParquetWriter, opened on first chunk
        self._schema = None
        self._columns: list[str] | None = None

    def write(self, chunk: dict[str, Any]) -> None:
        if not chunk:
            return
        n = len(_first(chunk))
        if n == 0 and self.rows:
            return
        table = arrow_table(chunk)
        {"csv": self._csv, "json": self._json, "parquet": self._parquet_chunk,
         "markdown": self._markdown}[self.fmt](table, n)
        self.rows += n

    def _csv(self, table, n: int) -> None:
        import pyarrow.csv as pcsv
        opts = pcsv.WriteOptions(include_header=self.rows == 0 and self._columns is None,
                                 quoting_style="needed")
        if self._columns is None:
            self._columns = table.column_names
        elif table.column_names != self._columns:
            raise PlannerError("the sections of this scenario have different columns; write "
                               "them to .json or .parquet, or one section per file")
        pcsv.write_csv(table, self.stream, write_options=opts)

    def _json(self, table, n: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        names = table.column_names

        def field(i: int):
            prefix = ("{" if i == 0 else ", ") + json.dumps(names[i]) + ": "
            return pc.binary_join_element_wise(prefix, _strings(table.column(i), '"'), "")

        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(field, range(len(names))))
        lines = pc.binary_join_element_wise(*parts, pa.scalar("}"), "")
        head = b"[\n" if self.rows == 0 else b",\n"
        self.stream.write(head)
        self._write_lines(lines, ",\n")

    def _markdown(self, table, n: int) -> None:
        import pyarrow.compute as pc
        names = table.column_names
        if self.rows == 0:
            self.stream.write(("| " + " | ".join(names) + " |\n|" +
                               "|".join("---" for _ in names) + "|\n").encode())
        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(lambda i: _strings(table.column(i), ""), range(len(names))))
        lines = pc.binary_join_element_wise("| ", pc.binary_join_element_wise(*parts, " | "),
                                            " |", "")
        self._write_lines(lines, "\n", trailing=True)

    def _write_lines(self, lines, sep: str, trailing: bool = False) -> None:
        """Write an Arrow string array joined by `sep` without building Python strings: the
        array's data buffer is the concatenation of its values."""
        import pyarrow.compute as pc
        if len(lines) == 0:
            return
        joined = pc.binary_join_element_wise(lines, sep, "")
        if hasattr(joined, "combine_chunks"):
            joined = joined.combine_chunks()
        # The last value carries a trailing separator: drop it unless wanted.
        buf = _concat(joined)
        self.stream.write(buf if trailing else buf[:len(buf) - len(sep.encode())])

    def _parquet_chunk(self, table, n: int) -> None:
        import pyarrow.parquet as pq
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.stream, self._schema)
        elif table.schema != self._schema:
            table = _conform(table, self._schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write(b"[]\n" if self.rows == 0 else b"\n]\n")
        if self._parquet is not None:
            self._parquet.close()
        self.stream.flush()


def _concat(strings) -> bytes:
    """The bytes of all values of an Arrow string array, in order (its data buffer between
    the first and last offsets)."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32,
                            count=len(strings) + 1, offset=strings.offset * 4)
    data = strings.buffers()[2]
    return data.to_pybytes()[offsets[0]:offsets[-1]]


def _conform(table, schema):
    """Cast a later chunk to the first chunk's schema (a column that was all-null text there
    may hold booleans or numbers later: those are written as text)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    cols = []
    for f in schema:
        col = table.column(f.name) if f.name in table.column_names else pa.nulls(
            len(table), f.type)
        if col.type != f.type:
            col = pc.cast(col, f.type) if f.type != pa.string() else pc.cast(col, pa.string())
        cols.append(col)
    return pa.table(cols, schema=schema)


def _first(chunk: dict[str, Any]):
    v = next(iter(chunk.values()))
    return v.index if isinstance(v, Cat) else v


def write_rows(stream: IO[bytes], fmt: str, chunks: Iterable[dict[str, Any]]) -> int:
    """Write every chunk to `stream` in `fmt`; returns the row count."""
    writer = RowWriter(stream, fmt)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    return writer.rows


def format_of(path: str) -> str:
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in SUFFIXES:
        raise PlannerError(f"cannot write {os.path.basename(str(path))!r}: --out must end in "
                           ".csv, .json, .parquet or .md")
    return SUFFIXES[suffix]
