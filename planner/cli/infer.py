"""`planner infer MODEL --device D`: can it run locally, and how fast?"""
from __future__ import annotations

import dataclasses
import functools
import math

import click

from planner.errors import PlannerError
from planner.plan.infer import INFER, InferPlan
from planner.render.output import emit, output_options, text_table
from planner.units import format_bytes, format_duration, parse_count


# --- options shared with `planner finetune` ---------------------------------------------------

def device_options(func):
    """--device / --memory / --bandwidth / --tflops / --discrete / --reserve / --hardware-file."""
    opts = [
        click.option("--hardware-file", "hardware_files", multiple=True, metavar="CSV",
                     help="Extra hardware profile CSV (same columns as hardware_profiles/)."),
        click.option("--reserve", metavar="SIZE|PCT",
                     help="Memory the OS and other programs keep (e.g. 2GB, 25%). Default: "
                          "1/3 of a shared-memory machine up to 32 GiB, 1/4 above (macOS's "
                          "GPU split); 0 on a discrete GPU."),
        click.option("--discrete", is_flag=True,
                     help="The ad-hoc device is a discrete GPU (default: a shared-memory "
                          "machine)."),
        click.option("--tflops", type=float, metavar="X",
                     help="Ad-hoc device: dense 16-bit TFLOPS (for prefill speed)."),
        click.option("--bandwidth", metavar="BW",
                     help="Ad-hoc device (or override): memory bandwidth, e.g. 100GB/s."),
        click.option("--memory", metavar="SIZE",
                     help="Ad-hoc device (or override): memory, e.g. 16GB or 16GiB."),
        click.option("--device", "-d", "device_name", metavar="D",
                     help="Device profile (see `planner hardware`), e.g. rtx-4090, "
                          "m2-max-96gb, laptop-16gb."),
    ]
    for opt in opts:
        func = opt(func)
    return func


def parse_tokens(text, what: str) -> int:
    """A whole token count >= 1 (``4096``, ``4,096``, ``32k`` = 32,000)."""
    if text is None:
        return None
    value = parse_count(text, what)
    if value != int(value) or value < 1:
        raise PlannerError(f"{what} must be a whole number >= 1, got {text!r}")
    return int(value)


# --- human output -----------------------------------------------------------------------------

def both(b) -> str:
    """``4.08 GB (3.80 GiB)``: decimal and binary, labelled."""
    if b is None or (isinstance(b, float) and not math.isfinite(b)):
        return "n/a"
    sign = "-" if b < 0 else ""
    return f"{sign}{format_bytes(abs(b))} ({sign}{format_bytes(abs(b), binary=True)})"


def rate(x) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _device_line(r: dict) -> str:
    return (f"{r['device']} ({r['device_kind']}: {both(r['device_memory_bytes'])}, "
            f"{r['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s)")


# The runtime's own share, named for the machine (no CUDA context on a Mac).
RUNTIME_LABEL = {"NVIDIA GPU": "runtime (CUDA context)", "AMD GPU": "runtime (HIP context)",
                 "Apple silicon": "runtime (llama.cpp process, Metal)",
                 "CPU and system RAM": "runtime (llama.cpp process)",
                 "shared-memory machine": "runtime (llama.cpp process)"}
BACKEND_LABEL = {"llama.cpp-cuda": "llama.cpp CUDA", "llama.cpp-metal": "llama.cpp Metal",
                 "llama.cpp-cpu": "llama.cpp CPU"}
W = 38


def _row(lines: list[str], label: str, value: str) -> None:
    lines.append(f"  {label:<{W}}{value}")


def _gb(x) -> str:
    return "n/a" if x is None else f"{x:,.0f} GB"


def _tier_text(r: dict) -> str:
    """``8 GB GPU (VRAM); 12 GB laptop/desktop (system RAM)``, the device's kind first."""
    gpu = f"{_gb(r['smallest_gpu_tier_gb'])} GPU (VRAM)" if r["smallest_gpu_tier_gb"] else \
        "more than 256 GB of VRAM"
    ram = f"{_gb(r['smallest_memory_tier_gb'])} laptop/desktop (system RAM)" if \
        r["smallest_memory_tier_gb"] else "more than 256 GB of system RAM"
    return f"{ram}; {gpu}" if r.get("unified_memory") in (True, None) else f"{gpu}; {ram}"


