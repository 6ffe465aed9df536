"""The question judge: its training data from SQuAD-shaped questions, its combination with the
re-scorer, where the matcher uses it, and `qa cqa train-question-judge` end to end on a tiny file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from cqa.model import LogisticModel
from cqa.question_training import (
    FactQuestion,
    GroupedQuestion,
    StackRows,
    as_entry,
    faq_simulation,
    fit_question_stack,
    group_faq_simulation,
    group_pairs,
    held_article,
    load_grouped,
    question_pairs,
    swapped,
)
from qa.cli import main
from qa.core.errors import DataFormatError

# "Town 1", "Town 8", ... are held out for the combination by the title hash; "Town 0", "Town 2", ... train
HELD = [f"Town {k}" for k in range(40) if held_article(f"Town {k}")]
TRAIN = [f"Town {k}" for k in range(40) if not held_article(f"Town {k}")]
PEOPLE = ["Anna Berg", "Carl Dahl", "Eva Falk", "Gustav Holm", "Ida Jansson", "Karl Lind", "Maja Nord", "Olof Persson"]


def town_questions(title: str, n: int) -> list[FactQuestion]:
    """One paragraph about a town's bridge: two questions for each of its three facts, and one more."""
    builder, year, river = PEOPLE[n % len(PEOPLE)], str(1850 + 7 * n), ["Ume", "Lule", "Pite", "Kalix"][n % 4]
    context = f"The bridge of {title} was built by {builder} in {year} over the {river} river."

    def span(text: str) -> tuple[tuple[int, int], ...]:
        start = context.index(text)
        return ((start, start + len(text)),)

    rows = [(f"Who built the bridge of {title}?", builder), (f"Which engineer designed the {title} bridge?", builder),
            (f"When was the bridge of {title} built?", year), (f"In what year was the {title} bridge finished?", year),
            (f"Which river does the bridge of {title} cross?", river),
            (f"What river flows under it in {title}?", river),
            (f"What was built over the {river} river in {year}?", f"The bridge of {title}")]
    return [FactQuestion(title, context, q, span(a), a) for q, a in rows]


def test_same_fact_is_the_same_paragraph_and_overlapping_answers() -> None:
    a, b, c, *_ = town_questions("Town 0", 0)
    assert a.same_fact(b) and not a.same_fact(c)
    other = FactQuestion("Town 0", "another paragraph", b.question, b.spans)
    assert not a.same_fact(other)


def test_pairs_come_from_the_training_articles_with_hard_and_swapped_negatives() -> None:
    questions = [q for n, t in enumerate(TRAIN[:6] + HELD[:2]) for q in town_questions(t, n)]
    data = question_pairs(questions)
    texts = {q.question for q in questions}
    held_texts = {q.question for q in questions if q.article in HELD}
    assert data.pairs and len(data.pairs) == len(data.labels)
    assert not {s for p in data.pairs for s in p} & held_texts, "held-out articles never train the judge"
    positives = [p for p, y in zip(data.pairs, data.labels, strict=True) if y]
    # "What river flows under it" shares the river's span with its partner only
    assert ("Who built the bridge of Town 0?", "Which engineer designed the Town 0 bridge?") in {
        tuple(sorted(p, key=lambda s: not s.startswith("Who"))) for p in positives}
    assert data.positives == len(positives) == 3 * 6
    made = [p for p, y in zip(data.pairs, data.labels, strict=True) if not y and not set(p) <= texts]
    assert made and data.swapped == len(made), "swapped negatives are new questions"
    assert data.labels.count(False) > data.labels.count(True)
    assert question_pairs(questions).pairs == data.pairs, "the same data, the same pairs"


def test_swapped_replaces_a_name_or_a_number_of_the_same_kind() -> None:
    rng = random.Random(0)
    assert swapped("Who built the bridge of Town 0?", ["Town 0", "Eva Falk"], [], rng) == \
        "Who built the bridge of Eva Falk?"
    assert swapped("What happened in 1889?", [], ["1889", "12", "1901"], rng) == "What happened in 1901?"
    # the number where it stands, not the same digits inside another number
    assert swapped("In 1889, how many of the 18 men left?", [], ["12"], random.Random(3)) in (
        "In 1889, how many of the 12 men left?", "In 12, how many of the 18 men left?")
    for seed in range(4):  # a name where it stands as a word, not inside another
        assert swapped("Which Annapolis school did Anna attend?", ["Eva"], [], random.Random(seed)) in (
            "Which Eva school did Anna attend?", "Which Annapolis school did Eva attend?")
    assert swapped("what is the colour of the sky?", ["Eva Falk"], ["1901"], rng) is None


