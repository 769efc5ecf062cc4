"""Hostile and careless model inputs (issue 9, the MODEL part): every case through the CLI
(`planner params FILE`) must give exit status 2, one `Error:` line naming the problem, no
traceback - never a hang, a memory blow-up or a plausible wrong answer."""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from conftest import assert_user_error

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 160,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "vocab_size": 100, "max_position_embeddings": 128}
GOOD_TOML = {"name": '"tiny"', "vocab_size": "100", "d_model": "64", "n_layers": "2",
             "n_heads": "4", "d_ff": "128"}


def folder_with(tmp_path: Path, text: str | bytes) -> Path:
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    f = d / "config.json"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    return d


def raw_config(mutate) -> str:
    cfg = dict(LLAMA)
    mutate(cfg)
    return json.dumps(cfg)


# --- config.json ---------------------------------------------------------------------------------

CONFIG_CASES = {
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, ["nested more than 64"]),
    "object nested deep": ('{"a":' * 50_000 + "1" + "}" * 50_000, ["nested more than 64"]),
    "binary": (b"\x89PNG\r\n\x1a\n\xff\xfe\x00" * 10, ["not UTF-8"]),
    "empty": ("", ["not valid JSON"]),
    "array": ("[1, 2, 3]", ["not a JSON object"]),
    "a million layers": (raw_config(lambda c: c.update(num_hidden_layers=1_000_000)),
                         ["'num_hidden_layers'", "10,000"]),
    "10^12 context": (raw_config(lambda c: c.update(max_position_embeddings=10**12)),
                      ["'max_position_embeddings'", "1,073,741,824"]),
    "vocab 10^12": (raw_config(lambda c: c.update(vocab_size=10**12)), ["'vocab_size'"]),
    "string size": (raw_config(lambda c: c.update(hidden_size="4096")), ["'hidden_size'"]),
    "float layers": (raw_config(lambda c: c.update(num_hidden_layers=2.5)),
                     ["'num_hidden_layers'", "2.5"]),
    "infinite size": (raw_config(lambda c: c.update(hidden_size=1e400)), ["'hidden_size'"]),
    "NaN size": (raw_config(lambda c: c.update(hidden_size=float("nan"))), ["'hidden_size'"]),
    "5,000-digit size": (json.dumps(LLAMA)[:-1] + ', "vocab_size": ' + "9" * 5000 + "}",
                         ["not valid JSON"]),
    "bool as string": (raw_config(lambda c: c.update(tie_word_embeddings="no")),
                       ["'tie_word_embeddings' must be true or false"]),
    "model_type list": (raw_config(lambda c: c.update(model_type=["llama"])),
                        ["model_type must be a short string"]),
    "model_type huge": (raw_config(lambda c: c.update(model_type="x" * 100_000)),
                        ["model_type must be a short string"]),
    "architectures of objects": (json.dumps({"architectures": [{"a": 1}], "hidden_size": 8}),
                                 ["no model_type"]),
    "heads as list": (raw_config(lambda c: c.update(num_attention_heads=[4])),
                      ["'num_attention_heads'"]),
    "layer_types a string": (json.dumps(json.load(open(
        Path(__file__).parent / "data" / "hf" / "gpt-oss-20b" / "config.json")) | {
        "layer_types": "sliding"}), ["'layer_types' must be a list"]),
    "negative window": (raw_config(lambda c: c.update(model_type="mistral", sliding_window=-5)),
                        ["'sliding_window'"]),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_hostile_config_json(cli, tmp_path, case):
    text, fragments = CONFIG_CASES[case]
    folder = folder_with(tmp_path, text)
    assert_user_error(cli("params", str(folder)), *fragments)
    assert_user_error(cli("params", str(folder / "config.json")), *fragments)


def test_oversized_config_is_refused_before_reading(cli, tmp_path):
    folder = folder_with(tmp_path, "{}")
    with open(folder / "config.json", "r+b") as fh:
        fh.truncate(10 * 2**20)  # sparse 10 MiB
    assert_user_error(cli("params", str(folder)), "larger than", "4.0 MiB")


