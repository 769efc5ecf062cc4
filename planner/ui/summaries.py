"""The figures a form shows large, picked from its ``--json`` record and formatted as the CLI
formats them (`planner.units`).  Each headline item is ``{"label", "value", "note"}``; bars are
``{"title", "total", "capacity", "parts": [{"label", "value", "text"}]}`` (the page draws
them to scale).  Nothing here computes a figure: it only chooses and formats."""
from __future__ import annotations

from planner.cli.infer import both, rate          # the commands' way with bytes and rates
from planner.units import (format_bytes, format_count, format_duration, format_flops,
                           format_int, format_usd)


def _item(label: str, value: str, note: str = "") -> dict:
    return {"label": label, "value": value, "note": note}


def _bars(title: str, parts: list[tuple[str, float | None]], capacity: float | None = None,
          fmt=format_bytes) -> dict | None:
    shown = [(k, v) for k, v in parts if v]
    if not shown:
        return None
    total = sum(v for _, v in shown)
    return {"title": title, "total": total, "total_text": fmt(total),
            "capacity": capacity, "capacity_text": fmt(capacity) if capacity else "",
            "parts": [{"label": k, "value": v, "text": fmt(v)} for k, v in shown]}


# --- params ---------------------------------------------------------------------------------

def params_headline(r: dict) -> list[dict]:
    items = [_item("parameters", format_count(r["params"]), format_int(r["params"]))]
    if r["active_params"] != r["params"]:
        items.append(_item("active per token", format_count(r["active_params"]),
                           format_int(r["active_params"])))
    items.append(_item("non-embedding N", format_count(r["non_embedding_params"]),
                       "Kaplan et al. 2020 sec. 2.1"))
    items.append(_item("neurons", format_count(r["neurons"]),
                       "output units of the linear layers in the blocks"))
    if r.get("published_params"):
        diff = (r["params"] - r["published_params"]) / r["published_params"]
        items.append(_item("published", format_count(r["published_params"]),
                           f"derived is {diff:+.2%}"))
    return items


def params_bars(r: dict) -> dict | None:
    return _bars("Parameters by component", list(r["breakdown"].items()), fmt=format_count)


# --- train ----------------------------------------------------------------------------------

def train_headline(r: dict) -> list[dict]:
    idle = f"; {format_int(r['gpus_idle'])} idle" if r["gpus_idle"] else ""
    items = [
        _item("training compute", format_flops(r["flops"]), f"{r['pf_days']:,.4g} PF-days"),
        _item("wall-clock", format_duration(r["seconds"]), f"{r['days']:,.4g} days"),
        _item("devices", f"{format_int(r['gpus'])} x {r['device']}", r["gpus_how"] + idle),
        _item("cost", format_usd(r["cost_usd"]) if r["cost_usd"] is not None else "n/a",
              f"at ${r['price_per_hour']:.2f}/device-hour" if r["price_per_hour"] is not None
              else "no price: give --price"),
        _item("device time", f"{format_int(r['gpu_hours'])} h",
              f"{r['gpu_months']:,.4g} device-months (730 h)"),
    ]
    if r["energy_kwh"] is not None:
        items.append(_item("energy", f"{format_int(r['energy_kwh'])} kWh",
                           f"TDP {r['tdp_w']:g} W x device-hours x PUE {r['pue']:g}"))
    if r["co2_kg"] is not None:
        items.append(_item("CO2", f"{r['co2_kg'] / 1e3:,.4g} t",
                           f"{r['grid_kg_per_kwh']:g} kg/kWh"))
    if r["memory_per_gpu_bytes"] is not None:
        lay = r["layout"]
        items.append(_item("memory / device", format_bytes(r["memory_per_gpu_bytes"]),
                           f"tp={lay['tp']}, pp={lay['pp']}, dp={lay['dp']}; "
                           + ("fits" if r["fits_in_memory"] else "does not fit")))
    return items


def train_bars(r: dict) -> dict | None:
    if not r.get("memory"):
        return None
    return _bars("Memory per device", [(k, v) for k, v in r["memory"].items()],
                 r["device_memory_bytes"])


# --- infer ----------------------------------------------------------------------------------

