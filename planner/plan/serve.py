"""`ServePlan`: what a serving-capacity question asks - the key table behind `planner serve`
and the ``[serve]`` section of a scenario file.

Two forms: with --rate, the cheapest deployment (device, TP x PP, precision, replicas) that
serves the rate within the latency targets; with --concurrency, one replica of a given shape
under N closed-loop clients (``max``: as many sequences as its KV cache holds)."""
from __future__ import annotations

import math
import re
from typing import Any

from planner.errors import PlannerError
from planner.plan.keys import Conflict, Key, KeyTable, make_plan_type

_LATENCY = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0}
_RATE = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 1 / 60.0, "h": 1 / 3600.0, "hour": 1 / 3600.0,
         "day": 1 / 86400.0}


def _positive(value: float, raw: Any, what: str, unit: str, example: str) -> float:
    """A parsed rate or latency must be a finite number > 0 (checked here, where every
    command-line, scenario and web-page value passes)."""
    if not math.isfinite(value) or value <= 0:
        raise PlannerError(f"{what} {raw!r} must be > 0 {unit} (e.g. {example})")
    return value


def parse_latency(raw: Any, what: str) -> float:
    """``50ms``, ``1s``, ``0.2 s``, ``800us`` -> seconds (a bare number is refused)."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _positive(float(raw), raw, what, "seconds", "50ms, 1s")
    m = re.match(r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-zµ]*)\s*$", str(raw).lower())
    if not m or m.group(2) not in _LATENCY:
        raise PlannerError(f"cannot read {what} {raw!r} (expected a time with a unit, e.g. "
                           "50ms, 1s, 800us)")
    return _positive(float(m.group(1)) * _LATENCY[m.group(2)], raw, what, "seconds",
                     "50ms, 1s")


def parse_rate(raw: Any, what: str) -> float:
    """``20/s``, ``20``, ``1200/min``, ``72000/h`` -> requests per second."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _positive(float(raw), raw, what, "requests/s", "20/s")
    m = re.match(r"^\s*(-?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(?:req(?:uests)?)?\s*/?\s*"
                 r"([a-z]*)\s*$", str(raw).lower())
    if not m or m.group(2) not in _RATE:
        raise PlannerError(f"cannot read {what} {raw!r} (expected requests per second, e.g. "
                           "20/s, 1200/min, 72000/h)")
    return _positive(float(m.group(1)) * _RATE[m.group(2)], raw, what, "requests/s", "20/s")


def parse_concurrency(raw: Any, what: str) -> float | str:
    """A whole number of clients >= 1, or ``max`` (as many as the KV cache holds)."""
    from planner.units import parse_number
    if isinstance(raw, str) and raw.strip().lower() == "max":
        return "max"
    try:
        value = parse_number(raw, what)
    except PlannerError:
        raise PlannerError(f"{what} {raw!r} is neither a number nor 'max'") from None
    if value < 1 or value != int(value) or value > 1e7:
        raise PlannerError(f"{what} {raw!r} is out of range (valid: whole, 1 to 10,000,000, "
                           "or max)")
    return float(int(value))


def parse_precision(raw: Any, what: str) -> str:
    from planner.estimate.serving.engine import weight_format
    text = str(raw).strip().lower()
    weight_format(text)       # raises, naming the valid ones
    return text


def parse_kv(raw: Any, what: str) -> str:
    """A KV-cache type as `planner infer` takes it, or ``auto`` (the engine's default)."""
    from planner.plan import infer
    text = str(raw).strip().lower()
    return text if text == "auto" else infer.parse_kv(raw, what)


