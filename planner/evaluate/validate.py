"""`planner validate`: every published figure of the reference table, predicted through the
public API, with its relative error, and a summary per area.

The table is ``planner/data/reference/published_*.csv`` (one file per area, the same columns),
plus the serving rows, kept once in the serving model's own ``serving_reference.csv`` and
turned into rows of this shape by `_serving_rows`:

  id, area, estimator   the row, what it measures, which estimator answers it
  command               the public call that answers it: train, infer, serve, params, optimal
  inputs                the plan keys that reproduce the published run, as a user types them
                        (``model=gpt3-175b; tokens=300B; hardware=a100-80gb; gpus=1024``);
                        ``@reference/models.toml:NAME`` and ``@reference/hf/NAME`` name shapes
                        shipped beside the table (models without a zoo entry)
  output                the result column compared (``gpu_hours``), or a sum ``a+b`` or a ratio
                        ``a/b`` of result columns
  published, unit       the published value in the output's base unit; `as_printed` as printed
  fit                   an estimator constant was fitted on this row: kept out of the accuracy
  circular              an input comes from the source itself (a reported utilisation, say), so
                        agreement checks the record's consistency, not a prediction: kept out
  excluded              a reason the row is kept out (a measurement anomaly), else empty
  source, notes         where the figure is printed; caveats

Relative error = predicted / published - 1.  The accuracy figures (count, median and worst
|error| per area) use only the rows that are neither fit, circular nor excluded; the others are
listed with their errors and counted apart.  No expected value is computed here: the predicted
value is whatever the public API returns for the row's inputs.

Rows are priced in groups, one vectorised evaluator call per command (`planner.evaluate_train`,
`planner.evaluate_infer`), so the whole table takes a few seconds.
"""
from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from planner.errors import PlannerError
from planner.evaluate.columns import object_array
from planner.resources import data_dir

# Areas in summary order: slug -> label.
AREAS: dict[str, str] = {
    "parameters": "parameters",
    "flops": "FLOPs",
    "compute-optimal": "compute-optimal size",
    "training-time": "training time/utilisation",
    "training-memory": "training memory",
    "inference-memory": "inference memory",
    "local-speed": "local speed",
    "serving-throughput": "serving throughput",
    "serving-latency": "serving latency",
}
COLUMNS = ("id", "area", "estimator", "command", "inputs", "output", "published", "unit",
           "as_printed", "fit", "circular", "circular_inputs", "excluded", "source", "notes")
PREFIX = "@reference/"


@dataclass
class Row:
    """One published figure and what the planner predicts for it."""
    id: str
    area: str
    estimator: str
    command: str
    inputs: dict[str, str]
    output: str
    published: float
    unit: str
    as_printed: str
    fit: bool
    circular: bool
    circular_inputs: str
    excluded: str
    source: str
    notes: str
    file: str = ""
    predicted: float = math.nan
    failure: str | None = None        # the API's error for this row, if it raised one
    extra: dict = field(default_factory=dict)

    @property
    def error(self) -> float:
        """predicted / published - 1 (NaN when there is no prediction)."""
        return self.predicted / self.published - 1.0 if self.published else math.nan

    @property
    def counted(self) -> bool:
        """In the accuracy figures: not fitted on, not circular, not excluded, answered."""
        return not (self.fit or self.circular or self.excluded) and self.failure is None \
            and math.isfinite(self.predicted)

    def record(self) -> dict[str, Any]:
        err = self.error
        return {"id": self.id, "area": self.area, "estimator": self.estimator,
                "command": self.command, "inputs": self.inputs_text(), "output": self.output,
                "predicted": self.predicted if math.isfinite(self.predicted) else None,
                "published": self.published, "unit": self.unit, "as_printed": self.as_printed,
                "error": err if math.isfinite(err) else None, "fit": self.fit,
                "circular": self.circular, "circular_inputs": self.circular_inputs or None,
                "excluded": self.excluded or None, "counted": self.counted,
                "failure": self.failure, "source": self.source, "notes": self.notes or None}

    def inputs_text(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.inputs.items())


