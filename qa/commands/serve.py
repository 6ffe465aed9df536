"""`qa serve`: the REST API and the Streamlit chat UI on the embedded default (or your settings),
each in its own process, with their addresses printed; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qa.commands import check_graph_file
from qa.core.errors import ConfigError
from qa.core.paths import install_hint


def _port_free(host: str, port: int) -> bool:
    """Whether `port` on `host` is free; an address this machine cannot listen on is an error."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on host {host!r}: {exc.strerror or exc}") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise ConfigError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    return True


def _wait_for(url: str, proc: subprocess.Popen, what: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"the {what} stopped at start-up (exit code {proc.returncode}); see its messages above")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ConfigError(f"the {what} did not answer at {url} within {timeout:.0f} s")


def _stops_with(parent: int) -> Callable[[], None] | None:
    """For a server this command starts: asked to stop (SIGTERM, as by Ctrl-C here) when this
    process ends however it ends. A `kill -9` of `qa serve` had left the API serving and writing,
    shown only as `python -m qa.api`, and the next `qa serve` found its port in use. Linux only
    (its parent-death signal); elsewhere the servers outlive a killed `qa serve` as before."""
    if not sys.platform.startswith("linux"):
        return None

    def in_the_child() -> None:
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # it ended before the signal was asked for
            os.kill(os.getpid(), signal.SIGTERM)

    return in_the_child


def _check_installed(ui: bool) -> None:
    import importlib.util

    needed = {"api": ["fastapi", "fastapi_offline", "uvicorn", "prometheus_client", "multipart"],
              "ui": ["streamlit", "httpx"] if ui else []}
    missing = {extra: [m for m in mods if importlib.util.find_spec(m) is None] for extra, mods in needed.items()}
    if any(missing.values()):  # the extras that hold what is missing, no more
        extras = ",".join(extra for extra, mods in missing.items() if mods)
        raise ConfigError(f"qa serve needs {', '.join(m for mods in missing.values() for m in mods)}: "
                          f"{install_hint(extras)}")


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def _ui_app() -> Path:
    """ui/app.py of the installed package (found, not imported: the UI stands above this layer)."""
    import importlib.util

    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.origin:
        raise ConfigError(f"the ui package is not installed: {install_hint('api,ui')}")
    return Path(spec.origin).parent / "app.py"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1: this machine).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default 8000).")] = None,
    ui_port: Annotated[int | None, typer.Option(help="UI port (default 8501).")] = None,
    ui: Annotated[bool, typer.Option(help="Also start the chat UI.")] = True,
    index: Annotated[Path | None, typer.Option("--index-dir", help="Folder of your collections.")] = None,
    graph: Annotated[Path | None, typer.Option(
        help="Knowledge graph file (.ttl .nt .rdf .owl .jsonld .tsv; .gz .xz .bz2 too).")] = None,
) -> None:
    """Start the REST API (and the chat UI), load the models once, and print the addresses."""
    from qa.core.settings import Settings, http_url

    check_graph_file(graph)
    _check_installed(ui)
    settings = Settings.load(api_host=host, api_port=port, ui_port=ui_port,
                             index_dir=str(index) if index else None, kb_graph=str(graph) if graph else None,
                             flags={"api_host": "--host", "api_port": "--port", "ui_port": "--ui-port",
                                    "index_dir": "--index-dir", "kb_graph": "--graph"})
    if ui and settings.ui_port == settings.api_port:
        raise ConfigError(f"the API and the UI cannot both listen on port {settings.api_port}: give --ui-port")
    wanted = [("API", settings.api_port, "--port")] + ([("UI", settings.ui_port, "--ui-port")] if ui else [])
    for what, number, option in wanted:  # found out now, not after "started" with someone else's server
        if not _port_free(settings.api_host, number):
            raise ConfigError(f"port {number} on {settings.api_host} is in use (the {what} would listen there); "
                              f"choose another with {option}")
    api = http_url(settings.api_host, settings.api_port)
    env = {**os.environ, "QA_API_HOST": settings.api_host, "QA_API_PORT": str(settings.api_port),
           "QA_INDEX_DIR": settings.index_dir, "QA_KB_GRAPH": settings.kb_graph,
           "QA_KB_ENDPOINT": settings.kb_endpoint, "QA_API_URL": api}
    procs: list[subprocess.Popen] = []
    up = False
    from qa.render import status_console

    out = status_console()
    try:  # `kill` (SIGTERM, raised as KeyboardInterrupt by qa.cli) stops both servers too, like Ctrl-C
        out.print(Text(f"starting the API on {api} (loading the models) …", style="dim"))
        procs.append(subprocess.Popen([sys.executable, "-m", "qa.api", "--quiet-stop"], env=env,
                                      preexec_fn=_stops_with(os.getpid())))
        _wait_for(f"{api}/v1/health", procs[0], "API", 300)
        ui_url = http_url(settings.api_host, settings.ui_port)
        if ui:
            app = _ui_app()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", settings.api_host,
                 "--server.port", str(settings.ui_port), "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
                 # named: headless on every interface, Streamlit looked up this machine's public address
                 # (a DNS query for checkip.amazonaws.com, then an HTTP request to it) to print a URL
                 "--browser.serverAddress", "localhost" if _wildcard(settings.api_host) else settings.api_host,
                 "--client.toolbarMode", "viewer"],
                # a visitor types the key; the page never lends the server's
                env={k: v for k, v in env.items() if k not in ("QA_API_KEY", "QA_API_KEY_FOR_READS")},
                stdout=subprocess.DEVNULL, preexec_fn=_stops_with(os.getpid())))
            _wait_for(f"{ui_url}/_stcore/health", procs[1], "UI", 120)
        up = True
        out.print(Text.assemble(("API  ", "bold"), api, ("   (docs: ", "dim"), f"{api}/docs", (")", "dim")))
        if ui:
            out.print(Text.assemble(("UI   ", "bold"), ui_url))
        out.print(Text("Ctrl-C stops both." if ui else "Ctrl-C stops it.", style="dim"))
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        raise ConfigError("a server stopped unexpectedly; see its messages above")
    except KeyboardInterrupt:
        from qa.cli import stopped_as

        if up:  # stopped once serving, not cut short while starting
            stopped_as("the API and the UI stopped" if ui else "the API stopped")
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is not procs[0] else signal.SIGTERM)
        # the API lets requests in flight, and work a 504 left running, end first (up to the
        # request timeout each); a second Ctrl-C stops everything at once
        for p in procs:
            try:
                p.wait(2 * settings.request_timeout_s + 10 if p is procs[0] else 10)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                for q in procs:
                    if q.poll() is None:
                        q.kill()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
