"""The self-contained HTML report (planner.report) and `planner report`.

Synthetic result tables from test_plots.py; the browser check renders the page in Debian's
headless Chromium and skips cleanly where no `chromium` is installed.
"""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from planner.render import plots
from planner.render import report
from planner.errors import PlannerError
from test_plots import infer_table, train_table

EVIL = "<script>alert('x')</script>"

META = {
    "title": f"GPT-3 175B {EVIL}",
    "source": "Brown et al. 2020, Table D.1: 3.14e23 FLOP (3,640 PF-days)",
    "inputs": {"model": "gpt3-175b", "train": {"tokens": "300B", "gpus": [256, 512, 1024],
                                               "hardware": ["a100-80gb", "h100-sxm"]},
               "note": EVIL},
    "assumptions": [("Training compute is 6·N·D", "Kaplan et al. 2020, sec. 2.1"),
                    ("A month is 730 hours", "DESIGN.md"),
                    (f"an unsourced {EVIL}", "")],
    "expect": [dict(metric="flops", expected=3.14e23, got=3.15e23, rel_tol=0.02, ok=True),
               dict(metric="cost_usd", expected=4.6e6, got=1.0e6, rel_tol=0.1, ok=False),
               dict(metric="days", expected=34.0, got=34.5, rel_tol=0.05)],   # ok computed
}


def both() -> pd.DataFrame:
    return pd.concat([train_table(), infer_table()], ignore_index=True)


class _Tags(HTMLParser):
    """Collects start tags with their attributes and checks that sections/tables close."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("table", "section", "ul", "figure", "tr", "thead", "tbody"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in ("table", "section", "ul", "figure", "tr", "thead", "tbody"):
            assert self.open and self.open.pop() == tag, tag


def parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    assert p.open == []
    return p


def test_report_is_self_contained_and_well_formed():
    page = report.html_report(both(), META)
    tags = parse(page)
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "link", "iframe", "object", "embed"}
    for tag, attrs in tags.tags:
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith("data:"), (tag, attrs[key][:60])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_report_escapes_user_text():
    df = both()
    df.loc[0, "device"] = EVIL
    page = report.html_report(df, META, charts=False)
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;") >= 5   # title (twice), input, assumption, table cell
    assert "<title>GPT-3 175B &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</title>" in page


def test_report_contents_in_human_units():
    summary = pd.DataFrame([
        dict(metric="cost_usd", p10=8.1e5, p50=9.0e5, p90=1.1e6, prob_meets_deadline=0.73,
             prob_within_budget=np.nan),
        dict(metric="seconds", p10=8.64e5, p50=1.0e6, p90=2.0e6, prob_meets_deadline=0.73,
             prob_within_budget=np.nan)])
    page = report.html_report(both(), META, summary, charts=False)
    assert "Reproduces: Brown et al. 2020, Table D.1" in page
    # inputs flattened with dotted keys, assumptions with sources (and a flag when missing)
    assert "train.tokens" in page and "[256, 512, 1024]" in page
    assert "Source: Kaplan et al. 2020, sec. 2.1" in page and "no source given" in page
    # checks: given verdicts and one computed from rel_tol (34.5 vs 34.0 within 5%)
    assert page.count(">OK<") == 2 and page.count(">MISMATCH<") == 1
    assert "2 of 3 checks against published figures OK" in page
    assert "3.14e23 FLOP" in page and "$4.60 M" in page and "+1.47%" in page
    # result tables: $, days, GB, percentages, yes/no
    assert "Training plans" in page and "Inference set-ups" in page
    assert "$1.26 M" in page and "114 days" in page and "26.0 GB" in page and "40.0%" in page
    assert ">no<" in page and ">yes<" in page
    # Monte-Carlo: quantiles formatted by metric, probability shown, absent one left out
    assert "Monte-Carlo summary" in page and "$810,000" in page and "10.0 days" in page
    assert "meets the deadline: <b>73%</b>" in page and "stays within budget" not in page
    # no budget in the plans: their (vacuous) within-budget column is left out
    assert ">within budget<" not in page and ">meets deadline<" in page


def test_report_truncates_long_tables():
    big = train_table(gpus=tuple(range(8, 8 * 126, 8)))   # 2 devices x 125 sizes = 250 rows
    page = report.html_report(big, {"title": "big"}, charts=False)
    assert "Showing the first 200 of 250 rows" in page
    assert page.count("<tr>") == 1 + 200
    assert "Charts" not in page


def test_report_embeds_the_charts_as_png():
    pytest.importorskip("matplotlib")
    df = both()
    page = report.html_report(df, META)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(plots.choose(df)) == 4
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_report_without_matplotlib_says_how_to_get_charts(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = report.html_report(both(), META)
    assert "<img" not in page
    assert "No charts: plotting needs matplotlib: pip install &#x27;planner[plot]&#x27;" in page


def test_report_of_empty_table_and_empty_meta():
    page = report.html_report(pd.DataFrame(), {})
    parse(page)
    assert "planner scenario report" in page and "produced no rows" in page
    assert "No inputs recorded" in page and "No assumptions recorded" in page


def test_write_report(tmp_path):
    path = report.write_report(tmp_path / "r.html", train_table(), META, charts=False)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(PlannerError, match="does not exist"):
        report.write_report(tmp_path / "missing" / "r.html", train_table(), META)


# --- the command -------------------------------------------------------------------------------

def test_report_command_writes_the_page(cli, monkeypatch, tmp_path):
    import planner.whatif.runner as runner
    scen = tmp_path / "gpt3.toml"
    scen.write_text('model = "gpt3-175b"\n')
    seen = []

    def fake_run_file(path):
        seen.append(path)
        return train_table(), META, None

    monkeypatch.setattr(runner, "run_file", fake_run_file)
    out = tmp_path / "out.html"
    r = cli("report", scen, "-o", out, "--no-charts")
    assert r.code == 0, r.err
    assert seen == [str(scen)]
    assert r.out.strip() == f"wrote {out} (12 result rows, 0 charts)"
    assert "GPT-3 175B &lt;script&gt;" in out.read_text(encoding="utf-8")


def test_report_command_errors(cli, monkeypatch, tmp_path):
    from conftest import assert_user_error
    assert_user_error(cli("report", tmp_path / "nope.toml"), "nope.toml", "does not exist")
    scen = tmp_path / "s.toml"
    scen.write_text("")
    assert_user_error(cli("report", scen, "-o", tmp_path / "r.pdf"), "should end in .html")
    # An empty scenario file has nothing to compute: a user error, not a traceback.
    assert_user_error(cli("report", scen, "-o", tmp_path / "r.html"), "nothing to compute")


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    """The page opens in a browser with its charts: screenshot it and check it is not blank."""
    image = pytest.importorskip("matplotlib.image")
    page = report.write_report(tmp_path / "report.html", both(), META)
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1280,2000", page.resolve().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("headless chromium took more than 20 s")
    assert shot.exists() and shot.stat().st_size > 50_000
    pixels = (image.imread(shot)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    packed = (pixels[:, 0].astype(np.int32) << 16) | (pixels[:, 1].astype(np.int32) << 8) \
        | pixels[:, 2]
    # measured: ~960 colours for the page without charts (anti-aliased text), ~4,500 with them
    assert len(np.unique(packed)) > 2500
    # the charts' colours are on screen: the tab10 blue of the first device's line
    blue = np.array([0x1f, 0x77, 0xb4])
    assert (np.abs(pixels.astype(int) - blue).sum(axis=1) < 12).sum() > 100   # 0 without charts