def test_the_faq_simulation_stores_half_of_each_held_article_and_knows_the_right_entries() -> None:
    questions = [q for n, t in enumerate(HELD[:3] + TRAIN[:2]) for q in town_questions(t, n)]
    entries, asked = faq_simulation(questions)
    assert len(entries) == 3 * 3 and len(asked) == 3 * 4
    by_text = {q.question: q for q in questions}
    assert {by_text[e].article for e, _ in entries} == set(HELD[:3])
    for question, right in asked:
        for n, (entry, _) in enumerate(entries):
            assert (n in right) == by_text[question].same_fact(by_text[entry])
    assert any(right for _, right in asked) and not all(right for _, right in asked)


def test_the_combination_weights_held_and_unheld_questions_alike() -> None:
    rng = np.random.default_rng(0)
    rows = StackRows()
    for g in range(400):
        answerable = g % 10 == 0  # the FAQ holds one asked question in ten
        for c in range(3):
            right = answerable and c == 0
            rows.priors.append(float(np.clip(rng.normal(0.6 if right else 0.4, 0.15), 0.01, 0.99)))
            rows.judged.append(float(rng.normal(2.0 if right else -1.0, 1.0)))
            rows.labels.append(right)
            rows.groups.append(g)
            rows.answerable.append(answerable)
    model = fit_question_stack(rows, {"data": "synthetic"})
    assert model.features == ["match_logit", "judge_logit"] and model.weights[1] > 0
    unweighted = LogisticModel(list(model.features)).fit(rows.matrix(), rows.labels, l2=1.0)
    # at even odds a match is more likely right than where one question in ten has a right entry
    right_looking = np.array([[0.4, 2.0]])
    assert model.probabilities(right_looking)[0] > unweighted.probabilities(right_looking)[0] + 0.1
    # the weighted answerable share is the one asked for: the mean probability over the held
    # questions' rows and the others' weighs as much as their labels do
    assert model.meta["answerable_share"] == 0.5 and model.meta["answerable_questions"] == 40
    meta = model.meta["held_out_top_match"]
    assert meta["after"]["p@1_answerable"] >= meta["before"]["p@1_answerable"]
    only_unheld = StackRows([0.5, 0.5], [0.0, 1.0], [True, False], [0, 0], [False, False])
    with pytest.raises(ValueError, match="questions the FAQ holds"):
        fit_question_stack(only_unheld)


def test_a_named_question_judge_that_is_missing_is_an_error_and_an_empty_name_switches_it_off(tmp_path: Path) -> None:
    from qa.core.errors import ModelNotFoundError
    from qa.core.settings import Settings
    from qa.models import shared_question_judge

    with pytest.raises(ModelNotFoundError, match="question judge folder not found"):
        shared_question_judge(Settings.load(cqa_question_judge_model=str(tmp_path / "none")))
    assert shared_question_judge(Settings.load(cqa_question_judge_model="")) is None


# intents: "card 1", "card 2", ... each asked five ways; the hash holds some out as it holds articles
INTENTS = [f"card {k}" for k in range(30)]
WAYS = ["how do i {x}", "I want to {x}", "can you help me {x}?", "what should i do to {x}", "please {x} for me"]


def intent_questions() -> list[GroupedQuestion]:
    actions = ["activate my card number {k}", "freeze card {k}", "order card {k} again", "top up card {k}",
               "change the pin of card {k}", "close card {k}"]
    return [GroupedQuestion(w.format(x=actions[k % len(actions)].format(k=k)), g, "cards" if k % 2 else "money")
            for k, g in enumerate(INTENTS) for w in WAYS]


