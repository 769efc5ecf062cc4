"""Name look-up shared by the zoo and the hardware table: case-insensitive, tolerant of ``_``,
``.`` and spaces, with closest-name suggestions for typos."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable


def strict_key(name: str) -> str:
    """``Llama_2 7B`` -> ``llama-2-7b``: case folded, ``_`` and spaces read as ``-``."""
    return "-".join(str(name).lower().replace("_", "-").split()).strip("-")


def loose_key(name: str) -> str:
    """``llama-3.1-405b`` -> ``llama31405b``: every separator dropped."""
    return "".join(ch for ch in str(name).lower() if ch not in "-_. ")


def split_aliases(text: object) -> list[str]:
    """``"a100; a100-sxm"`` -> ``["a100", "a100-sxm"]`` (empty/NaN -> [])."""
    if text is None or text != text:  # None or NaN
        return []
    return [a.strip().lower() for a in str(text).split(";") if a.strip()]


class NameIndex:
    """Canonical names and their aliases.  A strict match wins; otherwise a loose match
    (separators ignored) is taken only when it names one entry, so ``gpt3-1.3b`` and
    ``gpt3-13b`` stay distinct while ``llama_3_1_405b`` still finds ``llama-3.1-405b``."""

    def __init__(self, entries: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.strict: dict[str, str] = {}
        self.loose: dict[str, set[str]] = defaultdict(set)
        self.all_names: list[str] = []
        for name, aliases in entries:
            for alias in (name, *aliases):
                k = strict_key(alias)
                if self.strict.get(k, name) != name:
                    raise ValueError(f"name clash: {alias!r} names {self.strict[k]} and {name}")
                self.strict[k] = name
                self.loose[loose_key(alias)].add(name)
                self.all_names.append(alias)

    def find(self, name: str) -> str | None:
        return lookup(self.strict, self.loose, name)


def lookup(strict: dict[str, str], loose: dict[str, set[str]], name: str) -> str | None:
    """The strict match of `name`, else its loose match when that names one entry."""
    hit = strict.get(strict_key(name))
    if hit is None:
        hits = loose.get(loose_key(name), set())
        hit = next(iter(hits)) if len(hits) == 1 else None
    return hit
