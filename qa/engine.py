"""The engine: one object that owns the answer sources and the readers, routes a question and
returns answers in the one response shape. The CLI (`qa ask`, `qa chat`), the REST API and the UI
all call it, so a question gets the same answer whichever way it comes in.

Sources are built from `Settings` on first use and kept (a light constructor, `warm_up()` for
servers that want the cost paid at start). `ask` routes: the classifier orders the sources, the
first is asked, and while the best calibrated score stays below `router_min_score` the next one
is asked too; the answers that are most likely right win. Only when every source asked says
"no answer" is the response a "no answer", and it still shows the best guess.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qa.core.errors import InputError, NotFoundError
from qa.core.settings import RouteChoice, Settings
from qa.core.types import Answer, AnswerSource, Question, Response, Route, Routing

if TYPE_CHECKING:
    from mrc.choice import ChoiceReader
    from mrc.span import SpanReader
    from qa.router import Router

SourceBuilder = Callable[["Engine"], AnswerSource]
# Builders register here (community QA adds itself when its package is installed), so the engine
# does not need to know every source in advance.
BUILDERS: dict[Route, SourceBuilder] = {}


def _build_webqa(engine: Engine) -> AnswerSource:
    from qa.webqa import WebQA

    return WebQA(engine.settings, encoder=engine.encoder, reader=engine.span_reader)


def _build_kbqa(engine: Engine) -> AnswerSource:
    from kb.pipeline import KBQA, KBQAConfig
    from kb.scorer import Scorer

    s = engine.settings
    scorer = None
    if s.kb_scorer:
        scorer = Scorer.load(s.kb_scorer)
    config = KBQAConfig(max_hops=s.kb_max_hops, top_anchors=s.kb_top_anchors)
    return KBQA(s, scorer=scorer, config=config, encoder=engine.encoder)


BUILDERS[Route.WEBQA] = _build_webqa
BUILDERS[Route.KBQA] = _build_kbqa


class Engine:
    def __init__(self, settings: Settings | None = None, *, sources: dict[Route, AnswerSource] | None = None,
                 router: Router | None = None, routes: Sequence[Route] | None = None) -> None:
        self.settings = settings or Settings.load()
        self._sources: dict[Route, AnswerSource] = dict(sources or {})
        self._router = router
        self._routes = tuple(routes) if routes is not None else None
        self._lock = threading.RLock()
        self._span_reader: SpanReader | None = None
        self._choice_reader: ChoiceReader | None = None

    # ------------------------------------------------------------------ components
    @property
    def routes(self) -> tuple[Route, ...]:
        """The sources this engine may ask, in a fixed order."""
        if self._routes is not None:
            return self._routes
        return tuple(r for r in (Route.WEBQA, Route.KBQA, Route.CQA) if r in self._sources or r in BUILDERS)

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
        route = Route(route)
        with self._lock:
            if route not in self._sources:
                if route not in self.routes or route not in BUILDERS:
                    raise NotFoundError(f"the {route} source is not available in this engine")
                self._sources[route] = BUILDERS[route](self)
            return self._sources[route]

    def warm_up(self, routes: Sequence[Route] | None = None) -> None:
        """Load everything now (servers call this at start, so no request pays for it)."""
        for r in routes or self.routes:
            self.source(r).warm_up()
        if len(self.routes) > 1:
            _ = self.router.classifier

    # ------------------------------------------------------------------ answering
    def ask(self, question: str | Question, *, top_k: int | None = None,
            route: RouteChoice | Route | str | None = None) -> Response:
        """Answers to one question: routed (default) or from one forced source."""
        q = Question.of(question, self.settings.max_question_chars)
        top_k = top_k or self.settings.top_k
        choice = RouteChoice(str(route)) if route is not None else self.settings.route
        t0 = time.perf_counter()
        if choice != RouteChoice.AUTO:
            forced = Route(str(choice))
            if forced not in self.routes:
                raise InputError(f"route {forced} is not available; choose one of "
                                 f"{', '.join(str(r) for r in self.routes)} or auto")
            answers = self.source(forced).answer(q, top_k)
            best = _best_score(answers)
            routing = Routing(chosen=forced, forced=True, asked=[forced], scores={str(forced): best},
                              reason=f"forced to {forced}")
            return Response(question=q.text, answers=answers, routing=routing,
                            timings={"total_s": round(time.perf_counter() - t0, 4)})
        if len(self.routes) == 1:
            probs = {self.routes[0]: 1.0}
        else:
            probs = self.router.order(q.text, self.routes)
        t_route = time.perf_counter() - t0
        results: dict[Route, list[Answer]] = {}
        for r in probs:
            results[r] = self.source(r).answer(q, top_k)
            if max(_best_score(a) for a in results.values()) >= self.settings.router_min_score:
                break
        answers, chosen, reason = _decide(results, probs, self.settings.router_min_score)
        routing = Routing(chosen=chosen, probabilities={str(r): round(p, 4) for r, p in probs.items()},
                          asked=list(results), scores={str(r): round(_best_score(a), 4) for r, a in results.items()},
                          reason=reason)
        return Response(question=q.text, answers=answers[:top_k], routing=routing,
                        timings={"route_s": round(t_route, 4), "total_s": round(time.perf_counter() - t0, 4)})

    def read(self, context: str, question: str, options: Sequence[str] | None = None, *,
             top_k: int = 1) -> list[Answer]:
        """The readers, called directly: a span out of `context`, or the most likely of `options`."""
        from qa.core.text import check_question, check_text

        question = check_question(question, self.settings.max_question_chars)
        check_text(context, "context", 2_000_000)
        if options:
            if len(options) < 2:
                raise InputError("give at least two options (or none for span extraction)")
            answers = self.choice_reader.read(context, question, list(options))
            return answers[:top_k] if top_k else answers
        return self.span_reader.read(question, context, top_k=top_k)


def _best_score(answers: Sequence[Answer]) -> float:
    """The score a source's result competes with: its top answer's, or its best guess's."""
    if not answers:
        return 0.0
    a = answers[0]
    if a.no_answer:
        return a.best_guess.score if a.best_guess is not None else 0.0
    return a.score


def _decide(results: dict[Route, list[Answer]], probs: dict[Route, float],
            threshold: float) -> tuple[list[Answer], Route, str]:
    """Keep the source whose answer is most likely right; "no answer" only when all abstained."""
    asked = list(results)
    answering = {r: a for r, a in results.items() if a and not a[0].no_answer}
    head = ", ".join(f"{r} {p:.2f}" for r, p in probs.items())
    if answering:
        chosen = max(answering, key=lambda r: (_best_score(answering[r]), -asked.index(r)))
        parts = [f"{r} {_best_score(results[r]):.2f}" if r in answering else f"{r} no answer" for r in asked]
        why = "first source sure enough" if len(asked) == 1 else "most likely right"
        if len(asked) > 1 and all(_best_score(a) < threshold for a in results.values()):
            why = f"none reached {threshold:.2f}; most likely right"
        return results[chosen], chosen, f"classifier: {head}; asked {' -> '.join(parts)}; kept {chosen} ({why})"
    chosen = max(asked, key=lambda r: _best_score(results[r]))
    guesses = [a[0] for a in results.values() if a]
    best = max(guesses, key=lambda a: _best_score([a])) if guesses else None
    none = Answer.none(chosen, score=best.score if best else 1.0,
                       best_guess=best.best_guess if best is not None else None,
                       evidence=best.evidence if best is not None else None)
    return [none], chosen, f"classifier: {head}; asked {' -> '.join(map(str, asked))}; every source abstained"

