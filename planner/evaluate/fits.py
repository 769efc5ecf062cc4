"""The "what can I run?" evaluator: a device (named or ad-hoc) in, one row per model that runs
on it out - the best quantisation that fits (most bits per weight; with `min_speed`, the best
that also decodes that fast), the largest context it holds, decode and prefill tokens/s.

Built on `planner.estimate.runnable.runnable_models` with the same device resolution, backend
rule and memory placement as the inference evaluator (`planner.evaluate.infer`), so a row here
and `planner infer MODEL --device D --quant Q --context C` give the same memory verdict, largest
context and speeds."""
from __future__ import annotations

from typing import Any

from planner.errors import PlannerError
from planner.evaluate.infer import NO_DEVICE_ERROR, default_backend, device_kind, resolve_device


def evaluate(plan, specs: list | None = None) -> dict[str, Any]:
    """`plan` (a `FitsPlan`) -> {"device": ..., "rows": [...]}: the device's description and
    the runnable models (`runnable.runnable_models` rows: model, params, quant,
    bits_per_weight, weights_bytes, total_bytes, usable_memory_bytes, context, max_context,
    decode_tokens_per_s, prefill_tokens_per_s, backend).  `specs`: the models to consider
    (default: the zoo and the plan's model files)."""
    from planner.estimate.runnable import runnable_models
    from planner.model import zoo
    from planner.model.resolve import resolve_model
    files = tuple(plan.hardware_file or ())
    dev = resolve_device(plan.device, plan.memory, plan.bandwidth, plan.tflops,
                         bool(plan.discrete), files)
    if dev is None:
        raise PlannerError(NO_DEVICE_ERROR)
    if specs is None:
        specs = {s.name: s for s in zoo.models().values()}
        for text in plan.model or ():
            spec = resolve_model(text)
            specs[spec.name] = spec
        specs = list(specs.values())
    backend = plan.backend or default_backend(dev)
    d = {k: plan.given().get(k) for k in ("batch", "prompt", "kv_cache", "flash_attn",
                                             "recipes", "reserve")}
    rows = runnable_models(
        dev, specs, context=plan.context, min_speed=plan.min_speed,
        batch=d["batch"] or 1, kv_type=d["kv_cache"] or "f16",
        flash_attention=True if d["flash_attn"] is None else d["flash_attn"],
        reserve=None if d["reserve"] in (None, "auto") else d["reserve"],
        prompt=d["prompt"] or 512, sort=plan.sort or "quality",
        era=d["recipes"] or "current", backend_name=backend)
    return {"device": dev.name, "device_kind": device_kind(dev), "backend": backend,
            "memory_bytes": dev.memory_bytes, "bandwidth_bytes_per_s": dev.bandwidth_bytes_per_s,
            "considered": len(specs), "rows": rows}