def infer_headline(r) -> list[dict]:
    if isinstance(r, list):
        fit = [x["quant"] for x in r if x["fits"]]
        return [_item("formats that fit", f"{len(fit)} of {len(r)}",
                      ", ".join(fit[:6]) + (" ..." if len(fit) > 6 else "")),
                _item("device", r[0]["device"], both(r[0]["usable_memory_bytes"]) + " usable")]
    if r["device"] is None:
        return _needs_headline(r)
    verdict = "FITS" if r["fits"] else "DOES NOT FIT"
    head = (f"headroom {both(r['headroom_bytes'])}" if r["fits"] else
            f"short by {both(-r['headroom_bytes'])}")
    return [
        _item("verdict", verdict, head),
        _item("memory", format_bytes(r["total_bytes"]),
              f"{format_bytes(r['total_bytes'], binary=True)} of "
              f"{format_bytes(r['usable_memory_bytes'])} usable"),
        _item("decode", f"{rate(r['decode_tokens_per_s'])} tokens/s",
              f"{r['decode_efficiency']:.0%} of {r['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s"),
        _item("time to first token", format_duration(r["time_to_first_token_s"])
              if r["time_to_first_token_s"] is not None else "n/a",
              f"prompt {r['prompt_tokens']:,} tokens"),
        _item("largest context", f"{r['max_context']:,}" if r["max_context"] else "none",
              f"at batch {r['batch']}"),
        _item("smallest format that fits", r["smallest_quant_that_fits"] or "none",
              f"best: {r['best_quant_that_fits']}" if r["best_quant_that_fits"] else ""),
    ]


def _needs_headline(r: dict) -> list[dict]:
    """No device (`planner infer MODEL`): what the model needs at the chosen format."""
    def tier(gb):
        return f"{gb:,} GB" if gb else "more than 256 GB"
    items = [
        _item(f"memory at {r['quant']}", format_bytes(r["total_bytes"]),
              f"{format_bytes(r['total_bytes'], binary=True)}: weights, KV cache, overheads"),
        _item("smallest laptop/desktop", tier(r["smallest_memory_tier_gb"]), "system RAM"),
        _item("smallest discrete GPU", tier(r["smallest_gpu_tier_gb"]), "VRAM"),
        _item("devices in the tables that run it", f"{r['devices_that_run']:,}",
              f"smallest: {r['smallest_device']}" if r["smallest_device"] else "")]
    if r["devices_fastest"]:
        d = r["devices_fastest"][0]
        items.append(_item("fastest", d["device"],
                           f"{rate(d['decode_tokens_per_s'])} decode tokens/s"))
    return items


def infer_bars(r) -> dict | None:
    if isinstance(r, list):
        return None
    return _bars("Memory", [("weights", r["weights_bytes"]), ("KV cache", r["kv_cache_bytes"]),
                            ("compute buffer", r["compute_buffer_bytes"]),
                            ("runtime", r["runtime_bytes"])], r["usable_memory_bytes"])


# --- optimal --------------------------------------------------------------------------------

def optimal_headline(r: dict) -> list[dict]:
    return [_item("budget", format_flops(r["flops"]), r["budget_from"]),
            _item("parameters", format_count(r["params"]), r["method"]),
            _item("tokens", format_count(r["tokens"]),
                  f"{r['tokens_per_param']:.1f} tokens per parameter"),
            _item("predicted loss", f"{r['loss']:.3f}", "nats/token, L = E + A/N^α + B/D^β")]


# --- parallel -------------------------------------------------------------------------------

def layout_text(p: dict) -> str:
    """``TP 1 x PP 4 x DP 8 x CP 16`` (CP and EP only when used)."""
    dims = [("TP", p["tp"]), ("PP", p["pp"]), ("DP", p["dp"])] + \
        [(n, p[k]) for n, k in (("CP", "cp"), ("EP", "ep")) if p[k] > 1]
    return " x ".join(f"{n} {v}" for n, v in dims)


