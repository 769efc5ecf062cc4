"""`planner fits --device D`: which models run on a device, at what quantisation and speed."""
from __future__ import annotations

import click

from planner.plan.fits import FITS, FitsPlan
from planner.render.output import emit, output_options, text_table


def render(res: dict, plan) -> str:
    from planner.cli.infer import BACKEND_LABEL, both, rate
    what = [f"context {plan.context:,}" if plan.context else "context min(model, 4,096)"]
    if plan.min_speed:
        what.append(f">= {plan.min_speed:g} tokens/s")
    head = (f"What runs on {res['device']} ({res['device_kind']}: {both(res['memory_bytes'])}, "
            f"{res['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s), {', '.join(what)}; best "
            f"quantisation that fits, sorted by {plan.sort or 'quality'}")
    if not res["rows"]:
        return head + f"\n\nNone of the {res['considered']} models runs under these conditions."
    table = [{"model": r["model"], "params": f"{r['params'] / 1e9:.1f} B", "quant": r["quant"],
              "bits/w": f"{r['bits_per_weight']:.2f}",
              "memory GB": f"{r['total_bytes'] / 1e9:.2f}",
              "max context": f"{r['max_context']:,}",
              "decode tok/s": rate(r["decode_tokens_per_s"]),
              "prefill tok/s": rate(r["prefill_tokens_per_s"])} for r in res["rows"]]
    backend = BACKEND_LABEL.get(res["backend"], res["backend"])
    return (head + "\n\n" + text_table(table) + "\n\n"
            f"{len(res['rows'])} of {res['considered']} models.  memory: what must fit the "
            f"device at the context asked (weights, KV cache, overheads; llama.cpp placement); "
            f"speed: the step model ({backend} backend, docs/local_speed.md), decode the mean "
            f"over a conversation that fills the context, prefill of a "
            f"{plan.prompt or 512:,}-token prompt.  GB = 1e9 bytes.")


@click.command()
@FITS.options
@output_options
def fits(fmt, as_json, **values) -> None:
    """What can I run on a device?  Every zoo model (and --model files) that fits, with the
    best quantisation that fits (most bits per weight), the largest context it then holds,
    and decode/prefill tokens/s by the step model.

    \b
    planner fits --device rtx-3060-12gb
    planner fits --device "macbook air m2 16gb" --context 8192 --min-speed 10
    planner fits --device rtx-4090 --sort speed --model ./my-model/config.json
    planner fits --memory 32GB --bandwidth 120GB/s
    """
    from planner.evaluate.fits import evaluate
    plan = FitsPlan.from_cli(values)
    res = evaluate(plan)
    emit(res["rows"], fmt, as_json, lambda: render(res, plan))
