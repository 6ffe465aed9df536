"""Query shapes beyond a path and a superlative, on a small catalogue graph of our own: derived
quantities (BIND), numeric filters, disjunctions with demonyms (VALUES), counts per answer with
HAVING and names beside them (two columns), top-N by an average over the things pointing at the
answer."""

import pytest

from kb.linking import LabelIndex
from kb.sparql import check_read_only
from tests.kb.conftest import make_qa, turtle_graph

CATALOGUE_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

ex:Coil a ex:Category ; ex:name "Coil" .
ex:Relay a ex:Category ; ex:name "Relay" .
ex:c1 a ex:Product ; ex:name "Coil One" ; ex:hasCategory ex:Coil ; ex:width_mm 10 ; ex:height_mm 10 ; ex:depth_mm 10 ;
    ex:weight_g 900 ; ex:hasSupplier ex:s1 ; ex:reliability 0.9 .
ex:c2 a ex:Product ; ex:name "Coil Two" ; ex:hasCategory ex:Coil ; ex:width_mm 20 ; ex:height_mm 20 ; ex:depth_mm 20 ;
    ex:weight_g 1000 ; ex:hasSupplier ex:s2 ; ex:reliability 0.5 .
ex:c3 a ex:Product ; ex:name "Coil Three" ; ex:hasCategory ex:Coil ; ex:width_mm 5 ; ex:height_mm 30 ; ex:depth_mm 2 ;
    ex:weight_g 50 ; ex:hasSupplier ex:s3 ; ex:reliability 0.7 .
ex:r1 a ex:Product ; ex:name "Relay One" ; ex:hasCategory ex:Relay ; ex:width_mm 3 ; ex:height_mm 3 ; ex:depth_mm 3 ;
    ex:weight_g 5 ; ex:hasSupplier ex:s1 ; ex:reliability 0.8 .
ex:s1 a ex:Supplier ; ex:name "Acme" ; ex:addressCountry "France" .
ex:s2 a ex:Supplier ; ex:name "Globex" ; ex:addressCountry "Germany" .
ex:s3 a ex:Supplier ; ex:name "Initech" ; ex:addressCountry "Poland" .
ex:sales a ex:Department ; ex:name "Sales" .
ex:support a ex:Department ; ex:name "Support" .
ex:e1 a ex:Employee ; ex:name "Ann" ; ex:memberOf ex:sales .
ex:e2 a ex:Employee ; ex:name "Bo" ; ex:memberOf ex:sales .
ex:e3 a ex:Employee ; ex:name "Cy" ; ex:memberOf ex:sales .
ex:e4 a ex:Employee ; ex:name "Di" ; ex:memberOf ex:support .
ex:v1 a ex:Visitor ; ex:name "Ed" ; ex:memberOf ex:support .
ex:v2 a ex:Visitor ; ex:name "Flo" ; ex:memberOf ex:support .
ex:v3 a ex:Visitor ; ex:name "Gus" ; ex:memberOf ex:support .
"""


@pytest.fixture(scope="module")
def qa(tmp_path_factory):
    return make_qa(turtle_graph(tmp_path_factory, CATALOGUE_TTL, "catalogue.ttl"))


def names(qa, pred) -> set[str]:
    return {qa.index.label(n) for n, _ in pred.answers}


def test_volume_and_density_are_derived_with_bind(qa):
    pred = qa.predict("Which coil has the smallest volume?")
    assert "BIND" in pred.sparql and names(qa, pred) == {"Coil Three"}  # 5*30*2 = 300
    pred = qa.predict("Which coil has the highest density?")
    assert "BIND" in pred.sparql and names(qa, pred) == {"Coil One"}  # 900 / 1000
    check_read_only(pred.sparql)


def test_numeric_filter(qa):
    pred = qa.predict("Which coils have a weight under 100?")
    assert "FILTER" in pred.sparql and names(qa, pred) == {"Coil Three"}
    pred = qa.predict("Which coils have a weight over 100?")
    assert names(qa, pred) == {"Coil One", "Coil Two"}


def test_demonyms_link_to_their_country(qa):
    links = LabelIndex.build(qa.graph).link("products from a polish supplier")
    assert any(c.label == "Poland" and c.method == "demonym" for c in links)


def test_disjunction_becomes_values(qa):
    pred = qa.predict("Which coil can we get from a french or german supplier?")
    assert "VALUES" in pred.sparql
    assert names(qa, pred) == {"Coil One", "Coil Two"}


def test_count_per_answer_with_having_and_names(qa):
    pred = qa.predict("Which departments have more than 2 employees? I need their names and the number of employees.")
    assert "HAVING" in pred.sparql and "GROUP BY" in pred.sparql
    rows = qa.graph.select(pred.sparql)
    assert [(str(a), int(n)) for a, n in rows] == [("Sales", 3)]  # Support has 1 employee and 3 visitors


def test_top_n_by_an_average_over_what_points_at_the_answer(qa):
    pred = qa.predict("What are the top 2 suppliers with the best average reliability of their products?")
    assert "AVG(" in pred.sparql and "LIMIT 2" in pred.sparql
    rows = qa.graph.select(pred.sparql)
    assert [qa.index.label(r[0]) for r in rows] == ["Acme", "Initech"]  # (0.9 + 0.8) / 2, 0.7


@pytest.mark.parametrize(("question", "having", "expected"), [
    ("Which departments have more than 2e0 employees?", "> 2", {"Sales"}),  # was no HAVING: both, 0.84
    ("Which departments have fewer than 2,000 employees?", "< 2000", {"Sales", "Support"}),  # was < 2 or none
    ("Which departments have fewer than 2.0 employees?", "< 2", {"Support"}),
    ("Which departments have more than 2.5 employees?", "> 2.5", {"Sales"}),
    # a 64-bit integer holds no 10^20: compared as a double, not an error that makes HAVING false
    ("Which departments have fewer than 10^20 employees?", "< 1e+20", {"Sales", "Support"}),
    ("Which departments have more than 2 employees?", "> 2", {"Sales"}),  # plain digits as before
    # a verb before the comparison: the plural noun is what is counted, not a unit of "hold"
    ("Which departments hold more than 2 employees?", "> 2", {"Sales"}),
    ("Which departments include more than 2 employees?", "> 2", {"Sales"}),
])
def test_a_count_per_answer_reads_the_number_as_written(qa, question, having, expected):
    pred = qa.predict(question)
    assert f"count per answer {having}" in pred.constraints
    assert names(qa, pred) == expected
    assert not any(c.startswith("not expressed") for c in pred.constraints)


@pytest.mark.parametrize("question", [
    "Which departments have more than 1e400 employees?", "Which departments have fewer than 10^400 employees?",
    "Which coils have a weight over 1e400 grams?", "Which coils have a weight under 1e400 grams?",
])
def test_a_count_or_value_no_query_can_compare_with_is_a_guess_with_a_note(qa, question):
    """These once gave no constraint and every department (or coil) as if the number were not there,
    "more than 1e400 employees" at 0.84: the README's rule is a best guess at 0.5 at most, saying why."""
    top = qa.answer(question, 1)[0]
    guess = top.best_guess if top.no_answer else top
    assert guess is not None and guess.score <= 0.5
    assert any(c.startswith("not expressed:") and ("1e400" in c or "10^400" in c)
               for c in guess.evidence.constraints)
