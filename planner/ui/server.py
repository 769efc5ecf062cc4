"""The web server behind `planner ui`: the standard library's `http.server` with a thread pool, one page
and a small JSON API over the same plan types and evaluators as the command line.

Routes (GET unless noted; answers are JSON in base units, as ``--json``):

    /                                     the page (planner/ui/static/)
    /static/NAME                          its script and style sheet
    /api/meta                             forms (fields from the key tables), pickers, examples
    /api/form/FORM?KEY=TEXT&...           an answer; 400 with {"errors": {field: message}}
    /api/form/FORM/download.(json|csv|toml)?...   the answer as a file
    /api/form/FORM/chart/NAME.png?...     a chart of the answer (needs matplotlib)
    POST /api/whatif                      a scenario (TOML text in the body) -> its rows
    POST /api/whatif/download.(csv|json)  every row, streamed
    POST /api/whatif/charts               its charts as PNG data URLs

Safe by default: it listens on loopback only (and refuses other Host headers there, against
DNS rebinding); request lines are at most 64 kB and bodies `max_body` bytes; scenario sweeps at
most `max_rows` rows; at most `heavy` sweeps or charts run at once (others wait up to
`wait_seconds`, then get 503); `threads` connections are served at once and `queued` wait;
POSTs must carry the header ``X-Planner: 1`` (a cross-site form cannot); nothing a request
holds is evaluated as code, and no file on the server is read or written for a request (the
page's assets and example scenarios are read once, at start-up).
"""
from __future__ import annotations

import base64
import io
import json
import os
import queue
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

from planner.errors import PlannerError
from planner.ui.lru import LRU

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_FIELDS = 64
CHART_CACHE = 64                # chart images kept (~50 kB each)
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
DOWNLOAD_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
                  "toml": "application/toml; charset=utf-8"}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    max_rows: int = 200_000          # rows of a pasted scenario's sweep
    max_body: int = 512 * 1024       # bytes of a POST body (a scenario)
    heavy: int = 2                   # sweeps and charts running at once
    wait_seconds: float = 30.0       # how long a heavy request waits for its turn
    threads: int = 32                # connections served at once (per worker process)
    queued: int = 512                # connections waiting for a thread; more get 503
    verbose: bool = False

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")


class TooLarge(PlannerError):
    """A request body over the limit: 413 (the body is not read)."""


class Busy(Exception):
    """Too many heavy requests at once: 503, try again."""


def _assets() -> dict[str, bytes]:
    folder = resources.files("planner.ui") / "static"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


class Server(HTTPServer):
    """A fixed pool of `threads` threads answers the connections queued by the accept loop
    (at most `queued` waiting; more get 503 at once); shared read-only state (assets,
    catalogues).  A pool rather than a thread per connection: under a burst, starting a
    thread per connection serialises the accept loop on the GIL."""

    request_queue_size = 256

    def __init__(self, settings: Settings) -> None:
        from planner.ui import catalog, forms, whatif
        self.settings = settings
        self.address_family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        self.assets = _assets()
        self.heavy = threading.BoundedSemaphore(settings.heavy)
        self.pending: queue.Queue = queue.Queue(maxsize=settings.queued)
        self.pool: list[threading.Thread] = []
        self.limits = whatif.Limits(max_rows=settings.max_rows)
        self.charts = LRU(CHART_CACHE)       # chart images: ~0.3 s each to draw
        self.meta = json.dumps({
            "forms": forms.schema(), "models": catalog.models(),
            "devices": catalog.devices(), "examples": catalog.examples(),
            "limits": {"max_rows": settings.max_rows, "max_body": settings.max_body,
                       "max_scenario_chars": whatif.MAX_TEXT,
                       "max_config_chars": catalog.MAX_CONFIG_CHARS},
            "version": _version()}).encode()
        super().__init__((settings.host, settings.port), Handler)

    parent: int | None = None         # in a worker process: the pid of the main process

    def service_actions(self) -> None:
        """Start the pool in the process that serves (after any fork); a worker whose main
        process has gone ends too."""
        if self.parent is not None and os.getppid() != self.parent:
            os._exit(0)
        while len(self.pool) < self.settings.threads:
            t = threading.Thread(target=self._work, daemon=True)
            t.start()
            self.pool.append(t)

    def process_request(self, request, client_address) -> None:
        self.service_actions()
        try:
            self.pending.put_nowait((request, client_address))
        except queue.Full:
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            request, client_address = self.pending.get()
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = "[::1]" if host == "::1" else host
        return f"http://{host}:{port}/"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("planner")
    except PackageNotFoundError:
        return ""