def _accuracy_line(r: dict) -> str:
    if r.get("offload"):
        return ("not validated for partial offload: the system-RAM part runs on the CPU "
                "backend's assumed constants")
    if r.get("speed_validated_on"):
        return (f"decode median {r['decode_error_median']:.0%}, worst "
                f"{r['decode_error_worst']:.0%}; prefill median "
                f"{r['prefill_error_median']:.0%} ({r['speed_validated_on']}, held out)")
    if r.get("inference_backend") == "llama.cpp-cpu":
        return "not validated: the CPU backend's constants are assumptions"
    return f"not validated on {r.get('device_kind') or 'this device'} (CUDA constants stand in)"


def render(r: dict) -> str:
    lines = [f"{r['model']} on {_device_line(r)}",
             f"{r['quant']} ({r['bits_per_weight']:.2f} bits/weight), context "
             f"{r['context']:,}, batch {r['batch']}, KV cache {r['kv_cache_type']}"
             f"{'' if r['flash_attention'] else ', no flash attention'}", "", "Memory"]
    row = functools.partial(_row, lines)
    row("weights", both(r["weights_bytes"]))
    row("KV cache", both(r["kv_cache_bytes"]))
    row("compute buffer", both(r["compute_buffer_bytes"]))
    row(RUNTIME_LABEL.get(r["device_kind"], "runtime (driver context)"),
        both(r["runtime_bytes"]))
    row("total", both(r["total_bytes"]))
    if abs(r["device_bytes"] - r["total_bytes"]) > 1e6:
        row("on the device (llama.cpp placement)", both(r["device_bytes"]))
    row("device memory", both(r["device_memory_bytes"]))
    if r["reserve_bytes"]:
        row("reserve (OS and other programs)", both(r["reserve_bytes"]))
        row("usable", both(r["usable_memory_bytes"]))
    lines.append("")
    if r["fits"]:
        lines.append(f"Verdict: FITS, headroom {both(r['headroom_bytes'])}")
    elif r["offload"] and r["runs"]:
        lines.append(f"Verdict: RUNS WITH PARTIAL OFFLOAD ({both(-r['headroom_bytes'])} "
                     "more than the GPU holds)")
    else:
        lines.append(f"Verdict: DOES NOT FIT, short by {both(-r['headroom_bytes'])}")
    if r["offload"]:
        _offload_lines(r, row)
    elif not r["fits"] and r["gpu_layers"] is not None:
        row("layers that fit the GPU", f"{r['gpu_layers']} of {r['n_layers']}: give --ram "
            "(e.g. --ram 64GB) for the speed with the rest in system RAM")
    if r["max_context"]:
        row("largest context that fits", f"{r['max_context']:,} tokens at batch {r['batch']}"
            + (" (the model's maximum)" if r["max_context"] == r.get("model_context") else ""))
        row("largest batch that fits", f"{r['max_batch']:,} at context {r['context']:,}")
    else:
        row("largest context that fits", f"none at {r['quant']}")
    if r["smallest_quant_that_fits"]:
        row("quantisations that fit", f"smallest {r['smallest_quant_that_fits']}, "
            f"best {r['best_quant_that_fits']}")
    else:
        row("quantisations that fit", "none")
    row("smallest memory size that runs it", _tier_text(r))
    gpus = ", ".join(f"{k} {v if v is not None else 'n/a'}" for k, v in r["gpus_needed"].items())
    row("devices of this kind needed", gpus)
    if r.get("smallest_device"):
        row("smallest device in the tables", r["smallest_device"])
    backend = BACKEND_LABEL.get(r["inference_backend"], r["inference_backend"])
    lines += ["", f"Speed (step model, {backend} backend"
              + ("; partial offload" if r["offload"] else "")
              + ("" if r["runs"] else "; if it fitted") + ")"]
    row("decode", f"{rate(r['decode_tokens_per_s'])} tokens/s per sequence over "
        f"{r['context']:,} tokens of context ({_decode_note(r)})" + _band(r, "decode", rate))
    if r["batch"] > 1:
        row("batch throughput", f"{rate(r['throughput_tokens_per_s'])} tokens/s")
    pre = (f"{rate(r['prefill_tokens_per_s'])} tokens/s ({r['prompt_tokens']:,}-token prompt"
           + ("" if r["offload"] else f"; GEMMs at {r['prefill_efficiency']:.0%} of "
              f"{r['peak_flops'] / 1e12:,.4g} TFLOPS") + ")") \
        if r["prefill_tokens_per_s"] is not None else "n/a (give --tflops)"
    row("prefill", pre + _band(r, "prefill", rate))
    row(f"time to first token ({r['prompt_tokens']:,})", format_duration(
        r["time_to_first_token_s"]) if r["time_to_first_token_s"] is not None and
        math.isfinite(r["time_to_first_token_s"]) else "n/a")
    if not r["offload"]:
        cb = r["compute_bound_batch"]
        ridge = r["roofline_batch_weights_only"]
        ridge_txt = f"~{ridge:,.0f} counting weights only" if ridge and math.isfinite(ridge) \
            else "n/a"
        row("decode turns compute-bound at batch",
            (f"{cb:,}" if cb else "never at this context (KV reads grow with batch)")
            + f"; {ridge_txt}")
    row("held-out error (docs/local_speed.md)", _accuracy_line(r))
    lines += ["", "GB = 1e9 bytes, GiB = 2^30 bytes.  Decode is the mean over a conversation "
              "that fills the context (the cache half full on average)."]
    return "\n".join(lines)


