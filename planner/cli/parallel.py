"""`planner parallel MODEL --hardware H --gpus N --global-batch B --seq S`: the best parallel
layouts, their predicted step time, MFU/HFU and memory, and where the time goes.

Thin: options -> one `planner.estimate.parallel.search` call -> render.  The plan options live
in one table (PIN_OPTIONS) so they can be generated from the plan key table later.
"""
from __future__ import annotations

import click

from planner.errors import PlannerError
from planner.render.output import emit, output_options

# (dimension, option, click type, help) - one row per pinnable plan dimension.
PIN_OPTIONS = (
    ("tp", "--tp", int, "Tensor-parallel degree (within the scale-up domain)."),
    ("pp", "--pp", int, "Pipeline-parallel stages."),
    ("dp", "--dp", int, "Data-parallel replicas."),
    ("cp", "--cp", int, "Context-parallel degree (ring attention)."),
    ("ep", "--ep", int, "Expert-parallel degree (MoE)."),
    ("micro_batch", "--micro-batch", int, "Sequences per micro-batch."),
    ("interleave", "--interleave", int, "Virtual pipeline stages per GPU (interleaved 1F1B)."),
    ("sequence_parallel", "--sequence-parallel", click.Choice(["true", "false"]),
     "Megatron sequence parallelism (with TP)."),
    ("zero", "--zero", click.Choice(["0", "1", "2", "3"]), "ZeRO stage (3 = FSDP)."),
    ("recompute", "--recompute", click.Choice(["none", "selective", "full"]),
     "Activation recomputation."),
    ("precision", "--precision", click.Choice(["bf16", "fp16", "fp32", "fp8"]),
     "Training precision of the matrix multiplies."),
)


def pin_options(func):
    for dim, opt, typ, text in reversed(PIN_OPTIONS):
        func = click.option(opt, dim, type=typ, default=None,
                            help=text + " Pins it; searched when omitted.")(func)
    return func


def pins_from(kwargs: dict) -> dict:
    return {dim: kwargs.pop(dim) for dim, *_ in PIN_OPTIONS if kwargs.get(dim) is not None}


def _seconds(x: float) -> str:
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.3g} s"


def render(r: dict) -> str:
    from planner.units import format_bytes, format_int
    h = r["inputs"]
    many = isinstance(h["gpus"], list)
    gpus = " / ".join(format_int(g) for g in h["gpus"]) if many else format_int(h["gpus"])
    lines = [f"{h['model']} on {gpus} x {h['hardware']}: global batch "
             f"{format_int(h['global_batch'])} x {format_int(h['seq_len'])} tokens; framework "
             f"{h['framework']} (kappa {h['kappa']:.3g})",
             f"{format_int(r['evaluated'])} valid plans evaluated, {format_int(r['fitting'])} fit "
             f"in {format_bytes(h['memory_bytes'])} per GPU.", ""]
    head = (f"{'#':>2}  " + (f"{'gpus':>6} " if many else "") + f"{'tp':>3} {'pp':>3} {'dp':>5} {'cp':>3} {'ep':>3} {'mb':>3} {'v':>2} "
            f"{'sp':>2} {'recompute':>9} {'zero':>4} {'prec':>4}  {'step':>9} {'tokens/s':>10} "
            f"{'MFU':>6} {'HFU':>6} {'TFLOP/s':>7} {'memory':>8}")
    lines.append(head)
    for i, p in enumerate(r["plans"], 1):
        lines.append(
            f"{i:>2}  " + (f"{p['gpus']:>6} " if many else "") + f"{p['tp']:>3} {p['pp']:>3} {p['dp']:>5} {p['cp']:>3} {p['ep']:>3} "
            f"{p['micro_batch']:>3} {p['interleave']:>2} {'y' if p['sequence_parallel'] else 'n':>2} "
            f"{p['recompute']:>9} {p['zero']:>4} {p['precision']:>4}  "
            f"{_seconds(p['step_seconds']):>9} {p['tokens_per_s']:>10,.0f} "
            f"{100 * p['mfu']:>5.1f}% {100 * p['hfu']:>5.1f}% {p['tflops_per_gpu']:>7.1f} "
            f"{format_bytes(p['memory_per_gpu_bytes']):>8}")
    best = r["plans"][0]
    m = best["micro_batches"]
    lines += ["", f"Where the time of plan 1 goes ({m} micro-batch{'es' if m > 1 else ''} per "
              f"step):"]
    total = best["step_seconds"]
    for term, sec in best["breakdown"].items():
        if sec > 0:
            lines.append(f"  {term:<16}{_seconds(sec):>10}  {100 * sec / total:5.1f}%")
    mem = best["memory"]
    lines.append(f"Memory of plan 1 per GPU: weights {format_bytes(mem['weights'])}, gradients "
                 f"{format_bytes(mem['gradients'])}, optimizer {format_bytes(mem['optimizer'])}, "
                 f"activations {format_bytes(mem['activations'])}, buffers "
                 f"{format_bytes(mem['buffers'])}.")
    if r["cheapest"] != best:
        c = r["cheapest"]
        lines.append(f"Cheapest (fewest GPU-seconds per token): {c['gpus']} GPUs, tp {c['tp']} "
                     f"pp {c['pp']} dp {c['dp']}, {c['tokens_per_s']:,.0f} tokens/s.")
    lines += ["", "MFU counts 6N FLOPs per token; HFU adds recomputation (Narayanan et al. 2021 "
              "eq. 3). Accuracy: see `python -m planner.estimate.parallel.reference`."]
    return "\n".join(lines)


