"""`planner serve MODEL`: serving capacity - GPUs, replicas and dollars for a request rate
within latency targets, or one replica's throughput and latency under N clients."""
from __future__ import annotations

import click

from planner.plan.serve import SERVE, ServePlan
from planner.render.output import emit, output_options


def _t(s) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def _n(x, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _band(r: dict, col: str, fmt) -> list[str]:
    """``  typically A to B (-x% / +y%, N held-out published runs)``, or nothing: the error
    band of a predicted figure (planner/evaluate/bands.py)."""
    from planner.evaluate.bands import describe
    text = describe(r, col, fmt)
    return [f"  {text}"] if text else []


def render(r: dict) -> str:
    shape = f"TP {r['tp']:.0f} x PP {r['pp']:.0f}" + (f" (EP {r['ep']:.0f})" if r["ep"] > 1
                                                      else "")
    lines = []
    if r["mode"] == "solve":
        lines.append(f"{r['model']} at {r['rate_per_s']:,.3g} requests/s "
                     f"({r['prompt']:,.0f} prompt / {r['output']:,.0f} output tokens), "
                     f"{r['engine']}; targets at p{r['percentile']:g}: TTFT "
                     f"{_t(r['ttft_target_seconds'])}, TPOT {_t(r['tpot_target_seconds'])}")
        lines.append("")
        cost = "" if r["cost_usd_per_hour"] is None else \
            f", ${r['cost_usd_per_hour']:,.2f}/h"
        many = "s" if r["replicas"] != 1 else ""
        lines.append(f"Cheapest: {r['replicas']:.0f} x {r['hardware']} {shape} replica{many} = "
                     f"{r['gpus']:.0f} GPU{'s' if r['gpus'] != 1 else ''}, {r['quant']} weights, KV {r['kv_cache']}{cost}")
        lines.append(f"  per replica: capacity {r['replica_capacity_per_s']:,.3g} requests/s, "
                     f"running at {r['utilisation']:.0%}; limited by {r['binding']} "
                     f"(decode step {r['bound']}-bound)")
    elif r["mode"] == "deployment":
        lines.append(f"{r['model']} on {r['replicas']:.0f} x {r['hardware']} {shape}, "
                     f"{r['quant']} weights, KV {r['kv_cache']}, {r['engine']}; Poisson "
                     f"arrivals at {r['rate_per_s']:,.3g} requests/s "
                     f"({r['prompt']:,.0f} prompt / {r['output']:,.0f} output tokens)")
        lines.append(f"  per replica: capacity {r['replica_capacity_per_s']:,.3g} requests/s, "
                     f"running at {r['utilisation']:.0%}; KV cache holds "
                     f"{r['max_sequences']:,.0f} sequences; decode step {r['bound']}-bound")
    else:
        lines.append(f"{r['model']} on {r['replicas']:.0f} x {r['hardware']} {shape}, "
                     f"{r['quant']} weights, KV {r['kv_cache']}, {r['engine']}; "
                     f"{r['concurrency']:,.0f} clients per replica "
                     f"({r['prompt']:,.0f} prompt / {r['output']:,.0f} output tokens)")
        lines.append(f"  KV cache holds {r['max_sequences']:,.0f} sequences per replica; "
                     f"decode step {r['bound']}-bound")
    lines += ["", "Throughput (whole deployment)",
              f"  output tokens/s        {_n(r['output_tokens_per_s'])}  "
              f"({_n(r['output_tokens_per_s_per_gpu'])} per GPU, "
              f"{_n(r['output_tokens_per_s_per_user'], 1)} per user)",
              *_band(r, "output_tokens_per_s", lambda x: f"{x:,.0f} output tokens/s"),
              f"  total tokens/s         {_n(r['total_tokens_per_s'])}",
              f"  requests/s             {r['requests_per_s']:,.3g}",
              f"  mean decode batch      {_n(r['batch'], 1)} per replica", "",
              "Latency            mean      p50       p90       p99"]
    for m, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2e", "E2E")):
        mean = r.get(f"{m}_seconds")
        lines.append(f"  {label:<14}{_t(mean) if mean is not None else '':>9} "
                     f"{_t(r[f'{m}_seconds_p50']):>9} {_t(r[f'{m}_seconds_p90']):>9} "
                     f"{_t(r[f'{m}_seconds_p99']):>9}")
    lines += _band(r, "ttft_seconds_p99", lambda x: f"{_t(x)} p99 TTFT")
    lines += _band(r, "tpot_seconds_p99", lambda x: f"{_t(x)} p99 TPOT")
    if r["cost_usd_per_hour"] is not None:
        lines += ["", f"Cost  ${r['cost_usd_per_hour']:,.2f}/h at "
                      f"${r['price_usd_per_gpu_hour']:,.2f} per GPU-hour; "
                      f"${r['cost_usd_per_mtok_output']:,.3f} per million output tokens, "
                      f"${r['cost_usd_per_mtok_input']:,.3f} per million input tokens "
                      f"(GPU time split: prefill {r['prefill_time_share']:.0%})"]
    lines += ["", "TTFT, TPOT (per request, first token excluded), ITL (every gap) and E2E as "
              "vLLM's benchmark_serving defines them; a queueing approximation of "
              "continuous batching (docs/serving.md)."]
    return "\n".join(lines)


@click.command()
@SERVE.options
@output_options
def serve(fmt, as_json, **values) -> None:
    """How many GPUs of which kind, at what TP and precision, serve a request rate within
    latency targets - and what it costs; or one replica's throughput and latency.

    \b
    planner serve llama-3.1-70b --rate 20/s --prompt 1000 --output 200 --ttft 1s --tpot 50ms
    planner serve llama-2-70b -H h100-sxm --tp 2 --quant fp8 --engine trtllm \\
        --prompt 400 --output 294 --concurrency max
    """
    from planner.evaluate.serve import evaluate_one
    plan = ServePlan.from_cli(values)
    rec = evaluate_one(plan)
    rec.pop("error", None)
    emit(rec, fmt, as_json, lambda: render(rec))
