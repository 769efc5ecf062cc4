"""The plan space: every valid parallel layout as numpy arrays, built in one vectorised pass.

A plan is (tp, pp, dp, cp, ep, micro_batch, interleave, sequence_parallel, recompute, zero,
precision).  The grid is grown one dimension at a time (np.repeat / np.tile) and filtered by
each validity rule as soon as its dimensions exist, so it never holds the full Cartesian
product.  Rules (Narayanan et al. 2021 sec. 3 for PTD-P; Korthikanti et al. 2022 for SP;
Megatron-LM's argument checks for the rest):
  - TP inside one scale-up domain (domain % tp == 0), dividing the heads and the KV heads;
  - CP: the sequence divisible by 2 x CP (load-balanced causal ring attention);
  - TP x CP x PP divides the GPU count; DP = GPUs / (TP x CP x PP);
  - the global batch (sequences) is a multiple of DP x micro-batch;
  - layers divisible by PP x interleave; interleaving needs PP > 1 and the micro-batch count
    divisible by PP (Narayanan et al. 2021 sec. 2.2.2);
  - EP divides the experts and DP; sequence parallelism needs TP > 1.
Memory fit is not a grid rule: every plan carries `fits`, so a caller can show why nothing fits.
A pinned value that empties the grid raises PlannerError naming the rule and the nearest valid
values of that dimension.
"""
from __future__ import annotations

import math

import numpy as np

from planner.errors import PlannerError
from planner.estimate.parallel.shape import Shape
from planner.estimate.training import RECOMPUTE

DIMENSIONS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "sequence_parallel",
              "recompute", "zero", "precision")
INT_DIMS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave")
MAX_CP = 64
MAX_INTERLEAVE = 8
OPTION = {d: "--" + d.replace("_", "-") for d in DIMENSIONS}


def divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _values(pins: dict, key: str, default: list) -> list:
    """The candidate values of one dimension: the pinned value(s) or `default`."""
    v = pins.get(key)
    if v is None or (isinstance(v, str) and v == "auto"):
        return list(default)
    if isinstance(v, (list, tuple, set, np.ndarray)):
        return list(v)
    return [v]


def whole(value, what: str) -> int:
    """`value` as a whole number >= 1, or PlannerError naming `what`."""
    try:
        iv = int(value)
        ok = iv == float(value) and iv >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise PlannerError(f"{what} must be a whole number >= 1, got {value!r}")
    return iv


def check_pins(pins: dict, precisions: tuple[str, ...]) -> dict:
    """Pinned values converted and checked one by one (types and ranges)."""
    out = {}
    for key, value in (pins or {}).items():
        if key not in DIMENSIONS:
            from planner.errors import unknown
            raise unknown("plan dimension", key, DIMENSIONS)
        if value is None or (isinstance(value, str) and value == "auto"):
            continue
        vals = list(value) if isinstance(value, (list, tuple, set, np.ndarray)) else [value]
        conv = []
        for v in vals:
            if key in INT_DIMS:
                conv.append(whole(v, OPTION[key]))
            elif key == "sequence_parallel":
                if isinstance(v, str):
                    if v.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                        raise PlannerError(f"{OPTION[key]} must be true or false, got {v!r}")
                    v = v.lower() in ("true", "1", "yes", "on")
                conv.append(bool(v))
            elif key == "recompute":
                if v not in RECOMPUTE:
                    from planner.errors import unknown
                    raise unknown("recompute mode", str(v), RECOMPUTE)
                conv.append(RECOMPUTE.index(v))
            elif key == "zero":
                if str(v) not in ("0", "1", "2", "3"):
                    raise PlannerError(f"{OPTION[key]} must be 0, 1, 2 or 3, got {v!r}")
                conv.append(int(v))
            elif key == "precision":
                p = str(v).lower()
                if p not in precisions:
                    raise PlannerError(f"{OPTION[key]} {v!r} is not available here (valid: "
                                       f"{', '.join(precisions)})")
                conv.append(precisions.index(p))
        out[key] = conv
    return out


