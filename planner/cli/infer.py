"""`planner infer MODEL --device D`: can it run locally, and how fast?"""
from __future__ import annotations

import dataclasses
import math

import click

from planner.errors import PlannerError
from planner.plan.infer import INFER, InferPlan
from planner.render.output import emit, output_options, text_table
from planner.units import format_bytes, format_duration, format_flops, parse_bandwidth, parse_bytes, \
    parse_count


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


def resolve_device(device_name, memory, bandwidth, tflops, discrete, hardware_files):
    """A named profile (with --memory/--bandwidth overrides) or an ad-hoc device."""
    from planner.hardware.profiles import Device, get_device
    if device_name:
        dev = get_device(device_name, tuple(hardware_files))
        changes = {}
        if memory:
            changes["memory_bytes"] = parse_bytes(memory, "--memory")
        if bandwidth:
            changes["bandwidth_bytes_per_s"] = parse_bandwidth(bandwidth, "--bandwidth")
        if tflops:
            changes["peak_flops"] = {**dev.peak_flops, "fp16": tflops * 1e12}
        return dataclasses.replace(dev, **changes) if changes else dev
    if not memory or not bandwidth:
        raise PlannerError("give --device NAME (see `planner hardware`), or an ad-hoc device "
                           "with --memory (e.g. 16GB) and --bandwidth (e.g. 100GB/s)")
    mem = parse_bytes(memory, "--memory")
    bw = parse_bandwidth(bandwidth, "--bandwidth")
    if mem <= 0 or bw <= 0:
        raise PlannerError("--memory and --bandwidth must be > 0")
    if tflops is not None and tflops <= 0:
        raise PlannerError(f"--tflops must be > 0, got {tflops!r}")
    peaks = {"fp16": tflops * 1e12} if tflops else {}
    return Device(name="ad-hoc", memory_bytes=mem, bandwidth_bytes_per_s=bw, peak_flops=peaks,
                  unified_memory=not discrete, category="ad-hoc")


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
    kind = "shared memory" if r["unified_memory"] else "discrete GPU"
    peak = r["peak_flops"]
    peak_txt = f", {peak / 1e12:.3g} TFLOPS" if peak and math.isfinite(peak) else ""
    return (f"{r['device']} ({kind}: {both(r['device_memory_bytes'])}, "
            f"{r['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s{peak_txt})")


def render(r: dict) -> str:
    w = 38
    lines = [f"{r['model']} on {_device_line(r)}",
             f"{r['quant']} ({r['bits_per_weight']:.2f} bits/weight), context "
             f"{r['context']:,}, batch {r['batch']}, KV cache {r['kv_cache_type']}"
             f"{'' if r['flash_attention'] else ', no flash attention'}", "",
             "Memory"]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<{w}}{value}")

    row("weights", both(r["weights_bytes"]))
    row("KV cache", both(r["kv_cache_bytes"]))
    row("compute buffer", both(r["compute_buffer_bytes"]))
    row("runtime (CUDA context / process)", both(r["runtime_bytes"]))
    row("total", both(r["total_bytes"]))
    row("device memory", both(r["device_memory_bytes"]))
    if r["reserve_bytes"]:
        row("reserve (OS and other programs)", both(r["reserve_bytes"]))
        row("usable", both(r["usable_memory_bytes"]))
    lines.append("")
    if r["fits"]:
        lines.append(f"Verdict: FITS, headroom {both(r['headroom_bytes'])}")
    else:
        lines.append(f"Verdict: DOES NOT FIT, short by {both(-r['headroom_bytes'])}")
    row("largest context that fits", f"{r['max_context']:,} tokens at batch {r['batch']}"
        + (" (the model's maximum)" if r["max_context"] and r["max_context"] ==
           r.get("model_context") else ""))
    row("largest batch that fits", f"{r['max_batch']:,} at context {r['context']:,}")
    if r["smallest_quant_that_fits"]:
        row("quantisations that fit", f"smallest {r['smallest_quant_that_fits']}, "
            f"best {r['best_quant_that_fits']}")
    else:
        row("quantisations that fit", "none")
    tier = r["smallest_memory_tier_gb"]
    row("smallest memory size that runs it", f"{tier} GB ({tier} GiB parts)" if tier else
        "more than 256 GB")
    gpus = ", ".join(f"{k} {v if v is not None else 'n/a'}" for k, v in r["gpus_needed"].items())
    row("devices of this kind needed", gpus)
    if r.get("smallest_device"):
        row("smallest device in the table", r["smallest_device"])
    lines += ["", "Speed (roofline)" + ("" if r["fits"] else ", if it fitted")]
    row("decode", f"{rate(r['decode_tokens_per_s'])} tokens/s per sequence "
        f"({format_bytes(r['bytes_per_token'])} read per token at "
        f"{r['decode_efficiency']:.0%} of {r['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s)")
    if r["batch"] > 1:
        row("batch throughput", f"{rate(r['throughput_tokens_per_s'])} tokens/s "
            f"({'compute' if r['decode_compute_bound'] else 'memory'}-bound)")
    row("prefill", f"{rate(r['prefill_tokens_per_s'])} tokens/s "
        f"({format_flops(r['prefill_flops_per_token'])}/token at "
        f"{r['prefill_efficiency']:.0%} of peak)")
    row(f"time to first token ({r['prompt_tokens']:,})", format_duration(
        r["time_to_first_token_s"]) if r["time_to_first_token_s"] is not None and
        math.isfinite(r["time_to_first_token_s"]) else "n/a")
    cb = r["compute_bound_batch"]
    ridge = r["roofline_batch_weights_only"]
    ridge_txt = f"~{ridge:,.0f} counting weights only" if ridge and math.isfinite(ridge) else \
        "n/a"
    row("decode turns compute-bound at batch",
        (f"{cb:,}" if cb else "never at this context (KV reads grow with batch)")
        + f"; {ridge_txt}")
    lines += ["", "GB = 1e9 bytes, GiB = 2^30 bytes.  Speeds are roofline bounds at the stated "
              "efficiencies (--efficiency, --prefill-efficiency)."]
    return "\n".join(lines)


