"""The engine: routing, the cascade, forced routes, "no answer" with a best guess, one JSON shape.

The cascade's logic is checked with small in-process sources (its job is comparing calibrated
scores, whatever produced them); the end-to-end test runs the real sources: WebQA over a small
real index with the shipped reader, KBQA over a small graph, and a router fitted with the real
encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.core.errors import ConfigError, InputError, NotFoundError, QAError
from qa.core.paths import MODELS_DIR
from qa.core.settings import Settings
from qa.core.types import Answer, GraphEvidence, Question, Response, Route, SpanEvidence
from qa.engine import Engine
from qa.router import RouteClassifier, Router


class Source:
    """An answer source that answers from a table (the cascade only sees scores)."""

    def __init__(self, name: Route, table: dict[str, tuple[str, float] | None]) -> None:
        self.name = name
        self.table = table
        self.asked: list[str] = []
        self.questions: list[Question] = []

    def warm_up(self) -> None:
        pass

    def answer(self, question: Question, top_k: int) -> list[Answer]:
        self.asked.append(question.text)
        self.questions.append(question)
        hit = self.table.get(question.text)
        if hit is None:
            guess = Answer(text="guess", score=0.1, route=self.name)
            return [Answer.none(self.name, score=0.9, best_guess=guess)]
        return [Answer(text=hit[0], score=hit[1], route=self.name)]


class KeywordEncoder:
    """Two-dimensional "vectors": does the question mention a graph-ish word?"""

    name = "keywords"

    def encode(self, texts):
        return np.array([[1.0, 0.0] if "capital" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def _engine(web: dict, kb: dict, threshold: float = 0.5) -> tuple[Engine, Source, Source]:
    w, k = Source(Route.WEBQA, web), Source(Route.KBQA, kb)
    clf = RouteClassifier(np.array([[-1.0, 1.0], [1.0, -1.0]]), np.zeros(2), [Route.WEBQA, Route.KBQA])
    settings = Settings(router_min_score=threshold)
    engine = Engine(settings, sources={Route.WEBQA: w, Route.KBQA: k},
                    router=Router(settings, KeywordEncoder(), clf), routes=[Route.WEBQA, Route.KBQA])
    return engine, w, k


def test_a_score_outside_0_1_is_refused_when_set_too() -> None:
    """Sources set the calibrated score after building the answer; the bounds were checked only
    when it was built."""
    from pydantic import ValidationError

    a = Answer(text="x", score=0.5, route=Route.WEBQA)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValidationError):
            a.score = bad
    a.score = 0.25
    assert a.score == 0.25
    # written out to four places: "no answer" at 1 - 0.4946 was 0.5054000000000001 in JSON
    none = Answer.none(Route.WEBQA, score=1 - 0.4946, best_guess=Answer(text="y", score=0.8950625436684241,
                                                                         route=Route.WEBQA))
    assert '"score":0.5054,' in none.model_dump_json() and '"score":0.8951,' in none.model_dump_json()
    assert none.score == 1 - 0.4946  # the value itself as computed


def test_the_preferred_source_answers_when_sure() -> None:
    engine, web, kb = _engine({}, {"What is the capital of Peru?": ("Lima", 0.95)})
    resp = engine.ask("What is the capital of Peru?")
    assert resp.answers[0].text == "Lima" and resp.routing.chosen == Route.KBQA
    assert resp.routing.asked == [Route.KBQA] and not web.asked
    assert resp.routing.probabilities["kbqa"] > 0.8 and "kbqa" in resp.routing.reason


def test_an_unsure_source_makes_the_cascade_ask_the_next() -> None:
    q = "What is the capital of Australia?"
    engine, web, kb = _engine({q: ("Canberra", 0.8)}, {q: ("Sydney", 0.3)})
    resp = engine.ask(q)
    assert resp.routing.asked == [Route.KBQA, Route.WEBQA]
    assert resp.answers[0].text == "Canberra" and resp.routing.chosen == Route.WEBQA
    assert resp.routing.scores == {"kbqa": 0.3, "webqa": 0.8}


def test_a_source_that_abstains_with_a_high_guess_does_not_end_the_cascade() -> None:
    """A guess scored at the router's threshold (a graph's unexpressed yes/no, capped at 0.5; a
    source whose own threshold is higher) is still an abstention: the next source is asked."""

    class SureGuess(Source):
        def answer(self, question: Question, top_k: int) -> list[Answer]:
            self.asked.append(question.text)
            guess = Answer(text="yes", score=0.5, route=self.name)
            return [Answer.none(self.name, score=0.5, best_guess=guess)]

    q = "Is Lima the capital of Peru?"
    engine, web, _ = _engine({q: ("Yes, since 1535", 0.8)}, {})
    engine._sources[Route.KBQA] = SureGuess(Route.KBQA, {})
    resp = engine.ask(q)
    assert resp.routing.asked == [Route.KBQA, Route.WEBQA] and web.asked == [q]
    assert resp.answers[0].text == "Yes, since 1535" and resp.routing.chosen == Route.WEBQA


def test_the_more_likely_answer_wins_even_below_the_threshold() -> None:
    q = "Who wrote Emma?"
    engine, web, kb = _engine({q: ("Austen", 0.2)}, {q: ("Brontë", 0.4)})
    resp = engine.ask(q)
    assert resp.answers[0].text == "Brontë" and "none reached" in resp.routing.reason


def test_sources_the_classifier_rules_out_are_not_asked_once_one_answered() -> None:
    q = "What is the capital of Peru?"
    engine, web, kb = _engine({q: ("Lima (web)", 0.9)}, {q: ("Lima", 0.3)})
    engine.settings = Settings(router_skip_below=0.2)  # webqa gets 0.12 from the classifier
    resp = engine.ask(q)
    assert resp.answers[0].text == "Lima" and not web.asked and "not asked: webqa" in resp.routing.reason
    engine, web, kb = _engine({q: ("Lima (web)", 0.9)}, {})  # kbqa abstains: webqa is asked anyway
    engine.settings = Settings(router_skip_below=0.2)
    assert engine.ask(q).answers[0].text == "Lima (web)"


def test_a_failing_source_does_not_fail_the_question() -> None:
    from qa.core.errors import QAError

    class Down(Source):
        def answer(self, question, top_k):
            raise QAError("the SPARQL endpoint http://127.0.0.1:9/query failed after 3 tries")

    q = "What is the capital of Peru?"
    engine, _, _ = _engine({q: ("Lima", 0.8)}, {})
    engine._sources[Route.KBQA] = Down(Route.KBQA, {})
    resp = engine.ask(q)
    assert resp.answers[0].text == "Lima" and "failed: kbqa" in resp.routing.reason
    with pytest.raises(QAError):
        engine.ask(q, route="kbqa")
    # nothing found by the passages and the graph down: "no answer" was 1.0 (0.9 from the
    # passages' own), though the question was the graph's by the classifier
    engine, _, _ = _engine({}, {})
    engine._sources[Route.KBQA] = Down(Route.KBQA, {})
    resp = engine.ask(q)
    top, p_kb = resp.answers[0], resp.routing.probabilities[Route.KBQA]
    assert top.no_answer and p_kb > 0.5 and top.score <= round(1 - p_kb, 4) + 1e-9
    assert "failed: kbqa" in resp.routing.reason


def test_a_bug_in_one_source_is_logged_and_the_others_still_answer(caplog) -> None:
    class Buggy(Source):
        def answer(self, question, top_k):
            raise KeyError("a bug")

    q = "What is the capital of Peru?"
    engine, _, _ = _engine({q: ("Lima", 0.8)}, {})
    engine._sources[Route.KBQA] = Buggy(Route.KBQA, {})
    resp = engine.ask(q)
    assert resp.answers[0].text == "Lima" and "failed: kbqa: internal error" in resp.routing.reason
    assert "a bug" not in resp.routing.reason  # the bug's own text stays in the log
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)
    engine._sources[Route.WEBQA] = Buggy(Route.WEBQA, {})
    with pytest.raises(KeyError):  # nothing answered: the bug itself (a 500), not "bad input" (a 400)
        engine.ask(q)


def test_what_a_source_returns_is_checked_against_the_interface(caplog) -> None:
    """A source of one's own: a score set with `model_copy` (not validated) reached clients as 1.7
    or null, None became "no answer" at 1.0, dicts failed the whole question, and a forced route
    returned all ten answers whatever `top_k`."""
    from qa.engine import SourceContractError

    q = "What is the capital of Peru?"

    def returning(value):
        class Odd(Source):
            def answer(self, question, top_k):
                return value() if callable(value) else value
        return Odd(Route.KBQA, {})

    good = Answer(text="Lima", score=0.5, route=Route.KBQA)
    bad_values = [lambda: [good.model_copy(update={"score": 1.7})], lambda: [good.model_copy(update={"score": -0.2})],
                  lambda: [good.model_copy(update={"score": float("nan")})], None, [], [{"text": "Lima"}], "Lima",
                  [Answer(text="Lima", score=0.5, route=Route.CQA)]]
    for bad in bad_values:
        engine, _, _ = _engine({q: ("Lima (web)", 0.8)}, {})
        engine._sources[Route.KBQA] = returning(bad)
        resp = engine.ask(q)  # the others still answer; the odd one is a bug, logged
        assert resp.answers[0].text == "Lima (web)" and "failed: kbqa: the kbqa source" in resp.routing.reason
        with pytest.raises(SourceContractError) as broke:  # a QAError, as everything the library raises
            engine.ask(q, route="kbqa")
        assert isinstance(broke.value, QAError) and broke.value.http_status == 500
    assert any("a probability in [0, 1]" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    many = [Answer(text=f"a{i}", score=round(0.9 - i / 20, 2), route=Route.KBQA) for i in range(10)]
    engine, _, _ = _engine({}, {})
    engine._sources[Route.KBQA] = returning(many)
    assert len(engine.ask(q, route="kbqa", top_k=2).answers) == 2
    assert len(engine.ask(q, top_k=2).answers) == 2


def test_sources_and_routes_are_checked_when_the_engine_is_built(caplog) -> None:
    """A source under a name of its own was dropped without a word; a source whose loading fails
    with a bug left every source after it cold; "kbqa" as routes was the routes k, b, q, a."""
    glossary = Source(Route.KBQA, {})
    with pytest.raises(InputError, match="no route 'glossary'"):
        Engine(Settings(), sources={"glossary": glossary})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="no route 'reader'"):
        Engine(Settings(), routes=[Route.READER])

    class Broken(Source):
        def warm_up(self) -> None:
            raise FileNotFoundError("glossary.csv")

    class NoWarmUp:
        name = Route.WEBQA

        def answer(self, question, top_k):
            return [Answer(text="x", score=0.5, route=Route.WEBQA)]

    later = Source(Route.CQA, {})
    warmed: list[Route] = []
    later.warm_up = lambda: warmed.append(Route.CQA)  # type: ignore[method-assign]
    engine = Engine(Settings(), sources={Route.KBQA: Broken(Route.KBQA, {}), Route.WEBQA: NoWarmUp(),
                                         Route.CQA: later}, routes="kbqa")  # type: ignore[arg-type]
    assert engine.routes == (Route.KBQA,)
    assert engine.warm_up() == {Route.KBQA: "internal error: FileNotFoundError: glossary.csv"}
    engine = Engine(Settings(), sources={Route.KBQA: Broken(Route.KBQA, {}), Route.WEBQA: NoWarmUp(),
                                         Route.CQA: later}, routes=[Route.WEBQA, Route.KBQA, Route.CQA])
    assert list(engine.warm_up("kbqa")) == [Route.KBQA]  # type: ignore[arg-type]
    engine._router = Router(Settings(), KeywordEncoder(), RouteClassifier(
        np.zeros((2, 3)), np.zeros(3), [Route.WEBQA, Route.KBQA, Route.CQA]))
    assert list(engine.warm_up()) == [Route.KBQA] and warmed == [Route.CQA]


def test_no_answer_only_when_every_source_abstains_and_it_keeps_the_guess() -> None:
    engine, _, _ = _engine({}, {})
    resp = engine.ask("Tell me about nothing?")
    top = resp.answers[0]
    assert top.no_answer and top.best_guess is not None and top.best_guess.text == "guess"
    assert "abstained" in resp.routing.reason


def test_when_every_source_abstains_the_guess_comes_from_the_classifiers_choice() -> None:
    class Guessing(Source):
        def __init__(self, name: Route, guess: str, score: float) -> None:
            super().__init__(name, {})
            self.guess, self.score = guess, score

        def answer(self, question, top_k):
            return [Answer.none(self.name, score=0.9, best_guess=Answer(text=self.guess, score=self.score,
                                                                          route=self.name))]

    engine, _, _ = _engine({}, {})
    engine._sources[Route.KBQA] = Guessing(Route.KBQA, "Canberra", 0.08)   # the classifier's pick (0.88)
    engine._sources[Route.WEBQA] = Guessing(Route.WEBQA, "Sydney", 0.3)    # a higher guess score elsewhere
    resp = engine.ask("What is the capital of Australia?")
    top = resp.answers[0]
    assert top.no_answer and top.best_guess.text == "Canberra" and resp.routing.chosen == Route.KBQA
    assert "guess kept from kbqa, the classifier's first choice" in resp.routing.reason
    assert "webqa 0.30" in resp.routing.reason  # the guesses it passed over are shown
    # "no answer" is right only if every guess is wrong: at most 0.70 while webqa's is right at 0.30,
    # though kbqa, whose guess is shown, says 0.90 alone
    assert top.score == 0.7 and resp.routing.scores == {"kbqa": 0.08, "webqa": 0.3}
    engine._sources[Route.WEBQA] = Guessing(Route.WEBQA, "Lima", 0.3)
    assert engine.ask("Where is the sea?").answers[0].best_guess.text == "Lima"  # webqa's question


def test_a_low_answer_from_a_ruled_out_source_is_a_guess() -> None:
    class Guessing(Source):
        def answer(self, question, top_k):
            self.asked.append(question)
            return [Answer.none(self.name, score=0.6, best_guess=Answer(text="Canberra", score=0.45,
                                                                          route=self.name))]

    q = "What is the capital of Australia?"
    engine, web, _ = _engine({q: ("Sydney", 0.3)}, {})
    engine._sources[Route.KBQA] = Guessing(Route.KBQA, {})  # the classifier's pick abstains
    engine.settings = Settings(router_skip_below=0.2)      # webqa gets 0.12: all but ruled out
    resp = engine.ask(q)
    top = resp.answers[0]
    assert web.asked and top.no_answer and top.best_guess.text == "Canberra"
    assert resp.routing.chosen == Route.KBQA and "all but ruled it out (webqa)" in resp.routing.reason
    engine._sources[Route.WEBQA] = _engine({q: ("Canberra (web)", 0.7)}, {})[1]  # sure enough: it answers
    assert engine.ask(q).answers[0].text == "Canberra (web)"
    engine.settings = Settings(router_skip_below=0.05)     # not ruled out: its answer stands, as before
    engine._sources[Route.WEBQA] = _engine({q: ("Sydney", 0.3)}, {})[1]
    assert engine.ask(q).answers[0].text == "Sydney"


def test_forced_routes_and_unknown_routes() -> None:
    q = "What is the capital of Peru?"
    engine, web, kb = _engine({q: ("Lima (web)", 0.4)}, {q: ("Lima", 0.95)})
    resp = engine.ask(q, route="webqa")
    assert resp.routing.forced and resp.answers[0].text == "Lima (web)" and not kb.asked
    with pytest.raises(InputError, match="unknown route"):
        engine.ask(q, route="nowhere")
    with pytest.raises(InputError):
        engine.ask(q, route="cqa")
    with pytest.raises(NotFoundError):
        engine.source(Route.CQA)


def test_a_rewritten_follow_up_carries_the_turn_it_continues() -> None:
    engine, web, _ = _engine({}, {})
    resp = engine.ask(Question("When did he die?", history=("Who was Nikola Tesla?", "an inventor")), route="webqa")
    assert resp.rewritten == "When did Nikola Tesla die?"
    assert web.questions[-1].text == "When did Nikola Tesla die?"
    assert web.questions[-1].topic == "Who was Nikola Tesla? an inventor"
    engine.ask(Question("Who wrote Emma?", history=("Who was Nikola Tesla?", "an inventor")), route="webqa")
    assert web.questions[-1].text == "Who wrote Emma?" and web.questions[-1].topic == ""
    # a pronoun that points back at something no rule can name: the question as typed, searched with the turn
    resp = engine.ask(Question("Who is he?", history=("What time is it?", "noon")), route="webqa")
    assert resp.rewritten is None
    assert web.questions[-1].text == "Who is he?" and web.questions[-1].topic == "What time is it? noon"


def test_response_json_is_one_shape() -> None:
    engine, _, _ = _engine({}, {"What is the capital of Peru?": ("Lima", 0.95)})
    data = json.loads(engine.ask("What is the capital of Peru?").model_dump_json())
    assert set(data) == {"question", "rewritten", "answers", "routing", "timings"}
    assert Response.model_validate(data).answers[0].text == "Lima"


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_real_sources_through_the_router(tmp_path: Path, small_ttl: Path) -> None:
    from qa.models import shared_encoder
    from qa.webqa import WebQA
    from retrieval.ingest import index_path

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rivers.md").write_text("# Rivers\n\nThe Amazon is the largest river in South America. "
                                    "The Nile flows north through Egypt into the Mediterranean Sea.\n")
    settings = Settings(kb_graph=str(small_ttl), index_dir=str(tmp_path / "collections"), include_default=False)
    folder, _ = index_path(docs, tmp_path / "collections" / "rivers", settings, progress=False)
    encoder = shared_encoder(settings)
    train = [("What is the capital of France?", Route.KBQA), ("Which currency does Japan use?", Route.KBQA),
             ("What is the population of Germany?", Route.KBQA), ("Where does the Nile flow?", Route.WEBQA),
             ("Which river is the largest in South America?", Route.WEBQA), ("Who built the pyramids?", Route.WEBQA)]
    clf = RouteClassifier.fit(encoder.encode([q for q, _ in train]), [r for _, r in train])
    engine = Engine(settings, router=Router(settings, encoder, clf), routes=[Route.WEBQA, Route.KBQA],
                    sources={Route.WEBQA: WebQA(settings, encoder=encoder)})
    kb_resp = engine.ask("What is the capital of France?")
    top = kb_resp.answers[0]
    assert (top.text if not top.no_answer else top.best_guess.text) == "Paris"
    assert isinstance(top.evidence, GraphEvidence) and "SELECT" in top.evidence.sparql
    web_resp = engine.ask("Where does the Nile flow?", route="webqa")
    answer = web_resp.answers[0]
    ev = answer.evidence if not answer.no_answer else answer.best_guess.evidence
    assert isinstance(ev, SpanEvidence) and ev.collection == "rivers" and "Mediterranean" in (
        answer.text if not answer.no_answer else answer.best_guess.text)


def test_passage_search_for_a_follow_up_adds_the_turn_it_continues(tmp_path: Path) -> None:
    """Two lakes, one question that fits both: the earlier question decides which passage comes first."""
    from qa.models import shared_encoder
    from qa.webqa import WebQA
    from retrieval.ingest import index_path

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "baikal.md").write_text("# Lake Baikal\n\nLake Baikal is a rift lake in Siberia, Russia. "
                                    "It is 1,642 metres deep and holds a fifth of the world's fresh water.\n")
    (docs / "crater.md").write_text("# Crater Lake\n\nCrater Lake fills a volcanic caldera in Oregon. "
                                    "The lake is 594 metres deep, the deepest in the United States.\n")
    settings = Settings(index_dir=str(tmp_path / "collections"), include_default=False)
    index_path(docs, tmp_path / "collections" / "lakes", settings, progress=False)
    web = WebQA(settings, encoder=shared_encoder(settings))
    for topic, lake in (("Where is Lake Baikal in Siberia?", "Baikal"), ("Which caldera in Oregon holds Crater Lake?",
                                                                         "Crater")):
        top = web.search(Question("How deep is the lake?", topic=topic), 2)[0]
        assert lake in top.text.split(".")[0]


def test_router_training_learns_the_configured_graphs_questions(tmp_path: Path, small_ttl: Path) -> None:
    """A user's graph is asked about in its own words: `qa train router` generates questions from it."""
    from qa.models import shared_encoder
    from qa.router_training import configured_graph_questions

    settings = Settings(kb_graph=str(small_ttl), include_default=False)
    questions = configured_graph_questions(settings, shared_encoder(settings), count=60)
    assert len(questions) >= 20
    assert any(name in q for q in questions for name in ("France", "Japan", "Paris", "Tokyo"))
    assert any(q.startswith(("which city", "which country", "how many cities", "how many countries"))
               for q in questions)  # about whole classes too
    assert configured_graph_questions(Settings(kb_graph="", kb_endpoint=""), shared_encoder(settings)) == []


