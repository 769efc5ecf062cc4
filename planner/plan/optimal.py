"""`OptimalPlan`: a compute-optimal question - the key table behind `planner optimal` and the
``[optimal]`` section of a scenario file."""
from __future__ import annotations

from planner.hardware.device import PRECISIONS
from planner.plan.keys import Conflict, Key, KeyTable, make_plan_type

METHODS = ("approach1", "approach3", "besiroglu")

OPTIMAL = KeyTable("optimal", keys=[
    Key("flops", "flops", "Training compute budget C.", unit="FLOP", lower=0, lower_open=True,
        upper=1e35,
        example="5.76e23"),
    Key("gpus", "count", "Or: devices ...", unit="devices", lower=1, upper=1e7, integer=True),
    Key("hardware", "text", "... of this profile ...", short="-H", categorical=True,
        metavar="NAME"),
    Key("hardware_file", "text", "Extra hardware profile CSV (repeatable).", multiple=True,
        scenario=False, metavar="FILE"),
    Key("tflops", "number", "... or an ad-hoc device of this dense TFLOPS ...", unit="TFLOPS",
        lower=0, lower_open=True, upper=1e6, categorical=True),
    Key("days", "number", "... for this many days ...", unit="days", lower=0, lower_open=True,
        upper=1e5),
    Key("mfu", "number", "... at this utilisation.", unit="fraction", lower=0,
        lower_open=True, upper=1, default_text="the profile's"),
    Key("precision", "choice", "Precision of the peak.", choices=PRECISIONS, categorical=True,
        default_text="bf16, else fp16"),
    Key("method", "choice", "Hoffmann et al. 2022 approach 1 (power law fit to Table 3) or 3 "
        "(parametric loss, eq. 10), or Besiroglu et al. 2024's corrected fit.",
        choices=METHODS, categorical=True, default="approach1"),
], conflicts=[
    Conflict(("flops", "gpus"), "--flops is the budget; --gpus with --days derives one"),
    Conflict(("flops", "days"), "--flops is the budget; --gpus with --days derives one"),
    Conflict(("hardware", "tflops"), "a profile or an ad-hoc device"),
])

OptimalPlan = make_plan_type("OptimalPlan", OPTIMAL, """A compute-optimal plan: the keys of
`OPTIMAL`, each None when not given.""")
