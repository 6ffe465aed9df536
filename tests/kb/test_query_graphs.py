"""Query graphs beyond one relation path, on a small company graph shaped like CK25's."""

import pytest

from kb.linking import LabelIndex
from tests.kb.conftest import make_qa, turtle_graph

COMPANY_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .

ex:Product a owl:Class ; rdfs:label "Product" .
ex:Hardware rdfs:subClassOf ex:Product ; rdfs:label "Hardware" .
ex:sales a ex:Department ; ex:name "Sales" .
ex:support a ex:Department ; ex:name "Support" .
ex:anna a ex:Employee ; ex:name "Anna Berg" ; ex:memberOf ex:sales ; ex:email "anna@example.org" ;
    ex:areaOfExpertise ex:cat-sensor .
ex:anna2 a ex:Employee ; ex:name "Anna Kolb" ; ex:memberOf ex:support ; ex:email "kolb@example.org" ;
    ex:areaOfExpertise ex:cat-sensor .
ex:bob a ex:Employee ; ex:name "Bob Stein" ; ex:memberOf ex:sales ; ex:email "bob@example.org" .
ex:cat-sensor a ex:ProductCategory ; ex:name "Sensor" .
ex:acme a ex:Supplier ; ex:name "Acme" .
ex:globex a ex:Supplier ; ex:name "Globex" .
ex:hw-K101-55 a ex:Hardware ; ex:name "Sensor" ; rdfs:label "K101-55 - Sensor" ; ex:hasCategory ex:cat-sensor ;
    ex:reliabilityIndex 0.91 ; ex:hasSupplier ex:acme .
ex:hw-Z202-77 a ex:Hardware ; ex:name "Sensor" ; rdfs:label "Z202-77 - Sensor" ; ex:hasCategory ex:cat-sensor ;
    ex:reliabilityIndex 0.72 ; ex:hasSupplier ex:globex .
ex:hw-A1 a ex:Hardware ; ex:name "Sensor Array" ; ex:hasCategory ex:cat-sensor ; ex:reliabilityIndex 0.5 ;
    ex:hasSupplier ex:globex .
ex:hw-A2 a ex:Hardware ; ex:name "Sensor Grid" ; ex:hasCategory ex:cat-sensor ; ex:reliabilityIndex 0.4 ;
    ex:hasSupplier ex:globex .
ex:hw-A3 a ex:Hardware ; ex:name "Sensor Mesh" ; ex:hasCategory ex:cat-sensor ; ex:reliabilityIndex 0.3 ;
    ex:hasSupplier ex:globex .
ex:sales ex:responsibleFor ex:hw-K101-55, ex:hw-Z202-77, ex:hw-A1 .
ex:support ex:responsibleFor ex:hw-A2 .
ex:bob a ex:Manager .
ex:acme ex:addressCountryCode "US" ; ex:country <http://dbpedia.org/resource/United_States> .
ex:globex ex:addressCountryCode "DE" ; ex:country <http://dbpedia.org/resource/Germany> .
ex:hw-R9 a ex:Hardware ; ex:name "Relay Switch" ; ex:compatibleProduct ex:hw-A1, ex:hw-A2 .
ex:hw-A2 ex:hasSupplier ex:acme .
ex:srv1 a ex:Service ; ex:name "Involuntary Service" .
"""


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return turtle_graph(tmp_path_factory, COMPANY_TTL, "company.ttl")


@pytest.fixture(scope="module")
def qa(company):
    return make_qa(company)


def texts(pred) -> set[str]:
    return {label for _, label in pred.answers}


def test_an_id_fragment_and_a_shared_name_pick_one_product(company):
    idx = LabelIndex.build(company)
    best = idx.link("Who supplies the K101 Sensor?")[0]
    assert str(best.node).endswith("hw-K101-55")


def test_a_hub_replaces_the_instances_named_after_it(company):
    idx = LabelIndex.build(company)
    nodes = {str(c.node) for c in idx.link("Which supplier delivers the most reliable Sensor?") if c.label == "Sensor"}
    assert nodes == {"http://example.org/cat-sensor"}


def test_schema_classes_and_predicates_stay_out_of_paths(company):
    idx = LabelIndex.build(company)
    assert any(str(c).endswith("Product") for c in idx.classes)  # declared owl:Class, no direct members
    assert any(str(p).endswith("subClassOf") for p in idx.schema_predicates)


def test_a_first_name_pins_an_intermediate_node(qa):
    pred = qa.predict("What is the email of Anna from Sales?")
    assert texts(pred) == {"anna@example.org"}
    assert any(c.startswith("entity: Anna") for c in pred.constraints)


def test_superlative_orders_a_node_on_the_path(qa):
    pred = qa.predict("Which supplier delivers the most reliable Sensor?")
    assert texts(pred) == {"Acme"}
    assert "MAX(" in pred.sparql and "= ?best" in pred.sparql  # the best value, ties kept


def test_the_most_noun_counts_with_group_by(qa):
    pred = qa.predict("Which department is responsible for the most products?")
    assert texts(pred) == {"Sales"} and "GROUP BY ?answer" in pred.sparql
    shown = qa.graph.select(qa.predict("Which department is responsible for the most products and how many?").sparql)
    assert [(str(a), int(n)) for a, n in shown] == [("http://example.org/sales", 3)]


def test_name_of_projects_onto_the_name(qa):
    pred = qa.predict("What is the name of the Sensor expert from Sales?")
    assert texts(pred) == {"Anna Berg"}


def test_things_named_only_by_their_iri_and_acronyms_in_capitals_link(company):
    idx = LabelIndex.build(company)
    assert str(idx.link("suppliers in the United States")[0].node) == "http://dbpedia.org/resource/United_States"
    us = [c for c in idx.link("Which products come from US suppliers?") if c.label == "US"]
    assert us and us[0].kind == "value"
    assert not [c for c in idx.link("Which products do us folks like?") if c.label == "US"]  # the pronoun


def test_a_second_anchor_two_steps_away_narrows_the_answer(qa):
    pred = qa.predict("What products can I get from US suppliers that are compatible with the Relay Switch?")
    assert texts(pred) == {"Sensor Grid"}
    assert "entity: US" in pred.constraints


def test_with_no_negates_a_class(qa):
    assert qa.predict("Are there departments with no manager?").boolean is True
    pred = qa.predict("Which departments have no manager?")
    assert texts(pred) == {"Support"} and "FILTER NOT EXISTS" in pred.sparql


def test_a_word_a_label_matches_whole_is_not_a_piece_of_another(company):
    links = LabelIndex.build(company).link("What is the most expensive service?")
    assert [c.label for c in links if c.method == "token"] == []
    assert any(c.kind == "class" and c.label == "Service" for c in links)
