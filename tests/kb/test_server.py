"""Integration: the pipeline through SPARQLWrapper against a real Oxigraph server agrees with the
embedded store."""

import contextlib

import pytest

from kb.loaders import load_file
from kb.pipeline import KBQA, KBQAConfig
from kb.scorer import Scorer
from kb.sparql import QueryForm
from kb.store import EmbeddedGraph, RemoteGraph
from qa.core.settings import Settings
from tests.kb.conftest import PQ, make_qa, needs_pq, server_load

pytestmark = pytest.mark.server

QUESTIONS = ["What is the capital of France?", "which currency does Japan use?",
             "what is the population of the capital of Germany?", "What is the largest city in France?",
             "How many cities are in Germany?", "Is Paris the capital of France?",
             "which continent is Japan in?", "what is the capital of Frannce?"]


def _summary(pred):
    return (pred.sparql, sorted(str(n) for n, _ in pred.answers), pred.boolean)


def test_server_and_embedded_agree(oxigraph_server, small_graph):
    server_load(oxigraph_server, small_graph)
    remote = RemoteGraph(oxigraph_server + "/query", timeout_s=10)
    assert remote.ask("ASK { ?s ?p ?o }")
    q = "SELECT ?s ?o WHERE { ?s <http://example.org/capital> ?o } ORDER BY ?s LIMIT 10"
    assert remote.select(q) == small_graph.select(q)
    embedded_qa, remote_qa = make_qa(small_graph), make_qa(remote)
    for question in QUESTIONS:
        assert _summary(remote_qa.predict(question)) == _summary(embedded_qa.predict(question)), question


def test_server_rejects_nothing_we_send_and_we_send_no_updates(oxigraph_server, small_graph):
    server_load(oxigraph_server, small_graph)
    remote = RemoteGraph(oxigraph_server + "/query")
    with pytest.raises(Exception, match="never sent"):
        remote.select("DELETE WHERE { ?s ?p ?o }")
    # the guard's second line: whatever passes check_read_only, SPARQLWrapper's own reading of the
    # form must not make it an update either
    update = 'PREFIX p: <a:b> #\rINSERT DATA { <a:b> <a:c> """\nSELECT * WHERE { ?s ?p ?o } LIMIT 1 #"""}'
    import SPARQLWrapper.Wrapper as wrapper_module

    sent: list[bytes] = []
    real = wrapper_module.urlopener

    def recording(request, *a, **kw):  # what reaches the wire
        sent.append(request.data or request.full_url.encode())
        return real(request, *a, **kw)

    monkey = pytest.MonkeyPatch()
    monkey.setattr(wrapper_module, "urlopener", recording)
    try:
        with contextlib.suppress(Exception):
            remote._send(update, None, QueryForm.SELECT)  # the server refuses it as a query: never an update
        # SPARQLWrapper alone took this for an update (the word "address" holds "add")
        addressed = "PREFIX : <http://example.org/address/>\nSELECT ?s WHERE { ?s ?p ?o } LIMIT 1"
        assert len(remote.select(addressed)) == 1  # read as the query it is
    finally:
        monkey.undo()
    assert sent and not any(b"update=" in s for s in sent)
    assert small_graph.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } LIMIT 1") == \
        remote.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } LIMIT 1")
    assert remote.ask("ASK { <http://example.org/France> ?p ?o }")


@needs_pq
def test_pathquestion_slice_agrees(oxigraph_server):
    from benchmarks.pathquestion import _find, read_questions

    g = EmbeddedGraph()
    load_file(g, _find("2H-kb.txt"), fmt="tsv")
    server_load(oxigraph_server, g)
    remote = RemoteGraph(oxigraph_server + "/query")
    cfg = KBQAConfig(forward_only=True, use_encoder=False, type_rerank=0)
    a = KBQA(Settings(), graph=g, scorer=Scorer(), config=cfg)
    b = KBQA(Settings(), graph=remote, scorer=Scorer(), config=cfg)
    for row in read_questions("PQ-2H")[:: 97][:20]:
        assert _summary(a.predict(row["question"])) == _summary(b.predict(row["question"]))
    assert PQ.exists()


def test_blank_node_answers_from_a_server_show_their_labels(oxigraph_server, tmp_path_factory):
    from tests.kb.conftest import turtle_graph
    from tests.kb.test_regressions import LABELS_TTL

    server_load(oxigraph_server, turtle_graph(tmp_path_factory, LABELS_TTL, "labels.ttl"))
    remote_qa = make_qa(RemoteGraph(oxigraph_server + "/query", timeout_s=10))
    answers = remote_qa.predict("What award did Marie Curie receive?").answers
    assert [label for _, label in answers] == ["Nobel Prize in Physics 1903"]


