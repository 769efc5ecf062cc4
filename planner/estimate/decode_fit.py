"""Fit the step model's constants to public llama.cpp measurements and cross-validate them.

The reference rows are ``planner/data/reference/local_speed_xiongjiedai.csv`` (llama-bench
``pp N`` and ``tg N`` from the XiongjieDai GPU-Benchmarks-on-LLM-Inference tables).  Each row is
priced with `decode.step_time` exactly as a user's plan is:

  tg N   N tokens generated from an empty cache: one decode step at the mean context (N-1)/2
         (`decode.generation_context`), tokens/s = 1 / step time.
  pp N   an N-token prompt from an empty cache in micro-batches of 512 (`decode.prefill_time`),
         logits for the last token only.

Fit subset: single-device rows that ran, without the values flagged in ``planner_excluded``.
Objective: least squares on log(predicted/measured), per backend, decode constants first, then
prefill constants with the decode ones fixed (prefill reads the weights at the decode fraction).
Validation: leave-one-device-out - refit on the other devices, predict the held-out device
(`leave_one_device_out`).  ``python -m planner.estimate.decode_fit`` prints the constants fitted
on the whole subset, the cross-validated errors, and rewrites tests/data/local_speed_errors.csv.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import sys
from dataclasses import dataclass

import numpy as np

from planner.estimate import decode as D
from planner.resources import data_dir

REFERENCE = "reference/local_speed_xiongjiedai.csv"

# (backend, field, kernel family or None): the constants each fit moves.  Family-specific
# fields move only the rows of that family (F16 or Q4_K_M, the two the data holds).
DECODE_PARAMS = {
    "llama.cpp-cuda": [("bandwidth_fraction", None), ("bandwidth_fraction_hbm", None),
                       ("layer_overhead_s", None),
                       ("token_overhead_s", None), ("attention_bandwidth_fraction", None)],
    "llama.cpp-metal": [("bandwidth_fraction", None), ("alu_flop_per_weight", "kquant"),
                        ("layer_overhead_s", None), ("token_overhead_s", None),
                        ("attention_bandwidth_fraction", None)],
}
PREFILL_PARAMS = {
    "llama.cpp-cuda": [("matmul_fraction", "f16"), ("matmul_fraction", "kquant"),
                       ("flops_per_watt", None), ("attention_matmul_fraction", None),
                       ("prefill_attention_bandwidth_fraction", None),
                       ("prefill_layer_overhead_s", None)],
    "llama.cpp-metal": [("matmul_fraction", "f16"), ("matmul_fraction", "kquant"),
                        ("attention_matmul_fraction", None),
                        ("prefill_attention_bandwidth_fraction", None),
                        ("prefill_layer_overhead_s", None)],
}
FIELD_ORDER = [f.name for f in dataclasses.fields(D.Backend)]


@dataclass
class Rows:
    """The reference rows as arrays, with their stacked Workload/HardwareTerms/Backend."""

    row_id: np.ndarray
    device: np.ndarray
    model: np.ndarray
    quant: np.ndarray
    family: np.ndarray
    backend: np.ndarray
    category: np.ndarray
    n: np.ndarray
    tg: np.ndarray
    pp: np.ndarray
    use_tg: np.ndarray
    use_pp: np.ndarray
    work: D.Workload
    hw: D.HardwareTerms
    be: D.Backend

    def __len__(self) -> int:
        return len(self.row_id)

    def take(self, mask) -> "Rows":
        idx = np.flatnonzero(mask)
        return Rows(**{k: (v[idx] if isinstance(v, np.ndarray) else D.take_rows(v, idx))
                       for k, v in self.__dict__.items()})


def _float(text: str) -> float:
    return float(text) if text not in ("", None) else np.nan


def reference_rows(path=None) -> list[dict]:
    """The reference CSV's rows (dicts of strings)."""
    from planner.safe_io import read_text
    p = path or (data_dir("data") / REFERENCE)
    return list(csv.DictReader(read_text(p, "reference data", 4 * 2**20).splitlines()))