def test_when_the_classifiers_choice_has_no_guess_another_sources_guess_is_shown() -> None:
    class Blank(Source):
        def answer(self, question, top_k):
            return [Answer.none(self.name, score=1.0)]  # links nothing: no guess at all

    engine, _, _ = _engine({}, {})
    engine._sources[Route.KBQA] = Blank(Route.KBQA, {})  # the classifier's pick for a "capital" question
    resp = engine.ask("What is the capital of Australia?")
    top = resp.answers[0]
    assert top.no_answer and top.best_guess is not None and top.best_guess.text == "guess"
    assert resp.routing.chosen == Route.WEBQA
    assert "sources with a guess (kbqa had none)" in resp.routing.reason


def test_the_readers_called_directly_refuse_what_they_would_misread() -> None:
    """Options given as one string were read letter by letter, a negative top_k dropped the last
    option, and an option that is no text was an AttributeError."""
    engine = Engine(Settings())
    ctx, q = "Marie Curie was born in Warsaw in 1867.", "Where was Marie Curie born?"
    for options, top_k, words in [("AB", 0, "not one text"), (["Warsaw", None], 1, "all be texts"),
                                  (["Warsaw", "Paris", "Rome"], -1, "top_k must be"),
                                  (["", " "], 1, "an option is empty"),  # was "'' is given twice"
                                  (None, 0, "top_k 0 \\(every option\\) is for multiple choice")]:  # no answer
        with pytest.raises(InputError, match=words):
            engine.read(q, ctx, options, top_k=top_k)
    chosen = engine.read(q, ctx, (o for o in ["Paris", "Warsaw"]), top_k=1)  # any iterable of texts
    assert [a.text for a in chosen] == ["Warsaw"]
    with pytest.raises(ConfigError, match="settings must be a Settings"):  # was an AttributeError
        Engine("qa.toml")  # type: ignore[arg-type]


