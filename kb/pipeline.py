"""KBQA: link anchors -> enumerate relation paths -> score -> constraints -> SPARQL -> ranked answers."""

from __future__ import annotations

import contextvars
import datetime
import itertools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from typing import Literal as Tag

from rdflib import RDF, RDFS, XSD, BNode, Literal, URIRef
from rdflib.term import Node

from kb.encoder import cached
from kb.linking import HUB_NUDGE, Candidate, LabelIndex, label_rank, language_rank
from kb.loaders import local_name, readable
from kb.paths import Path, Step, enumerate_paths, path_query, reversed_path
from kb.scorer import Featurizer, Scorer
from kb.sparql import TIES_LIMIT, TYPE_PATH, QueryForm, QueryGraph, Triple, Var, iri, substituted
from kb.store import EndpointUnavailable, KnowledgeGraph, QueryError, QueryTimeout, Row, open_graph, recording_timeouts
from kb.text import NEGATIONS, STOPWORDS, TIME_COMPARING, YES_NO_STARTS, cased_tokens, frame_word, normalise
from qa.core.errors import InputError
from qa.core.lru import BoundedCache
from qa.core.settings import Settings, unsecret
from qa.core.text import check_question
from qa.core.types import Answer, Encoder, GraphEvidence, LinkedEntity, LinkKind, LinkMethod, PathStep, Question, Route

if TYPE_CHECKING:
    from kb.progress import Progress
    from kb.sparql import _TypePath

# superlative phrase -> (order, words that describe the attribute)
SUPERLATIVES = [
    (r"most populous|largest population|most people|most inhabitants", "DESC", "population"),
    (r"least populous|smallest population|fewest people", "ASC", "population"),
    (r"most expensive|priciest|highest price", "DESC", "price amount cost"),
    (r"cheapest|least expensive|lowest price", "ASC", "price amount cost"),
    (r"longest", "DESC", "length pages duration height"),
    (r"shortest", "ASC", "length pages duration height"),
    (r"heaviest", "DESC", "weight"),
    (r"lightest", "ASC", "weight"),
    (r"most reliable|best reliability", "DESC", "reliability index"),
    (r"largest|biggest", "DESC", "area size"),
    (r"smallest|tiniest", "ASC", "area size"),
    (r"best|greatest", "DESC", "value score"),
    # "at most 3", "at the most", "at least one": no superlative
    (r"highest|tallest|(?<!at )(?<!at the )(?<!at the very )most(?! recent)", "DESC", "value amount"),
    (r"lowest|(?<!at )(?<!at the )(?<!at the very )least(?! recent)|fewest", "ASC", "value amount"),
]
# orderings by time: a date is no number to the attribute search, and "oldest" is the first birth
# date but the highest age; recognised, so an answer never drops them in silence (`_unexpressed`)
TIME_SUPERLATIVE = r"oldest|eldest|youngest|newest|latest|earliest|most recent(?:ly)?|least recent(?:ly)?"
# ... except where the answers have an age: "the oldest employee" is the highest age where ages are
# stored (a birth date is still said as an ordering the query cannot express); no hint: by the
# attribute named "age" alone (`Named.WORD`)
_AGE_SUPERLATIVES = [(r"oldest|eldest", "DESC", None), (r"youngest", "ASC", None)]
# "first" and "last" order by time where they end what is said of the answer ("Which employee was
# hired first?" was every employee at 0.95; "joined last", "the first to ..."), not before a noun
# ("first name", "The Last Waltz", "last year") nor inside a name the question links
_ORDINAL_TIME = frozenset({"first", "last"})
_AFTER_ORDINAL = frozenset("to in among and or at on".split())


log = logging.getLogger(__name__)


# "founded after 1900", "inhabited before 1000": a year compared with "after" / "before" / "since" is
# held only by an attribute of the answer that the question's word names (they share a stem:
# "founded" / "foundation", "opened" / "opening") and whose values are years (whole numbers up to
# 2200); the nearest number otherwise ("population" for "inhabited", "year of birth" for "died",
# "death toll" for "happened") answers another question, so the comparison is said instead
STEM_CHARS = 4
# the links whose paths a slow or failed query cut short, while a question is answered (`answer`)
_CUT_SHORT: contextvars.ContextVar[list[Candidate] | None] = contextvars.ContextVar("kb_cut_short", default=None)
# the time all the queries of one question have together, in per-query timeouts (QA_KB_TIMEOUT_S):
# one slow query is waited for, an endpoint answering none is not waited for fourteen times over
QUESTION_BUDGET = 2.0
# the constraint a yes/no question's named answer adds ("answer is Berlin")
ANSWER_IS = "answer is "
# the constraint a yes/no question about what a thing is adds ("is a country")
IS_A = "is a "
# the words between a thing and the class a yes/no question says it is ("Is Berlin a city?", "Is
# Greenland really a country?")
_ARTICLES = {(), ("a",), ("an",), ("the",), ("one", "of", "the")}
_HEDGES = frozenset({"really", "actually", "still", "also", "officially", "truly"})
_CONJUNCTIONS = frozenset({"and", "or", "nor", "as", "well"})
# words that make a yes/no question's statement another one than its path checks ("Is Bonn the
# former capital of Germany?", "Is French the only language spoken in Canada?", "the capital of
# West Germany"), as a superlative does ("Is Canberra the largest city in Australia?")
# (a graph holds today's facts, so "current" adds nothing; "first language" is a language spoken)
_QUALIFIERS = frozenset("""only sole former formerly previous previously ex old last second third earliest
    latest original""".split())
# words of a place's name as often as qualifiers ("East Timor", "New Delhi"): one only where the
# name after it was found whole ("West Germany": Germany), not where it was barely found at all
_NAME_QUALIFIERS = frozenset("new west east north south western eastern northern southern central upper lower".split())
# the words an open question starts with, for the verb of a relation (`_against_verb`)
_ASKING_WORDS = frozenset("who whom which what".split())
# a relation's first word that is no verb: "has manager", "is part of", "the capital"
_NOT_VERBS = frozenset("has have had is are was were be the a an of in on at for with by".split())
# a relation named by a noun of the doer, which reads from the thing to its doer ("Microsoft founder
# Gates"): no verb whose direction the question sets
_DOER_ENDINGS = ("er", "or", "ist", "ee", "ant", "ent", "ion", "ment")
# "Who is managed by X?", "Who was X managed by?": another voice than the verb's own
_AUXILIARIES = frozenset("is are was were be been being has have had do does did".split())


def _timed(words: list[str], links: list[Candidate]) -> str | None:
    """The word that orders the answers by time, if any (`TIME_SUPERLATIVE`, `_ORDINAL_TIME`), outside
    the names the question links."""
    named = {i for c in links if c.score >= 0.8 for i in range(c.start, c.end)}
    m = re.search(rf"\b(?:{TIME_SUPERLATIVE})\b", " ".join(words))
    if m is not None:
        return m.group(0)
    for i, w in enumerate(words):
        if w in _ORDINAL_TIME and i not in named and (i + 1 == len(words) or words[i + 1] in _AFTER_ORDINAL):
            return w
    return None


def _alike(said: list[str], label: list[str]) -> bool:
    """The question's words are the relation's label, in another form of the verb ("manage",
    "managed", "manages"; "report to" / "reports to")."""
    def stem(w: str) -> str:
        for end in ("ing", "ed", "es", "er", "s"):
            if w.endswith(end) and len(w) - len(end) >= 3:
                return w[: -len(end)].rstrip("e")
        return w.rstrip("e")
    return len(said) == len(label) and all(stem(a) == stem(b) for a, b in zip(said, label, strict=True))


# a link this sure is a thing the question names, which a yes/no answer must have checked
UNHELD_LINK = 0.9
# entities whose relation paths are kept between questions, and their paths in all (under 1 kB each)
MAX_CACHED_ANCHORS = 20_000
MAX_CACHED_PATHS = 100_000


class Named(Enum):
    """How closely the attribute a comparison holds must be the one its word names."""

    NEAREST = "nearest"  # the most alike numeric attribute ("residents": population; shown beside it)
    STEM = "stem"  # one of the answer's own whose label shares the word's stem ("priced": price), the
    # word's alone first, then one that holds years ("drafted between 1990 and 2000": the draft year,
    # not the draft pick)
    YEARS = "years"  # such an attribute that holds years ("founded after 1900": the founding year)
    WORD = "word"  # one of the answer's own whose label is the word itself ("oldest": the age)

# years as graphs store them: whole numbers up to MAX_YEAR, some of them YEAR_FROM or more (a count
# of 3 or 800 is no year)
YEAR_FROM, MAX_YEAR = 1000, 2200
_IRREGULAR_PARTICIPLES = frozenset({"born", "built", "begun", "made", "written", "held", "won", "sold", "shot",
                                    "drawn", "sung", "run", "set", "laid", "given", "taken", "done", "seen"})


# a numeric attribute `_attribute` may order by: (the node holding it, its relations (p,) or (p, q), or
# ("inverse", p, q) from the things pointing to it, or ("derived", numerators, denominators), its label,
# a penalty on its similarity)
_Option: TypeAlias = tuple[Var, tuple[Any, ...], str, float]
# what `_attribute` joins: (its triples, the variable holding the value, its binds, its label)
_Attribute: TypeAlias = tuple[list[Triple], Var, list[tuple[Var, list[Var], list[Var]]], str]
# what a question asks for, to check a path's end against (`KBQA._asked_targets`)
_Target: TypeAlias = tuple[Tag["class"], URIRef] | tuple[Tag["noun"], str]
# a way to tie a linked thing to a query: (its kind, the triples added, (variable, node) to equate)
_Trial: TypeAlias = tuple[str, list[Triple], tuple[Var, Node] | None]


@dataclass
class KBQAConfig:
    max_hops: int = 3
    forward_only: bool = False
    top_anchors: int = 3
    use_encoder: bool = True
    answer_limit: int = 100
    type_rerank: int = 15
    # bounds on path enumeration: 2-hop prefixes sampled before a third hop, paths kept per anchor
    frontier: int = 2000
    max_paths: int = 3000


@dataclass
class Ranked:
    anchor: Candidate
    path: Path
    features: dict[str, float]
    score: float = 0.0
    prob: float = 0.0


@dataclass
class Shapes:
    """Phrases that shape the query rather than name its path: columns to show beside the answer
    ("- list id and name -", "List their dimensions."), a relation the answer lacks ("have no active
    product manager") and a comparison of two of its attributes ("wider than they are tall").
    `removed` holds their word positions, which path scoring and linking leave out."""

    removed: set[int] = field(default_factory=set)
    columns: list[str] = field(default_factory=list)
    lacks: tuple[str, bool] | None = None  # (relation words, only described things count)
    lacks_span: tuple[int, int] = (0, 0)
    compare: tuple[str, str, str] | None = None  # (attribute, op, attribute)


@dataclass
class Prediction:
    question: str
    answers: list[tuple[Node, str]] = field(default_factory=list)
    form: QueryForm = QueryForm.SELECT
    boolean: bool | None = None
    confidence: float = 0.0
    p_top: float = 0.0
    best: Ranked | None = None
    sparql: str = ""
    ranked: list[Ranked] = field(default_factory=list)
    links: list[Candidate] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    negated: tuple[int, Candidate] | None = None
    # a thing a yes/no question names that its query could not hold ("Is Paris the capital of a
    # country in Oceania?": no relation joins France to Oceania, so the ASK is Paris's country alone)
    unheld: Candidate | None = None
    timings: dict[str, float] = field(default_factory=dict)
    decision: dict[str, float] = field(default_factory=dict)
    shapes: Shapes | None = None
    # what the question says that the query does not ("not", a number a yes/no answer must meet),
    # with the most the answer can then be trusted: such an answer is only ever a guess
    unexpressed: tuple[str, float] | None = None
    # the answer query of a reading tried before the one answering (or of every one) timed out
    timed_out: str | None = None
    # a superlative the query could not order by (no number, or a date, to order the answers)
    unordered: str | None = None
    # a list of answers as long as the query's LIMIT: the graph may hold more
    limited: bool = False

    @property
    def class_asked(self) -> bool:
        """Whether a yes/no question asks what its thing is ("Is Berlin a city?"), not a path."""
        return self.form == QueryForm.ASK and any(c.startswith(IS_A) for c in self.constraints)


