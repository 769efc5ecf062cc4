"""`planner report SCENARIO.toml -o report.html`: one self-contained HTML page of a scenario."""
from __future__ import annotations

from pathlib import Path

import click

from planner.errors import PlannerError


@click.command()
@click.argument("scenario_file", metavar="FILE")
@click.option("-o", "--output", "out", metavar="OUT.html",
              help="HTML file to write (default: FILE's name with .html, in the current "
                   "folder).")
@click.option("--no-charts", is_flag=True, help="Leave the charts out (smaller file).")
@click.option("--max-rows", type=click.IntRange(min=1), default=200, show_default=True,
              help="Rows of the result table shown in the page.")
def report(scenario_file: str, out: str | None, no_charts: bool, max_rows: int) -> None:
    """Write a self-contained HTML report of the scenario FILE: what it reproduces, its
    inputs, the assumptions with their sources, the checks against published figures, the
    charts (with matplotlib: pip install 'planner[plot]') and the result table.  The page
    loads nothing from the web, so it can be sent to someone who does not have planner."""
    from planner.render import plots
    from planner.render.report import write_report
    from planner.safe_io import check_regular, check_writable_target
    src = check_regular(scenario_file, "scenario file")
    target = Path(out) if out else Path(src.stem + ".html")
    if target.suffix.lower() not in (".html", ".htm"):
        raise PlannerError(f"report file {str(target)!r} should end in .html")
    check_writable_target(target, "report file", inputs=(src,))   # before the work
    from planner.whatif.runner import run_file
    df, meta, summary = run_file(str(src))
    page_path = write_report(target, df, meta, summary, charts=not no_charts, max_rows=max_rows)
    charts = page_path.read_text(encoding="utf-8").count("<img ")
    if not no_charts and not plots.available():
        click.echo(f"note: no charts in the report; {plots.INSTALL_HINT}", err=True)
    click.echo(f"wrote {page_path} ({len(df):,} result rows, {charts} chart"
               f"{'' if charts == 1 else 's'})")