def parallel_headline(plans: list) -> list[dict]:
    if not plans:
        return [_item("fastest layout", "none", "no layout fits in memory")]
    p = plans[0]
    band = ""
    if p.get("step_seconds_low") is not None and p.get("step_seconds_high") is not None:
        band = (f"typically {format_duration(p['step_seconds_low'])} to "
                f"{format_duration(p['step_seconds_high'])} ({p['band_rows']} held-out runs)")
    return [
        _item("fastest layout", layout_text(p),
              f"ZeRO {p['zero']}, micro-batch {p['micro_batch']}, "
              f"{'interleave ' + str(p['interleave']) + ', ' if p['interleave'] > 1 else ''}"
              f"recompute {p['recompute']}, {p['precision']}"
              f"{', sequence parallel' if p['sequence_parallel'] else ''}"),
        _item("step time", format_duration(p["step_seconds"]), band),
        _item("MFU", f"{p['mfu']:.1%}", f"HFU {p['hfu']:.1%}; {p['tflops_per_gpu']:,.0f} "
                                        "TFLOP/s per GPU"),
        _item("tokens/s", rate(p["tokens_per_s"]), f"on {format_int(p['gpus'])} GPUs"),
        _item("memory / GPU", format_bytes(p["memory_per_gpu_bytes"]),
              "weights, gradients, optimizer, activations, buffers"),
    ]


def parallel_bars(plans: list) -> dict | None:
    if not plans:
        return None
    return _bars("Memory per GPU of the fastest layout", list(plans[0]["memory"].items()))


# --- fits -----------------------------------------------------------------------------------

def fits_headline(rows: list) -> list[dict]:
    if not rows:
        return [_item("models that run", "0", "none runs under these conditions")]
    big = max(rows, key=lambda r: (r["params"], r["bits_per_weight"]))
    return [
        _item("models that run", f"{len(rows)}", "each at the best quantisation that fits"),
        _item("biggest", big["model"], f"{format_count(big['params'])} parameters"),
        _item("its quantisation", big["quant"],
              f"{big['bits_per_weight']:.2f} bits/weight; {format_bytes(big['total_bytes'])} "
              f"at context {big['context']:,}; {rate(big['decode_tokens_per_s'])} tokens/s"),
        _item("usable memory", format_bytes(big["usable_memory_bytes"]),
              format_bytes(big["usable_memory_bytes"], binary=True)),
    ]


# --- serve ----------------------------------------------------------------------------------

def serve_headline(r: dict) -> list[dict]:
    from planner.cli.serve import _t      # the command's way with latencies
    shape = f"TP {r['tp']:.0f} x PP {r['pp']:.0f}" + (f" x EP {r['ep']:.0f}" if r["ep"] > 1
                                                      else "")
    many = "s" if r["replicas"] != 1 else ""
    solve = r["mode"] == "solve"
    per = f"{rate(r['output_tokens_per_s_per_gpu'])} per GPU"
    if r.get("output_tokens_per_s_per_user") is not None:
        per += f", {r['output_tokens_per_s_per_user']:,.1f} per user"

    def latency(m: str, label: str) -> dict:
        """At the targets' percentile when solving (and the record has it), else p99."""
        pct = f"p{r['percentile']:g}" if solve and r.get("percentile") is not None else "p99"
        pct = pct if f"{m}_seconds_{pct}" in r else "p99"
        target = r.get(f"{m}_target_seconds") if solve else None
        return _item(f"{pct} {label}", _t(r[f"{m}_seconds_{pct}"]),
                     f"target {_t(target)}" if target is not None else
                     f"p50 {_t(r[f'{m}_seconds_p50'])}")

    items = [
        _item("GPUs", format_int(r["gpus"]), f"{r['replicas']:.0f} replica{many} x {shape}"),
        _item("hardware", r["hardware"], f"{r['quant']} weights, KV {r['kv_cache']}, "
                                         f"{r['engine']}"),
        _item("cost", f"{format_usd(r['cost_usd_per_hour'])}/h"
              if r["cost_usd_per_hour"] is not None else "n/a",
              f"${r['price_usd_per_gpu_hour']:,.2f}/GPU-hour; "
              f"${r['cost_usd_per_mtok_output']:,.3f} per M output tokens"
              if r["cost_usd_per_hour"] is not None else "no price: give --price"),
        _item("output tokens/s", rate(r["output_tokens_per_s"]), per),
        latency("ttft", "TTFT"), latency("tpot", "TPOT")]
    if solve:
        return items
    load = (f"{r['rate_per_s']:,.3g} requests/s, {r['utilisation']:.0%} busy"
            if r["mode"] == "deployment" else
            f"{r['concurrency']:,.0f} clients per replica")
    items[3]["note"] += f"; {load}"
    return items[3:] + items[:3]      # a given deployment: its speed and latency first