class _LazyStream(io.RawIOBase):
    """A response body that sends its headers with the first bytes, so an error found before
    any row is written is still a proper JSON error."""

    def __init__(self, handler: "Handler", ctype: str, filename: str) -> None:
        super().__init__()
        self.handler, self.ctype, self.filename, self.started = handler, ctype, filename, False

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if not self.started:
            self.started = True
            h = self.handler
            h.send_response(200)
            h._headers(self.ctype, None, filename=self.filename)
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            h.streamed = True
        self.handler.wfile.write(b)
        return len(b)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "planner-ui"
    sys_version = ""
    timeout = 15                      # seconds a connection may sit idle (keep-alive too)
    disable_nagle_algorithm = True
    server: Server
    streamed = False                  # a streamed response has sent its headers

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if self.server.settings.verbose:
            super().log_message(format, *args)

    def _headers(self, ctype: str, length: int | None, cache: str = "no-store",
                 filename: str = "") -> None:
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if filename:
            self.send_header("Content-Disposition", f'attachment; filename="{filename}"')

    def _send(self, status: int, body: bytes, ctype: str, cache: str = "no-store",
              filename: str = "") -> None:
        self.send_response(status)
        self._headers(ctype, len(body), cache, filename)
        # headers and body in one write: no second small segment for Nagle to hold back
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def _json(self, payload, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _error(self, status: int, message: str, fields: dict | None = None) -> None:
        if self.streamed:      # a streamed download failed half-way: cut it short
            self.close_connection = True
            return
        self._json({"ok": False, "error": message, "errors": fields or {}}, status)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        from planner.ui.answers import FormError
        try:
            if not self._host_ok():
                return self._error(403, "this server answers requests for 127.0.0.1 or "
                                        "localhost only")
            url = urlsplit(self.path)
            self._route(url.path, url.query)
        except FormError as exc:
            self._error(400, exc.fields.get("", "") or next(iter(exc.fields.values())),
                        exc.fields)
        except TooLarge as exc:
            self._error(413, str(exc))
        except PlannerError as exc:
            self._error(400, str(exc))
        except Busy:
            self._error(503, "the server is busy with other sweeps; try again in a moment")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error ({type(exc).__name__}); the server goes on "
                             "serving; please report it")

    def _host_ok(self) -> bool:
        if not self.server.settings.loopback:
            return True
        host = (self.headers.get("Host") or "").strip()
        if not host:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK_HOSTS

    def _query(self, query: str) -> dict[str, str]:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False,
                              max_num_fields=MAX_FIELDS, errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise PlannerError(f"the query string has more than {MAX_FIELDS} fields or is not "
                               "UTF-8") from None
        out: dict[str, str] = {}
        for k, v in pairs:
            if k in out:
                raise PlannerError(f"field {k!r} is given twice")
            out[k] = v
        return out

    def _body(self) -> str:
        if self.headers.get("X-Planner") != "1":
            raise PlannerError("POST needs the header X-Planner: 1 (sent by the page)")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise PlannerError("POST needs a Content-Length") from None
        if length < 0 or length > self.server.settings.max_body:
            self.close_connection = True
            raise TooLarge(f"the request body is {length:,} bytes (at most "
                               f"{self.server.settings.max_body:,})")
        data = self.rfile.read(length)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise PlannerError("the scenario is not UTF-8 text") from None

    def _heavy(self):
        """Hold one of the few slots for sweeps and charts (or raise Busy)."""
        sem = self.server.heavy
        if not sem.acquire(timeout=self.server.settings.wait_seconds):
            raise Busy()
        return _Release(sem)

    # -- routes -----------------------------------------------------------------------------
    def _route(self, path: str, query: str) -> None:
        post = self.command == "POST"
        if path in ("/", "/index.html") and not post:
            return self._send(200, self.server.assets["index.html"], CONTENT_TYPES[".html"],
                              cache="no-cache")
        if path.startswith("/static/") and not post:
            name = path[len("/static/"):]
            body = self.server.assets.get(name)
            if body is None or name == "index.html":
                return self._error(404, f"no such file {name!r}")
            ctype = CONTENT_TYPES.get(name[name.rfind("."):], "application/octet-stream")
            return self._send(200, body, ctype, cache="no-cache")
        if path == "/api/meta" and not post:
            return self._send(200, self.server.meta, "application/json", cache="no-cache")
        if path.startswith("/api/form/") and not post:
            return self._form(path[len("/api/form/"):].split("/"), self._query(query))
        if path.startswith("/api/whatif") and post:
            return self._whatif(path[len("/api/whatif"):])
        if post or path.startswith("/api/"):
            return self._error(404 if not post else 405, f"no such {self.command} route {path!r}")
        return self._error(404, f"no such page {path!r}")

    def _form(self, parts: list[str], query: dict[str, str]) -> None:
        from planner.ui import answers
        from planner.ui.forms import FORMS
        form = FORMS.get(parts[0])
        if form is None:
            raise PlannerError(f"no form {parts[0]!r} (valid: {', '.join(FORMS)})")
        asked = answers.ask(form, query)
        if len(parts) == 1:
            return self._json(answers.answer(asked))
        if len(parts) == 2 and parts[1].startswith("download."):
            fmt = parts[1][len("download."):]
            if fmt not in DOWNLOAD_TYPES:
                raise PlannerError(f"no download format {fmt!r} (valid: json, csv, toml)")
            text = answers.toml_text(asked) if fmt == "toml" else \
                (answers.json_text if fmt == "json" else answers.csv_text)(answers.evaluate(asked))
            return self._send(200, text.encode(), DOWNLOAD_TYPES[fmt],
                              filename=f"planner-{form.name}.{fmt}")
        if len(parts) == 3 and parts[1] == "chart" and parts[2].endswith(".png"):
            name = parts[2][:-4]
            chart = form.charts.get(name)
            if chart is None:
                raise PlannerError(f"no chart {name!r} for {form.name} (valid: "
                                   f"{', '.join(form.charts) or 'none'})")
            key = (form.name, name, asked.query())
            body = self.server.charts.get(key)
            if body is None:
                from planner.model.resolve import offline_models
                from planner.ui.charts import png
                record = answers.evaluate(asked)
                with self._heavy(), offline_models(asked.specs):
                    body = png(chart, asked.plan, record)
                self.server.charts.put(key, body)
            return self._send(200, body, "image/png")
        raise PlannerError(f"no such route /api/form/{'/'.join(parts)}")

    def _whatif(self, rest: str) -> None:
        from planner.ui import whatif
        text = self._body()
        limits = self.server.limits
        if rest == "":
            with self._heavy():
                return self._json(whatif.run(text, limits))
        if rest in ("/download.csv", "/download.json"):
            fmt = rest[len("/download."):]
            with self._heavy():
                stream = _LazyStream(self, DOWNLOAD_TYPES[fmt], f"planner-scenario.{fmt}")
                whatif.write_rows(text, stream, fmt, limits)
            return None
        if rest == "/charts":
            with self._heavy():
                charts = whatif.charts(text, limits)
            return self._json({"ok": True, "charts": [
                {"name": n, "src": "data:image/png;base64," + base64.b64encode(b).decode()}
                for n, b in charts]})
        raise PlannerError(f"no such route /api/whatif{rest}")


