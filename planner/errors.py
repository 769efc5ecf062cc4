"""The one user-facing error type.

Anything a user can get wrong (a name, a number, a file) raises `PlannerError`; the CLI prints
it as one line, ``Error: <what was wrong> (<what is valid>)``, and exits with status 2.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class PlannerError(ValueError):
    """A problem with the user's input, worded for the user."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The closest names to `name` among `candidates` (difflib ratio, case-insensitive)."""
    cands = list(candidates)
    lower = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    return [lower[h] for h in hits]


def unknown(kind: str, name: str, candidates: Iterable[str], hint: str = "") -> PlannerError:
    """`PlannerError` for an unknown name, suggesting the closest valid ones."""
    cands = sorted(set(candidates))
    near = closest(name, cands)
    if near:
        what = "did you mean " + ", ".join(repr(c) for c in near) + "?"
    else:
        shown = ", ".join(cands[:12]) + (", ..." if len(cands) > 12 else "")
        what = "valid: " + shown
    if hint:
        what += "; " + hint
    return PlannerError(f"unknown {kind} {name!r} ({what})")
