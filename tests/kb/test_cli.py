import json

from qa.cli import main


def test_kbqa_cli_bad_input_exits_2(capsys):
    assert main(["kbqa", "   "]) == 2
    assert main(["kbqa", "x" * 3000]) == 2
    assert main(["kbqa", "capital of France?", "--graph", "/nonexistent/graph.ttl"]) == 2


def test_kbqa_cli_answers_from_a_graph_file(small_ttl, capsys):
    assert main(["kbqa", "What is the capital of France?", "--graph", str(small_ttl), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["route"] == "kbqa" and out[0]["text"] == "Paris"
    assert "SELECT" in out[0]["evidence"]["sparql"]
    assert out[0]["evidence"]["graph"] == f"file:{small_ttl.name}"  # the graph, not "embedded:OxigraphStore"


def test_kbqa_cli_shows_as_many_answers_as_the_top_k_setting(monkeypatch, capsys):
    monkeypatch.setenv("QA_TOP_K", "1")
    assert main(["kbqa", "Which countries border Switzerland?", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["kbqa", "Which countries border Switzerland?", "--json", "--top-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


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
