"""Query shapes a path alone does not give, on a small parts graph of our own: columns beside the
answer, a relation the answer lacks (only described things count when "active"), two attributes
compared, paths extended to what the question asks for (four hops), redundant type patterns,
ties between things that share a name, and requests that are not yes/no questions."""

import pytest
from rdflib import URIRef

from kb.linking import LabelIndex
from kb.pipeline import _shapes
from kb.sparql import check_read_only
from kb.text import normalise
from tests.kb.conftest import make_qa, turtle_graph

PARTS_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .

ex:Hardware a owl:Class ; rdfs:label "Hardware" .
ex:BillOfMaterial a owl:Class ; rdfs:label "Bill of Material (BOM)" .
ex:BomPart a owl:Class ; rdfs:label "BOM Part" .
ex:Supplier a owl:Class ; rdfs:label "Supplier" .
ex:hw1 a ex:Hardware ; ex:id "H1" ; ex:name "Alpha Relay" ; ex:width_mm 30 ; ex:height_mm 10 ; ex:depth_mm 20 ;
    ex:hasProductManager ex:pat ; ex:hasSupplier ex:s1 .
ex:hw2 a ex:Hardware ; ex:id "H2" ; ex:name "Beta Relay" ; ex:width_mm 10 ; ex:height_mm 30 ; ex:depth_mm 5 ;
    ex:hasProductManager ex:gone ; ex:hasSupplier ex:s2 .
ex:hw3 a ex:Hardware ; ex:id "H3" ; ex:name "Gamma Relay" ; ex:width_mm 40 ; ex:height_mm 20 ; ex:depth_mm 60 ;
    ex:hasProductManager ex:pat ; ex:hasSupplier ex:s2 .
ex:hw4 a ex:Hardware ; ex:id "H4" ; ex:name "Delta Relay" ; ex:hasSupplier ex:s2 .
ex:pat ex:name "Pat Quinn" .
ex:s1 a ex:Supplier ; ex:name "Acme" ; ex:country ex:Poland .
ex:s2 a ex:Supplier ; ex:name "Globex" ; ex:country ex:France .
ex:Poland rdfs:label "Poland" .
ex:France rdfs:label "France" .
ex:bom1 a ex:BillOfMaterial ; ex:name "Rocket" ; ex:hasBomPart ex:bp1 .
ex:bom2 a ex:BillOfMaterial ; ex:name "Glider" ; ex:hasBomPart ex:bp2 .
ex:bp1 a ex:BomPart ; ex:hasPart ex:hw1 ; ex:quantity 4 .
ex:bp2 a ex:BomPart ; ex:hasPart ex:hw2 ; ex:quantity 2 .
ex:sales ex:name "Sales" .
ex:ops ex:name "Operations" .
ex:kim1 ex:name "Kim Lee" ; ex:memberOf ex:sales ; ex:email "kim.lee@example.org" .
ex:kim2 ex:name "Kim Park" ; ex:memberOf ex:ops ; ex:email "kim.park@example.org" .
"""


@pytest.fixture(scope="module")
def qa(tmp_path_factory):
    return make_qa(turtle_graph(tmp_path_factory, PARTS_TTL, "parts.ttl"))


def rows(qa, pred) -> set[tuple[str, ...]]:
    check_read_only(pred.sparql)
    return {tuple(qa.index.label(x) if isinstance(x, URIRef) else str(x) for x in row)
            for row in qa.graph.select(pred.sparql)}


def test_shape_phrases_are_found_and_left_out_of_the_path():
    text = "Which hardware items - list id and name - have no active product manager?"
    words = normalise(text).split()
    s = _shapes(text, words)
    assert s.columns == ["id", "name"] and s.lacks == ("product manager", True)
    assert {words[i] for i in s.removed} == {"list", "id", "and", "name"}
    text = "Which hardware items are wider than they are tall? List their dimensions."
    s = _shapes(text, normalise(text).split())
    assert s.compare == ("width", ">", "height") and s.columns == ["dimensions"]
    # a question that starts with "list" asks for things, not for columns of them
    assert _shapes("List the suppliers in France", normalise("List the suppliers in France").split()).columns == []


def test_columns_beside_the_answer_and_a_relation_it_lacks(qa):
    pred = qa.predict("Which hardware items - list id and name - have no active product manager?")
    # hw2's manager is a dangling reference (nothing describes it): not an active one; hw4 has none
    assert rows(qa, pred) == {("Beta Relay", "H2", "Beta Relay"), ("Delta Relay", "H4", "Delta Relay")}
    assert "FILTER NOT EXISTS" in pred.sparql and any(c.startswith("lacks") for c in pred.constraints)
    pred = qa.predict("Which hardware items have no product manager?")  # none at all, described or not
    assert {r[0] for r in rows(qa, pred)} == {"Delta Relay"}


def test_two_attributes_compared_and_dimensions_listed(qa):
    pred = qa.predict("Which hardware items are wider than they are tall, and have a depth under 50 mm? "
                      "List their dimensions.")
    assert rows(qa, pred) == {("Alpha Relay", "30", "10", "20")}  # answer, width, height, depth
    pred = qa.predict("Which hardware items are taller than they are wide?")
    assert {r[0] for r in rows(qa, pred)} == {"Beta Relay"}


def test_a_path_is_extended_to_the_asked_class(qa):
    # Poland <- country - supplier <- hasSupplier - hardware <- hasPart - part <- hasBomPart - BOM: four steps,
    # "BOMs" is the acronym in the class label "Bill of Material (BOM)", and "at least one" is no superlative
    pred = qa.predict("Show me all BOMs which have at least one part from a polish supplier.")
    assert rows(qa, pred) == {("Rocket",)}
    assert len(pred.best.path) == 4 and "ORDER BY" not in pred.sparql


def test_a_path_is_extended_to_a_relation_named_like_the_asked_noun(qa):
    pred = qa.predict("From which countries are the BOM parts of the Glider delivered?")
    assert rows(qa, pred) == {("France",)}


def test_abbreviations_in_labels_and_plural_acronyms_link(qa):
    idx = LabelIndex.build(qa.graph)
    assert any(c.label == "Bill of Material (BOM)" for c in idx.link("all BOMs"))
    assert any(c.label == "Bill of Material (BOM)" for c in idx.link("every bill of material"))


def test_a_type_pattern_another_pattern_implies_is_left_out(qa):
    pred = qa.predict("Which suppliers deliver the Gamma Relay?")
    assert {r[0] for r in rows(qa, pred)} == {"Globex"}
    assert "<http://example.org/Supplier>" not in pred.sparql  # everything hasSupplier reaches is a Supplier


def test_a_shared_name_goes_to_the_thing_the_rest_of_the_question_fits(qa):
    pred = qa.predict("What is the email of Kim from Operations?")
    assert {r[0] for r in rows(qa, pred)} == {"kim.park@example.org"}


def test_a_request_is_not_a_yes_no_question(qa):
    pred = qa.predict("Can you tell me the supplier of the Alpha Relay?")
    assert pred.form == "select" and {r[0] for r in rows(qa, pred)} == {"Acme"}
    assert qa.predict("Does the Alpha Relay have Acme as supplier?").form == "ask"
