"""The page's questions: a registry of forms, each a plan key table, the function that answers
it and the command it mirrors.

A key table becomes a form generically: every key the command line offers is a field with its
label, unit, default, valid range, example and help text, and the page's values go through the
key's own parser (`KeyTable.from_cli`), so a key added to a table appears on the page and an
input the CLI refuses is refused here with the CLI's words.  A command gets its tab with one
`register` call naming its plan type and the function that prints its ``--json`` record:

    register(Form("serve", "How many users can it serve?", ServePlan,
                  answer=lambda plan: record(evaluate_one(plan)), text=render))

(`text`, the command's human output, is optional; so are the headline figures, bars, charts
and the fields shown before "More options".)  Tabs appear in registration order, then *What
if?* (pasted scenarios, `planner.ui.whatif`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from planner.plan.keys import Key, KeyTable, make_plan_type

# Labels where the key's name does not read well as one (acronyms, units).
LABELS = {"tflops": "TFLOPS", "mfu": "MFU", "hfu": "HFU", "pue": "PUE", "tp": "Tensor parallel",
          "pp": "Pipeline parallel", "zero": "ZeRO stage", "grid_kg_per_kwh": "Grid CO2",
          "tdp": "Power (TDP)", "gpus": "GPUs", "max_gpus": "Max GPUs", "kv_cache": "KV cache",
          "flops": "FLOPs", "flops_method": "FLOPs method", "seq_len": "Sequence length",
          "flash_attn": "Flash attention", "quant": "Quantisation",
          "hardware": "Hardware", "model": "Model"}
DEVICE_KEYS = ("hardware", "device")      # fields that get the device picker


@dataclass(frozen=True)
class Chart:
    """A chart of a form's answer: `draw(plan, record) -> matplotlib Figure`."""
    title: str
    draw: Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Batch:
    """How a form's plans are evaluated many at a time (optional; `planner.ui.batch`):
    `rows(plans)` gives each plan's evaluator row (or its `PlannerError`) from one vectorised
    call, and `record(row, plan)` must then equal `answer(plan)`."""
    rows: Callable[[list], list]
    record: Callable[[Any, Any], Any]
    accepts: Callable[[Any], bool] = lambda plan: True


@dataclass(frozen=True)
class Form:
    """One question of the page.

    `answer(plan)` returns exactly what ``planner <command> --json`` prints for that plan (the
    browser tests compare the two); `text(record)` the command's table output.  `headline`
    and `bars` pick figures of the record to show large; `charts` draw from the plan (usually
    a small sweep around it).  `main` names the fields shown open (default: all)."""

    name: str
    title: str
    plan_type: type
    answer: Callable[[Any], Any]
    text: Callable[[Any], str] | None = None
    blurb: str = ""
    main: tuple[str, ...] = ()
    headline: Callable[[Any], list[dict]] | None = None
    bars: Callable[[Any], dict | None] | None = None
    charts: dict[str, Chart] = field(default_factory=dict)
    toml: Callable[[Any], str] | None = None   # Asked -> TOML text; default: scenario section
    batch: Batch | None = None                 # concurrent plans in one vectorised call
    command: str = ""                          # `planner COMMAND`; default: the name

    @property
    def table(self) -> KeyTable:
        return self.plan_type.table

    @property
    def cli_name(self) -> str:
        return self.command or self.name

    def fields(self) -> list[Key]:
        """The keys the page offers: the command line's, less those that name files on the
        server (repeatable --hardware-file and the like)."""
        return [k for k in self.table.keys
                if k.cli and not k.multiple and not k.name.endswith("_file")]


FORMS: dict[str, Form] = {}


def register(form: Form) -> Form:
    """Add (or replace) a form; its tab appears in registration order."""
    FORMS[form.name] = form
    return form


def label(key: Key) -> str:
    return LABELS.get(key.name) or key.name.replace("_", " ").capitalize()


def field_schema(form: Form) -> list[dict]:
    """The fields of a form as the page draws them (JSON)."""
    table = form.table
    out = []
    for k in form.fields():
        if k.name == table.argument:
            widget = "model"
        elif k.name in DEVICE_KEYS:
            widget = "device"
        elif k.kind == "choice":
            widget = "select"
        elif k.kind == "flag":
            widget = "tristate" if k.secondary else "checkbox"
        else:
            widget = "text"
        default = k.default_text or ("" if k.default is None or k.kind == "flag"
                                     else str(k.default))
        if k.kind == "flag" and k.default is True:
            default = "on"
        help_text = k.help
        if widget == "model":    # the page takes no paths: a zoo name or a pasted config
            help_text = "Zoo name (type to search), or paste a Hugging Face config.json."
        out.append({
            "name": k.name, "label": label(k), "widget": widget,
            "option": k.name.upper() if k.name == table.argument else k.flag,
            "unit": k.unit, "default": default, "valid": k.range_text(),
            "example": k.example, "help": help_text,
            "choices": [str(c) for c in k.choices],
            "main": not form.main or k.name in form.main})
    return out


