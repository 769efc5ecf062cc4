"""Predicted utilisation for the training evaluator.

When a training plan gives no --mfu/--hfu, the time is a prediction: the fastest parallel plan
that fits (`planner.estimate.parallel`: TP, PP, DP, CP, EP, micro-batch, interleave, sequence
parallelism, recomputation, ZeRO, precision - the dimensions the plan pins are fixed, the rest
searched) at each distinct cluster size, divided by the goodput of that cluster
(`planner.estimate.parallel.goodput`: failures, checkpoints and restarts, Young 1974 / Daly
2006).  The deadline solver walks cluster sizes with the prediction at each, so scaling losses
and the global-batch limit on data parallelism show in the answer.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import PlannerError

PIN_KEYS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "interleave", "sequence_parallel",
            "recompute", "zero", "precision")
LADDER = 32          # cluster sizes tried between the smallest and --max-gpus (geometric)

# The best plan per (search inputs, cluster size), shared by every evaluator call in the
# process (the web page answers many plans that differ only in tokens, price or deadline):
# least recently used first out.  The plans are read, never changed.
SHARED_SIZE = 4096
_SHARED: "OrderedDict[tuple, dict]" = OrderedDict()
_SHARED_LOCK = threading.Lock()


def can_predict(device) -> bool:
    """A named profile with its scale-up network (the step-time model needs it)."""
    if device is None or device.category in ("ad-hoc", "") and not device.info:
        return False
    return (math.isfinite(device.scale_up_domain) and math.isfinite(device.scale_up_bytes_per_s)
            and bool(device.peak_flops.get("bf16") or device.peak_flops.get("fp16")))


@dataclass
class Predictor:
    """The prediction inputs of one combination of categorical keys, and a cache of the best
    plan per cluster size."""
    spec: Any
    device: Any
    seq_len: int
    global_batch: int                       # sequences
    pins: dict
    framework: Any                          # estimate.parallel.tables.Framework
    flops_method: str
    goodput: dict                           # failure_rate, write_bytes_per_s, restart_seconds
    cache: dict = field(default_factory=dict)
    state_note: str = ""

    def at(self, sizes) -> dict[str, np.ndarray]:
        """The fastest fitting plan at each size: arrays tokens_per_s, mfu, hfu, step_seconds
        (NaN where none), and lists plan, reason."""
        from planner.estimate.parallel import best_by_gpus
        sizes = np.atleast_1d(np.asarray(sizes, dtype=float))
        wanted = {int(s) for s in sizes if math.isfinite(s) and s >= 1} - set(self.cache)
        shared = self._shared_key()
        if shared is not None:       # searched before by another call with the same inputs
            with _SHARED_LOCK:
                for n in list(wanted):
                    hit = _SHARED.get((shared, n))
                    if hit is not None:
                        _SHARED.move_to_end((shared, n))
                        self.cache[n] = hit
                        wanted.discard(n)
        todo = sorted(wanted)
        if todo:
            r = best_by_gpus(self.spec, self.device, todo, self.global_batch, self.seq_len,
                             self.pins, framework=self.framework,
                             flops_method=self.flops_method)
            for i, n in enumerate(todo):
                self.cache[n] = {k: r[k][i] for k in ("tokens_per_s", "mfu", "hfu", "step_seconds", "plan",
                                           "reason")}
            if shared is not None:
                with _SHARED_LOCK:
                    for n in todo:
                        _SHARED[(shared, n)] = self.cache[n]
                    while len(_SHARED) > SHARED_SIZE:
                        _SHARED.popitem(last=False)
        out = {k: np.full(len(sizes), np.nan) for k in ("tokens_per_s", "mfu", "hfu",
                                                        "step_seconds")}
        out["plan"], out["reason"] = [None] * len(sizes), [None] * len(sizes)
        for i, s in enumerate(sizes):
            hit = self.cache.get(int(s)) if math.isfinite(s) and s >= 1 else None
            if hit is None:
                out["reason"][i] = "no cluster size"
                continue
            for k in ("tokens_per_s", "mfu", "hfu", "step_seconds"):
                out[k][i] = hit[k]
            out["plan"][i], out["reason"][i] = hit["plan"], hit["reason"]
        return out

    def _shared_key(self):
        """What the search depends on, hashable (None if something is not: then only this
        Predictor's own cache is used).  A Device holds dicts: its repr stands for it."""
        try:
            key = (self.spec, repr(self.device), self.seq_len, self.global_batch,
                   tuple(sorted(self.pins.items())), self.framework, self.flops_method)
            hash(key)
            return key
        except TypeError:
            return None

    def useful(self, sizes, params: float, on) -> np.ndarray:
        """The goodput (useful fraction of wall-clock) at each size, or 1 where off."""
        from planner.estimate.parallel.goodput import goodput
        sizes = np.asarray(sizes, dtype=float)
        ok = np.isfinite(sizes) & (sizes >= 1)
        frac = np.ones(sizes.shape)
        if ok.any():
            g = goodput(sizes[ok], params, self.goodput.get("failure_rate"),
                        self.goodput.get("write_bytes_per_s"),
                        self.goodput.get("restart_seconds"))
            frac[ok] = g["useful_fraction"]
        return np.where(np.asarray(on, dtype=bool), frac, 1.0)

    def sizes(self, lo: float, hi: float, node: int) -> np.ndarray:
        """Cluster sizes in [lo, hi], whole nodes, that some layout can use whole: products
        tp x cp x pp x dp with TP dividing the scale-up domain and the (KV) heads, CP (ring
        attention) splitting the sequence into 2 CP chunks, PP dividing the layers and DP
        dividing the global batch - the rules of `estimate.parallel.space` (pins applied)."""
        from planner.estimate.parallel.shape import shape_of
        from planner.estimate.parallel.space import MAX_CP, divisors
        sh = shape_of(self.spec)
        dom = int(self.device.scale_up_domain)
        pick = lambda k, default: [self.pins[k]] if k in self.pins else default  # noqa: E731
        tps = [t for t in pick("tp", divisors(dom))
               if dom % t == 0 and sh.heads % t == 0 and sh.kv_heads % t == 0]
        cps = [c for c in pick("cp", [1, 2, 4, 8, 16, 32, MAX_CP])
               if c == 1 or self.seq_len % (2 * c) == 0]
        pps = [p for p in pick("pp", divisors(sh.layers)) if sh.layers % p == 0]
        dps = pick("dp", divisors(self.global_batch))
        prod = np.unique(np.multiply.outer(np.multiply.outer(np.multiply.outer(
            np.asarray(tps), cps), pps), dps).ravel().astype(float))
        return prod[(prod >= lo) & (prod <= hi) & (np.fmod(prod, node) == 0)]

    def solve(self, tokens: float, deadline: float, node: int, lo: float, hi: float,
              params: float, goodput_on: bool) -> tuple[float, str | None]:
        """The smallest usable whole-node cluster in [lo, hi] whose predicted time for `tokens`
        meets `deadline` (seconds): a geometric ladder over the usable sizes, then bisection
        between the last size that misses and the first that meets.  (nan, reason) when none
        does."""
        sizes = self.sizes(lo, hi, node)
        if not len(sizes):
            return math.nan, (f"no cluster size between {lo:,.0f} and {hi:,.0f} devices (whole "
                              f"nodes of {node}) can be laid out for a global batch of "
                              f"{self.global_batch:,} sequences; change --global-batch or "
                              "--max-gpus")
        pos = np.unique(np.round(np.geomspace(1, len(sizes), min(LADDER, len(sizes)))) - 1)
        ladder = sizes[pos.astype(int)]

        def seconds(s):
            r = self.at(s)
            return tokens / r["tokens_per_s"] / self.useful(s, params, goodput_on)

        t = seconds(ladder)
        meets = np.flatnonzero(t <= deadline * (1 + 1e-9))
        if not len(meets):
            return math.nan, self._why_not(ladder, t, deadline, hi)
        k = int(meets[0])
        good = int(pos[k])
        bad = int(pos[k - 1]) if k > 0 else -1
        while good - bad > 1:
            mid = (good + bad) // 2
            if seconds([sizes[mid]])[0] <= deadline * (1 + 1e-9):
                good = mid
            else:
                bad = mid
        return float(sizes[good]), None

    def usable_at_least(self, n: float, node: int, hi: float) -> float:
        """The smallest usable cluster size >= n (nan if none up to `hi`)."""
        sizes = self.sizes(n, max(hi, n), node)
        return float(sizes[0]) if len(sizes) else math.nan

    def _why_not(self, ladder, t, deadline, hi) -> str:
        from planner.units import format_duration
        ok = np.isfinite(t)
        if not ok.any():
            reasons = [r for r in self.at(ladder)["reason"] if r]
            last = reasons[-1] if reasons else "no parallel plan fits"
            if not last.startswith("no plan fits"):
                return last
            from planner.units import format_bytes
            tips = []
            if self.pins.get("recompute") not in (None, "full"):
                tips.append("--recompute full")
            if self.pins.get("zero") is not None and self.pins["zero"] < 3:
                tips.append(f"--zero {self.pins['zero'] + 1} or higher")
            for k in ("tp", "pp", "cp", "micro_batch"):
                if k in self.pins:
                    tips.append(f"a free --{k.replace('_', '-')}")
            tips.append("a shorter --seq-len or a device with more memory")
            return (f"{self.spec.name} does not fit in {format_bytes(self.device.memory_bytes)} "
                    f"of {self.device.name} at any usable cluster size up to {hi:,.0f} devices "
                    f"({last.split(';')[0]}); try "
                    + ", ".join(tips))
        best = int(np.nanargmin(t))
        n_best = ladder[best]
        rate = np.where(np.isfinite(t), 1.0 / t, 0.0)
        knee = int(np.argmax(rate >= 0.95 * rate[best]))
        stall = ""
        if ladder[knee] < n_best or best < len(ladder) - 1:
            stall = (f"; beyond ~{ladder[knee]:,.0f} devices more add under 5% (the global "
                     f"batch of {self.global_batch:,} sequences caps data parallelism: dp x "
                     "micro-batch <= batch; give --global-batch or --global-batch-tokens to "
                     "change it)")
        return (f"the fastest predicted plan takes {format_duration(t[best])} "
                f"(at {n_best:,.0f} devices), past the deadline of "
                f"{format_duration(deadline)}{stall}; up to --max-gpus {hi:,.0f} were tried")


def _no_plan(P: Predictor, devices: float, reason: str | None, min_gpus: float) -> str:
    """Why no parallel plan answers on `devices` devices, and what would."""
    reason = reason or "no parallel plan answers"
    if not reason.startswith("no plan fits"):
        return reason
    from planner.units import format_bytes
    hint = (f"; try --gpus {min_gpus:,.0f} or more (the memory rule's minimum), "
            if math.isfinite(min_gpus) else "; try ")
    return (f"{P.spec.name} does not fit in {format_bytes(P.device.memory_bytes)} of "
            f"{P.device.name} on {devices:,.0f} devices at any parallel layout ("
            f"{reason.split(' (')[0]}){hint}a shorter --seq-len, or a device with more memory")


def predictor(spec, device, seq_len: int, inputs: dict) -> Predictor:
    """The Predictor of one combination: the global batch in sequences (given, or the
    default tokens / seq_len rounded down to whole sequences), the pinned dimensions."""
    from planner.plan.train import TRAIN
    gb = inputs.get("global_batch")
    if gb is None:
        tokens = inputs.get("global_batch_tokens") or TRAIN["global_batch_tokens"].default
        gb = int(tokens // seq_len)
        if gb < 1:
            raise PlannerError(f"a global batch of {tokens:,.0f} tokens is less than one "
                               f"{seq_len:,}-token sequence; give --global-batch")
    from planner.estimate.memory import BYTE_MODES, BYTE_MODE_NOTES
    from planner.estimate.parallel import tables
    pins = {k: inputs.get(k) for k in PIN_KEYS if inputs.get(k) is not None}
    fw = tables.framework(inputs.get("framework") or TRAIN["framework"].default)
    opt = inputs.get("optimizer_bytes")
    if isinstance(opt, str) and opt in BYTE_MODES:       # the plan's bytes per parameter
        fw = fw.with_(state_bytes=opt)
    elif isinstance(opt, (int, float)):
        wb, gb, _ = BYTE_MODES["mixed"]
        fw = fw.with_(state_bytes=(wb, gb, float(opt)))
    note = (BYTE_MODE_NOTES[fw.state_bytes] if isinstance(fw.state_bytes, str) else
            f"optimizer K = {fw.state_bytes[2]:g} bytes/param (--optimizer-bytes)")
    return Predictor(spec, device, int(seq_len), int(gb), pins, fw,
                     inputs.get("flops_method") or "6nd",
                     {"failure_rate": inputs.get("failure_rate"),
                      "write_bytes_per_s": inputs.get("checkpoint_bandwidth"),
                      "restart_seconds": inputs.get("restart_time")}, state_note=note)


def evaluate_rows(mask, combos, groups, tokens, budget, price, deadline, gpus_in, by_default,
                  default_target, node, limit, min_gpus, params) -> dict:
    """The predicted-utilisation columns of the rows in `mask` (the training evaluator's
    other columns are overlaid with these): devices (given, solved for the deadline at the
    predicted utilisation, or sized for a budget's default wall-clock), tokens (bought by a
    budget at the predicted tokens/s), seconds, MFU/HFU, the plan's layout and memory, the
    step-time breakdown, goodput; `error` where no plan answers."""
    from planner.estimate.parallel.steptime import TERMS
    from planner.units import HOUR
    n = len(mask)
    num_keys = ("allocated", "used", "seconds", "mfu", "hfu", "tokens", "useful", "tp", "pp",
                "dp", "cp", "ep", "interleave", "zero", "micro_batch", "global_batch",
                "step_seconds", "tokens_per_s", "tflops_per_gpu", "memory_weights",
                "memory_gradients", "memory_optimizer", "memory_activations",
                "memory_buffers", "memory_total", *(f"time_{t}" for t in TERMS))
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in num_keys}
    for k in ("recompute", "precision", "error", "source", "optimizer_mode"):
        out[k] = np.full(n, None, dtype=object)
    out["sequence_parallel"] = np.zeros(n, dtype=bool)
    for c, rows in zip(combos, groups):
        rows = rows[mask[rows]]
        if not len(rows) or c.predictor is None:
            continue
        P = c.predictor
        on = np.full(len(rows), c.goodput is not False)
        alloc = gpus_in[rows].copy()
        solving = np.isnan(alloc)
        buy = np.isnan(tokens[rows]) & ~np.isnan(budget[rows])
        target = np.where(by_default[rows], default_target, deadline[rows])
        nd = node[rows]
        # A budget sets the wall-clock: device-hours = budget / price, so a cluster of n
        # finishes in budget / (price n); sized here to finish within the target.
        with np.errstate(invalid="ignore", divide="ignore"):
            n_budget = np.maximum(np.ceil(budget[rows] / (price[rows] * target / HOUR) / nd), 1) * nd
        sized = solving & buy
        if sized.any():  # the smallest usable size at least as large, per distinct size
            wanted, which = np.unique(n_budget[sized], return_inverse=True)
            n_budget[sized] = np.asarray([P.usable_at_least(v, int(nd[0]),
                                                            float(limit[rows[0]]))
                                          for v in wanted])[which.ravel()]
        alloc = np.where(solving & buy, n_budget, alloc)
        # Deadline rows with known tokens: the ladder-and-bisection solver, per distinct ask.
        ask = solving & ~buy & np.isfinite(target) & np.isfinite(tokens[rows])
        if ask.any():
            key = np.stack([tokens[rows], target, nd, limit[rows]], axis=1)
            uniq, inv = np.unique(key[ask], axis=0, return_inverse=True)
            inv = inv.ravel()
            lo = np.where(np.isfinite(min_gpus[rows]), min_gpus[rows], nd)
            lo_max = np.full(len(uniq), -np.inf)      # the largest lower bound per distinct ask
            np.maximum.at(lo_max, inv, lo[ask])
            n_params = float(params[rows[0]])
            solved, why = [], []
            for j, (tok, tgt, nod, hi) in enumerate(uniq):
                g, reason = P.solve(float(tok), float(tgt), int(nod), float(lo_max[j]),
                                    float(hi), n_params, bool(on.any()))
                solved.append(g)
                why.append(reason)
            sel = np.flatnonzero(ask)
            alloc[sel] = np.asarray(solved)[inv]
            for i, j in zip(sel, inv):
                if why[j]:
                    out["error"][rows[i]] = why[j]
        # the best plan per distinct cluster size, gathered to the rows that have it
        sizes, at = np.unique(alloc, return_inverse=True)
        at = at.ravel()
        best = P.at(sizes)
        useful = P.useful(alloc, float(params[rows[0]]), on)
        tps = best["tokens_per_s"][at]
        with np.errstate(invalid="ignore", divide="ignore"):
            toks = np.where(buy, tps * budget[rows] / (price[rows] * alloc) * HOUR * useful,
                            tokens[rows])
            secs = toks / tps / useful
        for name, v in (("allocated", alloc), ("used", alloc), ("seconds", secs),
                        ("mfu", best["mfu"][at]), ("hfu", best["hfu"][at]), ("tokens", toks),
                        ("useful", useful), ("step_seconds", best["step_seconds"][at]),
                        ("tokens_per_s", tps)):
            out[name][rows] = v
        out["global_batch"][rows] = P.global_batch
        plans = best["plan"]
        for j in (j for j, plan in enumerate(plans) if plan is None):
            these = rows[at == j]
            these = these[np.equal(out["error"][these], None)]
            if len(these):
                out["error"][these] = _no_plan(P, sizes[j], best["reason"][j],
                                               min_gpus[these[0]])
        found = np.asarray([plan is not None for plan in plans], dtype=bool)[at]
        if not found.any():
            continue
        rows, at = rows[found], at[found]

        def gather(get, dtype=float):
            return np.asarray([get(plan) if plan else None for plan in plans], dtype=dtype)[at]
        out["source"][rows] = (f"predicted: the fastest fitting parallel plan (planner "
                               f"parallel, framework {P.framework.name}, global batch "
                               f"{P.global_batch:,} x {P.seq_len:,} tokens)")
        out["optimizer_mode"][rows] = P.state_note
        for k in ("tp", "pp", "dp", "cp", "ep", "interleave", "zero", "micro_batch",
                  "tflops_per_gpu"):
            out[k][rows] = gather(lambda plan: plan[k])
        out["sequence_parallel"][rows] = gather(lambda plan: bool(plan["sequence_parallel"]),
                                                object) == True  # noqa: E712
        out["recompute"][rows] = gather(lambda plan: plan["recompute"], object)
        out["precision"][rows] = gather(lambda plan: plan["precision"], object)
        for k in ("weights", "gradients", "optimizer", "activations", "buffers"):
            out[f"memory_{k}"][rows] = gather(lambda plan: plan["memory"][k])
        out["memory_total"][rows] = gather(lambda plan: plan["memory_per_gpu_bytes"])
        for t in TERMS:
            out[f"time_{t}"][rows] = gather(lambda plan: plan["breakdown"][t])
    return out