def test_grouped_questions_give_paraphrase_pairs_of_the_training_groups_only() -> None:
    questions = intent_questions()
    data = group_pairs(questions)
    group_of = {q.question: q.group for q in questions}
    assert data.pairs and len(data.pairs) == len(data.labels) == 3 * data.positives
    for (a, b), label in zip(data.pairs, data.labels, strict=True):
        assert a != b
        assert (group_of[a] == group_of[b]) == label, "a positive is one group, a negative two"
        assert not held_article(group_of[a]) and not held_article(group_of[b]), "held-out groups never train"
    assert group_pairs(questions).pairs == data.pairs, "the same data, the same pairs"
    assert group_pairs(questions, cap=4).positives == 4
    assert group_pairs(questions[:5]).pairs == [], "one group: nothing to tell apart"
    # a question filed under two groups, and one repeated in other case: never a pair with itself
    train = [g for g in INTENTS if not held_article(g)]
    twice = [GroupedQuestion("How do I reset my PIN?", train[0]), GroupedQuestion("i forgot my pin", train[0]),
             GroupedQuestion("How do I reset my PIN?", train[1]), GroupedQuestion("pin reset please", train[1]),
             GroupedQuestion("What is my balance?", train[2]), GroupedQuestion("what is my balance", train[2]),
             GroupedQuestion("show my balance", train[2])]
    data = group_pairs(twice)
    assert data.pairs and all(a.lower() != b.lower() for a, b in data.pairs), data.pairs
    labels: dict[frozenset[str], set[bool]] = {}
    for pair, label in zip(data.pairs, data.labels, strict=True):
        labels.setdefault(frozenset(pair), set()).add(label)
    assert all(len(v) == 1 for v in labels.values()), "no pair is both the same request and another"
    assert (frozenset({"How do I reset my PIN?", "pin reset please"}), {False}) not in labels.items()


def test_the_group_faq_stores_held_out_groups_as_edited_questions() -> None:
    questions = intent_questions()
    entries, asked = group_faq_simulation(questions, first_id=100)
    held = {g for g in INTENTS if held_article(g)}
    assert entries and all(e[0].endswith("?") and e[0][0].isupper() for e in entries)
    assert {e[1] for e in entries} < held, "some held-out groups are stored, not all"
    entry_of = {e[1]: 100 + n for n, e in enumerate(entries)}
    group_of = {q.question: q.group for q in questions}
    assert len(asked) == 5 * len(held) - len(entries)
    for question, right in asked:
        assert right == (frozenset({entry_of[group_of[question]]}) if group_of[question] in entry_of else frozenset())
    assert as_entry("how do i freeze my card") == "How do i freeze my card?"
    assert as_entry("I lost my card.") == "I lost my card."


def test_grouped_questions_files_are_read_or_refused_in_one_line(tmp_path: Path) -> None:
    good = tmp_path / "intents.csv"
    good.write_text("\ufefftext,category,domain\nWhere is my card?,card_arrival,cards\n"
                    "\"My card has not come, why?\",card_arrival,cards\nHow do I top up?,top_up,money\n",
                    encoding="utf-8")
    got = load_grouped(good)
    assert [q.group for q in got] == ["card_arrival", "card_arrival", "top_up"]
    assert got[1] == GroupedQuestion("My card has not come, why?", "card_arrival", "cards")
    cases = {"text,label\na,b\n": "the header must be text,category",
             "text,category\na,b,c\n": "line 2: 2 fields expected",
             "text,category\na,b\nc,b\n": "two groups at least",
             "text,category\n\"a,b\n": "malformed CSV"}
    for body, message in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(DataFormatError, match=message):
            load_grouped(bad)
    bad.write_text("text,category\na?,x\nb?,y\nc?,x\n\"d\"e?,y\nf?,x\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 5: malformed CSV"):
        load_grouped(bad)
    bad.write_text("text,category\na?,x\n\n\n\"d\"e?,y\n", encoding="utf-8")  # blank lines counted too
    with pytest.raises(DataFormatError, match="line 5: malformed CSV"):
        load_grouped(bad)
    bad.write_text("text,category\na?,x\n\nlonely\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 4: 2 fields expected, 1 found"):
        load_grouped(bad)
    bad.write_bytes(b"text,category\ncaf\xe9,x\n")
    with pytest.raises(DataFormatError, match="not UTF-8"):
        load_grouped(bad)


