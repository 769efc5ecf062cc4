"""Name normalisation shared by every look-up (zoo models, devices, quantisations)."""
from __future__ import annotations


def name_key(name: str) -> str:
    """Look-up key ignoring case, '-', '_', '.' and spaces: ``Llama_2.7B`` -> ``llama27b``."""
    return "".join(ch for ch in str(name).lower() if ch not in "-_. ")


def split_aliases(text: object) -> list[str]:
    """``"a100; a100-sxm"`` -> ``["a100", "a100-sxm"]`` (empty/NaN -> [])."""
    if text is None or text != text:  # None or NaN
        return []
    return [a.strip().lower() for a in str(text).split(";") if a.strip()]