@functools.cache
def load_rows() -> Rows:
    """Single-device rows that ran, priced inputs stacked (cached)."""
    from planner.hardware import get_device
    from planner.model import zoo
    recs = [r for r in reference_rows() if r["n_devices"] == "1" and r["status"] == "ok"]
    works, hws, bes, cols = [], [], [], {k: [] for k in (
        "row_id", "device", "model", "quant", "family", "backend", "category", "n", "tg",
        "pp", "use_tg", "use_pp")}
    for r in recs:
        dev = get_device(r["planner_device"])
        spec = zoo.get(r["planner_model"])
        q = r["planner_quant"]
        name = D.backend_for(dev)
        be = D.backend(name, q)
        works.append(D.workload(spec, q))
        hws.append(D.hardware_terms(dev, be))
        bes.append(be)
        excl = r.get("planner_excluded", "")
        for k, v in (("row_id", r["row_id"]), ("device", dev.name), ("model", spec.name),
                     ("quant", q), ("family", D.family(q)), ("backend", name),
                     ("category", dev.category), ("n", float(r["prompt_tokens"])),
                     ("tg", _float(r["gen_tokens_per_s"])),
                     ("pp", _float(r["prompt_tokens_per_s"])),
                     ("use_tg", not excl.startswith("gen_tokens_per_s excluded")),
                     ("use_pp", not excl.startswith("prompt_tokens_per_s excluded"))):
            cols[k].append(v)
    arr = {k: np.array(v) for k, v in cols.items()}
    return Rows(**arr, work=D.stack_workloads(works), hw=D.stack_hardware(hws),
                be=D.stack_backends(bes))


# --- prediction ------------------------------------------------------------------------------

def with_constants(rows: Rows, constants: dict) -> D.Backend:
    """The rows' Backend with `constants` {(backend, field, family|None): value} applied."""
    fields = {}
    for (name, field, fam), value in constants.items():
        arr = fields.get(field)
        if arr is None:
            arr = np.array(getattr(rows.be, field), dtype=float, copy=True)
        mask = rows.backend == name
        if fam is not None:
            mask &= rows.family == fam
        arr[mask] = value
        fields[field] = arr
    return dataclasses.replace(rows.be, **fields)


def predict_decode(rows: Rows, be: D.Backend | None = None) -> np.ndarray:
    """tokens/s of each row's tgN test (flash attention off, as llama-bench ran in 2024)."""
    be = rows.be if be is None else be
    ctx = D.generation_context(0.0, rows.n)
    return D.decode_rate(rows.work, rows.hw, be, ctx)["tokens_per_s"]


def predict_prefill(rows: Rows, be: D.Backend | None = None) -> np.ndarray:
    """tokens/s of each row's ppN test."""
    be = rows.be if be is None else be
    return D.prefill_time(rows.work, rows.hw, be, rows.n)["tokens_per_s"]


# --- fitting ---------------------------------------------------------------------------------

def _fit(rows: Rows, params: list[tuple], base: dict, predict, measured, use, start: dict):
    """Least squares on log(pred/measured) over `params` (log-parametrised, so positive)."""
    from scipy.optimize import least_squares
    if not params or not use.any():
        return dict(base)
    x0 = np.log(np.maximum(np.array([start[p] for p in params], dtype=float), 1e-12))
    # fractions of a peak stay within (0.001, 1.5]; times and costs are free (but positive)
    hi = np.array([np.log(1.5) if "fraction" in p[1] else np.inf for p in params])
    x0 = np.minimum(x0, hi - 1e-9)

    def residuals(x):
        consts = {**base, **dict(zip(params, np.exp(x)))}
        pred = predict(rows, with_constants(rows, consts))
        return np.log(pred[use] / measured[use])

    # three starts (the shipped constants, halved, doubled): the max() kinks make the problem
    # non-convex; the lowest cost wins
    best = None
    for shift in (0.0, -np.log(2.0), np.log(2.0)):
        res = least_squares(residuals, np.minimum(x0 + shift, hi - 1e-9),
                            bounds=(np.full(len(params), -np.inf), hi), method="trf")
        if best is None or res.cost < best.cost:
            best = res
    res = best
    return {**base, **dict(zip(params, np.exp(res.x)))}


def current_constants() -> dict:
    """The fitted fields' values as the data file holds them."""
    out = {}
    for params in (DECODE_PARAMS, PREFILL_PARAMS):
        for name, fields in params.items():
            for field, fam in fields:
                be = D.backend(name, {None: "fp16", "f16": "fp16", "kquant": "Q4_K_M"}[fam])
                out[(name, field, fam)] = float(getattr(be, field))
    return out


