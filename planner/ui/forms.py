"""The page's questions: a registry of forms, each a plan key table, the function that answers
it and the command it mirrors.

A key table becomes a form generically: every key the command line offers is a field with its
label, unit, default, valid range, example and help text, and the page's values go through the
key's own parser (`KeyTable.from_cli`), so a key added to a table appears on the page and an
input the CLI refuses is refused here with the CLI's words.  A command gets its tab with one
`register` call naming its plan type and the function that prints its ``--json`` record:

    register(Form("optimal", "What size is compute-optimal?", OptimalPlan,
                  answer=evaluate_one, text=lambda record, plan: render(record)))

(`text(record, plan)`, the command's human output, is optional; so are the headline figures,
bars, charts and the fields shown before "More options".)  Tabs appear in registration order,
then *What if?* (pasted scenarios, `planner.ui.whatif`).

A repeatable option (``-H h100-sxm -H h200``) is one field holding a comma-separated list;
keys that name files on the server (``*_file``, ``FILE``/``CSV`` values, and those a form
lists in `hide`) are never fields: the page reads no path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from planner.plan.keys import Key, KeyTable, make_plan_type
from planner.ui.lru import per_plan

# Labels where the key's name does not read well as one (acronyms, units).
LABELS = {"tflops": "TFLOPS", "mfu": "MFU", "hfu": "HFU", "pue": "PUE", "tp": "Tensor parallel",
          "pp": "Pipeline parallel", "zero": "ZeRO stage", "grid_kg_per_kwh": "Grid CO2",
          "tdp": "Power (TDP)", "gpus": "GPUs", "max_gpus": "Max GPUs", "kv_cache": "KV cache",
          "flops": "FLOPs", "flops_method": "FLOPs method", "seq_len": "Sequence length",
          "flash_attn": "Flash attention", "quant": "Quantisation",
          "hardware": "Hardware", "model": "Model", "dp": "Data parallel",
          "cp": "Context parallel", "ep": "Expert parallel", "ttft": "TTFT target",
          "tpot": "TPOT target", "prompt_sd": "Prompt SD", "output_sd": "Output SD",
          "gpu_memory_utilization": "GPU memory fraction", "max_num_tokens": "Max tokens/step",
          "top": "Plans listed", "min_speed": "Min speed", "kv_policy": "KV policy"}
DEVICE_KEYS = ("hardware", "device")      # fields that get the device picker
FILE_METAVARS = ("FILE", "CSV")           # values that are paths on the server: never fields
MULTIPLE_EXAMPLE = "h100-sxm, h200"       # a repeatable device field's placeholder


@dataclass(frozen=True)
class Chart:
    """A chart of a form's answer: `draw(plan, record) -> matplotlib Figure`, offered for the
    records `when(record)` accepts."""
    title: str
    draw: Callable[[Any, Any], Any]
    when: Callable[[Any], bool] = lambda record: True


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
    browser tests compare the two); `text(record, plan)` the command's table output.
    `headline` and `bars` pick figures of the record to show large; `charts` draw from the
    plan (usually a small sweep around it).  `main` names the fields shown open (default:
    all); `hide` keys of the table the page does not offer."""

    name: str
    title: str
    plan_type: type
    answer: Callable[[Any], Any]
    text: Callable[[Any, Any], str] | None = None
    blurb: str = ""
    main: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()
    headline: Callable[[Any], list[dict]] | None = None
    bars: Callable[[Any], dict | None] | None = None
    charts: dict[str, Chart] = field(default_factory=dict)
    toml: Callable[[Any], str] | None = None   # Asked -> TOML text; default: scenario section
    batch: Batch | None = None                 # concurrent plans in one vectorised call
    command: str = ""                          # `planner COMMAND`; default: the name
    tab: str = ""                              # the tab's short label; default: the title

    @property
    def table(self) -> KeyTable:
        return self.plan_type.table

    @property
    def cli_name(self) -> str:
        return self.command or self.name

    @property
    def has_toml(self) -> bool:
        """A TOML download exists: the form's own, a scenario section, or its MODEL's file."""
        from planner.whatif.scenario import SECTIONS
        return bool(self.toml or self.name in SECTIONS or self.table.argument)

    def fields(self) -> list[Key]:
        """The keys the page offers: the command line's, less those that name files on the
        server (--hardware-file, `planner fits --model FILE`, ...) and those in `hide`."""
        return [k for k in self.table.keys
                if k.cli and k.name not in self.hide and not k.name.endswith("_file")
                and k.metavar not in FILE_METAVARS]


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
        help_text, placeholder = k.help, ""
        if widget == "model":    # the page takes no paths: a zoo name or a pasted config
            help_text = "Zoo name (type to search), or paste a Hugging Face config.json."
        if k.multiple:           # one field, the values comma-separated (see answers.ask)
            help_text = help_text.replace(" (repeatable)", "") + \
                f" Several: comma-separated (the command repeats {k.flag})."
            placeholder = "comma-separated, e.g. " + (MULTIPLE_EXAMPLE if widget == "device"
                                                      else k.example or "a, b")
        out.append({
            "name": k.name, "label": label(k), "widget": widget,
            "option": k.name.upper() if k.name == table.argument else k.flag,
            "unit": k.unit, "default": default, "valid": k.range_text(),
            "example": k.example, "help": help_text, "placeholder": placeholder,
            "multiple": k.multiple, "choices": [str(c) for c in k.choices],
            "main": not form.main or k.name in form.main})
    return out