def test_train_question_judge_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["cqa", "train-question-judge", "--squad", str(tmp_path / "none.json")]) == 2
    assert "SQuAD training file not found" in capsys.readouterr().err
    squad = tmp_path / "squad.json"
    squad.write_text("{}", encoding="utf-8")
    assert main(["cqa", "train-question-judge", "--squad", str(squad), "--groups", str(tmp_path / "none.csv")]) == 2
    assert "grouped questions file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    assert main(["cqa", "train-question-judge", "--squad", str(bad), "--out", str(tmp_path / "j")]) == 2
    err = capsys.readouterr().err
    assert "paragraphs" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    one = tmp_path / "one.json"  # a well-formed file without two questions of one fact
    one.write_text(json.dumps({"data": [{"title": "Town 1", "paragraphs": [{"context": "Anna built it.", "qas": [
        {"id": "a", "question": "Who built it?", "answers": [{"text": "Anna", "answer_start": 0}]}]}]}]}),
        encoding="utf-8")
    assert main(["cqa", "train-question-judge", "--squad", str(one), "--out", str(tmp_path / "j")]) == 2
    assert "too few questions for the question judge" in capsys.readouterr().err
    assert main(["cqa", "train-question-judge", "--squad", str(one), "--base", str(tmp_path / "nobase"),
                 "--out", str(tmp_path / "j")]) == 2
    assert "nobase" in capsys.readouterr().err  # where a judge would start: a folder that is not there
    assert main(["cqa", "train-question-judge", "--squad", str(one), "--base", "encoder", "--stack-only",
                 "--out", str(tmp_path / "j")]) == 2
    assert "--stack-only trains none" in capsys.readouterr().err
    lonely = tmp_path / "lonely.csv"  # three groups of one question each: nothing to learn
    lonely.write_text("text,category\nWhere is my card?,a\nHow do I top up?,b\nCan I freeze it?,c\n", encoding="utf-8")
    assert main(["cqa", "train-question-judge", "--squad", str(one), "--groups", str(lonely),
                 "--out", str(tmp_path / "j")]) == 2
    assert "give nothing to learn from" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "j").exists()
    # a folder that holds other things is never replaced by the training's swap: the user's own, the
    # other kind of judge's, the working folder; nor a folder an interrupted swap left empty
    train = tmp_path / "train.xml"  # the training files exist: the folder is what is refused
    train.write_text("<xml/>", encoding="utf-8")
    given = {"train-question-judge": ["--squad", str(one)], "train-judge": ["--train-file", str(train)]}
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine", encoding="utf-8")
    answer_judge, question_judge = tmp_path / "aj", tmp_path / "qj"
    for folder, meta in ((answer_judge, {}), (question_judge, {"task": "question judge"})):
        folder.mkdir()
        (folder / "judge.json").write_text(json.dumps({"weight": [0.0], "bias": 0.0, "meta": meta}), encoding="utf-8")
    for command, other in (("train-question-judge", answer_judge), ("train-judge", question_judge)):
        for folder in (work, other):
            assert main(["cqa", command, *given[command], "--out", str(folder)]) == 2
            err = capsys.readouterr().err
            assert "folder, and training replaces the folder it writes" in err, err
        assert (work / "notes.txt").exists() and (other / "judge.json").exists()
    moved = tmp_path / "gone"
    (tmp_path / "gone.old").mkdir()
    (tmp_path / "gone.old" / "judge.json").write_text("{}", encoding="utf-8")
    assert main(["cqa", "train-question-judge", *given["train-question-judge"], "--out", str(moved)]) == 2
    assert "an interrupted training left the previous question judge in" in capsys.readouterr().err
    monkeypatch.chdir(work)
    assert main(["cqa", "train-question-judge", *given["train-question-judge"], "--out", "."]) == 2
    assert "not the working folder" in capsys.readouterr().err
    monkeypatch.setenv("QA_CQA_QUESTION_JUDGE_MODEL", "")  # switched off, and no --out: nothing to write
    assert main(["cqa", "train-question-judge", *given["train-question-judge"]]) == 2
    assert "no question judge folder" in capsys.readouterr().err