class KBQA:
    name = Route.KBQA

    def __init__(self, settings: Settings | None = None, *, graph: KnowledgeGraph | None = None,
                 scorer: Scorer | None = None, config: KBQAConfig | None = None,
                 encoder: Encoder | None = None, artefacts: FsPath | None = None) -> None:
        """Light: the graph (when not given), its label index and its scorer load in `warm_up()`.

        `artefacts` is the graph's folder of built things (label index, trained scorer); a graph
        opened from the settings finds its own, keyed by the graph's content hash."""
        self.settings = settings or Settings.load()
        self.config = config or KBQAConfig()
        self._graph = graph
        self.encoder = None
        if self.config.use_encoder:
            if encoder is None:
                raise InputError("KBQA needs a sentence encoder (or KBQAConfig(use_encoder=False))")
            self.encoder = cached(encoder)
        self._scorer = scorer
        self.scorer_source = "given" if scorer is not None else ""
        self._index: LabelIndex | None = None
        self.artefacts = artefacts
        self.featurizer = Featurizer(self.encoder, self.relation_label, self.relation_names)
        # relation paths around each entity questions name: bounded, as the entities asked about are
        # as many as the graph holds, by entities and by paths (one entity has dozens, another thousands)
        self._paths: BoundedCache[tuple, list[Path]] = BoundedCache(MAX_CACHED_ANCHORS, weight=len,
                                                                    max_weight=MAX_CACHED_PATHS)
        self._rel_labels: dict[URIRef, str] = {}
        self._vocab: list[str] | None = None
        self._name_table: dict | None = None
        self._type_path: bool | None = None  # whether the store answers rdf:type/rdfs:subClassOf*
        self._implied: dict[tuple, bool] = {}
        self._lock = threading.RLock()

    def warm_up(self, progress: Progress | None = None) -> None:
        """Open the graph, load (or build and cache) its label index and find its trained scorer.

        A large graph's first use takes a while: each stage is reported to `progress` ((stage, done,
        total), as `qa kb train` shows it), else drawn on a terminal once it has taken a second."""
        with self._lock:
            if self._index is not None:
                return
            from kb import artefacts
            from kb.progress import Stages

            with Stages(enabled=False if progress is not None else None) as stages:
                if progress is None:
                    progress = stages
                if self._graph is None:
                    source = (unsecret("kb_endpoint", self.settings.kb_endpoint) or FsPath(self.settings.kb_graph).name
                              or "the world graph")
                    progress(f"loading {source}", 0, 0)
                    self._graph = open_graph(self.settings)
                    if self.artefacts is None:
                        progress("hashing the graph file (the key of its label index and scorer)", 0, 0)
                        self.artefacts = artefacts.artefact_dir(self.settings)
                cache = self.artefacts / artefacts.LABELS if self.artefacts is not None else None
                max_age = self.settings.kb_index_max_age_h * 3600 if self.settings.kb_endpoint else None
                index = LabelIndex.cached(self._graph, cache, encoder=self.encoder, progress=progress,
                                          max_age_s=max_age)
            if self._scorer is None:
                self._scorer, self.scorer_source = artefacts.find_scorer(self.settings, self.artefacts)
            self._index = index

    @property
    def graph(self) -> KnowledgeGraph:
        if self._graph is None:
            self.warm_up()
        assert self._graph is not None  # `warm_up` opens it
        return self._graph

    @property
    def index(self) -> LabelIndex:
        if self._index is None:
            self.warm_up()
        assert self._index is not None  # `warm_up` loads it
        return self._index

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self.warm_up()
        assert self._scorer is not None  # `warm_up` finds one
        return self._scorer

    @scorer.setter
    def scorer(self, value: Scorer) -> None:
        self._scorer = value

    # ------------------------------------------------------------------ helpers
    def _vocabulary(self) -> list[str]:
        """Words of relation and class names, the words a misspelled relation word is corrected to."""
        if self._vocab is None:
            words = {w for names in self.index.relation_names.values() for n in names for w in normalise(n).split()}
            words |= {w for c in self.index.classes for w in normalise(self.index.label(c)).split()}
            self._vocab = sorted(w for w in words if len(w) >= 4 and w not in STOPWORDS)
        return self._vocab

    def correct_spelling(self, text: str, links: list[Candidate]) -> str:
        """"What is the capitl of Frnace?": question words that are not names of anything, within a
        typing error or two of a relation or class word, are read as that word."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        from kb.linking import max_edits

        vocab = self._vocabulary()
        words = normalise(text).split()
        taken = {i for c in links if c.score >= 0.9 for i in range(c.start, c.end)}
        known = set(vocab)
        changed = False
        for i, w in enumerate(words):
            budget = max_edits(len(w))
            if (i in taken or not budget or w in known or w in STOPWORDS or w in self.index.token_index
                    or frame_word(words, i)):
                continue
            hit = process.extractOne(w, vocab, scorer=OSA.distance, score_cutoff=budget)
            if hit is not None:
                words[i] = hit[0]
                changed = True
        return " ".join(words) if changed else text

    def display_label(self, pred: URIRef) -> str:
        """A relation's main label (rdfs:label) for explanations, an English or untagged one first;
        aliases are for matching."""
        rows = self._select(f"SELECT ?l WHERE {{ {iri(pred)} {iri(RDFS.label)} ?l }} "
                            'ORDER BY (IF(lang(?l) = "" || langMatches(lang(?l), "en"), 0, 1)) LIMIT 1',
                            timeout_s=self.settings.kb_timeout_s)
        named = self.relation_label(pred)  # English first of every label, alias and the IRI's own name
        if not rows or (language_rank(rows[0][0]) and normalise(str(rows[0][0])) != normalise(named)):
            return named  # "Gehalt"@de as rdfs:label beside "salary"@en as skos:prefLabel: "salary"
        return str(rows[0][0])

    def relation_names(self, pred: URIRef) -> list[str]:
        """Everything a relation is called: its main label first, then aliases and local names."""
        return self.index.relation_names.get(pred) or [self.relation_label(pred)]

    def relation_label(self, pred: URIRef) -> str:
        if pred not in self._rel_labels:
            names = self.index.relation_names.get(pred)
            lab = names[0] if names else self.index.labels.get(pred) or readable(local_name(pred))
            self._rel_labels[pred] = lab.lower()
        return self._rel_labels[pred]

    def _paths_for(self, c: Candidate) -> list[Path]:
        """The paths out of `c`; one whose walk lost a query (timed out, failed) is noted for the
        question being answered (see `answer`)."""
        key = (c.node, c.kind, c.via)
        if (known := self._paths.get(key)) is not None:
            return known
        failed: list[str] = []
        paths = enumerate_paths(
            self.graph, c.node, kind=c.kind, via=c.via, max_hops=self.config.max_hops,
            forward_only=self.config.forward_only,
            exclude=self.index.label_predicates | self.index.schema_predicates,
            timeout_s=self.settings.kb_timeout_s, frontier=self.config.frontier,
            limit=self.config.max_paths, failed=failed)
        if not failed:  # a list cut short by a slow or failed query is this question's, not every later one's
            self._paths.put(key, paths)
        elif (cut := _CUT_SHORT.get()) is not None:
            cut.append(c)
        return paths

    def candidates(self, question: str, links: list[Candidate] | None = None,
                   exclude: frozenset[URIRef] = frozenset()) -> list[Ranked]:
        """Every (anchor, path) the question could mean, with its features; `exclude` drops paths
        over some relations (training simulates a graph that lacks them)."""
        words = normalise(question).split()
        links = self.index.link(question) if links is None else links
        out: list[Ranked] = []
        anchors = [c for c in links if c.score >= 0.5 and not _inside_a_name(c, links)][: self.config.top_anchors]
        inverse = self.index.inverse_pairs
        for c in anchors:
            # "which department is Ms. Brant in": every department is not the answer when a named
            # thing elsewhere in the question ("Involuntary Service" under "service" does not count)
            named = any(a.kind != LinkKind.CLASS and (a.start >= c.end or a.end <= c.start) for a in anchors)
            for path in self._paths_for(c):
                if named and c.kind == LinkKind.CLASS and len(path) == 1:
                    continue
                if exclude and any(s.pred in exclude for s in path):
                    continue
                f = self.featurizer.features(words, (c.start, c.end), path, c.score)
                back = sum((a.pred, b.pred) in inverse and a.forward == b.forward for a, b in itertools.pairwise(path))
                if back:  # out along a relation and straight back along its inverse
                    f["back"] = float(back)
                out.append(Ranked(c, path, f))
        return out

    def _rank(self, cands: list[Ranked], links: list[Candidate], words: list[str] | None = None) -> list[Ranked]:
        probs = self.scorer.probabilities([r.features for r in cands])
        for r, p in zip(cands, probs, strict=True):
            r.prob = float(p)
            r.score = self.scorer.score(r.features)
        cands.sort(key=_order)
        classes = [c for c in links if c.kind == LinkKind.CLASS]
        words = words or []
        asked = _asked_classes(links, words)
        typed: set[int] = set()
        if classes and self.config.type_rerank:
            for r in cands[: self.config.type_rerank]:
                if r.anchor.node in asked and len(r.path) == 1 and r.path[0].pred == RDF.type:
                    typed.add(id(r))  # the members of the asked class themselves
                    continue
                for c in classes:
                    if c.start >= r.anchor.end or c.end <= r.anchor.start:
                        qg = path_query(r.anchor.node, r.path)
                        qg.triples.append((Var("answer"), RDF.type, c.node))
                        qg.form = QueryForm.ASK
                        if self._ask(qg.to_sparql(), timeout_s=self.settings.kb_timeout_s):
                            r.features["type_match"] = 1.0
                            if c.node in asked:
                                typed.add(id(r))
                            break
            probs = self.scorer.probabilities([r.features for r in cands])
            for r, p in zip(cands, probs, strict=True):
                r.prob = float(p)
                r.score = self.scorer.score(r.features)
            cands.sort(key=lambda r: (id(r) not in typed, *_order(r)) if typed else _order(r))
        return cands

    # ------------------------------------------------------------------ main entry points
    def predict(self, question: str, *, exclude: frozenset[URIRef] = frozenset()) -> Prediction:
        text = check_question(question, self.settings.max_question_chars)
        self.warm_up()
        t0 = time.perf_counter()
        pred = Prediction(question=text)
        pred.links = self.index.link(text)
        t1 = time.perf_counter()
        scoring_text = text
        links = pred.links
        words = normalise(text).split()
        pred.shapes = shapes = _shapes(text, words)
        if shapes.lacks is not None:  # the longest run of words after "no" that names a relation
            phrase = shapes.lacks[0].split()
            start, end = shapes.lacks_span
            while phrase and not self._named_relations(" ".join(phrase)):
                phrase, end = phrase[:-1], end - 1
            shapes.lacks = (" ".join(phrase), shapes.lacks[1]) if phrase else None
            shapes.removed |= set(range(start, end)) if phrase else set()
        # "departments with no manager": a class, when no relation of the answer is named so
        pred.negated = self._negated_class(words, pred.links)
        if pred.negated is not None:  # "departments with no manager": the manager is not on the path
            neg, c = pred.negated
            shapes.removed |= set(range(neg, c.end))
            links = [x for x in pred.links if x.node != c.node]
        if shapes.removed:
            scoring_text = " ".join(w for i, w in enumerate(words) if i not in shapes.removed)
            links = [x for x in links if not shapes.removed & set(range(x.start, x.end))]
            pred.links = links
        scoring_text = _strip_ordering(scoring_text, {w for c in pred.links if c.score >= 0.7
                                                      for w in words[c.start:c.end]})
        # "the name of the Network expert": names are labels, which paths never walk; the path
        # finds the expert and the answer is projected onto its name afterwards
        scoring_text = _NAME_OF.sub(" ", scoring_text, count=1)
        scoring_text = self.correct_spelling(scoring_text, links)
        scoring_links = self.index.link(scoring_text) if scoring_text != text else links
        ranked = self._rank(self.candidates(scoring_text, scoring_links, exclude), links, words)
        ranked = self._extend_to_asked(ranked, links, words, normalise(scoring_text).split(), exclude)
        t2 = time.perf_counter()
        pred.timings = {"link_s": t1 - t0, "paths_s": t2 - t1}
        pred.ranked = ranked
        if not ranked:
            return pred
        ranked = self._break_ties(words, ranked, pred)
        ranked = self._turned(words, ranked)
        fallback = None
        joined = " ".join(words)
        superlative = any(re.search(rf"\b(?:{pattern})\b", joined) for pattern, _, _ in SUPERLATIVES)
        timed_word = _timed(words, pred.links)
        ran: QueryGraph | None = None
        for r in ranked[:5]:
            qg = self._query_graph(words, r, pred)
            ordered = superlative and qg.group_count is None
            if (ordered and (qg.order_by is None or not self._several(qg))) or (
                    qg.aggregate == "count" and not self._several(qg)):
                # a superlative over a path with one answer orders nothing ("the most populous city
                # in Australia" is not its capital) and a count of one thing is rarely what "how
                # many" asks: a path that reaches several answers is meant, the first one otherwise
                if fallback is None:
                    fallback = (r, qg, list(pred.constraints), pred.unheld)
                continue
            if self._run(pred, r, qg):
                ran = qg
                break
            pred.constraints = []
        if pred.best is None and fallback is not None:
            r, qg, pred.constraints, pred.unheld = fallback
            if self._run(pred, r, qg):
                ran = qg
        if (ran is not None and (superlative or timed_word) and ran.order_by is None and ran.group_count is None
                and ran.aggregate is None and ran.form == QueryForm.SELECT and len(pred.answers) > 1):
            # "the most expensive product" where no price is a number, "the oldest person" over
            # birth dates: every one of them, unordered
            pred.unordered = next((m.group(0) for pattern, _, _ in SUPERLATIVES
                                   if (m := re.search(rf"\b(?:{pattern})\b", joined))), None) or timed_word
        if pred.best is not None:
            pred.decision = self._decision(pred, scoring_text, scoring_links, exclude)
            pred.p_top = pred.decision["p_top"]
            pred.confidence = self.scorer.confidence(pred.p_top, pred.decision)
            pred.unexpressed = _unexpressed(words, pred) or self._beyond_query(words, pred, ran) or _shadowed(pred)
            if pred.unexpressed is not None:
                pred.confidence = min(pred.confidence, pred.unexpressed[1])
                pred.constraints.append(f"not expressed: {pred.unexpressed[0]}")
            namesakes = self._tied_namesakes(pred)
            if namesakes and pred.form != QueryForm.ASK:  # a yes/no question is asked of each namesake
                # nothing tells them apart (no more links to one, the same path): the answer is one
                # namesake's, right about one time in as many (two "Lakehamburg"s: 0.62 before)
                pred.confidence = min(pred.confidence, 1.0 / (1 + namesakes))
                pred.constraints.append(f"ambiguous: {1 + namesakes} things are named "
                                        f"'{pred.best.anchor.label}'; the answer is one's")
        pred.timings["total_s"] = time.perf_counter() - t0
        return pred

    def _tied_namesakes(self, pred: Prediction) -> int:
        """How many other things of the answer's anchor's name, linked as surely at the same words
        and ranked as high by the same path, answer otherwise (and answer at all): the question
        cannot say which one it means. Namesakes that answer alike ("Which country is Springfield
        in?") are no ambiguity, nor are they where another thing the question names narrows the
        query ("Boston in the United Kingdom")."""
        best = pred.best
        if best is None or any(c.startswith("entity: ") for c in pred.constraints):
            return 0
        name = normalise(best.anchor.label)
        others = {r.anchor.node for r in pred.ranked
                  if r.anchor.node != best.anchor.node and (r.anchor.start, r.anchor.end) == (best.anchor.start,
                                                                                            best.anchor.end)
                  and normalise(r.anchor.label) == name and r.anchor.score >= best.anchor.score - 1e-6
                  and r.path == best.path and r.prob >= best.prob - 1e-6}
        if not others:
            return 0
        given = {row[0] for row in pred.answers}

        def answers(node: Node) -> set[Node]:
            qg = path_query(node, best.path)
            qg.limit = 100
            try:
                return {row[0] for row in self._select(qg.to_sparql(), timeout_s=self.settings.kb_timeout_s) if row}
            except QueryError:
                return set()

        # a namesake the path leads nowhere from answers nothing: the question is not about it
        return sum(1 for node in list(others)[:20] if (theirs := answers(node)) and theirs != given)

    def _beyond_query(self, words: list[str], pred: Prediction, ran: QueryGraph | None) -> tuple[str, float] | None:
        """What a question asks beyond its query's paths and filters, outside yes/no questions: an
        exclusion ("every product except Gizmo Lite" answered with Gizmo Lite's price), an
        aggregate over the answers ("the average price" answered with one price of the list) and a
        second thing named beside the one the query starts from ("the price of Widget Pro and
        Gizmo Lite": Widget Pro's alone). Each was answered at 0.8 to 0.95. The first two leave
        an answer next to never right (0); the third right for part of the question (0.5)."""
        if pred.form != QueryForm.SELECT or ran is None or not pred.answers:
            return None
        said = {i for c in pred.links if c.score >= 0.8 for i in range(c.start, c.end)}
        path = {w for step in (pred.best.path if pred.best else ()) for w in
                normalise(self.relation_label(step.pred)).split()}
        text = " ".join(words)

        def at(m: re.Match[str]) -> int:
            return len(text[: m.start()].split())

        backwards = self._backwards(words, pred)
        if backwards is not None:
            return backwards
        for m in _EXCLUDING.finditer(text):
            if at(m) not in said:
                return f"the exclusion '{m.group(1)}'", 0.0
        if ran.aggregate is None and ran.order_aggregate is None and len(pred.answers) > 1:
            for m in _AGGREGATE.finditer(text):
                if at(m) not in said and m.group(1) not in path:
                    return f"the aggregate '{m.group(1)}' (the query lists the values; it does not compute it)", 0.0
        sure = [c for c in pred.links if c.score >= 0.9 and c.kind == LinkKind.ENTITY and isinstance(c.node, URIRef)]

        def held(c: Candidate) -> bool:
            return iri(cast(URIRef, c.node)) in pred.sparql

        for a in sure:
            for b in sure:
                between = words[a.end:b.start]
                if (b.start > a.end and between and between[-1] in _COORDINATED and len(between) <= 2
                        and held(a) != held(b)):
                    left = b if held(a) else a
                    return f"'{left.label}' (named beside '{(a if left is b else b).label}'; the query holds one)", 0.5
        return None

    def _backwards(self, words: list[str], pred: Prediction) -> tuple[str, float] | None:
        """"the manager of Alice" asks for Alice's manager: a path that walks `manager` backwards
        from Alice answers what Alice manages ("Berlin office" at 0.99 where the graph gives her no
        manager). Said as not expressed, the answer a guess at 0.5 at most: right where the
        relation is one both ways round and stored one way ("the spouse of Bob", stored as
        `alice spouse bob`), which the graph cannot tell; one stored both ways is not held."""
        best = pred.best
        if best is None:
            return None
        verb = self._against_verb(words, best.anchor, best.path)
        if verb is not None:
            return (f"the direction of '{verb}' (asked the other way round: who {verb} whom; the path reads it "
                    "as the question does not)", 0.5)
        if len(best.path) != 1 or best.path[0].forward:
            return None
        step = best.path[0]
        if (step.pred, step.pred) in self.index.inverse_pairs:
            return None
        label = normalise(self.relation_label(step.pred)).split()
        before = words[: best.anchor.start]
        if before[-1:] in (["the"], ["a"], ["an"]):
            before = before[:-1]
        if not label or before[-1:] != ["of"] or before[-1 - len(label):-1] != label:
            return None
        named = " ".join(label)
        return (f"the direction of '{named}' (asked: {best.anchor.label}'s {named}; the path reads it the other "
                "way round)", 0.5)

    def _turned(self, words: list[str], ranked: list[Ranked]) -> list[Ranked]:
        """The top reading walks a verb's relation against the question (`_against_verb`): the same
        relation walked the other way from the same thing goes first where it was found ("Who reports
        to Alice?": Carol, who reports to her, not Bob, to whom she reports)."""
        top = ranked[0]
        if self._against_verb(words, top.anchor, top.path) is None:
            return ranked
        other = (Step(top.path[0].pred, not top.path[0].forward),)
        turned = next((r for r in ranked[:8] if r.path == other and r.anchor.node == top.anchor.node), None)
        return ranked if turned is None else [turned] + [r for r in ranked if r is not turned]

    def _against_verb(self, words: list[str], anchor: Candidate, path: Path) -> str | None:
        """A one-step path that walks a relation named by a verb the other way round from how the
        question uses the verb; the verb, or None. "Who manages Kwame?" asks for the subject (the
        path must end at Kwame: `?answer manages Kwame`), "Who does Liam manage?" and "Who does Bob
        report to?" for the object (`Liam manages ?answer`); each was answered the other way round at
        0.9 (the people Kwame manages, Liam's own manager). A relation stored both ways is not held."""
        if len(path) != 1 or not words or words[0] not in _ASKING_WORDS:
            return None
        step = path[0]
        if (step.pred, step.pred) in self.index.inverse_pairs:
            return None
        label = normalise(self.relation_label(step.pred)).split()
        if not label or label[0] in _NOT_VERBS or label[0].endswith(_DOER_ENDINGS):
            return None  # a noun ("founder", "manager", "publisher"): its own direction, `_backwards`
        before, after = words[: anchor.start], words[anchor.end:]
        n = len(label)
        if step.forward and len(before) > n and _alike(before[-n:], label) and not set(before) & _AUXILIARIES:
            return " ".join(label)  # "Who manages X?", "Which employee reports to X?"
        if (not step.forward and before and before[-1] in {"do", "does", "did"} and after[:n]
                and _alike(after[:n], label)):
            return " ".join(label)  # "Who does X manage?", "Whom did X report to?"
        if before[-1:] in (["the"], ["a"], ["an"]):
            before = before[:-1]
        doer = before[-1 - n:-1]
        if (step.forward and n == 1 and before[-1:] == ["of"] and doer != label and _alike(doer, label)
                and doer[0].endswith("er")):
            return " ".join(label)  # "the manager of X" over a relation `manages`: who manages X
        return None

    def _break_ties(self, words: list[str], ranked: list[Ranked], pred: Prediction) -> list[Ranked]:
        """Several things share a name ("Sabrina": two employees) and score the same on the same
        path: the one the question's other named things fit ("Sabrina from Marketing") goes first."""
        top = ranked[0]
        tied = [r for r in ranked[:8] if abs(r.score - top.score) < 1e-9 and r.path == top.path
                and (r.anchor.start, r.anchor.end) == (top.anchor.start, top.anchor.end)]
        if len(tied) < 2:
            return ranked

        def fitted(r: Ranked) -> int:
            self._query_graph(words, r, pred)
            n = sum(c.startswith("entity") for c in pred.constraints)
            pred.constraints = []
            return n

        counts = {id(r): fitted(r) for r in tied}
        best = max(tied, key=lambda r: counts[id(r)])
        if counts[id(best)] > counts[id(top)]:
            return [best] + [r for r in ranked if r is not best]
        return ranked

    def _asked_targets(self, links: list[Candidate], words: list[str]) -> list[_Target]:
        """What the question asks for, to check a path's end against: ("class", C) when a linked
        class is asked ("which countries", "all BOMs"), and ("noun", stem) for the noun after
        which/what ("from which countries": a relation named like it ends the path)."""
        out: list[_Target] = [("class", c) for c in sorted(_asked_classes(links, words), key=str)[:1]
                              if isinstance(c, URIRef)]  # always: a class is an IRI (`LabelIndex.classes`)
        for i, w in enumerate(words[:-1]):
            if w in {"which", "what"}:
                noun = words[i + 1]
                if noun not in STOPWORDS and not noun.isdigit() and not any(
                        c.start <= i + 1 < c.end for c in links if c.kind != LinkKind.CLASS):
                    out.append(("noun", noun[:5]))
                break
        return out

    def _satisfies(self, r: Ranked, target: _Target) -> bool:
        if target[0] == "class":
            asked = target[1]
            if r.anchor.node == asked and len(r.path) == 1 and r.path[0].pred == RDF.type:
                return True
            qg = path_query(r.anchor.node, r.path)
            qg.triples.append((Var("answer"), RDF.type, asked))
            qg.form = QueryForm.ASK
            return self._ask(qg.to_sparql(), timeout_s=self.settings.kb_timeout_s)
        stem = target[1]
        names = self.relation_names(r.path[-1].pred)
        if any(stem in {w[:5] for w in normalise(n).split()} for n in names):
            return True
        qg = path_query(r.anchor.node, r.path)  # or the answers' type is named like it
        qg.triples.append((Var("answer"), RDF.type, Var("t")))
        qg.answer, qg.limit = Var("t"), 20
        rows = self._select(qg.to_sparql(), timeout_s=self.settings.kb_timeout_s)
        return any(stem in {w[:5] for w in normalise(self.index.label(t)).split()} for (t,) in rows)

    def _extend_to_asked(self, ranked: list[Ranked], links: list[Candidate], words: list[str],
                         scoring_words: list[str], exclude: frozenset[URIRef]) -> list[Ranked]:
        """When none of the best paths ends where the question asks ("all BOMs which have a part from a
        polish supplier": the path from Poland reaches products; "from which countries are the parts
        of X delivered": it reaches parts), the best one is extended by up to three steps that end
        there (at a member of the asked class, or over a relation named like the asked noun)."""
        if not ranked or len(ranked[0].path) >= self.config.max_hops + 2:
            return ranked
        targets = self._asked_targets(links, words)
        if not targets or any(self._satisfies(r, t) for r in ranked[:3] for t in targets):
            return ranked
        for target in targets:
            extended = self._extensions(ranked, target, scoring_words, exclude)
            if extended:
                return extended + ranked
        return ranked

    def _extensions(self, ranked: list[Ranked], target: _Target, scoring_words: list[str],
                    exclude: frozenset[URIRef]) -> list[Ranked]:
        best = ranked[0]
        named: list[URIRef] = []
        if target[0] == "noun":
            named = [p for p, names in self._relation_name_table()["names"].items()
                     if any(target[1] in stems for _, stems in names)]
            if not named:
                return []
        skip = self.index.label_predicates | self.index.schema_predicates | {RDF.type} | set(exclude)
        not_in = ", ".join(iri(p) for p in sorted(skip, key=str))
        body = _body(path_query(best.anchor.node, best.path))
        found: list[Path] = []
        for k in range(1, min(3, self.config.max_hops + 2 - len(best.path)) + 1):
            for dirs in itertools.product((True, False), repeat=k):
                lines, prev = [], "?answer"
                for i, fwd in enumerate(dirs, 1):
                    lines.append(f"{prev} ?q{i} ?y{i} ." if fwd else f"?y{i} ?q{i} {prev} .")
                    lines.append(f"FILTER (?q{i} NOT IN ({not_in}) && !isLiteral({prev}))")
                    prev = f"?y{i}"
                if target[0] == "class":
                    lines.append(f"{prev} {iri(RDF.type)} {iri(target[1])} .")
                else:
                    lines.append(f"FILTER (?q{k} IN ({', '.join(iri(p) for p in named)}))")
                head = " ".join(f"?q{i}" for i in range(1, k + 1))
                rows = self._select(f"SELECT DISTINCT {head} WHERE {{\n{body}\n" + "\n".join(lines)
                                    + "\n} LIMIT 20", timeout_s=self.settings.kb_timeout_s)
                for row in rows:
                    steps = best.path + tuple(Step(q, d) for q, d in zip(row, dirs, strict=True))
                    if not any(a.pred == b.pred and a.forward != b.forward for a, b in itertools.pairwise(steps)):
                        found.append(steps)
            if found:
                break
        if not found:
            return []
        extended = [Ranked(best.anchor, path, self.featurizer.features(
            scoring_words, (best.anchor.start, best.anchor.end), path, best.anchor.score)) for path in found]
        for r in extended:
            r.features["type_match"] = 1.0
        everything = ranked + extended
        probs = self.scorer.probabilities([r.features for r in everything])
        for r, p in zip(everything, probs, strict=True):
            r.prob = float(p)
            r.score = self.scorer.score(r.features)
        extended.sort(key=_order)
        return extended

    def _select(self, query: str, timeout_s: float | None = None) -> list:
        """A probing query (candidate relations, attributes, constraints): one that fails or times out
        on a large graph only loses its own options, never the question."""
        try:
            return self.graph.select(query, timeout_s=timeout_s)
        except EndpointUnavailable:
            raise  # no query can succeed: the question fails, it is not "no answer"
        except QueryError as exc:
            log.info("probing query skipped: %s", exc)
            return []

    def _ask(self, query: str, timeout_s: float | None = None, *, on_error: bool = False) -> bool:
        """A probing ASK; `on_error` where it fails or times out (the answer that risks least)."""
        try:
            return self.graph.ask(query, timeout_s=timeout_s)
        except EndpointUnavailable:
            raise
        except QueryError as exc:
            log.info("probing query skipped: %s", exc)
            return on_error

    def _ask_targets(self, words: list[str], r: Ranked, links: list[Candidate]) -> list[Candidate]:
        """The entity a yes/no question asks the path from `r`'s anchor to reach ("Does France
        border Spain?": Spain): the first other named thing outside the anchor's words, with every
        other thing linked as surely by the same words (three cities are called Kingston; the
        question is true if one of them is the capital), those of a kind the path reaches."""
        if not _yes_no(words):
            return []
        first = next((c for c in links if (c.start >= r.anchor.end or c.end <= r.anchor.start)
                      and c.kind != LinkKind.CLASS and c.score >= 0.7 and c.node != r.anchor.node), None)
        if first is None:
            return []
        lo, hi = (r.anchor.end, first.start) if first.start >= r.anchor.end else (first.end, r.anchor.start)
        if lo < hi and all(w in _CONJUNCTIONS for w in words[lo:hi]):
            return []  # "Are Germany and Japan countries?": two things asked of, not one of the other
        same = [first] + [c for c in links if c is not first and (c.start, c.end) == (first.start, first.end)
                          and c.kind == first.kind and c.score >= first.score - HUB_NUDGE - 1e-9
                          and c.node != r.anchor.node]
        # "Is Paris the capital of a country in Europe?": the class named before Europe, not
        # Europe, is what the path reaches; Europe, a continent, says where that country lies
        # (without such a class, "Is Berlin the capital of Europe?" asks Europe: no)
        if any(c.kind == LinkKind.CLASS and lo <= c.start and c.end <= hi for c in links) and not any(
                self._reaches_kind(r, c) for c in same):
            return []
        return same

    def _member_class(self, words: list[str], r: Ranked, links: list[Candidate]) -> Candidate | None:
        """The class a yes/no question says its anchor is, when that is all it says ("Is Berlin a
        country?", "Is Greenland really a country", "Is the Gambia a country?")."""
        if not _yes_no(words) or r.anchor.kind != LinkKind.ENTITY or not isinstance(r.anchor.node, URIRef) or not (
                r.anchor.start == 1 or (r.anchor.start == 2 and words[1] == "the")):
            return None  # a value ("Is Acme Corp a supplier?", a company's name) is no thing with a class
        return next((c for c in links if c.kind == LinkKind.CLASS and c.score >= 0.85 and c.end == len(words)
                     and tuple(w for w in words[r.anchor.end:c.start] if w not in _HEDGES) in _ARTICLES), None)

    def type_predicate(self) -> URIRef | _TypePath:
        """rdf:type with the subclasses of what a thing is (TYPE_PATH), where the store answers a
        property path; rdf:type alone on an endpoint that refuses one (asked once)."""
        if self._type_path is None:
            probe = QueryGraph(triples=[(Var("thing"), TYPE_PATH, Var("kind"))], form=QueryForm.ASK).to_sparql()
            self._type_path = self._ask(probe, self.settings.kb_timeout_s, on_error=False) or not self._ask(
                QueryGraph(triples=[(Var("thing"), RDF.type, Var("kind"))], form=QueryForm.ASK).to_sparql(),
                self.settings.kb_timeout_s, on_error=True)
        return TYPE_PATH if self._type_path else RDF.type

    def _namesakes(self, c: Candidate) -> list[Node]:
        """Every thing called what `c` is called (Monaco the country and Monaco the city), `c`'s
        own first: what a question about "Monaco" may mean, whichever the linker put first."""
        named = [node for node, _, kind, _ in self.index.keys.get(normalise(c.label), ()) if kind == LinkKind.ENTITY]
        return list(dict.fromkeys([c.node, *named]))

    def _reaches_kind(self, r: Ranked, c: Candidate) -> bool:
        """Whether the path from `r`'s anchor reaches things of a kind `c` is (a type they share),
        or `c` has no type to tell."""
        if not isinstance(c.node, URIRef):
            return True
        kind = Var("kind")
        timeout = self.settings.kb_timeout_s
        if not self._ask(QueryGraph(triples=[(c.node, RDF.type, kind)], form=QueryForm.ASK).to_sparql(), timeout):
            return True
        qg = path_query(r.anchor.node, r.path)
        qg.form = QueryForm.ASK
        qg.triples += [(qg.answer, RDF.type, kind), (c.node, RDF.type, kind)]
        return self._ask(qg.to_sparql(), timeout, on_error=True)

    def _same_ask(self, words: list[str], pred: Prediction, targets: list[Candidate]) -> list[Ranked]:
        """The candidates that ask a yes/no question's one statement from its other end ("Is
        Berlin the capital of Germany?": Germany's capital is Berlin, and Berlin is the capital of
        Germany): one query, so one answer whose probability is theirs together, not rivals that
        split it. Not where the question names several things alike ("Is Kingston the capital of
        Norfolk Island?" asks of three Kingstons; from Kingston, Jamaica's end it is another
        statement). `targets`: what the best candidate's question asks of (`_ask_targets`)."""
        best, ranked, links = pred.best, pred.ranked, pred.links
        assert best is not None  # only a prediction with an answer is weighed
        if pred.class_asked:  # every path from the name: one class asked
            things = set(self._namesakes(best.anchor))
            return [r for r in ranked if r is not best and r.anchor.node in things]
        if len(targets) != 1:
            return []
        back = reversed_path(best.path)
        return [r for r in ranked if r is not best and r.anchor.node == targets[0].node and r.path == back
                and [t.node for t in self._ask_targets(words, r, links)] == [best.anchor.node]]

    def _several(self, qg: QueryGraph) -> bool:
        """Whether the query graph, unordered, has at least two answers."""
        probe = QueryGraph(triples=list(qg.triples), answer=qg.answer, filters=list(qg.filters),
                           not_exists=list(qg.not_exists), values=list(qg.values), binds=list(qg.binds), limit=2)
        return len(self._select(probe.to_sparql(), timeout_s=self.settings.kb_timeout_s)) >= 2

    def _run(self, pred: Prediction, r: Ranked, qg: QueryGraph) -> bool:
        """Run one candidate's query; on answers, record them as the prediction's."""
        sparql = qg.to_sparql()
        try:
            if qg.form == QueryForm.ASK:
                pred.boolean = self.graph.ask(sparql, timeout_s=self.settings.kb_timeout_s)
                results: list[Row] = [(Literal(pred.boolean),)]
            else:
                results = self.graph.select(sparql, timeout_s=self.settings.kb_timeout_s)
        except EndpointUnavailable:
            raise
        except QueryError as exc:
            if isinstance(exc, QueryTimeout) and pred.timed_out is None:
                pred.timed_out = str(exc)
            results = []
        rows = cast(list[tuple[Node, ...]], [row for row in results if row and row[0] is not None])
        if not rows:
            return False
        plain = qg.form == QueryForm.SELECT and qg.aggregate is None and qg.group_count is None and qg.order_by is None
        if plain and len(rows) > 1:
            # a graph that stores a relation and its inverse lets a path go out and come back:
            # the question's own entity is not its answer while there are others
            others = [row for row in rows if row[0] != r.anchor.node]
            rows = others or rows
            # one value in several languages ("A small device"@en, "Ein kleines Gerät"@de): the
            # English or untagged one first, as labels are shown
            rows.sort(key=lambda row: language_rank(row[0]))
        pred.best, pred.sparql, pred.form = r, sparql, qg.form
        pred.limited = (plain and len(results) >= qg.limit > 1) or (
            qg.ties and qg.limit == 1 and not qg.offset and len(results) >= TIES_LIMIT)
        named = self._blank_labels(qg, sparql, rows) if any(isinstance(row[0], BNode) for row in rows) else {}
        pred.answers = [(row[0], named.get(row[0]) or self.index.label(row[0])) for row in rows]
        return True

    def _blank_labels(self, qg: QueryGraph, sparql: str, rows: list) -> dict[Node, str]:
        """Names for the answers that are blank nodes, which the label index cannot hold (a blank
        node has no name outside one query's results): its label ("an award" node with its own
        rdfs:label), else a description from its values ("city: Prague; street: Dlouhá 1"), never
        its generated id. The answer query is asked again with each answer's statements beside it;
        a remote endpoint names its blank nodes afresh in that second result, so its rows replace
        the first ones."""
        preds = set(self.index.label_predicates) or {RDFS.label}
        ans = qg.answer.sparql
        query = (f"SELECT {ans} ?p ?o WHERE {{ {{ {sparql} }} OPTIONAL {{ {ans} ?p ?o . "
                 f"FILTER(isLiteral(?o) || isIRI(?o)) }} }} LIMIT 2000")
        blanks: dict[Node, None] = {}  # in the order of the second result
        found: dict[Node, tuple[tuple[int, int], str]] = {}
        facts: dict[Node, dict[str, str]] = {}
        for node, p, o in self._select(query, timeout_s=self.settings.kb_timeout_s):
            if not isinstance(node, BNode):
                continue
            blanks[node] = None
            if p in preds and isinstance(o, Literal) and normalise(str(o)):
                order = (language_rank(o), label_rank(p))
                if node not in found or order < found[node][0]:
                    found[node] = (order, str(o))
            elif p is not None and p != RDF.type and o is not None:
                facts.setdefault(node, {}).setdefault(self.relation_label(p), clip_label(self.index.label(o)))
        if blanks and not any(row[0] in blanks for row in rows):  # renamed: take the second result's nodes
            rows[:] = [row for row in rows if not isinstance(row[0], BNode)] + [(n,) for n in blanks]
        named = {n: lab for n, (_, lab) in found.items()}
        for node, values in facts.items():
            if node not in named:
                named[node] = "; ".join(f"{k}: {v}" for k, v in sorted(values.items())[:4])
        return named

    def _decision(self, pred: Prediction, scoring_text: str = "", scoring_links: list[Candidate] | None = None,
                  exclude: frozenset[URIRef] = frozenset()) -> dict[str, float]:
        """What the calibrator sees of the chosen answer (kb.scorer.DECISION_FEATURES)."""
        best = pred.best
        assert best is not None  # only a prediction with an answer is weighed
        member = pred.class_asked
        named_ask = pred.form == QueryForm.ASK and any(c.startswith(ANSWER_IS) for c in pred.constraints) and not any(
            c.startswith("entity: ") for c in pred.constraints)
        asked = normalise(pred.question).split()
        # what a named yes/no question asks of; how surely it was found ("Austrlia": Australia, or
        # Austria?) is seen beside how surely its anchor was
        targets = self._ask_targets(asked, best, pred.links) if named_ask else []
        same = self._same_ask(asked, pred, targets) if named_ask or member else []
        p_top = best.prob + sum(r.prob for r in same)
        rivals = [r.prob for r in pred.ranked if r is not best and all(r is not x for x in same)]
        f = best.features
        method = best.anchor.method
        words = normalise(scoring_text or pred.question).split()
        rel_words = _relation_words(words, best.anchor, pred.links if scoring_links is None else scoring_links)
        cover = self.coverage(rel_words, {r.path[i].pred for r in pred.ranked for i in range(len(r.path))}, exclude)
        on_path = [cover.get(s.pred, 0.0) for s in best.path if s.pred != RDF.type]
        path_cover = min(on_path) if on_path else 1.0  # a class's members: the question names the class
        other = max((v for p, v in cover.items() if all(p != s.pred for s in best.path)), default=0.0)
        return {
            "cover": path_cover,
            "rival_cover": max(0.0, other - path_cover),
            "unlinked_names": float(_unlinked_names(pred.question, pred.links)),
            # the question's own entity as its answer: a path that went round in a circle
            "self_answer": float(bool(pred.answers) and pred.answers[0][0] == best.anchor.node),
            # a superlative, a count, a filter shape the query beyond its path: the path's labels
            # then explain fewer of the question's words, which alone would read as a poor fit
            "constraints": float(min(3, len(pred.constraints))),
            # a yes/no question that names what the path must reach, and nothing else beside it
            # ("Is Berlin the capital of Germany?"): one statement checked, right when its path is;
            # "no" also comes of a path that asks the wrong thing, "yes" seldom does. A yes/no
            # question naming no such thing ("Is Berlin a continent?", "Does Berlin have a
            # mayor?") only asks whether its path leads anywhere, and is weighed as any question
            "ask": float(named_ask),
            "ask_no": float(named_ask and pred.boolean is False),
            "member": float(member),  # "Is Berlin a city?": one class asked of the thing
            "target_link": min((t.score for t in targets), default=best.anchor.score),
            "target_fuzzy": float(any(t.method.approximate for t in targets)),
            "p_top": p_top,
            "margin": p_top - (max(rivals) if rivals else 0.0),
            "score": best.score,
            "cos": f.get("cos_aligned", 0.0),
            "lex": f.get("lex", 0.0),
            "link": best.anchor.score,
            "exact_link": float(method.verbatim),
            "fuzzy_link": float(method.approximate),
            "hops": float(len(best.path)),
            "seg_match": f.get("seg_match", 0.0),
            "log_answers": math.log1p(len(pred.answers)),
            "n_links": float(len(pred.links)),
            "type_match": f.get("type_match", 0.0),
        }

    def coverage(self, words: list[str], nearby: AbstractSet[URIRef] = frozenset(),
                 exclude: frozenset[URIRef] = frozenset()) -> dict[URIRef, float]:
        """How well the question's relation words name each relation (0..1): the share of a name's
        words the question uses, or the encoder similarity of a question word to the name, the best
        over the relation's names. Every relation of the graph is scored (the ones near the anchor
        only, on a graph with very many), except `exclude` (training simulates a graph without them),
        so a question that names a relation the chosen path lacks ("the capital of <a city>") or
        that no relation fits ("the president of France") is visible as such."""
        table = self._relation_name_table()
        rels = [p for p in table["order"] if p not in exclude and (table["all"] or p in nearby)]
        if not words or not rels:
            return {}
        stems = {w[:5] for w in words}
        sims = None
        if self.encoder is not None:
            texts = [n for p in rels for n, _ in table["names"][p]]
            sims = (self.encoder.vectors(texts) @ self.encoder.vectors(words).T).max(1)
        out: dict[URIRef, float] = {}
        k = 0
        for p in rels:
            best = 0.0
            for _, name_stems in table["names"][p]:
                if name_stems:
                    best = max(best, sum(x in stems for x in name_stems) / len(name_stems))
                if sims is not None:
                    best = max(best, float(sims[k]))
                k += 1
            out[p] = min(1.0, best)
        return out

    def _named_relations(self, phrase: str) -> list[URIRef]:
        """Relations one of whose names says all of `phrase`'s words ("product manager":
        `hasProductManager`)."""
        want = {w[:5] for w in phrase.split() if w not in STOPWORDS}
        if not want:
            return []
        table = self._relation_name_table()["names"]
        return [p for p, names in table.items() if any(want <= set(stems) for _, stems in names)]

    def _relation_name_table(self) -> dict:
        if self._name_table is None:
            table = {p: [(n, [w[:5] for w in normalise(n).split() if w not in STOPWORDS])
                         for n in self.relation_names(p)] for p in self.index.relation_names}
            total = sum(len(v) for v in table.values())
            self._name_table = {"names": table, "order": sorted(table, key=str), "all": total <= 4000}
        return self._name_table

    def _query_graph(self, words: list[str], r: Ranked, pred: Prediction) -> QueryGraph:
        qg = path_query(r.anchor.node, r.path)
        qg.limit = self.config.answer_limit
        pred.constraints, pred.unheld = [], None
        member = self._member_class(words, r, pred.links)
        if member is not None:  # "Is Berlin a country?": what Berlin is, not whether it has a country
            things = self._namesakes(r.anchor)
            pred.constraints = ["ask", f"{IS_A}{member.label}" + (
                f" (any of {len(things)} of that name)" if len(things) > 1 else "")]
            is_a = self.type_predicate()
            if len(things) == 1:
                return QueryGraph(triples=[(things[0], is_a, member.node)], form=QueryForm.ASK)
            thing = Var("thing")
            return QueryGraph(triples=[(thing, is_a, member.node)], values=[(thing, things)], form=QueryForm.ASK)
        text = " ".join(words)
        targets = self._ask_targets(words, r, pred.links)
        anchor_alt = _alternative(r.anchor, pred.links, words) if r.anchor.kind != LinkKind.CLASS else None
        if anchor_alt is not None and not targets:  # "from a french or german supplier" names the anchor twice
            var = Var("or_anchor")
            qg.triples = substituted(qg.triples, r.anchor.node, var)
            qg.values.append((var, [r.anchor.node, anchor_alt.node]))
            pred.constraints.append(f"anchor: {r.anchor.label} or {anchor_alt.label}")
        used = [(targets[0].start, targets[0].end)] if targets else [
            (anchor_alt.start, anchor_alt.end)] if anchor_alt else []
        used = self._add_constraints(qg, r, pred, also_used=used)
        shapes = pred.shapes or Shapes()
        lacking = shapes.lacks is not None and self._add_lacks(qg, pred, *shapes.lacks)
        if pred.negated is not None and not lacking:
            qg.not_exists.append(pred.negated[1].node)
            pred.constraints.append(f"none linked of type {pred.negated[1].label}")
        # "more than 5 employees", "more than 2e0 employees": a count compared per answer, not a count
        having = _HAVING.search(_numbers_kept(pred.question))
        values = [replace(f, attr=attr) for f in _outside_names(_value_comparisons(pred.question), pred.question,
                                                                pred.links)
                  if (attr := self._compared_attribute(qg, pred, words, f)) is not None]
        if having is not None and any(f.at == having.start("cmp") for f in values):
            having = None  # "a population over 1000000 inhabitants": a value with its unit, not a count
        # "are there cities with a number of people under 255000": an attribute compared, no count
        # (but "a number of employees over 2" counts the employees the graph has)
        valued = any(f"number of {f.attr} " in f"{text} " and not self._counted_word(qg, pred, words, f.attr)
                     for f in values)
        if having is None and not valued and self._counts(words, text, r, qg):
            qg.aggregate = "count"
            pred.constraints.append("count")
        elif _yes_no(words):
            qg.form = QueryForm.ASK
            pred.constraints.append("ask")
            pred.unheld = next((c for c in pred.links if c.kind == LinkKind.ENTITY and c.score >= UNHELD_LINK
                                and c.node != r.anchor.node and not any(c.start < e and s < c.end for s, e in used)),
                               None)
            if len(targets) == 1:  # "Is Paris the capital of France?": the answer must be Paris
                qg.triples = substituted(qg.triples, Var("answer"), targets[0].node)
                pred.constraints.append(f"{ANSWER_IS}{targets[0].label}")
            elif targets:  # "Is Kingston the capital of Jamaica?": one of the places of that name
                qg.values.append((Var("answer"), [t.node for t in targets]))
                pred.constraints.append(f"{ANSWER_IS}{targets[0].label} (any of {len(targets)} of that name)")
            else:  # "Does Germany have more than 500 million inhabitants?": the value must meet it
                asked = _asked_number(pred.question, pred.links)
                filters = self._value_filters(qg, asked[0], asked[1]) if asked is not None else []
                if filters:
                    qg.filters.extend(filters)
                    pred.constraints.append("filter: answer " + " and ".join(f"{o} {v}" for _, o, v in filters))
                elif self._some_answer(qg, f"datatype(?answer) = {iri(XSD.boolean)}"):
                    # "Is the Gadget in stock?" over `inStock false`: the value is the answer, not
                    # that the gadget has one
                    qg.filters.append((Var("answer"), "=", Literal(True)))
                    pred.constraints.append("the value must be true")
                elif values and not self._some_answer(qg, "isLiteral(?answer)"):
                    # "Are there cities with a population under 255000?": an attribute of the answers
                    # that the graph names so (a path that ends in values, "a calling code under 379"
                    # stored as text, holds none; "more than 2000 hospitals" is no population)
                    self._attach_values(qg, pred, [f for f in values if self._numeric_named(qg, f.attr)])
        else:
            # "departments with more than 5 employees": a count per answer, kept above n; "more than
            # 1e400 employees" compares with nothing, and `_unexpressed` says so
            count = _number(having) if having else math.inf
            if having is not None and math.isfinite(count):
                counted = self._counted_relation(qg, text)
                if counted is not None:
                    qg.group_count = (_counted_var(qg, counted), "DESC")
                    self._type_counted(qg, pred, words, having["noun"])
                    # "2e0 employees" is the count 2; "2.5" and "1e30" are compared as they are,
                    # as a 64-bit integer holds no 1e30 and the store's comparison would fail
                    qg.having = (_HAVING_OPS[having["cmp"]], _number_literal(count).toPython())
                    qg.show_count = bool(_NUMBER_OF.search(text) or "how many" in text or "number of" in text)
                    if _NAME_OF.search(text) or _THEIR_NAMES.search(text):
                        self._project_name(qg, pred)
                    pred.constraints.append(f"count per answer {qg.having[0]} {qg.having[1]}")
                    return qg
            most = _COUNT_SUPERLATIVE.search(text)
            if most and not _ADJECTIVE.search(most.group(2)) and not self._numeric_named(qg, most.group(2)):
                counted = self._counted_relation(qg, text)
                if counted is not None:
                    qg.group_count = (_counted_var(qg, counted),
                                      "ASC" if most.group(1) in {"fewest", "least"} else "DESC")
                    self._type_counted(qg, pred, words, most.group(2))
                    qg.show_count = "how many" in text
                    qg.limit = 1
                    pred.constraints.append(f"superlative count: {most.group(0)}")
                    return qg
            self._attach_values(qg, pred, values)
            if shapes.compare is not None:  # "wider than they are tall": FILTER (?width > ?height)
                a, op, b = shapes.compare
                left = self._attach_attribute(qg, a, "cmpa", answer_only=True)
                right = self._attach_attribute(qg, b, "cmpb", answer_only=True) if left is not None else None
                if left is not None and right is not None:
                    qg.filters.append((left[0], op, right[0]))
                    pred.constraints.append(f"filter: {a} {op} {b}")
            if _NAME_OF.search(text):
                self._project_name(qg, pred)
            superlatives: list[tuple[str, str, str | None]] = [*SUPERLATIVES, *_AGE_SUPERLATIVES]
            for pattern, order, hint in superlatives:
                m = re.search(rf"\b(?:{pattern})\b", text)
                if m:
                    after = " ".join(w for w in text[m.end():].split()[:2] if w not in STOPWORDS)
                    ordered = (self._attribute(qg, f"{m.group(0)} {after} {hint}") if hint is not None
                               else self._attribute(qg, "age", answer_only=True, named=Named.WORD))
                    if ordered is not None:
                        qg.triples.extend(ordered[0])
                        qg.binds.extend(ordered[2])
                        qg.order_by = (ordered[1], order)
                        top = _TOP.search(text)
                        qg.limit = int(top.group(1)) if top else 1
                        qg.ties = top is None
                        nth = _ORDINAL_BEFORE.search(text[: m.start()])
                        if nth is not None and not top:  # "the second cheapest": one past the cheapest
                            qg.offset = max(0, _ordinal(nth.group("nth")) - 1)
                            if nth.group("first") and 1 <= _ordinal(nth.group("first")) <= qg.offset:
                                # "the 6th to 10th most expensive": five, past the first five
                                qg.limit = qg.offset + 2 - _ordinal(nth.group("first"))
                                qg.offset = _ordinal(nth.group("first")) - 1
                        if "average" in after.split():  # "the best average reliability": per answer
                            qg.order_aggregate = "AVG"
                        rank = (f", number {qg.offset + 1}" if qg.limit == 1 else
                                f", numbers {qg.offset + 1} to {qg.offset + qg.limit}") if qg.offset else ""
                        pred.constraints.append(f"superlative: {m.group(0)} ({order}){rank}")
                    break
            if shapes.columns and qg.answer == Var("answer"):
                self._add_columns(qg, pred, shapes.columns)
        self._drop_implied_types(qg)
        return qg

    def _drop_implied_types(self, qg: QueryGraph) -> None:
        """`?x a C` is left out when another pattern already makes ?x a C (everything `p` points to is a
        C): the same answers, one join fewer, and the query a person would write."""
        for t in list(qg.triples):
            v, p, cls = t
            if p != RDF.type or not isinstance(v, Var) or not isinstance(cls, URIRef):
                continue
            for s2, p2, o2 in qg.triples:
                if p2 == RDF.type or not isinstance(p2, URIRef) or (o2 != v and s2 != v):
                    continue
                if self._implies_type(p2, o2 == v, cls):
                    qg.triples.remove(t)
                    break

    def _implies_type(self, p: URIRef, at_object: bool, cls: URIRef) -> bool:
        key = (p, at_object, cls)
        if key not in self._implied:
            pattern = f"?s {iri(p)} ?o"
            node = "?o" if at_object else "?s"
            some = self._ask(f"ASK WHERE {{ {pattern} . }}", timeout_s=self.settings.kb_timeout_s)
            other = self._ask(f"ASK WHERE {{ {pattern} . FILTER NOT EXISTS {{ {node} {iri(RDF.type)} "
                              f"{iri(cls)} }} }}", timeout_s=self.settings.kb_timeout_s)
            self._implied[key] = some and not other
        return self._implied[key]

    def _attach_attribute(self, qg: QueryGraph, hint: str, prefix: str, *, answer_only: bool = False,
                          named: Named = Named.NEAREST) -> tuple[Var, str] | None:
        """Join the numeric attribute that best matches `hint` (see `_attribute`) under fresh variable
        names; returns the variable holding its value and the attribute's label."""
        attr = self._attribute(qg, hint, answer_only=answer_only, named=named)
        if attr is None:
            return None
        key = Var(prefix)
        rename: dict[Node | Var | _TypePath, Var] = {Var("sortkey"): key, Var("sortmid"): Var(f"{prefix}m")}
        rename.update({Var(f"dim{i}"): Var(f"{prefix}d{i}") for i in range(4)})
        qg.triples.extend((rename.get(s, s), rename.get(p, p), rename.get(o, o)) for s, p, o in attr[0])
        qg.binds.extend((key, [rename.get(v, v) for v in num], [rename.get(v, v) for v in den])
                        for _, num, den in attr[2])
        return key, attr[3]

    def _years(self, qg: QueryGraph, pred: URIRef) -> bool:
        """Whether the answers' values of `pred` look like years (`YEAR_FROM`, `MAX_YEAR`). A query
        that fails says no."""
        body, p, t = _body(qg), iri(pred), self.settings.kb_timeout_s
        if self._ask(f"ASK WHERE {{\n{body}\n?answer {p} ?v . FILTER(datatype(?v) IN ({_TIME_TYPES}))\n}}", t):
            return True  # dates and years as the graph types them ("1995"^^xsd:gYear, a founding date)
        return self._ask(f"ASK WHERE {{\n{body}\n?answer {p} ?v . FILTER(isNumeric(?v) && ?v >= {YEAR_FROM})\n}}",
                         t) and not self._ask(f"ASK WHERE {{\n{body}\n?answer {p} ?v . FILTER(isNumeric(?v) && "
                                              f"(?v > {MAX_YEAR} || ?v < -10000 || ?v != ROUND(?v)))\n}}", t,
                                              on_error=True)

    def _answer_properties(self, qg: QueryGraph) -> list[URIRef]:
        rows = self._select(f"SELECT DISTINCT ?p WHERE {{\n{_body(qg)}\n?answer ?p ?o .\n}} LIMIT 200",
                            timeout_s=self.settings.kb_timeout_s)
        return [p for (p,) in rows if isinstance(p, URIRef) and p != RDF.type and p not in self.index.schema_predicates]

    def _add_columns(self, qg: QueryGraph, pred: Prediction, items: list[str]) -> None:
        """"- list id and name -": each item is a property of the answer, shown beside it in the
        question's order ("dimensions": width, height, depth, length, those it has). All or none:
        an item the answer has no property for leaves the answer alone."""
        props = self._answer_properties(qg)
        names = {p: [normalise(n) for n in ([local_name(p)] if p in self.index.label_predicates else [])
                     + self.relation_names(p)] for p in props}
        chosen: list[URIRef] = []
        for item in items:
            if item in {"dimensions", "dimension", "measurements", "size"}:
                dims = [next((p for p in props if word in " ".join(names[p]).split()), None) for word in DIMENSIONS]
                found = [p for p in dims if p is not None]
                if len(found) < 2:
                    return
                chosen += found
                continue
            stems = {w[:5] for w in item.split()}
            hits = [p for p in props if any({w[:5] for w in n.split() if w not in STOPWORDS} == stems
                                            for n in names[p])]
            if not hits:
                return
            chosen.append(min(hits, key=lambda p: (p not in self.index.label_predicates or local_name(p) != item,
                                                   str(p))))
        for i, p in enumerate(dict.fromkeys(chosen)):
            var = Var(f"col{i}")
            qg.triples.append((Var("answer"), p, var))
            qg.columns.append(var)
        pred.constraints.append("columns: " + ", ".join(items))

    def _add_lacks(self, qg: QueryGraph, pred: Prediction, phrase: str, described: bool) -> bool:
        """"items that have no (active) product manager": FILTER NOT EXISTS over the relation the phrase
        names, among the answer's; "active" counts only related things the graph describes (that
        have a label), not dangling references."""
        named = set(self._named_relations(phrase))
        props = [p for p in self._answer_properties(qg) if p in named]
        if not props:
            return False
        p = props[0]
        label = None
        if described:
            found = [lp for lp in self.index.label_predicates
                     if self._ask(f"ASK WHERE {{\n{_body(qg)}\n?answer {iri(p)} ?x . ?x {iri(lp)} ?l .\n}}",
                                  timeout_s=self.settings.kb_timeout_s)]
            if not found:
                return False
            label = min(found, key=lambda x: (local_name(x).lower() != "name", x != RDFS.label, str(x)))
        qg.lacks.append((Var("answer"), p, label))
        pred.constraints.append(f"lacks: {self.relation_label(p)}" + (" (described)" if described else ""))
        return True

    def _type_counted(self, qg: QueryGraph, pred: Prediction, words: list[str], noun: str) -> None:
        """"more than 5 employees": what is counted has the class the noun names, when it does."""
        assert qg.group_count is not None  # set just before
        var = qg.group_count[0]
        if var != Var("counted"):
            return
        for c in pred.links:
            if c.kind == LinkKind.CLASS and noun in words[c.start:c.end]:
                probe = QueryGraph(triples=qg.triples + [(var, RDF.type, c.node)], form=QueryForm.ASK)
                if self._ask(probe.to_sparql(), timeout_s=self.settings.kb_timeout_s):
                    qg.triples.append((var, RDF.type, c.node))
                    pred.constraints.append(f"counted: {c.label}")
                return

    def _counts(self, words: list[str], text: str, r: Ranked, qg: QueryGraph) -> bool:
        """"how many ...", "the number of ...": a count, unless "number" is part of the asked
        attribute's name ("the phone number of X") or the path already reaches a number ("how many
        people live in X" is the population, not a count of populations)."""
        # "how many" leads the question ("In Germany, how many ...") unless it asks for the count
        # behind a superlative ("the most products and how many?")
        how = words[:2] == ["how", "many"] or ("how many" in text and not _COUNT_SUPERLATIVE.search(text))
        if not how and not _NUMBER_OF.search(text):
            return False
        if not how and any("number" in self.relation_label(s.pred).split() for s in r.path):
            return False
        return not self._some_answer(qg, "isNumeric(?answer)")

    def _some_answer(self, qg: QueryGraph, condition: str) -> bool:
        """Whether some answer of the query graph meets a SPARQL condition: "isNumeric(?answer)" (the
        path already reaches a number), "isLiteral(?answer)" (it ends in values, not things)."""
        probe = QueryGraph(triples=list(qg.triples), form=QueryForm.ASK, filters=list(qg.filters))
        body = probe.to_sparql().rstrip().removesuffix("}")
        return self._ask(body + f"  FILTER ({condition})\n}}", timeout_s=self.settings.kb_timeout_s)

    @staticmethod
    def _negated_class(words: list[str], links: list[Candidate]) -> tuple[int, Candidate] | None:
        """(index where the negation starts, the class it negates) for "with no X" / "without X"."""
        for i, w in enumerate(words):
            if w == "without" or (w == "no" and i > 0 and words[i - 1] in {"with", "has", "have"}):
                start = i if w == "without" else i - 1
                for c in links:
                    if c.kind == LinkKind.CLASS and i < c.start <= i + 3:
                        return start, c
        return None

    def _project_name(self, qg: QueryGraph, pred: Prediction) -> None:
        body = _body(qg)
        found = set()
        for p in self.index.label_predicates:
            if self._ask(f"ASK WHERE {{\n{body}\n?answer {iri(p)} ?name .\n}}",
                         timeout_s=self.settings.kb_timeout_s):
                found.add(p)
        if not found:
            return
        # prefer a property called "name" (what the question says), then rdfs:label
        p = min(found, key=lambda x: (local_name(x).lower() != "name", x != RDFS.label, str(x)))
        qg.triples.append((Var("answer"), p, Var("name")))
        qg.answer = Var("name")
        pred.constraints.append(f"name: {local_name(p)}")

    def _attach_values(self, qg: QueryGraph, pred: Prediction, values: list[_Compared]) -> None:
        """FILTERs holding the answers' attributes to the numbers the question compares them with
        ("cities with a population over 1e6"), one join per attribute: both ends of a range hold
        one value."""
        attached: dict[str, tuple[Var, str] | None] = {}
        for f in values:
            if not math.isfinite(f.number):
                continue  # "over 1e400": nothing compares with it; `_unexpressed` says so
            if f.attr not in attached:
                attached[f.attr] = self._attach_attribute(qg, f.attr, f"f{len(attached)}", named=f.named)
            held = attached[f.attr]
            if held is not None:
                key, label = held
                # a year compared with a date or an xsd:gYear in the values' own type
                # (values of mixed types: compared as numbers, as before)
                held_to = self._value_filters(QueryGraph(triples=list(qg.triples), answer=key), f.op, f.number) \
                    if f.named is Named.YEARS else []
                qg.filters.extend(held_to or [(key, f.op, _number_literal(f.number))])
                # the attribute compared, where the question calls it otherwise ("residents
                # (population)"): a loose word's match shows in the evidence
                named = f.attr if set(f.attr.split()) <= set(normalise(label).split()) else f"{f.attr} ({label})"
                pred.constraints.append(f"filter: {named} {f.op} {f.written}")

    def _compared_attribute(self, qg: QueryGraph, pred: Prediction, words: list[str], f: _Compared) -> str | None:
        """The word naming the attribute a comparison holds to its number, or None where it holds no
        value. A noun after the number is the number's unit where it names no thing the graph counts
        ("products that cost under 5 dollars"), or names the attribute itself ("cities above 3000000
        inhabitants"); where it names things and the word before names no number of the answers,
        the number counts them ("departments that hold more than 2 employees", see `_HAVING`). After
        "and" / "but" the attribute is the one compared before ("a price over 5 dollars and under 100
        dollars"); after another stopword the noun names it where it can ("have over 3000000 people"),
        else nothing does ("have over 1e6", "or under 5"): the comparison is then left out, and
        `_unexpressed` says so."""
        named_attr = f.attr not in STOPWORDS | _JOINING and self._numeric_named(qg, f.attr)
        if f.noun and not named_attr and self._numeric_named(qg, f.noun):
            return f.noun
        counted = bool(f.noun) and self._counted_word(qg, pred, words, f.noun)
        if f.attr in STOPWORDS or f.attr in _JOINING:
            if f.joined and f.joined not in STOPWORDS and not counted:
                return f.joined  # "a price over 5 dollars and under 100 dollars"
            return f.noun if f.noun and not counted else None  # "have over 3000000 people"
        if not f.noun or named_attr:
            return f.attr
        return None if counted else f.attr

    def _counted_word(self, qg: QueryGraph, pred: Prediction, words: list[str], noun: str) -> bool:
        """Whether `noun` names things the graph relates (a relation or a class the question links)
        rather than a number the answers have ("employees", not "people" for a population)."""
        if self._numeric_named(qg, noun):
            return False
        return bool(self._named_relations(noun)) or any(c.kind == LinkKind.CLASS and noun in words[c.start:c.end]
                                                        for c in pred.links)

    def _numeric_named(self, qg: QueryGraph, noun: str) -> bool:
        """Whether the answers have a number named like `noun`: "the most pages" orders by the
        pages a novel has, not by how many things link to it ("the most products" counts)."""
        named = self._named_relations(noun)
        if not named:
            return False
        values = " ".join(iri(p) for p in named[:20])
        return self._ask(f"ASK WHERE {{\n{_body(qg)}\n?answer ?nump ?numv . VALUES ?nump {{ {values} }} "
                         f"FILTER(isNumeric(?numv))\n}}", timeout_s=self.settings.kb_timeout_s)

    def _value_filters(self, qg: QueryGraph, op: str, number: float) -> list[tuple[Var, str, Node]]:
        """FILTERs that hold the path's value to a number the question gives, in the value's own
        type: a number compared as a number, a year against a date ("hired before 2000"); none when
        the values are neither (text, things), or the number is beyond a double ("1e400"), so the
        comparison stays unexpressed."""
        if not math.isfinite(number):
            return []
        probe = QueryGraph(triples=list(qg.triples), answer=qg.answer, limit=20)
        literals = [row[0] for row in self._select(probe.to_sparql(), timeout_s=self.settings.kb_timeout_s)
                    if row and isinstance(row[0], Literal)]
        # a date Python cannot hold (a year before the common era, "-0099-07-12", or a 29 February of
        # a common year) is still a date: it turned the year filter off for every value of the relation
        values = [v for v in (lit.toPython() for lit in literals)
                  if not (isinstance(v, Literal) and v.datatype in (XSD.date, XSD.dateTime))]
        if not values:
            return []
        var = qg.answer
        if all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):  # a year too
            return [(var, op, _number_literal(number))]
        if all(isinstance(v, datetime.date) for v in values) and float(number).is_integer() and 1000 <= number < 3000:
            kind = datetime.datetime if all(isinstance(v, datetime.datetime) for v in values) else datetime.date
            if any(isinstance(v, datetime.datetime) for v in values) and kind is datetime.date:
                return []  # dates and times mixed: SPARQL compares neither with the other
            start, end = _year_start(kind, int(number), literals), _year_start(kind, int(number) + 1, literals)
            if op in {"<", "<="}:  # "before 2000"
                return [(var, "<", start if op == "<" else end)]
            if op in {">", ">="}:  # "after 2000", "since 2000"
                return [(var, ">=", end if op == ">" else start)]
            return [(var, ">=", start), (var, "<", end)]  # "in 2000"
        if all(isinstance(v, Literal) and v.datatype == XSD.gYear for v in values) and float(number).is_integer():
            return [(var, op, Literal(f"{int(number):04d}", datatype=XSD.gYear))]  # years typed as years
        return []

    def _add_constraints(self, qg: QueryGraph, r: Ranked, pred: Prediction,
                         also_used: list[tuple[int, int]] | tuple = ()) -> list[tuple[int, int]]:
        """Other linked anchors narrow the query graph: a class types the answer, an entity or value
        either is one of the path's intermediate nodes ("the email of Sabrina from Marketing") or
        connects to the answer or an intermediate node by one relation ("suppliers ... in France").
        Returns the word spans the query now holds (the anchor's among them)."""
        used = [(r.anchor.start, r.anchor.end), *also_used]
        nodes = _answer_first(qg)
        words = normalise(pred.question).split()
        for c in pred.links:
            if c.node == r.anchor.node or any(c.start < e and s < c.end for s, e in used):
                continue
            # a first name alone ("Sabrina", two employees) may still pin down a node on the path
            weak = c.kind == LinkKind.ENTITY and c.method == LinkMethod.TOKEN and c.score >= 0.5
            if c.score < (0.85 if c.kind == LinkKind.CLASS else 0.75) and not weak:
                continue
            for v in nodes if c.kind != LinkKind.CLASS else [Var("answer")]:
                trials: list[_Trial]
                if c.kind == LinkKind.CLASS:
                    trials = [("type", [(v, RDF.type, c.node)], None)]
                else:
                    trials = []
                    if c.kind == LinkKind.ENTITY and v != Var("answer"):
                        trials.append(("entity", [], (v, c.node)))
                    link = self._connecting_triple(qg, c, v) if c.score >= 0.75 else None
                    if link is not None:
                        trials.append(("entity", [link], None))
                done = False
                for kind, extra, equal in self._with_bridge(trials, qg, c, v):
                    triples = qg.triples + extra
                    if equal is not None:
                        triples = substituted(triples, equal[0], equal[1])
                    probe = QueryGraph(triples=triples, form=QueryForm.ASK)
                    if self._ask(probe.to_sparql(), timeout_s=self.settings.kb_timeout_s):
                        qg.triples = triples
                        used.append((c.start, c.end))
                        alt = _alternative(c, pred.links, words) if equal is None else None
                        if alt is not None and any(c.node in t for t in extra):
                            # "from a french or german supplier": either value, one VALUES clause
                            var = Var(f"or{len(qg.values)}")
                            qg.triples = qg.triples[: len(qg.triples) - len(extra)] + substituted(extra, c.node, var)
                            qg.values.append((var, [c.node, alt.node]))
                            used.append((alt.start, alt.end))
                            pred.constraints.append(f"{kind}: {c.label} or {alt.label}")
                        else:
                            pred.constraints.append(f"{kind}: {c.label}")
                        done = True
                        break
                if done:
                    break
        return used

    def _connecting_triple(self, qg: QueryGraph, c: Candidate, v: Var) -> Triple | None:
        if c.kind == LinkKind.VALUE and c.via is not None:
            return (v, c.via, c.node)
        body = _body(qg)
        target = iri(c.node) if isinstance(c.node, URIRef) else None
        if target is None:
            return None
        q = f"SELECT DISTINCT ?p WHERE {{\n{body}\n{v.sparql} ?p {target} .\n}} LIMIT 5"
        rows = self._select(q, timeout_s=self.settings.kb_timeout_s)
        if rows:
            return (v, rows[0][0], c.node)
        q = f"SELECT DISTINCT ?p WHERE {{\n{body}\n{target} ?p {v.sparql} .\n}} LIMIT 5"
        rows = self._select(q, timeout_s=self.settings.kb_timeout_s)
        if rows:
            return (c.node, rows[0][0], v)
        return None

    def _with_bridge(self, trials: list[_Trial], qg: QueryGraph, c: Candidate, v: Var) -> Iterator[_Trial]:
        yield from trials
        if c.kind != LinkKind.CLASS and c.score >= 0.85:  # "products from US suppliers": via one more node
            bridge = self._bridging_triples(qg, c, v)
            if bridge:
                yield ("entity", bridge, None)

    def _bridging_triples(self, qg: QueryGraph, c: Candidate, v: Var) -> list[Triple] | None:
        """Two triples that tie `v` to the linked thing through one fresh node, the relation to the
        fresh node taken from the graph (the first that exists, forward before inverse)."""
        body = _body(qg)
        mid = Var(f"via{len(qg.triples)}")
        last: Triple
        if c.kind == LinkKind.VALUE and c.via is not None:
            last = (mid, c.via, c.node)
        elif isinstance(c.node, URIRef):
            last = (mid, Var("lastp"), c.node)
        else:
            return None
        tail = f"{_t(last[0])} {_t(last[1])} {_t(last[2])} ."
        for forward in (True, False):
            edge = f"{v.sparql} ?p {mid.sparql} ." if forward else f"{mid.sparql} ?p {v.sparql} ."
            rows = self._select(
                f"SELECT DISTINCT ?p {'?lastp' if isinstance(last[1], Var) else ''} WHERE {{\n{body}\n{edge}\n"
                f"{tail}\nFILTER(?p != {iri(RDF.type)} && !isLiteral({mid.sparql}))\n}} LIMIT 5",
                timeout_s=self.settings.kb_timeout_s)
            if rows:
                p = rows[0][0]
                first = (v, p, mid) if forward else (mid, p, v)
                return [first, (mid, rows[0][1], c.node) if isinstance(last[1], Var) else last]
        return None

    def _similar(self, hint: str, labels: list[str]) -> list[float]:
        if self.encoder is not None:
            vec = self.encoder.vectors([hint] + labels)
            return [float(x) for x in vec[1:] @ vec[0]]
        hw = set(hint.split())
        return [float(len(hw & set(lab.split()))) for lab in labels]

    def _attribute(self, qg: QueryGraph, hint: str, answer_only: bool = False,
                   named: Named = Named.NEAREST) -> _Attribute | None:
        """The numeric attribute (one or two hops) of the answer or of a node on the path that best
        matches the superlative: "who manages the most expensive service" orders the services.
        `named`: how closely `hint` must name it (`Named`; a stem is `STEM_CHARS` letters), none
        where the graph has no such number. Returns (triples, the variable holding the value, binds,
        the attribute's label)."""
        body = _body(qg)
        options: list[_Option] = []
        # a time compared with a year ("founded after 1990") may be a date or a year as the graph types it
        valued = "isNumeric(?v)" if named is not Named.YEARS else f"isNumeric(?v) || datatype(?v) IN ({_TIME_TYPES})"
        for v in _answer_first(qg)[: 1 if answer_only else None]:
            one = self._select(
                f"SELECT DISTINCT ?p WHERE {{\n{body}\n{v.sparql} ?p ?v . FILTER({valued})\n}} LIMIT 50",
                timeout_s=self.settings.kb_timeout_s)
            two = self._select(
                f"SELECT DISTINCT ?p ?q WHERE {{\n{body}\n{v.sparql} ?p ?y . ?y ?q ?v . FILTER(isNumeric(?v))\n}} "
                "LIMIT 50", timeout_s=self.settings.kb_timeout_s)
            penalty = 0.0 if v == Var("answer") else 0.05
            options += [(v, (p,), self.relation_label(p), penalty) for (p,) in one]
            options += [(v, (p, q), self.relation_label(p) + " " + self.relation_label(q), penalty + 0.15)
                        for p, q in two]
            if v == Var("answer"):
                options += self._derived(v, [p for (p,) in one])
                # "suppliers with the best average reliability over their products": a number on
                # the things that point to the answer
                back = self._select(
                    f"SELECT DISTINCT ?p ?q WHERE {{\n{body}\n?y ?p {v.sparql} . ?y ?q ?v . FILTER(isNumeric(?v))\n}} "
                    "LIMIT 50", timeout_s=self.settings.kb_timeout_s)
                options += [(v, ("inverse", p, q), self.relation_label(p) + " " + self.relation_label(q), 0.2)
                            for p, q in back]
        if not options:
            return None
        if named is Named.WORD:  # the attribute's name is the word: "minimum age", "retirement age" are not
            options = [o for o in options if o[0] == Var("answer") and len(o[1]) == 1
                       and normalise(self.relation_label(o[1][0])) == hint]
            if not options:
                return None
        elif named is not Named.NEAREST:
            options = [o for o in options if o[0] == Var("answer") and len(o[1]) == 1
                       and _shares_stem(hint, self.relation_label(o[1][0]))]
            alone = [o for o in options if len(normalise(self.relation_label(o[1][0])).split()) == 1]
            if named is Named.YEARS or not alone:  # the word's alone ("priced": price, not price year), else years
                years = [o for o in options if self._years(qg, o[1][0])]
                options = years if named is Named.YEARS else years or options
            else:
                options = alone
            if not options:
                return None
        sims = self._similar(hint, [lab for _, _, lab, _ in options])
        best = max(range(len(options)), key=lambda i: sims[i] - options[i][3])
        v, preds, label, _ = options[best]
        key = Var("sortkey")
        if preds and preds[0] == "derived":
            _, num, den = preds
            names = {p: Var(f"dim{i}") for i, p in enumerate(num + den)}
            triples: list[Triple] = [(v, p, var) for p, var in names.items()]
            return triples, key, [(key, [names[p] for p in num], [names[p] for p in den])], label
        if preds and preds[0] == "inverse":
            return [(Var("sortmid"), preds[1], v), (Var("sortmid"), preds[2], key)], key, [], label
        if len(preds) == 1:
            return [(v, preds[0], key)], key, [], label
        return [(v, preds[0], Var("sortmid")), (Var("sortmid"), preds[1], key)], key, [], label

    def _derived(self, v: Var, numeric: list[URIRef]) -> list[_Option]:
        """Quantities the graph does not store but its dimensions give: a thing with a width, a height
        and a depth has a volume; with a weight too, a density ("the coil with the highest density")."""
        def having(words: set[str]) -> list[URIRef]:
            return [p for p in numeric if words & set(normalise(self.relation_label(p)).split())]

        dims = {}
        for word in ("width", "height", "depth", "length"):
            found = having({word})
            if found:
                dims[word] = found[0]
        mass = having({"weight", "mass"})
        if len(dims) < 3:
            return []
        three = [dims[w] for w in ("width", "height", "depth", "length") if w in dims][:3]
        out: list[_Option] = [(v, ("derived", three, []), "volume", 0.0)]
        if mass:
            out.append((v, ("derived", [mass[0]], three), "density", 0.0))
        return out

    def _counted_relation(self, qg: QueryGraph, text: str) -> Triple | None:
        """For "the department responsible for the most products": the relation from the answer to
        the things counted, chosen by how well its label (and the type of what it reaches) matches."""
        body = _body(qg)
        options = []
        for forward in (True, False):
            edge = "?answer ?p ?o ." if forward else "?o ?p ?answer ."
            rows = self._select(
                f"SELECT DISTINCT ?p ?t WHERE {{\n{body}\n{edge} FILTER(!isLiteral(?o))\n"
                f"OPTIONAL {{ ?o {iri(RDF.type)} ?t }} }} LIMIT 100", timeout_s=self.settings.kb_timeout_s)
            seen = set()
            for p, t in rows:
                if p == RDF.type or p in self.index.schema_predicates or (p, forward) in seen:
                    continue
                seen.add((p, forward))
                label = self.relation_label(p) + (" " + self.index.label(t).lower() if t is not None else "")
                options.append(((Var("answer"), p, Var("counted")) if forward else (Var("counted"), p, Var("answer")),
                                label))
        if not options:
            return None
        hint = " ".join(w for w in text.split() if w not in STOPWORDS)
        sims = self._similar(hint, [lab for _, lab in options])
        return options[max(range(len(options)), key=lambda i: sims[i])][0]

    def evidence(self, pred: Prediction, node: Node | None = None, n_answers: int = 0) -> GraphEvidence:
        """The typed explanation of a prediction: what was linked, the path, constraints, SPARQL."""
        best = pred.best
        # "Is Berlin a city?" asks what Berlin is, whichever path ranked first
        steps = (Step(RDF.type),) if pred.class_asked else best.path if best else ()

        def entity(c: Candidate) -> LinkedEntity:  # a ranking score past 1 (a longer name's bonus) shows as 1
            return LinkedEntity(iri=str(c.node), label=c.label, score=round(min(1.0, float(c.score)), 4),
                                method=c.method, kind=c.kind)

        return GraphEvidence(
            graph=getattr(self.graph, "name", ""),
            node=None if node is None else node.n3() if isinstance(node, BNode) else str(node),
            anchor=entity(best.anchor) if best else None,
            entities=[entity(c) for c in pred.links[:5]],
            path=[PathStep(relation=str(s.pred), label=self.display_label(s.pred),
                           direction="forward" if s.forward else "inverse") for s in steps],
            constraints=list(pred.constraints),
            sparql=pred.sparql,
            n_answers=n_answers,
            more_answers=pred.limited and n_answers > 1,
        )

    def answer(self, question: str | Question, top_k: int = 5) -> list[Answer]:
        q = Question.of(question, self.settings.max_question_chars)
        self.warm_up()  # a first use's label index is built outside the question's time
        cut: list[Candidate] = []
        token = _CUT_SHORT.set(cut)
        try:
            with recording_timeouts(QUESTION_BUDGET * self.settings.kb_timeout_s) as timeouts:
                pred = self.predict(q.text)
        finally:
            _CUT_SHORT.reset(token)
        timings = pred.timings
        threshold = self.settings.kb_min_confidence
        if threshold is None:
            threshold = self.scorer.threshold
        abstains = pred.best is None or pred.confidence < threshold or pred.unexpressed is not None
        # the paths of a link at least as likely as the answer's anchor were cut short by a slow
        # query ("France", whose capital was never reached, while "Fort-de-France" answered
        # "Martinique" at 0.8): the answer rests on a reading the graph never finished giving
        lost = pred.best is not None and any(c.score >= pred.best.anchor.score for c in cut)
        if pred.timed_out is not None or (timeouts and (abstains or lost)):
            # a likelier reading's answer, or what a "no answer" rests on, was never read: the
            # graph has not said it, so this is the source failing (the engine asks the others)
            n = len(timeouts)
            late = QueryTimeout(f"the graph did not answer in time ({pred.timed_out or timeouts[0]}"
                                + (f"; {n} queries in all" if n > 1 else "")
                                + "): QA_KB_TIMEOUT_S (qa kbqa --timeout) gives each query longer")
            endpoint = getattr(self.graph, "endpoint", None)
            if endpoint:  # a server's client is told what failed, not where the graph lives (`RemoteGraph`)
                late.public = str(late).replace(endpoint, "(the server's endpoint)")
            raise late
        if abstains:
            guess = None
            if pred.answers:
                node, label = pred.answers[0]
                if pred.form == QueryForm.ASK:
                    label = "yes" if pred.boolean else "no"
                guess = Answer(text=label, score=round(pred.confidence, 4), route=Route.KBQA,
                               evidence=self.evidence(pred, node, len(pred.answers)))
            return [Answer.none(Route.KBQA, score=round(1 - pred.confidence, 4), timings=timings,
                                best_guess=guess, evidence=self.evidence(pred))]
        assert pred.best is not None  # else it abstains
        if pred.form == QueryForm.ASK:
            text = "yes" if pred.boolean else "no"
            return [Answer(text=text, score=round(pred.confidence, 4), route=Route.KBQA, timings=timings,
                           evidence=self.evidence(pred, pred.best.anchor.node, 1))]
        return [
            Answer(text=label, score=round(pred.confidence, 4), route=Route.KBQA,
                   raw_score=round(pred.best.score, 4), timings=timings,
                   evidence=self.evidence(pred, node, len(pred.answers)))
            for node, label in pred.answers[:top_k]
        ]


def clip_label(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strip_ordering(text: str, named: set[str]) -> str:
    """The question without its superlative and the attribute it orders by ("the best average
    reliability", "the smallest volume"): those name the ordering, not the path. Words that name
    something in the graph ("the cheapest Encoder") stay."""
    words = normalise(text).split()
    joined = " ".join(words)
    for pattern, _, _ in SUPERLATIVES:
        m = re.search(rf"\b(?:{pattern})\b", joined)
        if not m:
            continue
        start = len(joined[: m.start()].split())
        end = start + len(m.group(0).split())
        dropped = 0
        while end < len(words) and dropped < 2 and words[end] not in STOPWORDS and words[end] not in named:
            end += 1
            dropped += 1
        return " ".join(words[:start] + words[end:])
    return text


def _counted_var(qg: QueryGraph, counted: Triple) -> Var:
    """The variable to count: when the path already reaches the answer by the counted relation
    ("departments with more than 5 employees", the path coming from the employees), its node
    there, which keeps the path's type; else a new one joined by that relation."""
    s, p, o = counted
    for t in qg.triples:
        if t[1] == p and isinstance(t[0], Var) and isinstance(t[2], Var) and (
                (o == Var("answer") and t[2] == o and t[0] != o) or (s == Var("answer") and t[0] == s and t[2] != s)):
            return t[0] if o == Var("answer") else t[2]
    qg.triples.append(counted)
    return Var("counted")


def _alternative(c: Candidate, links: list[Candidate], words: list[str]) -> Candidate | None:
    """The candidate joined to `c` by "or" ("French or German", "Sensor or Switch"), of the same kind."""
    for o in links:
        if o.node == c.node or o.kind != c.kind or o.score < 0.7 or o.via != c.via:
            continue
        between = words[c.end:o.start] if o.start >= c.end else words[o.end:c.start]
        if between and between[0] == "or" and len(between) <= 2:
            return o
    return None


def _inside_a_name(c: Candidate, links: list[Candidate]) -> bool:
    """A class word that is part of a longer name linked at least as surely ("product" in "What is
    the price of Product Line 7?"): no anchor of its own, whose members answered instead."""
    return c.kind == LinkKind.CLASS and any(
        o.kind != LinkKind.CLASS and o.start <= c.start and c.end <= o.end and o.end - o.start > c.end - c.start
        and o.score >= max(c.score, 0.9) for o in links)


def _answer_first(qg: QueryGraph) -> list[Var]:
    """?answer, then the path's other variables in the order they appear."""
    out: list[Var] = [Var("answer")]
    for t in qg.triples:
        for x in t:
            if isinstance(x, Var) and x not in out:
                out.append(x)
    return out


# "the number of cities", "total number of": a count; "the phone number of", "registration number of": a value
_NUMBER_OF = re.compile(r"(?:^|\b(?:the|a|total|overall|what s|whats)\s+)number\s+of\b")
# a number as a question writes it: "1000000", "2.5", "1e9", "1.5e6", "10^9", "10**9", "10⁹", "1.5 x 10^6";
# whole or not at all (atomic), so that a pattern failing after "10^3" never takes its "10" instead
_NUM = (r"(?<![\w.])(?>(?P<num>(?P<base>\d+(?:\.\d+)?)(?:e(?P<e>[+-]?\d+)|(?:\s*[x×*·]\s*(?P<ten>10))?"
        r"(?:\s*(?:\^|\*\*)\s*(?P<pow>[+-]?\d+)|(?P<sup>[⁺⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)))?))(?![\w.]*\w)")
_NUMBER = re.compile(_NUM)
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
# "after the year 1900" compares as "after 1900" does
_THE_YEAR = r"(?:(?:(?<=after )|(?<=before )|(?<=since ))(?:the )?year )?"
# "a population over 1000000", "weight under 50": the attribute named before a comparison with a number
# a noun after the number may be its unit ("a population over 1000000 inhabitants", "under 5
# dollars") or what is counted ("with more than 5 employees"): `KBQA._compared_attribute` decides
_NUMERIC = re.compile(r"\b(?P<attr>[a-z]+) (?:of |is |(?:that |which )(?:is |are ))?"
                      r"(?P<cmp>under|below|less than|over|above|more than|greater than|at least|at most|after|"
                      r"before|since|cheaper than|more expensive than|less expensive than|pricier than) "
                      + _THE_YEAR + _NUM + r"(?=(?: (?P<noun>[a-z]+)\b)?)")
# "a population between 1e6 and 2e6": both ends held (the numbers are whole tokens in `_numbers_kept`)
_BETWEEN = re.compile(r"\b(?P<attr>[a-z]+) (?:of |is )?(?P<cmp>between) (?P<low>\S+) and (?P<high>\S+)"
                      r"(?=(?: (?P<noun>[a-z]+)\b)?)")
# "formed in 1992", "founded in the year 1850": a year the answer's time must be (with a participle
# before it and a year's number only: "the population in 2000" names when, not what)
# ("in 1990 or 2005", "in 1990 and after", "in 1990 to 1995": several years, `more`; "launched in 1969
# and had a crew of 3" is one)
_IN_YEAR = re.compile(r"\b(?P<attr>[a-z]+) (?P<cmp>in) (?:the )?(?:year )?" + _NUM
                      + r"(?P<more> (?:or\b|(?:and|to|through|until)"
                        r"(?= (?:in )?\d| (?:after|before|later|earlier)\b)))?")
# "over 1e6 and under 4e6": the second comparison is of the same attribute; "or" is no AND of
# filters, so a comparison after it is left to `_unexpressed`
_JOINING = frozenset({"and", "but"})
# "founded after 1900", "built before 1800": a year is a number like any other where the graph stores it
# as one; where it stores none, `_unexpressed` says the comparison was not held
_NUMERIC_OPS = {"after": ">", "before": "<", "since": ">=",
                "under": "<", "below": "<", "less than": "<", "over": ">", "above": ">", "more than": ">",
                "greater than": ">", "at least": ">=", "at most": "<=",
                # a comparative of price: "Which products are cheaper than 100?" listed every product
                "cheaper than": "<", "more expensive than": ">", "less expensive than": "<", "pricier than": ">"}
_TIME_TYPES = ", ".join(f"<{XSD}{t}>" for t in ("date", "dateTime", "gYear"))
_PRICE_COMPARING = frozenset({"cheaper than", "more expensive than", "less expensive than", "pricier than"})
_TOP = re.compile(r"\btop (\d{1,3})\b")
# "the second cheapest", "the 11th highest": an ordinal just before a superlative
_ORDINALS = {w: i for i, w in enumerate("""first second third fourth fifth sixth seventh eighth ninth tenth eleventh
    twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth""".split(), 1)}
_ORDINAL = rf"(?:{'|'.join(_ORDINALS)}|\d{{1,4}}(?:st|nd|rd|th))"
_ORDINAL_BEFORE = re.compile(rf"(?:\b(?P<first>{_ORDINAL}) to )?\b(?P<nth>{_ORDINAL})\s+$")


def _ordinal(word: str) -> int:
    return _ORDINALS.get(word) or int(word[:-2])
# what a query of paths and filters does not say, outside yes/no questions (`_beyond_query`)
_EXCLUDING = re.compile(r"\b(except|excepting|excluding|other than|apart from|aside from|besides|but not)\b")
_AGGREGATE = re.compile(r"\b(average|median|sum|(?<=\bthe )mean|(?<=\ba )mean|total(?! number))\b")
_COORDINATED = frozenset({"and", "or", "nor"})
# "more than 5 employees", "at least 3 products": a count per answer compared with a number
_HAVING = re.compile(r"\b(?P<cmp>more than|over|at least|fewer than|less than|at most|exactly) " + _NUM
                     + r" (?P<noun>[a-z]+)")
_HAVING_OPS = {"more than": ">", "over": ">", "at least": ">=", "fewer than": "<", "less than": "<",
               "at most": "<=", "exactly": "="}
# "a population over 1e400", "more than 1e400 employees", "a weight under 1e400 grams": every comparison
# a query holds a value or a count to, whatever follows it, for `_unexpressed` to find the ones it could not
_COMPARING = "|".join(sorted({*_NUMERIC_OPS, *_HAVING_OPS}, key=len, reverse=True))
# (a word after the number is its unit or what it counts, never the next comparison: "a population
# over 1000000 since 1990" holds two)
_COMPARED = re.compile(r"(?:\b[a-z]+ (?:of |is )?)?\b(?P<cmp>" + _COMPARING + ") " + _THE_YEAR + _NUM
                       + r"(?: (?!(?:" + _COMPARING + r")\b)[a-z]+)?")
_THEIR_NAMES = re.compile(r"\b(?:their|the) names\b")
_NAME_OF = re.compile(r"\b(?:the\s+)?names?\s+of\b")
_COUNT_SUPERLATIVE = re.compile(r"(?<!\bat )\b(most|fewest|least)\s+([a-z]+)")  # "at least one" is no superlative
# "the most expensive" orders by an attribute; "the most products" counts
_ADJECTIVE = re.compile(r"(ive|able|ible|ous|ful|al|ent|ant|ic|ed|y|er|est)$")


# "- list id and name -", "? List their dimensions.": a clause of its own asking for more columns
_COLUMNS = re.compile(r"[.?!,;:(\-\u2013\u2014]\s*(?:please\s+)?(?:list|show|give me|with)\s+(?:their|its|the)?\s*"
                      r"([A-Za-z][A-Za-z ,]*?)\s*(?=[.?!;:)\-\u2013\u2014]|$)", re.IGNORECASE)
# "have no active product manager", "with no supplier": a relation the answer lacks
_LACKS = re.compile(r"\b(?:have|has|with|having) no ((?:active|current|existing|valid) )?((?:[a-z]+ ?){1,3})")
# "wider than they are tall": two attributes of the answer compared
_COMPARE = re.compile(r"\b([a-z]+er) than (?:they are |it is |they re |its |their )?([a-z]+)\b")
# adjective (and its comparative) -> (attribute word, direction)
ADJECTIVES = {"wide": ("width", 1), "tall": ("height", 1), "high": ("height", 1), "deep": ("depth", 1),
              "long": ("length", 1), "heavy": ("weight", 1), "light": ("weight", -1), "big": ("size", 1),
              "large": ("size", 1), "small": ("size", -1), "old": ("age", 1), "young": ("age", -1),
              "short": ("length", -1), "thick": ("thickness", 1), "thin": ("thickness", -1)}
COMPARATIVES = {"wider": "wide", "taller": "tall", "higher": "high", "deeper": "deep", "longer": "long",
                "heavier": "heavy", "lighter": "light", "bigger": "big", "larger": "large", "smaller": "small",
                "older": "old", "younger": "young", "shorter": "short", "thicker": "thick", "thinner": "thin"}
DIMENSIONS = ("width", "height", "depth", "length")


def _shapes(text: str, words: list[str]) -> Shapes:
    """Find the phrases that shape the query (see `Shapes`) in the question and its normalised words."""
    out = Shapes()
    joined = " ".join(words)
    for col in _COLUMNS.finditer(text):
        items = [normalise(x) for x in re.split(r",|\band\b", col.group(1)) if normalise(x)]
        if not items or any(len(x.split()) > 2 for x in items) or len(items) > 6:
            continue
        start = len(normalise(text[: col.start()]).split())
        out.removed |= set(range(start, start + len(normalise(col.group(0)).split())))
        out.columns = items
        break
    m = _LACKS.search(joined)
    if m:
        start = len(joined[: m.start()].split())
        out.lacks = (m.group(2).strip(), bool(m.group(1)))
        out.lacks_span = (start, start + len(m.group(0).split()))
    m = _COMPARE.search(joined)
    if m and m.group(1) in COMPARATIVES and m.group(2) in ADJECTIVES:
        a, sign = ADJECTIVES[COMPARATIVES[m.group(1)]]
        b, _ = ADJECTIVES[m.group(2)]
        if a != b:
            out.compare = (a, ">" if sign > 0 else "<", b)
            start = len(joined[: m.start()].split())
            out.removed |= set(range(start, start + len(m.group(0).split())))
    return out


# "Can you tell me ...", "Do you know which ...": a request for the answer, not a yes/no question
_REQUEST = re.compile(r"^(?:can|could|would|will|do|did) (?:you|u) (?:please )?(?:tell|give|show|list|name|find|say|"
                      r"let|know (?:what|which|who|whom|where|when|how|the))\b")


# "more than 500 million", "older than 90", "before 2000", "30 years old": a number a value must meet
_ASKED_NUMBER = re.compile(
    r"\b(?:(?P<op>more than|over|above|greater than|at least|fewer than|less than|under|below|at most|exactly|"
    r"older than|younger than|bigger than|larger than|smaller than|higher than|lower than|taller than|"
    r"shorter than|longer than|heavier than|lighter than|cheaper than|more expensive than|less expensive than|"
    r"pricier than|costlier than|newer than|wider than|narrower than|faster than|slower than|deeper than|"
    r"shallower than|before|after|since|in)\s+)?"
    + _NUM + r"\b")  # a scale word ("500 million") is already the number's (`_numbers_kept`)
_ASKED_OPS = {"more": ">", "over": ">", "above": ">", "greater": ">", "older": ">", "bigger": ">",
              "larger": ">", "higher": ">", "taller": ">", "longer": ">", "heavier": ">", "after": ">",
              "fewer": "<", "less": "<", "under": "<", "below": "<", "younger": "<", "smaller": "<",
              "lower": "<", "shorter": "<", "lighter": "<", "before": "<", "since": ">=",
              # "cheaper than 20" was "= 20" ("Is Sprocket cheaper than 20?" "no" at 0.94 at 12.25)
              "cheaper": "<", "pricier": ">", "costlier": ">", "newer": ">", "wider": ">", "narrower": "<",
              "faster": ">", "slower": "<", "deeper": ">", "shallower": "<"}
_CONTRACTED = frozenset({"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "haven", "hasn", "hadn", "won",
                         "can", "couldn", "shouldn", "wouldn"})


def _asked_number(question: str, links: list[Candidate]) -> tuple[str, float, str] | None:
    """(operator, number, the number as written) for the number a yes/no question holds
    ("Does Germany have more than 500 million inhabitants?": ">", 5e8); None without one, and for a
    number that belongs to a name the question links ("Is Apollo 11 ..."). The number is inf where
    no double holds it ("1e400") and nan where it has no value ("0^-1"): the caller cannot compare
    with it."""
    named = {w for c in links if c.score >= 0.7 for w in normalise(c.label).split()}
    for m in _ASKED_NUMBER.finditer(_numbers_kept(question)):
        if m["num"] in named:
            continue
        phrase = m["op"] or ""
        word = phrase.split()[0] if phrase else ""
        op = "<=" if phrase == "at most" else ">=" if phrase == "at least" else _ASKED_OPS.get(word, "=")
        return op, _number(m), m["num"]
    return None


def _numbers_kept(question: str) -> str:
    """`normalise(question)` with each number whole: normalising splits "1.5e6" and "10^9" at their
    punctuation ("1 5e6", "10 9"), and a comparison then read their first digits; thousands
    separators go ("1,000,000"), and a scale word is the number's ("3.5 million" is 3500000: "a
    population of more than 3 million" compared with 3)."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", question.lower())
    parts, last = [], 0
    for m in _NUMBER.finditer(text):
        parts += [normalise(text[last:m.start()]), re.sub(r"\s+", "", m["num"])]
        last = m.end()
    parts.append(normalise(text[last:]))
    return _SCALED.sub(_scaled, " ".join(p for p in parts if p))


_SCALED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) (thousand|million|billion|trillion)\b")
_SCALE_POWERS = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}


def _scaled(m: re.Match[str]) -> str:
    """"3.5 million" as the plain number "3500000" (exact: decimal, not a float's 3499999.9...)."""
    value = Decimal(m[1]).scaleb(_SCALE_POWERS[m[2]])
    return format(value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize(), "f")


def _number(m: re.Match[str]) -> float:
    """The value of a number `_NUM` matched; inf where no double holds it ("1e400", "10^400"), nan
    where it has no value ("0^-1"), so that a note says which of the two kept it out of the query."""
    power = m["e"] or m["pow"] or (m["sup"] or "").translate(_SUPERSCRIPT)
    if not power:
        return float(m["base"])
    if m["e"] or m["ten"]:
        return float(f"{m['base']}e{power}")  # decimal, so "1.1e3" is 1100 exactly; float() reads "1e400" as inf
    try:
        return float(m["base"]) ** float(power)
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.nan


@dataclass
class _Compared:
    """An attribute's value compared with a number, as the question writes it."""

    attr: str  # the word before the comparison, which may name the attribute
    op: str  # the SPARQL operator
    number: float  # inf / nan where no double holds it (see `_number`)
    written: str  # the number as written, for the constraint shown
    at: int  # where the comparison word starts in `_numbers_kept(question)`
    noun: str = ""  # the word after the number (not a stopword): its unit, or what is counted
    joined: str = ""  # after "and"/"but": the attribute word of the comparison before
    cmp: str = ""  # the comparison as written: "over", "more than", "after", "between"
    named: Named = Named.NEAREST  # how closely the attribute compared must be the word's (`Named`)


def _value_comparisons(question: str) -> list[_Compared]:
    """The comparisons of a value with a number the question makes ("a population over 1e6",
    "under 1000000 inhabitants", "between 1e6 and 2e6", "over 1e6 and under 4e6"), before the
    graph is asked which of them name an attribute (`KBQA._compared_attribute`)."""
    text = _numbers_kept(question)
    out: list[_Compared] = []
    for f in _NUMERIC.finditer(text):
        noun = f["noun"] if f["noun"] and f["noun"] not in STOPWORDS else ""
        joined = out[-1].joined or out[-1].attr if f["attr"] in _JOINING and out else ""
        attr = joined if joined and not noun else f["attr"]
        if f["cmp"] in _PRICE_COMPARING:  # "are cheaper than 100": the word before says nothing, the comparative does
            attr = "price"
        out.append(_Compared(attr, _NUMERIC_OPS[f["cmp"]], _number(f), f["num"], f.start("cmp"), noun, joined,
                             f["cmp"], Named.YEARS if f["cmp"] in TIME_COMPARING else Named.NEAREST))
    for b in _BETWEEN.finditer(text):
        low, high = _NUMBER.fullmatch(b["low"]), _NUMBER.fullmatch(b["high"])
        if low is None or high is None:
            continue
        noun = b["noun"] if b["noun"] and b["noun"] not in STOPWORDS else ""
        (lo, lo_written), (hi, hi_written) = sorted([(_number(low), b["low"]), (_number(high), b["high"])],
                                                    key=lambda x: x[0] if not math.isnan(x[0]) else 0.0)
        # "founded between 1000 and 1500": numbers like years after a word that may say when; only
        # an attribute the word names holds them ("priced": price), not the nearest number (the
        # population); a range of other numbers, or one with a unit ("located between 1000 and
        # 1500 metres"), is a value like any other
        timed = not noun and _participle(b["attr"]) and _year(hi) and math.isfinite(lo) and lo == int(lo)
        named = Named.STEM if timed else Named.NEAREST
        out += [_Compared(b["attr"], ">=", lo, lo_written, b.start("cmp"), noun, cmp="between", named=named),
                _Compared(b["attr"], "<=", hi, hi_written, b.start("cmp"), noun, cmp="between", named=named)]
    for m in _IN_YEAR.finditer(text):  # "formed in 1992" (at the year: "located in 1000 Islands" is a name)
        if _in_year(m) and not m["more"]:  # "in 1990 or 2005": no single filter holds it; `_unexpressed` says so
            out.append(_Compared(m["attr"], "=", _number(m), m["num"], m.start("num"), cmp="in", named=Named.YEARS))
    return out


_ZONED = re.compile(r"(?:Z|[+-]\d\d:\d\d)$")


def _year_start(kind: type, year: int, literals: list[Literal]) -> Literal:
    """The first instant of `year` as a bound for the graph's dates or times: in UTC where they carry
    a time zone, as SPARQL cannot order a zoned value against one without a zone within 14 hours of
    it (the filter failed, and such a value was neither before nor in the year)."""
    if not any(_ZONED.search(str(lit)) for lit in literals):
        return Literal(kind(year, 1, 1))
    if kind is datetime.datetime:
        return Literal(f"{year:04d}-01-01T00:00:00Z", datatype=XSD.dateTime)
    return Literal(f"{year:04d}-01-01Z", datatype=XSD.date)


# a day ("1900-06-01", "1900/06/01") or a year before the common era ("500 BC", "44 B.C.E.") in a question
# (the era after a word that says when: "the 10 BC cities" are British Columbia's)
_FINER_THAN_YEAR = re.compile(r"\b\d{1,4}[-/]\d{1,2}[-/]\d{1,2}\b|\b(?:in|before|after|since|until|till|by|from|to|"
                              r"around|circa|year)\s+\d+\s*(?:bc|bce|b\.c\.(?:e\.)?)(?!\w)", re.IGNORECASE)


def _year(x: float) -> bool:
    """Whether a number as written in a question reads as a year (`YEAR_FROM` to `MAX_YEAR`, whole)."""
    return math.isfinite(x) and x == int(x) and YEAR_FROM <= x <= MAX_YEAR


def _participle(word: str) -> bool:
    """Whether the word before a year may say when something happened ("founded", "built", "born")
    rather than name a quantity ("population", "height"); "speed" passes too, and then names its
    attribute by its stem."""
    return word.endswith("ed") or word in _IRREGULAR_PARTICIPLES


def _in_year(m: re.Match[str]) -> bool:
    """Whether an `_IN_YEAR` match compares a time with a year ("formed in 1992", also "built in 1990
    or 2005"), not a quantity with a number."""
    return _participle(m["attr"]) and _year(_number(m))


def _shares_stem(word: str, label: str) -> bool:
    """Whether a word of `label` begins like `word` (their first `STEM_CHARS` letters and at least
    half of the shorter one): "founded" / "foundation", "opened" / "opening", "published" /
    "publication"; not "born" / "birth" (such pairs are said rather than guessed)."""
    for other in normalise(label).split():
        if other.endswith("s") and not other.endswith("ss") and not word.endswith("s"):
            continue  # "inhabitants", "publications", "founders": things counted, not a time
        n = len(os.path.commonprefix([word, other]))
        if n >= STEM_CHARS and n >= min(len(word), len(other)) / 2:
            return True
    return False


def _name_ranges(kept: str, links: list[Candidate]) -> list[tuple[int, int]]:
    """Where in `_numbers_kept(question)` the names the question links surely stand (each name's
    words as whole words): a comparison inside one is part of the name ("the hometown of After 7",
    "the Under 21 League"), one elsewhere is a comparison ("... with an age under 21")."""
    out = []
    for c in links:
        if c.score >= 0.8:
            name = _numbers_kept(c.label)
            if name:
                out += [(m.start(), m.end()) for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", kept)]
    return out


def _outside_names(found: list[_Compared], question: str, links: list[Candidate]) -> list[_Compared]:
    """The comparisons that are not part of a name the question links surely (`_name_ranges`), nor
    a year after "in" that a linked name is made of ("starred in 2012": the film "2012 (film)")."""
    ranges = _name_ranges(_numbers_kept(question), links)
    linked = _linked_words(question, links)
    return [f for f in found if not any(a <= f.at < b for a, b in ranges)
            and not (f.cmp == "in" and f.written in linked)]


def _linked_words(question: str, links: list[Candidate]) -> set[str]:
    """The question's words that a thing (not a class) the question links surely stands on (a
    word-by-word link of "2012" alone is no reason to drop "released in 2012")."""
    words = normalise(question).split()
    return {w for c in links if c.kind != LinkKind.CLASS and c.score >= 0.8 for w in words[c.start:c.end]}


def _uncompared(number: float, written: str) -> str:
    """Why a number no query holds was left out: "0^-1" is not large, it is no number at all."""
    return f"{written}: " + ("too large to compare" if math.isinf(number) else "not a number, cannot be compared")


def _number_literal(number: float) -> Literal:
    """A number as a literal every store compares: an integer while it fits 64 bits (past them
    Oxigraph's xsd:integer is an error, and the FILTER false whatever the values), a double beyond."""
    return Literal(int(number) if number.is_integer() and abs(number) < 2**63 else number)


def _shadowed(pred: Prediction) -> tuple[str, float] | None:
    """The answer is another thing's than the one the question names exactly, where the exact one
    lacks what is asked and a weaker match of a few of its words has it: "the email of Annabelle
    Berg" answered with Anna Berg's (a token match at 0.53 beside the exact 1.00) at 0.96 once a
    scorer was trained. The question asks of the thing it names: a guess at 0.5 at most."""
    best = pred.best
    if best is None or best.anchor.method.verbatim or best.anchor.kind != LinkKind.ENTITY:
        return None
    for c in pred.links:
        if (c.kind == LinkKind.ENTITY and c.method.verbatim and c.node != best.anchor.node
                and c.score >= best.anchor.score + 0.2 and c.start < best.anchor.end and best.anchor.start < c.end):
            return f"the question names {c.label}; this answer is {best.anchor.label}'s", 0.5
    return None


def _unexpressed(words: list[str], pred: Prediction) -> tuple[str, float] | None:
    """What the question asks that its query leaves out, and the most its answer may then be
    trusted: a negation ("Which countries are not in Europe?" answered with countries in Europe:
    next to never right), or a number the query does not hold the answer to: one a yes/no answer
    must meet, or one a value ("a population over 1e400") or a count per answer ("more than 1e400
    employees") is compared with. Without its number an answer is right about as often as not (a
    "yes" whatever the value, every answer where some were asked), so a guess at 0.5. Outside
    yes/no questions only a number no query can hold is looked for (past a double, or none at all:
    "0^-1"), or one the query holds no filter or count for (no attribute or count found for it)."""
    said = {i for c in pred.links if c.score >= 0.8 for i in range(c.start, c.end)}  # "Don't Stop Believin'"
    if pred.negated is not None:
        said |= set(range(pred.negated[0], pred.negated[1].end))
    if pred.unordered is not None and pred.answers:
        # the first of n unordered answers is the one asked about about one time in n
        return (f"the superlative '{pred.unordered}' (no value of the answers to order them by)",
                min(0.5, 1.0 / len(pred.answers)))
    if pred.shapes is not None and pred.shapes.lacks is not None and any(c.startswith("lacks:")
                                                                          for c in pred.constraints):
        said |= set(range(*pred.shapes.lacks_span))
    for i, w in enumerate(words):
        contracted = w == "t" and i > 0 and words[i - 1] in _CONTRACTED
        if i not in said and (w in NEGATIONS or contracted) and not (contracted and i == 1):
            return f"the negation '{w if not contracted else words[i - 1] + chr(39) + 't'}'", 0.0
    # each value filter names its number as written; a count per answer holds the one `_HAVING` found
    held = [c.rsplit(" ", 1)[-1] for c in pred.constraints
            if c.startswith("filter: ") and not c.startswith("filter: answer")]
    # a time finer or older than a year the filters compare: "before 1900-06-01" was held to 1900 alone,
    # "before 500 BC" to AD 500; said, as the query compares something else
    finer = _FINER_THAN_YEAR.search(pred.question)
    if finer is not None:
        return f"'{finer[0]}' (a date is compared by its year alone, and a year before the common era not at all)", 0.5
    if pred.form == QueryForm.ASK and pred.unheld is not None:
        return f"'{pred.unheld.label}' (named, but nothing in the query holds it)", 0.5
    if pred.form == QueryForm.ASK and (left := _left_out(words, pred)) is not None:
        return f"'{left}' (the query checks the statement without it)", 0.5
    if pred.form == QueryForm.ASK:
        # the path's value held to the number ("filter: answer < 2000-01-01", written as the value's
        # type), or an attribute of the answers held to it as the question writes it
        asked = _asked_number(pred.question, pred.links)
        if asked is not None and asked[2] not in held and not any(c.startswith("filter: answer")
                                                                  for c in pred.constraints):
            beyond = "" if math.isfinite(asked[1]) else f" ({_uncompared(asked[1], asked[2])})"
            return "the number the value must meet" + beyond, 0.5
        if not held:
            return None
        # "Are there departments with a budget under 150 and more than 5 employees?": every
        # comparison the answers' attributes were held to, and every other, must be held
    counted = any(c.startswith("count per answer") for c in pred.constraints)
    kept = _numbers_kept(pred.question)
    names = _name_ranges(kept, pred.links)  # "the Under 21 League"
    # (phrase, comparison word, number as written): both ends of a range ("between 1e6 and 2e6"),
    # then each comparison ("a population over 1e400", "more than 3 hospitals")
    compared = [(b[0], "between", w, b.start("cmp")) for b in _BETWEEN.finditer(kept) for w in (b["low"], b["high"])]
    compared += [(f[0], f["cmp"].split()[-1], f["num"], f.start("cmp")) for f in _COMPARED.finditer(kept)]
    linked = _linked_words(pred.question, pred.links)
    # "founded in 250" too: no filter holds a year before `YEAR_FROM` (or "built in 3 weeks", a span), and
    # it was left out without a word, every city answered
    compared += [(m[0].removesuffix(m["more"] or ""), "in", m["num"], m.start("num")) for m in _IN_YEAR.finditer(kept)
                 if _participle(m["attr"]) and m["num"] not in linked]
    for phrase, word, written, at in compared:
        number = _NUMBER.fullmatch(written)
        if number is None or any(a <= at < b for a, b in names):
            continue
        if not math.isfinite(value := _number(number)):
            return f"'{phrase}' ({_uncompared(value, written)})", 0.5
        if written in held:
            held.remove(written)
        elif counted and word != "between":
            counted = False
        else:  # "cities with more than 3 hospitals" over a graph without hospitals: every city
            return f"'{phrase}' (no filter or count of the query holds it)", 0.5
    return None


def _left_out(words: list[str], pred: Prediction) -> str | None:
    """A qualifier or superlative of a yes/no question outside the names it links: the ASK checks
    the plainer statement ("the capital", not "the former capital"), right only by chance."""
    named = {i for c in pred.links if c.score >= 0.75 for i in range(c.start, c.end)}
    guessed = {i for c in pred.links for i in range(c.start, c.end)} - named
    for i, w in enumerate(words):
        if i not in named and (w in _QUALIFIERS or (w in _NAME_QUALIFIERS and i + 1 not in guessed)):
            return w
    text = " ".join(words)
    for pattern, _, _ in SUPERLATIVES:
        m = re.search(rf"\b(?:{pattern})\b", text)
        if m and len(text[: m.start()].split()) not in named:
            return m[0]
    return None


def _yes_no(words: list[str]) -> bool:
    return bool(words) and words[0] in YES_NO_STARTS and not _REQUEST.match(" ".join(words[:6]))


def _asked_classes(links: list[Candidate], words: list[str]) -> set[Node]:
    """"which department ...", "how many suppliers ...", "all BOMs which ...": the classes the
    question names as its answer's type."""
    classes = [c for c in links if c.kind == LinkKind.CLASS]
    asked = {c.node for c in classes if (c.start >= 1 and words[c.start - 1] in {"which", "what", "all", "every"})
             or words[max(0, c.start - 2):c.start] in (["how", "many"], ["number", "of"])}
    first = min(classes, key=lambda c: c.start, default=None)
    if first is not None and {"which", "what"} & set(words[max(0, first.start - 5):first.start]):
        asked.add(first.node)  # "what are the top 5 suppliers ...": the first class named is asked for
    return asked


def _relation_words(words: list[str], anchor: Candidate, links: list[Candidate]) -> list[str]:
    """The question's words that can name relations: not the anchor, not another named thing (those
    are constraints), not stop words or numbers."""
    skip = set(range(anchor.start, anchor.end))
    for c in links:
        if c.kind != LinkKind.CLASS and c.score >= 0.75 and c.node != anchor.node:
            skip |= set(range(c.start, c.end))
    return [w for i, w in enumerate(words) if i not in skip and w not in STOPWORDS and len(w) > 1
            and not w.isdigit()]


def _unlinked_names(question: str, links: list[Candidate]) -> int:
    """Capitalised words after the first that no linked thing covers ("Which continent is Ruritania
    in?", "the languages of San Theodoros" with only "San" found): a name the graph may not have."""
    linked = {i for c in links if c.score >= 0.6 for i in range(c.start, c.end)}
    n = 0
    for i, w in enumerate(cased_tokens(question)):
        if i and len(w) > 1 and w[0].isupper() and not w.isupper() and i not in linked \
                and w.lower() not in STOPWORDS:
            n += 1
    return n


def _order(r: Ranked) -> tuple[float, str, list[str]]:
    """Best score first; ties broken by anchor and path so every store gives the same ranking."""
    return (-round(r.score, 9), str(r.anchor.node), [s.key for s in r.path])


def _body(qg: QueryGraph) -> str:
    """The query graph's triple patterns as SPARQL lines, for the probing queries built around it."""
    return "\n".join(f"{_t(s)} {_t(p)} {_t(o)} ." for s, p, o in qg.triples)


def _t(x: Node | Var | _TypePath | str) -> str:
    from kb.sparql import term

    return term(x)


def gold_path(relations: list[str]) -> Path:
    from kb.loaders import relation_iri

    return tuple(Step(relation_iri(r), True) for r in relations)