def test_the_span_reader_called_directly_shows_distinct_answers_whose_scores_sum_to_at_most_one() -> None:
    """Its n-best overlap: "Jane Austen" 0.85, "Jane Austen. It was published in 1813 by Thomas
    Egerton" 0.76, "Thomas Egerton" 0.68 and "Jane Austen." 0.57 were shown as four answers whose
    probabilities summed to 2.86."""
    engine = Engine(Settings())
    ctx = "Pride and Prejudice is a novel by Jane Austen. It was published in 1813 by Thomas Egerton."
    for q in ["Who wrote Pride and Prejudice?", "What is the capital of Peru?"]:
        answers = engine.read(q, ctx, top_k=4)
        spans = [(a.start, a.end) for a in answers if not a.no_answer]
        assert len(spans) >= 2
        assert all(s1 >= e2 or s2 >= e1 for i, (s1, e1) in enumerate(spans) for s2, e2 in spans[:i])
        assert sum(a.score for a in answers) <= 1.0 + 1e-6
        assert sum(a.no_answer for a in answers) <= 1
    first = engine.read("Who wrote Pride and Prejudice?", ctx, top_k=4)[0]
    alone = engine.read("Who wrote Pride and Prejudice?", ctx)[0]
    assert (first.text, first.score, first.start) == ("Jane Austen", alone.score, alone.start)


