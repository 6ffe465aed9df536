"""Entity linking: a label index over the graph with exact, normalised, fuzzy and dense matching.

Anchors are graph nodes a question can start from: entities (IRIs with a label or name), short
string values (a literal such as "France" under `addressCountry`) and classes (the objects of
`rdf:type`, so "which suppliers ..." can start from `pv:Supplier`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rdflib import RDF, RDFS, Literal, URIRef
from rdflib.term import Node

from kb.encoder import cached
from kb.loaders import local_name, readable
from kb.sparql import iri
from kb.text import NEGATIONS, STOPWORDS, compared_number, frame_word, fuzzy_blocked, normalise
from qa.core.atomic import atomic_write, atomic_write_text
from qa.core.text import json_file
from qa.core.types import LinkKind, LinkMethod

if TYPE_CHECKING:
    from kb.progress import Progress
    from kb.store import KnowledgeGraph, Row
    from qa.core.types import Encoder

log = logging.getLogger(__name__)

LABEL_LOCAL_NAMES = {"label", "name", "altlabel", "preflabel", "title", "alias", "type.object.name"}
MAX_LITERAL_CHARS = 60
# several entities of one name: the one the graph points to most is linked this much surer
HUB_NUDGE = 0.005
_OWL = "http://www.w3.org/2002/07/owl#"
_CAPITALS = re.compile(r"\b[A-Z]{2,5}\b")
_PLURAL_CAPITALS = re.compile(r"\b[A-Z]{2,5}s\b")
_ABBREVIATED = re.compile(r"(\w[^()]*?)\s*\(([A-Z]{2,6})\)")
_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_\-(),']{1,80}")  # United_States, not icon.svg?color=...


@dataclass(frozen=True)
class Candidate:
    node: Node
    label: str
    score: float
    method: LinkMethod
    kind: LinkKind
    start: int  # token span in the normalised question
    end: int
    via: URIRef | None = None  # for values: the property that holds the literal


# what a cached index holds; a format change bumps the version so old caches are rebuilt
_STATE = ("keys", "labels", "label_predicates", "schema_predicates", "classes", "token_index", "acronyms",
          "inverse_pairs", "relation_names", "demonyms")
# 10: a "title" property labelled otherwise ("job title") is no label; 9: unlabelled subjects are
# named by their IRI too; 8: relative IRIs resolve against a fixed base
_STATE_VERSION = 11  # 11: English relation labels before others


def _keys_file(vectors: Path) -> Path:
    return vectors.with_suffix(".json")


def _keys_sha1(keys: list[str]) -> str:
    return hashlib.sha1("\n".join(keys).encode("utf-8")).hexdigest()


def _vectors_match(vectors: Path, keys: list[str], encoder: str) -> bool:
    """Whether the saved vectors were encoded from these labels, in this order, by this encoder
    (vectors saved before their labels were recorded are taken on their count alone, and before
    their encoder was, on their width: an encoder changed by a setting since `qa kb train` must
    not be compared with another's vectors)."""
    try:
        saved = json_file(_keys_file(vectors))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    if not isinstance(saved, dict):
        return False
    return saved.get("keys_sha1") == _keys_sha1(keys) and saved.get("encoder", encoder) == encoder


def language_rank(label: Node) -> int:
    """0 for an English or untagged label, 1 for another language."""
    lang = (getattr(label, "language", None) or "").lower()
    return 0 if not lang or lang == "en" or lang.startswith("en-") else 1


# the numbers in a name: a changed one names another thing (a model, a unit, a person of a series),
# never a typo
_DIGITS = re.compile(r"\d+")


def _numbers(text: str) -> list[int]:
    """The numbers in a text by value: "03" is 3, "5:30" is 5 and 30 as "05:30" is."""
    return [int(d) for d in _DIGITS.findall(text)]


def _other_number(c: Candidate, words: list[str]) -> bool:
    """Whether the question gives the linked name another number in the place of its label's
    ("Elena Bergman 3" linking "Elena Bergman" to the label "Elena Bergman 1"): it names another
    thing of a series, which the graph lacks. A number after the whole name ("Sector 3 2011", a
    year, a quantity) is no part of it."""
    label = normalise(c.label).split()
    linked = words[c.start:c.end]
    if c.end >= len(words) or not _DIGITS.fullmatch(words[c.end]) or len(label) < 2 or len(linked) < len(label) - 1:
        return False
    # the linked words end as the label does before its number (a near-meaning link may take a word more)
    return (linked[len(linked) - len(label) + 1:] == label[:-1] and bool(_DIGITS.fullmatch(label[-1]))
            and int(label[-1]) != int(words[c.end]))


def max_edits(length: int) -> int:
    """Typing errors tolerated in a name of `length` characters (one in a short name, more in long ones)."""
    return 0 if length < 4 else 1 if length < 8 else 2 if length < 16 else 3


class LabelIndex:
    """The graph's names, to link a question's words to things, values and classes. The
    constructor only holds the graph; `build` reads every label from it (minutes for a large
    graph), `cached` loads what an earlier build saved."""

    def __init__(self, graph: KnowledgeGraph, *, encoder: Encoder | None = None,
                 dense_max_labels: int = 20_000) -> None:
        self.graph = graph
        self.encoder = cached(encoder)
        self.dense_max_labels = dense_max_labels
        self._dense_cache: tuple[list[str], np.ndarray] | None = None
        self._degrees: dict[Node, int] = {}
        self.dense_path: Path | None = None

    @classmethod
    def build(cls, graph: KnowledgeGraph, *, max_rows: int = 500_000, index_values: bool = True,
              encoder: Encoder | None = None, dense_max_labels: int = 20_000,
              progress: Progress | None = None) -> LabelIndex:
        idx = cls(graph, encoder=encoder, dense_max_labels=dense_max_labels)
        idx._build(max_rows, index_values, progress or (lambda *_: None))
        return idx

    @classmethod
    def cached(cls, graph: KnowledgeGraph, path: Path | None, *, encoder: Encoder | None = None,
               progress: Progress | None = None, max_age_s: float | None = None) -> LabelIndex:
        """The index saved at `path` (built from the graph and saved there when absent or stale, or
        older than `max_age_s`: an endpoint's data may have changed since)."""
        # an index from the future (a cache copied from a machine whose clock ran ahead, a clock set
        # back) has no age to trust: it was kept for good, "0: at every start" too
        fresh = path is not None and path.exists() and (max_age_s is None or 0 <= time.time() - path.stat().st_mtime
                                                         < max_age_s)
        if path is not None and fresh:
            try:
                with open(path, "rb") as fh:
                    state = pickle.load(fh)  # our own cache folder, written by `save`
                if state.get("version") == _STATE_VERSION:
                    idx = cls(graph, encoder=encoder)
                    for k in _STATE:
                        setattr(idx, k, state[k])
                    idx._keys_list = list(idx.keys)
                    idx.dense_path = path.with_name("label_vectors.npy")
                    return idx
            except (OSError, pickle.UnpicklingError, EOFError, KeyError, AttributeError, ValueError) as exc:
                log.warning("rebuilding the label index (cache %s unreadable: %s)", path, exc)
        idx = cls.build(graph, encoder=encoder, progress=progress)
        if path is not None:
            try:
                idx.save(path)
            except OSError as exc:  # a read-only cache: the index built is used all the same (the graph
                # source had failed with a traceback, and the answer came from another source)
                log.warning("the label index is not kept (%s: %s); it is built again next time",
                            exc.filename or path, exc.strerror or exc)
                return idx
            idx.dense_path = path.with_name("label_vectors.npy")
        return idx

    def save(self, path: Path) -> None:
        state = {k: getattr(self, k) for k in _STATE}
        state["version"] = _STATE_VERSION
        atomic_write(path, lambda p: p.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))

    def save_vectors(self) -> int:
        """Encode every entity and class label once (`qa kb train`), so dense linking never has to at
        question time; returns the number of labels encoded."""
        if self.encoder is None or self.dense_path is None:
            return 0
        keys = self._dense_keys()
        mat = np.asarray(self.encoder.bulk(keys), dtype=np.float16)
        atomic_write(self.dense_path, lambda p: np.save(open(p, "wb"), mat))  # noqa: SIM115
        atomic_write_text(_keys_file(self.dense_path),
                          json.dumps({"keys_sha1": _keys_sha1(keys), "encoder": self.encoder.name}))
        self._dense_cache = (keys, mat.astype(np.float32))
        return len(keys)

    def _titled_otherwise(self, p: URIRef) -> bool:
        """A `title` property whose own label says it is something else: `ex:title` labelled "job
        title" holds what a person does, not a name ("Who is the Chief Executive Officer?" linked
        Alice by it, and "What is the job title of Alice?" found no relation). A title is a name
        where its label says no more than that ("Title", "titre", "name")."""
        rows = self.graph.select(f"SELECT ?l WHERE {{ {iri(p)} {iri(RDFS.label)} ?l }} LIMIT 5")
        said = {normalise(str(r[0])) for r in rows if isinstance(r[0], Literal)}
        return bool(said) and not said & {"title", "titre", "titel", "título", "titolo", "name", "label"}

    def _build(self, max_rows: int, index_values: bool, progress: Progress) -> None:
        graph = self.graph
        stage = "building the graph's label index (once per graph)"
        progress(stage, 0, 0)
        self.keys: dict[str, list[tuple[Node, str, LinkKind, URIRef | None]]] = defaultdict(list)
        self.labels: dict[Node, str] = {}
        self.label_predicates: set[URIRef] = set()
        self.token_index: dict[str, set[str]] = defaultdict(set)
        self.acronyms: dict[str, set[str]] = defaultdict(set)
        preds = [r[0] for r in graph.select("SELECT DISTINCT ?p WHERE { ?s ?p ?o } LIMIT 5000")]
        for p in preds:
            if isinstance(p, URIRef) and local_name(p).lower() in LABEL_LOCAL_NAMES and not (
                    local_name(p).lower() == "title" and self._titled_otherwise(p)):
                self.label_predicates.add(p)
        # schema statements (rdfs:subClassOf, rdfs:domain, owl:...) describe the vocabulary, not the
        # things a question asks about: relation paths never walk them
        self.schema_predicates = {p for p in preds if isinstance(p, URIRef) and p not in self.label_predicates
                                  and str(p).startswith((str(RDFS), _OWL))}
        classes = graph.select(f"SELECT DISTINCT ?c WHERE {{ ?s {iri(RDF.type)} ?c }} LIMIT 5000")
        self.classes = {c for (c,) in classes if isinstance(c, URIRef)}
        declared = graph.select(f"SELECT DISTINCT ?c WHERE {{ ?c {iri(RDF.type)} ?k . "
                                f"FILTER(?k IN ({iri(RDFS.Class)}, {iri(_OWL + 'Class')})) }} LIMIT 5000")
        self.classes |= {c for (c,) in declared if isinstance(c, URIRef)}  # e.g. a superclass with no direct members
        labelled: set[Node] = set()
        pred_set = set(preds)
        steps = len(self.label_predicates) + len(preds) + 4
        step = 0
        progress(stage, step, steps)
        # every label is a name to link by, in any language; the one shown is English (or untagged)
        # before another language, then a main label (rdfs:label, prefLabel) before an alias
        shown: dict[Node, tuple[tuple[int, int], str]] = {}
        for p in sorted(self.label_predicates, key=lambda x: (x != RDFS.label, str(x))):
            step += 1
            progress(stage, step, steps)
            q = f"SELECT ?s ?l WHERE {{ ?s {iri(p)} ?l . FILTER(isLiteral(?l)) }}"
            for s, lab in _paged(graph, q, max_rows, "?s ?l"):
                if isinstance(s, URIRef) and isinstance(lab, Literal) and s not in pred_set:
                    self._add(s, str(lab), LinkKind.CLASS if s in self.classes else LinkKind.ENTITY)
                    labelled.add(s)
                    order = (language_rank(lab), label_rank(p))
                    if s not in shown or order < shown[s][0]:
                        shown[s] = (order, str(lab))
        self.labels.update({s: lab for s, (_, lab) in shown.items() if normalise(lab)})
        for c in sorted(self.classes - labelled, key=str):
            self._add(c, readable(local_name(c)), LinkKind.CLASS)
        # things only ever named by their IRI (dbpedia:United_States as a supplier's country), at
        # either end of a statement (ex:dave, with parents and a birth date but never an object)
        has_label = (f"FILTER NOT EXISTS {{ ?o ?lp ?l . FILTER(?lp IN "
                     f"({', '.join(iri(x) for x in sorted(self.label_predicates, key=str))})) }}"
                     if self.label_predicates else "")
        q = (f"SELECT DISTINCT ?o WHERE {{ {{ ?s ?p ?o . FILTER(isIRI(?o) && ?p != {iri(RDF.type)}) }} UNION "
             f"{{ ?o ?p ?x . FILTER(isIRI(?o) && ?p != {iri(RDF.type)}) }} {has_label} }} LIMIT {max_rows}")
        step += 1
        progress(stage, step, steps)
        for (o,) in graph.select(q):
            if not isinstance(o, URIRef):
                continue
            name = local_name(o)
            if (_NAME_LIKE.fullmatch(name) and "?" not in str(o) and o not in labelled
                    and o not in self.classes and o not in pred_set):
                self._add(o, readable(name), LinkKind.ENTITY)
        if index_values:
            for p in preds:
                step += 1
                progress(stage, step, steps)
                if p in self.label_predicates or p == RDF.type or not isinstance(p, URIRef):
                    continue
                q = (f"SELECT DISTINCT ?o WHERE {{ ?s {iri(p)} ?o . FILTER(isLiteral(?o) && "
                     f"(datatype(?o) = <http://www.w3.org/2001/XMLSchema#string> || lang(?o) != \"\") && "
                     f"STRLEN(STR(?o)) <= {MAX_LITERAL_CHARS}) }} LIMIT {max_rows}")
                for (o,) in graph.select(q):
                    if isinstance(o, Literal) and any(ch.isalpha() for ch in str(o)) and "@" not in str(o):
                        self._add(o, str(o), LinkKind.VALUE, via=p)
        self._keys_list = list(self.keys)
        step = len(self.label_predicates) + len(preds) + 2
        progress(stage, step, steps)
        self.inverse_pairs = _inverse_pairs(graph)
        progress(stage, step + 1, steps)
        skip = self.label_predicates | self.schema_predicates | {RDF.type}
        self.relation_names = relation_names(graph, [p for p in preds if isinstance(p, URIRef) and p not in skip],
                                             self.label_predicates)
        self.demonyms = {d: key for d, key in _demonyms().items() if key in self.keys and d not in self.keys}
        progress(stage, steps, steps)

    def _add(self, node: Node, label: str, kind: LinkKind, via: URIRef | None = None) -> None:
        key = normalise(label)
        if not key or len(key) > 200:
            return
        short = _ABBREVIATED.fullmatch(label.strip()) if kind != LinkKind.VALUE else None
        if short:  # "Bill of Material (BOM)": also "Bill of Material" and "BOM"
            for alias in short.groups():
                self._add_key(normalise(alias), node, label, kind, via)
        self._add_key(key, node, label, kind, via)

    def _add_key(self, key: str, node: Node, label: str, kind: LinkKind, via: URIRef | None) -> None:
        entry = (node, label, kind, via)
        if entry not in self.keys[key]:
            self.keys[key].append(entry)
        if kind != LinkKind.VALUE and node not in self.labels:
            self.labels[node] = label
        words = key.split()
        if kind != LinkKind.VALUE and len(words) >= 2:  # "United States" -> US, "Bill Of Material" -> BOM
            for short in {"".join(w[0] for w in words), "".join(w[0] for w in words if w not in STOPWORDS)}:
                if len(short) >= 2:
                    self.acronyms[short].add(key)
        if kind == LinkKind.ENTITY:
            for w in key.split():
                if w not in STOPWORDS and len(w) > 2:
                    self.token_index[w].add(key)

    def label(self, node: Node) -> str:
        if isinstance(node, Literal):
            return str(node)
        return self.labels.get(node) or readable(local_name(str(node)))

    # ------------------------------------------------------------------ matching
    def link(self, question: str, *, top: int = 8,
             dense_cutoff: float = 0.8) -> list[Candidate]:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        words = normalise(question).split()
        found: dict[tuple[Node, int, int], Candidate] = {}

        def add(c: Candidate) -> None:
            k = (c.node, c.start, c.end)
            if k not in found or found[k].score < c.score:
                found[k] = c

        raw = unicodedata.normalize("NFC", question)  # a label saved decomposed ("Zu\u0308rich") is verbatim too
        capitals = {m.lower() for m in _CAPITALS.findall(raw)}  # "US", not "us"
        n = len(words)
        for size in range(min(n, 10), 0, -1):
            for i in range(n - size + 1):
                gram = " ".join(words[i : i + size])
                if size == 1 and ((gram in STOPWORDS and gram not in capitals) or len(gram) < 2):
                    continue
                length_bonus = min(0.04, 0.01 * size)
                entries = [(e, 0.0) for e in self.keys.get(gram, ())]
                singular = _singular(gram)
                if singular != gram:  # "suppliers" -> "supplier", "switches" -> "switch"
                    entries += [(e, 0.03) for e in self.keys.get(singular, ())]
                for (node, label, kind, via), penalty in entries:
                    verbatim = unicodedata.normalize("NFC", label) in raw
                    score = (1.0 if verbatim else 0.93) - 0.04 + length_bonus - penalty
                    if kind == LinkKind.CLASS:
                        score -= 0.1
                    add(Candidate(node, label, score, LinkMethod.EXACT if verbatim else LinkMethod.NORMALISED,
                                  kind, i, i + size, via))
        # "a french or german supplier": a demonym names its country, when the graph names the country
        for i, w in enumerate(words):
            key = self.demonyms.get(w)
            for node, label, kind, via in self.keys.get(key, ()) if key else ():
                if kind != LinkKind.CLASS:
                    add(Candidate(node, label, 0.9, LinkMethod.DEMONYM, kind, i, i + 1, via))
        # an acronym in capitals ("US suppliers") names what its initials spell, unless it is a label itself
        plural = {m[:-1].lower() for m in _PLURAL_CAPITALS.findall(raw)}  # "BOMs"
        for short in sorted(capitals | plural):
            if short in self.keys:
                continue
            for i in (j for j, w in enumerate(words) if w == short or (short in plural and w == short + "s")):
                for key in sorted(self.acronyms.get(short, ()))[:5]:
                    for node, label, kind, via in self.keys[key]:
                        if kind != LinkKind.VALUE:
                            add(Candidate(node, label, 0.9 - (0.1 if kind == LinkKind.CLASS else 0), LinkMethod.ACRONYM,
                                          kind, i, i + 1, via))
        # misspellings ("Frnace", "Switzerlnd"): edit distance with transpositions, a budget that grows
        # with the name's length, over the spans with a word no exact entity match already explains
        # ("San Mraino": "San" alone is a town, the misspelled word makes it San Marino)
        covered = {i for c in found.values() if c.kind != LinkKind.CLASS and c.score >= 0.9
                   for i in range(c.start, c.end)}
        exact = [c for c in found.values() if c.kind == LinkKind.ENTITY and c.method.verbatim]
        for size in range(min(n, 5), 0, -1):
            for i in range(n - size + 1):
                if all(j in covered or words[j] in STOPWORDS for j in range(i, i + size)):
                    continue
                gram = " ".join(words[i : i + size])
                budget = max_edits(len(gram))
                if not budget or words[i] in STOPWORDS or words[i + size - 1] in STOPWORDS or fuzzy_blocked(
                        words, i, i + size):
                    continue
                length_bonus = min(0.04, 0.01 * size)
                partly = [j in covered for j in range(i, i + size)]
                for key, dist, _ in process.extract(gram, self._keys_list, scorer=OSA.distance,
                                                    score_cutoff=budget, limit=3):
                    if key == gram or (any(partly) and not _typo_in_rest(words[i:i + size], key.split(), partly)):
                        continue
                    if _numbers(key) != _numbers(gram):  # "Elena Bergman 3" is not a typo of "... 1" ("03" is "3")
                        continue
                    sim = 1 - dist / max(len(gram), len(key))
                    for node, label, kind, via in self.keys[key]:
                        score = 0.85 * sim + length_bonus - (0.1 if kind == LinkKind.CLASS else 0)
                        add(Candidate(node, label, score, LinkMethod.FUZZY, kind, i, i + size, via))
                        if kind == LinkKind.ENTITY and size >= 2:
                            # a name that explains more of the question, typo and all, beats an
                            # exact match of one of its words ("Guinea" inside "Guinea-Bisjsau")
                            for c in exact:
                                if i <= c.start and c.end <= i + size and c.end - c.start < size:
                                    k = (c.node, c.start, c.end)
                                    if k in found and found[k].score >= score:
                                        found[k] = replace(found[k], score=score - 0.05)
        # surname-style partial matches: a rare word that occurs in few entity labels; written in
        # lower case in a question that capitalises its names, it is an ordinary word ("the best
        # average" is not "Bennett, Best and Jacobson")
        cased = question != question.lower()
        named = {normalise(w) for w in re.findall(r"\b[A-Z]\w*", question)}
        for i, w in enumerate(words):
            # "do not border": not "Thốt Nốt"; "formed after 1990": not the band After 7; "a speed
            # between 1000 and 2000": not the region 1000 Islands
            keys = (self.token_index.get(w) if w not in NEGATIONS and not frame_word(words, i)
                    and not compared_number(words, i) else None)
            if keys and len(keys) <= 3 and (not cased or w in named):
                for key in sorted(keys):
                    for node, label, kind, via in self.keys[key]:
                        if kind == LinkKind.ENTITY:
                            add(Candidate(node, label, 0.75 / math.sqrt(len(keys)), LinkMethod.TOKEN,
                                          kind, i, i + 1, via))
        for c in _merge_adjacent(list(found.values())):
            add(c)
        # a word that a class label matches whole ("service": the class Service) is not also a
        # surname-style piece of an entity label ("Involuntary Service"); an entity's whole label may
        # still be someone's surname, so only classes count
        whole = {(i, c.node) for c in found.values() if c.method.verbatim and c.kind == LinkKind.CLASS
                 for i in range(c.start, c.end)}
        for k, c in list(found.items()):
            if c.method == LinkMethod.TOKEN and any(i == c.start and n != c.node for i, n in whole):
                del found[k]
        self._prefer_hubs(found)
        # a negation alone is never a name: "have no coastline" is not Norway's code "NO"
        cands = sorted((c for c in found.values() if not all(w in NEGATIONS for w in words[c.start:c.end])),
                       key=lambda c: -c.score)
        if (not cands or cands[0].score < 0.85) and self.encoder is not None:
            cands = sorted(cands + self._dense(words, dense_cutoff), key=lambda c: -c.score)
        return _dedupe([c for c in cands if not _other_number(c, words)])[:top]

    def _prefer_hubs(self, found: dict) -> None:
        """Several entities behind one name ("Inductor": a product category and two products named
        after it): the one the graph points to most is what a question usually means, so it is
        nudged ahead (a popularity prior, as in most entity linkers); a hub with five times the
        links of the rest replaces them."""
        groups: dict[tuple[int, int, float], list[tuple]] = defaultdict(list)
        for k, c in found.items():
            if c.kind == LinkKind.ENTITY and isinstance(c.node, URIRef):
                groups[(c.start, c.end, round(c.score, 6))].append(k)
        for keys in groups.values():
            if len(keys) < 2 or len(keys) > 20:
                continue
            degree = {k: self._in_degree(found[k].node) for k in keys}
            top = max(keys, key=lambda k: (degree[k], str(found[k].node)))
            second = sorted(degree.values())[-2]
            if degree[top] >= 5 * max(1, second):  # a hub: the others are instances named after it
                for k in keys:
                    if k != top:
                        del found[k]
            elif second < degree[top]:
                c = found[top]
                found[top] = Candidate(c.node, c.label, c.score + HUB_NUDGE, c.method, c.kind, c.start, c.end, c.via)

    def _in_degree(self, node: URIRef) -> int:
        if node not in self._degrees:  # the graph does not change under an index: count once
            rows = self.graph.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?x ?p {iri(node)} }} LIMIT 1")
            count = rows[0][0] if rows else None
            self._degrees[node] = int(count) if isinstance(count, Literal) else 0
        return self._degrees[node]

    def _dense_keys(self) -> list[str]:
        return [k for k in self._keys_list if any(e[2] != LinkKind.VALUE for e in self.keys[k])]

    def _dense(self, words: list[str], cutoff: float) -> list[Candidate]:
        if self.encoder is None:
            return []
        if self._dense_cache is None:
            keys = self._dense_keys()
            if self.dense_path is not None and self.dense_path.exists():
                mat = np.load(self.dense_path).astype(np.float32)
                if (mat.ndim != 2 or len(mat) != len(keys)
                        or not _vectors_match(self.dense_path, keys, self.encoder.name)
                        or mat.shape[1] != self.encoder.vectors(["label"]).shape[1]):
                    # the labels changed since (an endpoint's index rebuilt), or the encoder did
                    log.warning("dense linking is off: %s was not encoded from this graph's labels by %s "
                                "(`qa kb train` encodes them again)", self.dense_path, self.encoder.name)
                    keys, mat = [], np.zeros((0, 0), np.float32)  # once: not read again for each question
            elif self.dense_path is None and len(keys) <= min(self.dense_max_labels, 2_000):
                mat = self.encoder.bulk(keys)  # a small graph without a cache: cheap enough here
            else:
                return []  # never encode a large graph's labels at question time (`qa kb train` does)
            self._dense_cache = (keys, mat)
        keys, mat = self._dense_cache
        if not keys:
            return []
        grams, spans = [], []
        for size in range(1, min(len(words), 4) + 1):
            for i in range(len(words) - size + 1):
                g = words[i : i + size]
                if all(w in STOPWORDS for w in g):
                    continue
                grams.append(" ".join(g))
                spans.append((i, i + size))
        if not grams:
            return []
        sims = self.encoder.vectors(grams) @ mat.T
        out = []
        for gi, row in enumerate(sims):
            j = int(row.argmax())
            numbers, named = _numbers(grams[gi]), _numbers(keys[j])
            if row[j] >= cutoff and not (numbers and named and numbers != named):  # "Bergman 3" is not "Bergman 2"
                for node, label, kind, via in self.keys[keys[j]]:
                    out.append(Candidate(node, label, 0.8 * float(row[j]), LinkMethod.DENSE, kind, *spans[gi], via))
        return out


