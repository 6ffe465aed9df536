"""Train KBQA for any graph from the graph alone: `qa kb train --graph G`.

A user's graph comes without training questions, so they are generated from it: random walks of
one to three hops from named entities, written as questions with the relations' own names (labels,
aliases, local names and their last part: `__people__person__gender` is "gender") in templates
that nest ("the r2 of the r1 of e"), chain possessives ("e 's r1 's r2"), turn inverse steps into
relative clauses ("the city whose country is e"), count ("how many r does e have") and ask yes/no
("is x the r of e"). The path scorer learns from them which paths such questions mean.

Then the calibrator learns when to abstain: held-out generated questions are answered as a user's
would be, and so are questions the graph cannot answer, simulated two ways: the graph without the
asked relation (the question's relations are taken out of the candidates) and an entity that is not
in the graph (a made-up name in the entity's place). The calibrated probability is what
`Answer.score` shows; the abstention threshold is the one that answers most generated questions
right, counting an abstention on an unanswerable question as right.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, cast

import numpy as np
from rdflib import OWL, RDF, RDFS, XSD, Literal, URIRef
from rdflib.term import IdentifiedNode, Node

from kb.paths import Path, Step, path_query, reversed_path
from kb.scorer import YES_NO_FEATURES, Calibrator, Scorer, checks_a_statement
from kb.sparql import QueryForm, QueryGraph, Var, iri, substituted
from kb.store import QueryError
from kb.text import STOPWORDS, normalise
from qa.core.atomic import atomic_write
from qa.core.paths import cache_dir, encoder_path
from qa.core.types import LinkKind

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from kb.pipeline import KBQA, Prediction
    from qa.core.settings import Settings

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# how a walk's noun phrase grows by one step (forward: "the r of np"; inverse: a relative clause)
FORWARD = ["the {r} of {np}", "{np} 's {r}", "{r} of {np}", "the {r} of {np}"]
INVERSE = ["the {c} whose {r} is {np}", "the {c} with {r} {np}", "the {c} that has {np} as {r}"]
ENDINGS = ["what is {np}?", "{np}?", "who is {np}?", "which is {np}?", "tell me {np}", "what is {np}?",
           "name {np}", "give me {np}"]
ONE_HOP = ["what {r} does {e} have?", "which {r} does {e} have?", "{e} has which {r}?", "what is {e} 's {r}?"]
ONE_HOP_INVERSE = ["which {c} has {r} {e}?", "what has {e} as {r}?", "{e} is the {r} of which {c}?",
                   "which {c} has {e} as its {r}?", "list the {c} whose {r} is {e}"]
COUNT = ["how many {r} does {e} have?", "what is the number of {r} of {e}?"]
COUNT_INVERSE = ["how many {c} have {r} {e}?", "how many {c} have {e} as {r}?"]
YES_NO = ["is {x} {np}?", "is {np} {x}?", "does {e} have {x} as {r}?"]
# the share of calibration questions beside which a yes/no question of their path is asked (with a
# false one beside it), and one of what their anchor is ("is X a city?")
YES_NO_SHARE = 0.25
MEMBERSHIP_SHARE = 0.1
MISSPELLED_SHARE = 0.15  # of generated questions, as of yes/no questions' other names
MIN_YES_NO_ROWS = 20  # fewer, and yes/no answers are weighed by the main calibrator
# questions over a whole class rather than one entity: superlatives, counts, lists, filters and
# aggregates (the router learns that they are graph questions too; they have no single path)
SUPERLATIVE = ["which {c} has the highest {a}?", "what is the {c} with the lowest {a}?",
               "which {c} has the largest {a}?", "name the {c} with the smallest {a}", "the {c} with the most {a}?",
               "which {c} has the least {a}?", "what are the top 3 {cs} by {a}?", "which {c} has the greatest {a}?"]
COUNT_CLASS = ["how many {cs} are there?", "what is the number of {cs}?", "how many {cs} have {r} {e}?",
               "count the {cs} whose {r} is {e}"]
LIST_CLASS = ["list all {cs}", "list every {c} and its {r}", "give me all {cs} with their {r} and {r2}",
              "show each {c} with its {r}", "what are the {r} of all {cs}?", "list the {cs} and their {r}"]
FILTER = ["which {cs} have a {a} greater than {v}?", "which {cs} have a {a} below {v}?",
          "list the {cs} with {a} over {v}", "are there {cs} with a {a} under {v}?"]
AGGREGATE = ["what is the average {a} of the {cs}?", "what is the total {a} of all {cs}?",
             "for each {c2}, what is the average {a} of its {cs}?", "which {c2} has the most {cs}?",
             "for every {c2}, how many {cs} does it have?", "are there {cs} without a {r}?",
             "which {cs} have no {r}?"]
# requests around a question: words that name no relation, which a question may still carry
WRAPPERS = ["do you know {q}?", "i wonder {q}", "please find out {q}", "quick question: {q}?", "{q}, please?",
            "help me with this: {q}?", "i need to know {q}", "any idea {q}?"]
_RDF_TYPE = iri(RDF.type)
_XSD_DOUBLE = iri(XSD.double)
_SCHEMA_NAMESPACES = (str(OWL), str(RDFS), str(RDF))
_SYLLABLES = "ka lo ri ven to mar zu bel quo dra fen gri hal ix jor lum nor pex sar tiv ul wex yor zan".split()


@dataclass
class Generated:
    question: str
    anchor: Node
    path: Path
    answerable: bool = True
    exclude: frozenset[URIRef] = field(default_factory=frozenset)
    paraphrased: bool = False  # a relation is written with an encoder-nearest word, not one of its names
    asks: Node | None = None  # a yes/no question's other entity: "is it so that the path reaches this?"
    holds: bool = True  # whether it does (the gold "yes" or "no")


@dataclass
class ClassProfile:
    node: URIRef
    name: str
    attributes: dict[URIRef, list[float]] = field(default_factory=dict)  # numeric attribute -> sample values
    fields: set[URIRef] = field(default_factory=set)  # every relation its members have
    # (relation, a named object, its name, its class's name)
    links: list[tuple[URIRef, URIRef, str, str]] = field(default_factory=list)


class Judged(StrEnum):
    """How an answer to a question about a whole class is compared with its gold query's result."""

    TOP = "top"  # the first answer is one of the rows tied first
    SET = "set"  # the answers are the rows
    COUNT = "count"  # the answer is the number
    ASK = "ask"  # the yes/no answer


