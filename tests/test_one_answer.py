"""One plan, one answer (issue 8): the same plan given as command options and as a scenario
row gives the same figures, the same errors and the same nulls, because both run the same
evaluator.  The matrix holds the six plans where the two used to disagree, a predicted-
utilisation plan, and inference plans on a laptop, an Apple machine and a GPU."""
from __future__ import annotations

import json
import math

import pytest

# (command args, scenario TOML of the same plan)
TRAIN = [
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100-40gb", "--gpus", "1024",
      "--recompute", "full", "--hfu", "0.4487"],
     'model = "gpt3-175b"\n[train]\ntokens = "300B"\nhardware = "a100-40gb"\ngpus = 1024\n'
     'recompute = "full"\nhfu = 0.4487\n'),
    (["gpt3-175b", "--tokens", "300B", "--hardware", "a100-40gb", "--gpus", "16", "--mfu",
      "0.4"],
     'model = "gpt3-175b"\n[train]\ntokens = "300B"\nhardware = "a100-40gb"\ngpus = 16\n'
     'mfu = 0.4\n'),
    (["llama-3-70b", "--tokens", "15T", "--hardware", "h100-sxm", "--gpus", "2048", "--mfu",
      "0.4"],
     'model = "llama-3-70b"\n[train]\ntokens = "15T"\nhardware = "h100-sxm"\ngpus = 2048\n'
     'mfu = 0.4\n'),
    (["llama-2-7b", "--tokens", "2T", "--hardware", "a100-80gb", "--gpus", "64", "--mfu",
      "0.9", "--recompute", "full"],
     'model = "llama-2-7b"\n[train]\ntokens = "2T"\nhardware = "a100-80gb"\ngpus = 64\n'
     'mfu = 0.9\nrecompute = "full"\n'),
    (["--flops", "3e23", "--hardware", "a100-80gb", "--gpus", "64", "--recompute", "selective"],
     '[train]\nflops = 3e23\nhardware = "a100-80gb"\ngpus = 64\nrecompute = "selective"\n'),
    (["llama-2-7b", "--tokens", "1T", "--hardware", "h100-sxm", "--gpus", "256", "--mfu",
      "0.4"],
     'model = "llama-2-7b"\n[train]\ntokens = "1T"\nhardware = "h100-sxm"\ngpus = 256\n'
     'mfu = 0.4\n'),
    (["llama-2-7b", "--tokens", "2T", "--hardware", "a100-80gb", "--gpus", "2048"],
     'model = "llama-2-7b"\n[train]\ntokens = "2T"\nhardware = "a100-80gb"\ngpus = 2048\n'),
    (["llama-2-70b", "--tokens", "2T", "--hardware", "h100-sxm", "--deadline", "30d"],
     'model = "llama-2-70b"\n[train]\ntokens = "2T"\nhardware = "h100-sxm"\n'
     'deadline = "30d"\n'),
]
INFER = [
    (["llama-2-7b", "--device", "laptop-16gb", "--quant", "Q4_K_M"],
     'model = "llama-2-7b"\n[infer]\ndevice = "laptop-16gb"\nquant = "Q4_K_M"\n'),
    (["llama-2-13b", "--device", "m2-max-32gb", "--quant", "Q8_0", "--context", "8192"],
     'model = "llama-2-13b"\n[infer]\ndevice = "m2-max-32gb"\nquant = "Q8_0"\n'
     'context = 8192\n'),
    (["mistral-7b", "--device", "rtx-4090", "--quant", "fp16", "--batch", "4"],
     'model = "mistral-7b"\n[infer]\ndevice = "rtx-4090"\nquant = "fp16"\nbatch = 4\n'),
]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


@pytest.mark.parametrize("kind,args,toml", [("train", a, t) for a, t in TRAIN]
                         + [("infer", a, t) for a, t in INFER])
def test_command_and_scenario_agree(cli, tmp_path, kind, args, toml):
    path = tmp_path / "plan.toml"
    path.write_text(toml)
    run = cli("run", path, "--json")
    cmd = cli(kind, *args, "--json")
    if run.code == 2:
        # The same check fails the same way: a scenario whose one row has no answer is an
        # error too (issue 9: not a row of nulls and exit 0), with the command's reason.
        reason = cmd.err.strip().removeprefix("Error: ")
        assert cmd.code == 2 and run.err.strip().endswith(f"[{kind}]: {reason}"), \
            (cmd.err, run.err)
        return
    assert run.code == 0, run.err
    (row,) = json.loads(run.out)
    assert row["error"] is None, row
    assert cmd.code == 0, cmd.err
    rec = cmd.json()
    rec = rec[0] if isinstance(rec, list) else rec
    compared = 0
    for key, value in row.items():
        if key in ("scenario", "kind") or key not in rec:
            continue
        assert _same(rec[key], value), (key, rec[key], value)
        compared += 1
    assert compared >= (40 if kind == "train" else 30)
    # Nulls stay null: a figure that was not asked for (no grid intensity -> no CO2).
    if kind == "train":
        assert rec["co2_kg"] is None and row["co2_kg"] is None