class Holding(Source):
    """A source of answered questions that says which questions it holds (`HoldsQuestions`)."""

    def __init__(self, name: Route, table: dict[str, tuple[str, float] | None], held: dict[str, float]) -> None:
        super().__init__(name, table)
        self.held = held

    def holds(self, question: Question) -> float:
        return self.held.get(question.text, 0.0)


def test_a_source_that_holds_the_question_is_asked_first() -> None:
    """The classifier ranks the community store last for "Who founded the company?" (it reads like
    an encyclopaedia question), and the passages answered it from Wikipedia at 0.71: an FAQ that
    holds the question itself is asked first, and its answer kept when it is sure."""
    q = "Who founded the company?"
    w, k = Source(Route.WEBQA, {q: ("Cyrus McCormick", 0.71)}), Source(Route.KBQA, {})
    faq = Holding(Route.CQA, {q: ("Maria Lopez", 0.98)}, {q: 0.98})
    clf = RouteClassifier(np.array([[-1.0, 1.0, -2.0], [1.0, -1.0, -2.0]]), np.zeros(3),
                          [Route.WEBQA, Route.KBQA, Route.CQA])
    settings = Settings()
    engine = Engine(settings, sources={Route.WEBQA: w, Route.KBQA: k, Route.CQA: faq},
                    router=Router(settings, KeywordEncoder(), clf), routes=[Route.WEBQA, Route.KBQA, Route.CQA])
    resp = engine.ask(q)
    assert resp.answers[0].text == "Maria Lopez" and resp.routing.asked == [Route.CQA] and not w.asked
    assert resp.routing.reason.startswith("cqa holds this question (0.98): asked first")
    assert list(resp.routing.probabilities)[-1] == "cqa"  # the classifier's view is still shown as it was
    # held, but its answer unsure: the cascade goes on in the classifier's order
    faq.table[q] = ("Maria Lopez", 0.3)
    resp = engine.ask(q)
    assert resp.routing.asked == [Route.CQA, Route.WEBQA] and resp.answers[0].text == "Cyrus McCormick"
    # not held (or held below the router's threshold): the classifier's order alone
    for held in ({}, {q: 0.4}):
        faq.held, w.asked = held, []
        resp = engine.ask(q)
        assert resp.routing.asked[0] == Route.WEBQA and "holds" not in resp.routing.reason

    def broken(question: Question) -> float:
        raise RuntimeError("index file gone")

    # a follow-up rewritten to stand alone is looked up like any question (it was not: chat and
    # the API then answered from the passages what `qa ask` answered from the FAQ)
    faq.held, faq.table[q], w.asked = {q: 0.98}, ("Maria Lopez", 0.98), []
    followup = Question("Who founded it?", history=("What is the company?", "a tool maker"))
    resp = engine.ask(followup)
    assert resp.rewritten == q and resp.routing.asked == [Route.CQA] and resp.answers[0].text == "Maria Lopez"
    faq.holds = broken  # a look ahead that fails leaves the classifier's order; nothing else changes
    resp = engine.ask(q)
    assert resp.routing.asked[0] == Route.WEBQA and resp.answers[0].text == "Cyrus McCormick"


