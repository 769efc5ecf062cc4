"""Fit the serving-engine constants of decode_backends.toml on a stated subset of the
reference measurements, and cross-validate: leave-one-group-out (a device, or a model) -
the group's rows are predicted by constants fitted without them.

    python -m planner.estimate.serving.fit            # fit, cross-validate, write the table

The subset (decode_backends.toml [serving_fit]): rows with subset = "fit".  Objective: least
squares on log(predicted / measured) output tokens/s (scipy.optimize.least_squares, bounded).
Writes tests/data/serving_errors.csv: one row per reference row with the prediction of the
final constants (fit rows: in-sample, said so) and, for fit rows, the leave-one-group-out
prediction.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from planner.estimate.serving import reference as R

BACKEND = "trtllm"
# free constant -> (lower, upper, start)
FREE = {
    "matmul_fraction": (0.2, 1.0, 0.6),
    "bandwidth_fraction_hbm": (0.3, 1.0, 0.8),
    "prefill_attention_bandwidth_fraction": (0.2, 1.0, 0.7),
    "attention_matmul_fraction": (0.05, 1.0, 0.4),
    "prefill_step_overhead_s": (0.0, 0.02, 0.002),
    "allreduce_latency_s": (1e-6, 2e-4, 8e-6),
}


def _overrides(x) -> dict:
    return {BACKEND: dict(zip(FREE, (float(v) for v in x)))}


def fit(rows) -> dict:
    """Constants minimising the log error of output tokens/s over `rows`."""
    from scipy.optimize import least_squares
    meas = np.array([r["output_tokens_per_s"] for r in rows])
    # each source counts alike: the few MLPerf rows weigh as much in all as the many
    # performance-overview rows
    src = [r["source"] for r in rows]
    weight = np.sqrt(np.array([len(src) / src.count(s) for s in src]) / len(set(src)))
    lo = np.array([v[0] for v in FREE.values()])
    hi = np.array([v[1] for v in FREE.values()])
    x0 = np.array([v[2] for v in FREE.values()])
    scale = np.maximum(np.abs(x0), 1e-6)

    def resid(z):
        pred = R.predict(rows, _overrides(z * scale))["output_tokens_per_s"]
        return weight * np.log(pred / meas)
    res = least_squares(resid, x0 / scale, bounds=(lo / scale, hi / scale), diff_step=1e-3,
                        xtol=1e-6, ftol=1e-6, max_nfev=400)
    return dict(zip(FREE, (float(v) for v in res.x * scale)))


def groups(rows) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        out.setdefault("device=" + r["hardware"], []).append(i)
        out.setdefault("model=" + r["model"], []).append(i)
    return out


def cross_validate(rows) -> dict[str, np.ndarray]:
    """Leave-one-group-out predictions of output tokens/s: for each fit row, the mean over
    its groups (device, model) of the prediction by constants fitted without the group."""
    out = {"device": np.full(len(rows), np.nan), "model": np.full(len(rows), np.nan)}
    for g, idx in groups(rows).items():
        keep = [r for i, r in enumerate(rows) if i not in set(idx)]
        const = fit(keep)
        p = R.predict([rows[i] for i in idx], {BACKEND: const})["output_tokens_per_s"]
        out[g.split("=")[0]][idx] = p
    return out


def main(argv=None) -> None:
    all_rows = list(R.rows())
    fit_rows = [r for r in all_rows if r["subset"] == "fit"]
    const = fit(fit_rows)
    print("fitted:", {k: round(v, 6) for k, v in const.items()})
    cv = cross_validate(fit_rows)
    pred = R.predict(all_rows)   # the table's constants: this fit, rounded to 3 figures
    err = R.errors(pred, all_rows)
    fit_ids = {r["row_id"]: i for i, r in enumerate(fit_rows)}
    out = Path(__file__).resolve().parents[3] / "tests" / "data" / "serving_errors.csv"
    cols = ["row_id", "subset", "model", "hardware", "engine", "tp", "quant", "mode", "prompt",
            "output", "measured_output_tokens_per_s", "predicted_output_tokens_per_s",
            "error_output_tokens_per_s", "lodo_predicted", "lodo_error", "lomo_predicted",
            "lomo_error", "ttft_p50_error", "ttft_p99_error", "tpot_p50_error",
            "tpot_p99_error"]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for i, r in enumerate(all_rows):
            j = fit_ids.get(r["row_id"])
            dev = cv["device"][j] if j is not None else np.nan
            mod = cv["model"][j] if j is not None else np.nan
            m = r["output_tokens_per_s"]
            fmt = lambda v: "" if not np.isfinite(v) else f"{v:.4g}"
            w.writerow([r["row_id"], r["subset"], r["model"], r["hardware"], r["engine"],
                        int(r["tp"]), r["quant"], r["mode"], int(r["prompt"]),
                        int(r["output"]), m, fmt(pred["output_tokens_per_s"][i]),
                        fmt(err["output_tokens_per_s"][i]), fmt(dev), fmt(dev / m - 1),
                        fmt(mod), fmt(mod / m - 1), fmt(err["ttft_p50_s"][i]),
                        fmt(err["ttft_p99_s"][i]), fmt(err["tpot_p50_s"][i]),
                        fmt(err["tpot_p99_s"][i])])
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
