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


def test_kbqa_cli_shows_as_many_answers_as_the_top_k_setting(monkeypatch, capsys):
    monkeypatch.setenv("QA_TOP_K", "1")
    assert main(["kbqa", "Which countries border Switzerland?", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["kbqa", "Which countries border Switzerland?", "--json", "--top-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