def test_an_faq_answers_its_own_questions_through_the_router(tmp_path: Path) -> None:
    """The real community store over an FAQ: its questions in nearly the same words are answered
    from it; a question it holds only in other words, or asks of another thing, is left to the
    classifier's order."""
    from cqa.matcher import CommunityQA
    from qa.models import shared_encoder

    faq = tmp_path / "faq.jsonl"
    faq.write_text("\n".join(json.dumps(r) for r in [
        {"question": "Who founded the company?", "answer": "Maria Lopez founded Acme Tools in 1998."},
        {"question": "Do you ship to Canada?", "answer": "Yes, in 5 to 7 business days."}]) + "\n")
    settings = Settings(cqa_store=str(tmp_path / "t.sqlite"), cqa_seed=False)
    encoder = shared_encoder(settings)
    cqa = CommunityQA(settings, encoder=encoder)
    cqa.import_file(faq)
    assert cqa.holds("Who founded the company?") > 0.9 and cqa.holds("who founded the company") > 0.9
    assert cqa.holds("Do you ship to Mexico?") == 0.0  # another country named: another question
    assert cqa.holds("What is the history of your business?") == 0.0
    web = Source(Route.WEBQA, {"Who founded the company?": ("Cyrus McCormick", 0.71)})
    train = [("Who founded the company?", Route.WEBQA), ("Who built the pyramids?", Route.WEBQA),
             ("Where is the visa office in Doha? I need to renew.", Route.CQA),
             ("Any good dentist around here? My tooth hurts.", Route.CQA)]
    clf = RouteClassifier.fit(encoder.encode([q for q, _ in train]), [r for _, r in train])
    engine = Engine(settings, sources={Route.WEBQA: web, Route.CQA: cqa}, router=Router(settings, encoder, clf),
                    routes=[Route.WEBQA, Route.CQA])
    resp = engine.ask("Who founded the company?")
    assert resp.routing.chosen == Route.CQA and resp.answers[0].text.startswith("Maria Lopez")
    assert "cqa holds this question" in resp.routing.reason and not web.asked
    # the look ahead's match is the answer's: the question is encoded once, unless the store changed
    seen: list[str] = []
    original = encoder.encode

    def counting(texts, *args, **kwargs):
        seen.extend(texts)
        return original(texts, *args, **kwargs)

    cqa._encoder = type("Counting", (), {"encode": staticmethod(counting), "name": encoder.name})()
    q = "Do you ship to Canada?"
    assert cqa.holds(q) > 0.9 and cqa.answer(q)[0].text.startswith("Yes") and seen.count(q) == 1
    cqa.add_question("Do you ship to Chile?", answer="No.")
    assert cqa.answer(q)[0].text.startswith("Yes") and seen.count(q) == 2
    cqa._encoder = encoder
    # a question filed without an answer holds nothing; nor does a store sure of less than it answers at
    cqa.add_question("Who is the company's CEO?")
    assert cqa.holds("Who is the company's CEO?") == 0.0
    strict = CommunityQA(Settings(cqa_store=str(tmp_path / "t.sqlite"), cqa_seed=False, cqa_min_score=0.999),
                         encoder=encoder)
    assert strict.holds("Who founded the company?") == 0.0


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_the_runners_up_of_a_passage_answer_share_what_the_first_leaves() -> None:
    """Several spans of one question are other answers to it, at most one right: shown together,
    their probabilities sum to at most 1 (over the default collection each runner-up was calibrated
    alone: Berlin 0.82, then Düsseldorf and Dresden at 0.45 each), and the first keeps its score."""
    from qa.models import shared_encoder
    from qa.webqa import WebQA

    settings = Settings()
    web = WebQA(settings, encoder=shared_encoder(settings))
    answers = web.answer(Question("What is the most populous city in Germany?"), 5)
    shown = [a.best_guess if a.no_answer else a for a in answers]
    assert len(shown) >= 3 and shown[0].text == "Berlin" and shown[0].score > 0.5
    assert sum(a.score for a in shown) <= 1.0 + 1e-6
    assert [a.score for a in shown] == sorted((a.score for a in shown), reverse=True)


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_fusion_weights_do_not_move_a_passage_answers_probability(caplog) -> None:
    """QA_FUSION_WEIGHT_DENSE=10 QA_FUSION_WEIGHT_BM25=10 put "What is the capital of Genovia?" at
    N'Djamena 1.00: the calibrator read the fused score, twenty times its usual scale. It is read as a
    share of the highest the weights allow; a reading setting the calibrator was not fitted with
    (read_k) is warned about."""
    from qa.models import shared_encoder
    from qa.webqa import WebQA

    q = Question("What is the capital of Genovia?")
    shown = []
    for dense, bm25 in ((0.5, 0.5), (10.0, 10.0)):
        settings = Settings(fusion_weight_dense=dense, fusion_weight_bm25=bm25)
        a = WebQA(settings, encoder=shared_encoder(settings)).answer(q, 1)[0]
        shown.append(((a.best_guess or a).text, (a.best_guess or a).score))
    assert shown[0] == shown[1] and shown[0][1] < 0.5
    settings = Settings(read_k=1)
    with caplog.at_level("WARNING"):
        _ = WebQA(settings, encoder=shared_encoder(settings)).calibrator
    assert "fitted with read_k 8" in caplog.text