def test_an_endpoints_label_index_is_rebuilt_once_older_than_its_max_age(oxigraph_server, tmp_path_factory,
                                                                          tmp_path, monkeypatch, capsys):
    """The endpoint's data changed (a new office), but its cached label index was kept forever."""
    from tests.kb.conftest import turtle_graph

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ttl = ('@prefix ex: <http://example.org/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n'
           'ex:paris rdfs:label "Paris office" ; ex:manager ex:bob . ex:bob rdfs:label "Bob Stone" .\n'
           'ex:manager rdfs:label "manager" .\n')
    server_load(oxigraph_server, turtle_graph(tmp_path_factory, ttl, "offices.ttl"))
    settings = Settings(kb_endpoint=oxigraph_server + "/query", kb_timeout_s=10)

    def ask(question: str, **extra) -> str:
        qa = KBQA(settings.model_copy(update=extra), config=KBQAConfig(use_encoder=False))
        top = qa.answer(question, 1)[0]
        return top.text or "(no answer)"

    assert ask("Who is the manager of the Paris office?") == "Bob Stone"
    server_load(oxigraph_server, turtle_graph(tmp_path_factory, ttl.replace("Paris office", "Lyon office"),
                                              "offices2.ttl"))
    assert ask("Who is the manager of the Lyon office?") == "(no answer)"  # the day-old index: no "Lyon office"
    assert ask("Who is the manager of the Lyon office?", kb_index_max_age_h=0) == "Bob Stone"
    # an index from the future (copied from a machine whose clock ran ahead) was kept for good
    server_load(oxigraph_server, turtle_graph(tmp_path_factory, ttl.replace("Paris office", "Nice office"),
                                              "offices3.ttl"))
    import os
    import time

    for cached in (tmp_path / "cache").rglob("*"):
        if cached.is_file():
            os.utime(cached, (time.time() + 86_400 * 365, time.time() + 86_400 * 365))
    assert ask("Who is the manager of the Nice office?") == "Bob Stone"
    # a running engine checks the index's age too (it was checked when the source was built alone)
    from qa.core.types import Route
    from qa.engine import Engine

    engine = Engine(settings.model_copy(update={"kb_index_max_age_h": 2 / 3600}), routes=[Route.KBQA])
    assert engine.ask("Who is the manager of the Nice office?", route="kbqa").answers[0].text == "Bob Stone"
    server_load(oxigraph_server, turtle_graph(tmp_path_factory, ttl.replace("Paris office", "Oslo office"),
                                              "offices4.ttl"))
    time.sleep(2.5)
    assert engine.ask("Who is the manager of the Oslo office?", route="kbqa").answers[0].text == "Bob Stone"
    engine.close()
    import json

    from qa.cli import main

    capsys.readouterr()
    assert main(["kb", "info", "--endpoint", oxigraph_server + "/query", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["label_index"] and info["label_index_age_h"] < 1 and info["label_index_max_age_h"] == 24


def test_an_endpoint_that_goes_down_fails_the_question_instead_of_answering_no(small_graph, tmp_path, monkeypatch,
                                                                              capsys):
    """Its label index cached, a question over a stopped endpoint reaches no query: that is the
    graph failing (exit 2, or "failed: kbqa" for the router), not a sure "no answer"."""
    from kb.store import QueryError
    from qa.cli import main
    from tests.kb.conftest import oxigraph_process

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with oxigraph_process() as base:
        server_load(base, small_graph)
        settings = Settings(kb_endpoint=base + "/query", kb_timeout_s=5)
        up = KBQA(settings, config=KBQAConfig(use_encoder=False)).answer("What is the capital of France?", 1)
        assert up and up[0].route == "kbqa"  # while the endpoint is up: asked, and its label index cached
    with pytest.raises(QueryError, match="failed after"):
        KBQA(settings, config=KBQAConfig(use_encoder=False)).answer("What is the capital of France?", 1)
    capsys.readouterr()
    assert main(["kbqa", "What is the capital of France?", "--endpoint", base + "/query"]) == 2
    err = capsys.readouterr().err
    assert "failed after" in err and "Traceback" not in err


def test_an_endpoint_url_with_credentials_or_parameters_is_sent_as_meant_and_its_password_never_shown(
        oxigraph_server, small_graph):
    """`http://user:pw@host/query` failed with "Name or service not known" (the user part read as the
    host) and printed the password in the error line, in `qa kb info` and in API errors; a URL with
    parameters (`?default-graph-uri=...`, Virtuoso's and Fuseki's usual form) got a second "?" and
    the server's refusal was blamed on the query. A logging proxy in front of the real server shows
    what arrives."""
    import base64

    server_load(oxigraph_server, small_graph)
    seen: list[tuple[str, str | None]] = []

    def record(path, auth):
        seen.append((path, auth))
        return path.replace("timeout=5&", "")  # what the server itself is given

    with _proxy(oxigraph_server, record) as port:
        remote = RemoteGraph(f"http://ann:s3cr%40t@127.0.0.1:{port}/query?timeout=5", timeout_s=10)
        assert remote.ask("ASK { ?s ?p ?o }")
        path, auth = seen[-1]
        assert path.startswith("/query?timeout=5&") and path.count("?") == 1 and "query=ASK" in path
        assert auth == "Basic " + base64.b64encode(b"ann:s3cr@t").decode()
        assert "s3cr" not in remote.endpoint and "s3cr" not in remote.name and "ann:***@" in remote.endpoint
    down = RemoteGraph("http://ann:hunter2@127.0.0.1:9/query", timeout_s=1, retries=0)
    with pytest.raises(Exception) as failed:
        down.ask("ASK { ?s ?p ?o }")
    assert "hunter2" not in str(failed.value) and "ann:***@127.0.0.1:9" in str(failed.value)
    with pytest.raises(Exception, match="leave '\\?query=...' out"):
        RemoteGraph("http://127.0.0.1:9/query?query=ASK%7B%7D")
    with _proxy(oxigraph_server, record) as port:  # a token as the user part alone: sent, never shown
        remote = RemoteGraph(f"http://tok3n@127.0.0.1:{port}/query", timeout_s=10)
        assert remote.ask("ASK { ?s ?p ?o }") and seen[-1][1] == "Basic " + base64.b64encode(b"tok3n:").decode()
        assert "tok3n" not in remote.endpoint and "tok3n" not in remote.name


def test_a_slow_endpoint_holds_a_question_for_twice_the_query_timeout_not_once_per_query(oxigraph_server,
                                                                                          small_graph):
    """An endpoint answering no query in time held one question for each of its 14 queries' timeout
    (141 s at 10 s): past the API's request timeout, and the engine's falling back to the other
    sources with it."""
    import time

    from kb.pipeline import QUESTION_BUDGET
    from kb.store import QueryTimeout
    from qa.models import shared_encoder

    server_load(oxigraph_server, small_graph)
    slow = {"on": False}

    def delay(path, auth):
        if slow["on"]:
            time.sleep(1.5)
        return path

    with _proxy(oxigraph_server, delay) as port:
        qa = KBQA(Settings(kb_timeout_s=1.0), graph=RemoteGraph(f"http://127.0.0.1:{port}/query", timeout_s=1.0),
                  config=KBQAConfig(use_encoder=True), encoder=shared_encoder())
        top = qa.answer("What is the capital of France?")[0]  # the label index built, every query in time
        assert (top.best_guess if top.no_answer else top).text == "Paris"
        slow["on"] = True
        t0 = time.monotonic()
        with pytest.raises(QueryTimeout, match="did not answer in time"):
            qa.answer("what is the population of the capital of Germany?")
        assert time.monotonic() - t0 < QUESTION_BUDGET * 1.0 + 2.5


def test_health_says_a_graph_behind_an_endpoint_that_stopped_answering_is_not_ready(oxigraph_server, small_graph,
                                                                                     monkeypatch):
    """`/v1/health` said kbqa was ready ("loaded and answering") while every question to the
    graph failed with 503: loaded, but the endpoint behind it had stopped answering."""
    import time

    from fastapi.testclient import TestClient

    from qa.api import create_app
    from qa.core.types import Route
    from qa.engine import Engine
    from qa.models import shared_encoder

    server_load(oxigraph_server, small_graph)
    down = {"on": False}

    def maybe_down(path, auth):
        if down["on"]:
            raise ConnectionAbortedError  # the proxy hangs up without a reply
        return path

    settings = Settings(kb_timeout_s=5.0)
    with _proxy(oxigraph_server, maybe_down) as port:
        kbqa = KBQA(settings, graph=RemoteGraph(f"http://127.0.0.1:{port}/query", timeout_s=5.0, retries=0),
                    config=KBQAConfig(use_encoder=True), encoder=shared_encoder())
        engine = Engine(settings, sources={Route.KBQA: kbqa}, routes=[Route.KBQA])
        with TestClient(base_url="http://127.0.0.1", app=create_app(settings, engine=engine)) as c:
            wait_until = time.monotonic() + 60
            while c.get("/v1/health").json()["status"] != "ok" and time.monotonic() < wait_until:
                time.sleep(0.1)
            ask = {"question": "What is the capital of France?"}
            assert c.post("/v1/ask", json=ask).status_code == 200
            health = c.get("/v1/health").json()
            assert health["ready"] == {"kbqa": True} and health["failing"] == {}
            down["on"] = True
            assert c.post("/v1/ask", json=ask).status_code == 503
            health = c.get("/v1/health").json()
            assert health["ready"] == {"kbqa": False} and health["failing"] == {"kbqa": "graph_unavailable"}
            down["on"] = False
            assert c.post("/v1/ask", json=ask).status_code == 200
            assert c.get("/v1/health").json()["ready"] == {"kbqa": True}
            # a failure long past, with no question since, says nothing of now
            down["on"] = True
            assert c.post("/v1/ask", json=ask).status_code == 503
            monkeypatch.setattr("qa.engine.FAILING_FOR_S", 0.0)
            time.sleep(0.01)
            assert c.get("/v1/health").json()["failing"] == {}


def test_endpoint_credentials_are_not_sent_where_the_endpoint_redirects(oxigraph_server, small_graph):
    """A server answering 302 to another host was sent the endpoint's password too (urllib copies a
    request's headers onto the redirect's): a redirect is followed without them."""
    import http.server
    import threading

    server_load(oxigraph_server, small_graph)
    seen: list[tuple[str, str | None]] = []

    with _proxy(oxigraph_server, lambda path, auth: seen.append(("target", auth)) or path) as target:
        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the standard library's name
                seen.append(("first", self.headers.get("Authorization")))
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{target}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            remote = RemoteGraph(f"http://ann:s3cret@127.0.0.1:{server.server_port}/query", timeout_s=10, retries=0)
            assert remote.ask("ASK { ?s ?p ?o }")  # the target asks no password
        finally:
            server.shutdown()
            server.server_close()
    assert seen[0][0] == "first" and seen[0][1] is not None and seen[0][1].startswith("Basic ")
    assert seen[1] == ("target", None)

    class Moved(http.server.BaseHTTPRequestHandler):  # /query moved to /sparql, which wants a password
        def do_GET(self):  # noqa: N802 - the standard library's name
            if self.path.startswith("/query"):
                self.send_response(301)
                self.send_header("Location", self.path.replace("/query", "/sparql", 1))
            else:
                self.send_response(200 if self.headers.get("Authorization") else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Moved)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        moved = RemoteGraph(f"http://ann:s3cret@127.0.0.1:{server.server_port}/query", timeout_s=10, retries=0)
        with pytest.raises(Exception, match="if it redirects, give the address it redirects to") as refused:
            moved.ask("ASK { ?s ?p ?o }")
        assert "s3cret" not in str(refused.value)
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_timeout_under_a_second_is_kept(oxigraph_server, small_graph):
    """`--timeout 0.3` waited a whole second: SPARQLWrapper's setter rounds to whole seconds."""
    import time

    from kb.store import QueryTimeout

    server_load(oxigraph_server, small_graph)
    with _proxy(oxigraph_server, lambda path, auth: time.sleep(1.2) or path) as port:
        remote = RemoteGraph(f"http://127.0.0.1:{port}/query", timeout_s=0.3)
        t0 = time.monotonic()
        with pytest.raises(QueryTimeout, match="after 0.3s"):
            remote.ask("ASK { ?s ?p ?o }")
        assert time.monotonic() - t0 < 0.9


@contextlib.contextmanager
def _proxy(base, on_request):
    """A logging proxy on loopback in front of the real server: `on_request(path, authorization)`
    sees each request (and may hold it up) and returns the path the server is given."""
    import http.server
    import threading
    import urllib.request

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            path = on_request(self.path, self.headers.get("Authorization"))
            request = urllib.request.Request(base + path, headers={"Accept": self.headers["Accept"]})
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - loopback
                    body = reply.read()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.headers["Content-Type"])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            except (ConnectionError, OSError):  # the client stopped waiting
                pass

        def log_message(self, *args):  # quiet
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy.server_address[1]
    finally:
        proxy.shutdown()


def test_a_server_that_caps_its_answers_still_gives_the_whole_label_index(oxigraph_server, small_graph):
    """A server returning at most N rows a query (Virtuoso's ResultSetMaxRows) gave a label index of
    the first N labels, and every name past them was "no answer" at 1.00."""
    import json

    from kb.linking import LabelIndex

    server_load(oxigraph_server, small_graph)
    whole = LabelIndex.build(RemoteGraph(oxigraph_server + "/query"))

    class Capped(RemoteGraph):  # the server's cap, applied to what it sends
        def _send(self, query, timeout_s, form):
            reply = super()._send(query, timeout_s, form)
            if "results" in reply:
                reply = json.loads(json.dumps(reply))
                reply["results"]["bindings"] = reply["results"]["bindings"][:8]
            return reply

    capped = LabelIndex.build(Capped(oxigraph_server + "/query"))
    assert len(whole.labels) > 8 and capped.labels == whole.labels
