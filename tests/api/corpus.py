"""A small real corpus and graph for the API and UI tests: indexed with the real encoder, read by
the shipped reader, graph queried by the real KBQA pipeline (all in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

PASSAGES = [
    ("tesla", "Nikola Tesla",
     "Nikola Tesla was a Serbian-American inventor and electrical engineer, best known for his contributions "
     "to the design of the modern alternating current electricity supply system. Tesla was born on 10 July 1856 "
     "in Smiljan, in the Austrian Empire. He died on 7 January 1943 in New York City, at the age of 86."),
    ("curie", "Marie Curie",
     "Marie Curie was a Polish and naturalised-French physicist and chemist who conducted pioneering research "
     "on radioactivity. She was the first woman to win a Nobel Prize. She died in 1934 at the Sancellemoz "
     "sanatorium in Passy, France, of aplastic anaemia."),
    ("eiffel", "Eiffel Tower",
     "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after "
     "the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889. "
     "The tower is 330 metres tall."),
    ("amazon", "Amazon rainforest",
     "The Amazon rainforest is a moist broadleaf tropical rainforest in the Amazon biome that covers most of "
     "the Amazon basin of South America. The majority of the forest is contained within Brazil, with 60% of "
     "the rainforest."),
    ("hamlet", "Hamlet",
     "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601. It is Shakespeare's "
     "longest play. William Shakespeare died on 23 April 1616 in Stratford-upon-Avon."),
    ("python", "Python (programming language)",
     "Python is a high-level programming language. It was created by Guido van Rossum and first released "
     "in 1991."),
]

SMALL_TTL = """
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

ex:capital rdfs:label "capital" .
ex:currency rdfs:label "currency" .
ex:population rdfs:label "population" .
ex:Country rdfs:label "country" .
ex:City rdfs:label "city" .
ex:France a ex:Country ; rdfs:label "France" ; ex:capital ex:Paris ; ex:currency ex:Euro ; ex:population 67000000 .
ex:Germany a ex:Country ; rdfs:label "Germany" ; ex:capital ex:Berlin ; ex:currency ex:Euro ;
    ex:population 83000000 .
ex:Japan a ex:Country ; rdfs:label "Japan" ; ex:capital ex:Tokyo ; ex:currency ex:Yen ; ex:population 125000000 .
ex:Paris a ex:City ; rdfs:label "Paris" .
ex:Berlin a ex:City ; rdfs:label "Berlin" .
ex:Tokyo a ex:City ; rdfs:label "Tokyo" .
ex:Euro rdfs:label "Euro" .
ex:Yen rdfs:label "Yen" .
"""


def build(root: Path) -> dict[str, str]:
    """Index the passages as collection `notes` and write the graph under `root`; returns the
    environment a server over them needs (QA_* settings)."""
    from qa.core.settings import Settings
    from retrieval.ingest import build_index
    from retrieval.passage import Passage

    index_dir = root / "collections"
    graph = root / "small.ttl"
    graph.write_text(SMALL_TTL, encoding="utf-8")
    env = {"QA_INDEX_DIR": str(index_dir), "QA_INCLUDE_DEFAULT": "false", "QA_KB_GRAPH": str(graph),
           "XDG_CACHE_HOME": str(root / "cache"), "QA_CQA_STORE": str(root / "cqa" / "threads.sqlite"),
           "QA_CQA_SEED": "false"}
    settings = Settings(index_dir=str(index_dir), include_default=False, kb_graph=str(graph))
    if not (index_dir / "notes" / "manifest.json").exists():
        passages = [Passage(id=f"{pid}#0", text=text, title=title, source=f"test:{pid}")
                    for pid, title, text in PASSAGES]
        build_index(passages, index_dir / "notes", settings, progress=False)
    return env
