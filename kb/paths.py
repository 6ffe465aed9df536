"""Relation paths of 1 to 3 hops from an anchor, enumerated with SPARQL over the graph."""

from __future__ import annotations

import itertools
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import cast

from rdflib import RDF, Literal, URIRef
from rdflib.term import Node

from kb.loaders import local_name
from kb.sparql import QueryGraph, Var, iri, term
from kb.store import EndpointUnavailable, KnowledgeGraph, QueryError
from qa.core.types import LinkKind


@dataclass(frozen=True)
class Step:
    pred: URIRef
    forward: bool = True

    @property
    def key(self) -> str:
        return local_name(self.pred) + ("" if self.forward else "^-1")


Path = tuple[Step, ...]


def reversed_path(path: Path) -> Path:
    """The same path walked from its other end: "X's capital" read as "what X is the capital of"."""
    return tuple(Step(s.pred, not s.forward) for s in reversed(path))


def path_query(anchor: Node, path: Path, answer: str = "answer") -> QueryGraph:
    """The query graph that follows `path` from `anchor`; the last node is ?answer."""
    qg = QueryGraph(answer=Var(answer))
    prev: Node | Var = anchor
    for i, step in enumerate(path):
        nxt = Var(answer) if i == len(path) - 1 else Var(f"x{i + 1}")
        qg.triples.append((prev, step.pred, nxt) if step.forward else (nxt, step.pred, prev))
        prev = nxt
    return qg


def enumerate_paths(graph: KnowledgeGraph, anchor: Node, *, kind: LinkKind = LinkKind.ENTITY, via: URIRef | None = None,
                    max_hops: int = 3, forward_only: bool = False, exclude: AbstractSet[URIRef] = frozenset(),
                    limit: int = 3000, timeout_s: float | None = None, frontier: int = 2000,
                    failed: list[str] | None = None) -> list[Path]:
    """Every relation sequence (with directions) that leads somewhere from `anchor`.

    Bounded: a class or a value starts from a sample of its members (frontier / 40), the last hop
    of a path of three or more extends at most `frontier` distinct prefixes
    (a hub such as a continent reaches thousands of nodes in two hops, and a full join over all of
    them is what made one question take many seconds), each query returns at most `limit` paths,
    and a query that times out or fails only loses its own paths (its message goes to `failed`:
    a list cut short is not one to keep for later questions)."""
    fixed: Path = ()
    if kind == LinkKind.CLASS:
        fixed = (Step(RDF.type, False),)
    elif kind == LinkKind.VALUE or isinstance(anchor, Literal):
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
            if kind != LinkKind.ENTITY and not fixed and dirs[0]:
                continue  # a literal has no outgoing edges
            lines = []
            prev = term(anchor)
            if fixed:  # a class's members or a value's holders: a sample shows the paths they have
                lines.append(f"{{ SELECT DISTINCT ?x0 WHERE {{ ?x0 {iri(fixed[0].pred)} {prev} . }} "
                             f"LIMIT {max(20, frontier // 40)} }}")
                prev = "?x0"
            steps_lines = []
            for i, fwd in enumerate(dirs, 1):
                block = [f"{prev} ?p{i} ?x{i} ." if fwd else f"?x{i} ?p{i} {prev} .",
                         f"FILTER (?p{i} NOT IN ({not_in}))"]
                if not fwd or i > 1:
                    block.append(f"FILTER (!isLiteral(?x{i - 1}))" if i > 1 else "")
                steps_lines.append([x for x in block if x])
                prev = f"?x{i}"
            head = " ".join(f"?p{i}" for i in range(1, hops + 1))
            if hops >= 3:
                inner_head = " ".join(f"?p{i}" for i in range(1, hops)) + f" ?x{hops - 1}"
                inner = "\n".join(lines + [x for b in steps_lines[:-1] for x in b])
                body = (f"{{ SELECT DISTINCT {inner_head} WHERE {{\n{inner}\n}} LIMIT {frontier} }}\n"
                        + "\n".join(steps_lines[-1]))
            else:
                body = "\n".join(lines + [x for b in steps_lines for x in b])
            q = "SELECT DISTINCT " + head + " WHERE {\n" + body + f"\n}} LIMIT {limit}"
            try:
                rows = graph.select(q, timeout_s=timeout_s)
            except EndpointUnavailable:
                raise  # not this path's failure: every query would fail
            except QueryError as exc:
                if failed is not None:
                    failed.append(str(exc))
                continue
            for row in rows:
                # ?p1 .. ?pN are relations: bound, and IRIs
                steps = tuple(Step(cast(URIRef, p), d) for p, d in zip(row, dirs, strict=True))
                if any(a.pred == b.pred and a.forward != b.forward for a, b in itertools.pairwise(steps)):
                    continue  # straight back to where we came from
                if fixed and steps and steps[0].pred == fixed[-1].pred and steps[0].forward:
                    continue
                out.append(fixed + steps)
    return out
