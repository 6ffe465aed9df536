"""Training from the graph alone, the per-graph artefacts (label index, scorer) and `qa kb`."""

import json

import pytest
from rdflib import Literal, URIRef

from kb import artefacts
from kb.linking import LabelIndex
from kb.paths import enumerate_paths
from kb.pipeline import KBQA, KBQAConfig
from kb.scorer import Calibrator, Scorer
from kb.store import EmbeddedGraph
from kb.training import QuestionGenerator, train
from qa.cli import main
from qa.core.settings import Settings
from tests.kb.conftest import make_qa


@pytest.fixture(scope="module")
def trained(small_graph):
    from qa.models import shared_encoder

    qa = KBQA(Settings(), graph=small_graph, scorer=Scorer(), config=KBQAConfig(), encoder=shared_encoder())
    train(qa, questions=160, paraphrases=False, seed=3)
    return qa


def test_generated_questions_name_their_anchor_and_path(small_graph):
    qa = make_qa(small_graph)
    gen = QuestionGenerator(qa, seed=1)
    data = gen.generate(40)
    assert len(data) == 40 and len({g.question for g in data}) == 40
    for g in data:
        assert g.path and 1 <= len(g.path) <= 3 and g.answerable
    named = [any(name.lower() in g.question.lower() for name in gen.entity_names[g.anchor]) for g in data]
    assert sum(named) >= 0.7 * len(data)  # the rest carry a typo in the name, as users write them
    hops = {len(g.path) for g in data}
    assert hops >= {1, 2}
    missing = gen.unanswerable(data[0])
    assert not missing.answerable and (missing.exclude or missing.question != data[0].question)


def test_questions_about_whole_classes_come_with_their_gold_result(small_graph):
    from kb.training import ClassQuestion, Judged, class_answer_right

    qa = make_qa(small_graph)
    gen = QuestionGenerator(qa, seed=2)
    profiles = {p.name: p for p in gen.class_profiles()}
    assert {"country", "city"} <= set(profiles)  # classes by their labels; rdfs/owl classes never
    assert set(profiles["city"].attributes) == {URIRef("http://example.org/population")}
    made = gen.class_questions(40)
    assert len(made) >= 20 and len({c.question for c in made}) == len(made)
    assert any("countries" in c.question or "cities" in c.question for c in made)
    judged = [c for c in made if c.gold]
    assert judged and {c.kind for c in judged} <= set(Judged)
    for c in judged:  # every gold query runs on the graph (an empty result: "none" was the answer)
        if c.kind == "ask":
            qa.graph.ask(c.gold)
        else:
            qa.graph.select(c.gold)
    # a right and a wrong answer to one superlative, judged by the result and not by the path

    top = ClassQuestion("which city has the highest population?",
                        "SELECT ?s ?v WHERE { ?s <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                        "<http://example.org/City> . ?s <http://example.org/population> ?v } "
                        "ORDER BY DESC(?v) LIMIT 50", Judged.TOP)
    pred = qa.predict(top.question)
    assert pred.answers[0][1] == "Tokyo" and class_answer_right(qa, pred, top)
    low = ClassQuestion(top.question, top.gold.replace("DESC", "ASC"), Judged.TOP)
    assert not class_answer_right(qa, pred, low)
    count = ClassQuestion("how many countries are there?", "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s "
                          "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/Country> }",
                          Judged.COUNT)
    assert class_answer_right(qa, qa.predict(count.question), count)


def test_training_learns_paths_and_calibrates(trained):
    s = trained.scorer
    assert isinstance(s.calibrator, Calibrator) and 0.05 <= s.threshold <= 0.95
    assert s.meta["n_train"] > 50 and s.meta["held_out_accuracy"] > 60
    assert s.meta["n_class_held_out"] >= 5  # questions about whole classes calibrate too
    assert "constraints" in s.calibrator.weights
    answers = trained.answer("What is the capital of France?")
    assert answers[0].text == "Paris" and answers[0].score >= s.threshold
    p = trained.predict("which currency does Japan use?")
    assert p.answers[0][1] == "Yen" and 0.0 <= p.confidence <= 1.0


def test_the_graph_does_not_know_so_no_answer(trained):
    for q in ["Who is the president of France?", "What is the capital of Zorbulonia?"]:
        a = trained.answer(q)[0]
        assert a.no_answer and a.text == "", q
        assert 0.0 <= a.score <= 1.0
        if a.best_guess is not None:  # the best guess is shown as such, with its own probability
            assert a.best_guess.score < trained.scorer.threshold


