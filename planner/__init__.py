"""planner: how big is a language model, what does training it cost, can I run it, what does
serving it take.

Every estimate is a function of three inputs (after Calculon): the *model*
(`planner.model.ModelSpec`), the *hardware* (`planner.hardware.Device`) and the *plan*
(`planner.plan`: `TrainPlan`, `InferPlan`, ...).  One vectorised evaluator per plan kind
(`planner.evaluate`) answers them; the CLI, scenario files and the web page only parse and
render.  The public API, imported lazily so ``import planner`` stays instant::

    import planner
    spec = planner.load_model("llama-2-7b")               # zoo name, config.json, model TOML
    dev = planner.get_device("h100-sxm")                  # hardware profile
    row = planner.train(model="gpt3-175b", tokens="300B", hardware="a100-80gb", gpus=1024)
    row["days"], row["mfu"], row["tp"], row["memory_per_gpu_bytes"]
    planner.infer(model="llama-2-13b", device="m2-max-32gb", quant="Q4_K_M")["decode_tokens_per_s"]
    planner.serve(model="llama-3.1-70b", rate="20/s", ttft="1s", tpot="50ms")["gpus"]
    planner.evaluate_train({"model": "llama-2-7b", "hardware": "h100-sxm",
                            "gpus": np.arange(8, 8200, 8), "tokens": 2e12, "mfu": 0.4},
                           n=1024, models={"llama-2-7b": spec})   # columns in, columns out

Keyword values are parsed exactly as on the command line or in a scenario (``"300B"``,
``"30d"``, ``"$2.50/h"``, or plain numbers in base units); a bad value raises
`planner.PlannerError` with the message the CLI prints.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

__all__ = ["ModelSpec", "Device", "TrainPlan", "InferPlan", "OptimalPlan", "ServePlan",
           "PlannerError", "load_model", "get_device", "train", "infer", "optimal", "serve",
           "params", "evaluate_train", "evaluate_infer", "evaluate_serve"]


def load_model(name: str):
    """A `ModelSpec` from a zoo name, a Hugging Face config.json (or its folder) or a model
    TOML file."""
    from planner.model.resolve import resolve_model
    return resolve_model(name)


def get_device(name: str, hardware_files: tuple[str, ...] = ()):
    """A `Device` profile by name or alias (``h100``, ``4090``, ``macbook air m2 16gb``)."""
    from planner.hardware import get_device as get
    return get(name, tuple(hardware_files))


# Plan kind -> (module, plan class), imported on first use.
_PLAN_TYPES = {"train": ("planner.plan.train", "TrainPlan"),
               "infer": ("planner.plan.infer", "InferPlan"),
               "serve": ("planner.plan.serve", "ServePlan")}


def _plan(kind: str, plan, keys: dict):
    """`plan` if given, else the `kind` plan built from `keys` (parsed as in a scenario), with
    its model and extra hardware files set."""
    if plan is not None:
        return plan
    import dataclasses
    import importlib
    module, name = _PLAN_TYPES[kind]
    cls = getattr(importlib.import_module(module), name)
    model = keys.pop("model", None)
    files = keys.pop("hardware_file", None)
    p = cls.from_mapping(keys, where=kind)
    return dataclasses.replace(p, model=model, hardware_file=tuple(files) if files else None)


def train(plan=None, **keys: Any) -> dict:
    """One training plan (a `TrainPlan`, or its keys) -> the row `planner train --json` prints
    (base units); an impossible plan raises `PlannerError`."""
    from planner.evaluate.train import evaluate_one
    return evaluate_one(_plan("train", plan, keys))


def infer(plan=None, **keys: Any) -> dict:
    """One local-inference plan (an `InferPlan`, or its keys) -> its row (base units)."""
    from planner.evaluate.infer import evaluate_one
    return evaluate_one(_plan("infer", plan, keys))[0]


def serve(plan=None, **keys: Any) -> dict:
    """One serving plan (a `ServePlan`, or its keys) -> the row `planner serve --json` prints:
    the cheapest deployment for ``rate`` (or a fixed one with ``replicas``), or one replica
    under ``concurrency`` clients."""
    from planner.evaluate.serve import evaluate_one
    row = evaluate_one(_plan("serve", plan, keys))
    row.pop("error", None)
    return row


def optimal(plan=None, **keys: Any) -> dict:
    """Compute-optimal parameters and tokens for a budget (an `OptimalPlan`, or its keys)."""
    from planner.evaluate.optimal import evaluate_one
    if plan is None:
        from planner.plan.optimal import OptimalPlan
        plan = OptimalPlan.from_mapping(keys, where="optimal")
    return evaluate_one(plan)


def params(model) -> dict:
    """Parameter counts of a model (a `ModelSpec` or a name): total, active, non-embedding,
    neurons and the breakdown - the record of `planner params --json`."""
    from planner.cli.params import params_record
    return params_record(load_model(model) if isinstance(model, str) else model)


def evaluate_train(columns: dict, n: int, models: dict | None = None,
                   hardware_files: tuple[str, ...] = ()) -> dict:
    """The training evaluator on `n` plans given as columns (scalars or arrays of length n, in
    base units) -> result columns (numpy arrays)."""
    from planner.evaluate.train import evaluate
    return evaluate(columns, n, models, hardware_files)


def evaluate_infer(columns: dict, n: int, models: dict | None = None,
                   hardware_files: tuple[str, ...] = ()) -> dict:
    """The local-inference evaluator on `n` plans given as columns -> result columns."""
    from planner.evaluate.infer import evaluate
    return evaluate(columns, n, models, hardware_files)


def evaluate_serve(columns: dict, n: int, models: dict | None = None,
                   hardware_files: tuple[str, ...] = ()) -> dict:
    """The serving evaluator on `n` plans given as columns -> result columns."""
    from planner.evaluate.serve import evaluate
    return evaluate(columns, n, models, hardware_files)


def __getattr__(name: str):
    """Types, imported on first use."""
    if name == "ModelSpec":
        from planner.model.spec import ModelSpec
        return ModelSpec
    if name == "Device":
        from planner.hardware.device import Device
        return Device
    if name in ("TrainPlan", "InferPlan"):
        from planner import plan
        return getattr(plan, name)
    if name == "ServePlan":
        from planner.plan.serve import ServePlan
        return ServePlan
    if name == "OptimalPlan":
        from planner.plan.optimal import OptimalPlan
        return OptimalPlan
    if name == "PlannerError":
        from planner.errors import PlannerError
        return PlannerError
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