@dataclass
class ClassQuestion:
    """A question about a class as a whole, and how to tell a right answer: `gold` is a query whose
    result is the answer (None for shapes only the router learns from), `kind` how it is compared."""

    question: str
    gold: str | None = None
    kind: Judged | None = None


class QuestionGenerator:
    """Questions with known anchors and paths, written from a graph's own names."""

    def __init__(self, qa: KBQA, *, seed: int = 7, forward_only: bool | None = None,
                 paraphrases: dict[URIRef, list[str]] | None = None) -> None:
        self.qa = qa
        self.graph = qa.graph
        self.index = qa.index
        self.rng = random.Random(seed)
        self.forward_only = qa.config.forward_only if forward_only is None else forward_only
        self.max_hops = qa.config.max_hops
        self.names = {p: n for p, n in self.index.relation_names.items() if n}
        self.relations = sorted(self.names, key=str)
        self.entity_names: dict[Node, list[str]] = {}
        self.class_names: dict[Node, list[str]] = {}
        for entries in self.index.keys.values():
            for node, label, kind, _ in entries:
                if kind in (LinkKind.ENTITY, LinkKind.CLASS) and isinstance(node, URIRef):
                    names = self.entity_names if kind == LinkKind.ENTITY else self.class_names
                    names.setdefault(node, []).append(label)
        self._triples: dict[URIRef, list[tuple[Node, Node]]] = {}
        self._edges: dict[tuple[Node, bool], list[tuple[URIRef, Node]]] = {}
        self._types: dict[Node, str] = {}
        self.timeout = qa.settings.kb_timeout_s
        self.paraphrases = paraphrases or {}
        self._paraphrased = False
        self._asks: Node | None = None

    # ------------------------------------------------------------------ graph access (cached)
    def triples(self, p: URIRef) -> list[tuple[Node, Node]]:
        if p not in self._triples:
            rows = self.graph.select(f"SELECT ?s ?o WHERE {{ ?s {iri(p)} ?o }} LIMIT 2000", timeout_s=self.timeout)
            self._triples[p] = [(s, o) for s, o in rows if isinstance(s, URIRef) and o is not None]
        return self._triples[p]

    def edges(self, node: Node, forward: bool) -> list[tuple[URIRef, Node]]:
        key = (node, forward)
        if key not in self._edges:
            if not isinstance(node, URIRef):
                self._edges[key] = []
            else:
                q = (f"SELECT ?p ?x WHERE {{ {iri(node)} ?p ?x }} LIMIT 300" if forward
                     else f"SELECT ?p ?x WHERE {{ ?x ?p {iri(node)} }} LIMIT 300")
                rows = self.graph.select(q, timeout_s=self.timeout)
                self._edges[key] = [(p, x) for p, x in rows if isinstance(p, URIRef) and p in self.names
                                    and x is not None]
        return self._edges[key]

    def type_name(self, node: Node) -> str:
        if node not in self._types:
            name = "thing"
            if isinstance(node, URIRef):
                rows = self.graph.select(
                    f"SELECT ?t WHERE {{ {iri(node)} {_RDF_TYPE} ?t }} LIMIT 3",
                    timeout_s=self.timeout)
                if rows and rows[0][0] is not None:
                    name = self.index.label(rows[0][0]).lower()
            self._types[node] = name
        return self._types[node]

    def entity_name(self, node: Node) -> str | None:
        names = self.entity_names.get(node)
        return self.rng.choice(names) if names else None

    def phrase(self, p: URIRef) -> str:
        names = self.names[p]
        words = self.paraphrases.get(p)
        if words and self.rng.random() < 0.35:
            self._paraphrased = True
            return self.rng.choice(words)
        return names[0] if len(names) == 1 or self.rng.random() < 0.4 else self.rng.choice(names[1:])

    # ------------------------------------------------------------------ walks and questions
    def walk(self, hops: int) -> tuple[Node, Path, list[Node]] | None:
        """A random path of `hops` steps from a named entity, relation first (so rare relations
        get questions too): (anchor, path, the nodes it visits after the anchor)."""
        if not self.relations:  # an empty graph, or one of labels only
            return None
        p = self.rng.choice(self.relations)
        rows = self.triples(p)
        if not rows:
            return None
        s, o = self.rng.choice(rows)
        forward = self.forward_only or self.rng.random() < 0.7
        anchor, nxt = (s, o) if forward else (o, s)
        if anchor not in self.entity_names:
            return None
        path: list[Step] = [Step(p, forward)]
        nodes = [nxt]
        for _ in range(hops - 1):
            here = nodes[-1]
            options = [(q, x, True) for q, x in self.edges(here, True)]
            if not self.forward_only:
                options += [(q, x, False) for q, x in self.edges(here, False)]
            last = path[-1]
            options = [(q, x, d) for q, x, d in options if not (q == last.pred and d != last.forward)
                       and x != anchor and not isinstance(here, Literal)]
            if not options:
                return None
            q, x, d = self.rng.choice(options)
            path.append(Step(q, d))
            nodes.append(x)
        return anchor, tuple(path), nodes

    def question(self, anchor: Node, path: Path, nodes: list[Node], *, yes_no: bool = False) -> str:
        e = self.entity_name(anchor)
        assert e is not None  # a walk starts from a named entity
        rng = self.rng
        r = [self.phrase(s.pred) for s in path]
        end = nodes[-1]
        roll = rng.random()
        if len(path) == 1 and roll < 0.15 and not yes_no:
            c = self.type_name(end)
            if path[0].forward:
                return rng.choice(COUNT if rng.random() < 0.3 else ONE_HOP).format(r=r[0], e=e)
            return rng.choice(COUNT_INVERSE if rng.random() < 0.3 else ONE_HOP_INVERSE).format(r=r[0], e=e, c=c)
        np = e
        for i, step in enumerate(path):
            if step.forward and i == len(path) - 1 and i > 0 and np.endswith(f" 's {r[i - 1]}") and roll < 0.45:
                np = f"{np} {r[i]}"  # "where does X 's mother come from": the last relation follows the noun
            elif step.forward:
                np = rng.choice(FORWARD).format(r=r[i], np=np)
            else:
                np = rng.choice(INVERSE).format(r=r[i], np=np, c=self.type_name(nodes[i]))
        x = self.entity_name(end) if isinstance(end, URIRef) else None
        if x is not None and (roll > 0.92 or yes_no):
            self._asks = end
            return rng.choice(YES_NO[:2]).format(x=x, np=np)
        return rng.choice(ENDINGS).format(np=np)

    def generate(self, n: int, progress: Progress | None = None) -> list[Generated]:
        out: list[Generated] = []
        seen: set[str] = set()
        tries = 0
        weights = [0.4, 0.35, 0.25][: self.max_hops]
        while len(out) < n and tries < 20 * n:
            tries += 1
            hops = self.rng.choices(range(1, len(weights) + 1), weights=weights)[0]
            walk = self.walk(hops)
            if walk is None:
                continue
            self._paraphrased, self._asks = False, None
            q = self.question(*walk)
            if self.rng.random() < MISSPELLED_SHARE:  # people misspell names: answerable questions with a typo too
                q = self.misspelled(q, walk[0])
            if self.rng.random() < 0.2:  # and wrap questions in words that name no relation
                q = self.rng.choice(WRAPPERS).format(q=q.rstrip("?"))
            if q in seen:
                continue
            seen.add(q)
            out.append(Generated(q, walk[0], walk[1], paraphrased=self._paraphrased, asks=self._asks))
            if progress:
                progress("generating questions", len(out), n)
        return out

    def misspelled(self, question: str, anchor: Node) -> str:
        """The question with one typing error in the anchor's name (a swap, a dropped or a doubled
        letter), when the name has a word long enough to misspell."""
        for name in sorted(self.entity_names.get(anchor, []), key=len, reverse=True):
            if name in question:
                words = name.split(" ")
                i = max(range(len(words)), key=lambda k: len(words[k]))
                w = words[i]
                if len(w) < 5:
                    return question
                k = self.rng.randrange(1, len(w) - 2)
                w = self.rng.choice([w[:k] + w[k + 1] + w[k] + w[k + 2:], w[:k] + w[k + 1:], w[:k] + w[k] + w[k:]])
                words[i] = w
                return question.replace(name, " ".join(words))
        return question

    def made_up_name(self, real: str | None = None) -> str:
        """A name no entity in the graph has (the question is then about something the graph lacks):
        one or two made-up words, sometimes beside a word of a real name ("San Lorvex" when the
        graph has "San Marino"), so that finding part of a name is not taken for finding it."""
        rng = self.rng

        def word() -> str:
            return "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3)))).capitalize()

        while True:
            roll = rng.random()
            pieces = [w for w in (real or "").split() if len(w) > 2 and w.lower() not in STOPWORDS]
            if roll < 0.25 and pieces:
                name = f"{rng.choice(pieces)} {word()}" if rng.random() < 0.5 else f"{word()} {rng.choice(pieces)}"
            elif roll < 0.45:
                name = f"{word()} {word()}"
            else:
                name = word()
            if normalise(name) not in self.index.keys:
                return name

    # ------------------------------------------------------------------ questions over a class
    def class_profiles(self, max_classes: int = 40, per_class: int = 30) -> list[ClassProfile]:
        """What the graph's most populous classes look like: their numeric attributes (with sample
        values), their relations to named things, and the classes those things belong to."""
        try:
            rows = self.graph.select(f"SELECT ?c (COUNT(?s) AS ?n) WHERE {{ ?s {_RDF_TYPE} ?c }} GROUP BY ?c "
                                     f"ORDER BY DESC(?n) LIMIT {max_classes}", timeout_s=self.timeout)
        except Exception:  # noqa: BLE001 - an endpoint without aggregates: any classes will do
            rows = self.graph.select(f"SELECT DISTINCT ?c WHERE {{ ?s {_RDF_TYPE} ?c }} LIMIT {max_classes}",
                                     timeout_s=self.timeout)
        out: list[ClassProfile] = []
        for row in rows:
            cls = row[0]
            if not isinstance(cls, URIRef) or str(cls).startswith(_SCHEMA_NAMESPACES):
                continue  # owl:Class, rdfs:Class...: the schema's own vocabulary, not things asked about
            name = self.index.label(cls).lower().strip()
            if not name or len(name) > 40:
                continue
            prof = ClassProfile(cls, name)
            members = self.graph.select(f"SELECT ?s WHERE {{ ?s {_RDF_TYPE} {iri(cls)} }} LIMIT {per_class}",
                                        timeout_s=self.timeout)
            for (s,) in members:
                if s is None:
                    continue
                for p, x in self.edges(s, True):
                    if isinstance(x, Literal):
                        value = _number(x)
                        if value is None:
                            prof.fields.add(p)
                        else:
                            prof.attributes.setdefault(p, []).append(value)
                    elif isinstance(x, URIRef):
                        prof.fields.add(p)
                        other = self.entity_name(x)
                        if other:
                            prof.links.append((p, x, other, self.type_name(x)))
            if prof.attributes or prof.links or prof.fields:
                out.append(prof)
        return out

    def class_questions(self, n: int) -> list[ClassQuestion]:
        """Questions about a class as a whole ("which supplier has the lowest price?", "how many
        products are there?", "list every employee and its email"), written from the graph's class
        and relation names. They name no single entity and follow no single path: the router
        learns from all of them that they are graph questions, and the calibrator from those with
        a gold query how often such an answer is right."""
        profiles = self.class_profiles()
        if not profiles:
            return []
        rng = self.rng
        out: list[ClassQuestion] = []
        seen: set[str] = set()
        tries = 0
        while len(out) < n and tries < 20 * n:
            tries += 1
            made = self._class_question(rng.choice(profiles))
            if made is not None and made.question not in seen:
                seen.add(made.question)
                out.append(made)
        return out

    def _class_question(self, prof: ClassProfile) -> ClassQuestion | None:
        rng = self.rng
        c, cs, cls = prof.name, _plural(prof.name), iri(prof.node)
        members = f"?s {_RDF_TYPE} {cls} ."
        family = rng.choice(("superlative", "count", "list", "filter", "aggregate"))
        fields = sorted(prof.fields | set(prof.attributes), key=str)
        if family in ("superlative", "filter") and prof.attributes:
            p = rng.choice(sorted(prof.attributes, key=str))
            values = sorted(prof.attributes[p])
            v = values[len(values) // 2]
            v_text = str(int(v)) if float(v).is_integer() else f"{v:.1f}"
            value = f"{_XSD_DOUBLE}(?v)"
            if family == "superlative":
                template = rng.choice(SUPERLATIVE)
                q = template.format(c=c, cs=cs, a=self.phrase(p), v=v_text)
                if "top 3" in template:
                    return ClassQuestion(q)
                order = "ASC" if any(w in template for w in ("lowest", "smallest", "least")) else "DESC"
                return ClassQuestion(q, f"SELECT ?s ?v WHERE {{ {members} ?s {iri(p)} ?v }} "
                                        f"ORDER BY {order}({value}) LIMIT 50", Judged.TOP)
            template = rng.choice(FILTER)
            q = template.format(c=c, cs=cs, a=self.phrase(p), v=v_text)
            op = ">" if any(w in template for w in ("greater", "over")) else "<"
            where = f"{members} ?s {iri(p)} ?v FILTER({value} {op} {v_text})"
            if q.startswith("are there"):
                return ClassQuestion(q, f"ASK {{ {where} }}", Judged.ASK)
            return ClassQuestion(q, f"SELECT DISTINCT ?s WHERE {{ {where} }}", Judged.SET)
        if family == "count":
            template = rng.choice(COUNT_CLASS)
            if "{e}" not in template:
                return ClassQuestion(template.format(cs=cs),
                                     f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {members} }}", Judged.COUNT)
            if not prof.links:
                return None
            p, x, e, _ = rng.choice(prof.links)
            return ClassQuestion(template.format(cs=cs, r=self.phrase(p), e=e),
                                 f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {members} ?s {iri(p)} {iri(x)} }}",
                                 Judged.COUNT)
        if family == "list" and fields:
            p, p2 = rng.sample(fields, 2) if len(fields) > 1 else (fields[0], fields[0])
            template = rng.choice(LIST_CLASS)
            if "{r2}" in template and p == p2:
                return None
            q = template.format(c=c, cs=cs, r=self.phrase(p), r2=self.phrase(p2))
            if template == "list all {cs}":
                return ClassQuestion(q, f"SELECT DISTINCT ?s WHERE {{ {members} }}", Judged.SET)
            return ClassQuestion(q)
        if family == "aggregate" and prof.links:
            template = rng.choice(AGGREGATE)
            if "{a}" in template and not prof.attributes:
                return None
            p, _, _, c2 = rng.choice(prof.links)
            a = self.phrase(rng.choice(sorted(prof.attributes, key=str))) if prof.attributes else ""
            q = template.format(c=c, cs=cs, c2=c2, a=a, r=self.phrase(p))
            lacking = f"{members} FILTER NOT EXISTS {{ ?s {iri(p)} ?x }}"
            if template.startswith("are there"):
                return ClassQuestion(q, f"ASK {{ {lacking} }}", Judged.ASK)
            if template.startswith("which {cs} have no"):
                return ClassQuestion(q, f"SELECT DISTINCT ?s WHERE {{ {lacking} }}", Judged.SET)
            return ClassQuestion(q)
        return None

    def asked(self, g: Generated) -> Generated | None:
        """The yes/no question of a generated question's path and one of its answers ("is Paris
        the capital of France?" for "what is the capital of France?"): true."""
        qg = path_query(g.anchor, g.path)
        qg.columns = [Var(f"x{i}") for i in range(1, len(g.path))]
        qg.limit = 50
        try:
            found = self.graph.select(qg.to_sparql(), timeout_s=self.timeout)
        except QueryError:  # a slow or refusing endpoint: one calibration question fewer
            return None
        rows = [row for row in found if row[0] in self.entity_names and all(isinstance(x, URIRef) for x in row)]
        if not rows:
            return None
        answer, *between = cast(tuple[URIRef, ...], self.rng.choice(rows))  # every term an IRI: see above
        self._paraphrased, self._asks = False, None
        q = self.question(g.anchor, g.path, [*between, answer], yes_no=True)
        if self._asks is None:
            return None
        return Generated(q, g.anchor, g.path, paraphrased=self._paraphrased, asks=self._asks)

    def denied(self, g: Generated) -> Generated | None:
        """A yes/no question asked of something else its path's last relation reaches, which the
        path does not reach from this anchor ("Is Munich the capital of Germany?" beside "Is Berlin
        ..."): its answer is no. Without these, calibration would learn that every "no" is wrong."""
        if g.asks is None:
            return None
        name = next((n for n in sorted(self.entity_names.get(g.asks, []), key=len, reverse=True)
                     if g.question.count(n) == 1), None)
        if name is None:
            return None
        last = g.path[-1]
        pool = sorted({o if last.forward else s for s, o in self.triples(last.pred)} - {g.anchor, g.asks}, key=str)
        pool = [x for x in pool if x in self.entity_names]
        for x in self.rng.sample(pool, min(5, len(pool))):
            other = self.entity_name(x)
            if other and other not in g.question and name not in other and not self.reaches(g.anchor, g.path, x):
                return replace(g, question=g.question.replace(name, other), asks=x, holds=False)
        return None

    def membership(self, g: Generated) -> Generated | None:
        """"Is X a Y?" of a question's anchor: one of its classes (yes) or another class (no)."""
        name = self.entity_name(g.anchor)
        if name is None or not self.class_names or not isinstance(g.anchor, URIRef):
            return None
        try:
            rows = self.graph.select(f"SELECT ?t WHERE {{ {iri(g.anchor)} {iri(RDF.type)} ?t }} LIMIT 20",
                                     timeout_s=self.timeout)
            kinds = {t for (t,) in rows if t in self.class_names}
            holds = bool(kinds) and self.rng.random() < 0.5
            pool = sorted(kinds if holds else set(self.class_names) - kinds, key=str)
            if not pool:
                return None
            cls = self.rng.choice(pool)
            if not holds:  # of a subclass of another class it is true: asked as the pipeline asks it
                is_a = self.qa.type_predicate()
                holds = self.graph.ask(QueryGraph(triples=[(g.anchor, is_a, cls)], form=QueryForm.ASK).to_sparql(),
                                       timeout_s=self.timeout)
        except QueryError:
            return None
        label = self.rng.choice(self.class_names[cls])
        article = "an" if label[:1].lower() in "aeiou" else "a"
        return Generated(f"is {name} {article} {label}?", g.anchor, (), asks=cls, holds=holds)

    def reaches(self, anchor: Node, path: Path, end: Node) -> bool:
        """Whether `path` leads from `anchor` to `end` (asked, not looked up among its first answers)."""
        qg = path_query(anchor, path)
        qg.triples = substituted(qg.triples, qg.answer, end)
        qg.form = QueryForm.ASK
        try:
            return self.graph.ask(qg.to_sparql(), timeout_s=self.timeout)
        except QueryError:  # unknown: taken as reached, so no false question is made of it
            return True

    def unanswerable(self, g: Generated) -> Generated:
        """The same question made unanswerable: its relations missing, or its entity."""
        if self.rng.random() < 0.65:
            return Generated(g.question, g.anchor, g.path, False, frozenset(s.pred for s in g.path))
        names = sorted(self.entity_names.get(g.anchor, []), key=len, reverse=True)
        for name in names:
            if name in g.question:
                return Generated(g.question.replace(name, self.made_up_name(name)), g.anchor, g.path, False)
        # the name carries a typo: the relations go missing instead
        return Generated(g.question, g.anchor, g.path, False, frozenset(s.pred for s in g.path))


