"""The hostile-input battery of issue 9: what a case is, how one is run and judged, and the tally.

A `Case` is one bad or careless input: the command line, the files it needs (written into a
fresh folder, which is also the working directory), the words its error must contain, and the
environment.  `run_case` runs it in-process (through the `cli` fixture of conftest.py) under an
alarm; `judge` sorts the result into one outcome:

    clean error          exit 2, exactly one line on stderr starting 'Error:', naming the
                         problem, and the folder exactly as it was (nothing created or damaged)
    right answer         exit 0 on an input that has an answer, checked (a test's oracle)
    answered (fuzz)      exit 0 on a hypothesis-drawn input with no oracle (not a crash, a
                         hang or a damaged file; whether the figures are right is not judged)
    traceback            an exception escaped (a crash, whatever the message)
    silent wrong answer  exit 0 on an input that has no right answer
    unclear error        exit 2 but not one 'Error:' line naming the problem, or another status
    lost file            a file in the folder changed, vanished or appeared (a '.part' left)
    hang                 still running after HANG_SECONDS (in-process: an alarm; subprocess:
                         the timeout or the CPU-time bound)
    memory blow-up       MemoryError, or a subprocess that went over its address-space limit

`record` keeps the count per input class and outcome; conftest.py prints the table at the end
of the session (`summary_lines`), so a run of the suite reports: cases tried, clean errors, and
the count of every bad outcome.
"""
from __future__ import annotations

import hashlib
import os
import signal
import stat
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

SENTINEL = b"precious: an earlier run's results\n"
HANG_SECONDS = 20        # in-process alarm (a clean error takes milliseconds)
GOOD = "clean error"
RIGHT = "right answer"
ANSWERED = "answered (fuzz)"
OUTCOMES = (GOOD, RIGHT, ANSWERED, "traceback", "silent wrong answer", "unclear error",
            "lost file", "hang", "memory blow-up")


class _Fifo:
    """Marker: make a named pipe here (reading it would block for ever)."""


class _Folder:
    """Marker: make a folder here."""


FIFO, FOLDER = _Fifo(), _Folder()


@dataclass(frozen=True)
class Link:
    """Marker: a symbolic link to `target` (e.g. /dev/zero)."""
    target: str


@dataclass(frozen=True)
class Case:
    klass: str                       # the input class, e.g. "non-finite number"
    name: str
    argv: tuple[str, ...]            # "{d}" is replaced by the case's folder
    files: tuple = ()                # (name, str | bytes | FIFO | FOLDER | Link), written first
    say: tuple[str, ...] = ()        # words the error line must contain (case-insensitive)
    env: tuple[tuple[str, str], ...] = ()
    readonly: tuple[str, ...] = ()   # sub-folders made read-only (chmod 555) after writing

    @property
    def id(self) -> str:
        return f"{self.klass}: {self.name}"


def case(klass: str, name: str, *argv: str, files: dict | None = None, say=(), env=None,
         readonly=()) -> Case:
    return Case(klass, name, tuple(str(a) for a in argv), tuple((files or {}).items()),
                tuple(say), tuple((env or {}).items()), tuple(readonly))


# --- the folder: prepare, snapshot, compare ------------------------------------------------------

