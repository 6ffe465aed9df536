"""Start and stop a local Oxigraph server (`oxigraph serve`, PyPI package `oxigraph`) on loopback.

For tests and benchmarks: in-memory, bound to 127.0.0.1 on a free port, data loaded with the SPARQL
Graph Store protocol.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import QAError

if TYPE_CHECKING:
    from kb.store import EmbeddedGraph


def oxigraph_executable() -> str | None:
    exe = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    return exe if Path(exe).exists() else None


class OxigraphServer:
    def __init__(self, port: int | None = None) -> None:
        exe = oxigraph_executable()
        if exe is None:
            raise QAError("the oxigraph server is not installed: pip install oxigraph")
        self.exe = exe
        if port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.query_url = self.base + "/query"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> OxigraphServer:
        self.proc = subprocess.Popen([self.exe, "serve", "--bind", self.base.removeprefix("http://")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.query_url + "?query=ASK%7B%7D", timeout=1).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise QAError("the oxigraph server did not start")

    def load(self, graph: EmbeddedGraph) -> None:
        """Replace the server's default graph with an EmbeddedGraph's triples."""
        data = graph.graph.serialize(format="nt", encoding="utf-8")
        req = urllib.request.Request(self.base + "/store?default", data=data, method="PUT",
                                     headers={"Content-Type": "application/n-triples"})
        urllib.request.urlopen(req, timeout=120).read()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def __exit__(self, *exc: object) -> None:
        self.stop()
