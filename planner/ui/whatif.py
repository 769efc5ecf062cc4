"""The *What if?* tab: a scenario pasted or uploaded as TOML text, run as `planner run` runs a
file (`planner.whatif.runner`), held in memory only.

A scenario is data: it is parsed by `scenario.loads` (typed keys, nothing evaluated) and its
[model] may name a zoo model or give the architecture inline, but not a config or model file
(those would be files on the server).  Sweeps are refused above `max_rows` rows before any
work.  The answer holds the first rows of each section (the page shows them; the CSV and JSON
downloads stream every row), the [expect] checks, the Monte-Carlo summary and the text
`planner run` prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from planner.errors import PlannerError
from planner.render.output import plain

NAME = "scenario.toml"          # what errors call a pasted scenario
MAX_TEXT = 256 * 1024           # characters of scenario TOML
DEFAULT_MAX_ROWS = 200_000
HEAD = 25                       # rows of each section returned to the page


@dataclass(frozen=True)
class Limits:
    max_rows: int = DEFAULT_MAX_ROWS
    chunk_rows: int = 100_000


def scenarios(text: str):
    """Parse pasted scenario text; refuse [model] references to files on the server."""
    from planner.whatif.scenario import loads
    if len(text) > MAX_TEXT:
        raise PlannerError(f"the scenario is {len(text):,} characters long (at most "
                           f"{MAX_TEXT:,})")
    if not text.strip():
        raise PlannerError("the scenario is empty: paste a scenario TOML, upload one or pick "
                           "an example")
    parsed = loads(text, NAME)
    for sc in parsed:
        ref = [k for k in ("config", "file") if k in sc.model]
        if ref:
            raise PlannerError(f"{NAME}: scenario {sc.title!r}: [model] {ref[0]} = ... names a "
                               "file on the server, which the page never reads; use a zoo name "
                               "(name = \"llama-2-7b\") or give the architecture inline")
    return parsed


def _run(parsed, limits: Limits, keep: bool, writers=()):
    from planner.model.resolve import offline_models
    from planner.whatif.runner import Options, run_scenario
    opts = Options(chunk_rows=limits.chunk_rows, max_rows=limits.max_rows, keep=keep,
                   progress=False, writers=list(writers))
    with offline_models():
        return [o for sc in parsed for o in run_scenario(sc, opts)]


def run(text: str, limits: Limits = Limits()) -> dict:
    """The page's answer to a scenario: sections with their first rows, checks, summaries and
    the text `planner run` prints."""
    from planner.cli.run import human
    from planner.whatif.runner import assumptions
    outcomes = _run(scenarios(text), limits, keep=False)
    sections = []
    for o in outcomes:
        cols = list(o.columns)
        n = min(HEAD, len(next(iter(o.columns.values()))) if o.columns else 0)
        rows = [[plain(o.columns[c][i]) for c in cols] for i in range(n)]
        sections.append({"title": o.scenario.title, "kind": o.kind, "rows": o.rows,
                         "source": o.scenario.source, "columns": cols, "head": rows,
                         "expect": plain(o.expect), "summary": plain(o.summary)})
    return {"ok": True, "sections": sections, "text": human(outcomes),
            "assumptions": [{"text": t, "source": s}
                            for t, s in assumptions({o.kind for o in outcomes})],
            "cli": f"planner run {NAME}", "rows": sum(o.rows for o in outcomes)}


def write_rows(text: str, stream: IO[bytes], fmt: str, limits: Limits = Limits()) -> None:
    """Every row to `stream` as CSV or JSON, chunk by chunk (as `planner run --format FMT`);
    several sections in one CSV share the union of their columns."""
    from planner.render.rows import RowWriter
    from planner.whatif.runner import sections_in, union_chunks
    parsed = scenarios(text)
    writer = RowWriter(stream, fmt)
    if fmt == "csv" and sections_in(parsed) > 1:
        for chunk in union_chunks(_run(parsed, limits, keep=True), limits.chunk_rows):
            writer.write(chunk)
    else:
        _run(parsed, limits, keep=False, writers=[writer])
    writer.close()


def charts(text: str, limits: Limits = Limits()) -> list[tuple[str, bytes]]:
    """(name, PNG) of the charts `planner run --plot` draws for these rows."""
    from planner.render import plots
    from planner.ui.charts import LOCK
    from planner.whatif.runner import to_frame
    plots.require()
    df = to_frame(_run(scenarios(text), limits, keep=True))
    with LOCK:
        return [(name, plots.to_png_bytes(fig)) for name, fig in plots.auto_plots(df)]