def _band(r: dict, step: str, fmt) -> str:
    """``; typically 103 to 131 (-9% / +10%, 39 held-out rows)``: the leave-one-device-out
    error band of the fitted constants (planner/evaluate/bands.py); empty without one."""
    from planner.evaluate.bands import describe
    col = f"{step}_tokens_per_s"
    text = describe(r, col, fmt, "held-out measurements", f"{step}_band_rows")
    return f"; {text}" if text else ""


def _decode_note(r: dict) -> str:
    if r["offload"]:
        return ("bound by system RAM" if r["decode_bound"] == "ram" else "bound by the GPU part")
    bound = {"memory": "memory-bound", "compute": "compute-bound (dequantisation)",
             "overhead": "bound by per-layer overheads"}.get(r["decode_bound"], r["decode_bound"])
    return (f"{bound}; {format_bytes(r['bytes_per_token'])} read per token at "
            f"{r['decode_efficiency']:.0%} of {r['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s")


def _offload_lines(r: dict, row) -> None:
    ram_bw = r["ram_bandwidth_bytes_per_s"] / 1e9
    if r["offload_mode"] == "experts":
        row("split (--cpu-moe)", "attention, router and shared weights on the GPU; routed "
            "experts in system RAM")
    else:
        row("split (llama.cpp -ngl)", f"{r['gpu_layers']} of {r['n_layers']} layers on the "
            f"GPU, {r['ram_layers']} in system RAM")
    row("on the GPU", f"{both(r['offload_gpu_bytes'])} of {both(r['usable_memory_bytes'])}")
    ram = (f" of {both(r['ram_usable_bytes'])} usable" if r["ram_usable_bytes"] is not None
           else " (RAM size not given: not checked)")
    ram_src = (f"{r['ram_type']}, {ram_bw:,.1f} GB/s" if r.get("ram_type") else
               f"{ram_bw:,.1f} GB/s")
    row("in system RAM", f"{both(r['offload_ram_bytes'])}{ram} ({ram_src})")
    if not r["runs"]:
        short = "the GPU part does not fit the GPU" if r["offload_gpu_bytes"] > \
            r["usable_memory_bytes"] else "the RAM part does not fit system RAM"
        row("verdict", f"DOES NOT RUN: {short}")


