"""Consistency warnings: inputs (or answers) that contradict the published record, one line
each, never silent.  The limits and their sources are data: planner/data/consistency.toml.

  utilisation   an MFU or HFU above the highest a published run reached on that hardware
                class (or on any class, for a device in none)
  flops         a model's published training compute that disagrees with 6·N·D at its
                published tokens by more than the attention term (+ rounding) explains
  sparse peak   a peak given for a device that equals twice a built-in profile's dense figure
                (the vendor's "with sparsity" number) and no built-in's dense one
  tokens        tokens per parameter a factor `margin` beyond the range models were trained at

Each check returns a column of warning texts (None where nothing is wrong) over n rows;
`join` merges columns into the evaluator's `warning` column (lines separated by newlines; the
command prints each as its own ``Warning:`` line).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from planner.resources import data_toml


def limits() -> dict[str, Any]:
    return data_toml("consistency.toml")


def join(*columns) -> np.ndarray:
    """Merge warning columns (object arrays of str/None, or None for a column with no warning
    at all) row by row with newlines; only the rows with a warning are visited."""
    cols = [c for c in columns if c is not None]
    if len(cols) == 1:
        return cols[0]
    n = len(cols[0])
    has = [np.not_equal(c, None) for c in cols]
    out = np.full(n, None, dtype=object)
    if not any(h.any() for h in has):
        return out
    rows = np.flatnonzero(np.logical_or.reduce(has))
    for i in rows.tolist():
        parts = [str(c[i]) for c, h in zip(cols, has) if h[i] and c[i]]
        if parts:
            out[i] = "\n".join(dict.fromkeys(parts))
    return out


# --- utilisation ---------------------------------------------------------------------------------

def utilisation_class(device_name: str | None) -> dict | None:
    """The [utilisation.*] entry whose `match` prefix is the longest match of the name."""
    if not device_name:
        return None
    best, length = None, 0
    for entry in limits()["utilisation"].values():
        for prefix in entry["match"]:
            if device_name.startswith(prefix) and len(prefix) > length:
                best, length = entry, len(prefix)
    return best


def utilisation(mfu, hfu, device_names, limit_mfu, limit_hfu) -> np.ndarray:
    """MFU/HFU above the highest a published run reached on the device's class (`limit_mfu`,
    `limit_hfu`: per row, from `utilisation_limit`)."""
    mfu, hfu = np.asarray(mfu, dtype=float), np.asarray(hfu, dtype=float)
    names = np.asarray(device_names, dtype=object)
    with np.errstate(invalid="ignore"):
        over_m, over_h = mfu > limit_mfu + 1e-9, hfu > limit_hfu + 1e-9
    if not (over_m.any() or over_h.any()):
        return None
    out = np.full(len(mfu), None, dtype=object)
    classes = list(limits()["utilisation"].values())
    top = {k: max(classes, key=lambda e: e[k]) for k in ("mfu", "hfu")}
    cache: dict = {}
    for i in np.flatnonzero(over_m | over_h).tolist():
        key = (names[i], bool(over_m[i]))
        if key not in cache:
            cache[key] = _utilisation_one(names[i], "MFU" if over_m[i] else "HFU", top)
        out[i] = cache[key]
    return out


def utilisation_limit(device_name: str | None, what: str) -> float:
    """The highest published `what` ('mfu' or 'hfu') of the device's class, or of any class."""
    entry = utilisation_class(device_name)
    if entry is None:
        return max(e[what] for e in limits()["utilisation"].values())
    return float(entry[what])


def _utilisation_one(name, what: str, top: dict) -> str:
    entry = utilisation_class(name)
    k = what.lower()
    ref = entry or top[k]
    where = (f"on {ref['label']}" if entry else
             f"on any hardware class (no published run on {name}'s class in the table)")
    return (f"the {what} is above the highest any published run reached {where}: "
            f"{ref[k]:.3g}, {ref[k + '_source']}")


# --- FLOPs against 6ND -----------------------------------------------------------------------------

def flops_vs_6nd(published_flops: float, params: float, tokens: float,
                 attention_per_token: float, what: str) -> str | None:
    """A published training compute that 6·N·D (plus the attention-score FLOPs and the
    rounding allowance) does not explain."""
    if not all(map(math.isfinite, (published_flops, params, tokens))) or params <= 0:
        return None
    six = 6.0 * params * tokens
    attention = attention_per_token / (6.0 * params) if math.isfinite(attention_per_token) \
        else 0.0
    allowed = attention + limits()["flops"]["rounding"]
    dev = published_flops / six - 1.0
    if abs(dev) <= allowed:
        return None
    return (f"the published training compute of {what} ({published_flops:.3g} FLOP) differs from "
            f"6·N·D = {six:.3g} FLOP by {100 * dev:+.1f}%, more than the attention term "
            f"({100 * attention:.1f}%) and rounding explain: it counts other tokens, another N or "
            "other FLOPs; planner's figure uses 6·N·D (or --flops-method exact)")


# --- sparse peaks ---------------------------------------------------------------------------------