def _squad_file(path: Path, titles: list[str]) -> Path:
    data = []
    for n, title in enumerate(titles):
        qs = town_questions(title, n)
        data.append({"title": title, "paragraphs": [{"context": qs[0].paragraph, "qas": [
            {"id": f"{n}-{i}", "question": q.question, "answers": [{"text": q.answer, "answer_start": q.spans[0][0]}]}
            for i, q in enumerate(qs)]}]})
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path


def test_train_question_judge_end_to_end_on_a_tiny_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    squad = _squad_file(tmp_path / "towns.json", TRAIN[:8] + HELD[:6])
    out = tmp_path / "qjudge"
    stack = out / "question_stack.json"  # the combination goes with its judge
    assert main(["cqa", "train-question-judge", "--squad", str(squad), "--epochs", "1", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    err = capsys.readouterr().err
    assert "question pairs (24 asking the same fact" in err and "held-out FAQ: 18 entries, 24 questions asked" in err
    assert "Traceback" not in err
    model = json.loads(stack.read_text(encoding="utf-8"))
    assert model["features"] == ["match_logit", "judge_logit"] and model["meta"]["judge"] == "qjudge"
    meta = json.loads((out / "judge.json").read_text(encoding="utf-8"))["meta"]
    assert meta["task"] == "question judge" and meta["base"] == "span-minilm-l6"  # the span reader's, by default
    assert "question judge for community QA" in (out / "README.md").read_text(encoding="utf-8")
    assert not list(out.parent.glob("qjudge-*")), "the temporary folder is gone"
    weights = (out / "model.safetensors.index.json").stat().st_mtime_ns
    stack.unlink()
    intents = tmp_path / "intents.csv"  # grouped questions: a second held-out FAQ for the combination
    intents.write_text("text,category,domain\n" + "".join(f'"{q.question}",{q.group},{q.domain}\n'
                                                           for q in intent_questions()), encoding="utf-8")
    held = [g for g in INTENTS if held_article(g)]
    assert main(["cqa", "train-question-judge", "--squad", str(squad), "--stack-only", "--out", str(out),
                 "--groups", str(intents)]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    stored = round(0.7 * len(held))
    assert f"held-out FAQ: {18 + stored} entries, {24 + 5 * len(held) - stored} questions asked" in err, err
    assert "refitted the combination for the judge in" in err
    model = json.loads(stack.read_text(encoding="utf-8"))
    assert model["features"] == ["match_logit", "judge_logit"] and model["meta"]["groups"] == ["intents.csv"]
    head = json.loads((out / "judge.json").read_text(encoding="utf-8"))  # as if trained with the groups
    head["meta"]["groups"] = {"files": ["intents.csv"]}
    (out / "judge.json").write_text(json.dumps(head), encoding="utf-8")
    assert main(["cqa", "train-question-judge", "--squad", str(squad), "--stack-only", "--out", str(out)]) == 0
    assert "was trained with --groups intents.csv" in " ".join(capsys.readouterr().err.split())
    assert (out / "model.safetensors.index.json").stat().st_mtime_ns == weights, "the judge stays as it was"
    assert main(["cqa", "train-question-judge", "--squad", str(squad), "--stack-only", "--out",
                 str(tmp_path / "none")]) == 2
    # --limit is a dry run: without --out, the installed judge (the setting's) and its combination stay
    monkeypatch.setenv("QA_CQA_QUESTION_JUDGE_MODEL", str(out))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for extra in ([], ["--stack-only"]):
        assert main(["cqa", "train-question-judge", "--squad", str(squad), "--epochs", "1", "--limit", "40",
                     *extra]) == 0, capsys.readouterr().err
        assert "a dry run: nothing written" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not list(out.parent.glob("qjudge-*")) and not (tmp_path / "qjudge.old").exists()


def test_the_judge_reads_two_one_line_questions_only() -> None:
    from cqa.features import two_questions

    assert two_questions("When was the Eiffel Tower built?", "In what year was the Eiffel Tower finished?")
    assert not two_questions("My printer won't print anything?", "My printer is not printing.")
    assert not two_questions("When was it built?", "Tower visit. We are in Paris next week. Is it worth it?")


def test_the_matcher_judges_one_line_questions_only(tmp_path: Path) -> None:
    """With the shipped question judge: between one-line questions a question about the same thing
    that asks another loses to the entry that asks the same; a forum post keeps the re-scorer's
    probability."""
    from cqa.matcher import QUESTION_STACK, CommunityQA
    from cqa.store import ThreadStore
    from qa.core.settings import Settings
    from qa.models import shared_encoder, shared_question_judge

    judge = shared_question_judge(Settings())
    if judge is None or not (judge.model_dir / QUESTION_STACK).exists():
        pytest.skip("no question judge installed")
    store = ThreadStore(tmp_path / "t.sqlite")
    encoder = shared_encoder(Settings())
    plain = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    judged = CommunityQA(Settings(), store=store, encoder=encoder, seed=False, question_judge=judge)
    judged.add_question("Who designed the Eiffel Tower?", answer="Gustave Eiffel's company.")
    judged.add_question("When was the Eiffel Tower built?", answer="From 1887 to 1889.")
    judged.add_question("The Eiffel Tower is closed.", answer="It closes on some holidays and in strikes.")
    judged.add_question("How tall is the Eiffel Tower?", "Planning a school talk, need the height in metres?",
                        answer="330 metres with its antennas.")
    judged.add_question("In what year was the Eiffel Tower completed?", answer="1889.")
    judged.add_question("Tower visit", "We are in Paris next week with kids. Is the Eiffel Tower worth the queue, and "
                        "how early should we go? Any tips welcome.", answer="Book online and go at opening time.")
    asked = "In what year was the Eiffel Tower completed?"
    with_judge = {m.thread.title: m for m in judged.match(asked)}
    without = {m.thread.title: m for m in plain.match(asked)}
    when, who = "When was the Eiffel Tower built?", "Who designed the Eiffel Tower?"
    assert with_judge[when].probability > with_judge[who].probability
    assert with_judge[when].judged is not None and with_judge[when].prior == pytest.approx(without[when].probability)
    # a post (one with a question as its title too), a statement, the question in its own words: the re-scorer's
    for kept in ("Tower visit", "The Eiffel Tower is closed.", "How tall is the Eiffel Tower?", asked):
        assert with_judge[kept].judged is None
        assert with_judge[kept].probability == pytest.approx(without[kept].probability)
    # the look ahead asks nothing of the judge: the store holds the question itself
    held = judged.holds(asked)
    assert held > 0.5 and held == pytest.approx(plain.holds(asked))
    assert with_judge[who].probability < without[who].probability, "the other question is held down"


class Counting:
    """The real question judge, counting the pairs it is asked to read."""

    def __init__(self, judge) -> None:
        self.judge, self.model_dir, self.pairs = judge, judge.model_dir, 0

    def score(self, pairs):
        self.pairs += len(pairs)
        return self.judge.score(pairs)


def test_the_look_ahead_never_runs_the_judge_and_a_judged_match_is_kept_until_the_store_changes(
        tmp_path: Path) -> None:
    from cqa.matcher import CommunityQA
    from cqa.store import ThreadStore
    from qa.core.settings import Settings
    from qa.models import shared_encoder, shared_question_judge

    judge = shared_question_judge(Settings())
    if judge is None:
        pytest.skip("no question judge installed")
    counting = Counting(judge)
    source = CommunityQA(Settings(), store=ThreadStore(tmp_path / "t.sqlite"), encoder=shared_encoder(Settings()),
                         seed=False, question_judge=counting)
    source.add_question("Who designed the Eiffel Tower?", answer="Gustave Eiffel's company.")
    source.add_question("When was the Eiffel Tower built?", answer="From 1887 to 1889.")
    asked = "In what year was the Eiffel Tower completed?"
    source.holds(asked)
    assert counting.pairs == 0, "the look ahead reads no pair"
    source.match(asked)
    read = counting.pairs
    assert read == 2
    source.match(asked)
    source.holds(asked)
    assert counting.pairs == read, "the same question on the same store: read once"
    source.add_question("Which engineer built the Eiffel Tower?", answer="Gustave Eiffel.")
    source.match(asked)
    assert counting.pairs == read + 3, "the store changed: matched and read again"
    assert [m.judged is not None for m in source.match("what year was the eiffel tower finished")][:1] == [True], \
        "a question typed without its question mark is read too"