@click.command()
@click.argument("model")
@click.option("--hardware", "-H", required=True, help="Device profile name (see `planner hardware`).")
@click.option("--hardware-file", "hardware_files", multiple=True, metavar="FILE",
              help="Extra hardware CSV file(s).")
@click.option("--gpus", "-n", required=True, metavar="N[,N...]",
              help="GPU count, or several comma-separated (the cheapest is then reported too).")
@click.option("--global-batch", "-b", metavar="B",
              help="Global batch in sequences (or give --global-batch-tokens).")
@click.option("--global-batch-tokens", metavar="T", help="Global batch in tokens (e.g. 4194304).")
@click.option("--seq", "-s", metavar="S", help="Sequence length (default: the model's context).")
@pin_options
@click.option("--framework", default=None,
              help="Framework profile (production, llm-foundry, megatron-2021).")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100),
              help="How many plans to list.")
@output_options
def parallel(model, hardware, hardware_files, gpus, global_batch, global_batch_tokens, seq,
             framework, top, fmt, as_json, **kwargs) -> None:
    """The fastest parallel layouts for training MODEL on N GPUs: TP, PP (interleaved), DP
    (ZeRO 0-3), CP, EP, micro-batch, sequence parallelism, recomputation and precision are
    searched (any of them can be pinned); each plan gets a predicted step time, tokens/s,
    MFU/HFU, memory per GPU and the breakdown of its step time.

    \b
      planner parallel gpt3-175b --hardware a100-80gb --gpus 1024 --global-batch 1536 --seq 2048
      planner parallel llama-2-70b -H h100-sxm --gpus 512 --global-batch-tokens 4194304 --tp 8
    """
    from planner.cli.infer import parse_tokens
    from planner.estimate.parallel import global_batch_sequences, search, tables
    from planner.hardware.profiles import get_device
    from planner.model.resolve import resolve_model

    pins = pins_from(kwargs)
    spec = resolve_model(model)
    device = get_device(hardware, tuple(hardware_files))
    counts = [parse_tokens(g, "--gpus") for g in str(gpus).split(",") if g.strip()]
    if not counts:
        raise PlannerError("--gpus needs at least one GPU count")
    s = parse_tokens(seq, "--seq") if seq is not None else spec.context
    if global_batch is None and global_batch_tokens is None:
        raise PlannerError("give --global-batch SEQUENCES or --global-batch-tokens TOKENS")
    if global_batch is not None and global_batch_tokens is not None:
        raise PlannerError("give --global-batch or --global-batch-tokens, not both")
    batch = global_batch_sequences(
        parse_tokens(global_batch, "--global-batch") if global_batch is not None else None, s,
        parse_tokens(global_batch_tokens, "--global-batch-tokens")
        if global_batch_tokens is not None else None)
    fw = tables.framework(framework or tables.DEFAULT_FRAMEWORK)
    result = search(spec, device, counts if len(counts) > 1 else counts[0], batch, s, pins,
                    top=top, framework=fw)
    record = {"inputs": {"model": spec.name, "hardware": device.name,
                         "gpus": counts[0] if len(counts) == 1 else counts,
                         "global_batch": batch, "seq_len": s, "framework": fw.name,
                         "kappa": fw.kappa, "memory_bytes": device.memory_bytes, "pins": pins},
              **result}
    if fmt == "table" and not as_json:
        emit(record, fmt, as_json, lambda: render(record))
    else:
        emit(result["plans"] if fmt in ("csv", "markdown") else result["plans"], fmt, as_json)