def test_passages_that_all_abstain_still_answer_when_the_answer_is_likelier_right_than_not(tmp_path: Path) -> None:
    """Every passage's reader abstained, so "no answer" (0.22) was shown over a guess the calibrated
    probability put at 0.78: the score said one thing and the outcome another."""
    from retrieval.ingest import index_path

    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "misc.jsonl").write_text('{"text": "The office wifi password is tulip42."}\n', encoding="utf-8")
    settings = Settings(index_dir=str(tmp_path / "collections"), include_default=False)
    index_path(docs, tmp_path / "collections" / "notes", settings, progress=False)
    engine = Engine(settings, routes=[Route.WEBQA])
    top = engine.ask(Question("What is the wifi password?", collection="notes")).answers[0]
    assert not top.no_answer and top.text == "tulip42" and top.score >= 0.5
    # below one half it stays "no answer", with the guess
    none = engine.ask(Question("Who painted the ceiling of the Sistine Chapel?", collection="notes")).answers[0]
    assert none.no_answer and none.best_guess is not None and none.best_guess.score < 0.5

    class Unsure(Source):  # abstains, with a guess its calibration puts at 0.7
        def answer(self, question, top_k):
            self.asked.append(question.text)
            return [Answer.none(self.name, score=0.3, best_guess=Answer(text="tulip42", score=0.7, route=self.name))]

    # routed: every source abstained, the guess shown is likelier right than not: the answer; the
    # cascade still asked every source (a source that abstained does not end it)
    engine, web, kb = _engine({}, {})
    engine._sources[Route.WEBQA] = Unsure(Route.WEBQA, {})
    resp = engine.ask("What is the wifi password?")
    assert not resp.answers[0].no_answer and resp.answers[0].text == "tulip42" and resp.answers[0].score == 0.7
    assert resp.routing.asked == [Route.WEBQA, Route.KBQA] and "likelier right than not" in resp.routing.reason

    class HeldBack(Source):  # a graph's yes/no it could not express: "no answer" 0.5 over "yes" 0.5
        def answer(self, question, top_k):
            self.asked.append(question.text)
            return [Answer.none(self.name, score=0.5, best_guess=Answer(text="yes", score=0.5, route=self.name))]

    class Guessing(Source):  # the passages abstain too, with a guess of their own at 0.6
        def answer(self, question, top_k):
            self.asked.append(question.text)
            return [Answer.none(self.name, score=0.4, best_guess=Answer(text="German", score=0.6, route=self.name))]

    # the graph's guess, which it held back, was shown as the answer because the passages' guess
    # lowered "no answer" under one half
    engine, web, kb = _engine({}, {})
    engine._sources[Route.WEBQA], engine._sources[Route.KBQA] = Guessing(Route.WEBQA, {}), HeldBack(Route.KBQA, {})
    top = engine.ask("Is Paris the capital of France?").answers[0]
    assert top.no_answer and top.score == 0.4 and top.best_guess is not None and top.best_guess.text == "yes"

    class SureGraph(Source):  # abstains under the user's kb_min_confidence 0.99, with a guess at 0.91
        def answer(self, question, top_k):
            self.asked.append(question.text)
            return [Answer.none(self.name, score=0.09, best_guess=Answer(text="Paris", score=0.91, route=self.name))]

    # a threshold the user set for a source holds: QA_KB_MIN_CONFIDENCE=0.99 (and QA_CQA_MIN_SCORE) had no
    # effect above router_min_score, the guess at 0.91 was shown as the answer, routed or forced
    for route in ("auto", "kbqa"):
        engine, web, kb = _engine({}, {})
        engine.settings = Settings(kb_min_confidence=0.99)
        engine._sources[Route.KBQA] = SureGraph(Route.KBQA, {})
        top = engine.ask("What is the capital of France?", route=route).answers[0]
        assert top.no_answer and top.best_guess is not None and top.best_guess.text == "Paris", route
    engine._sources[Route.KBQA] = SureGraph(Route.KBQA, {})
    engine.settings = Settings()
    assert not engine.ask("What is the capital of France?", route="kbqa").answers[0].no_answer