def render_all(rows: list[dict], title: str) -> str:
    table = []
    for r in rows:
        table.append({
            "quant": r["quant"], "bits/w": f"{r['bits_per_weight']:.2f}",
            "weights GB": f"{r['weights_bytes'] / 1e9:.2f}",
            "total GB": f"{r['total_bytes'] / 1e9:.2f}",
            "total GiB": f"{r['total_bytes'] / 2**30:.2f}",
            "fits": "yes" if r["fits"] else "no",
            "headroom GB": f"{r['headroom_bytes'] / 1e9:.2f}",
            "max ctx": f"{r['max_context']:,}",
            "decode tok/s": rate(r["decode_tokens_per_s"]),
            "prefill tok/s": rate(r["prefill_tokens_per_s"]),
            "tier GB": str(r["smallest_memory_tier_gb"] or ">256"),
        })
    return title + "\n\n" + text_table(table)


@click.command()
@INFER.options
@output_options
def infer(fmt, as_json, **values) -> None:
    """Can MODEL run on a device, and how fast?  Memory of weights (at a quantisation), KV
    cache and overheads against the device's usable memory; the largest context and batch,
    the smallest quantisation and memory size that fit; decode and prefill tokens/s by the
    roofline.

    \b
    planner infer llama-2-7b --device rtx-4090 --quant Q4_0
    planner infer llama-2-13b --device m2-max-32gb --quant all
    planner infer mistral-7b --memory 16GB --bandwidth 100GB/s --context 8192
    """
    from planner.estimate.quant import GGUF_TYPES, SIMPLE_TYPES
    from planner.evaluate.infer import evaluate_one

    plan = InferPlan.from_cli(values)
    if plan.quant == "all":
        rows = [record(r) for r in evaluate_one(
            dataclasses.replace(plan, quant=None), quants=tuple(SIMPLE_TYPES) + GGUF_TYPES)]
        c = rows[0]
        title = (f"{c['model']} on {c['device']} "
                 f"({both(c['device_memory_bytes'])}, {c['bandwidth_bytes_per_s'] / 1e9:,.0f} "
                 f"GB/s), context {c['context']:,}, batch {c['batch']}, KV {c['kv_cache_type']}; "
                 f"KV cache {both(c['kv_cache_bytes'])}")
        emit(rows, fmt, as_json, lambda: render_all(rows, title))
        return
    rec = record(evaluate_one(plan)[0], plan)
    emit(rec, fmt, as_json, lambda: render(rec))


def record(row: dict, plan=None) -> dict:
    """The `--json` record of one inference row: the evaluator's columns (base units) plus the
    names earlier versions used (kv_cache_type, prompt_tokens, gpus_needed, ...)."""
    from planner.estimate.quant import kv_bytes_per_element
    from planner.model.resolve import resolve_model
    rec = dict(row)
    for k in ("context", "batch", "prompt", "max_context", "max_batch",
              "smallest_memory_tier_gb", "compute_bound_batch"):
        rec[k] = None if row[k] is None else int(row[k])
    kv = (plan.kv_cache if plan is not None and plan.kv_cache else
          INFER["kv_cache"].default)
    rec["kv_cache_type"] = kv
    rec["kv_bytes_per_element"] = kv_bytes_per_element(kv)
    rec["prompt_tokens"] = rec["prompt"]
    rec["flash_attention"] = True if plan is None or plan.flash_attn is None else plan.flash_attn
    rec["gguf_recipes"] = (plan.recipes if plan is not None and plan.recipes else
                           INFER["recipes"].default)
    gpus = {q: row[f"gpus_needed_{q}"] for q in ("fp16", "int8", "int4")}
    gpus.setdefault(row["quant"], row["gpus_needed_quant"])
    rec["gpus_needed"] = {q: None if v is None else int(v) for q, v in gpus.items()}
    rec["model_context"] = resolve_model(row["model"]).context if plan is not None else None
    return rec