def prepare(c: Case, folder: Path) -> None:
    for name, content in c.files:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if content is FIFO:
            os.mkfifo(p)
        elif content is FOLDER:
            p.mkdir(exist_ok=True)
        elif isinstance(content, Link):
            p.symlink_to(content.target)
        else:
            p.write_bytes(content if isinstance(content, bytes) else
                          str(content).replace("{d}", str(folder)).encode())
    for sub in c.readonly:
        (folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(folder / sub, 0o555)


def snapshot(folder: Path) -> dict[str, str]:
    """name -> kind and content hash of everything under `folder` (links and pipes not
    followed), to tell a run that created, removed or changed a file."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root, name)
            st = p.lstat()
            rel = str(p.relative_to(folder))
            if stat.S_ISREG(st.st_mode):
                out[rel] = "file " + hashlib.sha1(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = "link " + os.readlink(p)
            else:
                out[rel] = "dir" if stat.S_ISDIR(st.st_mode) else "special"
    return out


def argv_of(c: Case, folder: Path) -> list[str]:
    return [a.replace("{d}", str(folder)) for a in c.argv]


# --- running in-process --------------------------------------------------------------------------

class Hang(BaseException):
    """Raised by the alarm (BaseException, so no `except Exception` in the code swallows it)."""


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def ring(signum, frame):
        raise Hang()
    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def environment(folder: Path, env: tuple) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k, _ in env}
    cwd = os.getcwd()
    for k, v in env:
        os.environ[k] = v.replace("{d}", str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class Outcome:
    outcome: str
    detail: str
    code: Any = None
    out: str = ""
    err: str = ""


def run_case(cli: Callable, c: Case, folder: Path, valid: bool | None = False) -> Outcome:
    """Run `c` through the conftest `cli` runner in `folder`, judge it and record it.  With
    `valid` (hypothesis drew a value in range) an answer is a right answer, not a silent one;
    with `valid=None` (fuzz without an oracle) it is counted as answered."""
    prepare(c, folder)
    before = snapshot(folder)
    res, exc = None, None
    with environment(folder, c.env):
        try:
            with alarm(HANG_SECONDS):
                res = cli(*argv_of(c, folder))
        except Hang:
            exc = "hang"
        except MemoryError:
            exc = "memory blow-up"
        except Exception as e:  # noqa: BLE001 - any escape is the finding
            exc = f"traceback: {type(e).__name__}: {e}"
    for sub in c.readonly:
        os.chmod(folder / sub, 0o755)
    changed = _changes(before, snapshot(folder))
    o = judge(c, res, exc, changed)
    if valid is not False and o.outcome == "silent wrong answer":
        o.outcome = RIGHT if valid else ANSWERED
    record(c.klass, o.outcome)
    return o


def _changes(before: dict, after: dict) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def judge(c: Case, res, exc: str | None, changed: list[str]) -> Outcome:
    if exc is not None:
        kind = exc.split(":")[0]
        return Outcome(kind, exc)
    code, out, err = res.code, res.out, res.err
    if changed:
        return Outcome("lost file", f"changed: {changed}", code, out, err)
    if code == 0:
        return Outcome("silent wrong answer", f"exit 0: {out[:300]!r}", code, out, err)
    lines = err.strip().splitlines()
    if code != 2 or len(lines) != 1 or not lines[0].startswith("Error: ") or \
            "Traceback" in err:
        return Outcome("unclear error", f"exit {code}: {err[:500]!r}", code, out, err)
    missing = [w for w in c.say if w.lower() not in lines[0].lower()]
    if missing:
        return Outcome("unclear error", f"{lines[0]!r} lacks {missing}", code, out, err)
    return Outcome(GOOD, lines[0], code, out, err)


# --- the tally -----------------------------------------------------------------------------------

TALLY: dict[str, Counter] = defaultdict(Counter)


def record(klass: str, outcome: str) -> None:
    TALLY[klass][outcome] += 1


def summary_lines() -> list[str]:
    """The battery's table: per input class, cases tried and their outcomes."""
    if not TALLY:
        return []
    bad = [o for o in OUTCOMES if o not in (GOOD, RIGHT, ANSWERED)]
    head = ["class", "tried", "clean errors", "right answers", "answered"] + bad
    rows = [[k, sum(v.values()), v[GOOD], v[RIGHT], v[ANSWERED]] + [v[o] for o in bad]
            for k, v in sorted(TALLY.items())]
    rows.append(["all"] + [sum(r[i] for r in rows) for i in range(1, len(head))])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda r: "  ".join(str(x).rjust(w) if i else str(x).ljust(w)  # noqa: E731
                              for i, (x, w) in enumerate(zip(r, widths)))
    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