def schema() -> list[dict]:
    """Every registered form, for the page's start-up request."""
    return [{"name": f.name, "title": f.title, "blurb": f.blurb, "command": f.cli_name,
             "fields": field_schema(f), "charts": {n: c.title for n, c in f.charts.items()},
             "toml": True}
            for f in FORMS.values()]


# --- the built-in forms ---------------------------------------------------------------------

def _params_answer(plan) -> dict:
    from planner.cli.params import params_record
    from planner.errors import PlannerError
    from planner.model.resolve import resolve_model
    if not plan.model:
        raise PlannerError("give a MODEL: a zoo name (see the list) or a pasted config.json")
    return params_record(resolve_model(plan.model))


def _params_text(record: dict) -> str:
    from planner.cli.params import derivation
    from planner.model.resolve import resolve_model
    return derivation(resolve_model(record["name"]), record)


def _train_answer(plan) -> dict:
    from planner.cli.train import record
    from planner.evaluate.train import evaluate_one
    return record(evaluate_one(plan))


def _train_text(record: dict) -> str:
    from planner.cli.train import human
    return human(record)


def _infer_answer(plan):
    """As `planner infer`: one record, or one per weight format for ``--quant all``."""
    from planner.cli.infer import record
    from planner.evaluate.infer import evaluate_one
    if plan.quant == "all":
        from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES
        rows = evaluate_one(dataclasses.replace(plan, quant=None),
                            quants=tuple(SIMPLE_TYPES) + GGUF_TYPES)
        return [record(r) for r in rows]
    return record(evaluate_one(plan)[0], plan)


def _infer_text(rec) -> str:
    from planner.cli.infer import render, render_all
    if isinstance(rec, list):
        c = rec[0]
        return render_all(rec, f"{c['model']} on {c['device']}, context {c['context']:,}, "
                               f"batch {c['batch']}, KV {c['kv_cache_type']}")
    return render(rec)


def _optimal_answer(plan) -> dict:
    from planner.evaluate.optimal import evaluate_one
    return evaluate_one(plan)


def _builtin() -> None:
    from functools import partial

    from planner.cli import infer as infer_cli, train as train_cli
    from planner.evaluate import infer as infer_eval, train as train_eval
    from planner.plan.infer import INFER, InferPlan
    from planner.plan.optimal import OptimalPlan
    from planner.plan.train import TRAIN, TrainPlan
    from planner.ui import batch, charts, summaries

    params_plan = make_plan_type("ParamsPlan", KeyTable("params", [TRAIN["model"]],
                                                        argument="model"),
                                 "The MODEL of `planner params`.")
    register(Form(
        "params", "How big is it?", params_plan, _params_answer, _params_text,
        blurb="Exact parameter count from the architecture: breakdown per component and "
              "layer, non-embedding N, neurons; `planner params`.",
        headline=summaries.params_headline, bars=summaries.params_bars))
    register(Form(
        "train", "What does training cost?", TrainPlan, _train_answer, _train_text,
        blurb="FLOPs, wall-clock, device-hours, cost, energy and memory per device; give "
              "--deadline for the smallest cluster or --budget for the tokens it buys; "
              "`planner train`.",
        main=("model", "tokens", "flops", "params", "hardware", "gpus", "deadline", "budget",
              "mfu", "price"),
        headline=summaries.train_headline, bars=summaries.train_bars,
        batch=Batch(partial(batch.rows, train_eval.evaluate, TRAIN),
                    lambda row, plan: train_cli.record(row)),
        charts={"time_vs_gpus": Chart("Time against cluster size", charts.train_time_vs_gpus),
                "cost_vs_time": Chart("Cost against time, Pareto front",
                                      charts.train_cost_vs_time)}))
    register(Form(
        "infer", "Can I run it?", InferPlan, _infer_answer, _infer_text,
        blurb="Memory of weights, KV cache and overheads against the device, the fit verdict, "
              "the largest context and batch, decode and prefill tokens/s; quantisation "
              "'all' for the trade-off table; `planner infer`.",
        main=("model", "device", "quant", "context", "batch", "memory", "bandwidth"),
        headline=summaries.infer_headline, bars=summaries.infer_bars,
        batch=Batch(partial(batch.rows, infer_eval.evaluate, INFER), infer_cli.record,
                    accepts=lambda plan: plan.quant != "all"),
        charts={"memory_vs_context": Chart("Memory against context",
                                           charts.infer_memory_vs_context),
                "tokens_per_quant": Chart("Decode speed per quantisation",
                                          charts.infer_tokens_per_quant)}))
    register(Form(
        "optimal", "What size is compute-optimal?", OptimalPlan, _optimal_answer,
        summaries.optimal_text,
        blurb="Chinchilla-optimal parameters and tokens for a FLOPs budget (or devices x "
              "days), by each published fit; `planner optimal`.",
        headline=summaries.optimal_headline))


_builtin()