SERVE = KeyTable("serve", argument="model", keys=[
    Key("model", "text", "Zoo name, config.json (or its folder) or model TOML; in a scenario "
        "the [model] section.", categorical=True, scenario=False),
    Key("rate", "text", "Requests per second to serve (solve form), e.g. 20/s, 1200/min.",
        unit="requests/s", parser=parse_rate, metavar="R"),
    Key("concurrency", "text", "Closed-loop clients on one replica (evaluate form), or max: "
        "as many sequences as the KV cache holds.", parser=parse_concurrency, metavar="N|max",
        categorical=True),
    Key("prompt", "count", "Mean prompt tokens per request.", unit="tokens", lower=1,
        upper=1e7, default=1000, metavar="P"),
    Key("output", "count", "Mean output tokens per request.", unit="tokens", lower=1,
        upper=1e7, default=200, metavar="O"),
    Key("prompt_sd", "number", "Standard deviation of prompt tokens (0: fixed length).",
        unit="tokens", lower=0, upper=1e7, default=0),
    Key("output_sd", "number", "Standard deviation of output tokens (0: fixed length).",
        unit="tokens", lower=0, upper=1e7, default=0),
    Key("ttft", "text", "Target time to first token at --percentile (solve form).",
        unit="s", parser=parse_latency, default_text="2s (MLPerf Llama-2-70B server limit)",
        metavar="T"),
    Key("tpot", "text", "Target time per output token at --percentile (solve form).",
        unit="s", parser=parse_latency,
        default_text="200ms (MLPerf Llama-2-70B server limit)", metavar="T"),
    Key("percentile", "number", "Percentile the targets hold at.", lower=50, upper=99.9,
        default=99),
    Key("hardware", "text", "Device profile(s) to consider (repeatable); default: every "
        "datacenter, workstation and consumer GPU with a price.", short="-H", multiple=True,
        categorical=True, metavar="NAME"),
    Key("hardware_file", "text", "Extra hardware profile CSV (repeatable).", multiple=True,
        scenario=False, metavar="CSV"),
    Key("engine", "choice", "Serving engine whose constants and scheduler are used.",
        choices=("vllm", "sglang", "trtllm"), categorical=True, default="vllm"),
    Key("quant", "text", "Weight precision: bf16, fp8, fp4 (NVFP4), mxfp4, int8, int4 "
        "(AWQ/GPTQ); default: the solver tries bf16, fp8 and fp4 (where the device has an "
        "fp4 peak); the evaluate form uses bf16.", short="-q", parser=parse_precision,
        categorical=True, metavar="Q"),
    Key("kv_cache", "text", "KV-cache type: bf16, fp8, or auto (the engine's default for the "
        "weights).", parser=parse_kv, categorical=True, default="auto", metavar="T"),
    Key("tp", "count", "Tensor-parallel GPUs per replica.", lower=1, upper=64, integer=True,
        categorical=True, default_text="searched: 1, 2, 4, 8 (evaluate form: 1)"),
    Key("pp", "count", "Pipeline-parallel stages per replica.", lower=1, upper=64,
        integer=True, categorical=True, default_text="searched: 1, 2 (evaluate form: 1)"),
    Key("replicas", "count", "Replicas: with --concurrency, copies of the replica; with "
        "--rate, a fixed deployment whose latency at that rate is reported (without it the "
        "solver finds the count).", lower=1,
        upper=1e6, integer=True),
    Key("gpu_memory_utilization", "number", "Fraction of GPU memory the engine may use "
        "(vLLM's --gpu-memory-utilization; TRT-LLM: of the memory left after the weights).",
        unit="fraction", lower=0, lower_open=True, upper=1, default=0.9),
    Key("max_batch", "count", "Most sequences in flight per replica (max_num_seqs).",
        lower=1, upper=1e6, integer=True, categorical=True,
        default_text="the engine's (vLLM 256, SGLang 1024, TRT-LLM 2048)"),
    Key("max_num_tokens", "count", "Tokens per step, prefill chunk included "
        "(max_num_batched_tokens).", lower=16, upper=1e7, integer=True, categorical=True,
        default_text="the engine's (8192)"),
    Key("kv_policy", "choice", "When the engine admits a sequence: reserve (room for prompt "
        "+ output up front; TRT-LLM's GUARANTEED_NO_EVICT) or on_demand (KV pages as tokens "
        "arrive; vLLM, SGLang).", choices=("reserve", "on_demand"), categorical=True,
        default_text="the engine's"),
    Key("price", "price", "Price per GPU-hour (overrides the profiles').", unit="USD/h",
        lower=0, upper=1e5, categorical=True, example="'$2.50/h'"),
], conflicts=[
    Conflict(("rate", "concurrency"), "--rate solves for a deployment, --concurrency "
             "evaluates one replica"),
])

ServePlan = make_plan_type("ServePlan", SERVE, """A serving plan: the keys of `SERVE`, each
None when not given.""")
