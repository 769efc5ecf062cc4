"""Error bars: the empirical error of an estimator on published figures it was not fitted on,
put beside each prediction ("34.5 days, typically 31.9-39.4 days: -8% / +14% on 13 held-out
published runs").

The bands are data, `planner/data/error_bands.toml`, written by

    python -m planner.evaluate.bands --write

so a command reads a small file and never re-runs the validation.  Each `[band."NAME"]` holds
`low` and `high`, the 10th and 90th percentiles of published / predicted over the held-out rows
of one estimator (the middle 80 % of them fall inside: "typically"), the row count, and whether
the ratio is of a `time` or of a `rate` (a time band turns into a rate band by inversion:
published rate / predicted rate = predicted time / published time).  Sources:

  parallel/FRAMEWORK          the training step-time model (`planner train` with no --mfu/--hfu,
                              `planner parallel`): the rows of `planner validate` area
                              training-time with that estimator that are neither fit, circular
                              nor excluded (planner/evaluate/validate.py); every output there is
                              a time or a rate of the same run
  decode/CLASS, prefill/CLASS the llama.cpp step model (`planner infer` on a device): its
                              validation rows are the rows its constants are fitted on, so the
                              held-out errors are the leave-one-device-out ones
                              (`decode_fit.leave_one_device_out`: each device predicted by
                              constants fitted without it), per class of device as in
                              planner/data/local_speed_accuracy.toml
  serve/ENGINE-FORM           the serving model: the counted rows of areas serving-throughput
                              and serving-latency (serving_reference.csv through planner
                              validate), per engine and measured form: offline (a replica's
                              throughput under --concurrency), server (latency at a rate),
                              static (TensorRT-LLM's static batching)

A prediction with no band (an estimator or device class without held-out rows) gets null
`_low`/`_high` columns and says "not validated" - never an invented band.
"""
from __future__ import annotations

import functools
import math
import tomllib
from typing import Any

import numpy as np

from planner.resources import data_dir

FILE = "error_bands.toml"
QUANTILES = (0.10, 0.90)
MIN_ROWS = 5          # fewer held-out rows than this: no band (too few to say "typically")
TIME_UNITS = ("seconds", "hours")
RATE_UNITS = ("TFLOP/s", "tokens/s", "tokens/s per GPU", "fraction", "requests/s")


@functools.cache
def bands() -> dict[str, dict]:
    path = data_dir("data") / FILE
    if not path.exists():
        return {}
    return tomllib.loads(path.read_text(encoding="utf-8")).get("band", {})


def band(name: str) -> dict | None:
    """The band of estimator `name` (e.g. ``parallel/production``, ``decode/apple``)."""
    return bands().get(name)