def test_config_that_is_a_device_fifo_or_folder(cli, tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "config.json").symlink_to("/dev/zero")
    assert_user_error(cli("params", str(dev)), "not a regular file")
    assert_user_error(cli("params", str(dev / "config.json")), "not a regular file")
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "config.json")
    assert_user_error(cli("params", str(fifo)), "not a regular file")  # no hang on open
    nested = tmp_path / "nested"
    (nested / "config.json").mkdir(parents=True)
    assert_user_error(cli("params", str(nested)), "is a folder")


# --- safetensors headers and the index -----------------------------------------------------------

def with_safetensors(tmp_path: Path, header: bytes, data: int = 0,
                     length: int | None = None) -> Path:
    folder = folder_with(tmp_path, json.dumps(LLAMA))
    n = len(header) if length is None else length
    with open(folder / "model.safetensors", "wb") as fh:
        fh.write(struct.pack("<Q", n) + header)
        fh.truncate(8 + len(header) + data)
    return folder


def entry(dtype="F16", shape=(4, 4), offsets=(0, 32)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


HEADER_CASES = {
    "length 2^63": (b"{}", 0, 2**63, ["header length"]),
    "not an object": (b"[1, 2]", 0, None, ["not a JSON object"]),
    "nested deep": (b"[" * 10_000 + b"]" * 10_000, 0, None, ["nested more than 64"]),
    "not UTF-8": (b'{"\xff\xfe": 1}', 0, None, ["not UTF-8"]),
    "metadata a list": (json.dumps({"__metadata__": [1, 2], "w": entry()}).encode(), 32, None,
                        ["'__metadata__' must be an object"]),
    "entry a string": (json.dumps({"w": "F16"}).encode(), 0, None, ["'w'", "not an object"]),
    "negative shape": (json.dumps({"w": entry(shape=(-4, 4))}).encode(), 32, None,
                       ["shape must be"]),
    "bool in shape": (json.dumps({"w": entry(shape=(True, 4))}).encode(), 32, None,
                      ["shape must be"]),
    "offsets past the end": (json.dumps({"w": entry(offsets=(0, 10**12))}).encode(), 32, None,
                             ["data_offsets"]),
    "offsets reversed": (json.dumps({"w": entry(offsets=(32, 0))}).encode(), 32, None,
                         ["data_offsets"]),
    "unknown dtype": (json.dumps({"w": entry(dtype="F128")}).encode(), 32, None,
                      ["dtype 'F128'"]),
    "giant shape": (json.dumps({"w": entry(shape=(2**62, 2**62))}).encode(), 32, None,
                    ["shape must be"]),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_hostile_safetensors_header(cli, tmp_path, case):
    header, data, length, fragments = HEADER_CASES[case]
    folder = with_safetensors(tmp_path, header, data, length)
    assert_user_error(cli("params", str(folder)), *fragments)


def test_huge_file_reads_only_its_header(cli, tmp_path):
    """A 64 GiB (sparse) checkpoint: only the 8-byte length and the header are read."""
    folder = folder_with(tmp_path, json.dumps(LLAMA))
    header = json.dumps({"w": entry(shape=(2**16, 2**18), offsets=(0, 2**35))}).encode()
    with open(folder / "model.safetensors", "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.truncate(8 + len(header) + 2**35)
    r = cli("params", str(folder), "--json")
    assert r.code == 0 and r.json()["safetensors_params"] == 2**34


INDEX_CASES = {
    "metadata a list": ({"metadata": [1], "weight_map": {"a": "x.safetensors"}},
                        ["'metadata' must be an object"]),
    "weight_map a list": ({"metadata": {}, "weight_map": ["x.safetensors"]},
                          ["'weight_map' must be an object"]),
    "shard outside the folder": ({"weight_map": {"a": "../../etc/passwd"}},
                                 ["expected a file name"]),
    "shard not a string": ({"weight_map": {"a": 5}}, ["expected a file name"]),
    "total_size a string": ({"metadata": {"total_size": "lots"}, "weight_map": {"a": "x.st"}},
                            ["total_size"]),
    "not an object": ([1, 2], ["expected a JSON object"]),
}


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
def test_hostile_safetensors_index(cli, tmp_path, case):
    index, fragments = INDEX_CASES[case]
    folder = folder_with(tmp_path, json.dumps(LLAMA))
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert_user_error(cli("params", str(folder)), *fragments)


def test_index_nested_deep(cli, tmp_path):
    folder = folder_with(tmp_path, json.dumps(LLAMA))
    (folder / "model.safetensors.index.json").write_text("[" * 100_000 + "]" * 100_000)
    assert_user_error(cli("params", str(folder)), "nested more than 64")


# --- model TOML ------------------------------------------------------------------------------------

def toml_text(**changes) -> str:
    keys = {**GOOD_TOML, **changes}
    return "".join(f"{k} = {v}\n" for k, v in keys.items() if v is not None)


TOML_CASES = {
    "bool as string": (toml_text(tie_embeddings='"no"'), ["tie_embeddings must be true or false"]),
    "bool as number": (toml_text(qkv_bias="0"), ["qkv_bias must be true or false"]),
    "a million layers": (toml_text(n_layers="1_000_000"), ["n_layers", "1..10,000"]),
    "10^12 context": (toml_text(context="1_000_000_000_000"), ["context", "1,073,741,824"]),
    "float context": (toml_text(context="1e12"), ["context"]),
    "vocab 10^12": (toml_text(vocab_size="1_000_000_000_000"), ["vocab_size"]),
    "size as bool": (toml_text(d_model="true"), ["d_model"]),
    "size as string": (toml_text(d_model='"64"'), ["d_model"]),
    "300-character name": (toml_text(name='"' + "x" * 300 + '"'), ["1..200 characters"]),
    "name not text": (toml_text(name="5"), ["model name must be text"]),
    "aliases a string": (toml_text(aliases='"tiny2"'), ["aliases must be a list"]),
    "aliases of numbers": (toml_text(aliases="[1, 2]"), ["aliases must be a list"]),
    "vision a string": (toml_text(vision='"big"'), ["'vision' must be a table"]),
    "vision missing keys": (toml_text(vision="{ d_model = 8 }"), ["vision", "n_layers"]),
    "published figure as text": (toml_text(published_params='"lots"'),
                                 ["published_params must be a number"]),
    "published figure NaN": (toml_text(published_params="nan"),
                             ["published_params must be a number"]),
    "bad attention pattern": (toml_text(sliding_window="8", attention_pattern='"LXG"'),
                              ["attention_pattern"]),
    "pattern without window": (toml_text(attention_pattern='"LG"'), ["sliding_window"]),
    "experts per token > experts": (toml_text(n_experts="4", experts_per_token="5"),
                                    ["experts_per_token", "n_experts=4"]),
    "latent rank without heads": (toml_text(kv_lora_rank="16"), ["head_dim", "v_head_dim"]),
    "model a number": ("model = 5\n", ["'model' must be a table"]),
    "model array of numbers": ("model = [1, 2]\n", ["a model must be a table"]),
    "nested arrays": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", ["nested"]),
    "binary": ("\udcff", ["not UTF-8"]),
    "unknown key": (toml_text(d_modle="64"), ["d_modle", "d_model"]),
}


@pytest.mark.parametrize("case", sorted(TOML_CASES))
def test_hostile_model_toml(cli, tmp_path, case):
    text, fragments = TOML_CASES[case]
    f = tmp_path / "model.toml"
    f.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert_user_error(cli("params", str(f)), *fragments)


def test_model_toml_device_and_size(cli, tmp_path):
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    assert_user_error(cli("params", str(link)), "not a regular file")
    big = tmp_path / "big.toml"
    with open(big, "wb") as fh:
        fh.truncate(20 * 2**20)
    assert_user_error(cli("params", str(big)), "larger than")


# --- the MODEL argument ----------------------------------------------------------------------------

@pytest.mark.parametrize("arg,fragments", [
    ("x" * 300, ["300 characters"]),
    ("y" * 5000, ["5,000 characters"]),
    ("/dev/zero", ["not a regular file"]),
    ("a" * 300 + ".json", ["characters"]),
    ("a" * 300 + ".toml", ["characters"]),
])
def test_hostile_model_argument(cli, arg, fragments):
    assert_user_error(cli("params", arg), *fragments)
