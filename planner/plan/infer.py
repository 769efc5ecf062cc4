"""`InferPlan`: what a local-inference question asks - the key table behind `planner infer`,
the ``[infer]`` section of a scenario file and the inference form of the web page."""
from __future__ import annotations

from typing import Any

from planner.errors import PlannerError
from planner.plan.defaults import defaults
from planner.plan.keys import Conflict, Key, KeyTable, make_plan_type

D = defaults("infer")


def parse_reserve(raw: Any, what: str) -> float | str:
    """``2GB`` -> 2e9 bytes; ``25%`` -> "25%"; ``auto`` -> "auto" (the default rule)."""
    from planner.units import parse_bytes
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    else:
        text = str(raw).strip()
        if text.lower() in ("auto", "default"):
            return "auto"
        if text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                raise PlannerError(f"cannot read {what} {raw!r} (expected e.g. 2GB, 25%, "
                                   "auto)") from None
            if not 0 <= pct < 100:
                raise PlannerError(f"{what} {raw!r} must be a percentage in [0, 100)")
            return f"{pct:g}%"
        value = parse_bytes(text, what)
    if not 0 <= value < 1e15:
        raise PlannerError(f"{what} {raw!r} is out of range (valid: 0 <= reserve < 1 PB)")
    return value


def parse_quant(raw: Any, what: str) -> str:
    """A weight format the planner knows (canonical name), or 'all'."""
    from planner.estimate.quant import canonical_quant
    text = str(raw).strip()
    if text.lower() == "all":
        return "all"
    return canonical_quant(text)


def parse_backend(raw: Any, what: str) -> str:
    """An inference backend of planner/data/decode_backends.toml (e.g. llama.cpp-cuda)."""
    from planner.errors import unknown
    from planner.estimate.decode import backend_names
    text = str(raw).strip().lower()
    names = backend_names()
    if text not in names:
        raise unknown(what, raw, names)
    return text


def parse_ram_type(raw: Any, what: str) -> str:
    """A system RAM type of decode_backends.toml [host_memory] (ddr4-3200, ddr5-5600, ...)."""
    from planner.estimate.offload import host_memory_types
    text = str(raw).strip().lower().replace("_", "-").replace(" ", "-")
    table = host_memory_types()
    if text not in table:
        raise PlannerError(f"unknown {what} {raw!r} (valid: {', '.join(table)})")
    return text


def parse_kv(raw: Any, what: str) -> str:
    from planner.estimate.quant import kv_bytes_per_element
    text = str(raw).strip().lower()
    kv_bytes_per_element(text)  # raises for unknown types, naming the valid ones
    return text