def schema() -> list[dict]:
    """Every registered form, for the page's start-up request."""
    return [{"name": f.name, "title": f.title, "tab": f.tab or f.title, "blurb": f.blurb,
             "command": f.cli_name,
             "fields": field_schema(f), "charts": {n: c.title for n, c in f.charts.items()},
             "toml": f.has_toml}
            for f in FORMS.values()]


# --- the built-in forms ---------------------------------------------------------------------

def _params_answer(plan) -> dict:
    from planner.cli.params import params_record
    from planner.errors import PlannerError
    from planner.model.resolve import resolve_model
    if not plan.model:
        raise PlannerError("give a MODEL: a zoo name (see the list) or a pasted config.json")
    return params_record(resolve_model(plan.model))


def _params_text(record: dict, plan) -> str:
    from planner.cli.params import derivation
    from planner.model.resolve import resolve_model
    return derivation(resolve_model(record["name"]), record)


def _train_answer(plan) -> dict:
    from planner.cli.train import record
    from planner.evaluate.train import evaluate_one
    return record(evaluate_one(plan))


def _train_text(record: dict, plan) -> str:
    from planner.cli.train import human
    return human(record)


def _infer_answer(plan):
    """As `planner infer --json`: one record, the no-device record, or one per weight format
    for ``--quant all``."""
    from planner.cli.infer import result
    return result(plan)


def _infer_text(rec, plan) -> str:
    from planner.cli.infer import human
    return human(rec, plan)


def _optimal_answer(plan) -> dict:
    from planner.evaluate.optimal import evaluate_one
    return evaluate_one(plan)


def _optimal_text(record: dict, plan) -> str:
    from planner.cli.optimal import render
    return render(record)


# `planner parallel` and `fits` print part of what they compute with --json (the plans, the
# rows) and all of it as a table: the page takes both from one call per plan.

@per_plan
def _parallel(plan) -> dict:
    from planner.cli.parallel import result
    return result(plan)


def _parallel_answer(plan) -> list:
    """As `planner parallel --json`: the plans, fastest first."""
    return _parallel(plan)["plans"]


def _parallel_text(record, plan) -> str:
    from planner.cli.parallel import render
    return render(_parallel(plan))


@per_plan
def _fits(plan) -> dict:
    from planner.evaluate.fits import evaluate
    return evaluate(plan)


def _fits_answer(plan) -> list:
    """As `planner fits --json`: the models that run, best quantisation each."""
    return _fits(plan)["rows"]


def _fits_text(record, plan) -> str:
    from planner.cli.fits import render
    return render(_fits(plan), plan)


