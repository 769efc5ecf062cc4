"""`TrainPlan`: what a training question asks - the key table behind `planner train`, the
``[train]`` section of a scenario file and the training form of the web page."""
from __future__ import annotations

from typing import Any

from planner.errors import PlannerError
from planner.hardware.device import PRECISIONS
from planner.plan.defaults import defaults
from planner.plan.keys import Conflict, Key, KeyTable, make_plan_type

D = defaults("train")
OPTIMIZER_MODES = ("mixed", "mixed-fp32-grads", "mixed-both-grads", "fp32")
RECOMPUTE = ("none", "selective", "full")


def parse_optimizer_bytes(raw: Any, what: str) -> str | float:
    """A mode name (mixed, mixed-fp32-grads, mixed-both-grads, fp32) or the optimizer's bytes
    per parameter K (a number >= 0, e.g. 12)."""
    text = str(raw).strip().lower()
    if text in OPTIMIZER_MODES:
        return text
    try:
        k = float(text)
    except ValueError:
        raise PlannerError(f"{what} {raw!r} is neither a mode ({', '.join(OPTIMIZER_MODES)}) "
                           "nor a number of bytes per parameter (e.g. 12)") from None
    if not 0 <= k <= 64:
        raise PlannerError(f"{what} {raw!r} is out of range (valid: 0 <= K <= 64 bytes per "
                           "parameter, or a mode name)")
    return k


