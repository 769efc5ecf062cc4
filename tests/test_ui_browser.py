"""`planner ui` end to end in a real headless browser (Debian's chromium and chromedriver,
driven by selenium): each form is filled as a person fills it, its answer read off the page and
compared with the command line's ``--json`` for the same inputs; bad input shows its error
beside the field and the server keeps serving; a link reproduces an answer.  A screenshot of
each tab is saved (to $PLANNER_UI_SCREENSHOTS when set - docs/img/ holds the README's - else
to a temporary folder).

Skipped, saying why, only where selenium, chromium or chromedriver is missing (`.ci/run`
installs chromium and chromium-driver first).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from planner.ui.server import Settings, make_server  # noqa: E402

HF = Path(__file__).parent / "data" / "hf"
POLL = 0.02     # seconds between looks at the page while waiting
SCREENSHOTS = os.environ.get("PLANNER_UI_SCREENSHOTS")   # e.g. docs/img for the README
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium "
                "chromium-driver)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    srv = make_server(Settings(port=0))
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # as root chromium needs --no-sandbox; the others keep it off this machine's closed network
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,1400", "--hide-scrollbars",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except WebDriverException as exc:
        pytest.skip(f"chromium does not start here: {exc.msg}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    path = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_answer(d, timeout: float = 20) -> str:
    WebDriverWait(d, timeout, poll_frequency=POLL).until(lambda d: d.find_element(By.ID, "answer").get_attribute(
        "data-status") in ("ok", "error"))
    return d.find_element(By.ID, "answer").get_attribute("data-status")


def wait_charts(d, timeout: float = 20) -> int:
    """Wait until every chart is drawn (or says why not); the number drawn."""
    def done(d):
        figs = d.find_elements(By.CSS_SELECTOR, "figure.chart")
        pending = d.find_elements(By.XPATH, "//*[contains(text(), 'drawing')]")
        return figs and not pending and all(
            d.execute_script("const i = arguments[0].querySelector('img');"
                             "return !i || (i.complete && i.naturalWidth > 0);", f)
            for f in figs)
    WebDriverWait(d, timeout, poll_frequency=POLL).until(done)
    return len(d.find_elements(By.CSS_SELECTOR, "figure.chart img"))


def fill(d, values: dict) -> None:
    """Set each field as a person would leave it (text typed, a choice picked, a box ticked),
    in one round trip, with the input and change events a person's typing fires."""
    d.execute_script("""
        for (const [name, value] of Object.entries(arguments[0])) {
          const f = document.getElementById("f-" + name);
          if (f.type === "checkbox") f.checked = value === "true"; else f.value = value;
          f.dispatchEvent(new Event("input", {bubbles: true}));
          f.dispatchEvent(new Event("change", {bubbles: true}));
        }""", values)


def type_into(d, name: str, text: str) -> None:
    """Type into a field key by key."""
    field = d.find_element(By.ID, "f-" + name)
    field.clear()
    field.send_keys(text)


def answer_json(d):
    return json.loads(d.find_element(By.ID, "json").get_attribute("textContent"))


def open_tab(d, server, name: str) -> None:
    d.get(server.url + f"?tab={name}")
    WebDriverWait(d, 10, poll_frequency=POLL).until(lambda d: d.find_elements(By.ID, "submit"))


def ask(d, server, tab: str, fields: dict) -> None:
    """Open a tab, fill its fields and submit: the answer must come."""
    open_tab(d, server, tab)
    fill(d, fields)
    assert submit(d) == "ok"


def submit(d) -> str:
    d.find_element(By.ID, "submit").click()
    return wait_answer(d)


def check_against_cli(d, cli, argv) -> dict:
    """The answer on the page is `planner ARGV --json`, and the page shows that command."""
    expected = cli(*argv, "--json")
    assert expected.code == 0, expected.err
    assert answer_json(d) == expected.json()
    assert d.find_element(By.ID, "cli").text == "planner " + " ".join(argv)
    return expected