class _Builder:
    """Grows the grid dimension by dimension; remembers the first rule that emptied it."""

    def __init__(self):
        self.grid: dict[str, np.ndarray] = {"_": np.zeros(1, dtype=np.int64)}
        self.reason: tuple[str, tuple[str, ...]] | None = None

    def expand(self, key: str, values) -> None:
        vals = np.asarray(values)
        n = len(self.grid["_"])
        self.grid = {k: np.repeat(v, len(vals)) for k, v in self.grid.items()}
        self.grid[key] = np.tile(vals, n)

    def keep(self, mask, reason: str, dims: tuple[str, ...]) -> None:
        mask = np.asarray(mask, dtype=bool)
        if self.reason is None and len(mask) and not mask.any():
            self.reason = (reason, dims)
        self.grid = {k: v[mask] for k, v in self.grid.items()}

    @property
    def size(self) -> int:
        return len(self.grid["_"])


def _build(shape: Shape, gpus: int, batch: int, seq: int, domain: int,
           precisions: tuple[str, ...], pins: dict, flash: bool = False):
    L, E = shape.layers, max(shape.experts, 1)
    b = _Builder()
    b.expand("tp", _values(pins, "tp", divisors(max(domain, 1))))
    tp = b.grid["tp"]
    b.keep((tp <= domain) & (domain % tp == 0),
           f"TP must fit within one scale-up domain of {domain} GPUs (domain % TP == 0)", ("tp",))
    tp = b.grid["tp"]
    b.keep((shape.heads % tp == 0) & (shape.kv_heads % tp == 0),
           f"TP must divide the attention heads ({shape.heads}) and the KV heads "
           f"({shape.kv_heads})", ("tp",))
    b.expand("cp", _values(pins, "cp", [c for c in (1, 2, 4, 8, 16, 32, MAX_CP) if c <= gpus]))
    cp = b.grid["cp"]
    b.keep((cp == 1) | (seq % (2 * cp) == 0),
           f"CP needs the sequence length ({seq}) divisible by 2 x CP", ("cp",))
    b.expand("pp", _values(pins, "pp", divisors(L)))
    b.keep(L % b.grid["pp"] == 0, f"PP must divide the layers ({L})", ("pp",))
    mp = b.grid["tp"] * b.grid["cp"] * b.grid["pp"]
    b.keep(gpus % mp == 0, f"TP x CP x PP must divide the GPU count ({gpus})",
           ("tp", "cp", "pp"))
    b.grid["dp"] = gpus // (b.grid["tp"] * b.grid["cp"] * b.grid["pp"])
    if "dp" in pins:
        b.keep(np.isin(b.grid["dp"], pins["dp"]),
               f"DP must equal GPUs / (TP x CP x PP) = {gpus} / (TP x CP x PP)", ("dp",))
    dp = b.grid["dp"]
    tried = ", ".join(str(x) for x in sorted(set(dp.tolist()))[:4])
    b.keep((dp <= batch) & (batch % dp == 0),
           f"the global batch ({batch} sequences) must be a multiple of DP = GPUs / (TP x CP x "
           f"PP) (DP would be {tried or 'none'}); more data-parallel replicas than sequences "
           f"cannot help", ("dp", "tp", "cp", "pp"))
    b.expand("ep", _values(pins, "ep", divisors(E)))
    ep = b.grid["ep"]
    b.keep((E % ep == 0) & (b.grid["dp"] % ep == 0),
           f"EP must divide the experts ({shape.experts}) and DP" if shape.experts else
           "expert parallelism needs a mixture-of-experts model (this one is dense)", ("ep",))
    b.expand("micro_batch", _values(pins, "micro_batch", divisors(batch)))
    per_replica = batch // b.grid["dp"]
    b.keep(per_replica % b.grid["micro_batch"] == 0,
           "the micro-batch must divide the batch per replica (global batch / DP)",
           ("micro_batch",))
    b.expand("interleave", _values(pins, "interleave",
                                   [v for v in divisors(L) if v <= MAX_INTERLEAVE]))
    v, pp = b.grid["interleave"], b.grid["pp"]
    b.keep(L % (pp * v) == 0, f"the layers ({L}) must be divisible by PP x interleave",
           ("interleave", "pp"))
    v, pp = b.grid["interleave"], b.grid["pp"]
    m = batch // (b.grid["dp"] * b.grid["micro_batch"])
    b.keep((v == 1) | ((pp > 1) & (m % pp == 0)),
           "interleaving needs PP > 1 and the micro-batch count (global batch / (DP x "
           "micro-batch)) divisible by PP", ("interleave",))
    b.expand("sequence_parallel", _values(pins, "sequence_parallel", [False, True]))
    b.keep(~b.grid["sequence_parallel"] | (b.grid["tp"] > 1),
           "sequence parallelism needs TP > 1", ("sequence_parallel", "tp"))
    # With FlashAttention nothing quadratic is stored, so selective recomputation is the same
    # plan as none: searched only when pinned.
    b.expand("recompute", _values(pins, "recompute", [0, 2] if flash else [0, 1, 2]))
    b.expand("zero", _values(pins, "zero", [0, 1, 2, 3]))
    if "zero" not in pins:  # ZeRO over one replica is plain data parallelism: drop the twins
        b.keep((b.grid["zero"] == 0) | (b.grid["dp"] * b.grid["cp"] > 1), "", ("zero",))
    # The device's mixed-precision format by default; fp8 only when asked for (it needs
    # Transformer Engine-style scaling, and MFU is then measured against the fp8 peak).
    b.expand("precision", _values(pins, "precision", [0]))
    grid = {k: v for k, v in b.grid.items() if k != "_"}
    grid["micro_batches"] = batch // (grid["dp"] * grid["micro_batch"])
    return grid, b.reason


