"""Run scenarios: expand sweeps and distributions, evaluate in chunks, check expectations.

`run_file(path)` -> (DataFrame of result rows, meta, Monte-Carlo summary or None).  Rows come
from `planner.evaluate` (training, inference) and `planner.scaling` (compute-optimal size); the
grid and chunking from `planner.sweep`.  Distributions are drawn once per scenario with a seeded
generator (`[montecarlo] samples, seed`), and every sweep row sees the same draws (common random
numbers), so plans are compared on equal luck.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.whatif import scenario as sc_mod
from planner.errors import PlannerError
from planner.evaluate.columns import Cat
from planner.evaluate import infer as infer_eval, serve as serve_eval, train as train_eval
from planner.whatif.scenario import Dist, Scenario, Sweep
from planner.whatif.sweep import (DEFAULT_CHUNK, Axis, Progress, WorkTimer, check_fits_in_memory,
                                  chunks, grid_size, percentiles, sort_order, where_mask)

DEFAULT_SAMPLES = 10_000
MC_METRICS = ("days", "cost_usd", "gpu_hours", "energy_kwh", "gpus", "decode_tokens_per_s",
              "ttft_seconds_p99", "tpot_seconds_p99")


DEFAULT_MAX_ROWS = 20_000_000   # about a minute of evaluation and writing; --max-rows raises it
HEAD_ROWS = 25                  # rows kept for the human table when rows are streamed
ROW_BYTES = 700                 # bytes per kept training row (~85 float64 / pointer columns);
                                # the runner re-checks with the measured size of the first chunk


@dataclass
class Options:
    where: str | None = None
    sort: str | None = None
    chunk_rows: int = DEFAULT_CHUNK
    progress: bool | None = None
    hardware_files: tuple[str, ...] = ()
    writers: list = field(default_factory=list)   # RowWriters every result chunk goes to
    keep: bool = True               # hold every row in Outcome.columns (else the first 25)
    memory_limit: float | None = None
    max_rows: int = DEFAULT_MAX_ROWS


@dataclass
class Outcome:
    scenario: Scenario
    kind: str
    columns: dict[str, np.ndarray]
    rows: int
    expect: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    failed: int = 0                 # rows the evaluator could not answer (their `error`)
    first_error: str | None = None


class Failures:
    """Rows the evaluator could not answer.  A section none of whose rows has an answer is an
    error (exit 2), not a table of n/a: raised at its end, before its last rows are written
    (a small section writes nothing; an output file is never replaced).  Some failed rows in a
    sweep are normal (a layout that does not fit); the count and the first reason are kept."""

    def __init__(self, sc: Scenario, kind: str) -> None:
        self.sc, self.kind, self.count, self.first = sc, kind, 0, None

    def update(self, errors) -> None:
        if errors is None:
            return
        bad = [e for e in np.asarray(errors, dtype=object).tolist() if e is not None]
        self.count += len(bad)
        if bad and self.first is None:
            self.first = str(bad[0])

    def check_all(self, total: int) -> None:
        if total and self.count == total:
            every = f" (every one of its {total:,} rows)" if total > 1 else ""
            raise PlannerError(f"{self.sc.path.name}: scenario {self.sc.title!r} [{self.kind}]"
                               f"{every}: {self.first}")


def _models(sc: Scenario) -> tuple[dict, Any]:
    """Resolve the [model] references once: (name -> ModelSpec, the column value)."""
    from planner.model.spec import ModelSpec
    from planner.model.resolve import resolve_model
    ref = sc.model
    if not ref:
        return {}, ""
    if "inline" in ref:
        spec = ModelSpec.from_dict({"name": "inline", **ref["inline"]}, where="[model]")
        return {spec.name: spec}, spec.name
    value = next(iter(ref.values()))
    names = value.values if isinstance(value, Sweep) else (value,)
    resolved = [resolve_model(n) for n in names]
    specs = {spec.name: spec for spec in resolved}
    col = Sweep(tuple(spec.name for spec in resolved)) if isinstance(value, Sweep) \
        else resolved[0].name
    return specs, col


def _inputs(section: dict, model_col: Any, sc: Scenario) -> tuple[list[Axis], dict, list]:
    """Axes to sweep, fixed values, and distributions of one section (+ the model)."""
    axes: list[Axis] = []
    fixed: dict[str, Any] = {}
    dists: list[tuple[str, Dist]] = []
    items = [("model", model_col)] + list(section.items())
    for key, value in items:
        if key == "quant" and isinstance(value, str) and value.lower() == "all":
            from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES
            value = Sweep(tuple(SIMPLE_TYPES) + tuple(GGUF_TYPES))
        if isinstance(value, Sweep):
            axes.append(Axis("model" if key == "model" else "input", key, value.values))
        elif isinstance(value, Dist):
            dists.append((key, value))
        else:
            fixed[key] = value
    return axes, fixed, dists


def _columns(axes: list[Axis], idx: dict[str, np.ndarray], fixed: dict,
             draws: dict[str, np.ndarray], sample_idx: np.ndarray | None,
             table) -> dict[str, Any]:
    """A chunk's evaluator columns: a swept key is a `Cat` where the section's key table
    (`table`) makes it categorical, else a float array."""
    cols: dict[str, Any] = dict(fixed)
    for a in axes:
        if a.key == "_sample":
            continue
        i = idx[a.column]
        if a.key in table.categorical:
            cols[a.key] = Cat(a.values, i)
        else:
            cols[a.key] = np.asarray(a.values, dtype=float)[i]
    for key, values in draws.items():
        cols[key] = values[sample_idx]
    return cols


def run_scenario(sc: Scenario, opts: Options | None = None) -> list[Outcome]:
    """Evaluate every section of one scenario."""
    opts = opts or Options()
    out: list[Outcome] = []
    models, model_col = _models(sc)
    for kind, section, fn in (("train", sc.train, train_eval.evaluate),
                              ("infer", sc.infer, infer_eval.evaluate),
                              ("serve", sc.serve, serve_eval.evaluate)):
        if not section:
            continue
        out.append(_run_section(sc, kind, section, fn, models, model_col, opts))
    if sc.optimal:
        o = _run_optimal(sc, opts)
        exp = Expectations(sc)
        exp.update(o.columns)
        o.expect = exp.result()
        for w in opts.writers:
            w.write(o.columns)
        out.append(o)
    known = {c for o in out for c in o.columns}
    for metric in sc.expect:
        if known and metric not in known:
            from planner.errors import closest
            near = closest(metric, sorted(known))
            hint = f"did you mean {', '.join(repr(x) for x in near)}?" if near else \
                "valid: any result column"
            raise PlannerError(f"{sc.path.name}: scenario {sc.title!r}: unknown [expect] key "
                               f"{metric!r} (it is not a result column; {hint})")
    return out


def _run_section(sc: Scenario, kind: str, section: dict, fn, models: dict, model_col: Any,
                 opts: Options) -> Outcome:
    """Evaluate one section chunk by chunk.  Each chunk goes to `opts.writers` as it comes
    (unless sorted: then after the sort); rows are kept in memory only when asked
    (`opts.keep`, --sort), within the memory guard; [expect] checks and Monte-Carlo summaries
    accumulate per chunk."""
    axes, fixed, dists = _inputs(section, model_col, sc)
    if kind == "train" and ("flops" in section or "params" in section):
        fixed.setdefault("model", "")
    # [montecarlo] model_error: the estimator's held-out error drawn per sample (bands.py)
    model_error = bool(sc.montecarlo.get("model_error")) and kind in ("train", "serve")
    mc = bool(dists) or model_error
    samples = int(sc.montecarlo.get("samples", DEFAULT_SAMPLES)) if mc else 0
    if mc:
        axes = axes + [Axis("sample", "_sample", range(samples))]
    total = grid_size(axes)
    check_rows(total, opts.max_rows, sc.title)
    draws: dict[str, np.ndarray] = {}
    error_u = None
    if mc:      # the draws, and the columns kept for the percentiles, must fit
        check_fits_in_memory(samples, 32 * (len(dists) + 1), opts.memory_limit,
                             "the Monte-Carlo draws")
        check_fits_in_memory(total, 8 * (len(MC_METRICS) + 4 + len(axes)), opts.memory_limit,
                             "the Monte-Carlo summary")
        rng = np.random.default_rng(sc.montecarlo.get("seed", 0))
        draws = {k: d.sample(samples, rng) for k, d in dists}
        if model_error:      # drawn after the inputs, so their draws do not change
            error_u = rng.random(samples)
    keep = opts.keep or bool(opts.sort)
    if keep and not opts.where:
        check_fits_in_memory(total, ROW_BYTES, opts.memory_limit)
    chunk_rows = _chunk_rows(opts)
    progress = Progress(total, opts.progress if total > chunk_rows or opts.progress
                        else False)
    parts: list[dict[str, np.ndarray]] = []
    head: list[dict[str, np.ndarray]] = []
    mc_parts: list[dict[str, np.ndarray]] = []
    expect = Expectations(sc)
    failed = Failures(sc, kind)
    kept = shown = 0
    timer = WorkTimer(total, opts.max_rows, sc.title)
    pending: list[dict[str, np.ndarray]] = []   # held until the timer has measured
    for idx in chunks(axes, chunk_rows):
        n = len(idx["_rows"])
        timer.start()
        cols = _columns(axes, idx, fixed, draws, idx.get("_sample"), sc_mod.SECTIONS[kind])
        res = fn(cols, n, models, opts.hardware_files)
        if error_u is not None:
            from planner.evaluate.bands import apply_model_error
            res = apply_model_error(res, kind, error_u[idx["_sample"]])
        res = {k: v for k, v in res.items() if k not in train_eval.DESCRIPTIVE}
        failed.update(res.get("error"))
        res = _with_inputs(res, axes, idx, cols, sc, kind, n)
        if opts.where:
            keep_mask = where_mask(res, opts.where)
            res = {k: v[keep_mask] for k, v in res.items()}
        timer.stop(n)
        rows = len(res["kind"])
        progress.update(n)
        kept += rows
        expect.update(res)
        if keep:
            if rows:   # the measured size of a row, against the rows this run will keep
                per_row = sum(np.asarray(v).nbytes for v in res.values()) / rows
                check_fits_in_memory(kept if opts.where else total, per_row, opts.memory_limit)
            parts.append(res)
        elif shown < HEAD_ROWS and rows:
            head.append({k: v[:HEAD_ROWS - shown] for k, v in res.items()})
            shown += min(rows, HEAD_ROWS - shown)
        if mc and rows:
            mc_parts.append({k: res[k] for k in _mc_columns(res, axes)})
        if not opts.sort:
            pending.append(res)
            if timer.decided:
                _write(opts.writers, pending)
    progress.close()
    failed.check_all(total)
    _write(opts.writers, pending)
    kept_parts = parts if keep else head
    columns: dict[str, np.ndarray] = {}
    for k in (list(kept_parts[0]) if kept_parts else []):
        # column by column, freeing the parts' copies as it goes (peak: rows + one column)
        columns[k] = np.concatenate([p.pop(k) for p in kept_parts])
    del parts, kept_parts
    if opts.sort and columns and len(next(iter(columns.values()))):
        order = sort_order(columns, opts.sort)
        for k in list(columns):
            columns[k] = columns[k][order]
    if opts.sort:
        for w in opts.writers:
            for start in range(0, kept, opts.chunk_rows):
                w.write({k: v[start:start + opts.chunk_rows] for k, v in columns.items()})
    outcome = Outcome(sc, kind, columns, kept)
    outcome.failed, outcome.first_error = failed.count, failed.first
    outcome.expect = expect.result()
    if mc and mc_parts:
        mc = {k: np.concatenate([p[k] for p in mc_parts]) for k in mc_parts[0]}
        outcome.summary = summarise(mc, [a for a in axes if a.key != "_sample"])
    return outcome


CHUNK_BYTES_PER_ROW = 2000   # evaluator memory per row of a chunk (measured ~1 kB: a 200k-row
                             # training chunk peaks 215 MB above the process; x2 margin)


def _chunk_rows(opts: Options) -> int:
    """--chunk-rows, made smaller where a chunk that large would not fit in memory (the chunk
    size changes the speed, never the rows)."""
    from planner.whatif.sweep import memory_limit_bytes
    limit = opts.memory_limit if opts.memory_limit is not None else memory_limit_bytes()
    return max(1, min(opts.chunk_rows, int(limit / CHUNK_BYTES_PER_ROW)))


def _write(writers: list, pending: list) -> None:
    for res in pending:
        for w in writers:
            w.write(res)
    pending.clear()


def check_rows(total: int, limit: int, title: str) -> None:
    """Refuse a sweep larger than `limit` rows before any work (and before any draw)."""
    if total > limit:
        raise PlannerError(
            f"scenario {title!r} has {total:,} rows (the product of its swept values and "
            f"Monte-Carlo samples), more than --max-rows {limit:,} (at ~300,000 rows/s that "
            f"would take {total / 3e5 / 60:,.0f} min); narrow the ranges or raise --max-rows")


def _mc_columns(res: dict, axes: list[Axis]) -> list[str]:
    keys = {a.key for a in axes if a.key != "_sample"} | {"model"}
    keys |= {m for m in MC_METRICS} | {"meets_deadline", "within_budget"}
    return [k for k in res if k in keys]


class Expectations:
    """[expect] checks accumulated over chunks: every row must satisfy each; the range of
    values seen is reported."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.state: dict[str, dict] = {}

    def update(self, columns: dict[str, np.ndarray]) -> None:
        for metric, spec in self.sc.expect.items():
            if metric not in columns or not len(columns[metric]):
                continue
            got = columns[metric]
            st = self.state.setdefault(metric, {"ok": True, "lo": None, "hi": None})
            st["ok"] &= _satisfied(got, spec)
            lo, hi = _display(np.min(got)), _display(np.max(got))
            st["lo"] = lo if st["lo"] is None else min(st["lo"], lo)
            st["hi"] = hi if st["hi"] is None else max(st["hi"], hi)

    def result(self) -> list[dict]:
        checks = []
        for metric, st in self.state.items():
            spec = self.sc.expect[metric]
            if spec.get("equals") is not None:
                expected, tol = spec["equals"], None
            elif "value" in spec:
                expected = spec["value"]
                if "abs" in spec:
                    tol = f"±{spec['abs']:g}"
                else:
                    rel = spec.get("rel", 0.02)
                    tol = f"±{rel:.0%}" if rel >= 0.01 else f"±{rel:g}"
            else:
                lo, hi = spec.get("min", -math.inf), spec.get("max", math.inf)
                expected, tol = f"[{lo:g}, {hi:g}]", None
            shown = st["lo"] if st["lo"] == st["hi"] else f"{st['lo']} .. {st['hi']}"
            checks.append({"scenario": self.sc.title, "metric": metric, "expected": expected,
                           "got": shown, "tolerance": tol, "ok": bool(st["ok"]),
                           "source": spec.get("source", self.sc.source)})
        return checks


