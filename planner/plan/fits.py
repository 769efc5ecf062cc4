"""`FitsPlan`: "what can I run on this device?" - the key table behind `planner fits`.

The device keys, context, prompt, KV type and the like are the very `Key`s of `INFER` (one
parser, one help text, one valid range); the keys of its own are the extra model files, the
minimum decode speed and the sort order."""
from __future__ import annotations

from planner.plan.infer import INFER
from planner.plan.keys import Key, KeyTable, make_plan_type

SHARED = ("device", "hardware_file", "memory", "bandwidth", "tflops", "discrete", "backend",
          "reserve", "context", "batch", "prompt", "kv_cache", "flash_attn", "recipes")

FITS = KeyTable("fits", keys=[
    *(INFER[k] for k in SHARED[:8]),
    Key("model", "text", "A model to list beside the zoo: config.json (or its folder) or "
        "model TOML (repeatable).", short="-m", multiple=True, scenario=False, metavar="FILE"),
    Key("context", "count", "Tokens of context every listed model must hold (models with a "
        "shorter context drop out).", short="-c", unit="tokens", lower=1, upper=1e8,
        integer=True, metavar="N", default_text="min(model context, 4,096) per model"),
    Key("min_speed", "number", "Only quantisations that decode at least this fast (a smaller "
        "one is chosen when the best that fits is too slow).", unit="tokens/s", lower=0,
        lower_open=True, upper=1e7, metavar="TOK/S", example="10"),
    Key("sort", "choice", "quality: largest model, then most bits per weight, first; speed: "
        "fastest decode first.", choices=("quality", "speed"), default="quality"),
    *(INFER[k] for k in SHARED[9:]),
])

FitsPlan = make_plan_type("FitsPlan", FITS, """A "what can I run" plan: the keys of `FITS`,
each None when not given.""")
