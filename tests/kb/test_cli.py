import json

import pytest

from qa.cli import main
from tests.kb.conftest import replying_server

QUESTION = "What is the capital of France?"


def one_error_line(err: str, said: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and said in lines[0], err


def test_kbqa_cli_bad_input_exits_2(capsys):
    assert main(["kbqa", "   "]) == 2
    assert main(["kbqa", "x" * 3000]) == 2
    assert main(["kbqa", "capital of France?", "--graph", "/nonexistent/graph.ttl"]) == 2


def test_kbqa_cli_answers_from_a_graph_file(small_ttl, capsys):
    assert main(["kbqa", "What is the capital of France?", "--graph", str(small_ttl), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["answers"]  # the one JSON shape of `qa ask --json`
    assert out[0]["route"] == "kbqa" and out[0]["text"] == "Paris"
    assert "SELECT" in out[0]["evidence"]["sparql"]
    assert out[0]["evidence"]["graph"] == f"file:{small_ttl.name}"  # the graph, not "embedded:OxigraphStore"


def test_kbqa_cli_shows_as_many_answers_as_the_top_k_setting(monkeypatch, capsys):
    monkeypatch.setenv("QA_TOP_K", "1")
    assert main(["kbqa", "Which countries border Switzerland?", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["answers"]) == 1
    assert main(["kbqa", "Which countries border Switzerland?", "--json", "--top-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["answers"]) == 2


def test_a_url_that_is_no_sparql_endpoint_is_one_error_line(tmp_path, capsys):
    """A web page where the endpoint should be (a 200 with HTML) is named as such, exit 2."""
    import functools
    import http.server
    import threading

    (tmp_path / "sparql").write_text("<html><body>a web page</body></html>", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        assert main(["kbqa", "What is the capital of France?", "--endpoint", url]) == 2
        err = capsys.readouterr().err
        assert "did not answer with SPARQL results" in " ".join(err.split()) and "Traceback" not in err
        missing = f"http://127.0.0.1:{server.server_address[1]}/nothere"  # a 404 page: its HTML is no message
        assert main(["kbqa", "What is the capital of France?", "--endpoint", missing]) == 2
        err = capsys.readouterr().err
        assert f"the endpoint {missing} refused the query" in " ".join(err.split())
        line = next(x for x in err.splitlines() if x.startswith("error:"))
        assert "<" not in line and "Response" not in line and "Traceback" not in err
    finally:
        server.shutdown()


def test_kb_train_refuses_an_empty_graph_and_an_unwritable_out_before_training(tmp_path, capsys):
    from qa.commands.kb import _scorer_target

    for text in ("", "@prefix ex: <http://example.org/> .\n"):
        empty = tmp_path / "empty.ttl"
        empty.write_text(text, encoding="utf-8")
        assert main(["kb", "train", "--graph", str(empty)]) == 2
        err = capsys.readouterr().err
        assert "too few questions" in err and "Traceback" not in err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["kb", "train", "--graph", str(empty), "--out", str(blocker / "scorer.json")]) == 2
    assert "a-file is a file, not a folder" in capsys.readouterr().err
    folder = tmp_path / "models"
    folder.mkdir()
    assert _scorer_target(folder) == folder / "scorer.json"  # a folder gets the scorer inside it
    assert _scorer_target(tmp_path / "new" / "s.json") == tmp_path / "new" / "s.json"
    assert (tmp_path / "new").is_dir()
    # the graph itself (replaced by the scorer's JSON, exit 0), or any other file that is no scorer
    graph = tmp_path / "g.tsv"
    graph.write_text("Paris\tcapital_of\tFrance\n", encoding="utf-8")
    for target in (graph, blocker):
        before = target.read_bytes()
        assert main(["kb", "train", "--graph", str(graph), "--out", str(target)]) == 2
        assert "is not a graph scorer: it would be replaced" in capsys.readouterr().err
        assert target.read_bytes() == before
    scorer = tmp_path / "old-scorer.json"
    scorer.write_text('{"weights": {}, "meta": {}}', encoding="utf-8")
    assert _scorer_target(scorer) == scorer  # an earlier scorer is what --out replaces


@pytest.mark.parametrize(("url", "said"), [
    (b"http://x/caf\xe9".decode("utf-8", "surrogateescape"), "not valid UTF-8"),  # as argv and environ hold it
    ("http://127.0.0.1:9/a b", "a space or a control character"),
    ("http://127.0.0.1:9/a\tb", "a space or a control character"),
    ("http://[x/query", "not a URL (Invalid IPv6 URL)"),
    ("http://127.0.0.1:port/query", "not a URL"),
    ("http:///query", "http(s) URL with a host"),
])
def test_an_endpoint_url_that_cannot_be_sent_is_refused_in_one_line(monkeypatch, capsys, url, said):
    """A byte that is not UTF-8 in --endpoint or QA_KB_ENDPOINT was a UnicodeEncodeError traceback
    (exit 1) from the label index's folder name; a space, a bad port or bracket one from urllib.
    Each is named as the user wrote it: the option was "setting kb_endpoint=...", a name never typed."""
    for argv in (["kbqa", QUESTION, "--endpoint", url], ["ask", QUESTION, "--endpoint", url],
                 ["kb", "train", "--endpoint", url], ["kb", "info", "--endpoint", url]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        one_error_line(err, said)
        assert err.startswith("error: --endpoint: ") and "kb_endpoint" not in err, err
    monkeypatch.setenv("QA_KB_ENDPOINT", url)
    assert main(["kbqa", QUESTION]) == 2
    err = capsys.readouterr().err
    one_error_line(err, said)
    assert "QA_KB_ENDPOINT=" in err and "--endpoint" not in err


def test_an_endpoint_written_as_an_iri_is_asked_at_its_percent_encoded_url():
    """http.client writes only ASCII: "/café" was a UnicodeEncodeError traceback, not a query."""
    from kb.store import RemoteGraph

    seen: list[str] = []
    ask = ("application/sparql-results+json", b'{"head": {}, "boolean": true}')
    with replying_server({"/caf%C3%A9": ask}, seen) as base:
        assert RemoteGraph(base + "/café", timeout_s=5, retries=0).ask("ASK { ?s ?p ?o }") is True
    assert seen == ["/caf%C3%A9"]


def test_a_url_that_answers_json_of_another_kind_is_no_empty_graph(capsys):
    """Any JSON that is not SPARQL results (a data file, an API's reply) was read as results without
    rows: exit 0 and "No answer (confidence 1.00)", as if the graph were empty."""
    replies = {"/some.json": ("application/json", b'{"name": "a data file", "results": []}'),
               "/broken.json": ("application/sparql-results+json", b'{"head": {"vars": ['),
               "/list.json": ("application/json", b"[1, 2, 3]"),
               # nested past Python's stack: a RecursionError's traceback, exit 1
               "/deep.json": ("application/sparql-results+json", b"[" * 100_000)}
    with replying_server(replies) as base:
        for path in replies:
            assert main(["kbqa", QUESTION, "--endpoint", base + path]) == 2
            one_error_line(capsys.readouterr().err, "did not answer with SPARQL results (JSON)")



def test_a_bad_timeout_is_refused_under_the_option_name(monkeypatch, capsys):
    """--timeout was refused as "setting kb_timeout_s=-1.0", a name the user never typed; the same
    value from the environment still names the variable."""
    assert main(["kbqa", QUESTION, "--timeout", "-1"]) == 2
    err = capsys.readouterr().err
    one_error_line(err, "invalid value for --timeout (-1.0): Input should be greater than 0")
    monkeypatch.setenv("QA_KB_TIMEOUT_S", "-2")
    assert main(["kbqa", QUESTION]) == 2
    one_error_line(capsys.readouterr().err, "QA_KB_TIMEOUT_S='-2': Input should be greater than 0")


def test_kb_info_says_the_world_graph_has_its_trained_scorer(tmp_path, monkeypatch, capsys) -> None:
    """It said `trained_scorer: False` beside the shipped scorer trained for that very graph, and
    named that scorer where QA_KB_SCORER chose another."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["kb", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["trained_scorer"] is True and info["scorer_used"].endswith("data/kb/scorer.json")
    monkeypatch.setenv("QA_KB_SCORER", str(tmp_path / "mine.json"))
    assert main(["kb", "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scorer_used"] == str(tmp_path / "mine.json")
    trig = tmp_path / "company.trig"  # no command loads it: kb info said what was built for it, exit 0
    trig.write_text("<http://x/a> <http://x/b> <http://x/c> .\n", encoding="utf-8")
    assert main(["kb", "info", "--graph", str(trig)]) == 2
    one_error_line(capsys.readouterr().err, "unknown graph format for company.trig")
    # qa serve started with the graph source down (refused only once the server was up)
    assert main(["serve", "--graph", str(trig), "--port", "18998"]) == 2
    one_error_line(capsys.readouterr().err, "unknown graph format for company.trig")
    monkeypatch.setenv("QA_KB_GRAPH", str(trig))  # the setting as the option: refused at the start, by name
    assert main(["ask", "Who wrote Hamlet?"]) == 2
    one_error_line(capsys.readouterr().err, "unknown graph format for company.trig")