def _satisfied(got: np.ndarray, spec: dict) -> bool:
    if spec.get("equals") is not None:
        return bool(np.all(np.asarray(got).astype(bool) == spec["equals"]))
    g = np.asarray(got).astype(float)
    if "value" in spec:
        v = spec["value"]
        if "abs" in spec:
            return bool(np.all(np.abs(g - v) <= spec["abs"]))
        return bool(np.all(np.abs(g - v) <= spec.get("rel", 0.02) * abs(v)))
    lo, hi = spec.get("min", -math.inf), spec.get("max", math.inf)
    return bool(np.all((g >= lo) & (g <= hi)))


def _with_inputs(res: dict, axes: list[Axis], idx: dict, cols: dict, sc: Scenario, kind: str,
                 n: int) -> dict[str, np.ndarray]:
    """Prefix the scenario, kind and swept/sampled inputs not already in the result."""
    out: dict[str, np.ndarray] = {"scenario": np.full(n, sc.title, dtype=object),
                                  "kind": np.full(n, kind, dtype=object)}
    for a in axes:
        if a.key == "_sample":
            out["sample"] = idx[a.column]
        elif a.key not in res:
            v = cols[a.key]
            out[a.key] = v.column() if isinstance(v, Cat) else v
    for key, v in cols.items():
        if key not in res and key not in out and isinstance(v, np.ndarray) and len(v) == n:
            out[key] = v
    out.update(res)
    return out