def fit(rows: Rows, start: dict | None = None, backends=None) -> dict:
    """Constants fitted on `rows`: decode per backend, then prefill (decode fixed); only
    `backends` (default all) are refitted, the others keep `start`."""
    start = start or current_constants()
    consts: dict = {k: v for k, v in start.items() if backends is not None
                    and k[0] not in backends}
    for name, fields in DECODE_PARAMS.items():
        if backends is not None and name not in backends:
            continue
        mine = rows.backend == name
        params = [(name, f, fam) for f, fam in fields]
        consts = _fit(rows, params, consts, predict_decode, rows.tg, mine & rows.use_tg, start)
    for name, fields in PREFILL_PARAMS.items():
        if backends is not None and name not in backends:
            continue
        mine = rows.backend == name
        params = [(name, f, fam) for f, fam in fields]
        consts = _fit(rows, params, consts, predict_prefill, rows.pp, mine & rows.use_pp,
                      start)
    return consts


def leave_one_device_out(rows: Rows | None = None, start: dict | None = None,
                         devices=None) -> dict:
    """Predicted tg and pp of every row (of `devices`, default all) by constants fitted
    without its device.  Constants are per backend, so only the held-out device's backend is
    refitted: the others cannot change its prediction."""
    rows = load_rows() if rows is None else rows
    start = start or current_constants()
    tg = np.full(len(rows), np.nan)
    pp = np.full(len(rows), np.nan)
    for dev in (np.unique(rows.device) if devices is None else devices):
        held = rows.device == dev
        consts = fit(rows.take(~held), start, backends={rows.backend[held][0]})
        be = with_constants(rows, consts)
        tg[held] = predict_decode(rows, be)[held]
        pp[held] = predict_prefill(rows, be)[held]
    return {"tg": tg, "pp": pp}


def error_table(rows: Rows, cv: dict) -> list[dict]:
    """Per-row measured, predicted (leave-one-device-out) and relative error."""
    fitted = {"tg": predict_decode(rows), "pp": predict_prefill(rows)}
    out = []
    for i in range(len(rows)):
        rec = {"row_id": rows.row_id[i], "device": rows.device[i], "backend": rows.backend[i],
               "category": rows.category[i], "model": rows.model[i], "quant": rows.quant[i],
               "tokens": int(rows.n[i])}
        for k, use in (("tg", rows.use_tg), ("pp", rows.use_pp)):
            m, p = rows.__dict__[k][i], cv[k][i]
            rec[f"{k}_measured"] = m
            rec[f"{k}_predicted_lodo"] = round(float(p), 2)
            rec[f"{k}_predicted_shipped"] = round(float(fitted[k][i]), 2)
            rec[f"{k}_error_lodo"] = round(float(p / m - 1.0), 4)
            rec[f"{k}_used"] = bool(use[i])
        out.append(rec)
    return out


def summary(table: list[dict], key: str, where=None) -> dict:
    """Median and worst |error| of `key` ("tg"/"pp") over the used rows (and `where`)."""
    errs = np.array([abs(r[f"{key}_error_lodo"]) for r in table
                     if r[f"{key}_used"] and (where is None or where(r))])
    if errs.size == 0:
        return {"n": 0, "median": np.nan, "worst": np.nan}
    return {"n": int(errs.size), "median": float(np.median(errs)), "worst": float(errs.max())}


def main(argv=None) -> None:  # pragma: no cover - a maintenance script
    rows = load_rows()
    shipped = current_constants()
    consts = fit(rows, shipped)
    print("fitted on the whole subset (data file value in brackets):")
    for key, v in consts.items():
        name, field, fam = key
        print(f"  {name:16s} {field:37s} {str(fam):7s} {v:.4g}  [{shipped[key]:.4g}]")
    table = error_table(rows, leave_one_device_out(rows, shipped))
    for key in ("tg", "pp"):
        print(key, summary(table, key))
        for be in ("llama.cpp-cuda", "llama.cpp-metal"):
            print("  ", be, summary(table, key, lambda r, be=be: r["backend"] == be))
    if "--write" in (argv or sys.argv[1:]):
        from pathlib import Path
        out = Path(__file__).resolve().parents[2] / "tests" / "data" / "local_speed_errors.csv"
        with open(out, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(table)
        print("wrote", out)


if __name__ == "__main__":  # pragma: no cover
    main()
