"""Published serving measurements (planner/data/reference/serving_reference.csv) and the
model's predictions of them, all rows at once (one stacked replica, one call of the load
model).  Used by the fit (`fit.py`), the tests and docs/serving.md.

Modes: `offline` - every request queued at once, the engine keeps its batch full (a closed
loop at the batch/KV limit, or at `concurrency`); `static` - TensorRT-LLM's early static
batching, priced as a closed loop of `concurrency` requests of fixed lengths; `server` -
Poisson arrivals at `rate_per_s` over all replicas (MLPerf LoadGen's server scenario).
"""
from __future__ import annotations

import csv
import dataclasses
import functools

import numpy as np

from planner.resources import data_dir

REFERENCE_FILE = "reference/serving_reference.csv"
NUMERIC = ("tp", "pp", "replicas", "prompt", "prompt_sd", "output", "output_sd",
           "memory_fraction", "output_tokens_per_s", "ttft_p50_s", "ttft_p99_s",
           "tpot_p50_s", "tpot_p99_s", "rate_per_s", "max_batch", "max_num_tokens")


@functools.cache
def rows() -> tuple[dict, ...]:
    path = data_dir("data") / REFERENCE_FILE
    with open(path, newline="", encoding="utf-8") as f:
        out = []
        for r in csv.DictReader(f):
            for k in NUMERIC:
                r[k] = float(r[k]) if r[k] not in ("", None) else float("nan")
            out.append(r)
    return tuple(out)


def device_for(name: str):
    """A reference row's device profile (GH200 144 GB is a profile of datacenter_2025.csv)."""
    from planner.hardware import get_device
    return get_device(name)


def predict(selected=None, overrides: dict | None = None) -> dict[str, np.ndarray]:
    """Predictions for the reference rows (`selected`: a sequence of rows, default all).
    `overrides`: engine backend name -> {Backend field: value} (a fit's candidate)."""
    from planner.estimate.serving import engine as E, load as L, step as S
    from planner.model.resolve import resolve_model
    sel = list(rows() if selected is None else selected)
    reps, mems, budgets = [], [], []
    for r in sel:
        spec = resolve_model(r["model"])
        dev = device_for(r["hardware"])
        eng = E.engine(r["engine"])
        if r.get("kv_policy"):
            eng = dataclasses.replace(eng, kv_policy=r["kv_policy"])
        if np.isfinite(r["max_batch"]) or np.isfinite(r["max_num_tokens"]):
            eng = dataclasses.replace(
                eng, max_batch=r["max_batch"] if np.isfinite(r["max_batch"]) else eng.max_batch,
                max_num_tokens=r["max_num_tokens"] if np.isfinite(r["max_num_tokens"])
                else eng.max_num_tokens)
        tp, pp = int(r["tp"]), int(r["pp"])
        ov = (overrides or {}).get(eng.backend)
        reps.append(S.replica(spec, r["quant"], r["kv_cache"], dev, r["engine"], tp, pp, ov))
        mix1 = L.Mix(r["prompt"], r["output"], r["prompt_sd"], r["output_sd"])
        m = E.replica_memory(spec, r["quant"], r["kv_cache"], eng, dev.memory_bytes, tp, pp,
                             r["memory_fraction"], r["prompt"], r["output"], mix1.context)
        limit = float(m["max_sequences"])
        if r["concurrency"] not in ("max", ""):
            limit = min(limit, float(r["concurrency"])) if r["mode"] != "static" else \
                float(r["concurrency"])
        mems.append(limit)
        budgets.append(eng.max_num_tokens)
    rep = S.stack_replicas(reps)
    f = lambda k: np.array([r[k] for r in sel], dtype=float)
    mix = L.Mix(f("prompt"), f("output"), f("prompt_sd"), f("output_sd"))
    limit = np.array(mems)
    budget = np.array(budgets)
    mode = np.array([r["mode"] for r in sel])
    replicas = f("replicas")
    closed = L.closed_loop(rep, mix, limit, budget, limit)
    rate = np.where(mode == "server", f("rate_per_s") / replicas, 1.0)
    opened = L.open_loop(rep, mix, np.nan_to_num(rate, nan=1.0), budget, limit)
    server = mode == "server"
    pick = lambda k: np.where(server, opened[k], closed[k])
    return {"row_id": np.array([r["row_id"] for r in sel]),
            "output_tokens_per_s": pick("output_tokens_per_s") * replicas,
            "ttft_p50_s": pick("ttft_p50"), "ttft_p99_s": pick("ttft_p99"),
            "tpot_p50_s": pick("tpot_p50"), "tpot_p99_s": pick("tpot_p99"),
            "batch": pick("batch"), "stable": np.where(server, opened["stable"], True),
            "limit": limit}


def errors(pred: dict, selected=None) -> dict[str, np.ndarray]:
    """Signed relative errors (predicted / measured - 1) per metric, NaN where not measured."""
    sel = list(rows() if selected is None else selected)
    out = {}
    for k in ("output_tokens_per_s", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s"):
        meas = np.array([r[k] for r in sel], dtype=float)
        out[k] = pred[k] / meas - 1.0
    return out