def summarise(columns: dict[str, np.ndarray], axes: list[Axis]) -> list[dict]:
    """P10/P50/P90 of the main metrics and the probability of meeting the deadline and the
    budget, per combination of swept inputs (over the Monte-Carlo samples)."""
    n = len(next(iter(columns.values())))
    group = np.zeros(n, dtype=np.int64)
    for a in axes:
        vals = columns[a.key] if a.key in columns else columns["model"]
        group = group * len(a.values) + Cat.of(vals, n).index
    summary = []
    labels = {}
    for g in np.unique(group):
        first = int(np.argmax(group == g))
        labels[int(g)] = {a.key: _display(columns.get(a.key, columns["model"])[first])
                          for a in axes}
    for metric in MC_METRICS:
        if metric not in columns or not np.isfinite(columns[metric].astype(float)).any():
            continue
        p = percentiles(columns[metric].astype(float), group)
        for j, g in enumerate(np.unique(group)):
            summary.append({**labels[int(g)], "metric": metric, "p10": float(p["p10"][j]),
                            "p50": float(p["p50"][j]), "p90": float(p["p90"][j])})
    for flag, name in (("meets_deadline", "prob_meets_deadline"),
                       ("within_budget", "prob_within_budget")):
        if flag in columns:
            for g in np.unique(group):
                m = group == g
                summary.append({**labels[int(g)], "metric": name,
                                "p50": float(np.mean(columns[flag][m]))})
    return summary


