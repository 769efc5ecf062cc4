"""`planner ui` over HTTP (no browser): every answer is the command line's ``--json`` record
for the same inputs, the page's command line and downloads reproduce it, bad input gets the
CLI's error beside its field, and the server's limits hold.  (The browser drives the same
routes in test_ui_browser.py.)

Expected values here are never computed by the page's code: they come from running the
command line (`planner ... --json`) on the same inputs, or from the published figure named.
"""
from __future__ import annotations

import json
import shlex
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from planner.ui.server import Settings, make_server

HF = Path(__file__).parent / "data" / "hf"


@pytest.fixture(scope="module")
def server():
    srv = make_server(Settings(port=0, max_rows=50_000))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(server, path: str, data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body bytes) of one request."""
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def form(server, name: str, **query):
    status, _, body = call(server, f"/api/form/{name}?" + urlencode(query))
    return status, json.loads(body)


def post(server, path: str, text: str, **headers):
    return call(server, path, text.encode(), {"X-Planner": "1", **headers})


CASES = [
    ("params", {"model": "gpt3-175b"}),
    ("params", {"model": "mixtral-8x7b"}),
    ("train", {"model": "gpt3-175b", "tokens": "300B", "hardware": "a100-80gb",
               "gpus": "1024"}),
    ("train", {"model": "llama-2-70b", "tokens": "2T", "hardware": "h100-sxm",
               "deadline": "30d", "price": "$2.50/h"}),
    ("train", {"flops": "3.14e23", "tflops": "10", "mfu": "1", "deadline": "3 months"}),
    ("train", {"model": "llama-2-7b", "budget": "$100k", "hardware": "a100-80gb",
               "sequence_parallel": "true", "tp": "2"}),
    ("infer", {"model": "llama-2-7b", "device": "rtx-4090", "quant": "Q4_0"}),
    ("infer", {"model": "llama-2-13b", "device": "m2-max-32gb", "quant": "all"}),
    ("infer", {"model": "mistral-7b", "memory": "16GB", "bandwidth": "100GB/s",
               "context": "8192", "flash_attn": "false", "discrete": "true"}),
    ("optimal", {"flops": "5.76e23"}),
    ("optimal", {"gpus": "1024", "hardware": "h100-sxm", "days": "30",
                 "method": "besiroglu"}),
    ("parallel", {"model": "llama-2-7b", "hardware": "h100-sxm", "gpus": "64",
                  "global_batch": "512", "seq_len": "4096"}),
    ("parallel", {"model": "gpt3-175b", "hardware": "a100-80gb", "gpus": "512,1024",
                  "global_batch": "1536", "seq_len": "2048", "tp": "8", "top": "3"}),
    ("fits", {"device": "rtx-3060-12gb", "context": "8192", "min_speed": "10"}),
    ("fits", {"memory": "32GB", "bandwidth": "120GB/s", "sort": "speed"}),
    # a repeatable option: one field, comma-separated; the command repeats --hardware
    ("serve", {"model": "llama-3.1-70b", "rate": "20/s", "ttft": "1s", "tpot": "50ms",
               "hardware": "h100-sxm, h200"}),
    ("serve", {"model": "llama-2-70b", "hardware": "h100-sxm", "tp": "2", "quant": "fp8",
               "engine": "trtllm", "prompt": "400", "output": "294", "concurrency": "max"}),
    ("serve", {"model": "llama-2-70b", "hardware": "h100-sxm", "tp": "2", "quant": "fp8",
               "rate": "10/s", "replicas": "2"}),
]


@pytest.mark.parametrize("name,query", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                   enumerate(CASES)])
def test_answer_is_the_cli_json_and_its_command_line_prints_it(server, cli, name, query):
    status, data = form(server, name, **query)
    assert status == 200 and data["ok"], data
    # The command line the page offers ("copy as CLI command") prints the very same record.
    words = shlex.split(data["cli"])
    assert words[:2] == ["planner", name]
    res = cli(*words[1:], "--json")
    assert res.code == 0, res.err
    assert data["record"] == res.json()
    # ... and so do the JSON and CSV downloads, byte for byte.
    q = urlencode(query)
    status, headers, body = call(server, f"/api/form/{name}/download.json?{q}")
    assert status == 200 and body.decode() == res.out
    assert headers["Content-Disposition"] == f'attachment; filename="planner-{name}.json"'
    csv = cli(*words[1:], "--format", "csv")
    assert call(server, f"/api/form/{name}/download.csv?{q}")[2].decode() == csv.out
    # the page's text is what the command prints
    assert data["text"] == cli(*words[1:]).out.rstrip("\n")
    # the query string the page puts in its URL reproduces the answer
    assert form(server, name, **dict(_pairs(data["query"])))[1]["record"] == data["record"]


def _pairs(query: str):
    from urllib.parse import parse_qsl
    return parse_qsl(query, keep_blank_values=True)


def test_published_figures_reach_the_page(server):
    """GPT-3 175B: 174.6 B parameters and 3.14e23 training FLOPs (Brown et al. 2020, Table
    D.1: 3.14e23 FLOPs for 300B tokens); tolerance 0.5%."""
    _, p = form(server, "params", model="gpt3-175b")
    assert p["record"]["params"] == pytest.approx(174.6e9, rel=5e-3)
    assert p["headline"][0]["value"] == "174.6 B"
    _, t = form(server, "train", model="gpt3-175b", tokens="300B", hardware="a100-80gb",
                gpus="1024")
    assert t["record"]["flops"] == pytest.approx(3.14e23, rel=5e-3)
    assert "Kaplan 2020" in t["text"] and "PF-days" in t["text"]   # the CLI's sources


def test_scenario_toml_download_reproduces_the_answer(server):
    from planner.whatif.runner import run_scenario
    from planner.whatif.scenario import loads
    query = {"model": "llama-2-70b", "tokens": "2T", "hardware": "h100-sxm",
             "deadline": "30d"}
    _, data = form(server, "train", **query)
    toml = call(server, "/api/form/train/download.toml?" + urlencode(query))[2].decode()
    (outcome,) = run_scenario(loads(toml)[0])
    for k in ("gpus", "seconds", "cost_usd", "memory_per_gpu_bytes"):
        assert outcome.columns[k][0] == pytest.approx(data["record"][k], rel=1e-12), k


def test_params_toml_is_a_model_file_with_the_same_count(server, cli, tmp_path):
    toml = call(server, "/api/form/params/download.toml?model=llama-2-13b")[2].decode()
    path = tmp_path / "model.toml"
    path.write_text(toml)
    assert cli("params", path, "--json").json()["params"] == \
        cli("params", "llama-2-13b", "--json").json()["params"]


def _pasted_vs_cli(server, cli, tmp_path, monkeypatch, name, extra):
    text = (HF / "mistral-7b-v0.1" / "config.json").read_text()
    status, data = form(server, name, config=text, **extra)
    assert status == 200, data
    assert data["cli"].split()[2] == "config.json" and data["cli_note"]
    (tmp_path / "config.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    res = cli(*shlex.split(data["cli"])[1:], "--json")
    assert res.code == 0, res.err
    assert data["record"] == res.json()
    return data


def test_pasted_config_is_read_as_planner_reads_config_json(server, cli, tmp_path,
                                                          monkeypatch):
    data = _pasted_vs_cli(server, cli, tmp_path, monkeypatch, "params", {})
    # Mistral 7B: 7,241,732,096 parameters (model card; safetensors headers)
    assert data["record"]["params"] == 7_241_732_096
    text = (HF / "mistral-7b-v0.1" / "config.json").read_text()
    status, data = form(server, "infer", config=text, device="rtx-4090", quant="Q4_K_M")
    assert status == 200 and data["record"]["model_context"] == 32768   # max_position_embeddings
    _, data = form(server, "params", config="{\"model_type\": \"llama\"")
    assert "not valid JSON" in data["errors"]["model"]
    _, data = form(server, "params", config='{"model_type": "llama"}')
    assert "missing required key 'hidden_size'" in data["errors"]["model"]
    _, data = form(server, "params", config="{}", model="gpt2")
    assert "not both" in data["errors"]["model"]


def test_pasted_config_infer_equals_the_cli(server, cli, tmp_path, monkeypatch):
    _pasted_vs_cli(server, cli, tmp_path, monkeypatch, "infer",
                   {"device": "rtx-4090", "quant": "Q4_K_M"})


INFER_KINDS = [
    # --quant all: one record per weight format, each with the KV cache type asked for
    {"model": "llama-2-7b", "device": "rtx-4090", "quant": "all", "kv_cache": "q8_0"},
    # no device: what the model needs, per weight format
    {"model": "llama-2-7b"},
    {"model": "llama-2-7b", "quant": "Q8_0", "kv_cache": "q8_0"},
]


@pytest.mark.parametrize("query", INFER_KINDS, ids=["quant-all-kv-q8_0", "no-device",
                                                    "no-device-q8_0"])
def test_infer_page_answers_every_kind_as_the_command(server, cli, query):
    """`planner infer` answers three ways (one record; --quant all: one per weight format;
    no device: what the model needs): the page's record is the command's --json, its text
    what the command prints."""
    status, data = form(server, "infer", **query)
    assert status == 200 and data["ok"], data
    words = shlex.split(data["cli"])[1:]
    res = cli(*words, "--json")
    assert res.code == 0, res.err
    assert data["record"] == res.json()
    assert data["text"] == cli(*words).out.rstrip("\n")
    records = data["record"] if isinstance(data["record"], list) else [data["record"]]
    assert {r["kv_cache_type"] for r in records} == {query.get("kv_cache", "f16")}
    for chart in data.get("charts", []):
        assert call(server, chart["url"])[0] == 200, chart["name"]


def test_bad_inputs_are_the_cli_errors_beside_their_fields(server, cli):
    status, data = form(server, "train", model="gpt3-175b", tokens="300X",
                        hardware="a100-8gb", gpus="-3", mfu="1.5")
    assert status == 400 and not data["ok"]
    errors = data["errors"]
    assert set(errors) == {"tokens", "hardware", "gpus", "mfu"}
    assert "cannot read --tokens '300X'" in errors["tokens"]
    assert "did you mean 'a100-80gb'" in errors["hardware"]
    # the same words as the command line's Error: line
    res = cli("train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb",
              "--gpus", "-3")
    assert res.err.strip() == "Error: " + errors["gpus"]
    # conflicts mark both fields; evaluator errors the field they name
    _, data = form(server, "train", model="gpt3", flops="1e23")
    assert set(data["errors"]) == {"model", "flops"}
    _, data = form(server, "train", model="gpt3-175b", tokens="300B", hardware="a100-80gb",
                   gpus="4")
    assert "does not fit" in data["error"] and "gpus" in data["errors"]
    _, data = form(server, "params", model="gpt-5")
    assert "unknown model" in data["errors"]["model"]
    _, data = form(server, "train", bogus="1")
    assert "unknown field 'bogus'" in data["error"]
    # a repeatable field: the bad item is named, with the closest device names
    _, data = form(server, "serve", model="llama-3.1-70b", rate="20/s",
                   hardware="h100-sxm, h100-sxmm")
    res = cli("serve", "llama-3.1-70b", "--rate", "20/s", "-H", "h100-sxm", "-H", "h100-sxmm")
    assert res.err.strip() == "Error: " + data["errors"]["hardware"]
    assert "'h100-sxmm' (did you mean 'h100-sxm'" in data["errors"]["hardware"]
    _, data = form(server, "serve", model="llama-3.1-70b", rate="20/s", hardware=" , ")
    assert "--hardware is empty" in data["errors"]["hardware"]
    # a missing input: the command's error, beside the fields it asks for
    status, data = form(server, "parallel", model="llama-2-7b", hardware="h100-sxm")
    res = cli("parallel", "llama-2-7b", "--hardware", "h100-sxm")
    assert status == 400 and res.err.strip() == "Error: " + data["error"]
    assert set(data["errors"]) == {"", "gpus"}
    _, data = form(server, "serve", model="llama-3.1-70b")
    assert set(data["errors"]) == {"", "rate", "concurrency"}
    _, data = form(server, "fits")
    assert data["error"] == cli("fits").err.strip()[len("Error: "):]
    _, data = form(server, "serve", model="llama-3.1-70b", hardware="rtx-3060-12gb",
                   rate="10", replicas="1")
    assert "weights do not fit" in data["error"] and "tp" in data["errors"]
    # and the server keeps serving
    assert form(server, "params", model="gpt2")[1]["record"]["params"] == 124_439_808


def test_nothing_names_a_file_on_the_server(server):
    for path in ("/etc/passwd", "../../setup.cfg", str(HF / "gpt2"), str(HF / "gpt2" /
                                                                       "config.json")):
        status, data = form(server, "params", model=path)
        assert status == 400 and "unknown model" in data["errors"]["model"], path
        status, data = form(server, "infer", model="gpt2", device=path)
        assert status == 400 and "unknown device" in data["errors"]["device"], path
    for ref in ('config = "/etc/passwd"', 'file = "setup.cfg"'):
        status, _, body = post(server, "/api/whatif", f'[model]\n{ref}\n[infer]\n'
                                                      'device = "rtx-4090"\n')
        assert status == 400 and b"never reads" in body
    status, _, body = post(server, "/api/whatif", '[model]\nname = "/etc/passwd"\n[infer]\n'
                                                  'device = "rtx-4090"\n')
    assert status == 400 and b"unknown model" in body
    # hardware CSV files are not form fields, nor are `planner fits --model FILE`'s models
    for name, query in (("train", {"hardware_file": "/etc/passwd"}),
                        ("serve", {"hardware_file": "/etc/passwd"}),
                        ("fits", {"device": "rtx-4090", "model": str(HF / "gpt2")})):
        status, data = form(server, name, **query)
        assert status == 400 and "unknown field" in data["error"], (name, data)
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/../setup.cfg",
                 "/static/nothing.js"):
        assert call(server, path)[0] == 404, path


def test_whatif_runs_a_pasted_scenario_like_planner_run(server, cli):
    from planner.resources import data_dir
    path = data_dir("scenarios") / "sweep_cluster.toml"
    status, _, body = post(server, "/api/whatif", path.read_text())
    data = json.loads(body)
    assert status == 200 and data["ok"]
    res = cli("run", path)
    assert data["text"].replace("scenario.toml", path.name) == res.out.rstrip("\n")
    assert data["rows"] == 80 and len(data["sections"][0]["head"]) == 25
    csv = post(server, "/api/whatif/download.csv", path.read_text())[2].decode()
    assert csv == cli("run", path, "--format", "csv").out
    js = json.loads(post(server, "/api/whatif/download.json", path.read_text())[2])
    assert js == cli("run", path, "--json").json()


INFER_AND_SERVE = """title = "infer and serve"
[model]
name = "llama-2-7b"
[infer]
device = "rtx-4090"
quant = ["Q4_0", "Q8_0"]
[serve]
hardware = "h100-sxm"
rate = "5/s"
"""


def test_whatif_csv_of_infer_and_serve_sections_is_planner_runs(server, cli, tmp_path):
    """Two sections, one of them [serve]: one CSV with the union of their columns, as
    `planner run --format csv` writes it."""
    path = tmp_path / "scenario.toml"
    path.write_text(INFER_AND_SERVE)
    status, _, body = post(server, "/api/whatif/download.csv", INFER_AND_SERVE)
    res = cli("run", path, "--format", "csv")
    assert res.code == 0, res.err
    assert status == 200 and body.decode() == res.out
    assert [line.split(",")[1] for line in res.out.splitlines()[1:]] == \
        ['"infer"', '"infer"', '"serve"']


MONTE_CARLO = """title = "uncertain"
[model]
name = "llama-2-13b"
[train]
tokens = "2T"
hardware = "h100-sxm"
gpus = 512
mfu = { low = 0.30, high = 0.50 }
deadline = "9d"
[montecarlo]
samples = 500
seed = 7
"""


def test_whatif_checks_expectations_and_monte_carlo(server, cli, tmp_path):
    from planner.resources import data_dir
    path = tmp_path / "scenario.toml"
    path.write_text(MONTE_CARLO)
    data = json.loads(post(server, "/api/whatif", MONTE_CARLO)[2])
    assert data["ok"] and "P10 / P50 / P90" in data["text"]
    assert data["text"] == cli("run", path).out.rstrip("\n")
    path = data_dir("scenarios") / "gpt3.toml"
    data = json.loads(post(server, "/api/whatif", path.read_text())[2])
    assert data["text"].replace("scenario.toml", path.name) == cli("run", path).out.rstrip("\n")
    expect = [c for s in data["sections"] for c in s["expect"]]
    assert expect and all(c["ok"] for c in expect)


def test_limits(server):
    sweep = ('[model]\nname = "llama-2-7b"\n[train]\ntokens = "2T"\nhardware = "h100-sxm"\n'
             'gpus = {start = 1, stop = 60000, step = 1}\n')
    status, _, body = post(server, "/api/whatif", sweep)
    assert status == 400 and b"60,000 rows" in body and b"--max-rows 50,000" in body
    # a body over the limit is refused from its Content-Length, unread
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /api/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Planner: 1\r\n"
                     b"Content-Length: 600000\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):     # the server closes the connection after
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"at most 524,288" in reply
    status, _, body = call(server, "/api/whatif", b"title = 'x'", {})
    assert status == 400 and b"X-Planner" in body
    status, _, _ = call(server, "/api/form/params?model=" + "x" * 70_000)
    assert status == 414
    status, _, body = post(server, "/api/whatif", "title = [")
    assert status == 400 and b"malformed TOML" in body
    status, _, body = call(server, "/api/meta", headers={"Host": "attacker.example"})
    assert status == 403
    status, _, body = call(server, "/api/form/params?" + "&".join(f"k{i}=1" for i in
                                                                range(100)))
    assert status == 400 and b"more than 64 fields" in body
    assert call(server, "/api/meta")[0] == 200     # still serving


def test_security_headers_and_assets(server):
    status, headers, body = call(server, "/")
    assert status == 200 and b"/static/app.js" in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name in ("app.js", "style.css"):
        assert call(server, f"/static/{name}")[0] == 200
    # offline: the page loads nothing from another host
    for name in ("index.html", "app.js", "style.css"):
        text = (Path(__file__).parents[1] / "planner" / "ui" / "static" / name).read_text()
        assert "http://" not in text and "https://" not in text, name


def test_meta_lists_forms_from_the_key_tables(server):
    from planner.plan.train import TRAIN
    meta = json.loads(call(server, "/api/meta")[2])
    forms = {f["name"]: f for f in meta["forms"]}
    assert list(forms) == ["params", "train", "parallel", "optimal", "infer", "fits", "serve"]
    fields = {f["name"]: f for f in forms["train"]["fields"]}
    # every command-line key is a field, with the table's words (no server-file keys)
    assert set(fields) == {k.name for k in TRAIN.keys if k.cli} - {"hardware_file"}
    assert fields["mfu"]["valid"] == TRAIN["mfu"].range_text() == "(0, 1]"
    assert fields["pue"]["default"] == "1.2" and fields["hardware"]["widget"] == "device"
    assert fields["recompute"]["choices"] == ["none", "selective", "full"]
    assert any(m["name"] == "gpt3-175b" for m in meta["models"])
    assert any(d["name"] == "h100-sxm" for d in meta["devices"])
    assert "gpt3" in meta["examples"]
    # repeatable keys are one comma-separated field; file keys never fields
    serve = {f["name"]: f for f in forms["serve"]["fields"]}
    assert serve["hardware"]["multiple"] and serve["hardware"]["widget"] == "device"
    assert "comma-separated" in serve["hardware"]["placeholder"]
    assert "comma-separated" in serve["hardware"]["help"]
    assert "hardware_file" not in serve
    fits = {f["name"] for f in forms["fits"]["fields"]}
    assert "model" not in fits and "hardware_file" not in fits and "device" in fits
    assert not forms["fits"]["toml"] and forms["serve"]["toml"]


def test_a_registered_form_gets_a_tab_from_its_key_table(server):
    """The registry is generic: a new command's plan type and answer function are enough."""
    from planner.plan.keys import Key, KeyTable, make_plan_type
    from planner.ui.forms import FORMS, Form, register
    table = KeyTable("double", [Key("tokens", "count", "Tokens.", unit="tokens", lower=0,
                                    example="2T")])
    plan = make_plan_type("DoublePlan", table, "A toy plan.")
    register(Form("double", "Twice as many?", plan, lambda p: {"twice": 2 * p.tokens}))
    try:
        assert form(server, "double", tokens="2T")[1]["record"] == {"twice": 4e12}
        assert "cannot read --tokens" in form(server, "double", tokens="2X")[1]["errors"][
            "tokens"]
    finally:
        del FORMS["double"]