def test_a_first_question_about_a_person_it_never_names_is_no_answer_with_the_guess() -> None:
    """"When was he born?" with nothing before it was answered "AD 675 or AD 676" (John of
    Damascus, 0.20), shown as the answer."""
    q = "When was he born?"
    engine, _, _ = _engine({q: ("AD 676", 0.2)}, {})
    resp = engine.ask(q)
    top = resp.answers[0]
    assert top.no_answer and top.best_guess is not None and top.best_guess.text == "AD 676"
    assert top.best_guess.score == 0.2 and top.score == 0.8  # the guess as scored: nothing that reads it moves
    assert "'he' names no one" in resp.routing.reason
    engine, _, _ = _engine({q: ("AD 676", 0.9)}, {})  # an answer the sources are sure of stays one
    assert not engine.ask(q).answers[0].no_answer
    # a pronoun after a noun that may be its antecedent, or meaning anyone: as asked
    for asked in ("If an employee is sick, can he work from home?", "How do I change her account password?"):
        engine, _, _ = _engine({asked: ("Yes, with the manager's consent.", 0.3)}, {})
        resp = engine.ask(asked)
        assert not resp.answers[0].no_answer and "names no one" not in resp.routing.reason
    engine, _, _ = _engine({q: ("AD 676", 0.2), "When was Nikola Tesla born?": ("1856", 0.3)}, {})
    # with an earlier turn, "he" is someone: rewritten and answered, not refused
    resp = engine.ask(Question(q, history=("Who invented the Tesla coil?", "Nikola Tesla")))
    assert resp.rewritten == "When was Nikola Tesla born?" and resp.answers[0].text == "1856"
    assert "names no one" not in resp.routing.reason


def test_also_in_names_only_passages_that_give_the_answer_itself() -> None:
    """A passage whose span is only part of the answer ("euros" of "140 euros" beside "340 euros")
    adds to the merged answer's support, but it does not say the same thing: it is not shown as
    giving that answer."""
    from qa.core.types import Answer, Route, SpanEvidence
    from qa.webqa import _candidates
    from retrieval.passage import RetrievedPassage

    texts = ["A lost development kit costs 340 euros to replace.",
             "A lost travel adapter costs 140 euros to replace.",
             "The fee for a lost kit is 340 euros, paid to IT."]
    hits = [RetrievedPassage(id=f"hb/p{i}.txt#0", title="", text=t, source="hb", score=1.0 - i / 10)
            for i, t in enumerate(texts)]

    def span(i: int, text: str, raw: float) -> Answer:
        start = texts[i].index(text)
        return Answer(text=text, score=0.5, route=Route.READER, raw_score=raw, null_score=0.0,
                      evidence=SpanEvidence(passage_id=str(i), text=texts[i], start=start, end=start + len(text)))

    per_passage = [[span(0, "340 euros", 9.0)], [span(1, "euros", 8.0), span(1, "140 euros", 7.0)],
                   [span(2, "340 euros, paid to IT", 6.0)]]
    cands = _candidates("What is the replacement fee for a lost development kit?", hits, per_passage)
    top = cands[0][0]
    assert top.text == "340 euros" and top.span is not None
    assert top.span.also_in == ["hb/p2.txt#0"]  # not p1, which says 140 euros


def test_a_no_answer_marks_no_span_its_guess_keeps_its_own() -> None:
    """/v1/ask's "no answer" carried the rejected guess's offsets: a client highlighting
    text[start:end] marked the guess as the answer."""
    from qa.core.types import Answer, Route, SpanEvidence

    guess = Answer(text="1973–1975", score=0.36, route=Route.WEBQA,
                   evidence=SpanEvidence(passage_id="p#0", text="The war ended 1973–1975.", start=14, end=23))
    none = Answer.none(Route.WEBQA, score=0.64, best_guess=guess, evidence=guess.evidence)
    assert none.start is None and none.end is None and none.span is not None and none.span.text
    assert (guess.start, guess.end) == (14, 23) and none.best_guess is not None and none.best_guess.start == 14


