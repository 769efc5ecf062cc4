"""`planner parallel MODEL --hardware H --gpus N --global-batch B --seq S`: the best parallel
layouts, their predicted step time, MFU/HFU and memory, and where the time goes.

Thin: options from the `PARALLEL` key table (the training plan's keys) -> one
`planner.estimate.parallel.search` call -> render.
"""
from __future__ import annotations

import click

from planner.errors import PlannerError
from planner.plan.parallel import PARALLEL, ParallelPlan
from planner.render.output import emit, output_options

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
    from planner.evaluate.bands import describe
    band = describe(best, "step_seconds", _seconds)
    lines += ["", f"Step time of plan 1: {_seconds(total)}, " + (
              band + f" of framework {h['framework']}; `planner validate --area training-time`"
              if band else f"not validated for framework {h['framework']}") + "."]
    lines += ["MFU counts 6N FLOPs per token; HFU adds recomputation (Narayanan et al. 2021 "
              "eq. 3). Accuracy: `planner validate --area training-time`."]
    return "\n".join(lines)


def result(plan: ParallelPlan) -> dict:
    """What `planner parallel` computes for `plan`: ``{"inputs": {...}, "plans": [...],
    "cheapest": {...}, "evaluated", "fitting", ...}`` (`render` prints it; ``--json`` prints
    its "plans")."""
    from planner.estimate.parallel import search
    from planner.evaluate.predict import predictor
    from planner.hardware import get_device
    from planner.model.resolve import resolve_model

    if not plan.model or not plan.hardware or not plan.gpus:
        raise PlannerError("give MODEL, --hardware NAME and --gpus N (see `planner parallel "
                           "--help`)")
    spec = resolve_model(plan.model)
    device = get_device(plan.hardware, tuple(plan.hardware_file or ()))
    given = plan.given()
    seq = int(plan.seq_len or spec.context)
    p = predictor(spec, device, seq, given)
    counts = list(plan.gpus)
    top = plan.top or PARALLEL["top"].default
    found = search(spec, device, counts if len(counts) > 1 else counts[0], p.global_batch,
                   seq, p.pins, top=top, framework=p.framework)
    fw = p.framework
    from planner.evaluate.bands import plan_values  # issue 14: held-out error bands
    for plan_ in found["plans"]:
        plan_.update(plan_values(plan_, fw.name))
    record = {"inputs": {"model": spec.name, "hardware": device.name,
                         "gpus": counts[0] if len(counts) == 1 else counts,
                         "global_batch": p.global_batch, "seq_len": seq,
                         "framework": fw.name, "kappa": fw.kappa,
                         "memory_bytes": device.memory_bytes, "pins": p.pins},
              **found}
    return record


@click.command()
@PARALLEL.options
@output_options
def parallel(fmt, as_json, **values) -> None:
    """The fastest parallel layouts for training MODEL on N GPUs: TP, PP (interleaved), DP
    (ZeRO 0-3), CP, EP, micro-batch, sequence parallelism, recomputation and precision are
    searched (any of them can be pinned); each plan gets a predicted step time, tokens/s,
    MFU/HFU, memory per GPU and the breakdown of its step time.  The options mean what they
    mean in `planner train`, which uses the fastest plan when no --mfu/--hfu is given.

    \b
      planner parallel gpt3-175b --hardware a100-80gb --gpus 1024 --global-batch 1536 --seq 2048
      planner parallel llama-2-70b -H h100-sxm --gpus 512 --global-batch-tokens 4M --tp 8
    """
    record = result(ParallelPlan.from_cli(values))
    emit(record["plans"], fmt, as_json, lambda: render(record))
