"""The engine: one object that owns the answer sources and the readers, routes a question and
returns answers in the one response shape. The CLI (`qa ask`, `qa chat`), the REST API and the UI
all call it, so a question gets the same answer whichever way it comes in.

Sources are built from `Settings` on first use and kept (a light constructor, `warm_up()` for
servers that want the cost paid at start). `ask` routes: the classifier orders the sources (but
a store that holds the question itself, in nearly the same words, goes first: the classifier
knows kinds of question, not what a store holds), the first is asked, and while the best
calibrated score stays below `router_min_score` the next one is asked too; the answers that are
most likely right win. Only when every source asked says
"no answer" is the response a "no answer", and it still shows the best guess.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from qa.core.atomic import aside, file_stamp
from qa.core.errors import (
    LOGGED,
    ConfigError,
    ConflictError,
    DamagedCollection,
    DataFormatError,
    InputError,
    NotFoundError,
    QAError,
    SourceUnavailable,
    error_type_of,
    unavailable_as,
)
from qa.core.settings import RouteChoice, Settings
from qa.core.text import SURROGATE
from qa.core.types import Answer, AnswerSource, HoldsQuestions, Question, Response, Route, Routing
from qa.followup import rewrite

if TYPE_CHECKING:
    from mrc.choice import ChoiceReader
    from mrc.span import SpanReader
    from qa.router import Router
    from qa.webqa import WebQA
    from retrieval.documents import Document
    from retrieval.passage import RetrievedPassage

SourceBuilder = Callable[["Engine"], AnswerSource]
# How the engine builds each route's source when none is passed in. The routes are a closed set
# (`Route`): a source of your own stands in for one of them (`Engine(sources={Route.KBQA: yours})`).
BUILDERS: dict[Route, SourceBuilder] = {}
ANSWERING = (Route.WEBQA, Route.KBQA, Route.CQA)  # the routes a question goes to ("reader" is `read`)


def _build_webqa(engine: Engine) -> AnswerSource:
    from qa.webqa import WebQA

    return WebQA(engine.settings, encoder=engine.encoder, reader=engine.span_reader)


def _build_kbqa(engine: Engine) -> AnswerSource:
    """The graph the settings name; when it loads, KBQA finds the graph's cached label index and the
    scorer `qa kb train` made for it by the graph's content hash (`kb_scorer` overrides)."""
    from kb.pipeline import KBQA, KBQAConfig

    s = engine.settings
    config = KBQAConfig(max_hops=s.kb_max_hops, top_anchors=s.kb_top_anchors)
    return KBQA(s, config=config, encoder=engine.encoder)


def _build_cqa(engine: Engine) -> AnswerSource:
    from cqa.matcher import CommunityQA
    from qa.models import shared_judge, shared_question_judge

    return CommunityQA(engine.settings, encoder=engine.encoder, span_reader=engine.span_reader,
                       judge=shared_judge(engine.settings), question_judge=shared_question_judge(engine.settings))


BUILDERS[Route.WEBQA] = _build_webqa
BUILDERS[Route.KBQA] = _build_kbqa
BUILDERS[Route.CQA] = _build_cqa


log = logging.getLogger(__name__)

# the most answers `ask` returns and passages `search` finds for one call (the settings' own bound,
# and one no collection's reading needs more than): a caller's 10**9 would allocate for it
MAX_TOP_K = 100
MAX_SEARCH_K = 1000


def _check_count(value: object, name: str, most: int) -> int:
    """A count a caller passes (`top_k`, `k`): a whole number from 1 to `most` (a NumPy integer is
    one). A string or a float failed deep inside the sources (logged as their failure), -1 returned
    every answer but one."""
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        count = None
    if isinstance(value, bool) or count is None or not 1 <= count <= most:
        raise InputError(f"{name} must be a whole number from 1 to {most}, not {value!r}")
    return count


def _answering(route: object, where: str) -> Route:
    """A route a question can be sent to, from a caller's `Route` or its name: a name of one's own
    ("glossary") was dropped without a word, and "reader" (`read`, not `ask`) offered and refused."""
    try:
        r = Route(str(route))
    except ValueError:
        r = None
    if r not in ANSWERING:
        raise InputError(f"{where}: no route {str(route)!r}; one of {', '.join(ANSWERING)} (a source of your own "
                         "stands in for one of them)")
    return cast(Route, r)


class SourceContractError(QAError):
    """A source answered with something the `AnswerSource` interface does not allow: its bug, told
    as one (the others still answer; forced to it, a 500 that says so), not passed on to users as a
    score out of [0, 1] or no answer. A `QAError`, as everything the library raises."""

    http_status = 500
    error_type = "source_error"


def _as_promised(route: Route, answers: object, top_k: int) -> list[Answer]:
    """A source's answers as the interface promises them, checked: a list of at least one `Answer`,
    each score a probability (pydantic checks it when an answer is built, not on `model_copy`, so a
    1.7 or a NaN reached clients), cut to `top_k`."""
    import math

    if not isinstance(answers, list | tuple):
        raise SourceContractError(f"the {route} source returned {type(answers).__name__}, not a list of Answer")
    if not answers:
        raise SourceContractError(f"the {route} source returned no answer: a source with none says so with "
                                  "Answer.none(route, probability that abstaining is right)")
    for a in answers:
        if not isinstance(a, Answer):
            raise SourceContractError(f"the {route} source returned a {type(a).__name__} among its answers, "
                                      "not an Answer")
        if a.route != route:
            raise SourceContractError(f"the {route} source answered as the route {a.route}: its answers name its own")
        if isinstance(a.score, bool) or not isinstance(a.score, int | float) or not math.isfinite(a.score) \
                or not 0.0 <= a.score <= 1.0:
            raise SourceContractError(f"the {route} source gave the score {a.score!r}: a probability in [0, 1] "
                                      "expected")
    return list(answers[:top_k])


