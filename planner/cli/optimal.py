"""`planner optimal`: compute-optimal parameters and tokens for a FLOPs budget (Chinchilla)."""
from __future__ import annotations

import math

import click

from planner.errors import PlannerError
from planner.render.output import emit, output_options, text_table
from planner.units import DAY, format_count, format_flops, parse_flops

LABELS = {"approach1": "Approach 1 (Table 3 power-law fit)",
          "approach3": "Approach 3 (eq. 10 constants)",
          "besiroglu": "Besiroglu et al. 2024 fit",
          "rule20": "20 tokens/param rule"}


def _budget(flops_text, gpus, hardware, hardware_files, tflops, days, mfu, precision) -> tuple:
    if flops_text is not None:
        if any(x is not None for x in (gpus, days)) or hardware or tflops is not None:
            raise PlannerError("give --flops C, or --gpus N with --hardware/--tflops and --days, "
                               "not both")
        c = parse_flops(flops_text)
        if not math.isfinite(c) or c <= 0:
            raise PlannerError(f"--flops must be > 0, got {flops_text!r} (e.g. --flops 5.76e23)")
        return c, "--flops"
    if gpus is None or days is None or not (hardware or tflops is not None):
        raise PlannerError("give --flops C (e.g. 5.76e23), or --gpus N --hardware H --days T "
                           "[--mfu U]")
    from planner.hardware.profiles import adhoc_device, get_device
    from planner.estimate.training import check_utilisation

    if gpus <= 0 or days <= 0:
        raise PlannerError(f"--gpus and --days must be > 0, got {gpus:g} and {days:g}")
    if hardware:
        dev = get_device(hardware, tuple(hardware_files))
    else:
        dev = adhoc_device(tflops, precision=(precision or "bf16").lower())
    prec = (precision or dev.best_training_precision()).lower()
    if mfu is None:
        if not math.isfinite(dev.default_mfu):
            raise PlannerError(f"device {dev.name!r} has no default MFU; give --mfu")
        mfu, src = dev.default_mfu, f"{dev.name} profile default MFU"
    else:
        check_utilisation(mfu)
        src = "--mfu"
    c = gpus * dev.peak(prec) * mfu * days * DAY
    return c, (f"{gpus:g} x {dev.name} ({prec} {dev.peak(prec) / 1e12:g} TFLOPS) x MFU {mfu:g} "
               f"x {days:g} days [{src}]")


@click.command()
@click.option("--flops", "flops_text", help="Training compute budget C in FLOP, e.g. 5.76e23.")
@click.option("--gpus", type=float, help="Or: devices ...")
@click.option("--hardware", "-H", help="... of this profile ...")
@click.option("--hardware-file", "hardware_files", multiple=True, metavar="FILE",
              help="Extra hardware profile CSV (repeatable).")
@click.option("--tflops", type=float, help="... or an ad-hoc device of this dense TFLOPS ...")
@click.option("--days", type=float, help="... for this many days ...")
@click.option("--mfu", type=float, help="... at this utilisation (default: the profile's).")
@click.option("--precision", help="Precision of the peak (default: bf16, else fp16).")
@click.option("--method", type=click.Choice(["approach1", "approach3", "besiroglu"]),
              default="approach1", show_default=True,
              help="Hoffmann et al. 2022 approach 1 (power law fit to Table 3) or 3 (parametric "
                   "loss, eq. 10), or Besiroglu et al. 2024's corrected fit.")
@output_options
def optimal(flops_text, gpus, hardware, hardware_files, tflops, days, mfu, precision, method,
            fmt, as_json) -> None:
    """Compute-optimal parameters N and tokens D for a budget C = 6ND (Hoffmann et al. 2022),
    with the predicted loss L(N, D) = E + A/N^α + B/D^β, beside the 20-tokens-per-parameter
    rule and the other fits.

    \b
      planner optimal --flops 5.76e23
      planner optimal --gpus 1024 --hardware h100-sxm --days 30 --method besiroglu
    """
    from planner.estimate.scaling import METHODS, compute_optimal, method_source

    c, how = _budget(flops_text, gpus, hardware, hardware_files, tflops, days, mfu, precision)
    rows = {}
    for m in METHODS:
        r = compute_optimal(c, m)
        rows[m] = {"params": float(r["params"]), "tokens": float(r["tokens"]),
                   "tokens_per_param": float(r["tokens_per_param"]), "loss": float(r["loss"]),
                   "loss_constants": r["loss_constants"], "source": method_source(m)}
    chosen = compute_optimal(c, method)
    rows["rule20"] = {"params": float(chosen["rule20_params"]),
                      "tokens": float(chosen["rule20_tokens"]), "tokens_per_param": 20.0,
                      "loss": float(chosen["rule20_loss"]),
                      "loss_constants": chosen["loss_constants"],
                      "source": method_source("rule20")}
    rec = {"flops": c, "budget_from": how, "method": method, **{
        k: rows[method][k] for k in ("params", "tokens", "tokens_per_param", "loss")},
        "loss_constants": rows[method]["loss_constants"], "source": rows[method]["source"],
        "methods": rows}

    def human() -> str:
        table = [{"method": LABELS[k] + (" *" if k == method else ""),
                  "params": format_count(v["params"]), "tokens": format_count(v["tokens"]),
                  "tokens/param": f"{v['tokens_per_param']:.1f}",
                  "loss": f"{v['loss']:.3f}"} for k, v in rows.items()]
        return (f"budget  {format_flops(c)}  ({how})\n\n" + text_table(table) + "\n\n"
                f"* chosen (--method {method}): {rec['source']}\n"
                "Loss L(N, D) = E + A/N^α + B/D^β in nats/token on MassiveText, with the "
                "Approach 3 constants (Besiroglu's for its row); C = 6ND throughout.")

    emit(rec, fmt, as_json, human)
