"""Reading and writing the user's files defensively.

Reads: regular files only (no devices, FIFOs or folders), a size cap checked *before* reading,
UTF-8 with a clear error otherwise.  Writes: to a temporary file beside the target, renamed over
it only when complete, so a failed run never damages an existing file; a missing or unwritable
folder is a clean error.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from planner.errors import PlannerError

MB = 2**20


def _describe(nbytes: float) -> str:
    return f"{nbytes / MB:,.1f} MiB" if nbytes >= MB else f"{nbytes:,.0f} bytes"


def check_regular(path: str | Path, what: str) -> Path:
    """`path` as a Path if it is an existing regular file, else `PlannerError`."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise PlannerError(f"{what} {str(path)!r} does not exist") from None
    except OSError as exc:
        raise PlannerError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise PlannerError(f"{what} {str(path)!r} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise PlannerError(f"{what} {str(path)!r} is not a regular file (a device, pipe or "
                           "socket cannot be read as one)")
    return p


def read_bytes(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than `max_bytes` (checked before reading, and
    again while reading, in case the file grows)."""
    p = check_regular(path, what)
    size = p.stat().st_size
    if size > max_bytes:
        raise PlannerError(f"{what} {str(path)!r} is {_describe(size)}, larger than the "
                           f"{_describe(max_bytes)} such a file can be")
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise PlannerError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise PlannerError(f"{what} {str(path)!r} is larger than the {_describe(max_bytes)} "
                           "such a file can be")
    return data


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """`read_bytes` decoded as UTF-8 (a byte-order mark is allowed), with a clear error for
    binary or other-encoding files."""
    data = read_bytes(path, what, max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlannerError(f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}: "
                           f"{data[exc.start:exc.start + 1]!r}); is it a binary file?") from None
    if "\x00" in text:
        raise PlannerError(f"{what} {str(path)!r} is not UTF-8 text (it holds NUL bytes, at "
                           f"byte {data.index(0)}); is it a binary file?")
    return text


MAX_JSON_DEPTH = 64  # Hugging Face configs nest 3-4 levels; Python's parser recurses


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of JSON `text` (brackets outside strings), scanning only until it
    exceeds `limit` - so a document nested 100,000 deep is refused before the recursive
    parser sees it."""
    import re

    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(text: str, what: str, limit: int = MAX_JSON_DEPTH):
    """`json.loads` with a depth limit and one-line errors (line and column)."""
    import json

    if json_depth(text, limit) > limit:
        raise PlannerError(f"{what} is nested more than {limit} levels deep (not a model "
                           "configuration)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlannerError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of > 4,300 digits
        raise PlannerError(f"{what} is not valid JSON ({str(exc).splitlines()[0]})") from None


def read_json(path: str | Path, what: str, max_bytes: int, limit: int = MAX_JSON_DEPTH):
    """A capped, regular, UTF-8 JSON file parsed with the depth limit."""
    return parse_json(read_text(path, what, max_bytes), f"{what} {str(path)!r}", limit)


_TOML_STRING = None


def toml_key_depth(text: str) -> int:
    """The most parts of one dotted key (``a.b.c`` = 3) or table header in TOML `text`,
    strings blanked out first.  Python's TOML parser takes memory quadratic in it: a 200 kB
    key of 100,000 parts would need ~40 GB."""
    import re

    global _TOML_STRING
    if _TOML_STRING is None:
        _TOML_STRING = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|'
                                  r"'[^'\n]*'")
    bare = _TOML_STRING.sub('""', text)
    return 1 + max((part.count(".") for part in re.split(r"[=,{}\[\]\n]", bare)), default=0)


def parse_toml(text: str, what: str, limit: int = MAX_JSON_DEPTH) -> dict:
    """`tomllib.loads` with a nesting limit (arrays and inline tables nest, and Python's parser
    recurses; dotted keys nest tables too) and one-line errors."""
    import tomllib

    if json_depth(text, limit) > limit:
        raise PlannerError(f"{what} is nested more than {limit} levels deep")
    if toml_key_depth(text) > limit:
        raise PlannerError(f"{what} has a dotted key of more than {limit} parts (tables "
                           f"nested more than {limit} levels deep)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlannerError(f"malformed TOML in {what}: {exc}") from None
    except RecursionError:
        raise PlannerError(f"{what} is nested too deeply") from None


def check_writable_target(path: str | Path, what: str = "output file",
                          inputs: tuple = ()) -> Path:
    """The file a write will replace: its folder must exist and be writable, and the target,
    if it exists, must be a regular file (not a folder, device or pipe: os.replace would put a
    file in its place) and none of the run's `inputs` (it would be replaced by the results).
    A symbolic link is followed, so the file it points to is replaced and the link kept.
    Returns the real path."""
    p = Path(path).expanduser()
    try:
        real = Path(os.path.realpath(p))
        folder = real.parent
        if not folder.is_dir():
            raise PlannerError(f"cannot write {what} {str(path)!r}: the folder "
                               f"{str(p.parent)!r} does not exist")
        try:
            st = real.stat()
        except FileNotFoundError:
            st = None
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise PlannerError(f"cannot write {what} {str(path)[:120]!r}: {exc.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise PlannerError(f"cannot write {what} {str(path)!r}: it is a folder")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise PlannerError(f"cannot write {what} {str(path)!r}: it is not a regular file (a "
                           "device, pipe or socket); give a file name")
    if not os.access(folder, os.W_OK):
        raise PlannerError(f"cannot write {what} {str(path)!r}: the folder {str(folder)!r} is "
                           "not writable")
    for src in inputs:
        if st is not None and os.path.realpath(Path(src).expanduser()) == str(real):
            raise PlannerError(f"cannot write {what} {str(path)!r}: it is the input file "
                               f"{str(src)!r}, which the results would replace")
    return real


@contextlib.contextmanager
def atomic_path(path: str | Path, what: str = "output file",
                keep_type: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` for writing; on success it gets the mode a new file
    would (0666 less the umask) and replaces `path` (os.replace, atomic on POSIX); on any
    failure it is removed and `path` is untouched.  The temporary name ends ``.part`` plus,
    with `keep_type`, the target's suffix (``.part.png``) for writers that go by the file
    name (matplotlib, pyarrow)."""
    target = check_writable_target(path, what)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.",
                                   suffix=".part" + (target.suffix if keep_type else ""),
                                   dir=str(target.parent) or ".")
    except OSError as exc:
        raise PlannerError(f"cannot write {what} {str(path)[:120]!r}: {exc.strerror}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, target)
        except OSError as exc:
            raise PlannerError(f"cannot write {what} {str(path)!r}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", what: str = "output file",
                 encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """`atomic_path` opened for writing: a file object whose contents replace `path` only
    when the block completes."""
    binary = "b" in mode
    with atomic_path(path, what, keep_type=False) as tmp:
        with open(tmp, mode, **({} if binary else {"encoding": encoding,
                                                   "newline": newline})) as fh:
            yield fh