INFER = KeyTable("infer", argument="model", keys=[
    Key("model", "text", "Zoo name, config.json (or its folder) or model TOML; in a scenario "
        "the [model] section.", categorical=True, scenario=False),
    Key("device", "text", "Device profile (see `planner hardware`), e.g. rtx-4090, "
        "m2-max-96gb, laptop-16gb.", short="-d", categorical=True, metavar="D"),
    Key("hardware_file", "text", "Extra hardware profile CSV (same columns as "
        "hardware_profiles/; repeatable).", multiple=True, scenario=False, metavar="CSV"),
    Key("memory", "bytes", "Ad-hoc device memory, or an override of the profile's.",
        unit="bytes", lower=0, lower_open=True, upper=1e16, categorical=True,
        example="16GB, 16GiB"),
    Key("bandwidth", "bandwidth", "Ad-hoc device memory bandwidth, or an override.",
        unit="bytes/s", lower=0, lower_open=True, upper=1e16, categorical=True, example="100GB/s"),
    Key("tflops", "number", "Dense 16-bit TFLOPS for prefill: an ad-hoc device's, or an "
        "override of the profile's.", unit="TFLOPS", lower=0, lower_open=True, upper=1e6,
        categorical=True),
    Key("discrete", "flag", "The ad-hoc device is a discrete GPU (default: a shared-memory "
        "machine).", categorical=True),
    Key("backend", "text", "Inference backend whose fitted constants price the speed: "
        "llama.cpp-cuda, llama.cpp-metal, llama.cpp-cpu (planner/data/decode_backends.toml).",
        parser=parse_backend, categorical=True, metavar="NAME",
        default_text="Metal on Apple, CPU on laptops/desktops and ad-hoc shared-memory "
        "machines, CUDA on GPUs"),
    Key("reserve", "text", "Memory the OS and other programs keep (e.g. 2GB, 25%); auto: 1/3 "
        "of a shared-memory machine up to 32 GiB, 1/4 above (macOS's GPU split), 0 on a "
        "discrete GPU.", parser=parse_reserve, categorical=True, default="auto",
        metavar="SIZE|PCT"),
    Key("quant", "text", "Weight format: fp32, fp16, bf16, fp8, int8, int4, nf4, or a GGUF "
        "type (Q2_K ... Q8_0); 'all' for a trade-off table.", short="-q", parser=parse_quant,
        categorical=True, default=D["quant"], metavar="Q"),
    Key("context", "count", "Tokens of context per sequence.", short="-c", unit="tokens",
        lower=1, upper=1e8, integer=True, metavar="N",
        default_text=f"min(model context, {D['context_cap']:,})"),
    Key("batch", "count", "Sequences decoded together.", short="-b", unit="sequences", lower=1,
        upper=1e6, integer=True, default=D["batch"], metavar="B"),
    Key("kv_cache", "text", "KV-cache element type: f16, bf16, f32, q8_0, q5_1, q5_0, q4_1, "
        "q4_0, iq4_nl, fp8.", parser=parse_kv, categorical=True, default=D["kv_cache"],
        metavar="T"),
    Key("efficiency", "number", "Achieved fraction of memory bandwidth while decoding "
        "(overrides the backend's fitted figure).", unit="fraction", lower=0, lower_open=True,
        upper=1, metavar="E"),
    Key("prefill_efficiency", "number", "Achieved fraction of 16-bit peak FLOP/s in prefill "
        "(overrides the fitted figure).", unit="fraction", lower=0, lower_open=True, upper=1,
        metavar="E"),
    Key("prompt", "count", "Prompt tokens for time to first token.", short="-p",
        unit="tokens", lower=1, upper=1e8, integer=True, default=D["prompt"], metavar="N"),
    Key("flash_attn", "flag", "Fused attention (no KQ score buffer).",
        secondary="--no-flash-attn", categorical=True, default=True),
    Key("ram", "bytes", "System RAM beside a discrete GPU: a model that does not fit the GPU "
        "is split as llama.cpp -ngl does (layers on the GPU, the rest in RAM).", unit="bytes",
        lower=0, lower_open=True, upper=1e16, example="64GB", metavar="SIZE"),
    Key("ram_type", "text", "System RAM type, for its bandwidth (dual channel): ddr4-2400 ... "
        "ddr4-3600, ddr5-4800 ... ddr5-6400, lpddr5-6400, lpddr5x-7500/8533.",
        parser=parse_ram_type, categorical=True, default=D["ram_type"], metavar="TYPE"),
    Key("ram_bandwidth", "bandwidth", "System RAM bandwidth (instead of --ram-type).",
        unit="bytes/s", lower=0, lower_open=True, upper=1e16, example="89.6GB/s"),
    Key("gpu_layers", "count", "Layers on the GPU (llama.cpp -ngl; more than the model has: "
        "all, and the output layer).", short="-ngl", unit="layers", lower=0, upper=1e4,
        integer=True, metavar="N",
        default_text="all if the model fits the GPU, else as many as fit (with --ram)"),
    Key("cpu_moe", "flag", "Mixture-of-experts: routed experts in system RAM, attention and "
        "the rest on the GPU (llama.cpp --cpu-moe).", categorical=True),
    Key("recipes", "choice", "llama.cpp quantisation mixes: current, or the Aug-Dec 2023 ones "
        "(TheBloke's files).", choices=("current", "2023"), categorical=True,
        default=D["recipes"]),
], conflicts=[
    Conflict(("ram_type", "ram_bandwidth"), "the RAM type sets the bandwidth"),
    Conflict(("cpu_moe", "gpu_layers"), "--cpu-moe keeps every layer's attention on the GPU, "
             "as -ngl 99 --cpu-moe does"),
])

InferPlan = make_plan_type("InferPlan", INFER, """A local-inference plan: the keys of `INFER`,
each None when not given.""")
