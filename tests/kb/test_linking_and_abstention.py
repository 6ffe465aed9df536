"""Typos in names, relation names, what the calibrator sees of a decision, questions generated for
calibration, and progress while a graph is prepared."""

import io

import pytest
from rdflib import URIRef

from kb.linking import LabelIndex
from kb.pipeline import _unlinked_names
from kb.progress import Stages
from kb.training import WRAPPERS, QuestionGenerator
from tests.kb.conftest import make_qa, turtle_graph

PLACES_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .

ex:capital skos:altLabel "seat of government" ; rdfs:label "capital" ; skos:altLabel "capital city" .
ex:continent skos:altLabel "part of the world" ; rdfs:label "continent" .
ex:SanMarino rdfs:label "San Marino" ; ex:capital ex:SanMarinoCity ; ex:continent ex:Europe .
ex:SanMarinoCity rdfs:label "City of San Marino" .
ex:San rdfs:label "San" ; ex:continent ex:Africa .
ex:Guinea rdfs:label "Guinea" ; ex:continent ex:Africa .
ex:GuineaBissau rdfs:label "Guinea-Bissau" ; ex:continent ex:Africa .
ex:Compensator rdfs:label "Compensator" .
ex:dc rdfs:label "Driver Compensator" .
ex:Europe rdfs:label "Europe" .
ex:Africa rdfs:label "Africa" .
"""


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    return turtle_graph(tmp_path_factory, PLACES_TTL, "places.ttl")


def test_a_relation_is_scored_by_its_main_label_first(places):
    idx = LabelIndex.build(places)
    names = idx.relation_names[URIRef("http://example.org/capital")]
    assert names[0] == "capital" and set(names[1:3]) == {"capital city", "seat of government"}
    assert idx.relation_names[URIRef("http://example.org/continent")][0] == "continent"


def test_a_typo_in_one_word_of_a_longer_name(places):
    idx = LabelIndex.build(places)
    # "San" alone is a place too; the misspelled word makes the question about San Marino
    assert idx.link("Which continent is San Mraino in?")[0].label == "San Marino"
    assert idx.link("Which continent is Guinea-Bisjsau in?")[0].label == "Guinea-Bissau"
    # ... but an ordinary word beside a name is not read as a typo of a longer name
    best = idx.link("Which supplier can deliver Compensators?")[0]
    assert best.label == "Compensator" and best.method != "fuzzy"


def test_the_decision_shows_how_well_the_question_names_its_relation(small_graph):
    qa = make_qa(small_graph)
    cover = qa.coverage(["capital"])
    assert cover[URIRef("http://example.org/capital")] == 1.0
    assert cover[URIRef("http://example.org/capital")] > cover[URIRef("http://example.org/population")]
    known = qa.predict("What is the capital of France?").decision
    unknown = qa.predict("Who is the president of France?").decision
    assert known["cover"] == 1.0 and unknown["cover"] < 0.8


def test_names_the_graph_does_not_know_are_counted(small_graph):
    qa = make_qa(small_graph)
    links = qa.index.link("Which languages are spoken in San Theodoros?")
    assert _unlinked_names("Which languages are spoken in San Theodoros?", links) >= 1
    assert _unlinked_names("What is the capital of France?", qa.index.link("What is the capital of France?")) == 0
    assert qa.predict("What is the capital of France?").decision["self_answer"] == 0.0


def test_generated_questions_for_calibration(small_graph):
    qa = make_qa(small_graph)
    gen = QuestionGenerator(qa, seed=5)
    names = {gen.made_up_name("French Republic") for _ in range(60)}
    assert all(n.lower() not in qa.index.keys for n in names)
    assert any(" " in n for n in names)  # two-word names, some with a real word beside a made-up one
    assert any(part in n.split() for n in names for part in ("French", "Republic"))
    data = gen.generate(120)
    wrapped = [g for g in data if any(w.split("{q}")[0] and g.question.startswith(w.split("{q}")[0])
                                      for w in WRAPPERS)]
    assert wrapped and not any(g.paraphrased for g in data)  # no paraphrase words were given
    # a question whose name carries a typo cannot have it replaced: its relations go missing instead
    typo = next(g for g in data if not any(n in g.question for n in gen.entity_names[g.anchor]))
    missing = gen.unanswerable(typo)
    assert not missing.answerable and missing.exclude


def test_progress_is_reported_while_a_label_index_is_built(places):
    seen = []
    LabelIndex.build(places, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and all("label index" in s for s, _, _ in seen)
    assert seen[-1][1] == seen[-1][2] > 0  # it ends complete


def test_a_slow_stage_draws_a_bar_and_a_fast_one_nothing():
    from rich.console import Console

    out = io.StringIO()
    with Stages(enabled=True, delay_s=0.0, console=Console(file=out, force_terminal=True)) as stages:
        stages("loading big[1].ttl", 0, 0)  # a file name with brackets is text, never markup
        stages._show()
    assert "loading big[1].ttl" in out.getvalue()
    quiet = io.StringIO()
    with Stages(enabled=True, delay_s=30.0, console=Console(file=quiet, force_terminal=True)) as stages:
        stages("loading small.ttl", 0, 0)
    assert quiet.getvalue() == ""


def test_how_many_and_how_much_name_nothing(tmp_path_factory):
    """"How many cities are there?" on the world graph linked "many" to the Isle of Man (one edit
    away) and answered with a city's population; the class count it asks for came second. Words
    of a question's frame are never read as misspelt names."""
    graph = turtle_graph(tmp_path_factory, """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Man rdfs:label "Man" .
ex:Mary rdfs:label "Mary" .
ex:Munch rdfs:label "Munch" .
""", "many.ttl")
    idx = LabelIndex.build(graph)
    assert not [c for c in idx.link("How many cities are there?") if c.label in {"Man", "Mary"}]
    assert not [c for c in idx.link("How much does it cost?") if c.label == "Munch"]
    assert idx.link("Who painted for Munh?")[0].label == "Munch"  # a real typo is still read
    # outside "how many" / "how much" the words are names like any other ("Much" is a town)
    graph = turtle_graph(tmp_path_factory, """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Much rdfs:label "Much" .
ex:MuchWenlock rdfs:label "Much Wenlock" .
""", "much.ttl")
    idx = LabelIndex.build(graph)
    assert idx.link("Where is Much?")[0].label == "Much"
    assert idx.link("Where is Much Wenlok?")[0].label == "Much Wenlock"