def word_list(settings: Settings) -> list[str]:
    """Lower-case English words: the whole-word entries of the encoder's own vocabulary."""
    folder = FsPath(settings.encoder_model) if settings.encoder_model else encoder_path()
    vocab = folder / "vocab.txt"
    if not vocab.exists():
        return []
    words = {w.strip() for w in vocab.read_text(encoding="utf-8").splitlines()}
    return sorted(w for w in words if w.isalpha() and w.islower() and len(w) >= 3 and w not in STOPWORDS)


def paraphrase_words(qa: KBQA, *, per_relation: int = 8, min_similarity: float = 0.45,
                     progress: Progress | None = None) -> dict[URIRef, list[str]]:
    """Words people may use for each relation instead of its name ("mother" for `parents`,
    "occupation" for `profession`): the encoder's nearest words to the relation's names, kept only
    when that relation is the word's nearest among all of the graph's relations."""
    if qa.encoder is None:
        return {}
    words = word_list(qa.settings)
    if not words:
        return {}
    h = hashlib.sha256(qa.encoder.name.encode("utf-8"))
    h.update("\n".join(words).encode("utf-8"))
    path = cache_dir() / "kb" / f"words-{h.hexdigest()[:20]}.npy"
    if path.exists():
        mat = np.load(path).astype(np.float32)
    else:
        chunks = []
        step = 1024
        for i in range(0, len(words), step):
            chunks.append(np.asarray(qa.encoder.encoder.encode(words[i:i + step]), dtype=np.float32))
            if progress:
                progress("encoding a word list (once per encoder)", min(i + step, len(words)), len(words))
        mat = np.vstack(chunks)
        try:
            atomic_write(path, lambda p: np.save(open(p, "wb"), mat.astype(np.float16)))  # noqa: SIM115
        except OSError as exc:  # a cache this user cannot write: the training goes on, encoding again next time
            log.warning("the word list's vectors are not kept for next time (%s: %s)", path.parent,
                        exc.strerror or exc)
    rels = [p for p, names in qa.index.relation_names.items() if names]
    if not rels:
        return {}
    names = [(i, n) for i, p in enumerate(rels) for n in qa.index.relation_names[p]]
    vecs = qa.encoder.vectors([n for _, n in names])
    sims = mat @ vecs.T  # words x names
    owner = np.array([i for i, _ in names])
    per_rel = np.full((len(words), len(rels)), -1.0, dtype=np.float32)
    for j in range(len(rels)):
        per_rel[:, j] = sims[:, owner == j].max(1)
    nearest = per_rel.argmax(1)
    own = {w for p in rels for n in qa.index.relation_names[p] for w in n.split()}
    # a word that names things in the graph ("africa", "euro", "english") or a class of them ("towns")
    # is an answer or a type, not another name for a relation
    named = set(qa.index.token_index) | {k for k in qa.index.keys if " " not in k}
    named |= {_plural(w) for w in named}
    out: dict[URIRef, list[str]] = {}
    for j, p in enumerate(rels):
        order = np.argsort(-per_rel[:, j])[: per_relation * 4]
        chosen = [words[i] for i in order if nearest[i] == j and per_rel[i, j] >= min_similarity
                  and words[i] not in own and words[i] not in named][:per_relation]
        if chosen:
            out[p] = chosen
    return out


