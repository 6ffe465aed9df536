from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kb.loaders import load_file
from kb.pipeline import KBQA, KBQAConfig
from kb.scorer import Scorer
from kb.store import EmbeddedGraph
from qa.core.paths import SHARED_DATA
from qa.core.settings import Settings

torch.set_num_threads(1)  # shared 2-core machines: oversubscribed threads make the encoder 10x slower

SMALL_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:capital rdfs:label "capital" .
ex:currency rdfs:label "currency" .
ex:continent rdfs:label "continent" .
ex:population rdfs:label "population" .
ex:country rdfs:label "country" .
ex:Country rdfs:label "country" .
ex:City rdfs:label "city" .

ex:France a ex:Country ; rdfs:label "France" ; skos:altLabel "French Republic" ;
    ex:capital ex:Paris ; ex:currency ex:Euro ; ex:continent ex:Europe ; ex:population 67000000 .
ex:Germany a ex:Country ; rdfs:label "Germany" ; ex:capital ex:Berlin ; ex:currency ex:Euro ;
    ex:continent ex:Europe ; ex:population 83000000 .
ex:Japan a ex:Country ; rdfs:label "Japan" ; ex:capital ex:Tokyo ; ex:currency ex:Yen ;
    ex:continent ex:Asia ; ex:population 125000000 .
ex:Paris a ex:City ; rdfs:label "Paris" ; ex:country ex:France ; ex:population 2100000 .
ex:Lyon a ex:City ; rdfs:label "Lyon" ; ex:country ex:France ; ex:population 520000 .
ex:Berlin a ex:City ; rdfs:label "Berlin" ; ex:country ex:Germany ; ex:population 3600000 .
ex:Munich a ex:City ; rdfs:label "München" ; ex:country ex:Germany ; ex:population 1500000 .
ex:Tokyo a ex:City ; rdfs:label "Tokyo" ; ex:country ex:Japan ; ex:population 14000000 .
ex:Euro rdfs:label "Euro" .
ex:Yen rdfs:label "Yen" .
ex:Europe rdfs:label "Europe" .
ex:Asia rdfs:label "Asia" .
"""


@pytest.fixture(scope="session")
def small_ttl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "small.ttl"
    path.write_text(SMALL_TTL, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_graph(small_ttl) -> EmbeddedGraph:
    g = EmbeddedGraph(store="auto")
    load_file(g, small_ttl)
    return g


def turtle_graph(tmp_path_factory, text: str, name: str) -> EmbeddedGraph:
    """A test's own Turtle graph, written to a file and read through the loader users get."""
    path = tmp_path_factory.mktemp("kb") / name
    path.write_text(text, encoding="utf-8")
    g = EmbeddedGraph(store="auto")
    load_file(g, path)
    return g


def make_qa(graph, *, encoder: bool = True, trained: bool = True) -> KBQA:
    """The pipeline over `graph`; `trained` uses the shipped scorer (its generic weights transfer)."""
    from qa.models import shared_encoder

    return KBQA(Settings(), graph=graph, scorer=None if trained else Scorer(),
                config=KBQAConfig(use_encoder=encoder), encoder=shared_encoder() if encoder else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def oxigraph_server():
    """A real Oxigraph server (PyPI `oxigraph`) on loopback, in memory, stopped at session end."""
    with oxigraph_process() as base:
        yield base


@contextlib.contextmanager
def oxigraph_process() -> Iterator[str]:
    """An Oxigraph server of its own (one a test may stop); yields its base URL."""
    exe = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(exe).exists():
        pytest.skip("the oxigraph server (pip install oxigraph) is not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "serve", "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/query?query=ASK%7B%7D", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("oxigraph server exited at start")
                time.sleep(0.1)
        else:
            pytest.fail("oxigraph server did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_load(base: str, graph: EmbeddedGraph) -> None:
    """Replace the server's default graph with `graph` (SPARQL Graph Store protocol, PUT)."""
    data = graph.graph.serialize(format="nt", encoding="utf-8")
    req = urllib.request.Request(base + "/store?default", data=data, method="PUT",
                                 headers={"Content-Type": "application/n-triples"})
    urllib.request.urlopen(req, timeout=30).read()


@contextlib.contextmanager
def replying_server(replies: dict[str, tuple[str, bytes]], seen: list[str] | None = None) -> Iterator[str]:
    """A real HTTP server on loopback answering every GET or POST to a path in `replies` with its
    (content type, body), anything else with 404; the paths asked (as sent, still percent-encoded)
    go to `seen`. Yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            if seen is not None:
                seen.append(path)
            kind, body = replies.get(path, ("text/plain", b"not found"))
            self.send_response(200 if path in replies else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PQ = SHARED_DATA / "kbqa" / "pathquestion"
CK25 = SHARED_DATA / "kbqa" / "ck25"
needs_pq = pytest.mark.skipif(not PQ.exists(), reason="../shared/data/kbqa/pathquestion is absent")
needs_ck25 = pytest.mark.skipif(not CK25.exists(), reason="../shared/data/kbqa/ck25 is absent")