def _check_documents(documents: object) -> None:
    """Documents a caller passes to `add_documents`, checked before anything is chunked or written:
    a date in the metadata, text None or a lone surrogate failed in the middle of indexing with
    Python's own TypeError or AttributeError."""
    import json

    from retrieval.documents import Document

    if isinstance(documents, (str, bytes, Document)) or not isinstance(documents, Sequence):
        raise InputError("documents must be a list of Document")
    seen: set[str] = set()
    for i, doc in enumerate(documents):
        if not isinstance(doc, Document):
            raise InputError(f"documents[{i}] is a {type(doc).__name__}, not a Document")
        name = doc.doc_id if isinstance(doc.doc_id, str) else f"documents[{i}]"
        for field in ("doc_id", "text", "title", "source"):
            value = getattr(doc, field)
            if not isinstance(value, str):
                raise InputError(f"document {name!r}: {field} must be a string, not {type(value).__name__}")
            if SURROGATE.search(value):
                raise InputError(f"document {name!r}: {field} is not valid UTF-8 text (it holds a lone surrogate)")
        if not doc.doc_id.strip():  # stored, it could never be deleted: `delete_document` refuses a blank id
            raise InputError(f"documents[{i}]: doc_id is blank; give each document an id (to delete it by)")
        if doc.doc_id in seen:  # was the indexer's advice to a command-line user (`--name`)
            raise InputError(f"document id {doc.doc_id!r} occurs twice in this call")
        seen.add(doc.doc_id)
        if not doc.text.strip():  # it made no passage, and the call said it was added
            raise InputError(f"document {name!r} has no text (only spaces): nothing to add")
        if not isinstance(doc.metadata, dict):
            raise InputError(f"document {name!r}: metadata must be a dict, not {type(doc.metadata).__name__}")
        try:
            json.dumps(doc.metadata, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise InputError(f"document {name!r}: metadata must hold JSON values (strings, numbers, true/false, "
                             f"null, lists, dicts): {exc}") from None

@contextlib.contextmanager
def _written(folder: Path) -> Iterator[None]:
    """Inside, a collection's folder that this user may not write (a read-only deployment, another
    user's files) is the operator's to fix, said as such: a 500 with a traceback before, for an
    addition or a deletion through the API. A full disk passes through (it has its own error)."""
    import sqlite3

    from qa.core.atomic import write_refused

    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if write_refused(exc):
            refused = ConfigError(f"the collection folder {folder} cannot be written by this user: "
                                  f"{getattr(exc, 'strerror', None) or exc}")
            refused.public = "the collections folder is read-only on this server; the server's log says why"
            raise SourceUnavailable(Route.WEBQA, refused) from exc
        raise


FAILING_FOR_S = 300.0  # how long a source's failure counts against it in `Engine.failing`


class Engine:
    def __init__(self, settings: Settings | None = None, *, sources: dict[Route, AnswerSource] | None = None,
                 router: Router | None = None, routes: Sequence[Route] | None = None,
                 span_reader: SpanReader | None = None, private_failures: bool = False) -> None:
        """`private_failures` (a server): a source that did not load is named in an answer's routing
        without the detail (its files' paths), which goes to the log."""
        from qa.core.paths import private_cache

        if settings is not None and not isinstance(settings, Settings):  # Engine("qa.toml") was an AttributeError
            raise ConfigError(f"settings must be a Settings (Settings.load(path) reads a file), not "
                              f"{type(settings).__name__}")
        self.settings = settings or Settings.load()
        self.private_failures = private_failures
        private_cache()
        self._sources: dict[Route, AnswerSource] = {_answering(r, "sources"): s for r, s in (sources or {}).items()}
        self._injected = set(self._sources)
        self._write_lock = threading.Lock()
        self._router = router
        if isinstance(routes, str):  # "kbqa" is one route, not the routes k, b, q, a
            routes = [cast(Route, routes)]
        self._routes = tuple(dict.fromkeys(_answering(r, "routes") for r in routes)) if routes is not None else None
        self._lock = threading.RLock()
        # Questions share the sources; a document write swaps the passage source under `_rw`'s
        # write side, so no search runs on a collection while its retriever is replaced.
        self._rw = _ReadWriteLock()
        self._span_reader: SpanReader | None = span_reader
        self._choice_reader: ChoiceReader | None = None
        self._passages_seen: tuple = ()  # the collections on disk when the passage source was opened
        self._graph_seen: tuple = ()  # the graph file on disk when the graph source was built
        # a source whose last question failed for the server's reason: the error's type, and when
        self._failing: dict[Route, tuple[str, float]] = {}

    # ------------------------------------------------------------------ components
    @property
    def routes(self) -> tuple[Route, ...]:
        """The sources this engine may ask, in a fixed order."""
        if self._routes is not None:
            return self._routes
        return tuple(r for r in ANSWERING if r in self._sources or r in BUILDERS)

    @property
    def encoder(self) -> Any:
        from qa.models import shared_encoder

        return shared_encoder(self.settings)

    @property
    def span_reader(self) -> SpanReader:
        if self._span_reader is None:
            from qa.models import shared_span_reader

            self._span_reader = shared_span_reader(self.settings)
        return self._span_reader

    @property
    def choice_reader(self) -> ChoiceReader:
        with self._lock:
            if self._choice_reader is None:
                from mrc.choice import ChoiceReader

                self._choice_reader = ChoiceReader(self.settings)
            return self._choice_reader

    @property
    def router(self) -> Router:
        with self._lock:
            if self._router is None:
                from qa.router import Router

                self._router = Router(self.settings, self.encoder)
            return self._router

    def source(self, route: Route) -> AnswerSource:
        route = _answering(route, "route")
        with self._lock:
            if route not in self._sources:
                if route not in self.routes or route not in BUILDERS:
                    raise NotFoundError(f"the {route} source is not available in this engine")
                if route == Route.WEBQA:
                    self._passages_seen = self._collections_on_disk()
                if route == Route.KBQA:
                    self._graph_seen = self._graph_on_disk()
                self._sources[route] = BUILDERS[route](self)
            return self._sources[route]

    def close(self) -> None:
        """Close what the sources this engine built hold open (a server stopping); sources passed in
        are their owner's to close."""
        with self._rw.writing():  # after the questions being answered: their stores are not closed under them
            with self._lock:
                built = [s for r, s in self._sources.items() if r not in self._injected]
            for src in built:
                _close(src)

    def passages(self) -> WebQA:
        """The passage source as itself: search and its collections, beyond the answer-source interface."""
        return cast("WebQA", self.source(Route.WEBQA))

    def warm_up(self, routes: Sequence[Route] | None = None, *, choice_reader: bool = False) -> dict[Route, str]:
        """Load the sources and the router now (a service calls this at start, so no request pays for
        it). A source that cannot load (no passage collection yet, a graph file missing) is left to
        say so when it is asked, and the others load all the same: the first such failure left
        every source after it cold. Returns what did not load, by route (and logs it). The
        multiple-choice reader, which only `read` with options uses, loads with `choice_reader=True`."""
        wanted = []
        if isinstance(routes, str):  # "kbqa" is one route, not the routes k, b, q, a
            routes = [cast(Route, routes)]
        for r in routes or self.routes:  # a route this engine has not is the caller's mistake, said
            if r not in {str(x) for x in self.routes}:
                raise InputError(f"no route {str(r)!r} in this engine: one of {', '.join(map(str, self.routes))}")
            wanted.append(Route(r))
        failed = {route: why for route in wanted if (why := self.warm_source(route)) is not None}
        if len(self.routes) > 1:
            _ = self.router.classifier
        if choice_reader:
            self.choice_reader.warm_up()
        return failed

    def warm_source(self, route: Route) -> str | None:
        """Load one source now; None when it loaded, else why not (logged). A source that cannot
        load, or whose loading has a bug, leaves the others to load all the same."""
        try:
            warm = getattr(self.source(route), "warm_up", None)  # optional for a source of your own
            if callable(warm):
                warm()
        except QAError as exc:
            log.warning("the %s source did not load: %s", route, exc)
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one source's loading: the others still load
            log.exception("the %s source failed to load", route)
            return f"internal error: {type(exc).__name__}: {exc}"
        return None

    # ------------------------------------------------------------------ answering
    def ask(self, question: str | Question, *, top_k: int | None = None,
            route: RouteChoice | Route | str | None = None) -> Response:
        """Answers to one question: routed (default) or from one forced source."""
        if top_k is not None:
            top_k = _check_count(top_k, "top_k", MAX_TOP_K)
        typed = Question.of(question, self.settings.max_question_chars)
        t0 = time.perf_counter()
        self._catch_up_with_collections()
        self._catch_up_with_graph()
        q, rewritten = self._standalone(typed)
        with self._rw.reading():
            # a follow-up rewritten to stand alone is a question like any other; one asked as typed
            # (its pronoun no rule could name) is not the question its words alone would be
            resp = self._ask(q, top_k=top_k, route=route, t0=t0, as_typed_followup=bool(q.topic) and not rewritten)
        if not typed.history:
            _about_no_one(resp, typed.text, self.settings.router_min_score)
        return resp.model_copy(update={"question": typed.text, "rewritten": rewritten})

    def _standalone(self, q: Question) -> tuple[Question, str | None]:
        """A follow-up ("When did he die?") rewritten with the entity of the earlier turns, and the
        earlier turn it continues as its `topic` for passage search; the question as typed when it
        does not refer back, and as typed but searched with that turn when its pronoun points back at
        something no rule can name (see `qa.followup`)."""
        if not q.history:
            return q, None
        rw = rewrite(q.text, q.history)
        if not rw.changed and not rw.previous:
            return q, None
        rewritten = rw.text if rw.changed and rw.text != q.text else None
        try:
            return Question(rewritten or q.text, collection=q.collection, topic=rw.previous,
                            max_chars=self.settings.max_question_chars), rewritten
        except InputError:  # the rewrite outgrew the length limit: answer the question as typed
            return q, None

    def _ask(self, q: Question, *, top_k: int | None, route: RouteChoice | Route | str | None,
             t0: float, as_typed_followup: bool = False) -> Response:
        top_k = top_k or self.settings.top_k
        try:
            choice = RouteChoice(str(route)) if route is not None else self.settings.route
        except ValueError:
            raise InputError(f"unknown route {str(route)!r}; choose auto, webqa, kbqa or cqa") from None
        if choice != RouteChoice.AUTO:
            forced = Route(str(choice))
            if forced not in self.routes:
                raise InputError(f"route {forced} is not available; choose one of "
                                 f"{', '.join(str(r) for r in self.routes)} or auto")
            if q.collection is not None and forced != Route.WEBQA:  # it answered from the graph, silently
                raise InputError(f"the collection {q.collection!r} is passages: it goes with the route webqa "
                                 f"or auto, not {forced}")
            answers = _likelier_right(self._answer_from(forced, q, top_k), self.settings.router_min_score,
                                      self._floors())
            best = _best_score(answers)
            routing = Routing(chosen=forced, forced=True, asked=[forced], scores={forced: best},
                              reason=f"forced to {forced}")
            return Response(question=q.text, answers=answers, routing=routing,
                            timings={"total_s": round(time.perf_counter() - t0, 4)})
        if q.collection is not None:  # the user named the passages to answer from: those alone
            if Route.WEBQA not in self.routes:
                raise InputError(f"the collection {q.collection!r} is passages, and passages are not "
                                 f"asked here (routes: {', '.join(str(r) for r in self.routes)})")
            known = self.passages().collections.names
            if q.collection not in known:  # a name the user gave: not a source failure
                raise NotFoundError(f"no collection named {q.collection!r}; known: {', '.join(known)}")
            answers = _likelier_right(self._answer_from(Route.WEBQA, q, top_k), self.settings.router_min_score,
                                      self._floors())
            routing = Routing(chosen=Route.WEBQA, forced=True, asked=[Route.WEBQA],
                              scores={Route.WEBQA: _best_score(answers)},
                              reason=f"the collection {q.collection} was named: its passages alone")
            return Response(question=q.text, answers=answers, routing=routing,
                            timings={"total_s": round(time.perf_counter() - t0, 4)})
        if len(self.routes) == 1:
            probs = {self.routes[0]: 1.0}
        else:
            probs = self.router.order(q.text, self.routes)
        order, held = (list(probs), None) if as_typed_followup else self._held_first(q, list(probs))
        t_route = time.perf_counter() - t0
        results: dict[Route, list[Answer]] = {}
        failed: dict[Route, QAError] = {}
        bugs: list[Exception] = []
        skipped: list[Route] = []
        for r in order:
            if results:
                # only an answer ends the cascade: a source that abstained may still guess high
                # (its own threshold above the router's, a graph's unexpressed yes/no at 0.5)
                answered_best = max((_best_score(a) for a in results.values() if a and not a[0].no_answer),
                                    default=0.0)
                if answered_best >= self.settings.router_min_score:
                    break
                answered = any(a and not a[0].no_answer for a in results.values())
                if answered and probs[r] < self.settings.router_skip_below:
                    skipped.append(r)  # the classifier all but rules it out, and we have an answer
                    continue
            try:
                results[r] = self._answer_from(r, q, top_k)
            except QAError as exc:  # one source down (an endpoint, a missing model): ask the others
                if isinstance(exc, SourceContractError):
                    log.error("the %s source broke the answer-source interface: %s", r, exc)
                failed[r] = exc
            except Exception as exc:  # noqa: BLE001 - a bug in one source: logged whole, the others still answer
                log.exception("the %s source failed", r)  # not the question: a log is no place for what users ask
                setattr(exc, LOGGED, True)  # raised on (nothing else answered), its traceback is not logged twice
                bugs.append(exc)
                # not the bug's text: its kind, and where the traceback is
                failed[r] = QAError("internal error; the server's log has it" if self.private_failures
                                    else f"internal error: {type(exc).__name__} (the log has the traceback)")
        if not results:  # a bug where nothing answered is the bug (a 500), not the user's input
            raise bugs[0] if bugs else next(iter(failed.values()))
        answers, chosen, reason = _decide(results, probs, self.settings.router_min_score,
                                          self.settings.router_skip_below, self._floors())
        if held:
            reason = f"{held}; {reason}"
        if skipped:
            below = self.settings.router_skip_below
            reason += f"; not asked: {', '.join(map(str, skipped))} (classifier below {below})"
        told = {r: self._told(e) for r, e in failed.items()}
        if failed:
            reason += "; failed: " + "; ".join(f"{r}: {t}" for r, t in told.items())
            if answers and answers[0].no_answer:
                # what a failed source would have said is unknown: "no answer" is no likelier than
                # the question not being of its kind (a graph that is down, asked which capital)
                cap = min(1.0 - probs.get(r, 0.0) for r in failed)
                answers[0].score = round(min(answers[0].score, cap), 4)
        routing = Routing(chosen=chosen, probabilities={r: round(p, 4) for r, p in probs.items()},
                          asked=list(results), scores={r: round(_best_score(a), 4) for r, a in results.items()},
                          failed=told, reason=reason)
        return Response(question=q.text, answers=answers[:top_k], routing=routing,
                        timings={"route_s": round(t_route, 4), "total_s": round(time.perf_counter() - t0, 4)})

    def _floors(self) -> dict[Route, float]:
        """The sources' own thresholds the user set, under which a guess stays a guess."""
        kb = self.settings.kb_min_confidence
        return {Route.CQA: self.settings.cqa_min_score, Route.KBQA: kb if kb is not None else 0.0}

    def _answer_from(self, route: Route, q: Question, top_k: int) -> list[Answer]:
        """The source's answers; a source whose files or model did not load is `SourceUnavailable`
        (the operator's to fix: not a 4xx about the question, and no server path to a client)."""
        with self._watching(route):
            answers = self.source(route).answer(q, top_k)
        return _as_promised(route, answers, top_k)

    @contextlib.contextmanager
    def _watching(self, route: Route) -> Iterator[None]:
        """A source's work (an answer, a search): files or a model that do not load are
        `SourceUnavailable`; one down marks it failing (`failing`), one that works clears that."""
        try:
            with unavailable_as(str(route)):
                yield
        except QAError as exc:
            # one collection asked by name that does not read is no source down (`left_out` says it)
            if exc.http_status == 503 and not isinstance(getattr(exc, "cause", None), DamagedCollection):
                self._failing[route] = (error_type_of(exc), time.monotonic())
            raise
        self._failing.pop(route, None)

    @property
    def left_out(self) -> list[str]:
        """Passage collections left out of every search because their files do not read (found at
        start or by a search): the passage source answers from the others, so it is not `failing`,
        and a health probe says which are missing. Only where the passage source is open."""
        # what is known now, without a lock and without opening anything: a probe (on the server's
        # event loop) must not wait for the collections' loading, nor start it
        src = self._sources.get(Route.WEBQA)
        collections = getattr(src, "_collections", None)
        return list(getattr(collections, "broken", []))

    @property
    def failing(self) -> dict[Route, str]:
        """Sources that loaded but whose last question, within `FAILING_FOR_S`, failed because they
        are down (an endpoint that stopped answering), with the error's type; the next answer from
        one clears it. A health probe reads it: "loaded" alone said a graph behind a dead endpoint
        was answering. Older than that it says nothing of now (a blip hours ago, no question since)."""
        now = time.monotonic()
        return {r: kind for r, (kind, at) in list(self._failing.items()) if now - at <= FAILING_FOR_S}

    def _told(self, exc: QAError) -> str:
        """What an answer's routing says of a source that failed."""
        if self.private_failures and isinstance(exc, SourceUnavailable):
            log.warning("%s", exc.log_line)
            return exc.public or str(exc)
        if self.private_failures and exc.public:  # a graph endpoint's failure: its address stays in the log
            log.warning("%s", exc)
            return exc.public
        return str(exc)

    def _held_first(self, q: Question, order: list[Route]) -> tuple[list[Route], str | None]:
        """The cascade's order: the classifier's, but a source that holds the question itself
        (`HoldsQuestions`, at `router_min_score` or more) first, with why. Only sources after the
        first are checked (the first is asked anyway). Not asked of a follow-up that rides on an
        earlier turn as typed (`_ask`): its words alone are not the question."""
        for r in order[1:]:
            try:
                source = self.source(r)
                if not isinstance(source, HoldsQuestions):
                    continue
                p = source.holds(q)
            except Exception:  # noqa: BLE001 - a look ahead only: a source that fails here keeps its place, and
                continue  # the cascade, if it asks it, reports the failure
            if p >= self.settings.router_min_score:
                return [r, *(x for x in order if x != r)], f"{r} holds this question ({p:.2f}): asked first"
        return order, None

    def read(self, question: str, context: str, options: Iterable[str] | None = None, *,
             top_k: int = 1) -> list[Answer]:
        """The readers, called directly: a span out of `context`, or the most likely of `options`."""
        from qa.core.text import check_question, check_text

        question = check_question(question, self.settings.max_question_chars)
        check_text(context, "context", 2_000_000)
        if top_k is None or isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InputError("top_k must be a whole number >= 1 (0: every option, for multiple choice)")
        if isinstance(options, str):  # "AB" is one text, not the options "A" and "B"
            raise InputError("options must be a list of texts, not one text")
        if options is not None and not isinstance(options, Iterable):
            raise InputError(f"options must be a list of texts, not {type(options).__name__}")
        options = list(options) if options is not None else None
        if options and not all(isinstance(o, str) for o in options):
            raise InputError("options must all be texts")
        if options and not all(o.strip() for o in options):
            raise InputError("an option is empty: give each option some text")
        for i, option in enumerate(options or (), start=1):
            check_text(option, f"option {i}", 100_000)  # undecodable bytes would reach the tokenizer
        if options:
            if len(options) < 2:
                raise InputError("give at least two options (or none for span extraction)")
            seen = [" ".join(o.lower().split()) for o in options]
            if len(set(seen)) < len(seen):  # the same option twice would split its probability
                twice = next(o for o, s in zip(options, seen, strict=True) if seen.count(s) > 1)
                raise InputError(f"the option {twice.strip()!r} is given twice: give each option once")
            answers = self.choice_reader.read(question, context, list(options))
            return answers[:top_k] if top_k else answers
        if top_k == 0:  # "every option" has no meaning for a span: it returned no answer at all
            raise InputError("top_k 0 (every option) is for multiple choice: give 1 or more spans")
        if top_k == 1:
            return self.span_reader.read(question, context, top_k=1)
        # the reader's n-best overlap ("Jane Austen", "Jane Austen.", "Jane Austen. It was ..."):
        # ask it for more and show answers that differ
        return _distinct_spans(self.span_reader.read(question, context, top_k=10 * top_k + 10), top_k)


    # ------------------------------------------------------------------ passages and documents
    def search(self, query: str, k: int = 5, *, collection: str | None = None) -> list[RetrievedPassage]:
        """The passages a question would be read from, best first (no reading)."""
        from qa.core.text import check_text, check_words

        # checked as a query, so an error names the field the caller filled
        query = check_words(check_text(query, "query", self.settings.max_question_chars), "query")
        k = _check_count(k, "k", MAX_SEARCH_K)
        q = Question(query, collection=collection, max_chars=self.settings.max_question_chars)
        self._catch_up_with_collections()
        with self._rw.reading():
            with self._watching(Route.WEBQA):  # a damaged collection: as a question says it, no server path
                return self.passages().search(q, k)

    def collections(self) -> list[str]:
        """The passage collections questions are answered from."""
        self._catch_up_with_collections()
        with self._rw.reading():
            try:
                return self.passages().collections.readable
            except NotFoundError:  # none yet (or no passage source): an empty list, not a missing resource
                return []

    def add_documents(self, collection: str, documents: Sequence[Document]) -> int:
        """Add documents to a collection of your own (created when new); they are searchable when
        this returns, and a crash part-way leaves the collection as it was before the call.
        Returns the number of passages added."""
        from retrieval.collections import check_case_apart, check_name
        from retrieval.index_dir import folder_lock, is_complete
        from retrieval.ingest import add_passages, build_index, chunk_documents

        name = self._writable_collection(check_name(collection))
        _check_documents(documents)
        passages = chunk_documents(documents, self.settings.chunk_chars, self.settings.chunk_overlap)
        if not passages:
            raise InputError("nothing to add: the documents hold no text")
        folder = Path(self.settings.index_dir) / name
        with self._write_lock, _written(folder), folder_lock(folder):  # a `qa index` swaps in before or after
            if is_complete(folder):
                taken = [d.doc_id for d in documents if self._passage_ids(folder, d.doc_id)]
                if taken:
                    raise ConflictError(f"document id {taken[0]!r} is already in collection {name!r}; delete it first")
                add_passages(folder, passages, self.settings)
            else:
                check_case_apart(name, self.settings)
                from retrieval.ingest import API_DOCUMENTS

                build_index(passages, folder, self.settings, progress=False,  # `qa index` of a folder so named: asks
                            extra={"added_documents": True, API_DOCUMENTS: sorted({d.doc_id for d in documents})})
            self._reopen_passages(name)
        return len(passages)

    def delete_document(self, doc_id: str, collection: str | None = None) -> tuple[str, int]:
        """Delete every passage of a document; returns (collection, passages deleted)."""
        from retrieval.collections import check_name, user_collections
        from retrieval.index_dir import folder_lock, is_complete
        from retrieval.ingest import delete_passages

        if not isinstance(doc_id, str) or not doc_id.strip():
            raise InputError(f"doc_id must be a document's id (a non-empty text), not {doc_id!r}")

        with self._write_lock:
            if collection is not None:
                names = [self._writable_collection(check_name(collection))]
                if not is_complete(Path(self.settings.index_dir) / names[0]):
                    raise NotFoundError(f"no collection named {collection!r}")
            else:
                names = [c.name for c in user_collections(self.settings)
                         if self._passage_ids(Path(self.settings.index_dir) / c.name, doc_id)]
                if len(names) > 1:  # deleting one copy and saying "deleted" would leave the others answering
                    raise InputError(f"document {doc_id!r} is in {len(names)} collections ({', '.join(names)}); "
                                     "say which (the collection parameter)")
            for name in names:
                folder = Path(self.settings.index_dir) / name
                with _written(folder), folder_lock(folder):  # a `qa index` of it swaps in before or after
                    ids = self._passage_ids(folder, doc_id)
                    if not ids:
                        continue
                    if len(ids) >= self._passage_count(folder):  # the last document: the collection goes
                        gone = aside(folder, "deleted")
                        folder.rename(gone)
                        shutil.rmtree(gone, ignore_errors=True)
                    else:
                        delete_passages(folder, ids)
                self._reopen_passages(name)
                return name, len(ids)
        where = f"collection {collection!r}" if collection else "any collection of your own"
        raise NotFoundError(f"no document {doc_id!r} in {where}")

    def _writable_collection(self, name: str) -> str:
        from retrieval.collections import DEFAULT_NAME

        if name.lower() == DEFAULT_NAME:  # "Default" too: one folder with "default" where case is not kept
            raise InputError("the default collection is read-only; add documents to a collection of your own")
        return name

    @staticmethod
    def _passage_ids(folder: Path, doc_id: str) -> list[str]:
        """The stored passage ids of a document (`<doc_id>#<n>`, numbered from 0 without gaps)."""
        from retrieval.docstore import SQLiteDocStore
        from retrieval.index_dir import DOCSTORE, is_complete

        if not is_complete(folder):
            return []
        found: list[str] = []
        with SQLiteDocStore(folder / DOCSTORE, read_only=True) as store:
            page = 500
            for first in range(0, 10**9, page):
                ids = [f"{doc_id}#{i}" for i in range(first, first + page)]
                hits = store.keys_for(ids)
                found.extend(i for i in ids if i in hits)
                if len(hits) < page:
                    break
        return found

    @staticmethod
    def _passage_count(folder: Path) -> int:
        from retrieval.docstore import SQLiteDocStore
        from retrieval.index_dir import DOCSTORE

        with SQLiteDocStore(folder / DOCSTORE, read_only=True) as store:
            return store.count()

    def _collections_on_disk(self) -> tuple:
        """What identifies the user's collections on disk: each folder's name, inode and manifest
        time (a rebuild swaps the whole folder in; an added document rewrites the manifest)."""
        from retrieval.collections import user_collections

        seen = []
        for c in user_collections(self.settings):
            try:
                seen.append((c.name, c.folder.stat().st_ino, (c.folder / "manifest.json").stat().st_mtime_ns))
            except OSError:  # removed while we looked: the next look sees it gone
                continue
        return tuple(seen)

    def _catch_up_with_collections(self) -> None:
        """A collection another process built, rebuilt or removed (`qa index` while a server runs)
        is searched from the next question on, not served stale until a restart. One listing and a
        few stats a question; the passage source is reopened only when something changed."""
        if Route.WEBQA not in self._sources or Route.WEBQA in self._injected:
            return
        now = self._collections_on_disk()
        if now == self._passages_seen:
            return
        with self._write_lock:
            if self._collections_on_disk() != self._passages_seen:
                self._reopen_passages("")

    def _graph_on_disk(self) -> tuple:
        """What identifies the graph file the settings name: inode, size and times (an editor that
        writes in place keeps the inode; `sed -i` and most editors make a new file). Empty for the
        embedded graph. An endpoint's data this process cannot watch: its label index is rebuilt
        when older than `kb_index_max_age_h`, which was checked when the source was built alone, so
        a server running for weeks answered from its first day's index; the source is built again
        each quarter of that age (the index is read from the cache, rebuilt once it is too old)."""
        if self.settings.kb_endpoint:
            period = self.settings.kb_index_max_age_h * 3600 / 4
            return (int(time.time() // period),) if period > 0 else ()
        if not self.settings.kb_graph:
            return ()
        return file_stamp(Path(self.settings.kb_graph)) or ("gone",)

    def _catch_up_with_graph(self) -> None:
        """A graph file edited while `qa serve` or `qa chat` runs is answered from the next
        question on (passages and answered questions were; the graph answered from the old file
        until a restart). One stat a question; the graph source is built again, from the file as it
        is then, by the question that needs it, which reports a file that no longer loads as any
        source failure is reported."""
        if Route.KBQA not in self._sources or Route.KBQA in self._injected:
            return
        if self._graph_on_disk() == self._graph_seen:
            return
        with self._rw.writing(), self._lock:
            if self._graph_on_disk() != self._graph_seen:
                _close(self._sources.pop(Route.KBQA, None))

    def _reopen_passages(self, name: str) -> None:
        """Make a rewritten collection searchable: a fresh passage source over the new folders,
        opened before it replaces the old one, so questions wait only for the swap itself."""
        if Route.WEBQA not in self._sources:
            return  # not opened yet: the first question opens the current folders
        if Route.WEBQA in self._injected:
            with self._rw.writing():
                cast("WebQA", self._sources[Route.WEBQA]).collections.reload(name)
            return
        seen = self._collections_on_disk()  # taken first: a change while opening is seen next time
        fresh = cast("WebQA", BUILDERS[Route.WEBQA](self))
        try:
            fresh.collections.warm_up()
        except (NotFoundError, DataFormatError):  # none left, or only damaged ones: questions now say so
            fresh.close()
            with self._rw.writing():
                _close(self._sources.pop(Route.WEBQA, None))
            return
        # any other failure propagates with `_passages_seen` unchanged: the next question tries again
        # rather than answering from the old source as if it were current
        with self._rw.writing():
            # the old source closed (no question is reading it: the lock is held): its stores stayed
            # open after their folders were deleted, a deleted document's text readable through
            # /proc and its disk space held, until the garbage collector came by
            _close(self._sources.get(Route.WEBQA))
            self._sources[Route.WEBQA] = fresh
        self._passages_seen = seen


def _close(source: object) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers so it is not starved."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:  # a KeyboardInterrupt in the wait (a notebook's stop button) held back every reader for good
                self._waiting_writers -= 1
                if not self._waiting_writers:
                    self._cond.notify_all()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def _likelier_right(answers: list[Answer], threshold: float, floors: Mapping[Route, float] | None = None
                    ) -> list[Answer]:
    """A source's "no answer" whose guess is at `threshold` or more and likelier right than not: the
    guess, as the answer (the office wifi password read from the user's own notes was "no answer"
    at 0.22 over its guess "tulip42" at 0.78: every passage's reader had abstained, and the
    calibrated probability, which knows they did, said otherwise). Routing is not changed by it:
    the cascade still goes on past a source that abstained. A threshold the user set for the
    guess's own source (`floors`: `cqa_min_score` 0.99) is kept: it is what the user asked for."""
    top = answers[0] if answers else None
    if top is None or not top.no_answer or top.best_guess is None:
        return answers
    guess = top.best_guess
    if guess.score < max(threshold, (floors or {}).get(guess.route, 0.0)) or top.score >= 0.5:
        return answers
    return [guess, *answers[1:]]


def _about_no_one(resp: Response, question: str, threshold: float) -> None:
    """A first question that points at a person it never names ("When was he born?") got some
    passage's answer about someone (John of Damascus, 0.20) shown as the answer. Unless an answer
    reached `threshold`, it is "no answer" with that guess, and the reason says to name the person.
    The guess and its score are the ones the sources gave, so nothing that scores guesses moves."""
    from qa.followup import unnamed_person

    top = resp.answers[0] if resp.answers else None
    if top is None or top.no_answer or top.score >= threshold:
        return
    pronoun = unnamed_person(question)
    if pronoun is None:
        return
    resp.answers = [Answer.none(top.route, score=round(1.0 - top.score, 4), best_guess=top, evidence=top.evidence)]
    resp.routing.reason += f"; '{pronoun}' names no one (no earlier turn says who): ask with the name"


def _distinct_spans(answers: list[Answer], top_k: int) -> list[Answer]:
    """The first `top_k` of a reader's n-best whose characters overlap none shown before them.

    A span and the spans around it (one word more, the full stop) are one answer, each scored as
    if it were the only one: shown together they looked like three answers and their
    probabilities summed to more than one. At most one span of a passage is the answer, so after
    the first, each keeps at most what the answers before it leave."""
    shown: list[Answer] = []
    taken: list[tuple[int, int]] = []
    for a in answers:
        start, end = getattr(a.evidence, "start", None), getattr(a.evidence, "end", None)
        if start is not None and end is not None:  # "no answer" has no characters: it is always shown
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
        shown.append(a)
        if len(shown) == top_k:
            break
    left = 1.0
    for a in shown:
        a.score = max(0.0, min(a.score, left))
        left -= a.score
    return shown


def _best_score(answers: Sequence[Answer]) -> float:
    """The score a source's result competes with: its top answer's, or its best guess's."""
    if not answers:
        return 0.0
    a = answers[0]
    if a.no_answer:
        return a.best_guess.score if a.best_guess is not None else 0.0
    return a.score


def _has_guess(answers: Sequence[Answer]) -> bool:
    return bool(answers) and (not answers[0].no_answer or answers[0].best_guess is not None)


def _decide(results: dict[Route, list[Answer]], probs: dict[Route, float], threshold: float,
            skip_below: float = 0.0, floors: Mapping[Route, float] | None = None) -> tuple[list[Answer], Route, str]:
    """Keep the source whose answer is most likely right; "no answer" only when all abstained.

    An answer under the threshold from a source the classifier all but ruled out (under
    `skip_below`) counts as a guess: the cascade only asked that source because the likelier ones
    abstained, and a low score at a question not of its kind is no better than their guesses (a
    passage reader finds some span for a forum question)."""
    asked = list(results)
    ruled_out = {r for r, a in results.items()
                 if len(probs) > 1 and probs.get(r, 1.0) < skip_below and _best_score(a) < threshold}
    answering = {r: a for r, a in results.items() if a and not a[0].no_answer and r not in ruled_out}
    head = ", ".join(f"{r} {p:.2f}" for r, p in probs.items())
    if answering:
        chosen = max(answering, key=lambda r: (_best_score(answering[r]), -asked.index(r)))
        parts = [f"{r} {_best_score(results[r]):.2f}" if r in answering else f"{r} no answer" for r in asked]
        if len(asked) == 1:
            why = "sure enough" if _best_score(results[chosen]) >= threshold else "the only source asked"
        else:
            why = "most likely right"
        if len(asked) > 1 and all(_best_score(a) < threshold for a in results.values()):
            why = f"none reached {threshold:.2f}; most likely right"
        return results[chosen], chosen, f"classifier: {head}; asked {' -> '.join(parts)}; kept {chosen} ({why})"
    # Every source abstained, so the guess shown comes from the source the question is most likely
    # for. A guess's score says how likely it is right among questions of its source's own kind, and
    # below the source's threshold it says little: a graph's guesses at questions shaped unlike its
    # training questions (superlatives, lists) score near zero whether right or wrong, and a passage
    # reader guessing at a question about a product graph is no better for a higher score. The
    # classifier's probability is the one signal that compares the sources; the guess scores only
    # break its ties. A source with no guess at all (a graph that links nothing in the question)
    # has nothing to show, so the likeliest source that does guess is shown instead.
    chosen = max(asked, key=lambda r: (_has_guess(results[r]), round(probs.get(r, 0.0), 3),
                                       _best_score(results[r])))
    best = results[chosen][0] if results[chosen] else None
    if best is None:
        none = Answer.none(chosen, score=1.0)
    elif best.no_answer:
        none = Answer.none(chosen, score=best.score, best_guess=best.best_guess, evidence=best.evidence)
    else:  # a ruled-out source's low answer: shown as its guess, "no answer" as likely as it is wrong
        none = Answer.none(chosen, score=1.0 - best.score, best_guess=best, evidence=best.evidence)
    own = none.score  # the chosen source's own view of its guess, before the others' lower it
    # "no answer" is right only if every source's guess is wrong: no likelier than the least likely
    # of their own "no answer"s (the graph's near-zero guess must not make it near-certain while
    # the passages' guess is right one time in two)
    least = min((min(1.0 - _best_score(a), a[0].score if a[0].no_answer else 1.0)
                 for a in results.values() if _has_guess(a)), default=1.0)
    if least < none.score:
        none.score = round(least, 4)
    # every source abstained, yet the guess may be likelier right: by its own source's reckoning, not
    # because another source's guess made "no answer" less likely (a graph's yes/no it held back at
    # 0.5 was shown as the answer when the passages guessed something else at 0.6)
    shown = _likelier_right([none], threshold, floors) if own < 0.5 else [none]
    if not shown[0].no_answer:
        return shown, chosen, (f"classifier: {head}; asked {' -> '.join(map(str, asked))}; every source "
                               f"abstained, but {chosen}'s guess is likelier right than not ({shown[0].score:.2f})")
    guesses = ", ".join(f"{r} {_best_score(results[r]):.2f}" for r in asked)
    abstained = "every source abstained" if not ruled_out else (
        f"every source abstained or answered under {threshold:.2f} though the classifier all but ruled it out "
        f"({', '.join(map(str, sorted(ruled_out)))})")
    first = next(iter(probs), chosen)
    if chosen == first:
        rank = "the classifier's first choice"
    elif first in results and not _has_guess(results[first]):
        rank = f"the likeliest, by the classifier, of the sources with a guess ({first} had none)"
    else:
        rank = "the likeliest, by the classifier, of the sources asked"
    return [none], chosen, (f"classifier: {head}; asked {' -> '.join(map(str, asked))}; {abstained}; "
                            f"guess kept from {chosen}, {rank} (guess scores: {guesses})")