def _display(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


MAX_OPTIMAL_ROWS = 100_000   # [optimal] rows are evaluated one by one (~10,000 a second)


def _run_optimal(sc: Scenario, opts: Options) -> Outcome:
    """[optimal] rows: the `planner optimal` evaluator, once per combination of the swept keys
    (these sweeps are small: a few budgets and methods; at most MAX_OPTIMAL_ROWS)."""
    import itertools
    from planner.evaluate.optimal import evaluate_one
    from planner.plan.optimal import OptimalPlan
    keys = list(sc.optimal)
    values = [v.values if isinstance(v, Sweep) else (v,) for v in sc.optimal.values()]
    total = math.prod(len(v) for v in values)
    check_rows(total, opts.max_rows, sc.title)
    if total > MAX_OPTIMAL_ROWS:
        raise PlannerError(f"scenario {sc.title!r} has {total:,} [optimal] rows, each evaluated "
                           f"on its own (at most {MAX_OPTIMAL_ROWS:,}); narrow the ranges")
    rows = []
    for combo in itertools.product(*values):
        plan = OptimalPlan(**dict(zip(keys, combo)))
        r = evaluate_one(plan)
        rows.append({"scenario": sc.title, "kind": "optimal", "method": r["method"],
                     "flops": float(r["flops"]), "params": float(r["params"]),
                     "tokens": float(r["tokens"]),
                     "tokens_per_param": float(r["tokens_per_param"]),
                     "loss": float(r["loss"])})
    columns = {k: np.array([r[k] for r in rows], dtype=object if isinstance(rows[0][k], str)
                           else float) for k in rows[0]}
    return Outcome(sc, "optimal", columns, len(rows))


def run_path(path: str | Path, opts: Options | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for sc in sc_mod.load(path):
        outcomes.extend(run_scenario(sc, opts))
    return outcomes


def sections_in(scenarios) -> int:
    """How many evaluated sections (train, infer, serve, optimal) parsed scenarios hold."""
    return sum(bool(s.train) + bool(s.infer) + bool(s.serve) + bool(s.optimal)
               for s in scenarios)


def section_count(path: str | Path) -> int:
    """How many evaluated sections a scenario file holds."""
    return sections_in(sc_mod.load(path))


def union_chunks(outcomes: list[Outcome], chunk_rows: int):
    """The kept rows of every outcome as chunks with the union of their columns (missing:
    NaN / None), in outcome order."""
    names: list[str] = []
    for o in outcomes:
        names.extend(k for k in o.columns if k not in names)
    for o in outcomes:
        for start in range(0, o.rows, chunk_rows):
            part = {}
            n = min(chunk_rows, o.rows - start)
            for k in names:
                if k in o.columns:
                    part[k] = o.columns[k][start:start + n]
                else:
                    part[k] = np.full(n, np.nan)
            yield part


def to_frame(outcomes: list[Outcome]):
    """All result rows as one pandas DataFrame (columns missing in a kind are NaN)."""
    import pandas as pd
    frames = [pd.DataFrame(o.columns) for o in outcomes if o.rows]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True, sort=False)


def meta_of(path: str | Path, outcomes: list[Outcome]) -> dict:
    scenarios = list({id(o.scenario): o.scenario for o in outcomes}.values())
    first = scenarios[0] if scenarios else None
    return {
        "title": (first.title if len(scenarios) == 1 else Path(path).stem) if first else "",
        "source": "; ".join(dict.fromkeys(s.source for s in scenarios if s.source)),
        "inputs": {s.title: s.inputs() for s in scenarios},
        "assumptions": assumptions({o.kind for o in outcomes}),
        "expect": [c for o in outcomes for c in o.expect],
    }


def assumptions(kinds) -> list[tuple[str, str]]:
    """(text, source) of the assumptions behind results of these kinds
    (planner/data/assumptions.toml)."""
    from planner.resources import data_toml
    data = data_toml("assumptions.toml")
    wanted = set(kinds)
    return [(a["text"], a["source"]) for a in data["assumption"] if wanted & set(a["kinds"])]


def run_file(path: str | Path, opts: Options | None = None):
    """(DataFrame, meta, Monte-Carlo summary DataFrame or None) of a scenario file."""
    import pandas as pd
    outcomes = run_path(path, opts)
    summary = [r for o in outcomes for r in o.summary]
    return to_frame(outcomes), meta_of(path, outcomes), (pd.DataFrame(summary) if summary
                                                          else None)
