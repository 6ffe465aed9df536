"""A small company graph as a user writes one (products, offices, people), and the questions a
user's exploratory test asked of it: each test is one finding of that test."""

import pytest

from tests.kb.conftest import make_qa, turtle_graph

COMPANY_TTL = """
@prefix ex: <http://example.org/co/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:Product a rdfs:Class ; rdfs:label "product"@en .
ex:Person a rdfs:Class ; rdfs:label "person"@en .
ex:Office a rdfs:Class ; rdfs:label "office"@en .
ex:price rdfs:label "price"@en .
ex:manager rdfs:label "manager"@en .
ex:locatedIn rdfs:label "located in"@en .
ex:worksAt rdfs:label "works at"@en .
ex:madeBy rdfs:label "made by"@en .

ex:Widget a ex:Product ; rdfs:label "Widget Pro"@en ; ex:price "19.99"^^xsd:decimal ; ex:madeBy ex:BerlinOffice .
ex:Gadget a ex:Product ; rdfs:label "Gadget Max"@en ; ex:price "5.50"^^xsd:decimal ; ex:madeBy ex:ParisOffice .
ex:Gizmo a ex:Product ; rdfs:label "Gizmo Lite"@en ; ex:price "120.00"^^xsd:decimal ; ex:madeBy ex:BerlinOffice .
ex:Doohickey a ex:Product ; rdfs:label "Doohickey"@en ; ex:price "42"^^xsd:integer ; ex:madeBy ex:ParisOffice .
ex:Lamp a ex:Product ; rdfs:label "Alpha Lamp"@en ; ex:price "5.50"^^xsd:decimal ; ex:madeBy ex:ParisOffice .

ex:BerlinOffice a ex:Office ; rdfs:label "Berlin office"@en ; ex:locatedIn ex:Berlin ; ex:manager ex:Alice .
ex:ParisOffice a ex:Office ; rdfs:label "Paris office"@en ; ex:locatedIn ex:Paris ; ex:manager ex:Bob .
ex:Berlin rdfs:label "Berlin"@en .
ex:Paris rdfs:label "Paris"@en .

ex:Alice a ex:Person ; rdfs:label "Alice Schmidt"@en ; ex:worksAt ex:BerlinOffice .
ex:Bob a ex:Person ; rdfs:label "Bob Martin"@en ; ex:worksAt ex:ParisOffice .
ex:Carol a ex:Person ; rdfs:label "Carol Jones"@en ; ex:worksAt ex:BerlinOffice .
"""


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return make_qa(turtle_graph(tmp_path_factory, COMPANY_TTL, "company.ttl"))


def test_a_list_cut_by_the_querys_limit_says_so(tmp_path_factory):
    """"Which products are made in City5 Town?" over 200 of them showed n_answers 100, nothing
    saying the list was cut at the query's LIMIT."""
    extra = "".join(f'ex:p{i} a ex:Product ; rdfs:label "Part {i}"@en ; ex:madeBy ex:Plant .\n' for i in range(120))
    text = COMPANY_TTL + 'ex:Plant a ex:Office ; rdfs:label "Harbour plant"@en .\n' + extra
    qa = make_qa(turtle_graph(tmp_path_factory, text, "plant.ttl"))
    answers = qa.answer("Which products are made by the Harbour plant?", top_k=3)
    assert answers[0].text.startswith("Part ") and answers[0].evidence.n_answers == 100
    assert answers[0].evidence.more_answers
    few = qa.answer("Which products are made by the Paris office?", top_k=5)
    assert {a.text for a in few} == {"Gadget Max", "Doohickey", "Alpha Lamp"}
    assert not few[0].evidence.more_answers and few[0].evidence.n_answers == 3