TRAIN = KeyTable("train", argument="model", keys=[
    Key("model", "text", "Zoo name, config.json (or its folder) or model TOML; in a scenario "
        "the [model] section.", categorical=True, scenario=False),
    Key("tokens", "count", "Training tokens.", unit="tokens", lower=0, lower_open=True,
        upper=1e18,
        example="300B, 2T"),
    Key("flops", "flops", "A bare training FLOPs budget instead of MODEL and --tokens.",
        unit="FLOP", lower=0, lower_open=True, upper=1e35, example="3.14e23"),
    Key("params", "count", "A bare parameter count instead of MODEL (FLOPs = 6 N D).",
        unit="parameters", lower=0, lower_open=True, upper=1e16, example="175B"),
    Key("hardware", "text", "Device profile name (see `planner hardware`).", short="-H",
        categorical=True, example="h100-sxm", metavar="NAME"),
    Key("hardware_file", "text", "Extra hardware profile CSV (repeatable; also "
        "PLANNER_HARDWARE_PATH).", multiple=True, scenario=False, metavar="FILE"),
    Key("tflops", "number", "Dense peak TFLOPS at --precision: an ad-hoc device, or an "
        "override of the profile's.", unit="TFLOPS", lower=0, lower_open=True, upper=1e6,
        categorical=True, example="312"),
    Key("memory", "bytes", "Device memory: an ad-hoc device's, or an override of the "
        "profile's.", unit="bytes", lower=0, lower_open=True, upper=1e16, categorical=True,
        example="80GB, 80GiB"),
    Key("bandwidth", "bandwidth", "Device memory bandwidth (ad-hoc or override).",
        unit="bytes/s", lower=0, lower_open=True, upper=1e16, categorical=True, example="2TB/s"),
    Key("tdp", "number", "Device power for energy (ad-hoc or override).", unit="W", lower=0,
        upper=1e5, categorical=True, example="700"),
    Key("precision", "choice", "Training precision.", choices=PRECISIONS, categorical=True, auto=True,
        default_text="the device's bf16, else fp16, else fp32"),
    Key("gpus", "count", "Number of devices.", unit="devices", lower=1, upper=1e7,
        integer=True, example="1024"),
    Key("deadline", "duration", "Solve for the smallest cluster (whole nodes) finishing within "
        "this; with --gpus, a limit the plan must meet.", unit="s", lower=0, lower_open=True,
        upper=100 * 8760 * 3600.0, example="30d, '3 months' (730 h each)"),
    Key("budget", "usd", "USD to spend: without --tokens, solves for the tokens it buys; with "
        "them, a limit.", unit="USD", lower=0, lower_open=True, upper=1e15, example="$5M"),
    Key("mfu", "number", "Model FLOPs utilisation (PaLM App. B).", unit="fraction", lower=0,
        lower_open=True, upper=1, default_text="the device profile's", example="0.4"),
    Key("hfu", "number", "Hardware FLOPs utilisation, counting recomputation (PaLM App. B).",
        unit="fraction", lower=0, lower_open=True, upper=1, example="0.45"),
    Key("price", "price", "Price per device-hour.", unit="USD/h", lower=0, upper=1e5,
        default_text="the device profile's", example="'$2.50/h'"),
    Key("pue", "number", "Data-centre power usage effectiveness (energy x PUE).", lower=1,
        upper=10, default=D["pue"]),
    Key("grid_kg_per_kwh", "number", "Grid carbon intensity for CO2 (none: CO2 not "
        "estimated).", unit="kg/kWh", lower=0, upper=5, example="0.4"),
    Key("flops_method", "choice", "6nd (Kaplan 2020; GPT-3 Table D.1) or exact (Hoffmann et "
        "al. 2022 App. F).", choices=("6nd", "exact"), categorical=True,
        default=D["flops_method"]),
    Key("non_embedding", "flag", "Use Kaplan's non-embedding N in 6ND.", categorical=True),
    Key("recompute", "choice", "Activation recomputation: none (hardware FLOPs = 6ND), "
        "selective (attention scores only; Korthikanti et al. 2022) or full (8ND; Narayanan "
        "et al. 2021).", choices=RECOMPUTE, categorical=True, auto=True,
        default_text="searched when predicted; selective with --mfu/--hfu and a MODEL, none "
        "with a bare --flops/--params"),
    Key("seq_len", "count", "Sequence length.", unit="tokens", lower=1, upper=1e8,
        integer=True, categorical=True, default_text="the model's context"),
    Key("global_batch", "count", "Global batch in sequences (bounds data parallelism in the "
        "predicted utilisation).", unit="sequences", lower=1, upper=1e8, integer=True,
        categorical=True, default_text="--global-batch-tokens / --seq-len"),
    Key("global_batch_tokens", "count", "Global batch in tokens.", unit="tokens", lower=1,
        upper=1e11, integer=True, categorical=True, default=D["global_batch_tokens"],
        example="4M"),
    Key("micro_batch", "count", "Micro-batch size per device.", unit="sequences", lower=1,
        upper=1e6, integer=True, categorical=True, auto=True,
        default_text="1 with --mfu/--hfu; searched otherwise"),
    Key("tp", "count", "Tensor-parallel degree.", lower=1, upper=4096, integer=True,
        categorical=True, auto=True, default_text="searched"),
    Key("pp", "count", "Pipeline-parallel degree.", lower=1, upper=4096, integer=True,
        categorical=True, auto=True, default_text="searched"),
    Key("dp", "count", "Data-parallel degree (pins the predicted plan).", lower=1,
        upper=1e7, integer=True, categorical=True, auto=True, default_text="searched"),
    Key("cp", "count", "Context-parallel degree (ring attention; pins the predicted plan).",
        lower=1, upper=64, integer=True, categorical=True, auto=True, default_text="searched"),
    Key("ep", "count", "Expert-parallel degree (MoE; pins the predicted plan).", lower=1,
        upper=4096, integer=True, categorical=True, auto=True, default_text="searched"),
    Key("interleave", "count", "Virtual pipeline stages per device (interleaved 1F1B; pins the "
        "predicted plan).", lower=1, upper=8, integer=True, categorical=True, auto=True,
        default_text="searched"),
    Key("zero", "count", "ZeRO stage, sharding over the data-parallel ranks (Rajbhandari et "
        "al. 2020).", lower=0, upper=3, integer=True, categorical=True, auto=True,
        default_text=f"{D['zero']} with --mfu/--hfu; searched otherwise"),
    Key("sequence_parallel", "flag", "Megatron sequence parallelism with TP (Korthikanti et "
        "al. 2022).", secondary="--no-sequence-parallel", categorical=True, auto=True,
        default_text="off with --mfu/--hfu; searched otherwise"),
    Key("framework", "choice", "Efficiency profile of the predicted utilisation "
        "(planner/data/parallel_efficiency.toml).",
        choices=("production", "llm-foundry", "megatron-2021"), categorical=True,
        default=D["framework"]),
    Key("goodput", "flag", "Divide time and cost by the goodput (failures, checkpoints, "
        "restarts; Young 1974 / Daly 2006).", secondary="--no-goodput", categorical=True,
        default_text="on when the utilisation is predicted, off with --mfu/--hfu"),
    Key("failure_rate", "number", "Interruptions per device-hour for the goodput.",
        unit="1/h", lower=0, upper=1, categorical=True,
        default_text="2.19e-5 (Llama 3: 466 in 54 days on 16,384 H100)"),
    Key("checkpoint_bandwidth", "bandwidth", "Storage write bandwidth for checkpoints.",
        unit="bytes/s", lower=0, lower_open=True, upper=1e16, categorical=True,
        default_text="2 TB/s, at most 1 GB/s per device"),
    Key("restart_time", "duration", "Time to resume after an interruption, besides reading the "
        "checkpoint.", unit="s", lower=0, upper=8760 * 3600.0, categorical=True,
        default_text="10 min"),
    Key("optimizer_bytes", "text", "Bytes per parameter: mode mixed (16), mixed-fp32-grads "
        "(18), mixed-both-grads (20), fp32 (16), or the optimizer's K (e.g. 12).",
        parser=parse_optimizer_bytes, categorical=True, metavar="MODE|K",
        default_text="mixed with --mfu/--hfu; the framework's (mixed-fp32-grads) when "
        "predicted"),
    Key("node_size", "count", "Devices per node; solved clusters are whole nodes.", lower=1,
        upper=4096, integer=True, categorical=True, default=D["node_size"]),
    Key("max_gpus", "count", "Largest cluster a deadline may ask for.", unit="devices", lower=1,
        upper=1e7, integer=True, default=D["max_gpus"]),
], conflicts=[
    Conflict(("model", "flops"), "a bare --flops budget replaces the model"),
    Conflict(("model", "params"), "--params replaces the model"),
    Conflict(("flops", "params"), "--flops is the whole budget; --params needs --tokens"),
    Conflict(("flops", "tokens"), "a bare FLOPs budget already includes the tokens"),
    Conflict(("mfu", "hfu"), "MFU counts model FLOPs, HFU the hardware's incl. "
             "recomputation; PaLM App. B"),
    Conflict(("global_batch", "global_batch_tokens"), "one global batch, in sequences or "
             "tokens"),
])

TrainPlan = make_plan_type("TrainPlan", TRAIN, """A training plan: the keys of `TRAIN`, each
None when not given (the evaluator applies the defaults and rules).""")