def render_needs(r: dict) -> str:
    """What a model needs with no device: memory per quantisation, the smallest memory tiers,
    and the devices of the tables that run it."""
    lines = [f"{r['model']}: what it needs (no device given), context {r['context']:,}, "
             f"batch {r['batch']}, KV cache {r['kv_cache_type']}", ""]
    table = []
    for q in r["by_quant"]:
        table.append({
            "quant": q["quant"] + (" *" if q["quant"] == r["quant"] else ""),
            "bits/w": f"{q['bits_per_weight']:.2f}",
            "weights GB": f"{q['weights_bytes'] / 1e9:.2f}",
            "KV GB": f"{q['kv_cache_bytes'] / 1e9:.2f}",
            "overhead GB": f"{q['overhead_bytes'] / 1e9:.2f}",
            "total GB": f"{q['total_bytes'] / 1e9:.2f}",
            "laptop/desktop": _gb(q["smallest_memory_tier_gb"]) if
            q["smallest_memory_tier_gb"] else ">256 GB",
            "GPU (VRAM)": _gb(q["smallest_gpu_tier_gb"]) if q["smallest_gpu_tier_gb"]
            else ">256 GB"})
    lines.append(text_table(table))
    lines += ["", "laptop/desktop: system RAM, the OS keeping its share (1/3 up to 32 GiB, 1/4 "
              "above; --reserve); GPU: VRAM, the token embedding left in system RAM as "
              "llama.cpp does.", "", f"At {r['quant']} (* above; --quant to change):"]
    row = functools.partial(_row, lines)
    row("smallest laptop/desktop", _gb(r["smallest_memory_tier_gb"]) if
        r["smallest_memory_tier_gb"] else "more than 256 GB")
    row("smallest discrete GPU", _gb(r["smallest_gpu_tier_gb"]) if r["smallest_gpu_tier_gb"]
        else "more than 256 GB")
    row("devices in the tables that run it", f"{r['devices_that_run']:,}"
        + (f" (smallest: {r['smallest_device']})" if r["smallest_device"] else ""))
    if r["devices_fastest"]:
        row("fastest (decode tokens/s)", ", ".join(
            f"{d['device']} {rate(d['decode_tokens_per_s'])}" for d in r["devices_fastest"]))
    if r["devices_cheapest"]:
        row("cheapest ($/h, tokens/s)", ", ".join(
            f"{d['device']} ${d['price_usd_per_hour']:.2f} {rate(d['decode_tokens_per_s'])}"
            for d in r["devices_cheapest"]))
    lines += ["", "GB = 1e9 bytes (tiers: marketed sizes, 16 GB = 16 GiB).  Speeds: the step "
              "model with each device's backend, decode the mean over a conversation that "
              "fills the context (docs/local_speed.md).  Give --device D for one device."]
    return "\n".join(lines)


def render_all(rows: list[dict], title: str) -> str:
    table = []
    for r in rows:
        table.append({
            "quant": r["quant"], "bits/w": f"{r['bits_per_weight']:.2f}",
            "weights GB": f"{r['weights_bytes'] / 1e9:.2f}",
            "total GB": f"{r['total_bytes'] / 1e9:.2f}",
            "total GiB": f"{r['total_bytes'] / 2**30:.2f}",
            "fits": "yes" if r["fits"] else ("offload" if r["offload"] and r["runs"] else "no"),
            "headroom GB": f"{r['headroom_bytes'] / 1e9:.2f}",
            "max ctx": f"{r['max_context']:,}",
            "decode tok/s": rate(r["decode_tokens_per_s"]),
            "prefill tok/s": rate(r["prefill_tokens_per_s"]),
            "tier GB": str((r["smallest_memory_tier_gb"] if r["unified_memory"] else
                            r["smallest_gpu_tier_gb"]) or ">256"),
        })
    return title + "\n\n" + text_table(table)


@click.command()
@INFER.options
@output_options
def infer(fmt, as_json, **values) -> None:
    """Can MODEL run on a device, and how fast?  Memory of weights (at a quantisation), KV
    cache and overheads against the device's usable memory; the largest context and batch,
    the smallest quantisation and memory size that fit; decode and prefill tokens/s by the
    step model fitted per backend (docs/local_speed.md); partial offload to system RAM
    (--ram).  With no device: what it needs - memory per quantisation, the smallest laptop
    and GPU, the devices that run it.

    \b
    planner infer llama-3-8b
    planner infer llama-2-7b --device rtx-4090 --quant Q4_0
    planner infer llama-2-13b --device "macbook pro m2 max 32gb" --quant all
    planner infer llama-3-70b --device rtx-4090 --ram 64GB --ram-type ddr5-6000
    planner infer mixtral-8x7b --device rtx-3090 --ram 64GB --cpu-moe
    planner infer mistral-7b --memory 16GB --bandwidth 100GB/s --context 8192
    """
    plan = InferPlan.from_cli(values)
    res = result(plan)
    emit(res, fmt, as_json, lambda: human(res, plan))


