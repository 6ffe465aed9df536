"""Hand-written question templates over the embedded world graph's relations.

`qa kb train` trains any graph's scorer from questions it generates from the graph
(`kb.training`); for the embedded world graph it adds questions from these templates (60 per
relation), and the scorer's `meta.trained_on` says so. They are also a source of world-graph
questions for the router's training data (`qa.router_training`).
"""

from __future__ import annotations

import random

from rdflib import RDF, RDFS, SKOS, URIRef
from rdflib.term import Node

from kb.default_graph import CLASSES, RELATIONS, rel
from kb.paths import Path, Step
from kb.sparql import iri
from kb.store import KnowledgeGraph

ONE_HOP = ["what is the {r} of {e}?", "{e} 's {r}?", "what {r} does {e} have?", "tell me the {r} of {e}",
           "which {r} is {e} in?", "what are the {r} of {e}?"]
INVERSE = ["which {c} are in {e}?", "list the {c} in {e}", "what {c} is located in {e}?",
           "name a {c} in {e}", "which {c} use {e}?", "which {c} have {e} as {r}?"]
TWO_HOP = ["what is the {r2} of the {r1} of {e}?", "what is the {e} 's {r1} 's {r2}?",
           "{r2} of {e} 's {r1}?"]


def generate(graph: KnowledgeGraph, per_relation: int, seed: int = 7) -> list[tuple[str, Node, Path]]:
    rng = random.Random(seed)
    labels: dict[URIRef, str] = {}  # every thing of the world graph is an IRI
    for s, lab in graph.select(f"SELECT ?s ?l WHERE {{ ?s {iri(RDFS.label)} ?l }} LIMIT 100000"):
        if isinstance(s, URIRef):
            labels.setdefault(s, str(lab))
    names = {}
    for rid, (label, aliases) in {**RELATIONS, **CLASSES}.items():
        names[rel(rid)] = [label, *aliases]
    out: list[tuple[str, Node, Path]] = []
    for rid in RELATIONS:
        p = rel(rid)
        rows = graph.select(f"SELECT ?s ?o WHERE {{ ?s {iri(p)} ?o }} LIMIT 20000")
        rng.shuffle(rows)
        for s, o in rows[:per_relation]:
            if not isinstance(s, URIRef) or s not in labels:
                continue
            out.append((rng.choice(ONE_HOP).format(r=rng.choice(names[p]), e=labels[s]), s, (Step(p, True),)))
            if isinstance(o, URIRef) and o in labels:
                types = graph.select(f"SELECT ?t WHERE {{ {iri(s)} {iri(RDF.type)} ?t }} LIMIT 1")
                t = types[0][0] if types else None
                cls = names.get(t, ["things"]) if isinstance(t, URIRef) else ["things"]
                c = rng.choice(cls)
                c = c + "s" if not c.endswith("s") else c
                q = rng.choice(INVERSE).format(c=c, e=labels[o], r=rng.choice(names[p]))
                out.append((q, o, (Step(p, False),)))
            # two hops: follow one more relation from the object
            if isinstance(o, URIRef) and o in labels:
                following = graph.select(f"SELECT ?p2 WHERE {{ {iri(o)} ?p2 ?x . FILTER(?p2 != {iri(RDF.type)} && "
                                         f"?p2 != {iri(RDFS.label)} && ?p2 != {iri(SKOS.altLabel)}) }} LIMIT 50")
                nxt = [p2 for (p2,) in following if isinstance(p2, URIRef) and p2 in names]
                if nxt:
                    p2 = rng.choice(nxt)
                    q = rng.choice(TWO_HOP).format(r1=rng.choice(names[p]), r2=rng.choice(names[p2]), e=labels[s])
                    out.append((q, s, (Step(p, True), Step(p2, True))))
    rng.shuffle(out)
    return out