def _typo_in_rest(gram: list[str], key: list[str], covered: list[bool]) -> bool:
    """A span that an exact match partly explains is a misspelled longer name only word for word:
    the matched words as they are, the others within their own typing-error budget ("san mraino"
    is "san marino"; "deliver compensators" is not "driver compensator")."""
    from rapidfuzz.distance import OSA

    if len(gram) != len(key):
        return False
    return all(g == k if c else OSA.distance(g, k) <= max(1, max_edits(len(k)))
               for g, k, c in zip(gram, key, covered, strict=True))


def _merge_adjacent(cands: list[Candidate]) -> list[Candidate]:
    """One entity named by adjacent pieces ("K367 Strain Encoder": an id fragment, then a name that
    three products share) becomes one candidate over the whole span, ranked above the entities that
    match only one piece."""
    by_node: dict[Node, list[Candidate]] = defaultdict(list)
    for c in cands:
        if c.kind == LinkKind.ENTITY:
            by_node[c.node].append(c)
    out = []
    for group in by_node.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda c: (c.start, -c.end))
        run = [group[0]]
        for nxt in group[1:] + [None]:
            if nxt is not None and nxt.start <= max(x.end for x in run):
                run.append(nxt)
                continue
            if len({(x.start, x.end) for x in run}) > 1:
                best = max(run, key=lambda x: x.score)
                score = min(1.0, best.score) + 0.02
                out.append(Candidate(best.node, best.label, score, best.method, best.kind,
                                     min(x.start for x in run), max(x.end for x in run), best.via))
            run = [nxt] if nxt is not None else []
    return out