def answer_kind(plan: InferPlan) -> str:
    """Which answer `planner infer` gives for `plan`: "needs" (no device: what the model
    needs, per weight format), "all" (``--quant all``: one record per weight format on the
    device) or "one" (one record)."""
    if plan.device is None and plan.memory is None and plan.bandwidth is None:
        return "needs"
    return "all" if plan.quant == "all" else "one"


def result(plan: InferPlan):
    """What `planner infer --json` prints for `plan`: one record, the no-device record with
    its "by_quant" table, or (``--quant all``) a list of records, one per weight format."""
    from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES
    from planner.estimate.runnable import LLAMA_CPP_QUANTS
    from planner.evaluate.infer import evaluate_one

    kind = answer_kind(plan)
    every = tuple(SIMPLE_TYPES) + GGUF_TYPES
    if kind == "needs":
        chosen = INFER["quant"].default if plan.quant in (None, "all") else plan.quant
        quants = every if plan.quant == "all" else tuple(dict.fromkeys(
            (*LLAMA_CPP_QUANTS, chosen)))
        rows = [record(r, plan) for r in evaluate_one(dataclasses.replace(plan, quant=None),
                                                      quants=quants, top_devices=5)]
        rec = dict(next(r for r in rows if r["quant"] == chosen))
        rec["by_quant"] = [{k: r[k] for k in NEEDS} for r in rows]
        return rec
    if kind == "all":
        return [record(r, plan) for r in evaluate_one(dataclasses.replace(plan, quant=None),
                                                      quants=every)]
    return record(evaluate_one(plan)[0], plan)


def human(res, plan: InferPlan) -> str:
    """What `planner infer` prints (the table format) for `res = result(plan)`."""
    kind = answer_kind(plan)
    if kind == "needs":
        return render_needs(res)
    if kind == "all":
        c = res[0]
        title = (f"{c['model']} on {c['device']} "
                 f"({both(c['device_memory_bytes'])}, {c['bandwidth_bytes_per_s'] / 1e9:,.0f} "
                 f"GB/s), context {c['context']:,}, batch {c['batch']}, KV {c['kv_cache_type']}; "
                 f"KV cache {both(c['kv_cache_bytes'])}")
        return render_all(res, title)
    return render(res)


# The device-free figures of each quantisation in the no-device view.
NEEDS = ("quant", "bits_per_weight", "weights_bytes", "kv_cache_bytes", "overhead_bytes",
         "total_bytes", "smallest_memory_tier_gb", "smallest_gpu_tier_gb", "smallest_device",
         "devices_that_run")
INTEGERS = ("context", "batch", "prompt", "max_context", "max_batch", "smallest_memory_tier_gb",
            "smallest_gpu_tier_gb", "compute_bound_batch", "devices_that_run", "n_layers",
            "gpu_layers", "ram_layers")


def record(row: dict, plan: InferPlan) -> dict:
    """The `--json` record of one inference row: the evaluator's columns (base units) plus the
    names earlier versions used (kv_cache_type, prompt_tokens, gpus_needed, ...)."""
    from planner.estimate.quant import kv_bytes_per_element
    rec = dict(row)
    for k in INTEGERS:
        rec[k] = None if row[k] is None else int(row[k])
    kv = plan.kv_cache or INFER["kv_cache"].default
    rec["kv_cache_type"] = kv
    rec["kv_bytes_per_element"] = kv_bytes_per_element(kv)
    rec["prompt_tokens"] = rec["prompt"]
    rec["flash_attention"] = True if plan.flash_attn is None else plan.flash_attn
    rec["gguf_recipes"] = plan.recipes or INFER["recipes"].default
    rec["ram_type"] = None
    if row.get("offload") and plan.ram_bandwidth is None:
        rec["ram_type"] = plan.ram_type or INFER["ram_type"].default
    gpus = {q: row[f"gpus_needed_{q}"] for q in ("fp16", "int8", "int4")}
    gpus.setdefault(row["quant"], row["gpus_needed_quant"])
    rec["gpus_needed"] = {q: None if v is None else int(v) for q, v in gpus.items()}
    rec["model_context"] = None if row.get("model_context") is None else int(row["model_context"])
    return rec
