"""`planner models` and `planner params`: the DESIGN.md contract keys, formats, the human
derivation of GPT-3 175B, and the error contract (one 'Error:' line, exit 2)."""
from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from conftest import assert_user_error


def test_models_json_lists_zoo(cli):
    r = cli("models", "--json")
    assert r.code == 0
    rows = r.json()
    assert len(rows) >= 35
    by_name = {row["name"]: row for row in rows}
    assert by_name["gpt3-175b"]["params"] == 174_604_259_328
    for needed in ("transformer-base", "transformer-big", "gpt-1", "gpt2-xl", "gpt3-2.7b",
                   "llama-33b", "llama-2-70b", "llama-3-8b", "llama-3.1-405b", "mistral-7b",
                   "mixtral-8x7b", "falcon-40b", "opt-175b", "bloom-176b", "gpt-j-6b",
                   "gpt-neox-20b", "chinchilla-70b", "gopher-280b"):
        assert needed in by_name, needed


def test_params_json_contract(cli):
    r = cli("params", "gpt3-175b", "--json")
    assert r.code == 0, r.err
    d = r.json()
    for key in ("params", "active_params", "non_embedding_params", "neurons", "breakdown"):
        assert key in d
    assert d["params"] == 174_604_259_328 and d["neurons"] == 10_616_832
    assert set(d["breakdown"]) == {"embedding", "positions", "attention", "mlp", "norms",
                                   "lm_head"}


def test_params_human_shows_the_derivation(cli):
    r = cli("params", "GPT3-175B")
    out = r.out
    for text in ("617,558,016", "25,165,824", "603,979,776", "x 96 layers", "174,604,259,328",
                 "174.6 B", "10,616,832", "human brain"):
        assert text in out, text


def test_params_formats(cli):
    r = cli("params", "llama-2-7b", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(r.out)))
    assert int(row["params"]) == 6_738_415_616 and "breakdown.mlp" in row
    r = cli("params", "llama-2-7b", "--format", "markdown")
    assert r.out.startswith("| name") and "6738415616" in r.out
    r = cli("params", "mixtral-8x7b")
    assert "active per token" in r.out and "12.88 B" in r.out


def test_params_model_toml(cli, tmp_path):
    # A Llama-style toy written by hand: rotary (no position table), no biases, SwiGLU, RMSNorm.
    f = tmp_path / "tiny.toml"
    f.write_text('name = "tiny"\nvocab_size = 1000\nd_model = 64\nn_layers = 2\nn_heads = 4\n'
                 'd_ff = 256\nmlp = "swiglu"\nnorm = "rmsnorm"\npositions = "rotary"\n'
                 'qkv_bias = false\nattn_out_bias = false\nmlp_bias = false\n'
                 'tie_embeddings = false\n')
    r = cli("params", str(f), "--json")
    assert r.code == 0, r.err
    per_layer = 4 * 64 * 64 + 3 * 64 * 256 + 2 * 64
    assert r.json()["params"] == 1000 * 64 + 2 * per_layer + 64 + 1000 * 64


def test_unknown_model_suggests_closest(cli):
    assert_user_error(cli("params", "lama-2-7b"), "unknown model", "llama-2-7b")
    assert_user_error(cli("params", "gpt3-175"), "gpt3-175b")


GOOD = {"name": '"x"', "vocab_size": "100", "d_model": "64", "n_layers": "2", "n_heads": "4",
        "d_ff": "8"}


@pytest.mark.parametrize("change,fragments", [
    ({"d_model": "0"}, ["d_model"]),                      # zero size
    ({"n_layers": "-2"}, ["n_layers"]),                   # negative size
    ({"n_heads": "5"}, ["does not divide"]),              # heads that do not divide d_model
    ({"d_model": None, "d_modle": "64"}, ["d_modle", "d_model"]),  # typo: closest key named
])
def test_bad_model_files(cli, tmp_path, change, fragments):
    keys = {**GOOD, **change}
    f = tmp_path / "bad.toml"
    f.write_text("".join(f"{k} = {v}\n" for k, v in keys.items() if v is not None))
    assert_user_error(cli("params", str(f)), *fragments)


def test_broken_and_missing_model_files(cli, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x\n')
    assert_user_error(cli("params", str(broken)), "malformed TOML")
    assert_user_error(cli("params", str(tmp_path / "missing.toml")), "does not exist")


def test_unknown_command_and_option(cli):
    assert_user_error(cli("parms", "gpt2"), "did you mean", "params")
    assert_user_error(cli("params", "gpt2", "--jsn"), "--jsn")
    assert_user_error(cli("params", "gpt2", "--format", "yaml"), "yaml")


def test_console_script_runs_as_a_process():
    # The real entry point: exit status and stderr of a separate process.
    p = subprocess.run([sys.executable, "-m", "planner", "params", "nope-7b"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("Error: ") and "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "planner", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "params" in p.stdout