def shot(d, shots, name: str) -> None:
    d.execute_script("window.scrollTo(0, 0)")
    d.save_screenshot(str(shots / f"ui-{name}.png"))


def test_params_tab_zoo_model_and_pasted_config(server, browser, shots, cli, tmp_path,
                                                monkeypatch):
    d = browser
    open_tab(d, server, "params")
    type_into(d, "model", "llama-2-70b")
    assert submit(d) == "ok"
    check_against_cli(d, cli, ["params", "llama-2-70b"])
    # Llama 2 70B: 68,976,648,192 parameters (Touvron et al. 2023b; HF safetensors headers)
    assert d.find_element(By.ID, "headline").text.splitlines()[1:3] == ["68.98 B",
                                                                        "68,976,648,192"]
    shot(d, shots, "params")
    # a pasted config.json, read as `planner params config.json` reads the file
    text = (HF / "qwen2-0.5b" / "config.json").read_text()
    d.find_element(By.ID, "paste-config").click()
    area = d.find_element(By.ID, "f-config")
    d.execute_script("arguments[0].value = arguments[1]", area, text)   # as a paste does
    assert submit(d) == "ok"
    (tmp_path / "config.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert answer_json(d) == cli("params", "config.json", "--json").json()


def test_train_tab_bad_input_then_answer_and_charts(server, browser, shots, cli):
    d = browser
    open_tab(d, server, "train")
    fill(d, {"model": "gpt3-175b", "hardware": "a100-80gb", "gpus": "0",
             "recompute": "full", "grid_kg_per_kwh": "0.4"})
    type_into(d, "tokens", "300X")
    assert submit(d) == "error"
    assert d.find_element(By.ID, "err-tokens").text.startswith("cannot read --tokens '300X'")
    assert "out of range" in d.find_element(By.ID, "err-gpus").text
    assert "invalid" in d.find_element(By.CSS_SELECTOR, "[data-field=tokens]").get_attribute(
        "class")
    # the server keeps serving: fix the fields and the answer comes
    type_into(d, "tokens", "300B")
    fill(d, {"gpus": "1024"})
    assert submit(d) == "ok"
    assert d.find_element(By.ID, "err-tokens").text == ""
    expected = check_against_cli(d, cli, [
        "train", "gpt3-175b", "--tokens", "300B", "--hardware", "a100-80gb", "--gpus", "1024",
        "--grid-kg-per-kwh", "0.4", "--recompute", "full"])
    # the JSON download is the CLI's output, byte for byte
    href = d.find_element(By.ID, "download-json").get_attribute("href")
    with urllib.request.urlopen(href, timeout=10) as res:
        assert res.read().decode() == expected.out
    assert wait_charts(d) == 2
    shot(d, shots, "train")


def test_infer_tab_a_link_reproduces_the_answer(server, browser, shots, cli):
    d = browser
    ask(d, server, "infer", {"model": "llama-2-13b", "device": "m2-max-32gb",
                             "quant": "Q4_K_M", "context": "2048", "flash_attn": "false"})
    check_against_cli(d, cli, ["infer", "llama-2-13b", "--device", "m2-max-32gb", "--quant",
                               "Q4_K_M", "--context", "2048", "--no-flash-attn"])
    if SCREENSHOTS:      # the README's screenshot shows the charts (test_train waits for them)
        assert wait_charts(d) == 2
    shot(d, shots, "infer")
    first = answer_json(d)
    link = d.current_url
    assert "tab=infer" in link and "flash_attn=false" in link
    d.get("about:blank")
    d.get(link)
    assert wait_answer(d) == "ok"
    assert answer_json(d) == first
    d.find_element(By.ID, "copy-cli").click()
    WebDriverWait(d, 5, poll_frequency=POLL).until(
        lambda d: d.find_element(By.ID, "toast").is_displayed())
    assert d.find_element(By.ID, "toast").text == "Copied the command"


def test_optimal_tab(server, browser, cli):
    d = browser
    ask(d, server, "optimal", {"flops": "5.76e23", "method": "approach3"})
    check_against_cli(d, cli, ["optimal", "--flops", "5.76e23", "--method", "approach3"])


def test_whatif_tab_runs_an_example_like_planner_run(server, browser, shots, cli):
    from planner.resources import data_dir
    d = browser
    open_tab(d, server, "whatif")
    Select(d.find_element(By.ID, "example")).select_by_value("sweep_cluster")
    assert wait_answer(d) == "ok"
    path = data_dir("scenarios") / "sweep_cluster.toml"
    shown = d.find_element(By.ID, "text").get_attribute("textContent")
    assert shown.replace("scenario.toml", path.name) == cli("run", path).out.rstrip("\n")
    assert wait_charts(d) == 2            # time against GPUs, cost against time
    assert "example=sweep_cluster" in d.current_url
    shot(d, shots, "whatif")
    # a broken scenario: its error, and the next one runs
    d.execute_script("document.getElementById('scenario').value = arguments[0]",
                     "[train]\ntokens = '2T'\ngpus = 'many'\n")
    assert submit(d) == "error"
    assert "gpus" in d.find_element(By.ID, "err-scenario").text
    Select(d.find_element(By.ID, "example")).select_by_value("gpt3")
    assert wait_answer(d) == "ok"


def headline(d) -> dict:
    """The headline cards: label -> value."""
    return {c.find_element(By.CLASS_NAME, "label").get_attribute("textContent"):
            c.find_element(By.CLASS_NAME, "value").get_attribute("textContent")
            for c in d.find_elements(By.CSS_SELECTOR, "#headline .card")}


def test_parallel_tab(server, browser, shots, cli):
    d = browser
    ask(d, server, "parallel", {"model": "llama-2-7b", "hardware": "h100-sxm", "gpus": "64",
                                "global_batch": "512", "seq_len": "4096"})
    best = check_against_cli(d, cli, ["parallel", "llama-2-7b", "--hardware", "h100-sxm",
                                      "--gpus", "64", "--global-batch", "512", "--seq",
                                      "4096"]).json()[0]
    assert headline(d)["fastest layout"].startswith(
        f"TP {best['tp']} x PP {best['pp']} x DP {best['dp']}")
    assert headline(d)["MFU"] == f"{best['mfu']:.1%}"
    if SCREENSHOTS:
        assert wait_charts(d) == 1        # step time of each layout, by term
    shot(d, shots, "parallel")


def test_fits_tab(server, browser, shots, cli):
    d = browser
    ask(d, server, "fits", {"device": "rtx-3060-12gb", "min_speed": "20"})
    rows = check_against_cli(d, cli, ["fits", "--device", "rtx-3060-12gb", "--min-speed",
                                      "20"]).json()
    assert headline(d)["models that run"] == str(len(rows))
    assert headline(d)["biggest"] == max(rows, key=lambda r: r["params"])["model"]
    shot(d, shots, "fits")


def test_serve_tab_with_a_repeated_option(server, browser, shots, cli):
    d = browser
    open_tab(d, server, "serve")
    fill(d, {"model": "llama-3.1-70b", "rate": "20/s", "ttft": "1s", "tpot": "50ms"})
    type_into(d, "hardware", "h100-sxm, h200")       # -H h100-sxm -H h200
    assert submit(d) == "ok"
    rec = check_against_cli(d, cli, ["serve", "llama-3.1-70b", "--rate", "20/s", "--ttft",
                                     "1s", "--tpot", "50ms", "--hardware", "h100-sxm",
                                     "--hardware", "h200"]).json()
    assert headline(d)["GPUs"] == f"{rec['gpus']:.0f}"
    assert headline(d)["hardware"] == rec["hardware"]
    if SCREENSHOTS:
        assert wait_charts(d) == 2
    shot(d, shots, "serve")