@functools.cache
def _dense_peaks() -> dict[str, list[tuple[float, str]]]:
    """precision -> [(dense peak FLOP/s, device name)] of the built-in profiles."""
    from planner.hardware import devices
    out: dict[str, list[tuple[float, str]]] = {}
    for d in devices():
        for p, v in d.peak_flops.items():
            if v:
                out.setdefault(p, []).append((float(v), d.name))
    return out


def sparse_peak(device_name: str | None, precision: str, peak: float) -> str | None:
    """A user-given peak (a --tflops value, an ad-hoc device, a user profile) that is twice a
    built-in profile's dense figure at `precision` and no built-in's dense figure."""
    if not math.isfinite(peak) or peak <= 0:
        return None
    tol = limits()["sparse"]["tolerance"]
    table = _dense_peaks().get(precision, [])
    if any(abs(peak / v - 1) <= tol for v, _ in table):
        return None
    twice = [n for v, n in table if abs(peak / (2 * v) - 1) <= tol]
    if not twice:
        return None
    same = [n for n in twice if n == device_name]
    name = same[0] if same else twice[0]
    dense = next(v for v, n in table if n == name)
    return (f"the {precision} peak {peak / 1e12:,.4g} TFLOPS of {device_name or 'this device'} "
            f"is twice the dense figure of {name} ({dense / 1e12:,.4g} TFLOPS): it looks like the "
            "vendor's sparse (2:4 structured sparsity) figure; planner expects dense peaks")


# --- tokens per parameter ---------------------------------------------------------------------------

def tokens_per_param(tokens, params) -> np.ndarray:
    """Tokens per parameter a factor `margin` outside the range models were trained at."""
    t = limits()["tokens_per_param"]
    lo, hi = t["low"] / t["margin"], t["high"] * t["margin"]
    tokens, params = np.asarray(tokens, dtype=float), np.asarray(params, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = tokens / params
    with np.errstate(invalid="ignore"):
        flagged = np.flatnonzero(np.isfinite(ratio) & ((ratio < lo) | (ratio > hi)))
    if not len(flagged):
        return None
    out = np.full(len(ratio), None, dtype=object)
    for i in flagged:
        r = ratio[i]
        side = (f"below {lo:.3g}, a tenth of the fewest any published model was trained on "
                f"({t['low']:g}: {t['low_source']})") if r < lo else \
            (f"above {hi:,.0f}, ten times the most any published model was trained on "
             f"({t['high']:,.0f}: {t['high_source']})")
        out[i] = (f"{r:.3g} tokens per parameter is {side}; check --tokens (e.g. 300B, not 300M)")
    return out


# --- serving (hook) ----------------------------------------------------------------------------------

# --- the training evaluator -----------------------------------------------------------------------

def train(out: dict[str, np.ndarray], combos: list, code: np.ndarray) -> np.ndarray:
    """The consistency warnings of training rows (the evaluator's result columns `out`, its
    combinations and each row's combination), joined to the `warning` column."""
    n = len(code)
    per_combo: list[str | None] = []
    flops_notes: list[tuple] = []
    for c in combos:
        note = None
        dev = c.device
        if dev is not None and _peak_is_given(dev, c.precision, c.peak):
            note = sparse_peak(dev.name, c.precision, c.peak)
        per_combo.append(note)
        spec = c.spec
        pub = spec.meta.get("published_flops") if spec is not None else None
        toks = spec.meta.get("train_tokens") if spec is not None else None
        flops_notes.append((pub, toks))
    sparse = None
    if any(per_combo):
        sparse = np.empty(len(per_combo), dtype=object)
        sparse[:] = per_combo
        sparse = sparse[code]
    flops = None
    tokens = np.asarray(out["tokens"], dtype=float)
    for cid, (pub, toks) in enumerate(flops_notes):
        if not pub or not toks:
            continue
        rows = np.flatnonzero((code == cid) & np.isclose(tokens, float(toks), rtol=0.01))
        if len(rows):
            from planner.estimate.training import attention_score_flops_per_token
            flops = np.full(n, None, dtype=object) if flops is None else flops
            c = combos[cid]
            att = attention_score_flops_per_token(c.spec, c.seq_len if math.isfinite(
                c.seq_len) else None)
            flops[rows] = flops_vs_6nd(float(pub), float(out["params"][rows[0]]), float(toks),
                                       float(att), c.spec.name)
    names = [c.device.name if c.device is not None else None for c in combos]
    lim = {k: np.asarray([utilisation_limit(d, k) for d in names])[code]
           for k in ("mfu", "hfu")}
    return join(out["warning"], sparse,
                utilisation(out["mfu"], out["hfu"], out["device"], lim["mfu"], lim["hfu"]),
                tokens_per_param(out["tokens"], out["params"]), flops)


def _peak_is_given(device, precision: str, peak: float) -> bool:
    """Whether the peak differs from the built-in profile of that name (an ad-hoc device, a
    --tflops override, a user's hardware file)."""
    from planner.errors import PlannerError
    from planner.hardware import get_device
    try:
        builtin = get_device(device.name)
    except PlannerError:
        return True
    try:
        return not math.isclose(builtin.peak(precision), peak, rel_tol=1e-9)
    except PlannerError:
        return True