def test_a_label_saved_decomposed_is_linked_as_written(tmp_path_factory):
    """"Zürich" saved as NFD ("u" and a combining diaeresis, as some editors write it) linked as
    "normalised 0.93", below the same name saved composed, though the question typed it exactly."""
    import unicodedata

    from qa.core.types import LinkMethod

    found = {}
    for form in ("NFC", "NFD"):
        graph = turtle_graph(tmp_path_factory, f"""
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Zurich rdfs:label "{unicodedata.normalize(form, "Zürich")}" .
""", f"{form}.ttl")
        top = LabelIndex.build(graph).link("What is the population of Zürich?")[0]
        found[form] = (top.method, top.score)
    assert found["NFD"] == found["NFC"] and found["NFC"][0] == LinkMethod.EXACT


def test_the_words_of_a_comparison_name_nothing(tmp_path_factory):
    """"Which cities have a population over 5000000?" on the world graph linked "over" to Tver (one
    edit away) and answered a capital's population with "no answer"; "taller than 8000" linked
    "than" to Thane. Before a number, and "than" always, they are the comparison's words; a
    name made of them still links as written."""
    graph = turtle_graph(tmp_path_factory, """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Tver rdfs:label "Tver" .
ex:Thane rdfs:label "Thane" .
ex:Ober rdfs:label "Ober" .
ex:Song rdfs:label "Over the Rainbow" .
ex:Yer rdfs:label "YER" .
ex:Moro rdfs:label "Moro" .
ex:Lesa rdfs:label "Lesa" .
ex:Film rdfs:label "Less Than Zero" .
""", "compare.ttl")
    idx = LabelIndex.build(graph)
    assert not [c for c in idx.link("Which cities have a population over 5000000?") if c.label == "Tver"]
    assert not [c for c in idx.link("Which mountains are taller than 8000 metres?") if c.label == "Thane"]
    assert not [c for c in idx.link("Which cities are between 10 and 20 km long?") if c.label == "Ober"]
    # "the year" of "after the year 1900" is the comparison's too (it linked the currency code YER)
    assert not [c for c in idx.link("Which countries were established after the year 1900?") if c.label == "YER"]
    # the word before "than" too: "more than 3 million" linked "more" to the town Moro and said "no answer"
    assert not [c for c in idx.link("Which cities have a population of more than 3 million?") if c.label == "Moro"]
    assert not [c for c in idx.link("Which towns have less than 500 people?") if c.label == "Lesa"]
    assert idx.link("Who wrote Less Than Zero?")[0].label == "Less Than Zero"
    assert idx.link("Who wrote Less Than Zer?")[0].label == "Less Than Zero"  # misspelt, still the title
    assert idx.link("Who sang Over the Rainbow?")[0].label == "Over the Rainbow"
    assert idx.link("Where is Tvre?")[0].label == "Tver"  # a real typo is still read


def test_label_vectors_of_another_encoder_are_not_used(places, tmp_path, caplog):
    """`qa kb train` saves the label vectors of one encoder; a setting that selects another one
    later (another width, or the same width under another name) turns dense linking off with a
    warning instead of failing every question or linking by another model's geometry."""
    from tests.cqa.conftest import HashEncoder

    class Wider(HashEncoder):
        name, dim = "wider-hash-encoder", 512

    class Renamed(HashEncoder):
        name = "renamed-hash-encoder"

    path = tmp_path / "labels.pickle"
    idx = LabelIndex.cached(places, path, encoder=HashEncoder())
    assert idx.save_vectors() > 0
    assert idx._dense(["guinea", "bissau"], 0.5)  # its own encoder links by the saved vectors
    for other in (Wider(), Renamed()):
        again = LabelIndex.cached(places, path, encoder=other)
        with caplog.at_level("WARNING", logger="kb.linking"):
            assert again._dense(["guinea", "bissau"], 0.5) == []
            assert again._dense(["san", "marino"], 0.5) == []
        assert sum("dense linking is off" in r.message for r in caplog.records) == 1  # once, not per question
        caplog.clear()