# plurals no ending rule makes singular: "Which people ...?" linked nothing where the class is "person"
_IRREGULAR_PLURALS = {"people": "person", "men": "man", "women": "woman", "children": "child"}


def _singular(gram: str) -> str:
    words = gram.split()
    last = words[-1]
    if last in _IRREGULAR_PLURALS:
        last = _IRREGULAR_PLURALS[last]
    elif len(last) > 4 and last.endswith("ies"):  # cities -> city, companies -> company
        last = last[:-3] + "y"
    elif len(last) > 4 and last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Each node once, where it is linked best; of two places linked as well, the name standing
    alone before the one inside a longer name ("Guyana", not the "Guyana" of "the Guyana Dollar",
    in "Is the Guyana Dollar the currency of Guyana?")."""
    def inside(c: Candidate) -> bool:
        return any(o.start <= c.start and c.end <= o.end and o.end - o.start > c.end - c.start
                   and o.score >= c.score for o in cands)

    seen: set[Node] = set()
    out = []
    for c in sorted(cands, key=lambda c: (-c.score, inside(c))):
        if c.node in seen:
            continue
        seen.add(c.node)
        out.append(c)
    return out


def _inverse_pairs(graph: KnowledgeGraph, share: float = 0.5) -> frozenset[tuple[URIRef, URIRef]]:
    """Relation pairs (p, q) where `s p o` mostly comes with `o q s` (children / parents, a
    symmetric `borders` with itself): a path along p then q goes out and straight back."""
    try:
        pairs = graph.select(
            f"SELECT ?p ?q (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o . ?o ?q ?s . FILTER(isIRI(?o) && "
            f"?p != {iri(RDF.type)} && ?q != {iri(RDF.type)}) }} GROUP BY ?p ?q LIMIT 20000", timeout_s=30)
        sizes = {p: n for p, n in graph.select("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(isIRI(?o)) } "
                                               "GROUP BY ?p LIMIT 20000", timeout_s=30)}
    except Exception as exc:  # noqa: BLE001 - a large remote graph may refuse the join: no pairs then
        log.info("no inverse relations found (%s)", exc)
        return frozenset()
    out: set[tuple[URIRef, URIRef]] = set()
    for p, q, n in pairs:
        size = sizes.get(p)
        # relations are IRIs, counts literals
        if (isinstance(p, URIRef) and isinstance(q, URIRef) and isinstance(n, Literal) and isinstance(size, Literal)
                and int(n) >= share * int(size) and int(n) >= 2):
            out.add((p, q))
    return frozenset(out)


# rows asked of an endpoint at once: a server that returns fewer than asked (Virtuoso's
# ResultSetMaxRows, 10,000 on public endpoints) is asked for the next rows until it has none left
LABEL_PAGE = 100_000


def _paged(graph: KnowledgeGraph, query: str, max_rows: int, order: str) -> Iterator[Row]:
    """The rows of `query` (no LIMIT of its own), up to `max_rows`. An endpoint is asked a page at a
    time, in the order `order` names (pages of an unordered result may repeat or skip rows): one
    capping each answer had given a label index of its first rows alone, and every name past them
    was "no answer" at 1.00. The embedded store, which caps nothing, in one query."""
    from kb.store import EmbeddedGraph

    if isinstance(graph, EmbeddedGraph):
        yield from graph.select(f"{query} LIMIT {max_rows}")
        return
    got = 0
    while got < max_rows:
        rows = graph.select(f"{query} ORDER BY {order} OFFSET {got} LIMIT {min(LABEL_PAGE, max_rows - got)}")
        if not rows:
            return
        got += len(rows)
        yield from rows
    log.warning("the graph's label index holds its first %s labels of one kind alone; names past them are not "
                "linked", f"{max_rows:,}")


def relation_names(graph: KnowledgeGraph, preds: list[URIRef],
                   label_predicates: set[URIRef]) -> dict[URIRef, list[str]]:
    """What a relation may be called: its labels and aliases in the graph, its readable local name
    and, for hierarchical ids (`film.cinematographer.film`, `__people__person__gender`), the last
    part alone, which is what people say ("gender")."""
    given: dict[URIRef, list[tuple[int, int, str]]] = defaultdict(list)
    if label_predicates:
        lp = ", ".join(iri(x) for x in sorted(label_predicates, key=str))
        rows = graph.select(f"SELECT ?p ?lp ?l WHERE {{ ?p ?lp ?l . FILTER(?lp IN ({lp}) && isLiteral(?l)) "
                            f"FILTER EXISTS {{ ?s ?p ?o }} }} LIMIT 100000")
        for p, lp_, lab in rows:
            if isinstance(p, URIRef) and isinstance(lp_, URIRef) and lab is not None:
                # an English (or untagged) label before others, then a main label before an alias:
                # "Gehalt"@de sorted before "salary"@en and was the name "What is the salary of ...?"
                # was scored against
                given[p].append((language_rank(lab), label_rank(lp_), str(lab)))
    out: dict[URIRef, list[str]] = {}
    for p in preds:
        # the main label first (rdfs:label, skos:prefLabel): it is what a relation is shown and
        # scored as; the store returns labels and aliases in no particular order
        names = [n.lower() for *_, n in sorted(given.get(p, []))]
        local = local_name(p)
        names.append(readable(local).lower())
        parts = [x for x in re.split(r"[.#/]|__", local) if x]
        if len(parts) > 1:
            names.append(readable(parts[-1]).lower())
        words = readable(local).lower().split()
        if len(words) > 1 and words[0] in {"has", "is", "in"}:  # hasSupplier -> supplier
            names.append(" ".join(words[1:]))
        out[p] = list(dict.fromkeys(n for n in names if n))
    return out


def label_rank(predicate: Node) -> int:
    """Main labels before aliases: rdfs:label / prefLabel / name / title, then the rest (altLabel)."""
    name = local_name(predicate).lower() if isinstance(predicate, URIRef) else ""
    return 0 if predicate == RDFS.label else 1 if name in {"preflabel", "name", "title", "label"} else 2


def _demonyms() -> dict[str, str]:
    """Demonym -> normalised country name ("polish" -> "poland"), from `countryinfo`; a demonym
    several countries share goes to the most populous ("french": France, not Martinique)."""
    try:
        import countryinfo
    except ImportError:  # pragma: no cover - a dependency, but linking works without it
        return {}
    best: dict[str, tuple[int, str]] = {}
    for c in countryinfo.all_countries():
        info = c.info()
        dem, name = info.get("demonym"), info.get("name")
        if dem and name:
            pop = int(info.get("population") or 0)
            key = normalise(dem)
            if key not in best or pop > best[key][0]:
                best[key] = (pop, normalise(name))
    return {d: name for d, (_, name) in best.items()}
