"""`planner optimal`: compute-optimal parameters and tokens for a FLOPs budget (Chinchilla)."""
from __future__ import annotations

import click

from planner.plan.optimal import OPTIMAL, OptimalPlan
from planner.render.output import emit, output_options, text_table
from planner.units import format_count, format_flops

LABELS = {"approach1": "Approach 1 (Table 3 power-law fit)",
          "approach3": "Approach 3 (eq. 10 constants)",
          "besiroglu": "Besiroglu et al. 2024 fit",
          "rule20": "20 tokens/param rule"}


@click.command()
@OPTIMAL.options
@output_options
def optimal(fmt, as_json, **values) -> None:
    """Compute-optimal parameters N and tokens D for a budget C = 6ND (Hoffmann et al. 2022),
    with the predicted loss L(N, D) = E + A/N^α + B/D^β, beside the 20-tokens-per-parameter
    rule and the other fits.

    \b
      planner optimal --flops 5.76e23
      planner optimal --gpus 1024 --hardware h100-sxm --days 30 --method besiroglu
    """
    from planner.evaluate.optimal import evaluate_one

    rec = evaluate_one(OptimalPlan.from_cli(values))
    emit(rec, fmt, as_json, lambda: render(rec))


def render(rec: dict) -> str:
    """What `planner optimal` prints for its ``--json`` record."""
    rows, method, c, how = rec["methods"], rec["method"], rec["flops"], rec["budget_from"]
    table = [{"method": LABELS[k] + (" *" if k == method else ""),
              "params": format_count(v["params"]), "tokens": format_count(v["tokens"]),
              "tokens/param": f"{v['tokens_per_param']:.1f}",
              "loss": f"{v['loss']:.3f}"} for k, v in rows.items()]
    return (f"budget  {format_flops(c)}  ({how})\n\n" + text_table(table) + "\n\n"
            f"* chosen (--method {method}): {rec['source']}\n"
            "Loss L(N, D) = E + A/N^α + B/D^β in nats/token on MassiveText, with the "
            "Approach 3 constants (Besiroglu's for its row); C = 6ND throughout.")