def test_scorer_round_trip_keeps_the_calibrator(trained, tmp_path):
    path = tmp_path / "scorer.json"
    trained.scorer.save(path)
    back = Scorer.load(path)
    assert back.calibrator is not None and back.threshold == trained.scorer.threshold
    d = {"p_top": 0.9, "margin": 0.5, "cos": 0.8, "link": 1.0}
    assert back.confidence(0.9, d) == pytest.approx(trained.scorer.confidence(0.9, d))
    (tmp_path / "bad.json").write_text("{not json")
    from qa.core.errors import DataFormatError

    with pytest.raises(DataFormatError):
        Scorer.load(tmp_path / "bad.json")


def test_misspelled_entity_and_relation_words(small_graph):
    qa = make_qa(small_graph)
    assert qa.predict("What is the capitl of Frnace?").answers[0][1] == "Paris"
    best = qa.index.link("currency of Jpaan")[0]
    assert best.label == "Japan" and best.method == "fuzzy"


def test_label_index_is_cached_per_graph(small_graph, tmp_path):
    path = tmp_path / "labels.pkl"
    first = LabelIndex.cached(small_graph, path)
    assert path.exists()
    again = LabelIndex.cached(small_graph, path)
    assert again.keys == first.keys and again.relation_names == first.relation_names
    assert [c.node for c in again.link("capital of France")] == [c.node for c in first.link("capital of France")]
    path.write_bytes(b"garbage")  # a broken cache is rebuilt, not fatal
    assert LabelIndex.cached(small_graph, path).keys == first.keys
    # a cache that cannot be written (read-only): the index is used all the same, not a traceback that
    # failed the graph source (its answer came from another source)
    (tmp_path / "read-only").write_text("a file where the cache's folder would be")
    unkept = LabelIndex.cached(small_graph, tmp_path / "read-only" / "labels.pkl")
    assert unkept.keys == first.keys and unkept.dense_path is None


def test_artefacts_are_keyed_by_content(tmp_path, monkeypatch, small_ttl):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copy = tmp_path / "copy.ttl"
    copy.write_bytes(small_ttl.read_bytes())
    a = artefacts.artefact_dir(Settings(kb_graph=str(small_ttl)))
    b = artefacts.artefact_dir(Settings(kb_graph=str(copy)))
    assert a == b  # same content, same artefacts, wherever the file is
    copy.write_text(small_ttl.read_text() + "\n<http://x.org/a> <http://x.org/b> <http://x.org/c> .\n")
    assert artefacts.artefact_dir(Settings(kb_graph=str(copy))) != a


def test_path_enumeration_is_bounded_on_hubs():
    g = EmbeddedGraph()
    ex = "http://example.org/"
    triples = []
    for i in range(400):
        spoke = URIRef(f"{ex}s{i}")
        triples += [(URIRef(ex + "hub"), URIRef(ex + "has"), spoke), (spoke, URIRef(ex + "next"), URIRef(f"{ex}t{i}")),
                    (URIRef(f"{ex}t{i}"), URIRef(ex + "value"), Literal(i))]
    g.add_triples(triples)
    sent = []

    class Recording:
        name = "recording"

        def select(self, q, timeout_s=None):
            sent.append(q)
            return g.select(q, timeout_s)

    paths = enumerate_paths(Recording(), URIRef(ex + "hub"), max_hops=3, forward_only=True, frontier=50)
    keys = {tuple(s.key for s in p) for p in paths}
    assert ("has", "next", "value") in keys
    assert any("LIMIT 50 }" in q for q in sent)  # the third hop extends a bounded frontier