def test_charts_of_an_answer(server):
    from planner.render.plots import available
    if not available():
        pytest.skip("matplotlib is not installed")
    _, data = form(server, "train", model="llama-2-7b", tokens="2T", hardware="a100-80gb",
                   gpus="256")
    assert [c["name"] for c in data["charts"]] == ["time_vs_gpus", "cost_vs_time"]
    status, headers, body = call(server, data["charts"][0]["url"])
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body[:8] == b"\x89PNG\r\n\x1a\n"


def test_ui_help(cli):
    res = cli("ui", "--help")
    assert res.code == 0
    for word in ("--port", "--host", "--open", "--max-rows"):
        assert word in res.out


def test_batched_plans_equal_plans_answered_alone():
    """Concurrent requests are evaluated together (planner.ui.batch); each record must be
    exactly the one `planner train/infer --json` prints for its plan alone - including the
    plans that fail, and plans giving different keys."""
    import random
    from planner.errors import PlannerError
    from planner.ui.forms import FORMS
    rng = random.Random(15)
    cases = {
        "train": lambda: {"model": rng.choice(["gpt3-175b", "llama-2-70b", "llama-2-7b",
                                               "mixtral-8x7b"]),
                          "tokens": f"{rng.randint(10, 3000)}B",
                          "hardware": rng.choice(["a100-80gb", "h100-sxm", "v100", "mi300x"]),
                          **rng.choice([{"gpus": str(rng.choice([1, 8, 64, 1024, 4096]))},
                                        {"deadline": f"{rng.randint(5, 90)}d"},
                                        {"gpus": "512", "mfu": f"{rng.uniform(0.2, 0.6):.3f}",
                                         "recompute": rng.choice(["none", "full"])}])},
        "infer": lambda: {"model": rng.choice(["llama-2-7b", "llama-2-70b", "mistral-7b"]),
                          "device": rng.choice(["rtx-4090", "m2-max-32gb", "rtx-3060-12gb"]),
                          "quant": rng.choice(["Q4_K_M", "Q8_0", "fp16"]),
                          **rng.choice([{}, {"context": str(rng.randint(512, 4096))},
                                        {"batch": "4", "kv_cache": "q8_0"}])},
    }
    for name, make in cases.items():
        form = FORMS[name]
        plans = [form.plan_type.from_cli(make()) for _ in range(60)]
        batched = form.batch.rows(plans)
        failed = 0
        for plan, row in zip(plans, batched):
            try:
                alone = form.answer(plan)
            except PlannerError as exc:
                assert isinstance(row, PlannerError) and str(row) == str(exc)
                failed += 1
                continue
            assert form.batch.record(row, plan) == alone
        assert 0 < failed < len(plans) or name == "infer"