def plan_grid(shape: Shape, gpus: int, global_batch: int, seq_len: int, domain: int,
              precisions: tuple[str, ...], pins: dict | None = None,
              flash: bool = False) -> dict:
    """Every valid plan as arrays (keys: DIMENSIONS plus micro_batches; recompute and precision
    as indices into RECOMPUTE and `precisions`).  `pins` maps a dimension to a value or a list
    of allowed values (None or "auto" = search).  Raises PlannerError naming the rule and the
    nearest valid values when the pins leave no plan."""
    for what, v in (("--gpus", gpus), ("--global-batch", global_batch), ("--seq", seq_len)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise PlannerError(f"{what} must be a whole number >= 1, got {v!r}")
    pins = check_pins(pins or {}, precisions)
    grid, reason = _build(shape, gpus, global_batch, seq_len, domain, precisions, pins, flash)
    if len(grid["tp"]):
        return grid
    raise _explain(shape, gpus, global_batch, seq_len, domain, precisions, pins, reason)


def _explain(shape, gpus, batch, seq, domain, precisions, pins, reason) -> PlannerError:
    text, dims = reason or ("no plan satisfies the pinned values", ())
    pinned = [d for d in dims if d in pins] + [d for d in pins if d not in dims]
    for key in pinned:
        free = {k: v for k, v in pins.items() if k != key}
        alt, _ = _build(shape, gpus, batch, seq, domain, precisions, free)
        if len(alt["tp"]):
            pinned_vals = pins[key]
            valid = sorted(set(alt[key].tolist()))
            shown = _show(key, pinned_vals[0], valid, precisions)
            given = _name(key, pinned_vals[0], precisions)
            return PlannerError(f"{OPTION[key]} {given} is not possible here: {text} "
                                f"(nearest valid {OPTION[key]}: {shown})")
    if not pins:
        return PlannerError(f"no parallel layout exists for {gpus} GPUs: {text}")
    given = ", ".join(f"{OPTION[k]} {_name(k, v[0], precisions)}" for k, v in pins.items())
    return PlannerError(f"no plan with {given}: {text}")


def _name(key, value, precisions):
    if key == "recompute":
        return RECOMPUTE[value]
    if key == "precision":
        return precisions[value]
    if key == "sequence_parallel":
        return "true" if value else "false"
    return str(value)


def _show(key, value, valid, precisions) -> str:
    if key in INT_DIMS:
        near = sorted(valid, key=lambda x: (abs(math.log(x / value)), x))[:2]
        return " or ".join(str(x) for x in sorted(near))
    return ", ".join(_name(key, x, precisions) for x in valid)
