"""Train the path scorer for the embedded default graph on questions generated from the graph itself.

The default graph has no question set, so templates over its relation labels and aliases make one:
"what is the capital of France?", "France 's currency?", "which cities are in Kenya?", "what is the
population of the capital of Japan?". 80% trains the scorer, 20% calibrates it; the result is
`data/kb/scorer.json`.

    python -m kb.train_default [--per-relation 60]
"""

from __future__ import annotations

import argparse
import random
import sys

from rdflib import RDF, RDFS, SKOS

from kb.default_graph import CLASSES, RELATIONS, rel
from kb.paths import Step
from kb.pipeline import KBQA, KBQAConfig
from kb.scorer import Scorer
from kb.sparql import iri
from kb.store import open_graph
from qa.core.paths import DATA_DIR
from qa.core.settings import Settings
from qa.core.types import Encoder

ONE_HOP = ["what is the {r} of {e}?", "{e} 's {r}?", "what {r} does {e} have?", "tell me the {r} of {e}",
           "which {r} is {e} in?", "what are the {r} of {e}?"]
INVERSE = ["which {c} are in {e}?", "list the {c} in {e}", "what {c} is located in {e}?",
           "name a {c} in {e}", "which {c} use {e}?", "which {c} have {e} as {r}?"]
TWO_HOP = ["what is the {r2} of the {r1} of {e}?", "what is the {e} 's {r1} 's {r2}?",
           "{r2} of {e} 's {r1}?"]


def generate(graph, per_relation: int, seed: int = 7) -> list[tuple[str, object, tuple]]:
    rng = random.Random(seed)
    labels = {}
    for s, lab in graph.select(f"SELECT ?s ?l WHERE {{ ?s {iri(RDFS.label)} ?l }} LIMIT 100000"):
        labels.setdefault(s, str(lab))
    names = {}
    for rid, (label, aliases) in {**RELATIONS, **CLASSES}.items():
        names[rel(rid)] = [label, *aliases]
    out = []
    for rid in RELATIONS:
        p = rel(rid)
        rows = graph.select(f"SELECT ?s ?o WHERE {{ ?s {iri(p)} ?o }} LIMIT 20000")
        rng.shuffle(rows)
        for s, o in rows[:per_relation]:
            if s not in labels:
                continue
            out.append((rng.choice(ONE_HOP).format(r=rng.choice(names[p]), e=labels[s]), s, (Step(p, True),)))
            if o in labels:
                types = graph.select(f"SELECT ?t WHERE {{ {iri(s)} {iri(RDF.type)} ?t }} LIMIT 1")
                cls = names.get(types[0][0], ["things"]) if types else ["things"]
                c = rng.choice(cls)
                c = c + "s" if not c.endswith("s") else c
                q = rng.choice(INVERSE).format(c=c, e=labels[o], r=rng.choice(names[p]))
                out.append((q, o, (Step(p, False),)))
            # two hops: follow one more relation from the object
            if o in labels:
                nxt = graph.select(f"SELECT ?p2 WHERE {{ {iri(o)} ?p2 ?x . FILTER(?p2 != {iri(RDF.type)} && "
                                   f"?p2 != {iri(RDFS.label)} && ?p2 != {iri(SKOS.altLabel)}) }} LIMIT 50")
                nxt = [r[0] for r in nxt if r[0] in names]
                if nxt:
                    p2 = rng.choice(nxt)
                    q = rng.choice(TWO_HOP).format(r1=rng.choice(names[p]), r2=rng.choice(names[p2]), e=labels[s])
                    out.append((q, s, (Step(p, True), Step(p2, True))))
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None, *, encoder: Encoder) -> int:
    """Train and save the default scorer; the application passes the encoder (`qa.models`)."""
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-relation", type=int, default=60)
    ap.add_argument("--out", default=str(DATA_DIR / "kb" / "scorer.json"))
    args = ap.parse_args(argv)
    settings = Settings.load(kb_graph="", kb_endpoint="")
    graph = open_graph(settings)
    qa = KBQA(settings, graph=graph, scorer=Scorer(), config=KBQAConfig(max_hops=2, type_rerank=0),
              encoder=encoder)
    data = generate(graph, args.per_relation)
    cut = int(len(data) * 0.8)
    examples = []
    for q, anchor, path in data[:cut]:
        cands = qa.candidates(q)
        gold = [i for i, c in enumerate(cands) if c.anchor.node == anchor and c.path == path]
        if gold:
            examples.append(([c.features for c in cands], gold[0]))
    print(f"{len(examples)}/{cut} generated questions have the gold path among candidates", file=sys.stderr)
    qa.scorer.fit(examples, epochs=5, log=lambda m: print(m, file=sys.stderr))
    p_tops, correct = [], []
    for q, anchor, path in data[cut:]:
        ranked = qa._rank(qa.candidates(q), [])
        if ranked:
            p_tops.append(ranked[0].prob)
            correct.append(ranked[0].anchor.node == anchor and ranked[0].path == path)
    qa.scorer.calibrate(p_tops, correct)
    acc = 100 * sum(correct) / max(1, len(correct))
    qa.scorer.meta = {"trained_on": "questions generated from the default graph (kb.train_default)",
                      "held_out_path_accuracy": round(acc, 2), "n_train": len(examples), "n_held_out": len(correct)}
    qa.scorer.save(args.out)
    print(f"held-out path accuracy {acc:.1f}% on {len(correct)} generated questions; wrote {args.out}")
    return 0