def test_repeated_options_round_trip(server, cli):
    """``h100-sxm, h200`` in the field is ``--hardware h100-sxm --hardware h200`` on the
    command line, and the link keeps the field as typed."""
    query = {"model": "llama-3.1-70b", "rate": "20/s", "hardware": "h100-sxm,,h200 ,"}
    _, data = form(server, "serve", **query)
    assert data["cli"] == ("planner serve llama-3.1-70b --rate 20/s --hardware h100-sxm "
                           "--hardware h200")
    assert dict(_pairs(data["query"]))["hardware"] == "h100-sxm,,h200 ,"
    assert data["record"] == cli(*shlex.split(data["cli"])[1:], "--json").json()
    # in a scenario a list sweeps (one row per device): the answer is the cheapest row
    from planner.whatif.runner import run_scenario
    from planner.whatif.scenario import loads
    toml = call(server, "/api/form/serve/download.toml?" + urlencode(query))[2].decode()
    assert 'hardware = ["h100-sxm", "h200"]' in toml and "one row per value" in toml
    (outcome,) = run_scenario(loads(toml)[0])
    cols = outcome.columns
    best = min(range(len(cols["hardware"])), key=lambda i: cols["cost_usd_per_hour"][i])
    assert cols["hardware"][best] == data["record"]["hardware"]
    assert cols["gpus"][best] == data["record"]["gpus"]
    # one device: the scenario's one row is the answer
    query["hardware"] = "h200"
    _, data = form(server, "serve", **query)
    toml = call(server, "/api/form/serve/download.toml?" + urlencode(query))[2].decode()
    (outcome,) = run_scenario(loads(toml)[0])
    for k in ("gpus", "cost_usd_per_hour", "ttft_seconds_p99", "tpot_seconds_p99"):
        assert outcome.columns[k][0] == pytest.approx(data["record"][k], rel=1e-12), k
    # fits has no TOML form (no scenario section, no MODEL)
    _, data = form(server, "fits", device="rtx-4090")
    assert set(data["downloads"]) == {"json", "csv"}
    status, _, body = call(server, "/api/form/fits/download.toml?device=rtx-4090")
    assert status == 400 and b"no TOML" in body