def _plural(word: str) -> str:
    if word.endswith("y") and len(word) > 3 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def ask_right(pred: Prediction, g: Generated) -> bool:
    """Whether a generated yes/no question got its answer by asking its own statement, from its
    anchor or from the other end ("Is Berlin the capital of Germany?" asks Germany's capital, or
    what Berlin is the capital of: one query); one about what its anchor is (no path) by asking
    that of the anchor."""
    best = pred.best
    if pred.form != QueryForm.ASK or best is None or pred.boolean != g.holds:
        return False
    if not g.path:
        return best.anchor.node == g.anchor and pred.class_asked
    if best.anchor.node == g.anchor and best.path == g.path:
        return True
    return best.anchor.node == g.asks and best.path == reversed_path(g.path)


def class_answer_right(qa: KBQA, pred: Prediction, cq: ClassQuestion) -> bool:
    """Whether the pipeline's answer to a question about a whole class is its gold query's."""
    if pred.best is None or cq.gold is None:
        return False
    timeout = qa.settings.kb_timeout_s
    if cq.kind == Judged.ASK:
        return pred.form == QueryForm.ASK and pred.boolean == qa.graph.ask(cq.gold, timeout_s=timeout)
    rows = qa.graph.select(cq.gold, timeout_s=timeout)
    got = [a for a, _ in pred.answers]
    if not rows or not got:
        return False
    if cq.kind == Judged.COUNT:
        return _number(got[0]) is not None and _number(got[0]) == _number(rows[0][0])
    if cq.kind == Judged.TOP:
        first = _number(rows[0][1])
        return got[0] in {row[0] for row in rows if _number(row[1]) == first}
    gold = {row[0] for row in rows}
    return set(got) == gold or (len(got) >= qa.config.answer_limit and set(got) <= gold)


