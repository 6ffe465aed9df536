import pytest
from rdflib import Literal, URIRef

from kb.linking import LabelIndex
from kb.sparql import check_read_only
from kb.store import EmbeddedGraph
from qa.core.errors import InputError
from tests.kb.conftest import make_qa


@pytest.fixture(scope="module")
def qa(small_graph):
    return make_qa(small_graph)


def test_linking_exact_normalised_fuzzy(small_graph):
    idx = LabelIndex.build(small_graph)
    assert idx.link("what is the capital of France?")[0].label == "France"
    best = idx.link("population of munchen")[0]
    assert best.label == "München" and best.method == "normalised"
    fuzzy = idx.link("what is the capital of Frannce")
    assert fuzzy[0].label == "France" and fuzzy[0].method == "fuzzy"
    assert any(c.kind == "class" and c.label == "city" for c in idx.link("which city is the largest"))


@pytest.mark.parametrize("question,expected,answered", [
    ("What is the capital of France?", {"Paris"}, True),
    ("which currency does Japan use?", {"Yen"}, True),
    ("what is the population of the capital of Germany?", {"3600000"}, True),
    # a superlative scores low with the shipped scorer: shown as the best guess, not claimed
    ("What is the largest city in France?", {"Paris"}, False),
])
def test_answers_and_explanations(qa, question, expected, answered):
    answers = qa.answer(question)
    if answered:  # claimed, not only guessed: a pipeline that always abstained passed before
        assert not answers[0].no_answer and {a.text for a in answers} >= expected and answers[0].score >= 0.5
    else:
        assert answers[0].no_answer and {a.best_guess.text for a in answers if a.best_guess} >= expected
    a = answers[0]
    assert a.route == "kbqa" and 0.0 <= a.score <= 1.0
    assert a.evidence.sparql and a.evidence.path and a.evidence.entities
    check_read_only(a.evidence.sparql)


def test_count_constraint(qa):
    pred = qa.predict("How many cities are in Germany?")
    assert "count" in pred.constraints and "COUNT(DISTINCT ?answer)" in pred.sparql
    assert pred.answers[0][1].isdigit()


def test_yes_no(qa):
    assert qa.predict("Is Paris the capital of France?").boolean is True
    assert qa.predict("Is Berlin the capital of France?").boolean is False


def test_no_answer_is_explicit(qa):
    answers = qa.answer("qwertyuiop zxcvbnm?")
    assert answers[0].no_answer and answers[0].text == ""
    with pytest.raises(InputError):
        qa.answer("   ")


class Recording:
    """A graph wrapper that records every query the pipeline sends."""

    def __init__(self, inner):
        self.inner, self.sent, self.name = inner, [], "recording"

    def select(self, q, timeout_s=None):
        self.sent.append(q)
        return self.inner.select(q, timeout_s)

    def ask(self, q, timeout_s=None):
        self.sent.append(q)
        return self.inner.ask(q, timeout_s)


HOSTILE_LABELS = ['Evil" } ; DROP ALL ; SELECT * { "', "}; DROP GRAPH <http://ex.org/g>", "DELETE WHERE { ?s ?p ?o }",
                  "INSERT DATA { <http://a/> <http://a/> <http://a/> }", "SERVICE <http://evil.example/> {}",
                  "O'Brien \\u0022 land", "a > b < c"]
HOSTILE_QUESTIONS = [f"what is the capital of {x}?" for x in HOSTILE_LABELS] + [
    'What is the capital of France"} ; DROP ALL ; #?', "capital of <http://ex.org/x> } ; DELETE WHERE {?s ?p ?o}",
    "SELECT * WHERE { SERVICE <http://evil/> { ?s ?p ?o } }", "\\u0022 }} INSERT DATA {}", "France " * 300,
    "caf\u00e9 \u202e\U0001f600 capital", "x" * 1999,
]


def test_hostile_input_never_changes_query_structure(small_ttl):
    from rdflib.plugins.sparql.parser import parseQuery

    g = EmbeddedGraph()
    from kb.loaders import load_file

    load_file(g, small_ttl)
    ex = "http://example.org/"
    for i, lab in enumerate(HOSTILE_LABELS):  # hostile entity labels inside the graph
        node = URIRef(f"{ex}evil{i}")
        g.graph.add((node, URIRef("http://www.w3.org/2000/01/rdf-schema#label"), Literal(lab)))
        g.graph.add((node, URIRef(f"{ex}capital"), URIRef(f"{ex}Paris")))
    before = len(g)
    rec = Recording(g)
    qa = make_qa(rec)
    for q in HOSTILE_QUESTIONS:
        try:
            qa.answer(q)
        except InputError:
            pass
    assert rec.sent
    for q in rec.sent:
        form = check_read_only(q)
        assert form in {"select", "ask"}
        parsed = parseQuery(q)  # one well-formed query, never an update
        assert parsed[1].name in {"SelectQuery", "AskQuery"}
        assert "SERVICE" not in q.upper().replace('"SERVICE', "")  or 'SERVICE <http://evil' not in q
        if form == "select":
            assert "LIMIT" in q
    assert len(g) == before  # nothing was changed
    # hostile labels were linked as IRIs, never pasted as text
    ans = qa.answer('what is the capital of Evil" } ; DROP ALL ; SELECT * { "?')
    assert ans[0].text == "Paris" or (ans[0].best_guess is not None and ans[0].best_guess.text == "Paris")
    assert "DROP" not in ans[0].evidence.sparql