def test_qa_kb_train_then_kbqa_uses_it(tmp_path, monkeypatch, small_ttl, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["kb", "info", "--graph", str(small_ttl), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trained_scorer"] is False
    # nothing trained for this graph yet: its yes/no answers alone cannot be refitted
    assert main(["kb", "train", "--graph", str(small_ttl), "--yes-no-only"]) == 2
    assert "run `qa kb train` for it first" in capsys.readouterr().err
    assert main(["kb", "train", "--graph", str(small_ttl), "--questions", "80", "--no-paraphrases", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scorer"].startswith(str(tmp_path / "cache")) and summary["graph_sha256"]
    assert main(["kb", "info", "--graph", str(small_ttl), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trained_scorer"] is True
    from qa.models import shared_encoder

    qa = KBQA(Settings(kb_graph=str(small_ttl)), encoder=shared_encoder())
    qa.warm_up()
    assert qa.scorer_source == summary["scorer"] and qa.scorer.calibrator is not None
    assert main(["kbqa", "What is the capital of France?", "--graph", str(small_ttl), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answers"][0]["text"] == "Paris"
    # --recalibrate keeps the paths the graph's scorer picks and refits only its calibration
    trained_weights = qa.scorer.weights
    assert main(["kb", "train", "--graph", str(small_ttl), "--questions", "80", "--no-paraphrases", "--recalibrate",
                 "--out", str(tmp_path / "recal.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["paths_kept_from"]["questions"] > 0
    again = Scorer.load(tmp_path / "recal.json")
    assert again.weights == trained_weights and again.calibrator is not None
    # --yes-no-only keeps every other weighing of the graph's own scorer
    assert main(["kb", "train", "--graph", str(small_ttl), "--questions", "80", "--no-paraphrases", "--yes-no-only",
                 "--out", str(tmp_path / "yes-no.json"), "--json"]) == 0
    capsys.readouterr()
    kept = Scorer.load(tmp_path / "yes-no.json")
    assert kept.weights == trained_weights and kept.calibrator == qa.scorer.calibrator
    assert main(["kb", "train", "--graph", str(tmp_path / "missing.ttl")]) == 2
    # another run saved its scorer meanwhile: this one saves nothing over it (one had undone the other)
    import kb.training

    real = kb.training.train

    def beside_another_run(*args, **kwargs):
        done = real(*args, **kwargs)
        (tmp_path / "yes-no.json").write_text((tmp_path / "recal.json").read_text())
        return done

    monkeypatch.setattr(kb.training, "train", beside_another_run)
    capsys.readouterr()
    assert main(["kb", "train", "--graph", str(small_ttl), "--questions", "80", "--no-paraphrases", "--recalibrate",
                 "--out", str(tmp_path / "yes-no.json")]) == 2
    assert "changed while this ran (another `qa kb train` for this graph?)" in " ".join(capsys.readouterr().err.split())
    assert Scorer.load(tmp_path / "yes-no.json").calibrator == again.calibrator  # the other run's stands


def test_yes_no_questions_are_generated_true_and_false_and_judged_by_their_statement(small_graph):
    from kb.paths import Step
    from kb.training import Generated, ask_right

    qa = make_qa(small_graph)
    gen = QuestionGenerator(qa, seed=4)
    asked = [g for g in gen.generate(400) if g.asks is not None]
    assert asked and all(g.holds for g in asked)  # the generator writes what the graph holds
    capital = URIRef("http://example.org/capital")
    g = Generated("is Paris the capital of France?", URIRef("http://example.org/France"), (Step(capital),),
                  asks=URIRef("http://example.org/Paris"))
    no = gen.denied(g)
    assert no is not None and not no.holds and no.asks not in {g.asks, g.anchor}
    assert "Paris" not in no.question and no.question.endswith("the capital of France?")
    assert qa.predict(no.question).boolean is False and not gen.reaches(no.anchor, no.path, no.asks)
    pred = qa.predict(g.question)
    assert pred.boolean is True and ask_right(pred, g) and not ask_right(pred, no)
    # the yes/no question of a question's path and one of its answers
    plain = Generated("what is the capital of France?", g.anchor, g.path)
    yes = gen.asked(plain)
    assert yes is not None and yes.asks == g.asks and yes.holds and "Paris" in yes.question and "France" in yes.question
    # what the anchor is: one of its classes, or another one
    seen = set()
    for _ in range(12):
        m = gen.membership(g)
        assert m is not None and not m.path and m.question.startswith(("is France a", "is French Republic a"))
        pred_m = qa.predict(m.question)
        assert pred_m.boolean is m.holds and ask_right(pred_m, m), m.question
        seen.add(m.holds)
    assert seen == {True, False}
    # asked from the other end (Paris, the capital of what?), it is the same statement
    back = Generated(g.question, g.asks, (Step(capital, forward=False),), asks=g.anchor)
    assert ask_right(pred, back) or (pred.best.anchor.node, pred.best.path) == (back.anchor, back.path)


def test_yes_no_only_keeps_every_other_weighing_and_refits_yes_no_answers(trained):
    before = trained.scorer
    try:
        with pytest.raises(ValueError):
            train(trained, questions=160, paraphrases=False, seed=3, yes_no_only=True)
        s = train(trained, questions=160, paraphrases=False, seed=3, keep_paths=True, yes_no_only=True)
        assert s.calibrator is before.calibrator and s.threshold == before.threshold
        assert s.weights == before.weights and s.calibration == before.calibration
        assert s.meta["n_yes_no_held_out"] > 0 and "calibration_kept_from" in s.meta
    finally:
        trained.scorer = before


def test_a_feature_that_is_not_a_number_is_no_evidence() -> None:
    """A NaN or infinite feature (a division by zero somewhere upstream) must not come out as
    near-certainty: clamping the logit would turn NaN into 30, a probability of 0.99999."""
    c = Calibrator.fit([{"p_top": 0.9}, {"p_top": 0.2}] * 10, [True, False] * 10)
    assert 0.5 < c.probability({"p_top": 0.9}) < 1.0
    for bad in (float("nan"), float("inf"), float("-inf")):
        assert c.probability({"p_top": bad}) == 0.0