def test_one_page_request_computes_once(server, monkeypatch):
    """`planner fits` and `parallel` print part of their result as --json and all of it as
    a table: the page takes both from one call."""
    import planner.cli.parallel
    import planner.evaluate.fits
    calls = []
    for module, name in ((planner.evaluate.fits, "evaluate"), (planner.cli.parallel, "result")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda plan, real=real: calls.append(1) or real(plan))
    _, data = form(server, "fits", device="rtx-3060-12gb", context="3001")
    assert len(calls) == 1 and data["text"].startswith("What runs on rtx-3060-12gb")
    _, data = form(server, "parallel", model="llama-2-7b", hardware="a100-80gb", gpus="24",
                   global_batch="96")
    assert len(calls) == 2 and data["text"].startswith("llama-2-7b on 24 x a100-80gb")
    assert data["headline"][0]["label"] == "fastest layout"


def test_serve_and_parallel_charts(server):
    from planner.render.plots import available
    if not available():
        pytest.skip("matplotlib is not installed")
    _, data = form(server, "serve", model="llama-3.1-70b", rate="10/s", hardware="h200")
    assert [c["name"] for c in data["charts"]] == ["gpus_vs_rate", "latency_vs_throughput"]
    status, headers, body = call(server, data["charts"][0]["url"])
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
    # one replica under N clients: no GPUs-against-rate chart
    _, data = form(server, "serve", model="llama-2-7b", hardware="h100-sxm", concurrency="8")
    assert [c["name"] for c in data["charts"]] == ["latency_vs_throughput"]
    _, data = form(server, "parallel", model="llama-2-7b", hardware="h100-sxm", gpus="8",
                   global_batch="64")
    status, _, body = call(server, data["charts"][0]["url"])
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
