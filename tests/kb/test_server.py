"""Integration: the pipeline through SPARQLWrapper against a real Oxigraph server agrees with the
embedded store."""

import pytest

from kb.loaders import load_file
from kb.pipeline import KBQA, KBQAConfig
from kb.scorer import Scorer
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
