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
    """Arrow column -> text of each value for JSON (quote='"') or markdown (quote='').
    Columns with few distinct values (most of a sweep's: the model, the device, the tokens)
    are formatted once per distinct value and gathered."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if hasattr(col, "combine_chunks"):
        col = col.combine_chunks()
    if len(col) > 64 and not pa.types.is_boolean(col.type):
        enc = pc.dictionary_encode(col)
        if len(enc.dictionary) * 8 < len(col):
            return pc.fill_null(pc.take(_strings(enc.dictionary, quote), enc.indices),
                                "null" if quote else "")
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
    else:
        s = pc.cast(col, pa.string())
    return pc.fill_null(s, "null" if quote else "")


class RowWriter:
    """Write chunks of rows to a binary stream in one format."""

    def __init__(self, stream: IO[bytes], fmt: str) -> None:
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
        import pyarrow.compute as pc
        keys = [("{" if i == 0 else ", ") + json.dumps(name) + ": "
                for i, name in enumerate(table.column_names)]

        def lines(part):
            args: list = []
            for i, key in enumerate(keys):
                args += [key, _strings(part.column(i), '"')]
            return pc.binary_join_element_wise(*args, "},\n", "")

        self.stream.write(b"[\n" if self.rows == 0 else b",\n")
        self._write_slices(table, lines, drop=2)

    def _markdown(self, table, n: int) -> None:
        import pyarrow.compute as pc
        names = table.column_names
        if self.rows == 0:
            self.stream.write(("| " + " | ".join(names) + " |\n|" +
                               "|".join("---" for _ in names) + "|\n").encode())

        def lines(part):
            args: list = []
            for i in range(len(names)):
                args += ["| " if i == 0 else " | ", _strings(part.column(i), "")]
            return pc.binary_join_element_wise(*args, " |\n", "")

        self._write_slices(table, lines, drop=0)

    def _write_slices(self, table, lines, drop: int) -> None:
        """Format slices of the table in parallel threads (Arrow releases the GIL) and write
        them in order; the last `drop` bytes of the whole are left out (a trailing comma)."""
        step = -(-len(table) // THREADS)
        slices = [table.slice(a, step) for a in range(0, len(table), step)]
        with ThreadPoolExecutor(THREADS) as pool:
            done = list(pool.map(lines, slices))
        for k, text in enumerate(done):
            self._write_lines(text, drop if k == len(done) - 1 else 0)

    def _write_lines(self, lines, drop: int) -> None:
        """Write an Arrow string array's values back to back, without building Python
        strings (its data buffer is their concatenation), less the last `drop` bytes."""
        if len(lines) == 0:
            return
        if hasattr(lines, "combine_chunks"):
            lines = lines.combine_chunks()
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1,
                                offset=lines.offset * 4)
        data = memoryview(lines.buffers()[2])
        self.stream.write(data[offsets[0]:offsets[-1] - drop])

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
