"""Hostile input files and outputs (issue 9): scenario files (their bytes, their TOML, every key
of every section, sweeps, distributions, [expect]), hardware CSVs (--hardware-file and
PLANNER_HARDWARE_PATH), `planner report` and `planner compare` inputs, `--where`/`--sort`, and
output paths (--out, --plot, report -o).  Each case: exit 2, one `Error:` line naming the
problem, no traceback, and the folder exactly as before (an existing output untouched, nothing
half-written left behind).  The big ones (huge sweeps, /dev/zero and the like under a memory
limit) are in test_hostile_big.py."""
from __future__ import annotations

import csv
import io
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hostile import (ANSWERED, FIFO, FOLDER, GOOD, RIGHT, SENTINEL, Link, case, record,
                     run_case)
from planner.plan.infer import INFER
from planner.plan.optimal import OPTIMAL
from planner.plan.train import TRAIN
from planner.whatif.scenario import MONTECARLO

TRAIN_KEYS = {"tokens": '"1B"', "hardware": '"a100-80gb"', "gpus": "8", "mfu": "0.4"}
INFER_KEYS = {"device": '"rtx-4090"'}


def scenario(train: dict | None = None, infer: dict | None = None, model: str = '"gpt2"',
             extra: str = "", drop: tuple = ()) -> str:
    """A valid scenario with some keys replaced (values are TOML text)."""
    parts = [f"[model]\nname = {model}\n"] if model else []
    if train is not None:
        keys = {k: v for k, v in {**TRAIN_KEYS, **train}.items() if k not in drop}
        parts.append("[train]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    if infer is not None:
        keys = {k: v for k, v in {**INFER_KEYS, **infer}.items() if k not in drop}
        parts.append("[infer]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    return "\n".join(parts) + extra


GOOD_TRAIN = scenario(train={})
GOOD_INFER = scenario(infer={}, model='"llama-2-7b"')
SWEEP = scenario(train={"gpus": "[8, 16, 32]", "hardware": '["a100-80gb", "h100-sxm"]'})


def run_sc(klass: str, name: str, text: str | bytes, *more: str, say=(), files=None, env=None,
           command: str = "run") -> object:
    return case(klass, name, command, "{d}/s.toml", *more,
                files={"s.toml": text, **(files or {})}, say=say, env=env)


# --- every key of every scenario section, with values outside its range -----------------------

TOML_ALWAYS_BAD = {"nan": "nan", "inf": "inf", "-inf": "-inf", "1e400": "1e400", "negative": "-1",
                   "garbage text": '"abc"', "empty text": '""', "boolean": "true",
                   "a date": "1979-05-27", "empty list": "[]", "empty table": "{}",
                   "nested list": "[[1, 2]]", "commas typo": '"1,,,0"'}


def key_cases():
    out = []
    for section, table, base in (("train", TRAIN, "train"), ("infer", INFER, "infer")):
        for key in table.keys:
            if not key.scenario or not key.numeric:
                continue
            vals = dict(TOML_ALWAYS_BAD)
            if math.isfinite(key.upper):
                vals["above the top"] = f"{key.upper * 10:g}".replace("e+", "e")
            if key.lower_open and key.lower == 0:
                vals["zero"] = "0"
            if key.integer:
                vals["fraction"] = "1.5" if key.upper >= 2 else "0.5"
                vals["fractional step"] = "{start = 1, stop = 2, step = 0.5}"
                vals["distribution over a count"] = "{low = 1, high = 2}"
            if key.categorical and not key.integer:
                vals["distribution over a per-value key"] = "{low = 1, high = 2}"
            vals["NaN in a list"] = "[nan]"
            vals["range with NaN"] = "{start = nan, stop = 2, step = 1}"
            vals["range with stop < start"] = "{start = 4, stop = 2, step = 1}"
            vals["range with step 0"] = "{start = 1, stop = 2, step = 0}"
            for label, v in vals.items():
                klass = ("non-finite number" if any(w in label for w in ("nan", "inf", "NaN",
                                                                          "1e400"))
                         else "out-of-range number" if label in ("negative", "above the top",
                                                                 "zero")
                         else "non-integer count" if label in ("fraction", "fractional step")
                         else "distribution misuse" if "distribution" in label
                         else "sweep range" if "range" in label or "list" in label
                         else "wrong type")
                text = scenario(**{base: {key.name: v}},
                                model='"llama-2-7b"' if base == "infer" else '"gpt2"',
                                drop=("mfu",) if key.name == "hfu" else ())
                if key.name in ("flops", "params"):
                    text = scenario(train={key.name: v}, model="", drop=("tokens",) if
                                    key.name == "flops" else ())
                out.append(run_sc(klass, f"[{section}] {key.name} = {v} ({label})", text,
                                  say=(key.name,)))
    for key in OPTIMAL.keys:
        if not key.scenario or not key.numeric:
            continue
        for label, v in (("nan", "nan"), ("negative", "-1"), ("garbage text", '"abc"'),
                         ("boolean", "true"), ("10**400", "1" + "0" * 400)) + (
                (("fraction", "1.5"),) if key.integer else ()):
            base = {"flops": "1e21"} if key.name not in ("flops",) else {}
            if key.name in ("gpus", "days", "tflops", "mfu"):
                base = {"gpus": "8", "tflops": "100", "days": "30"}
            body = "".join(f"{k} = {x}\n" for k, x in {**base, key.name: v}.items())
            klass = ("non-finite number" if label in ("nan", "10**400") else
                     "out-of-range number" if label == "negative" else
                     "non-integer count" if label == "fraction" else "wrong type")
            out.append(run_sc(klass, f"[optimal] {key.name} = {v[:12]} ({label})",
                              "[optimal]\n" + body, say=(key.name,)))
    for key in MONTECARLO.keys:
        bad = (("nan", "-1", "1.5", '"many"', "1e30", "inf", "0", '"yes"') if key.kind == "flag"
               else ("nan", "-1", "1.5", '"many"', "true") + (
                   ("1e12", "0") if key.name == "samples" else ("1e30", "inf")))
        for v in bad:
            text = scenario(train={"mfu": "{low = 0.3, high = 0.5}"},
                            extra=f"\n[montecarlo]\n{key.name} = {v}\n")
            out.append(run_sc("monte-carlo", f"[montecarlo] {key.name} = {v}", text,
                              say=(key.name,)))
    return out


DISTRIBUTIONS = {
    "NaN sd": "{mean = 0.4, sd = nan}",
    "infinite sd": "{mean = 0.4, sd = inf}",
    "negative sd": "{mean = 0.4, sd = -0.1}",
    "NaN low": "{low = nan, high = 0.5}",
    "low above high": "{low = 0.5, high = 0.3}",
    "low equals high": "{low = 0.4, high = 0.4}",
    "mode outside": "{low = 0.3, mode = 0.9, high = 0.5}",
    "mean outside the range": "{mean = 2, sd = 0.1}",
    "lognormal median 0": "{median = 0, sigma = 0.1}",
    "lognormal negative sigma": "{median = 0.4, sigma = -1}",
    "lognormal sigma inf": "{median = 0.4, sigma = inf}",
    "unknown parameters": "{low = 0.3, high = 0.5, shape = 2}",
    "dist name": '{dist = "beta", a = 1, b = 2}',
    "uniform past the range": "{low = 0.3, high = 1.5}",
    "text parameters": '{low = "a", high = "b"}',
    "boolean parameters": "{low = true, high = false}",
}


def distribution_cases():
    out = [run_sc("distribution misuse", f"mfu = {v} ({k})", scenario(train={"mfu": v}),
                  say=("mfu",)) for k, v in DISTRIBUTIONS.items()]
    for key, v in (("gpus", "{low = 8, high = 16}"), ("gpus", "{mean = 16, sd = 4}"),
                   ("zero", "{low = 0, high = 3}"), ("tp", "{median = 2, sigma = 0.5}"),
                   ("hardware", "{low = 1, high = 2}"), ("precision", "{mean = 1, sd = 1}"),
                   ("seq_len", "{low = 512, high = 2048}")):
        out.append(run_sc("distribution misuse", f"distribution over {key}: {v}",
                          scenario(train={key: v}), say=(key,)))
    out.append(run_sc("distribution misuse", "distribution over infer batch",
                      scenario(infer={"batch": "{low = 1, high = 8}"}, model='"llama-2-7b"'),
                      say=("batch",)))
    return out


# --- the file itself -----------------------------------------------------------------------------

DEEP = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
FILE_CASES = [
    case("unreadable file", "scenario missing", "run", "{d}/nope.toml", say=("nope.toml",)),
    case("unreadable file", "scenario is a folder", "run", "{d}/dir.toml",
         files={"dir.toml": FOLDER}, say=("folder",)),
    case("unreadable file", "scenario is /dev/zero", "run", "/dev/zero", say=("regular file",)),
    case("unreadable file", "scenario is /dev/urandom", "run", "/dev/urandom",
         say=("regular file",)),
    case("unreadable file", "scenario is a FIFO", "run", "{d}/p.toml", files={"p.toml": FIFO},
         say=("regular file",)),
    case("unreadable file", "scenario links to /dev/zero", "run", "{d}/z.toml",
         files={"z.toml": Link("/dev/zero")}, say=("regular file",)),
    run_sc("unreadable file", "scenario binary", b"\x89PNG\r\n\x1a\n\x00\xff" * 100,
           say=("UTF-8",)),
    run_sc("unreadable file", "scenario latin-1", 'title = "caf\xe9"\n'.encode("latin-1"),
           say=("UTF-8",)),
    run_sc("unreadable file", "scenario UTF-16", GOOD_TRAIN.encode("utf-16"), say=("UTF-8",)),
    run_sc("unreadable file", "scenario 2 MiB", "# " + "x" * (2 * 2**20) + "\n",
           say=("MiB",)),
    run_sc("malformed TOML", "empty scenario", "", say=("nothing to compute",)),
    run_sc("malformed TOML", "only comments", "# a scenario\n", say=("nothing to compute",)),
    run_sc("malformed TOML", "not TOML", "this is not toml\n", say=("TOML",)),
    run_sc("malformed TOML", "JSON instead", '{"train": {"gpus": 8}}', say=("TOML",)),
    run_sc("malformed TOML", "duplicate key", GOOD_TRAIN + "gpus = 16\n", say=("TOML",)),
    run_sc("malformed TOML", "arrays 100,000 deep", DEEP, say=("nested",)),
    run_sc("malformed TOML", "inline tables 100,000 deep",
           "a = " + "{b = " * 100_000 + "1" + "}" * 100_000 + "\n", say=("nested",)),
    run_sc("malformed TOML", "NUL byte", GOOD_TRAIN.replace("gpus", "gp\x00us"), say=("TOML",)),
    run_sc("wrong type", "train is a number", 'model = {name = "gpt2"}\ntrain = 5\n',
           say=("train",)),
    run_sc("wrong type", "train is an array of tables", '[model]\nname = "gpt2"\n[[train]]\n'
           'gpus = 8\n', say=("train",)),
    run_sc("wrong type", "scenario is a number", "scenario = 5\n", say=("scenario",)),
    run_sc("wrong type", "scenario list of numbers", "scenario = [1, 2]\n", say=("scenario",)),
    run_sc("wrong type", "model is a number", "model = 5\n[train]\ngpus = 8\n", say=("model",)),
    run_sc("wrong type", "model name is a number", GOOD_TRAIN.replace('"gpt2"', "5"),
           say=("model",)),
    run_sc("wrong type", "expect is a number", GOOD_TRAIN.replace("[model]", "expect = 5\n"
                                                                  "[model]"), say=("expect",)),
    run_sc("wrong type", "expect value is text", GOOD_TRAIN + '[expect]\ndays = "soon"\n',
           say=("days",)),
    run_sc("wrong type", "expect value NaN", GOOD_TRAIN + "[expect]\ndays = nan\n",
           say=("days",)),
    run_sc("wrong type", "expect rel is text", GOOD_TRAIN + '[expect]\ndays = {value = 1, rel '
                                                           '= "x"}\n', say=("days",)),
    run_sc("wrong type", "goodput given as text", scenario(train={"goodput": '"no"'}),
           say=("goodput",)),
    run_sc("wrong type", "goodput given as 1", scenario(train={"goodput": "1"}),
           say=("goodput",)),
    run_sc("wrong type", "flash_attn given as text", scenario(infer={"flash_attn": '"yes"'},
                                                              model='"llama-2-7b"'),
           say=("flash_attn",)),
    run_sc("wrong type", "range log given as text",
           scenario(infer={"context": '{start = 512, stop = 4096, num = 4, log = "yes"}'},
                    model='"llama-2-7b"'), say=("log",)),
    run_sc("wrong type", "list mixing types", scenario(train={"gpus": '[8, "sixteen"]'}),
           say=("gpus",)),
    run_sc("wrong type", "hardware is a number", scenario(train={"hardware": "5"}),
           say=("hardware",)),
    run_sc("wrong type", "precision is a list of lists", scenario(train={"precision":
                                                                         '[["bf16"]]'}),
           say=("precision",)),
    run_sc("unknown name", "unknown top-level key", "trian = 5\n" + GOOD_TRAIN,
           say=("trian",)),
    run_sc("unknown name", "unknown section key", scenario(train={"gpu": "8"}), say=("gpu",)),
    run_sc("unknown name", "unknown infer key", scenario(infer={"devise": '"x"'},
                                                         model='"llama-2-7b"'),
           say=("devise",)),
    run_sc("unknown name", "unknown [expect] key", GOOD_TRAIN + "[expect]\ndayz = 1\n",
           say=("dayz",)),
    run_sc("unknown name", "unknown [expect] key with --check", GOOD_TRAIN +
           "[expect]\ncost = 1\n", "--check", say=("cost",)),
    run_sc("unknown name", "unknown device", scenario(train={"hardware": '"a1OO-80gb"'}),
           say=("a1OO-80gb",)),
    run_sc("unknown name", "unknown device in a sweep", scenario(train={
        "hardware": '["a100-80gb", "h1OO"]'}), say=("h1OO",)),
    run_sc("unknown name", "unknown model", scenario(train={}, model='"gtp2"'), say=("gtp2",)),
    run_sc("unknown name", "unknown model in a sweep", scenario(train={}, model='["gpt2", '
                                                                       '"gtp3"]'),
           say=("gtp3",)),
    run_sc("unknown name", "unknown quant", scenario(infer={"quant": '"q4_k_x"'},
                                                     model='"llama-2-7b"'), say=("q4_k_x",)),
    run_sc("unknown name", "model name and config", '[model]\nname = "gpt2"\nconfig = "x.json"'
                                                    '\n[train]\ngpus = 8\n', say=("config",)),
    run_sc("long name", "300-char model name", scenario(train={}, model='"' + "m" * 300 + '"')),
    run_sc("long name", "300-char device", scenario(train={"hardware": '"' + "h" * 300 + '"'})),
    run_sc("long name", "2,000-char model name", scenario(train={}, model='"' + "m" * 2000 +
                                                          '"'), say=("model",)),
    run_sc("long name", "300-char [expect] key", GOOD_TRAIN + "[expect]\n" + "k" * 300 +
           " = 1\n"),
    run_sc("long name", "300-char key", scenario(train={"k" * 300: "1"})),
    run_sc("missing input", "train without tokens", scenario(train={}, drop=("tokens",)),
           say=("tokens",)),
    run_sc("missing input", "train without a model", scenario(train={}, model=""),
           say=("model",)),
    run_sc("missing input", "infer without a device", scenario(infer={}, model='"llama-2-7b"',
                                                               drop=("device",))),
    run_sc("contradictory keys", "mfu and hfu", scenario(train={"hfu": "0.45"}),
           say=("mfu", "hfu")),
    run_sc("contradictory keys", "flops and tokens", scenario(train={"flops": "1e21"},
                                                              model=""),
           say=("flops", "tokens")),
    run_sc("contradictory keys", "flops and params", scenario(train={"flops": "1e21", "params":
                                                                     '"1B"'}, model="",
                                                              drop=("tokens",)),
           say=("flops", "params")),
    run_sc("contradictory keys", "model and flops", scenario(train={"flops": "1e21"},
                                                             drop=("tokens",)),
           say=("model", "flops")),
    run_sc("contradictory keys", "two global batches", scenario(train={
        "global_batch": "8", "global_batch_tokens": '"4M"'}), say=("global_batch",)),
    run_sc("contradictory keys", "optimal flops and gpus", '[optimal]\nflops = 1e21\ngpus = 8\n'
                                                           'hardware = "a100-80gb"\ndays = 30\n',
           say=("flops", "gpus")),
    run_sc("contradictory keys", "optimal hardware and tflops", '[optimal]\ngpus = 8\nhardware '
                                                                '= "a100-80gb"\ntflops = 100\n'
                                                                'days = 30\n',
           say=("hardware", "tflops")),
    run_sc("non-finite number", "tokens = 10**400 (a TOML integer)",
           scenario(train={"tokens": "1" + "0" * 400}), say=("tokens",)),
    run_sc("non-finite number", "mfu low = 10**400", scenario(train={
        "mfu": "{low = 0.3, high = 1" + "0" * 400 + "}"}), say=("mfu",)),
    run_sc("non-finite number", "[expect] value 10**400", GOOD_TRAIN + "[expect]\ndays = 1" +
           "0" * 400 + "\n", say=("days",)),
    run_sc("long name", "a 500,000-character key", scenario(train={"k" * 500_000: "1"})),
    run_sc("long name", "a 300-character title", 'title = "' + "t" * 300 + '"\n' + GOOD_TRAIN,
           say=("title",)),
    run_sc("long name", "a device name with a newline", scenario(train={
        "hardware": '"a1OO\\nfoo"'})),
    run_sc("huge work", "1,001 [[scenario]] tables", "".join(
        '[[scenario]]\nmodel = "gpt2"\n[scenario.train]\ntokens = "1B"\n' for _ in range(1001)),
        say=("1,001",)),
    run_sc("inconsistent layout", "tp 3 on 32 heads", scenario(train={"tp": "3", "gpus": "24"},
                                                               model='"llama-2-7b"'),
           say=("tp",)),
    run_sc("inconsistent layout", "tp 3 in every row of a sweep", scenario(
        train={"tp": "3", "gpus": "[24, 48]"}, model='"llama-2-7b"'), say=("tp", "every")),
]

# Files a scenario names: [model] config = ... and model = {file = ...}.
MODEL_REF_CASES = [
    run_sc("unreadable file", "[model] config is /dev/zero",
           '[model]\nconfig = "/dev/zero"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
           'gpus = 8\n'),
    run_sc("unreadable file", "[model] config is a FIFO",
           '[model]\nconfig = "{d}/p.json"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
           'gpus = 8\n', files={"p.json": FIFO}),
    run_sc("unreadable file", "[model] config is binary",
           '[model]\nconfig = "{d}/b.json"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
           'gpus = 8\n', files={"b.json": b"\xff\xfe\x00" * 50}, say=("UTF-8",)),
    run_sc("unreadable file", "[model] config is missing",
           '[model]\nconfig = "{d}/none.json"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
           'gpus = 8\n'),
    run_sc("absurd architecture", "inline model with a million layers",
           '[model]\nvocab_size = 100\nd_model = 64\nn_layers = 1000000\nn_heads = 4\n'
           'd_ff = 128\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n',
           say=("n_layers",)),
    run_sc("absurd architecture", "inline model with NaN width",
           '[model]\nvocab_size = 100\nd_model = nan\nn_layers = 2\nn_heads = 4\n'
           'd_ff = 128\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n',
           say=("d_model",)),
    run_sc("absurd architecture", "inline model with text width",
           '[model]\nvocab_size = 100\nd_model = "wide"\nn_layers = 2\nn_heads = 4\n'
           'd_ff = 128\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n',
           say=("d_model",)),
    run_sc("wrong type", "inline model boolean as text",
           '[model]\nvocab_size = 100\nd_model = 64\nn_layers = 2\nn_heads = 4\n'
           'd_ff = 128\ntie_embeddings = "no"\n[train]\ntokens = "1B"\nhardware = "a100-80gb"\n'
           'gpus = 8\n', say=("tie_embeddings",)),
    case("absurd architecture", "train config.json with a million layers", "train", "{d}/m",
         "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8",
         files={"m/config.json": '{"model_type": "llama", "hidden_size": 64, '
                                 '"intermediate_size": 160, "num_hidden_layers": 1000000, '
                                 '"num_attention_heads": 4, "vocab_size": 100}'},
         say=("num_hidden_layers",)),
    case("absurd architecture", "infer config.json with 10^12 context", "infer", "{d}/m",
         "--device", "rtx-4090",
         files={"m/config.json": '{"model_type": "llama", "hidden_size": 64, '
                                 '"intermediate_size": 160, "num_hidden_layers": 2, '
                                 '"num_attention_heads": 4, "vocab_size": 100, '
                                 '"max_position_embeddings": 1000000000000}'},
         say=("max_position_embeddings",)),
    case("unreadable file", "infer model file is /dev/zero", "infer", "/dev/zero", "--device",
         "rtx-4090"),
    case("unreadable file", "train model file is a FIFO", "train", "{d}/m.toml", "--tokens",
         "1B", "--hardware", "a100-80gb", "--gpus", "8", files={"m.toml": FIFO},
         say=("regular file",)),
    case("unreadable file", "finetune model config binary", "finetune", "{d}/m", "--device",
         "rtx-4090", files={"m/config.json": b"\x00\xff" * 100}, say=("UTF-8",)),
    case("unreadable file", "parallel model config nested deep", "parallel", "{d}/m",
         "--hardware", "a100-80gb", "--gpus", "8",
         files={"m/config.json": "[" * 100_000 + "]" * 100_000}, say=("nested",)),
]


# --- hardware CSV files --------------------------------------------------------------------------

HEADER = ["name", "aliases", "vendor", "category", "memory", "memory_bandwidth_gbs",
          "bf16_tflops", "fp16_tflops", "tdp_w", "price_usd_per_hour", "default_mfu",
          "unified_memory"]
ROW = {"name": "my-gpu", "aliases": "mygpu", "vendor": "Acme", "category": "datacenter",
       "memory": "80GB", "memory_bandwidth_gbs": "2000", "bf16_tflops": "300",
       "fp16_tflops": "300", "tdp_w": "500", "price_usd_per_hour": "2", "default_mfu": "0.4",
       "unified_memory": "false"}


def hw_csv(rows: list[dict] | None = None, header=HEADER) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows if rows is not None else [ROW]:
        w.writerow(r)
    return buf.getvalue()


BAD_CELLS = {
    "memory_bandwidth_gbs": ("fast", "nan", "-2000", "0", "inf", "1e400", ""),
    "memory": ("-80GB", "0GB", "80", "nanGB", "80 parsecs", "1e400GB", "infGB", ""),
    "tdp_w": ("nan", "-500", "inf", "watts"),
    "price_usd_per_hour": ("-2", "nan", "1e400", "$2/h"),
    "default_mfu": ("1.5", "nan", "-0.4"),
    "bf16_tflops": ("nan", "-300", "1e400", "lots"),
    "unified_memory": ("maybe", "2"),
}


def hardware_cases():
    out = []
    for col, values in BAD_CELLS.items():
        for v in values:
            text = hw_csv([{**ROW, col: v}])
            klass = ("non-finite number" if v.lower().startswith(("nan", "inf", "1e400"))
                     else "out-of-range number" if v.startswith("-") or v in ("0", "0GB", "1.5")
                     else "hardware CSV cell")
            for cmd in ("train", "infer", "hardware"):
                argv = {"train": ("train", "gpt2", "--tokens", "1B", "--hardware", "my-gpu",
                                  "--gpus", "8", "--mfu", "0.4"),
                        "infer": ("infer", "llama-2-7b", "--device", "my-gpu"),
                        "hardware": ("hardware", "my-gpu")}[cmd]
                out.append(case(klass, f"{cmd}: hardware CSV {col} = {v!r}", *argv,
                                "--hardware-file", "{d}/hw.csv", files={"hw.csv": text},
                                say=("hw.csv", "line 2", col if col != "memory" else "memory")))
            env_case = case(klass, f"PLANNER_HARDWARE_PATH: {col} = {v!r}", "train", "gpt2",
                            "--tokens", "1B", "--hardware", "my-gpu", "--gpus", "8", "--mfu",
                            "0.4", files={"hw/x.csv": text},
                            env={"PLANNER_HARDWARE_PATH": "{d}/hw"}, say=("x.csv", "line 2"))
            out.append(env_case)
    return out


HW_FILE_CASES = [
    case("unreadable file", "hardware file missing", "hardware", "--hardware-file",
         "{d}/none.csv", say=("none.csv",)),
    case("unreadable file", "hardware file is a folder", "hardware", "--hardware-file",
         "{d}/dir.csv", files={"dir.csv": FOLDER}),
    case("unreadable file", "hardware file is /dev/zero", "train", "gpt2", "--tokens", "1B",
         "--hardware", "a100-80gb", "--gpus", "8", "--hardware-file", "/dev/zero"),
    case("unreadable file", "hardware file is a FIFO", "infer", "llama-2-7b", "--device",
         "rtx-4090", "--hardware-file", "{d}/p.csv", files={"p.csv": FIFO}),
    case("unreadable file", "hardware file binary", "hardware", "--hardware-file",
         "{d}/b.csv", files={"b.csv": b"\x89PNG\x00\xff" * 100}, say=("UTF-8",)),
    case("unreadable file", "hardware file latin-1", "hardware", "--hardware-file",
         "{d}/l.csv", files={"l.csv": hw_csv([{**ROW, "vendor": "Ac\xe9"}]).encode("latin-1")},
         say=("UTF-8",)),
    case("unreadable file", "hardware file 9 MiB", "hardware", "--hardware-file", "{d}/big.csv",
         files={"big.csv": hw_csv() + ("#" * 1000 + "\n") * 9500}, say=("MiB",)),
    case("malformed CSV", "hardware file empty", "hardware", "--hardware-file", "{d}/e.csv",
         files={"e.csv": ""}, say=("e.csv",)),
    case("malformed CSV", "hardware file lacks bandwidth", "hardware", "--hardware-file",
         "{d}/m.csv", files={"m.csv": "name,memory\nx,80GB\n"}, say=("memory_bandwidth_gbs",)),
    case("malformed CSV", "hardware file with a NUL", "hardware", "--hardware-file",
         "{d}/n.csv", files={"n.csv": hw_csv().replace("Acme", "Ac\x00me")}),
    case("malformed CSV", "hardware file unterminated quote", "hardware", "my-gpu",
         "--hardware-file", "{d}/q.csv", files={"q.csv": hw_csv().replace("Acme", '"Acme')}),
    case("long name", "hardware row named with 300 chars", "hardware", "x" * 300,
         "--hardware-file", "{d}/h.csv", files={"h.csv": hw_csv([{**ROW, "name": "x" * 300}])}),
    case("unreadable file", "PLANNER_HARDWARE_PATH not a folder", "hardware",
         env={"PLANNER_HARDWARE_PATH": "{d}/nowhere"}, say=("PLANNER_HARDWARE_PATH",)),
    case("unreadable file", "PLANNER_HARDWARE_PATH holds a FIFO", "hardware",
         files={"hw/p.csv": FIFO}, env={"PLANNER_HARDWARE_PATH": "{d}/hw"}),
    case("unreadable file", "PLANNER_HARDWARE_PATH holds a folder .csv", "hardware",
         files={"hw/d.csv": FOLDER}, env={"PLANNER_HARDWARE_PATH": "{d}/hw"}),
    case("unreadable file", "PLANNER_HARDWARE_PATH holds /dev/zero", "hardware",
         files={"hw/z.csv": Link("/dev/zero")}, env={"PLANNER_HARDWARE_PATH": "{d}/hw"}),
    case("unreadable file", "PLANNER_HARDWARE_PATH is /dev/zero", "hardware",
         env={"PLANNER_HARDWARE_PATH": "/dev/zero"}, say=("PLANNER_HARDWARE_PATH",)),
    case("unreadable file", "run --hardware-file binary", "run", "{d}/s.toml", "--hardware-file",
         "{d}/b.csv", files={"s.toml": GOOD_TRAIN, "b.csv": b"\xff" * 100}, say=("UTF-8",)),
    case("unreadable file", "compare --hardware-file missing", "compare", "{d}/s.toml",
         "{d}/s.toml", "--hardware-file", "{d}/none.csv", files={"s.toml": GOOD_TRAIN}),
]


# --- report and compare ---------------------------------------------------------------------------

REPORT_CASES = [
    case("unreadable file", "report /dev/zero", "report", "/dev/zero", "-o", "{d}/r.html",
         say=("regular file",)),
    case("unreadable file", "report a FIFO", "report", "{d}/p.toml", "-o", "{d}/r.html",
         files={"p.toml": FIFO}, say=("regular file",)),
    case("unreadable file", "report a folder", "report", "{d}/dir", "-o", "{d}/r.html",
         files={"dir": FOLDER}),
    case("unreadable file", "report binary", "report", "{d}/b.toml", "-o", "{d}/r.html",
         files={"b.toml": b"\xff\x00" * 64}, say=("UTF-8",)),
    case("unreadable file", "report missing", "report", "{d}/none.toml", "-o", "{d}/r.html"),
    case("malformed TOML", "report malformed", "report", "{d}/s.toml", "-o", "{d}/r.html",
         files={"s.toml": "not toml"}, say=("TOML",)),
    case("output path", "report -o not html", "report", "{d}/s.toml", "-o", "{d}/r.txt",
         files={"s.toml": GOOD_TRAIN}, say=(".html",)),
    case("output path", "report -o missing folder", "report", "{d}/s.toml", "-o",
         "{d}/no/r.html", files={"s.toml": GOOD_TRAIN}, say=("does not exist",)),
    case("output path", "report -o is a folder", "report", "{d}/s.toml", "-o", "{d}/r.html",
         files={"s.toml": GOOD_TRAIN, "r.html": FOLDER}, say=("folder",)),
    case("output path", "report -o in /proc", "report", "{d}/s.toml", "-o", "/proc/r.html",
         files={"s.toml": GOOD_TRAIN}),
    case("output path", "report -o a FIFO", "report", "{d}/s.toml", "-o", "{d}/f.html",
         files={"s.toml": GOOD_TRAIN, "f.html": FIFO}),
    case("lost file", "report of a scenario named .html onto itself", "report", "{d}/p.html",
         files={"p.html": GOOD_TRAIN}, say=("input file",)),
    case("lost file", "report -o the scenario itself, through a link", "report", "{d}/s.toml",
         "-o", "{d}/l.html", files={"s.toml": GOOD_TRAIN, "l.html": Link("s.toml")},
         say=("input file",)),
    case("lost file", "report of a failing scenario keeps the old page", "report",
         "{d}/s.toml", "-o", "{d}/r.html",
         files={"s.toml": scenario(train={"hardware": '"a1OO-80gb"'}), "r.html": SENTINEL},
         say=("a1OO-80gb",)),
    case("lost file", "report: default output of a failing scenario", "report", "{d}/s.toml",
         files={"s.toml": scenario(train={"hardware": '"a1OO-80gb"'}), "s.html": SENTINEL}),
    case("unreadable file", "compare /dev/zero", "compare", "/dev/zero", "/dev/zero",
         say=("regular file",)),
    case("unreadable file", "compare a FIFO", "compare", "{d}/p.toml", "{d}/p.toml",
         files={"p.toml": FIFO}, say=("regular file",)),
    case("unreadable file", "compare binary", "compare", "{d}/b.toml", "{d}/b.toml",
         files={"b.toml": b"\xff" * 10}, say=("UTF-8",)),
    case("unreadable file", "compare missing", "compare", "{d}/a.toml", "{d}/none.toml",
         files={"a.toml": GOOD_TRAIN}, say=("none.toml",)),
    case("wrong type", "compare a sweep", "compare", "{d}/a.toml", "{d}/b.toml",
         files={"a.toml": GOOD_TRAIN, "b.toml": SWEEP}, say=("sweep",)),
    case("wrong type", "compare train with infer", "compare", "{d}/a.toml", "{d}/b.toml",
         files={"a.toml": GOOD_TRAIN, "b.toml": GOOD_INFER}),
    case("unknown name", "compare a scenario with a typo", "compare", "{d}/a.toml",
         "{d}/b.toml", files={"a.toml": GOOD_TRAIN,
                              "b.toml": scenario(train={"hardware": '"a1OO-80gb"'})},
         say=("a1OO-80gb",)),
]


# --- outputs of planner run ----------------------------------------------------------------------

TYPO = scenario(train={"hardware": '"a1OO-80gb"'})
OUT_CASES = [
    case("garbage number", "run --chunk-rows 0", "run", "{d}/s.toml", "--chunk-rows", "0",
         files={"s.toml": GOOD_TRAIN}, say=("--chunk-rows",)),
    case("garbage number", "run --chunk-rows nan", "run", "{d}/s.toml", "--chunk-rows", "nan",
         files={"s.toml": GOOD_TRAIN}, say=("--chunk-rows",)),
    case("garbage number", "run --max-rows -5", "run", "{d}/s.toml", "--max-rows=-5",
         files={"s.toml": GOOD_TRAIN}, say=("--max-rows",)),
    case("garbage number", "run --max-rows 1e6", "run", "{d}/s.toml", "--max-rows", "1e6",
         files={"s.toml": GOOD_TRAIN}, say=("--max-rows",)),
    case("garbage number", "report --max-rows 0", "report", "{d}/s.toml", "--max-rows", "0",
         "-o", "{d}/r.html", files={"s.toml": GOOD_TRAIN}, say=("--max-rows",)),
    case("contradictory keys", "run --json and --format csv", "run", "{d}/s.toml", "--json",
         "--format", "csv", files={"s.toml": GOOD_TRAIN}, say=("--json", "--format")),
    case("contradictory keys", "params --json and --format markdown", "params", "gpt2",
         "--json", "--format", "markdown", say=("--json",)),
    case("unknown name", "models with an extra argument", "models", "bogus"),
    case("output path", "--out in a missing folder", "run", "{d}/s.toml", "--out",
         "{d}/no/such/out.csv", files={"s.toml": GOOD_TRAIN}, say=("does not exist",)),
    case("output path", "--out in a read-only folder", "run", "{d}/s.toml", "--out",
         "{d}/ro/out.csv", files={"s.toml": GOOD_TRAIN}, readonly=("ro",)),
    case("output path", "--out in /proc", "run", "{d}/s.toml", "--out", "/proc/out.csv",
         files={"s.toml": GOOD_TRAIN}),
    case("output path", "--out is a folder", "run", "{d}/s.toml", "--out", "{d}/o.csv",
         files={"s.toml": GOOD_TRAIN, "o.csv": FOLDER}, say=("folder",)),
    case("output path", "--out is a FIFO", "run", "{d}/s.toml", "--out", "{d}/f.csv",
         files={"s.toml": GOOD_TRAIN, "f.csv": FIFO}),
    case("output path", "--out links to /dev/null", "run", "{d}/s.toml", "--out", "{d}/n.csv",
         files={"s.toml": GOOD_TRAIN, "n.csv": Link("/dev/null")}),
    case("output path", "--out unknown type", "run", "{d}/s.toml", "--out", "{d}/out.xlsx",
         files={"s.toml": GOOD_TRAIN}, say=(".xlsx",)),
    case("output path", "--out without a suffix", "run", "{d}/s.toml", "--out", "{d}/out",
         files={"s.toml": GOOD_TRAIN}),
    case("output path", "--out 300-char name", "run", "{d}/s.toml", "--out",
         "{d}/" + "o" * 300 + ".csv", files={"s.toml": GOOD_TRAIN}),
    case("output path", "--plot in a missing folder", "run", "{d}/s.toml", "--plot",
         "{d}/no/p.png", files={"s.toml": GOOD_TRAIN}, say=("does not exist",)),
    case("output path", "--plot unknown type", "run", "{d}/s.toml", "--plot", "{d}/p.txt",
         files={"s.toml": GOOD_TRAIN}, say=(".txt",)),
    case("lost file", "--plot unknown type keeps --out", "run", "{d}/s.toml", "--out",
         "{d}/out.csv", "--plot", "{d}/p.txt",
         files={"s.toml": GOOD_TRAIN, "out.csv": SENTINEL}, say=(".txt",)),
    case("lost file", "--out onto the scenario itself", "run", "{d}/s.md", "--out", "{d}/s.md",
         files={"s.md": GOOD_TRAIN}, say=("input file",)),
    case("lost file", "--out onto the hardware file", "run", "{d}/s.toml", "--out", "{d}/h.csv",
         "--hardware-file", "{d}/h.csv", files={"s.toml": GOOD_TRAIN, "h.csv": hw_csv()},
         say=("input file",)),
    case("lost file", "--plot onto --out", "run", "{d}/s.toml", "--out", "{d}/o.png",
         "--plot", "{d}/o.png", files={"s.toml": GOOD_TRAIN}),
    case("output path", "--out in a folder that is a file", "run", "{d}/s.toml", "--out",
         "{d}/s.toml/out.csv", files={"s.toml": GOOD_TRAIN}),
    case("lost file", "device typo keeps --out", "run", "{d}/s.toml", "--out", "{d}/out.csv",
         files={"s.toml": TYPO, "out.csv": SENTINEL}, say=("a1OO-80gb",)),
    case("lost file", "device typo keeps --out json", "run", "{d}/s.toml", "--out",
         "{d}/out.json", files={"s.toml": TYPO, "out.json": SENTINEL}),
    case("lost file", "device typo keeps --out parquet", "run", "{d}/s.toml", "--out",
         "{d}/out.parquet", files={"s.toml": TYPO, "out.parquet": SENTINEL}),
    case("lost file", "device typo keeps --out markdown", "run", "{d}/s.toml", "--out",
         "{d}/out.md", files={"s.toml": TYPO, "out.md": SENTINEL}),
    case("lost file", "malformed scenario keeps --out", "run", "{d}/s.toml", "--out",
         "{d}/out.csv", files={"s.toml": "not toml", "out.csv": SENTINEL}),
    case("lost file", "bad --where keeps --out", "run", "{d}/s.toml", "--out", "{d}/out.csv",
         "--where", "device < 5", files={"s.toml": SWEEP, "out.csv": SENTINEL}),
    case("lost file", "bad --sort keeps --out", "run", "{d}/s.toml", "--out", "{d}/out.csv",
         "--sort", "dayz", files={"s.toml": SWEEP, "out.csv": SENTINEL}),
    case("lost file", "a second scenario's typo keeps --out", "run", "{d}/s.toml", "--out",
         "{d}/out.csv", files={"s.toml": '[[scenario]]\nmodel = "gpt2"\n[scenario.train]\n'
                                         'tokens = "1B"\nhardware = "a100-80gb"\ngpus = 8\n'
                                         'mfu = 0.4\n[[scenario]]\nmodel = "gpt2"\n'
                                         '[scenario.train]\ntokens = "1B"\nhardware = '
                                         '"h1OO"\ngpus = 8\nmfu = 0.4\n',
                               "out.csv": SENTINEL}, say=("h1OO",)),
    case("lost file", "typo keeps --out with --json to stdout", "run", "{d}/s.toml", "--json",
         "--out", "{d}/out.csv", files={"s.toml": TYPO, "out.csv": SENTINEL}),
    case("lost file", "huge sweep refused keeps --out", "run", "{d}/s.toml", "--out",
         "{d}/out.csv", "--max-rows", "5", files={"s.toml": SWEEP, "out.csv": SENTINEL},
         say=("--max-rows",)),
]


# --- --where and --sort --------------------------------------------------------------------------

WHERE = {
    "text column ordered": ("device < 5", ("device",)),
    "text column ordered by text": ("device >= h100", ("device",)),
    "boolean ordered": ("meets_deadline < 1", ("meets_deadline",)),
    "unit that does not fit days": ("days <= 30GB", ("days", "30GB")),
    "unit that does not fit cost": ("cost_usd < 30d", ("cost_usd", "30d")),
    "unit that does not fit memory": ("memory_per_gpu_bytes < 5M$", ("memory_per_gpu_bytes",)),
    "bytes without a unit word": ("memory_per_gpu_bytes < 80 parsecs", ("memory_per_gpu_bytes",)),
    "NaN": ("days <= nan", ("days",)),
    "infinity": ("days <= inf", ("days",)),
    "1e400": ("days <= 1e400", ("days",)),
    "garbage number": ("days <= soon", ("days",)),
    "unknown column": ("dayz < 30", ("dayz",)),
    "no value": ("days <", ()),
    "no column": ("< 30", ()),
    "just and": ("and", ()),
    "or or": ("days < 3 or or gpus > 8", ()),
    "parentheses": ("(days < 30)", ()),
    "code": ("__import__('os').system('true')", ()),
    "numeric column compared with text": ("gpus == lots", ("gpus",)),
    "not of a number": ("not days", ("days",)),
    "300-char column": ("c" * 300 + " < 1", ()),
    "100 clauses": (" and ".join(["fits_memory"] * 100), ("clauses",)),
    "5,000 clauses": (" and ".join(["days < 30"] * 5000), ("characters",)),
    "100,000 characters": ("days < " + "9" * 100_000, ()),
    "commas typo": ("tokens < 1,,,0", ("tokens",)),
}
SORT = {"unknown column": "dayz", "only a minus": "-", "empty items": ",,,",
        "300-char column": "s" * 300, "code": "__import__('os')"}


def where_cases():
    out = [case("--where/--sort", f"--where {name}", "run", "{d}/s.toml", "--where", expr,
                files={"s.toml": SWEEP}, say=("--where",) + say)
           for name, (expr, say) in WHERE.items()]
    out += [case("--where/--sort", f"--sort {name}", "run", "{d}/s.toml", "--sort", spec,
                 files={"s.toml": SWEEP}, say=("--sort",)) for name, spec in SORT.items()]
    out += [case("--where/--sort", "--where on infer: bytes misfit", "run", "{d}/s.toml",
                 "--where", "total_bytes < 16 days", files={"s.toml": GOOD_INFER},
                 say=("total_bytes",))]
    return out


ALL = (key_cases() + distribution_cases() + FILE_CASES + MODEL_REF_CASES + hardware_cases()
       + HW_FILE_CASES + REPORT_CASES + OUT_CASES + where_cases())


def test_battery_size():
    assert len(ALL) > 400
    assert len({c.id for c in ALL}) == len(ALL), [c.id for c in ALL
                                                  if [d.id for d in ALL].count(c.id) > 1]


@pytest.mark.parametrize("c", ALL, ids=lambda c: c.id)
def test_hostile_file(cli, tmp_path, c):
    if c.readonly and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders (the /proc case covers this)")
    o = run_case(cli, c, tmp_path)
    assert o.outcome == GOOD, (c.id, o.outcome, o.detail)


# --- right answers -------------------------------------------------------------------------------

def _rows(cli, path, *more) -> list[dict]:
    r = cli("run", str(path), "--json", *more)
    assert r.code == 0, r.err
    return r.json()


WHERE_RIGHT = [  # (expression with a unit, the same condition in the column's own unit)
    ("days <= 0.003d", lambda r: r["days"] <= 0.003),
    ("days <= 4.32min", lambda r: r["days"] <= 0.003),
    ("days < 0.1h", lambda r: r["days"] < 0.1 / 24),
    ("days > 1e-3", lambda r: r["days"] > 1e-3),
    ("cost_usd < $3", lambda r: r["cost_usd"] < 3),
    ("cost_usd < 0.003k", lambda r: r["cost_usd"] < 3),
    ("memory_per_gpu_bytes < 0.95GB", lambda r: r["memory_per_gpu_bytes"] < 0.95e9),
    ("memory_per_gpu_bytes < 0.9GiB", lambda r: r["memory_per_gpu_bytes"] < 0.9 * 2**30),
    ("memory_per_gpu_bytes >= 9e8", lambda r: r["memory_per_gpu_bytes"] >= 9e8),
    ("gpu_hours < 1", lambda r: r["gpu_hours"] < 1),
    ("gpu_hours < 60min", lambda r: r["gpu_hours"] < 1),
    ("seconds >= 3min", lambda r: r["seconds"] >= 180),
    ("gpus > 1.5e1", lambda r: r["gpus"] > 15),
    ("seconds >= 2min and device == h100-sxm",
     lambda r: r["seconds"] >= 120 and r["device"] == "h100-sxm"),
    ("device != a100-80gb or days > 0.008", lambda r: r["device"] != "a100-80gb"
     or r["days"] > 0.008),
]


@pytest.mark.parametrize("expr,keep", WHERE_RIGHT, ids=[e for e, _ in WHERE_RIGHT])
def test_where_reads_units_by_column(cli, tmp_path, expr, keep):
    """`--where` reads a value in the column's unit: a duration compared with `days` is
    converted to days, `$10` with cost_usd, `80GB` with bytes; a bare number is the column's
    own unit.  The kept rows are exactly those the same test keeps on the unfiltered output."""
    p = tmp_path / "s.toml"
    p.write_text(SWEEP)
    everything = _rows(cli, p)
    kept = _rows(cli, p, "--where", expr)
    want = [r for r in everything if keep(r)]
    assert kept == want
    assert 0 < len(want) < len(everything), (expr, len(want))
    record("right answer", RIGHT)


def test_user_row_takes_over_a_builtin_alias(cli, tmp_path):
    """A hardware CSV row named like a built-in alias ('h100') answers to that name; the
    built-in device keeps its canonical name; other devices are unaffected."""
    p = tmp_path / "hw.csv"
    p.write_text(hw_csv([{**ROW, "name": "h100", "aliases": "", "memory": "40GB"}]))
    mine = cli("hardware", "h100", "--hardware-file", str(p), "--json").json()
    assert mine["memory_bytes"] == 40e9
    builtin = cli("hardware", "h100-sxm", "--hardware-file", str(p), "--json").json()
    assert builtin["memory_bytes"] == 80 * 2**30   # H100 SXM5 80 GB HBM3 = 80 GiB physical
    other = cli("hardware", "a100-80gb", "--hardware-file", str(p), "--json")
    assert other.code == 0, other.err
    record("right answer", RIGHT)


@pytest.mark.parametrize("col,value", [(c, v) for c, vs in BAD_CELLS.items() for v in vs[:2]])
def test_a_bad_row_does_not_poison_the_others(cli, tmp_path, col, value):
    """A bad row errors only when its device is asked for; every other device, built-in or in
    the same file, still answers."""
    p = tmp_path / "hw.csv"
    p.write_text(hw_csv([{**ROW, col: value}, {**ROW, "name": "good-gpu", "aliases": ""}]))
    for name in ("a100-80gb", "good-gpu"):
        r = cli("train", "gpt2", "--tokens", "1B", "--hardware", name, "--gpus", "8", "--mfu",
                "0.4", "--hardware-file", str(p), "--json")
        assert r.code == 0, (name, r.err)
    listed = cli("hardware", "--hardware-file", str(p), "--json")
    assert listed.code == 0 and "good-gpu" in listed.out and '"my-gpu"' not in listed.out
    record("right answer", RIGHT)


def test_failed_run_leaves_no_temporary_files(cli, tmp_path):
    """A run that fails after the output was opened removes its temporary file and keeps the
    old output (the run_case snapshot checks the same for every case above)."""
    s = tmp_path / "s.toml"
    s.write_text(SWEEP)
    out = tmp_path / "out.csv"
    out.write_bytes(SENTINEL)
    r = cli("run", str(s), "--out", str(out), "--where", "device < 5")
    assert r.code == 2
    assert out.read_bytes() == SENTINEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "s.toml"]
    ok = cli("run", str(s), "--out", str(out))
    assert ok.code == 0 and out.read_bytes() != SENTINEL
    record("right answer", RIGHT)


def test_a_sweep_with_some_impossible_rows_says_so(cli, tmp_path):
    """`tp = [1, 3]` on a 32-head model: the tp 1 row is answered, the tp 3 row is not, and the
    output says so (the table, and a warning on stderr with --json) instead of n/a in silence."""
    p = tmp_path / "s.toml"
    p.write_text(scenario(train={"tp": "[1, 3]", "gpus": "24"}, model='"llama-2-7b"'))
    table = cli("run", str(p))
    assert table.code == 0 and "1 row could not be answered" in table.out
    assert "--tp 3 does not divide the 32 attention heads" in table.out
    rows = cli("run", str(p), "--json")
    assert rows.code == 0 and rows.err.startswith("Warning: ")
    errors = [r["error"] for r in rows.json()]
    assert errors[0] is None and "--tp 3" in errors[1]
    record("right answer", RIGHT)


# --- hypothesis: any TOML value for any key; any --where expression ------------------------------

def _toml_float(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf") if math.isinf(x) else repr(x)


scalars = st.one_of(st.floats().map(_toml_float), st.integers(-10**30, 10**30).map(str),
                    st.booleans().map(lambda b: str(b).lower()),
                    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
                    .map(lambda t: json.dumps(t, ensure_ascii=True)),
                    st.sampled_from(['"1B"', '"30d"', '"80GB"', '"$2/h"', '"2TB/s"', '"bf16"']))
tables = st.dictionaries(st.sampled_from(["low", "high", "mean", "sd", "mode", "median", "sigma",
                                          "start", "stop", "step", "num", "log", "dist"]),
                         scalars, min_size=1, max_size=4).map(
    lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")
toml_values = st.one_of(scalars, tables, st.lists(scalars, max_size=4).map(
    lambda xs: "[" + ", ".join(xs) + "]"))
FUZZ_KEYS = sorted(k.name for k in TRAIN.keys if k.scenario)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(FUZZ_KEYS), toml_values)
def test_any_scenario_value_is_an_answer_or_one_clean_error(cli, tmp_path_factory, key, value):
    c = run_sc("hypothesis: scenario values", f"{key} = {value}",
               scenario(train={key: value}, drop=("mfu",) if key == "hfu" else ()))
    o = run_case(cli, c, tmp_path_factory.mktemp("hs"), valid=None)
    assert o.outcome in (GOOD, ANSWERED), (c.id, o.outcome, o.detail)


WHERE_WORDS = ["days", "cost_usd", "gpus", "device", "meets_deadline", "memory_per_gpu_bytes",
               "dayz", "not", "and", "or", "<", "<=", "==", "!=", ">", "=", "30d", "1M", "$5",
               "80GB", "2TB/s", "nan", "inf", "-1", "1,,,0", "h100-sxm", "true", "(", ")",
               "'x'", "0.5", "1e400", "__import__"]


COLUMNS = ["days", "cost_usd", "gpus", "device", "meets_deadline", "memory_per_gpu_bytes",
           "seconds", "gpu_hours", "tokens_per_s", "error", "dayz"]
VALUES = ["30d", "0.003", "1M", "$5", "80GB", "0.9GiB", "2TB/s", "1e-3", "h100-sxm", "true",
          "nan", "-1", "1,,,0", "720h", "5 apples", "'a100-80gb'", "1e400", "3 months"]
clause = st.one_of(st.sampled_from(COLUMNS), st.tuples(
    st.sampled_from(["", "not "]), st.sampled_from(COLUMNS),
    st.sampled_from(["<", "<=", ">", ">=", "==", "=", "!="]), st.sampled_from(VALUES)).map(
    lambda t: f"{t[0]}{t[1]} {t[2]} {t[3]}"))
expressions = st.one_of(
    st.lists(st.tuples(st.sampled_from([" and ", " or "]), clause), min_size=1, max_size=4)
    .map(lambda xs: "".join(j + c for j, c in xs)[5:] if xs[0][0] == " and " else
         "".join(j + c for j, c in xs)[4:]),
    st.lists(st.sampled_from(WHERE_WORDS), min_size=1, max_size=7).map(" ".join))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(expressions)
def test_any_where_expression_is_an_answer_or_one_clean_error(cli, tmp_path_factory, expr):
    c = case("hypothesis: --where", expr, "run", "{d}/s.toml", "--where", expr,
             files={"s.toml": SWEEP})
    o = run_case(cli, c, tmp_path_factory.mktemp("hw"), valid=None)
    assert o.outcome in (GOOD, ANSWERED), (c.id, o.outcome, o.detail)