def parse_inputs(text: str, where: str) -> dict[str, str]:
    """``k=v; k=v`` -> {k: v} (values stay text: the plan key table parses them)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise PlannerError(f"{where}: input {part!r} is not key=value")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _flag(text: str, where: str) -> bool:
    t = (text or "false").strip().lower()
    if t not in ("true", "false"):
        raise PlannerError(f"{where}: expected true or false, got {text!r}")
    return t == "true"


def table_files() -> list:
    return sorted((data_dir("data") / "reference").glob("published_*.csv"))


@functools.cache
def load_rows() -> tuple[Row, ...]:
    """Every row of the reference table (checked: known area and command, unique ids)."""
    rows: list[Row] = []
    seen: set[str] = set()
    for path in table_files():
        text = path.read_text(encoding="utf-8")
        reader = csv.DictReader(text.splitlines())
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise PlannerError(f"{path.name}: columns must be {', '.join(COLUMNS)}")
        for i, r in enumerate(reader, 2):
            where = f"{path.name} line {i}"
            if r["area"] not in AREAS:
                raise PlannerError(f"{where}: unknown area {r['area']!r} (valid: "
                                   f"{', '.join(AREAS)})")
            if r["command"] not in COMPUTE:
                raise PlannerError(f"{where}: no way to compute command {r['command']!r} "
                                   f"(known: {', '.join(COMPUTE)})")
            if r["id"] in seen:
                raise PlannerError(f"{where}: duplicate id {r['id']!r}")
            seen.add(r["id"])
            rows.append(Row(id=r["id"], area=r["area"], estimator=r["estimator"],
                            command=r["command"], inputs=parse_inputs(r["inputs"], where),
                            output=r["output"], published=float(r["published"]),
                            unit=r["unit"], as_printed=r["as_printed"],
                            fit=_flag(r["fit"], where), circular=_flag(r["circular"], where),
                            circular_inputs=r["circular_inputs"], excluded=r["excluded"],
                            source=r["source"], notes=r["notes"], file=path.name))
    for row in _serving_rows():
        if row.id in seen:
            raise PlannerError(f"{row.file}: duplicate id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    return tuple(rows)


# Serving rows are kept once, in the serving model's own table (serving_reference.csv, which its
# fit reads too); here each measured figure becomes a row whose inputs are `planner serve` keys:
# offline -> --concurrency max, static batching -> --concurrency N (fixed lengths), server ->
# --rate R with --replicas N (a fixed deployment under Poisson arrivals, MLPerf's LoadGen).
SERVING_FILE = "serving_reference.csv"
SERVING_OUTPUTS = {            # reference column -> (area, `planner serve` result column, unit)
    "output_tokens_per_s": ("serving-throughput", "output_tokens_per_s", "tokens/s"),
    "ttft_p50_s": ("serving-latency", "ttft_seconds_p50", "seconds"),
    "ttft_p99_s": ("serving-latency", "ttft_seconds_p99", "seconds"),
    "tpot_p50_s": ("serving-latency", "tpot_seconds_p50", "seconds"),
    "tpot_p99_s": ("serving-latency", "tpot_seconds_p99", "seconds"),
}


def _serving_rows() -> list[Row]:
    from planner.estimate.serving.reference import rows as reference_rows

    def num(x: float) -> str:
        return f"{x:g}" if x != int(x) else str(int(x))
    out = []
    for r in reference_rows():
        inputs = {"model": r["model"], "hardware": r["hardware"], "engine": r["engine"],
                  "tp": num(r["tp"]), "pp": num(r["pp"]), "replicas": num(r["replicas"]),
                  "quant": r["quant"], "kv_cache": r["kv_cache"], "prompt": num(r["prompt"]),
                  "prompt_sd": num(r["prompt_sd"]), "output": num(r["output"]),
                  "output_sd": num(r["output_sd"]),
                  "gpu_memory_utilization": num(r["memory_fraction"])}
        for k in ("max_batch", "max_num_tokens"):
            if math.isfinite(r[k]):
                inputs[k] = num(r[k])
        if r["kv_policy"]:
            inputs["kv_policy"] = r["kv_policy"]
        if r["mode"] == "server":
            inputs["rate"] = f"{num(r['rate_per_s'])}/s"
            measured = [k for k in SERVING_OUTPUTS if k != "output_tokens_per_s"]
        else:                   # offline (concurrency max) or static (its fixed concurrency)
            inputs["concurrency"] = r["concurrency"] or "max"
            measured = ["output_tokens_per_s"]
        for k in measured:
            if not math.isfinite(r[k]):
                continue
            area, output, unit = SERVING_OUTPUTS[k]
            out.append(Row(
                id=f"serve-{r['row_id']}-{output}", area=area,
                estimator=f"serve/{r['engine']}-{r['mode']}", command="serve", inputs=inputs,
                output=output, published=r[k], unit=unit,
                as_printed=f"{r[k]:g} {unit}", fit=r["subset"] == "fit", circular=False,
                circular_inputs="", excluded="", source=f"{r['source']}; {r['locator']}",
                notes=r["notes"], file=SERVING_FILE))
    return out


# --- models named by the table -----------------------------------------------------------------

@functools.cache
def _reference_models(file: str) -> dict:
    from planner.model import zoo
    return {s.name: s for s in zoo.load_file(data_dir("data") / "reference" / file, builtin=True)}


def load_model(text: str):
    """A row's MODEL: a zoo name, or ``@reference/FILE.toml:NAME`` / ``@reference/hf/NAME`` for
    the shapes shipped beside the table."""
    import planner
    if text.startswith(PREFIX):
        rest = text[len(PREFIX):]
        if ".toml:" in rest:
            file, name = rest.split(":", 1)
            return _reference_models(file)[name]
        return planner.load_model(str(data_dir("data") / "reference" / rest))
    return planner.load_model(text)


# --- how each command is computed: rows -> predicted values ------------------------------------

def _columns(rows: list[Row], table) -> tuple[dict[str, Any], dict]:
    """The rows' inputs as evaluator columns in base units (each key parsed by the plan key
    table, as on the command line; a row without a key gets the key's default), and the
    models they name."""
    models: dict = {}
    names: list[str | None] = []
    for r in rows:
        m = r.inputs.get("model")
        if m is None:
            names.append(None)
            continue
        spec = load_model(m)
        models[spec.name] = spec
        names.append(spec.name)
    cols: dict[str, Any] = {"model": np.asarray(names, dtype=object)}
    keys = sorted({k for r in rows for k in r.inputs} - {"model"})
    for k in keys:
        if k not in table:
            raise PlannerError(f"row {rows[0].id}: {k!r} is not a {table.kind} key")
        key = table[k]
        values = [key.parse(r.inputs[k], f"{r.id}: {k}") if k in r.inputs else key.default
                  for r in rows]
        numeric = key.numeric and not key.categorical
        cols[k] = np.asarray([math.nan if v is None else v for v in values], dtype=float) \
            if numeric else object_array(values)
    return cols, models



def _take(res: dict, expr: str, i: int) -> float:
    """The value of `expr` (a column, ``a+b+...`` or ``a/b``) at row i of a result."""
    def col(name: str) -> float:
        if name not in res:
            raise PlannerError(f"no result column {name!r}")
        v = res[name][i]
        return math.nan if v is None else float(v)
    if "/" in expr:
        a, b = expr.split("/", 1)
        return col(a.strip()) / col(b.strip())
    return float(sum(col(p.strip()) for p in expr.split("+")))


def _vectorised(evaluate: Callable, table) -> Callable[[list[Row]], None]:
    def compute(rows: list[Row]) -> None:
        cols, models = _columns(rows, table)
        res = evaluate(cols, len(rows), models)
        for i, r in enumerate(rows):
            err = res["error"][i]
            if err is not None:
                r.failure = str(err)
                continue
            r.predicted = _take(res, r.output, i)
            if "warning" in res and res["warning"][i]:
                r.extra["warning"] = res["warning"][i]
    return compute


def _train(rows: list[Row]) -> None:
    import planner
    from planner.plan.train import TRAIN
    _vectorised(planner.evaluate_train, TRAIN)(rows)


def _infer(rows: list[Row]) -> None:
    import planner
    from planner.plan.infer import INFER
    _vectorised(planner.evaluate_infer, INFER)(rows)


def _serve(rows: list[Row]) -> None:
    import planner
    from planner.plan.serve import SERVE
    _vectorised(planner.evaluate_serve, SERVE)(rows)


def _params(rows: list[Row]) -> None:
    import planner
    for r in rows:
        rec = planner.params(load_model(r.inputs["model"]))
        r.predicted = _take({k: [v] for k, v in rec.items()}, r.output, 0)


def _optimal(rows: list[Row]) -> None:
    import planner
    for r in rows:
        rec = planner.optimal(**r.inputs)
        r.predicted = _take({k: [v] for k, v in rec.items()}, r.output, 0)


# command -> function(rows) that sets each row's `predicted` (or `failure`) through the public
# API (one vectorised evaluator call per command).
COMPUTE: dict[str, Callable[[list[Row]], None]] = {
    "train": _train,
    "infer": _infer,
    "serve": _serve,
    "params": _params,
    "optimal": _optimal,
}


def run(areas: tuple[str, ...] = ()) -> list[Row]:
    """Predict every row (of `areas`, or all); returns fresh Row objects."""
    import copy
    for a in areas:
        if a not in AREAS:
            from planner.errors import unknown
            raise unknown("area", a, list(AREAS))
    rows = [copy.copy(r) for r in load_rows() if not areas or r.area in areas]
    for r in rows:
        r.extra = {}
    by_command: dict[str, list[Row]] = {}
    for r in rows:
        by_command.setdefault(r.command, []).append(r)
    for command, group in by_command.items():
        try:
            COMPUTE[command](group)
        except PlannerError as exc:            # one bad row must not hide the others
            for r in group:
                if r.failure is None and not math.isfinite(r.predicted):
                    _one(command, r)
            if all(r.failure for r in group):
                raise PlannerError(f"validate: every {command} row failed: {exc}") from None
    return rows


def _one(command: str, r: Row) -> None:
    try:
        COMPUTE[command]([r])
    except PlannerError as exc:
        r.failure = str(exc)


def summary(rows: list[Row]) -> list[dict[str, Any]]:
    """Per area (in `AREAS` order, every area listed, empty ones with count 0): counted rows,
    median and worst |error| (worst also signed, with its row), and the rows kept out."""
    out = []
    for area, label in AREAS.items():
        mine = [r for r in rows if r.area == area]
        counted = [r for r in mine if r.counted]
        errs = np.array([abs(r.error) for r in counted])
        worst = max(counted, key=lambda r: abs(r.error)) if counted else None
        fit = [abs(r.error) for r in mine if r.fit and math.isfinite(r.error)]
        out.append({
            "area": area, "label": label, "count": len(counted),
            "median_error": float(np.median(errs)) if len(errs) else None,
            "worst_error": float(errs.max()) if len(errs) else None,
            "worst_row": worst.id if worst else None,
            "worst_signed": worst.error if worst else None,
            "fit_rows": len([r for r in mine if r.fit]),
            "fit_median_error": float(np.median(fit)) if fit else None,
            "circular_rows": len([r for r in mine if r.circular]),
            "excluded_rows": len([r for r in mine if r.excluded]),
            "failed_rows": len([r for r in mine if r.failure]),
            "rows": len(mine)})
    return out
