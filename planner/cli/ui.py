"""`planner ui`: the planner in a browser - a local web page with the questions of the command
line as forms (`planner.ui`)."""
from __future__ import annotations

import click


@click.command()
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on. Anything but loopback makes the page reachable by "
                   "other machines: only on a network you trust.")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the page in the default web browser.")
@click.option("--max-rows", type=click.IntRange(1, 20_000_000), default=200_000,
              show_default=True, help="Largest sweep a pasted scenario may ask for (rows).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Processes answering requests  [default: one per CPU, at most 4; 1 on "
                   "Windows]")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def ui(port: int, host: str, open_browser: bool, max_rows: int, workers: int | None,
       verbose: bool) -> None:
    """Serve the planner as a web page: How big is it?  What does training cost?  Can I run
    it?  What if?  Forms come from the same key tables as the commands and answers from the
    same evaluators, with the same figures, sources and notes; every answer has a link that
    reproduces it, its command line, and CSV / JSON / scenario TOML downloads.  The page
    needs no network (its assets ship with the package); charts need matplotlib.

    \b
      planner ui                 # http://127.0.0.1:8765/
      planner ui --port 0 --open # any free port, in the browser

    It reads no file and runs nothing a request sends as code; requests are size-limited and
    sweeps capped at --max-rows.  Ctrl-C stops it.
    """
    from planner.ui.server import Settings, default_workers, make_server, serve

    settings = Settings(host=host, port=port, max_rows=max_rows, verbose=verbose)
    server = make_server(settings)
    url = server.url
    if not settings.loopback:
        bar = "!" * 78
        click.echo(f"{bar}\nWARNING: listening on {host}, not loopback: anyone who can reach "
                   f"this machine on port {server.server_address[1]} can use this page and "
                   "make it compute (it reads and writes no files). Use --host only on a "
                   f"network you trust; there is no login and no encryption.\n{bar}", err=True)
    click.echo(f"planner ui: serving on {url}  (Ctrl-C stops it)", err=True)
    def ready() -> None:
        if open_browser:
            import webbrowser
            webbrowser.open(url)

    try:
        serve(server, workers or default_workers(), on_ready=ready)
    except KeyboardInterrupt:
        click.echo("planner ui: stopped", err=True)