class _Release:
    def __init__(self, sem) -> None:
        self.sem = sem

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.sem.release()


def warm_up() -> None:
    """Import what the first sweep and chart need (scipy.stats takes ~1 s, matplotlib ~0.5 s)
    and size every zoo model's weight formats (the first `planner fits` answer, ~2 s; later
    ones take ~40 ms) before anyone waits for it."""
    try:
        from planner.evaluate.fits import evaluate
        from planner.plan.fits import FitsPlan
        evaluate(FitsPlan(device="rtx-4090"))
        import scipy.stats  # noqa: F401
        from planner.render import plots
        if plots.available():
            from matplotlib.figure import Figure
            from planner.render.plots import to_png_bytes
            from planner.ui.charts import LOCK
            with LOCK:
                to_png_bytes(Figure(figsize=(1, 1)))
    except Exception:  # warming up is an optimisation; a failure shows when it is needed
        pass


def make_server(settings: Settings = Settings()) -> Server:
    """Bind (port 0: any free port) and load the page and the evaluators; `serve` runs it
    (or `serve_forever()`, in this process only).  Starts no thread."""
    import planner.cli.infer  # noqa: F401  (the evaluators and records, imported once
    import planner.cli.train  # noqa: F401   before any request or fork)
    import planner.cli.fits  # noqa: F401
    import planner.cli.parallel  # noqa: F401
    import planner.cli.serve  # noqa: F401
    import planner.evaluate.fits  # noqa: F401
    import planner.evaluate.optimal  # noqa: F401
    import planner.evaluate.serve  # noqa: F401
    try:
        return Server(settings)
    except OSError as exc:
        if exc.errno in (98, 48, 10048):   # EADDRINUSE on Linux, macOS, Windows
            raise PlannerError(f"port {settings.port} on {settings.host} is in use (give "
                               "--port N, or --port 0 for any free port)") from None
        raise PlannerError(f"cannot listen on {settings.host}:{settings.port}: "
                           f"{exc.strerror or exc}") from None


def default_workers() -> int:
    """One process per CPU, at most 4 (each holds its own numpy and matplotlib); one where
    processes cannot be forked (Windows)."""
    return max(1, min(os.cpu_count() or 1, 4)) if hasattr(os, "fork") else 1


def serve(server: Server, workers: int = 1, warm: bool = True, on_ready=None) -> None:
    """Serve until interrupted, in `workers` processes sharing the listening socket (each
    answers whole requests with its own threads, so plans are evaluated on several cores
    at once).  The worker processes are forked before any thread starts and stopped with
    the parent.  `on_ready()` runs in the parent once the workers are started."""
    children: list[int] = []
    if workers > 1 and hasattr(os, "fork"):
        # The processes race for each connection; the losers' accept() fails and they wait on.
        server.socket.setblocking(False)
        main_pid = os.getpid()
        for _ in range(workers - 1):
            pid = os.fork()
            if pid == 0:
                server.parent = main_pid
                code = 0
                try:
                    if warm:
                        threading.Thread(target=warm_up, daemon=True).start()
                    server.serve_forever(poll_interval=0.5)
                except KeyboardInterrupt:
                    pass
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
    import signal

    def stop(signum, frame):     # `kill PID` stops the workers too (via the finally below)
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    if warm:
        threading.Thread(target=warm_up, daemon=True).start()
    if on_ready is not None:
        threading.Thread(target=on_ready, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
        server.server_close()
