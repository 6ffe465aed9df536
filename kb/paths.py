"""Relation paths of 1 to 3 hops from an anchor, enumerated with SPARQL over the graph."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rdflib import RDF, Literal, URIRef
from rdflib.term import Node

from kb.loaders import local_name
from kb.sparql import QueryGraph, Var, iri, term


@dataclass(frozen=True)
class Step:
    pred: URIRef
    forward: bool = True

    @property
    def key(self) -> str:
        return local_name(self.pred) + ("" if self.forward else "^-1")

    def to_dict(self) -> dict:
        return {"relation": str(self.pred), "direction": "forward" if self.forward else "inverse"}


Path = tuple[Step, ...]


def path_query(anchor: Node, path: Path, answer: str = "answer") -> QueryGraph:
    """The query graph that follows `path` from `anchor`; the last node is ?answer."""
    qg = QueryGraph(answer=Var(answer))
    prev: Node | Var = anchor
    for i, step in enumerate(path):
        nxt = Var(answer) if i == len(path) - 1 else Var(f"x{i + 1}")
        qg.triples.append((prev, step.pred, nxt) if step.forward else (nxt, step.pred, prev))
        prev = nxt
    return qg


def enumerate_paths(graph, anchor: Node, *, kind: str = "entity", via: URIRef | None = None,
                    max_hops: int = 3, forward_only: bool = False, exclude: set[URIRef] = frozenset(),
                    limit: int = 3000, timeout_s: float | None = None) -> list[Path]:
    """Every relation sequence (with directions) that leads somewhere from `anchor`."""
    fixed: Path = ()
    if kind == "class":
        fixed = (Step(RDF.type, False),)
    elif kind == "value" or isinstance(anchor, Literal):
        fixed = (Step(via, False),) if via is not None else ()
    excluded = set(exclude) | {RDF.type}
    not_in = ", ".join(iri(p) for p in sorted(excluded, key=str))
    out: list[Path] = []
    if fixed:
        out.append(fixed)
    start_hops = len(fixed)
    for hops in range(1, max_hops - start_hops + 1):
        dir_sets = [(True,) * hops] if forward_only else itertools.product((True, False), repeat=hops)
        for dirs in dir_sets:
            if kind != "entity" and not fixed and dirs[0]:
                continue  # a literal has no outgoing edges
            lines = []
            prev = term(anchor)
            if fixed:
                lines.append(f"?x0 {iri(fixed[0].pred)} {prev} .")
                prev = "?x0"
            for i, fwd in enumerate(dirs, 1):
                edge = f"{prev} ?p{i} ?x{i} ." if fwd else f"?x{i} ?p{i} {prev} ."
                lines.append(edge)
                lines.append(f"FILTER (?p{i} NOT IN ({not_in}))")
                if not fwd or i > 1:
                    lines.append(f"FILTER (!isLiteral(?x{i - 1}))" if i > 1 else "")
                prev = f"?x{i}"
            head = " ".join(f"?p{i}" for i in range(1, hops + 1))
            q = "SELECT DISTINCT " + head + " WHERE {\n" + "\n".join(x for x in lines if x) + f"\n}} LIMIT {limit}"
            for row in graph.select(q, timeout_s=timeout_s):
                steps = tuple(Step(p, d) for p, d in zip(row, dirs, strict=True))
                if any(a.pred == b.pred and a.forward != b.forward for a, b in itertools.pairwise(steps)):
                    continue  # straight back to where we came from
                if fixed and steps and steps[0].pred == fixed[-1].pred and steps[0].forward:
                    continue
                out.append(fixed + steps)
    return out