def test_a_graph_file_edited_while_the_engine_runs_is_answered_from_the_next_question(small_ttl, tmp_path) -> None:
    """`qa chat` and `qa serve` kept answering from the graph as it was at start (an edited e-mail
    address, a person added): passages and answered questions were followed, the graph was not."""
    graph = tmp_path / "g.ttl"
    graph.write_text(small_ttl.read_text(encoding="utf-8"), encoding="utf-8")
    engine = Engine(Settings(kb_graph=str(graph), include_default=False), routes=[Route.KBQA])
    assert engine.ask("What is the capital of France?").answers[0].text == "Paris"
    edited = tmp_path / "edited.ttl"
    edited.write_text(graph.read_text(encoding="utf-8").replace("ex:capital ex:Paris", "ex:capital ex:Lyon"),
                      encoding="utf-8")
    edited.replace(graph)
    assert engine.ask("What is the capital of France?").answers[0].text == "Lyon"
    graph.write_text("this is not Turtle", encoding="utf-8")  # a file that no longer loads: said, as at start
    with pytest.raises(QAError):
        engine.ask("What is the capital of France?")


def test_span_readers_for_many_configurations_are_not_all_kept() -> None:
    """A service building engines with each tenant's reader settings grew by 50 MB a configuration."""
    from qa import models
    from qa.core.settings import Settings

    first = models.shared_span_reader(Settings(null_threshold=0.11))
    assert models.shared_span_reader(Settings(null_threshold=0.11)) is first  # one per configuration
    for i in range(models.READERS_KEPT + 3):
        models.shared_span_reader(Settings(null_threshold=0.2 + i / 100))
    assert len(models._READERS) == models.READERS_KEPT  # noqa: SLF001
    assert models.shared_span_reader(Settings(null_threshold=0.11)) is not first  # made again when asked again


def test_onnx_runtime_records_and_sends_nothing(tmp_path) -> None:
    """ONNX Runtime 1.32 kept a device id and a database of usage events (OS, Python path, CPU) under
    ~/.cache/Microsoft for upload, one event a process; the product's code turns that off."""
    import os
    import subprocess
    import sys

    script = """
import qa.core  # what every use of the product imports first
import onnx, onnxruntime
from onnx import TensorProto, helper
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))
onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
"""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env |= {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache")}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    assert not list(tmp_path.rglob("*")), "onnxruntime wrote " + ", ".join(str(p) for p in tmp_path.rglob("*"))


def test_a_search_that_finds_passages_again_clears_the_sources_failing_mark() -> None:
    """A search that fails because the passages are down marks the source failing in health; only an
    answer cleared it, so a server serving searches said "failing" for five minutes after. One
    collection asked by name that does not read is no source down (health's `left_out` says it)."""
    from qa.core.errors import DamagedCollection, DataFormatError

    class Passages(Source):
        def __init__(self) -> None:
            super().__init__(Route.WEBQA, {})
            self.broken: Exception | None = DataFormatError("the passages' files no longer read")

        def search(self, question, k):
            if self.broken:
                raise self.broken
            return []

    passages = Passages()
    engine = Engine(Settings(), sources={Route.WEBQA: passages}, routes=[Route.WEBQA])
    with pytest.raises(QAError):
        engine.search("release manager")
    assert engine.failing == {Route.WEBQA: "source_unavailable"}
    passages.broken = None
    assert engine.search("release manager") == [] and engine.failing == {}
    passages.broken = DamagedCollection("notes", "/x/docstore.sqlite no longer reads")
    with pytest.raises(QAError, match="'notes'"):
        engine.search("release manager", collection="notes")
    assert engine.failing == {}


def test_a_writer_interrupted_while_it_waits_holds_no_reader_back() -> None:
    """A KeyboardInterrupt (a notebook's stop button) while `add_documents` waited for a question
    to finish left the engine's lock counting a waiting writer: every later question hung."""
    import os
    import signal
    import threading

    from qa.engine import _ReadWriteLock

    lock = _ReadWriteLock()
    held, release = threading.Event(), threading.Event()

    def reader() -> None:
        with lock.reading():
            held.set()
            release.wait(10)

    first = threading.Thread(target=reader)
    first.start()
    assert held.wait(5)
    # a test run started in the background inherits SIGINT ignored: Python's own handler, for the test
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt), lock.writing():
            pass
    finally:
        signal.signal(signal.SIGINT, before)
    release.set()
    first.join(5)
    asked = threading.Event()

    def later() -> None:
        with lock.reading():
            asked.set()

    threading.Thread(target=later, daemon=True).start()
    assert asked.wait(5)
    with lock.writing():  # and a writer still gets in
        pass


def test_every_error_of_the_library_crosses_a_process_boundary() -> None:
    """A process pool carries an error back by pickling it: `SourceUnavailable` and
    `DamagedCollection` did not unpickle (their arguments are not the message), and the pool broke
    instead of the caller hearing the documented error."""
    import copy
    import pickle

    from qa.core.errors import ConfigError, DamagedCollection, SourceUnavailable

    cause = ConfigError("graph file not found: /x.ttl")
    cause.public = "said to clients"
    for err in (SourceUnavailable("kbqa", cause), DamagedCollection("notes", "no such table")):
        for back in (pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):
            assert type(back) is type(err) and str(back) == str(err) and back.public == err.public
    back = pickle.loads(pickle.dumps(SourceUnavailable("kbqa", cause)))
    assert back.route == "kbqa" and back.cause.public == "said to clients"


def test_a_process_forked_after_a_search_can_search() -> None:
    """FAISS's OpenMP pool does not survive a fork: a child forked after the parent had searched
    (multiprocessing's default on Linux, a ProcessPoolExecutor) hung in its first search."""
    import multiprocessing

    import faiss

    import qa.core  # noqa: F401 - what registers the fork handler

    vectors = np.random.default_rng(0).random((20_000, 64), dtype=np.float32)
    index = faiss.IndexFlatIP(64)
    index.add(vectors)
    assert index.search(vectors[:1], 3)[1][0][0] == 0  # the parent searches first, as a server does

    child = multiprocessing.get_context("fork").Process(target=index.search, args=(vectors[:1], 3))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
