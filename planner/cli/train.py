"""`planner train`: training FLOPs, time, cost, energy and memory; solves for devices or tokens.

A thin shell over `planner.training` (FLOPs, time, money), `planner.memory` (memory per device,
minimum devices) and `planner.solve` (deadline -> devices, budget -> tokens).
"""
from __future__ import annotations

import math

import click

from planner.errors import PlannerError
from planner.render.output import emit, output_options
from planner.units import (MONTH, format_bytes, format_count, format_duration, format_flops,
                     format_int, format_usd, parse_bytes, parse_count, parse_duration,
                     parse_flops, parse_price, parse_usd)

RECOMPUTE_HELP = ("Activation recomputation: none (hardware FLOPs = 6ND), selective (attention "
                  "scores only, +~3% hardware FLOPs; Korthikanti et al. 2022) or full (8ND; "
                  "Narayanan et al. 2021).  Default: selective with a MODEL, none with a bare "
                  "--flops/--params.")


def _positive(value: float, option: str, example: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise PlannerError(f"{option} must be > 0, got {value:g} (e.g. {example})")
    return value


def _whole(value, option: str) -> int | None:
    if value is None:
        return None
    if value < 1:
        raise PlannerError(f"{option} must be a whole number >= 1, got {value}")
    return int(value)


def _device(hardware: str | None, tflops: float | None, memory: str | None,
            bandwidth: str | None, precision: str | None, tdp: float | None,
            files: tuple[str, ...]):
    from planner.hardware.profiles import adhoc_device, get_device

    if hardware and tflops is not None:
        raise PlannerError("give --hardware NAME or an ad-hoc --tflops X, not both")
    if hardware:
        dev = get_device(hardware, files)
        prec = (precision or dev.best_training_precision()).lower()
        return dev, prec, dev.peak(prec)
    if tflops is None:
        raise PlannerError("give --hardware NAME (see `planner hardware`) or an ad-hoc device "
                           "--tflops X [--memory 80GB] [--bandwidth 2TB/s]")
    _positive(tflops, "--tflops", "--tflops 312")
    mem = parse_bytes(memory, "--memory") if memory else None
    bw = None
    if bandwidth:
        text = str(bandwidth).strip()
        text = text[:-2] if text.lower().endswith("/s") else text
        bw = parse_bytes(text, "--bandwidth")
    prec = (precision or "bf16").lower()
    dev = adhoc_device(tflops, mem, bw, precision=prec, tdp_w=tdp or 0.0)
    return dev, prec, dev.peak(prec)


def _optimizer_mode(text: str | None) -> tuple[str, float | None]:
    """--optimizer-bytes: a mode name (mixed, mixed-fp32-grads, mixed-both-grads, fp32) or the
    optimizer's bytes per parameter K (e.g. 12)."""
    from planner.estimate.memory import BYTE_MODES

    if text is None:
        return "mixed", None
    t = text.strip().lower()
    if t in BYTE_MODES:
        return t, None
    try:
        k = float(t)
    except ValueError:
        raise PlannerError(f"--optimizer-bytes {text!r} is neither a mode ("
                           f"{', '.join(BYTE_MODES)}) nor a number of bytes per parameter") \
            from None
    if not math.isfinite(k) or k < 0:
        raise PlannerError(f"--optimizer-bytes must be >= 0 bytes per parameter, got {text!r}")
    return "mixed", k


@click.command()
@click.argument("model", required=False)
@click.option("--tokens", help="Training tokens, e.g. 300B, 2T.")
@click.option("--flops", "flops_text", help="A bare training FLOPs budget instead of MODEL, "
              "e.g. 3.14e23.")
@click.option("--params", "params_text", help="A bare parameter count instead of MODEL "
              "(FLOPs = 6 N D), e.g. 175B.")
@click.option("--hardware", "-H", help="Device profile name (see `planner hardware`).")
@click.option("--hardware-file", "hardware_files", multiple=True, metavar="FILE",
              help="Extra hardware profile CSV (repeatable; also PLANNER_HARDWARE_PATH).")
@click.option("--tflops", type=float, help="Ad-hoc device: dense peak TFLOPS at --precision.")
@click.option("--memory", help="Ad-hoc device memory, e.g. 32GB or 80GiB.")
@click.option("--bandwidth", help="Ad-hoc device memory bandwidth, e.g. 2TB/s.")
@click.option("--tdp", type=float, help="Ad-hoc device power in W (for energy).")
@click.option("--precision", help="Training precision (default: the device's bf16, else fp16).")
@click.option("--gpus", type=float, help="Number of devices.")
@click.option("--deadline", help="Solve for the smallest cluster finishing within this, "
              "e.g. 30d, '3 months' (730 h each).")
@click.option("--budget", help="USD to spend, e.g. $5M: solves for the tokens it buys.")
@click.option("--mfu", type=float, help="Model FLOPs utilisation in (0, 1] (default: the "
              "device profile's).")
@click.option("--hfu", type=float, help="Hardware FLOPs utilisation in (0, 1], counting "
              "recomputation (PaLM App. B).")
@click.option("--price", help="Price per device-hour, e.g. '$2.50/h' (default: profile).")
@click.option("--pue", type=float, default=1.2, show_default=True,
              help="Data-centre power usage effectiveness.")
@click.option("--grid-kg-per-kwh", type=float, default=None,
              help="Grid carbon intensity for CO2, kg per kWh (e.g. 0.4).")
@click.option("--flops-method", type=click.Choice(["6nd", "exact"]), default="6nd",
              show_default=True, help="6ND (Kaplan 2020; GPT-3 Table D.1) or the exact count "
              "(Hoffmann et al. 2022 App. F).")
@click.option("--non-embedding", is_flag=True, help="Use Kaplan's non-embedding N in 6ND.")
@click.option("--recompute", type=click.Choice(["none", "selective", "full"]), default=None,
              help=RECOMPUTE_HELP)
@click.option("--seq-len", type=int, help="Sequence length (default: the model's context).")
@click.option("--micro-batch", type=int, default=1, show_default=True,
              help="Micro-batch size per device (sequences).")
@click.option("--tp", type=int, help="Tensor-parallel degree (default: searched in 1,2,4,8).")
@click.option("--pp", type=int, help="Pipeline-parallel degree (default: searched).")
@click.option("--zero", default="1", show_default=True,
              help="ZeRO stage 0-3, sharding over the data-parallel ranks.")
@click.option("--sequence-parallel", is_flag=True, help="Megatron sequence parallelism "
              "(Korthikanti et al. 2022) with TP.")
@click.option("--optimizer-bytes", "optimizer_bytes",
              help="Bytes per parameter: mode mixed (16, default), mixed-fp32-grads (18), "
                   "mixed-both-grads (20), fp32 (16), or the optimizer's K (e.g. 12).")
@click.option("--node-size", type=int, default=8, show_default=True,
              help="Devices per node; solved clusters are whole nodes.")
@click.option("--max-gpus", type=float, default=None,
              help="Largest cluster a deadline may ask for (default 100,000).")
@output_options
def train(model, tokens, flops_text, params_text, hardware, hardware_files, tflops, memory,
          bandwidth, tdp, precision, gpus, deadline, budget, mfu, hfu, price, pue,
          grid_kg_per_kwh, flops_method, non_embedding, recompute, seq_len, micro_batch, tp,
          pp, zero, sequence_parallel, optimizer_bytes, node_size, max_gpus, fmt,
          as_json) -> None:
    """Training FLOPs, time, cost, energy and memory per device of MODEL on --tokens.

    Give one of --gpus N, --deadline D (smallest cluster, in whole nodes, that finishes in time
    and holds the model) or --budget USD (tokens it buys).  Instead of MODEL, a bare
    --flops F (or --params N --tokens D) works with any device, e.g.

    \b
      planner train gpt3-175b --tokens 300B --hardware a100-80gb --gpus 1024
      planner train llama-2-70b --tokens 2T --hardware h100-sxm --deadline 30d
      planner train --flops 3.14e23 --tflops 10 --mfu 1 --deadline "3 months"
    """
    record = plan(**{k: v for k, v in locals().items() if k not in ("fmt", "as_json")})
    emit(record, fmt, as_json, lambda: human(record))


def plan(model=None, tokens=None, flops_text=None, params_text=None, hardware=None,
         hardware_files=(), tflops=None, memory=None, bandwidth=None, tdp=None, precision=None,
         gpus=None, deadline=None, budget=None, mfu=None, hfu=None, price=None, pue=1.2,
         grid_kg_per_kwh=None, flops_method="6nd", non_embedding=False, recompute=None,
         seq_len=None, micro_batch=1, tp=None, pp=None, zero="1", sequence_parallel=False,
         optimizer_bytes=None, node_size=8, max_gpus=None) -> dict:
    """Everything `planner train` computes, as one JSON-able record (base units)."""
    from planner.estimate.memory import (BYTE_MODE_NOTES, BYTE_MODES, check_zero, layout_for_devices,
                          min_gpus_for_memory)
    from planner.estimate.solve import (DEFAULT_MAX_DEVICES, check_budget, check_deadline, check_utilisations,
                         devices_for_deadline, round_to_nodes, tokens_for_budget)
    from planner.estimate.training import plan_training, training_flops

    # ---- what is trained -----------------------------------------------------------------
    given = [x for x in (model, flops_text, params_text) if x]
    if len(given) > 1:
        raise PlannerError("give MODEL, --flops or --params, only one of them")
    if not given:
        raise PlannerError("give a MODEL (see `planner models`), a bare --flops F, or "
                           "--params N with --tokens")
    if gpus is not None and deadline is not None:
        raise PlannerError("give --gpus or --deadline, not both (--deadline solves for devices)")
    if gpus is None and deadline is None and budget is None:
        raise PlannerError("give --gpus N, --deadline D (solve for devices) or --budget USD "
                           "(solve for tokens)")
    check_utilisations(mfu, hfu)
    if not math.isfinite(pue) or pue < 1:
        raise PlannerError(f"--pue must be >= 1 (1.0 = no overhead), got {pue:g}")
    if grid_kg_per_kwh is not None and (not math.isfinite(grid_kg_per_kwh) or grid_kg_per_kwh < 0):
        raise PlannerError(f"--grid-kg-per-kwh must be >= 0, got {grid_kg_per_kwh:g}")
    node_size = _whole(node_size, "--node-size")
    micro_batch = _whole(micro_batch, "--micro-batch")
    tp, pp = _whole(tp, "--tp"), _whole(pp, "--pp")
    if seq_len is not None:
        _whole(seq_len, "--seq-len")
    zero = check_zero(zero)
    mode, k_opt = _optimizer_mode(optimizer_bytes)
    n_tokens = None
    if tokens is not None:
        n_tokens = _positive(parse_count(tokens, "--tokens"), "--tokens", "--tokens 300B")
    spec = None
    if model:
        from planner.model.resolve import resolve_model
        spec = resolve_model(model)
        if n_tokens is None and budget is None:
            raise PlannerError("give --tokens (e.g. --tokens 300B) or --budget to solve for them")
    elif params_text:
        if n_tokens is None and budget is None:
            raise PlannerError("--params needs --tokens (FLOPs = 6 N D) or --budget")
    elif n_tokens is not None:
        raise PlannerError("--tokens needs a MODEL or --params; with a bare --flops give "
                           "neither")
    if recompute is None:  # Korthikanti et al. 2022: selective recompute is the practical default
        recompute = "selective" if spec is not None else "none"

    dev, prec, peak = _device(hardware, tflops, memory, bandwidth, precision, tdp,
                              tuple(hardware_files))

    # ---- price, utilisation -----------------------------------------------------------------
    if price is not None:
        price_h = _positive(parse_price(price, "--price"), "--price", "--price '$2.50/h'")
        price_src = "--price"
    else:
        price_h = dev.price_per_hour
        price_src = (str(dev.info.get("price_source", "device profile"))
                     if math.isfinite(price_h) else "none (give --price)")
    if mfu is None and hfu is None and not math.isfinite(dev.default_mfu):
        raise PlannerError(f"device {dev.name!r} has no default MFU; give --mfu (e.g. 0.4) "
                           "or --hfu")

    # ---- FLOPs per token / total ------------------------------------------------------------
    if spec is not None:
        per = training_flops(spec, 1.0, flops_method, recompute, non_embedding, seq_len)
        flops_per_token, n_params = float(per["model_flops"]), float(per["params"])
        hw_ratio = float(per["hardware_flops"] / per["model_flops"])
    elif params_text:
        if flops_method == "exact":
            raise PlannerError("--flops-method exact needs a MODEL architecture, not --params")
        n_params = _positive(parse_count(params_text, "--params"), "--params", "--params 175B")
        flops_per_token = 6.0 * n_params
        hw_ratio = _hw_ratio_bare(recompute)
    else:
        flops_per_token, n_params = None, None
        hw_ratio = _hw_ratio_bare(recompute)

    if hfu is not None:
        util_mfu, util_src = hfu / hw_ratio, "from --hfu"
    elif mfu is not None:
        util_mfu, util_src = mfu, "--mfu"
    else:
        util_mfu = dev.default_mfu
        util_src = f"{dev.name} profile default ({dev.info.get('mfu_source', 'no source')})"

    # ---- memory -----------------------------------------------------------------------------
    mem_kw = dict(seq_len=seq_len, micro_batch=micro_batch, zero=zero, recompute=recompute,
                  sequence_parallel=sequence_parallel, mode=mode, optimizer_bytes=k_opt)
    capacity = dev.memory_bytes
    min_mem = None
    if spec is not None and math.isfinite(capacity):
        min_mem = min_gpus_for_memory(spec, capacity, node_size, tp=tp, pp=pp, **mem_kw)
    min_gpus = min_mem["gpus"] if min_mem else 1.0

    # ---- budget -> tokens ---------------------------------------------------------------------
    budget_usd = None
    solved_tokens = False
    if budget is not None:
        budget_usd = parse_usd(budget, "--budget")
        check_budget(budget_usd, price_h, node_size)
        if flops_text:
            pass  # checked against the cost below
        elif n_tokens is None:
            n_tokens, _, _ = (float(x) for x in tokens_for_budget(
                budget_usd, price_h, peak, util_mfu, flops_per_token))
            solved_tokens = True

    flops = parse_flops(flops_text) if flops_text else flops_per_token * n_tokens
    _positive(flops, "--flops", "--flops 3.14e23")
    hw_flops = flops * hw_ratio  # recomputation as counted by training_flops
    util_hfu = util_mfu * hw_ratio
    if util_hfu > 1 + 1e-12:
        raise PlannerError(f"MFU {util_mfu:.3g} with {recompute} recomputation means HFU "
                           f"{util_hfu:.3g} > 1; lower --mfu")

    # ---- devices --------------------------------------------------------------------------------
    limit = max_gpus if max_gpus is not None else DEFAULT_MAX_DEVICES
    if not math.isfinite(min_gpus) and gpus is None:
        raise PlannerError(_no_fit_message(spec, dev, min_mem, recompute, sequence_parallel,
                                           zero, micro_batch))
    deadline_s = None
    if gpus is not None:
        n_dev = _whole(gpus, "--gpus")
        how = "given (--gpus)"
    elif deadline is not None:
        deadline_s = check_deadline(parse_duration(deadline, "--deadline"))
        n_dev = float(devices_for_deadline(flops, deadline_s, peak, util_mfu, node_size,
                                           min_gpus))
        if n_dev > limit:
            at = plan_training(flops, limit, peak, util_mfu)
            raise PlannerError(
                f"--deadline {deadline} needs {format_int(n_dev)} devices, more than the "
                f"largest sensible cluster ({format_int(limit)}, --max-gpus); at "
                f"{format_int(limit)} devices it takes {format_duration(float(at['seconds']))}")
        how = ("smallest whole-node cluster meeting --deadline"
               + (" (memory minimum binds)" if n_dev == round_to_nodes(min_gpus, node_size)
                  and min_gpus > 1 else ""))
        n_dev = int(n_dev)
    else:
        n_dev = int(round_to_nodes(min_gpus, node_size))
        how = "smallest whole-node cluster that holds the model (memory)"

    # ---- time, money, energy ------------------------------------------------------------------
    grid = grid_kg_per_kwh if grid_kg_per_kwh is not None else 0.0
    res = {k: float(v) for k, v in plan_training(flops, n_dev, peak, util_mfu, price_h,
                                                 dev.tdp_w, pue, grid).items()}
    if budget_usd is not None and math.isfinite(res["cost_usd"]) \
            and res["cost_usd"] > budget_usd * (1 + 1e-9):
        afford = budget_usd / res["cost_usd"]
        raise PlannerError(f"the plan costs {format_usd(res['cost_usd'])}, over the budget of "
                           f"{format_usd(budget_usd)}; the budget buys {afford:.1%} of it"
                           + (f" ({format_count(afford * n_tokens)} tokens)" if n_tokens else ""))

    # ---- memory at the chosen size ------------------------------------------------------------
    layout = None
    if spec is not None:
        from planner.estimate.memory import memory_for_spec
        if math.isfinite(capacity):
            layout = layout_for_devices(spec, n_dev, capacity, node_size, tp=tp, pp=pp, **mem_kw)
        else:
            t, p = tp or 1, pp or 1
            m = memory_for_spec(spec, tp=t, pp=p, dp=max(n_dev // (t * p), 1), **mem_kw)
            layout = {"tp": t, "pp": p, "dp": max(n_dev // (t * p), 1), "fits": None,
                      "memory": {k: float(v) for k, v in m.items()}}

    wb, gb, ob = BYTE_MODES[mode]
    ob = ob if k_opt is None else k_opt
    rec = {
        "model": spec.name if spec else None,
        "params": n_params,
        "tokens": n_tokens,
        "tokens_solved_from_budget": solved_tokens,
        "flops": flops,
        "hardware_flops": hw_flops,
        "flops_method": flops_method if spec is not None or params_text else "given",
        "non_embedding": bool(non_embedding),
        "recompute": recompute,
        "device": dev.name,
        "precision": prec,
        "peak_flops_per_gpu": peak,
        "gpus": n_dev,
        "gpus_how": how,
        "node_size": node_size,
        "mfu": util_mfu,
        "hfu": util_hfu,
        "mfu_source": util_src,
        "seconds": res["seconds"],
        "days": res["days"],
        "gpu_hours": res["device_hours"],
        "gpu_days": res["device_days"],
        "gpu_months": res["device_months"],
        "pf_days": res["pf_days"],
        "price_per_hour": price_h if math.isfinite(price_h) else None,
        "price_source": price_src,
        "cost_usd": res["cost_usd"] if math.isfinite(price_h) else None,
        "tdp_w": dev.tdp_w or None,
        "pue": pue,
        "energy_kwh": res["energy_kwh"] if dev.tdp_w else None,
        "grid_kg_per_kwh": grid_kg_per_kwh,
        "co2_kg": res["co2_kg"] if (dev.tdp_w and grid_kg_per_kwh is not None) else None,
        "deadline_seconds": deadline_s,
        "budget_usd": budget_usd,
        "device_memory_bytes": capacity if math.isfinite(capacity) else None,
        "memory_per_gpu_bytes": layout["memory"]["total"] if layout else None,
        "memory": ({k: layout["memory"][k] for k in
                    ("weights", "gradients", "optimizer", "activations")} if layout else None),
        "fits_in_memory": layout["fits"] if layout else None,
        "layout": ({k: layout[k] for k in ("tp", "pp", "dp")} if layout else None),
        "min_gpus_for_memory": int(min_gpus) if min_mem and math.isfinite(min_gpus) else None,
        "min_memory_layout": ({k: min_mem[k] for k in ("tp", "pp", "dp")}
                              if min_mem and math.isfinite(min_gpus) else None),
        "memory_assumptions": ({
            "bytes_per_param": {"weights": wb, "gradients": gb, "optimizer": ob},
            "optimizer_mode": BYTE_MODE_NOTES[mode] if k_opt is None
            else f"optimizer K = {ob:g} bytes/param (--optimizer-bytes), 2 weights + 2 grads",
            "zero": zero, "micro_batch": micro_batch,
            "seq_len": seq_len or spec.context, "sequence_parallel": bool(sequence_parallel),
            "activations": "Korthikanti et al. 2022 Table 2 per layer; embedding/logits "
                           "activations neglected (sec. 4.3)",
        } if spec is not None else None),
        "month_hours": MONTH / 3600,
    }
    return rec


def _hw_ratio_bare(recompute: str) -> float:
    from planner.estimate.training import FULL_RECOMPUTE_FACTOR

    if recompute == "selective":
        raise PlannerError("--recompute selective needs a MODEL architecture (its overhead is "
                           "the attention-score FLOPs); use none or full with --flops/--params")
    return FULL_RECOMPUTE_FACTOR if recompute == "full" else 1.0


def _no_fit_message(spec, dev, min_mem, recompute, sp, zero, micro_batch) -> str:
    m = min_mem["memory"]
    tips = []
    if recompute != "full":
        tips.append("--recompute full" if recompute == "selective"
                    else "--recompute selective or full")
    if not sp:
        tips.append("--sequence-parallel")
    if zero < 3:
        tips.append(f"--zero {zero + 1}")
    if micro_batch > 1:
        tips.append("a smaller --micro-batch")
    tips.append("a shorter --seq-len or a device with more memory")
    return (f"{spec.name} does not fit in {format_bytes(dev.memory_bytes)} "
            f"({format_bytes(dev.memory_bytes, binary=True)}) of {dev.name} at any "
            f"layout (best: tp={min_mem['tp']}, pp={min_mem['pp']} needs "
            f"{format_bytes(m['total'])} per device, of which activations "
            f"{format_bytes(m['activations'])}); try " + ", ".join(tips))


def human(r: dict) -> str:
    """The table format: inputs echoed, results, assumptions named."""
    def money(x):
        return format_usd(x) if x is not None else "n/a (no price; give --price)"

    rows: list[tuple[str, str]] = []
    what = r["model"] or ("bare FLOPs budget" if r["params"] is None else
                          f"{format_count(r['params'])} parameters")
    rows.append(("model", what + (f" ({format_count(r['params'])} params"
                                  + (", non-embedding" if r["non_embedding"] else "") + ")"
                                  if r["model"] else "")))
    if r["tokens"]:
        rows.append(("tokens", format_count(r["tokens"])
                     + ("  (bought by the budget)" if r["tokens_solved_from_budget"] else "")))
    method = {"6nd": "6·N·D (Kaplan 2020; GPT-3 Table D.1)",
              "exact": "exact count (Hoffmann et al. 2022 App. F)", "given": "given"}
    rows.append(("training FLOPs", f"{format_flops(r['flops'])}  [{method[r['flops_method']]}]"
                 f" = {r['pf_days']:,.4g} PF-days"))
    if r["recompute"] != "none":
        rows.append(("hardware FLOPs", f"{format_flops(r['hardware_flops'])}  "
                     f"[{r['recompute']} recompute]"))
    rows.append(("device", f"{r['device']}, {r['precision']} dense peak "
                 f"{r['peak_flops_per_gpu'] / 1e12:,.4g} TFLOPS"))
    rows.append(("devices", f"{format_int(r['gpus'])}  ({r['gpus_how']})"))
    rows.append(("utilisation", f"MFU {r['mfu']:.3g}, HFU {r['hfu']:.3g}  ({r['mfu_source']})"))
    if r["deadline_seconds"]:
        rows.append(("deadline", format_duration(r["deadline_seconds"])))
    rows.append(("wall-clock", f"{format_duration(r['seconds'])}  ({r['days']:,.4g} days)"))
    rows.append(("device time", f"{format_int(r['gpu_hours'])} device-hours = "
                 f"{r['gpu_days']:,.4g} device-days = {r['gpu_months']:,.4g} device-months "
                 f"(730 h)"))
    if r["price_per_hour"] is not None:
        rows.append(("cost", f"{money(r['cost_usd'])}  at ${r['price_per_hour']:.2f}/device-hour"
                     f" ({r['price_source']})"))
    else:
        rows.append(("cost", money(None)))
    if r["budget_usd"] is not None:
        rows.append(("budget", format_usd(r["budget_usd"])))
    if r["energy_kwh"] is not None:
        e = f"{format_int(r['energy_kwh'])} kWh  (TDP {r['tdp_w']:g} W x device-hours x PUE " \
            f"{r['pue']:g})"
        rows.append(("energy", e))
    if r["co2_kg"] is not None:
        rows.append(("CO2", f"{r['co2_kg'] / 1e3:,.4g} t  ({r['grid_kg_per_kwh']:g} kg/kWh)"))
    if r["memory_per_gpu_bytes"] is not None:
        m, lay = r["memory"], r["layout"]
        fit = ("" if r["fits_in_memory"] is None else
               "  fits in " if r["fits_in_memory"] else "  DOES NOT FIT in ")
        cap = (f"{format_bytes(r['device_memory_bytes'])} "
               f"({format_bytes(r['device_memory_bytes'], binary=True)})"
               if r["device_memory_bytes"] else "")
        rows.append(("memory / device", f"{format_bytes(r['memory_per_gpu_bytes'])}{fit}{cap}"
                     f"  (tp={lay['tp']}, pp={lay['pp']}, dp={lay['dp']})"))
        rows.append(("  of which", ", ".join(f"{k} {format_bytes(v)}" for k, v in m.items())))
        a = r["memory_assumptions"]
        rows.append(("  assuming", f"{a['optimizer_mode']}; ZeRO-{a['zero']} over dp; "
                     f"micro-batch {a['micro_batch']} x {a['seq_len']:,} tokens; recompute "
                     f"{r['recompute']}; sequence parallel "
                     f"{'on' if a['sequence_parallel'] else 'off'}; {a['activations']}"))
    if r["min_gpus_for_memory"] is not None:
        ml = r["min_memory_layout"]
        rows.append(("min devices (memory)", f"{format_int(r['min_gpus_for_memory'])}  "
                     f"(tp={ml['tp']}, pp={ml['pp']}, dp={ml['dp']})"))
    elif r["model"] is None:
        rows.append(("memory", "not estimated (needs a MODEL architecture)"))
    elif r["device_memory_bytes"] is not None:
        rows.append(("min devices (memory)", "none: no layout fits (try --recompute full, "
                     "--sequence-parallel, a higher --zero or free --tp/--pp)"))
    width = max(len(k) for k, _ in rows) + 2
    notes = ("Month = 730 h. Time assumes perfect scaling at the stated utilisation "
             "(no communication or batch-size limits).")
    return "\n".join(f"{k:<{width}}{v}" for k, v in rows) + "\n\n" + notes