def _serve_answer(plan) -> dict:
    """As `planner serve --json` (the row without its empty error column)."""
    from planner.evaluate.serve import evaluate_one
    return {k: v for k, v in evaluate_one(plan).items() if k != "error"}


def _serve_text(record, plan) -> str:
    from planner.cli.serve import render
    return render(record)


def _builtin() -> None:
    from functools import partial

    from planner.cli import infer as infer_cli, train as train_cli
    from planner.evaluate import infer as infer_eval, train as train_eval
    from planner.plan.fits import FitsPlan
    from planner.plan.infer import INFER, InferPlan
    from planner.plan.optimal import OptimalPlan
    from planner.plan.parallel import ParallelPlan
    from planner.plan.serve import ServePlan
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
        "parallel", "Which parallel layout is fastest?", ParallelPlan, _parallel_answer,
        _parallel_text, tab="How to parallelise?",
        blurb="The fastest ways to split training over N GPUs: tensor, pipeline, data "
              "(ZeRO), context and expert parallelism, micro-batch, recomputation and "
              "precision searched; step time, MFU, memory per GPU and where the time goes; "
              "`planner parallel`.",
        main=("model", "hardware", "gpus", "global_batch", "global_batch_tokens", "seq_len"),
        headline=summaries.parallel_headline, bars=summaries.parallel_bars,
        charts={"step_time": Chart("Step time of each plan, by term",
                                   charts.parallel_step_time)}))
    register(Form(
        "optimal", "What size is compute-optimal?", OptimalPlan, _optimal_answer,
        _optimal_text, tab="Optimal size?",
        blurb="Chinchilla-optimal parameters and tokens for a FLOPs budget (or devices x "
              "days), by each published fit; `planner optimal`.",
        headline=summaries.optimal_headline))
    register(Form(
        "infer", "Can I run it?", InferPlan, _infer_answer, _infer_text,
        blurb="Memory of weights, KV cache and overheads against the device, the fit verdict, "
              "the largest context and batch, decode and prefill tokens/s; quantisation "
              "'all' for the trade-off table; `planner infer`.",
        main=("model", "device", "quant", "context", "batch", "memory", "bandwidth"),
        headline=summaries.infer_headline, bars=summaries.infer_bars,
        batch=Batch(partial(batch.rows, infer_eval.evaluate, INFER), infer_cli.record,
                    accepts=lambda plan: infer_cli.answer_kind(plan) == "one"),
        # with no device the memory chart has no device to group by (render.plots): not offered
        charts={"memory_vs_context": Chart("Memory against context",
                                           charts.infer_memory_vs_context,
                                           when=lambda r: isinstance(r, list)
                                           or r["device"] is not None),
                "tokens_per_quant": Chart("Decode speed per quantisation",
                                          charts.infer_tokens_per_quant)}))
    register(Form(
        "fits", "What can I run?", FitsPlan, _fits_answer, _fits_text,
        blurb="Every zoo model that fits a device, at the best quantisation that fits, with "
              "the largest context it then holds and its decode and prefill speed; "
              "`planner fits`.",
        main=("device", "memory", "bandwidth", "context", "min_speed", "sort"),
        hide=("model",),        # model files on the server: never read for a request
        headline=summaries.fits_headline))
    register(Form(
        "serve", "How many users can it serve?", ServePlan, _serve_answer, _serve_text,
        tab="How many users?",
        blurb="With a request rate: the cheapest GPUs, replicas and precision that serve it "
              "within the latency targets, and its cost (with --replicas: that deployment's "
              "latency at the rate); with a concurrency: one replica's throughput and "
              "latency under N clients; `planner serve`.",
        main=("model", "rate", "prompt", "output", "ttft", "tpot", "hardware", "concurrency",
              "replicas"),
        headline=summaries.serve_headline,
        charts={"gpus_vs_rate": Chart("GPUs against the request rate",
                                      charts.serve_gpus_vs_rate,
                                      when=lambda r: r["mode"] == "solve"),
                "latency_vs_throughput": Chart("Latency of this deployment against load",
                                               charts.serve_latency_vs_throughput)}))


_builtin()