def _number(node: Node | None) -> float | None:
    if not isinstance(node, IdentifiedNode | Literal):  # None, or a node without a Python value
        return None
    try:
        return float(node.toPython())
    except (AttributeError, TypeError, ValueError):
        return None


def gold_answers(qa: KBQA, g: Generated) -> set[Node]:
    rows = qa.graph.select(path_query(g.anchor, g.path).to_sparql(), timeout_s=qa.settings.kb_timeout_s)
    return {row[0] for row in rows if row[0] is not None}


def train(qa: KBQA, *, questions: int = 2000, seed: int = 7, unanswerable_share: float = 0.35,
          epochs: int = 5, sparse: bool = False, paraphrases: bool = True, progress: Progress | None = None,
          log: Callable[[str], None] | None = None, given: list[Generated] | None = None,
          class_share: float = 0.25, keep_paths: bool = False, yes_no_only: bool = False) -> Scorer:
    """Generate, train the path scorer, fit the calibrator and the abstention threshold; returns
    the scorer (also set on `qa`), its `meta` holding the held-out figures. `keep_paths` keeps the
    path scorer `qa` has and refits only what turns its decisions into probabilities;
    `yes_no_only` (with `keep_paths`) keeps its calibration too and refits only yes/no answers."""
    if yes_no_only and (not keep_paths or qa.scorer.calibrator is None):
        raise ValueError("yes_no_only refits the yes/no calibration of a calibrated scorer, keeping its paths")
    say = log or (lambda m: None)
    words = paraphrase_words(qa, progress=progress) if paraphrases else {}
    gen = QuestionGenerator(qa, seed=seed, paraphrases=words)
    data = gen.generate(questions, progress)
    if given:  # a graph's own question templates, when it has some (the embedded world graph does)
        data = data + list(given)
        random.Random(seed).shuffle(data)
    if len(data) < 20:
        from qa.core.errors import InputError

        raise InputError(f"the graph yields too few questions to train on ({len(data)}): does it have labelled "
                         "entities and relations between them?")
    cut = int(len(data) * 0.75)
    train_set, held = data[:cut], data[cut:]
    # Calibration sees relations written with their own names only: the encoder's nearest words are
    # related words more often than synonyms ("mayors" for capital), and a calibrator taught that they
    # mean the relation would answer what the graph cannot ("Who is the mayor of X?"). They still
    # teach the path scorer which candidate fits best.
    held = [g for g in held if not g.paraphrased]
    seen = {g.question for g in data}
    extra = [g for g in QuestionGenerator(qa, seed=seed + 2).generate(max(0, len(data) - cut - len(held)))
             if g.question not in seen]
    held += extra
    if keep_paths:  # only the calibration is refitted; the path scorer in use keeps its weights
        base = qa.scorer
        scorer = Scorer(weights=dict(base.weights), calibration=base.calibration)
        n_train = base.meta.get("n_train", 0)
        say(f"path scorer kept ({base.meta.get('trained_on', 'given weights')}); refitting its calibration")
    else:
        examples = []
        for i, g in enumerate(train_set):
            cands = qa.candidates(g.question)
            gold = [k for k, c in enumerate(cands) if c.anchor.node == g.anchor and c.path == g.path]
            if gold:
                feats = [c.features if sparse else {k: v for k, v in c.features.items() if "|" not in k}
                         for c in cands]
                examples.append((feats, gold[0]))
            if progress:
                progress("reading training questions", i + 1, len(train_set))
        say(f"{len(examples)}/{len(train_set)} generated questions have their path among the candidates")
        scorer = Scorer()
        scorer.fit(examples, epochs=epochs, log=say)
        n_train = len(examples)
    qa.scorer = scorer
    rows, labels, kinds = [], [], []
    p_tops, path_ok = [], []
    rng = random.Random(seed + 1)
    yn = QuestionGenerator(qa, seed=seed + 4)  # yes/no questions beside them, drawn apart
    for i, g in enumerate(held):
        cases = [g]
        if rng.random() < unanswerable_share / (1 - unanswerable_share):
            cases.append(gen.unanswerable(g))
        true = g if g.asks is not None else None
        if true is None and yn.rng.random() < YES_NO_SHARE and (true := yn.asked(g)) is not None:
            cases.append(true)
        if true is not None and (false := yn.denied(true)) is not None:
            cases.append(false)
        if yn.rng.random() < MEMBERSHIP_SHARE and (member := yn.membership(g)) is not None:
            cases.append(member)
        for k, case in enumerate(cases):  # the thing asked of misspelled, as users write names
            if case.asks is not None and case.path and yn.rng.random() < MISSPELLED_SHARE:
                cases[k] = replace(case, question=yn.misspelled(case.question, case.asks))
        for case in cases:
            pred = qa.predict(case.question, exclude=case.exclude)
            if pred.best is None:
                continue
            if case.answerable and case.asks is not None:
                ok = ask_right(pred, case)
                p_tops.append(pred.p_top)
                path_ok.append(ok)
            elif case.answerable:
                ok = (pred.best.anchor.node == case.anchor and pred.best.path == case.path) or (
                    pred.form == QueryForm.SELECT and not any("count" in c for c in pred.constraints)
                    and bool(pred.answers) and pred.answers[0][0] in gold_answers(qa, case))
                p_tops.append(pred.p_top)
                path_ok.append(ok)
            else:
                ok = False
            rows.append(pred.decision)
            labels.append(ok)
            kinds.append(case.answerable)
        if progress:
            progress("calibrating", i + 1, len(held))
    # questions about a whole class ("which supplier has the lowest price?"): answered through a
    # superlative, a count or a filter rather than a path alone, and right or wrong by their result
    n_class = int(len(held) * class_share)
    class_qs = [c for c in QuestionGenerator(qa, seed=seed + 3).class_questions(3 * n_class) if c.gold][:n_class]
    class_ok = []
    for i, cq in enumerate(class_qs):
        pred = qa.predict(cq.question)
        if pred.best is not None:
            ok = class_answer_right(qa, pred, cq)
            rows.append(pred.decision)
            labels.append(ok)
            kinds.append(True)
            class_ok.append(ok)
        if progress:
            progress("calibrating on questions about whole classes", i + 1, len(class_qs))
    if not yes_no_only:
        scorer.calibrate(p_tops, path_ok)
    # yes/no answers that check one named statement, or what a thing is, are right or wrong for
    # other reasons than a path's answers: calibrated apart, so neither bends the other
    asks = [checks_a_statement(r) for r in rows]
    ask_rows = [(r, ok) for r, ok, a in zip(rows, labels, asks, strict=True) if a]
    if len(ask_rows) >= MIN_YES_NO_ROWS and len({ok for _, ok in ask_rows}) == 2:
        scorer.yes_no_calibrator = Calibrator.fit([r for r, _ in ask_rows], [ok for _, ok in ask_rows],
                                                  features=YES_NO_FEATURES)
    elif keep_paths:  # too few to refit: the scorer's own, if it has one
        scorer.yes_no_calibrator = base.yes_no_calibrator
    if scorer.yes_no_calibrator is not None:  # else the main calibrator weighs yes/no answers too
        rows = [x for x, a in zip(rows, asks, strict=True) if not a]
        labels = [x for x, a in zip(labels, asks, strict=True) if not a]
        kinds = [x for x, a in zip(kinds, asks, strict=True) if not a]
    if yes_no_only:  # the scorer's own calibration of every other answer, kept
        assert base.calibrator is not None  # checked on entry
        scorer.calibrator, scorer.threshold = base.calibrator, base.threshold
        probs = [scorer.calibrator.probability(r) for r in rows]
    else:
        scorer.calibrator = Calibrator.fit(rows, labels)
        probs = [scorer.calibrator.probability(r) for r in rows]
        scorer.threshold = _best_threshold(probs, labels, kinds)
    answerable = [(p, ok) for p, ok, k in zip(probs, labels, kinds, strict=True) if k]
    unanswerable = [p for p, k in zip(probs, kinds, strict=True) if not k]
    acc = 100 * sum(ok for _, ok in answerable) / max(1, len(answerable))
    kept = 100 * sum(ok and p >= scorer.threshold for p, ok in answerable) / max(1, len(answerable))
    abstain = 100 * sum(p < scorer.threshold for p in unanswerable) / max(1, len(unanswerable))
    scorer.meta = {
        "trained_on": "questions generated from the graph (kb.training)" + (
            f" and {len(given)} from the graph's own question templates" if given else " alone"),
        "questions": len(data), "n_train": n_train, "n_held_out": len(answerable),
        "n_unanswerable_held_out": len(unanswerable), "held_out_accuracy": round(acc, 2),
        "n_class_held_out": len(class_ok),
        "class_accuracy": round(100 * sum(class_ok) / len(class_ok), 2) if class_ok else None,
        "held_out_accuracy_with_abstention": round(kept, 2), "held_out_abstention_unanswerable": round(abstain, 2),
        "seed": seed, "max_hops": qa.config.max_hops, "forward_only": qa.config.forward_only,
        "n_yes_no_held_out": len(ask_rows),
        "yes_no_accuracy": round(100 * sum(ok for _, ok in ask_rows) / len(ask_rows), 2) if ask_rows else None,
    }
    if keep_paths:
        scorer.meta["paths_kept_from"] = {k: v for k, v in base.meta.items()
                                          if k in ("trained_on", "questions", "seed")}
    if yes_no_only:
        scorer.meta["calibration_kept_from"] = base.meta.get("calibration_kept_from", dict(base.meta))
    if class_ok:
        say(f"questions about whole classes: {len(class_ok)} answered, {scorer.meta['class_accuracy']:.1f}% right")
    say(f"held-out generated questions: accuracy {acc:.1f}%, {kept:.1f}% answered right with abstention; "
        f"{abstain:.1f}% of unanswerable ones abstained (threshold {scorer.threshold:.2f})")
    return scorer


def _best_threshold(probs: list[float], labels: list[bool], kinds: list[bool]) -> float:
    """The abstention threshold that gets most held-out decisions right: an answer above it counts
    when right, an abstention below it counts when the question was unanswerable."""
    best_t, best = 0.5, -1.0
    for t in [x / 100 for x in range(5, 96)]:
        right = sum((p >= t and ok) or (p < t and not k) for p, ok, k in zip(probs, labels, kinds, strict=True))
        if right > best:
            best_t, best = t, right
    return best_t
