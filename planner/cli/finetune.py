"""`planner finetune MODEL --device D --method full|lora|qlora`: does fine-tuning fit?"""
from __future__ import annotations

import click

from planner.errors import PlannerError
from planner.render.output import emit, output_options
from planner.units import format_count
from planner.cli.infer import both, device_options, parse_tokens


def render(r: dict) -> str:
    w = 38
    adapter = (f", rank {r['rank']} on {','.join(r['targets'])}" if r["method"] != "full"
               else "")
    lines = [f"{r['model']} fine-tuning ({r['method']}{adapter}) on {r['device']} "
             f"({both(r['device_memory_bytes'])})",
             f"context {r['context']:,}, batch {r['batch']}, gradient checkpointing "
             f"{'on' if r['gradient_checkpointing'] else 'off'}", "",
             f"  {'trainable parameters':<{w}}{format_count(r['trainable_params'])}"]

    def row(label: str, value: float) -> None:
        lines.append(f"  {label:<{w}}{both(value)}")

    base = {"full": "weights (16-bit)", "lora": "frozen base (16-bit)",
            "qlora": "frozen base (NF4 + double quant)"}[r["method"]]
    row(base, r["weights_bytes"])
    if r["method"] != "full":
        row("adapters (bf16)", r["adapter_bytes"])
    row("gradients + Adam states", r["gradient_and_optimizer_bytes"])
    row("activations", r["activations_bytes"])
    lines.append(f"  {'':<{w}}(checkpointing on: {both(r['activations_bytes_with_checkpointing'])}"
                 f"; off: {both(r['activations_bytes_without_checkpointing'])})")
    row("runtime (CUDA context / process)", r["runtime_bytes"])
    row("total", r["total_bytes"])
    if r["reserve_bytes"]:
        row("reserve (OS and other programs)", r["reserve_bytes"])
    row("usable", r["usable_memory_bytes"])
    lines.append("")
    if r["fits"]:
        lines.append(f"Verdict: FITS, headroom {both(r['headroom_bytes'])}")
    else:
        lines.append(f"Verdict: DOES NOT FIT, short by {both(-r['headroom_bytes'])}")
    tier = r["smallest_memory_tier_gb"]
    lines.append(f"  {'smallest memory size that runs it':<{w}}"
                 + (f"{tier} GB ({tier} GiB parts)" if tier else "more than 256 GB"))
    if r.get("smallest_device"):
        lines.append(f"  {'smallest device in the table':<{w}}{r['smallest_device']}")
    lines.append("\nGB = 1e9 bytes, GiB = 2^30 bytes.")
    return "\n".join(lines)


@click.command()
@click.argument("model")
@device_options
@click.option("--method", "-m", type=click.Choice(["full", "lora", "qlora"],
                                                  case_sensitive=False),
              default="qlora", show_default=True, help="Fine-tuning method.")
@click.option("--rank", "-r", metavar="R", help="LoRA rank (default 16).")
@click.option("--targets", metavar="LIST",
              help="Adapted projections, comma-separated: q,k,v,o,gate,up,down (default all).")
@click.option("--context", "-c", metavar="N",
              help="Training sequence length (default min(model context, 2048)).")
@click.option("--batch", "-b", default="1", show_default=True, metavar="B",
              help="Micro-batch size (sequences per step on the device).")
@click.option("--checkpointing/--no-checkpointing", default=True, show_default=True,
              help="Full gradient checkpointing (store layer inputs only).")
@click.option("--flash-attn/--no-flash-attn", default=True, show_default=True,
              help="Fused attention (no s^2 score activations).")
@output_options
def finetune(model, device_name, memory, bandwidth, tflops, discrete, reserve, hardware_files,
             method, rank, targets, context, batch, checkpointing, flash_attn, fmt,
             as_json) -> None:
    """Does fine-tuning MODEL fit on a device?  Memory of the (frozen) weights, the trainable
    adapter parameters with their gradients and Adam states, and activations with or without
    gradient checkpointing; the smallest device and memory size that fit.

    \b
    planner finetune llama-2-7b --device rtx-4090 --method qlora
    planner finetune llama-65b --device rtx-a6000 --method qlora --rank 64 --context 512
    planner finetune llama-2-7b --device a100-80gb --method full --batch 4
    """
    from planner.estimate.finetune import plan_finetune
    from planner.evaluate.infer import resolve_device
    from planner.model.resolve import resolve_model

    spec = resolve_model(model)
    if not device_name and not memory:
        raise PlannerError("give --device NAME (see `planner hardware`), or --memory SIZE "
                           "with --bandwidth for an ad-hoc device")
    if device_name is None and memory and not bandwidth:
        bandwidth = "1GB/s"  # bandwidth plays no part in fine-tuning memory
    # The device numbers pass the inference plan's keys (finite, > 0, units), like `infer`.
    from planner.plan.infer import INFER
    dev = INFER.from_cli({"memory": memory, "bandwidth": bandwidth, "tflops": tflops})
    device = resolve_device(device_name, dev.get("memory"), dev.get("bandwidth"),
                            dev.get("tflops"), discrete, tuple(hardware_files))
    r = parse_tokens(rank, "--rank")
    t = [x.strip() for x in targets.split(",") if x.strip()] if targets is not None else None
    if t is not None and not t:
        raise PlannerError("--targets needs at least one of q, k, v, o, gate, up, down")
    record = plan_finetune(spec, device, method.lower(), r, t, parse_tokens(context, "--context"),
                           parse_tokens(batch, "--batch"), checkpointing, flash_attn, reserve,
                           tuple(hardware_files))
    emit(record, fmt, as_json, lambda: render(record))