def interval(value, b: dict | None, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of a predicted `value` of `kind` 'time' or 'rate' under band `b` (NaN where
    there is no band or no value)."""
    v = np.asarray(value, dtype=float)
    if b is None:
        nan = np.full(v.shape, np.nan)
        return nan, nan.copy()
    lo, hi = b["low"], b["high"]
    if kind != b["quantity"]:           # invert: a time band on a rate, or vice versa
        lo, hi = 1.0 / hi, 1.0 / lo
    return v * lo, v * hi


def describe(record: dict, col: str, fmt, what: str = "held-out published runs",
             rows_key: str = "band_rows") -> str:
    """``typically 31.9 days to 39.4 days (-8% / +14%, 13 held-out published runs)`` for the
    figure `col` of a result record, from its `<col>_low` / `<col>_high` and the held-out row
    count in `rows_key`; empty when there is no band."""
    value, low, high = (record.get(k) for k in (col, f"{col}_low", f"{col}_high"))
    rows = record.get(rows_key)
    if rows is None or any(not isinstance(x, (int, float)) or not math.isfinite(x)
                           for x in (value, low, high)) or value <= 0:
        return ""
    return (f"typically {fmt(low)} to {fmt(high)} ({100 * (low / value - 1):+.0f}% / "
            f"{100 * (high / value - 1):+.0f}%, {int(rows)} {what})")


# --- the commands' columns ----------------------------------------------------------------------

# Training columns and whether each is a time or a rate of the run (cost and energy scale with
# time; tokens bought by a budget scale with the rate).
TRAIN_COLUMNS = {"seconds": "time", "days": "time", "gpu_hours": "time", "gpu_days": "time",
                 "cost_usd": "time", "energy_kwh": "time", "step_seconds": "time",
                 "mfu": "rate", "hfu": "rate", "tokens_per_s": "rate", "tflops_per_gpu": "rate"}
BUDGET_COLUMNS = {"tokens": "rate", "flops": "rate", "mfu": "rate", "hfu": "rate",
                  "tokens_per_s": "rate", "tflops_per_gpu": "rate", "step_seconds": "time"}


def add_train(out: dict[str, np.ndarray], predicted: np.ndarray, framework) -> dict:
    """Add `<col>_low` / `<col>_high` for the time and rate columns of a training result, on
    the rows whose utilisation the step-time model predicted (`predicted`), from the band of
    their framework's estimator (`framework`: a `Cat` or an array of names); `band_rows`
    (held-out runs behind it) and `band_estimator`.  Rows with a given --mfu/--hfu (the user's
    own assumption) get NaN; with none predicted, every band column is one shared NaN array."""
    from planner.evaluate.columns import Cat
    n = len(predicted)
    cols = sorted(set(TRAIN_COLUMNS) | set(BUDGET_COLUMNS))
    fw = framework if isinstance(framework, Cat) else Cat.of(np.asarray(framework, object), n)
    todo = [(v, predicted & (fw.index == i)) for i, v in enumerate(fw.values)]
    todo = [(f"parallel/{v}", m) for v, m in todo if band(f"parallel/{v}") and m.any()]
    if not todo:
        nothing = np.full(n, np.nan)
        nothing.flags.writeable = False
        for c in cols:
            out[f"{c}_low"] = out[f"{c}_high"] = nothing
        out["band_rows"] = nothing
        out["band_estimator"] = np.full(n, None, dtype=object)
        return out
    for c in cols:
        out[f"{c}_low"] = np.full(n, np.nan)
        out[f"{c}_high"] = np.full(n, np.nan)
    rows = np.full(n, np.nan)
    which = np.full(n, None, dtype=object)
    buy = np.asarray(out.get("tokens_solved_from_budget", np.zeros(n, bool)), dtype=bool)
    for name, sel in todo:
        b = band(name)
        for mask, table in ((sel & ~buy, TRAIN_COLUMNS), (sel & buy, BUDGET_COLUMNS)):
            if not mask.any():
                continue
            for c, kind in table.items():
                if c in out:
                    lo, hi = interval(np.asarray(out[c], dtype=float)[mask], b, kind)
                    out[f"{c}_low"][mask], out[f"{c}_high"][mask] = lo, hi
        rows[sel] = b["rows"]
        which[sel] = name
    out["band_rows"] = rows
    out["band_estimator"] = which
    return out


INFER_COLUMNS = {"decode_tokens_per_s": ("decode", "rate"),
                 "throughput_tokens_per_s": ("decode", "rate"),
                 "prefill_tokens_per_s": ("prefill", "rate"),
                 "time_to_first_token_s": ("prefill", "time")}
INFER_BAND_COLUMNS = (*(f"{c}_{s}" for c in INFER_COLUMNS for s in ("low", "high")),
                      "decode_band_rows", "prefill_band_rows")


def infer_values(values: dict[str, Any], backend: str | None, category: str, vendor: str,
                 valid) -> dict[str, Any]:
    """`<col>_low` / `<col>_high` of a local-inference speed result on a device of that
    backend, category and vendor (NaN where not `valid`: partial offload, a user-given
    efficiency, a device class without held-out rows), and the held-out row counts."""
    from planner.estimate.speed_accuracy import device_class
    cls = device_class(backend, category, vendor)
    valid = np.asarray(valid, dtype=bool)
    out: dict[str, Any] = {}
    for c, (step, kind) in INFER_COLUMNS.items():
        b = band(f"{step}/{cls}") if cls else None
        lo, hi = interval(values[c], b, kind)
        out[f"{c}_low"] = np.where(valid, lo, np.nan)
        out[f"{c}_high"] = np.where(valid, hi, np.nan)
    for step in ("decode", "prefill"):
        b = band(f"{step}/{cls}") if cls else None
        out[f"{step}_band_rows"] = np.where(valid, float(b["rows"]) if b else np.nan, np.nan)
    return out


def values_for(estimator: str, record: dict[str, Any],
               columns: dict[str, str]) -> dict[str, Any]:
    """`<col>_low` / `<col>_high` (None without a band) of one result `record` for the given
    columns {name: 'time' | 'rate'}, and `band_rows`: the generic form of the hooks above, for
    commands that price one thing at a time (`planner parallel`; `planner serve`, e.g.
    ``values_for("serve/NAME", row, {"output_tokens_per_s": "rate", "ttft_seconds": "time"})``)."""
    b = band(estimator)
    out: dict[str, Any] = {}
    for c, kind in columns.items():
        v = record.get(c)
        if b is None or v is None:
            out[f"{c}_low"] = out[f"{c}_high"] = None
            continue
        lo, hi = interval(v, b, kind)
        out[f"{c}_low"], out[f"{c}_high"] = float(lo), float(hi)
    out["band_rows"] = b["rows"] if b else None
    return out


# Serving: the closed-loop throughput of a replica (--concurrency) under the band of the engine's
# offline rows; the latency of an open loop (--rate: solve or a fixed deployment) under the band
# of its server rows.  The solve form's rate is the user's, so only its latency gets a band.
SERVE_THROUGHPUT = {"output_tokens_per_s": "rate", "output_tokens_per_s_per_gpu": "rate",
                    "input_tokens_per_s": "rate", "total_tokens_per_s": "rate",
                    "requests_per_s": "rate"}
SERVE_LATENCY = {f"{m}_seconds_p{q}": "time" for m in ("ttft", "tpot", "itl", "e2e")
                 for q in (50, 90, 95, 99)}
SERVE_BANDS = {"replica": ("offline", SERVE_THROUGHPUT), "solve": ("server", SERVE_LATENCY),
               "deployment": ("server", SERVE_LATENCY)}


def add_serve(out: dict[str, np.ndarray]) -> dict:
    """Add `<col>_low` / `<col>_high` for a serving result's throughput or latency columns (by
    each row's form, `out['mode']`, and engine), `band_rows` and `band_estimator`; NaN where
    the engine has no band for that form."""
    n = len(out["mode"])
    for c in (*SERVE_THROUGHPUT, *SERVE_LATENCY):
        out[f"{c}_low"] = np.full(n, np.nan)
        out[f"{c}_high"] = np.full(n, np.nan)
    out["band_rows"] = np.full(n, np.nan)
    out["band_estimator"] = np.full(n, None, dtype=object)
    pairs = {(e, m) for e, m in zip(out["engine"], out["mode"]) if e is not None}
    for engine, mode in pairs:
        kind, columns = SERVE_BANDS[mode]
        name = f"serve/{engine}-{kind}"
        b = band(name)
        if b is None:
            continue
        sel = (out["engine"] == engine) & (out["mode"] == mode)
        for c, quantity in columns.items():
            lo, hi = interval(np.asarray(out[c], dtype=float)[sel], b, quantity)
            out[f"{c}_low"][sel], out[f"{c}_high"][sel] = lo, hi
        out["band_rows"][sel] = b["rows"]
        out["band_estimator"][sel] = name
    return out


# --- Monte-Carlo draws of the estimators' own error --------------------------------------------

TRAIN_ALSO_TIME = ("gpu_months", "co2_kg")     # scale with time like TRAIN_COLUMNS' times


def ratio_draw(estimator: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the held-out ratio (of a time: published / predicted) of its estimator at the
    uniform draw `u` in [0, 1): the empirical distribution of the band's validation runs
    (a bootstrap draw; the same `u` for every row of a Monte-Carlo sample).  NaN where the
    row has no estimator with a band."""
    out = np.full(len(estimator), np.nan)
    for name in {e for e in estimator.tolist() if e}:
        b = band(name)
        if not b or not b.get("ratios"):
            continue
        sel = estimator == name
        r = np.asarray(b["ratios"], dtype=float)
        ratio = r[np.minimum((u[sel] * len(r)).astype(int), len(r) - 1)]
        out[sel] = ratio if b["quantity"] == "time" else 1.0 / ratio
    return out


def apply_model_error(out: dict[str, np.ndarray], kind: str, u: np.ndarray) -> dict:
    """A result with its predicted figures scaled by a drawn held-out error (`ratio_draw`):
    times x ratio, rates / ratio; the deadline and budget verdicts recomputed from the scaled
    time and cost; the ratio itself in `model_error_ratio`."""
    est = out.get("band_estimator")
    if est is None:
        return out
    ratio = ratio_draw(np.asarray(est, dtype=object), u)
    has = np.isfinite(ratio)
    out["model_error_ratio"] = ratio
    if not has.any():
        return out
    if kind == "train":
        bought = np.asarray(out.get("tokens_solved_from_budget", np.zeros(len(has), bool)),
                            dtype=bool)
        tables = ((has & ~bought, {**TRAIN_COLUMNS, **{c: "time" for c in TRAIN_ALSO_TIME}}),
                  (has & bought, BUDGET_COLUMNS))
    else:
        mode = np.asarray(out["mode"], dtype=object)
        tables = tuple((has & (mode == m), cols) for m, (_, cols) in SERVE_BANDS.items())
    for mask, cols in tables:
        if not mask.any():
            continue
        for c, quantity in cols.items():
            if c in out:
                v = np.array(out[c], dtype=float)
                v[mask] = v[mask] * ratio[mask] if quantity == "time" else v[mask] / ratio[mask]
                out[c] = v
    if kind == "train":      # the verdicts from the scaled time and cost, as the evaluator's
        from planner.evaluate.train import verdicts
        fits = np.asarray(out["fits_memory"], dtype=object) != False  # noqa: E712
        meets, within = verdicts(np.asarray(out["seconds"], dtype=float),
                                 np.asarray(out["deadline_seconds"], dtype=float),
                                 np.asarray(out["cost_usd"], dtype=float),
                                 np.asarray(out["budget_usd"], dtype=float), fits)
        out["meets_deadline"] = np.where(has, meets, out["meets_deadline"])
        out["within_budget"] = np.where(has, within, out["within_budget"])
    return out


PLAN_COLUMNS = {"step_seconds": "time", "tokens_per_s": "rate", "mfu": "rate", "hfu": "rate",
                "tflops_per_gpu": "rate"}


def plan_values(plan: dict[str, Any], framework: str) -> dict[str, Any]:
    """`_low` / `_high` of one `planner parallel` plan (step time, tokens/s, MFU/HFU, TFLOP/s)."""
    return values_for(f"parallel/{framework}", plan, PLAN_COLUMNS)


# --- building the data file ---------------------------------------------------------------------

def _quantiles(ratios: list[float]) -> tuple[float, float]:
    lo, hi = np.quantile(np.asarray(ratios, dtype=float), QUANTILES)
    return float(lo), float(hi)


def _entry(label: str, quantity: str, ratios: list[float], source: str, ids=()) -> dict | None:
    if len(ratios) < MIN_ROWS:
        return None
    lo, hi = _quantiles(ratios)
    errs = np.abs(np.asarray(ratios) - 1.0)
    return {"label": label, "quantity": quantity, "rows": len(ratios), "low": round(lo, 4),
            "high": round(hi, 4), "median_abs_error": round(float(np.median(errs)), 4),
            "source": source, **({"row_ids": list(ids)} if ids else {}),
            "ratios": sorted(round(float(x), 4) for x in ratios)}


# area -> (estimator prefix, label): the areas whose held-out validation rows make bands.
VALIDATED_AREAS = {"training-time": ("parallel/", "the parallel step-time model, framework {}"),
                   "serving-throughput": ("serve/", "the serving model, {} (throughput)"),
                   "serving-latency": ("serve/", "the serving model, {} (latency)")}


def validation_bands(rows) -> dict[str, dict]:
    """Bands per estimator from validated rows (planner validate's `Row`s) of the areas in
    `VALIDATED_AREAS`: of each counted row, published / predicted of a time (unit seconds or
    hours), or predicted / published of a rate, so every band is a ratio of times."""
    groups: dict[str, list] = {}
    for r in rows:
        if r.area not in VALIDATED_AREAS or not r.counted:
            continue
        prefix, _ = VALIDATED_AREAS[r.area]
        if not r.estimator.startswith(prefix):
            continue
        if r.unit in TIME_UNITS:
            ratio = r.published / r.predicted
        elif r.unit in RATE_UNITS:
            ratio = r.predicted / r.published
        else:
            raise ValueError(f"{r.id}: unit {r.unit!r} is neither a time ({TIME_UNITS}) nor a "
                             f"rate ({RATE_UNITS})")
        groups.setdefault((r.area, r.estimator), []).append((r.id, ratio))
    out = {}
    for (area, name), items in sorted(groups.items()):
        label = VALIDATED_AREAS[area][1].format(name.split("/", 1)[1])
        e = _entry(label, "time", [x for _, x in items],
                   f"planner validate, area {area}, estimator {name}: rows neither fit, "
                   "circular nor excluded", [i for i, _ in items])
        if e:
            out[name] = e
    return out


def local_speed_bands() -> dict[str, dict]:
    """Bands of the llama.cpp step model per device class, from the leave-one-device-out
    predictions of its fit rows (rate ratio measured / predicted)."""
    from planner.estimate import decode_fit as F
    from planner.hardware import get_device
    from planner.estimate.speed_accuracy import _classes
    rows = F.load_rows()
    cv = F.leave_one_device_out(rows)
    vendor = np.asarray([get_device(d).vendor for d in rows.device])
    out = {}
    for cls, entry in _classes().items():
        sel = (rows.backend == entry["backend"]) & (rows.category == entry["category"]) & \
            (vendor == entry["vendor"])
        for step, pred, meas, use in (("decode", cv["tg"], rows.tg, rows.use_tg),
                                      ("prefill", cv["pp"], rows.pp, rows.use_pp)):
            m = sel & use & np.isfinite(pred) & np.isfinite(meas)
            e = _entry(f"the llama.cpp step model on {entry['label']} ({step})", "rate",
                       list(meas[m] / pred[m]),
                       f"leave-one-device-out predictions of the {int(m.sum())} {step} rows "
                       f"of {entry['label']} (planner/estimate/decode_fit.py; "
                       "docs/local_speed.md)")
            if e:
                out[f"{step}/{cls}"] = e
    return out


def build() -> dict[str, dict]:
    from planner.evaluate.validate import run
    return {**validation_bands(run(tuple(VALIDATED_AREAS))), **local_speed_bands()}


def write(path=None) -> str:
    """Write planner/data/error_bands.toml; returns its text."""
    entries = build()
    lines = ["# Error bands: published / predicted over held-out rows, 10th and 90th percentiles.",
             "# GENERATED by `python -m planner.evaluate.bands --write` (planner/evaluate/bands.py)",
             "# from `planner validate` (training) and the leave-one-device-out fit (local speed);",
             "# do not edit by hand.  quantity: the ratio is of a time or of a rate.", ""]
    for name, e in entries.items():
        lines.append(f'[band."{name}"]')
        for k, v in e.items():
            if isinstance(v, str):
                lines.append(f'{k} = "{v}"')
            elif isinstance(v, list):
                lines.append(f"{k} = [{', '.join(repr(x).replace(chr(39), chr(34)) for x in v)}]")
            else:
                lines.append(f"{k} = {v}")
        lines.append("")
    text = "\n".join(lines)
    from planner.safe_io import atomic_write
    with atomic_write(path or (data_dir("data") / FILE)) as f:
        f.write(text)
    bands.cache_clear()
    return text


if __name__ == "__main__":
    import sys
    text = write() if "--write" in sys.argv else None
    for name, e in (build() if text is None else bands()).items():
        print(f"{name:32s} rows {e['rows']:3d}  low {e['low']:.3f}  high {e['high']:.3f}  "
              f"median |error| {100 * e['median_abs_error']:.1f}%")
