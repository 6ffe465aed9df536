"""SemEval-2016 Task 3: the parser (counts of the official release), the importer, the router's
training questions, and the official ranking metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from cqa.evaluation import gold_threads, router_questions, top_thread_correct
from cqa.importers import import_file
from cqa.semeval import load_semeval
from cqa.store import ThreadStore
from cqa.training import DEFAULT_DEV, DEFAULT_TRAIN, average_precision, rank_by, ranking_metrics
from qa.core.errors import DataFormatError
from qa.core.measures import auroc, ece
from qa.core.types import Answer, Route, ThreadEvidence

needs_data = pytest.mark.skipif(not DEFAULT_DEV.exists() or not DEFAULT_TRAIN.exists(),
                                reason="../shared/data/cqa is absent")


@needs_data
def test_dev_file_matches_the_official_counts() -> None:
    dev = load_semeval(DEFAULT_DEV)
    threads = [t for q in dev for t in q.threads]
    assert (len(dev), len(threads), sum(len(t.comments) for t in threads)) == (50, 500, 5000)
    assert sum(t.relevance == "PerfectMatch" for t in threads) == 59
    assert sum(t.relevance == "Relevant" for t in threads) == 155
    assert sum(not t.skip_subtask_a for t in threads) == 244  # the official subtask A dev threads
    q = dev[0]
    assert q.id == "Q268" and q.text.startswith("Good Bank") and "Q268_R4" in {t.id for t in q.threads}
    assert gold_threads(q) >= {"semeval:Q268_R4", "semeval:Q268_R5", "semeval:Q268_R10"}


@needs_data
def test_import_semeval_threads_once(tmp_path: Path) -> None:
    store = ThreadStore(tmp_path / "t.sqlite")
    rep = import_file(store, DEFAULT_DEV)
    assert (rep.source, rep.threads_added) == ("semeval", 500) and rep.answers_added > 4900
    assert import_file(store, DEFAULT_DEV).threads_added == 0 and store.count() == 500
    t = store.thread("semeval:Q268_R4")
    assert t.title == "Best Bank" and t.tags == ["Advice and Help"] and t.author == "ankukuma"
    assert t.answers[0].text == "Commercial bank/IBQ" and t.answers[0].author == "Dilgeer"


@needs_data
def test_router_questions_come_from_training_data_only() -> None:
    questions = router_questions()
    dev_texts = {q.text for q in load_semeval(DEFAULT_DEV)}
    assert len(questions) > 700 and not dev_texts & set(questions)
    assert "Who was the 37th President of the United States?" in questions  # the seed


def test_malformed_semeval_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<xml><OrgQuestion ORGQ_ID="Q1"><OrgQSubject>x</OrgQSubject>\n'
                   "<Thread THREAD_SEQUENCE='Q1_R1'><RelQuestion></Thread></OrgQuestion></xml>", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.xml: malformed XML at line 3"):
        load_semeval(bad)
    store = ThreadStore(tmp_path / "t.sqlite")
    with pytest.raises(DataFormatError):
        import_file(store, bad, "semeval")
    assert store.count() == 0


def test_official_ranking_metrics() -> None:
    assert average_precision([False, True, False, True]) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision([False] * 10) == 0.0
    assert average_precision([False] * 10 + [True]) == 0.0  # beyond the cutoff of 10
    m = ranking_metrics([[True, False], [False, True], [False, False]])
    assert m == {"map": pytest.approx(100 * 1.5 / 3, abs=0.01), "mrr": pytest.approx(50.0), "p@1": pytest.approx(33.33)}
    assert rank_by([0.1, 0.9, 0.5], [False, True, False]) == [True, False, False]
    assert ece([0.9, 0.9, 0.1, 0.1], [True, True, False, False]) == pytest.approx(0.1)
    assert auroc([0.9, 0.8, 0.2], [True, False, False]) == 1.0


def test_top_thread_correct_uses_the_best_guess_of_a_no_answer() -> None:
    from cqa.semeval import NewQuestion, RelatedThread

    q = NewQuestion("Q1", "s", "b", [RelatedThread("Q1_R1", "a", "b", relevance="Relevant"),
                                     RelatedThread("Q1_R2", "c", "d", relevance="Irrelevant")])
    guess = Answer(text="x", score=0.3, route=Route.CQA, evidence=ThreadEvidence(thread_id="semeval:Q1_R1"))
    assert top_thread_correct(q, [Answer.none(Route.CQA, 0.7, best_guess=guess)])
    wrong = Answer(text="y", score=0.8, route=Route.CQA, evidence=ThreadEvidence(thread_id="semeval:Q1_R2"))
    assert not top_thread_correct(q, [wrong]) and not top_thread_correct(q, [])


@needs_data
def test_subtask_a_rows_keep_the_threads_asked_for(tmp_path: Path, encoder) -> None:
    """The benchmark's subtask A sets: the official threads (no repeat of a training thread), and
    "for the top thread" (`only`), which may still leave out repeats of given threads (`exclude`)."""
    from cqa.model import LogisticModel
    from cqa.training import answer_rows, semeval_source

    empty = LogisticModel([])
    source, questions = semeval_source(DEFAULT_DEV, encoder, store=tmp_path / "dev.sqlite", answer_wording=empty)
    q = questions[:3]
    threads = [t for x in q for t in x.threads]
    repeat = next(t for t in threads if t.skip_subtask_a)
    fresh = next(t for t in threads if not t.skip_subtask_a)

    def thread_ids(rows) -> list[str]:
        return [source.store.get([k])[k].uid for k in rows.keys]

    assert thread_ids(answer_rows(source, q)) == [f"semeval:{t.id}" for t in threads]
    assert thread_ids(answer_rows(source, q, official_a=True)) == [
        f"semeval:{t.id}" for t in threads if not t.skip_subtask_a]
    only = frozenset({repeat.id, fresh.id})
    picked = answer_rows(source, q, only=only)
    assert sorted(thread_ids(picked)) == sorted(f"semeval:{i}" for i in only)
    assert len(picked.rows) == len(picked.labels) == len(repeat.comments) + len(fresh.comments)
    assert thread_ids(answer_rows(source, q, only=only, exclude=frozenset({repeat.skip_subtask_a}))) == [
        f"semeval:{fresh.id}"]


_SEMEVAL_2015 = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<Question QID="Q1" QCATEGORY="Visas and Permits" QDATE="2010-01-01 10:00:00" QUSERID="U1">
  <QSubject>family visa salary</QSubject>
  <QBody>What salary do I need
  for a family visa?</QBody>
  <Comment CID="Q1_C1" CUSERID="U2" CGOLD="Good"><CSubject>RE: x</CSubject><CBody>10,000 QR
with accommodation</CBody></Comment>
  <Comment CID="Q1_C2" CUSERID="U1" CGOLD="Dialogue"><CSubject>RE: x</CSubject><CBody>thanks</CBody></Comment>
  <Comment CID="Q1_C3" CUSERID="U3" CGOLD="Potential"><CSubject>RE: x</CSubject><CBody>ask HR</CBody></Comment>
</Question>
<Question QID="Q2" QCATEGORY="Cars" QDATE="2010-01-02 10:00:00" QUSERID="U4">
  <QSubject>Best Bank</QSubject>
  <QBody>Which bank in Doha is good for a car loan with a low rate?</QBody>
  <Comment CID="Q2_C1" CUSERID="U5" CGOLD="Good"><CBody>Commercial Bank</CBody></Comment>
</Question>
<Question QID="Q3" QCATEGORY="Visas and Permits" QDATE="2010-01-03 10:00:00" QUSERID="U6">
  <QSubject>family visa salary</QSubject>
  <QBody>What salary do I need for a family visa?</QBody>
  <Comment CID="Q3_C1" CUSERID="U2" CGOLD="Good"><CBody>10,000 QR with accommodation</CBody></Comment>
</Question>
</root>
"""


def test_semeval_2015_threads_and_the_judges_extra_pairs(tmp_path: Path) -> None:
    """The 2015 answer-selection files feed the judge: Good stays Good, every other 2015 label is not
    Good, texts are flattened like the 2016 ones; a thread repeating one the judge must not see (a
    held-out or dev thread: here by its title) is left out, and a pair met twice is read once."""
    from cqa.semeval import load_semeval2015
    from cqa.training import extra_judge_pairs

    path = tmp_path / "CQA-QL-devel.xml"
    path.write_text(_SEMEVAL_2015, encoding="utf-8")
    threads = load_semeval2015(path)
    assert [t.id for t in threads] == ["Q1", "Q2", "Q3"]
    t = threads[0]
    assert t.text == "family visa salary. What salary do I need for a family visa?"
    assert t.category == "Visas and Permits"
    assert [(c.text, c.good) for c in t.comments] == [("10,000 QR with accommodation", True), ("thanks", False),
                                                      ("ask HR", False)]
    more = extra_judge_pairs(threads, [("Best Bank", "Which is the best bank in Qatar?", ["IBQ"])])
    assert (more.threads, more.dropped) == (2, 1)
    assert more.pairs == [(t.text, "10,000 QR with accommodation"), (t.text, "thanks"), (t.text, "ask HR")]
    assert more.labels == [True, False, False]


@pytest.mark.parametrize("text, message", [
    ("<xml><OrgQuestion/></xml>", "not a SemEval-2015 Task 3 file"),
    ('<root><Question QID="Q1"><Comment CID="Q1_C1"><CBody>x</CBody></Comment></Question></root>',
     "without CID or CGOLD"),
    ('<root><Question QID="Q1"><QSubject>x</Question></root>', "malformed XML at line 1"),
    ('<root><Question QID="Q1"><QSubject>x</QSubject><Answer CID="Q1_A1"/></Question></root>', "no <Question> with a"),
])
def test_a_file_that_is_not_semeval_2015_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    from cqa.semeval import load_semeval2015

    bad = tmp_path / "bad.xml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        load_semeval2015(bad)


def test_a_labelled_csv_gives_threads_of_its_rows(tmp_path: Path) -> None:
    from cqa.semeval import load_labelled_comments

    path = tmp_path / "labelled.csv"
    path.write_text('title,question,answer,label\nBest Bank,"Which bank,  in Doha?",IBQ,Good\n'
                    'Best Bank,"Which bank,  in Doha?","no idea\nsorry",Bad\nVisa,How long?,a week,PotentiallyUseful\n',
                    encoding="utf-8")
    threads = load_labelled_comments(path)
    assert [(t.text, [(c.text, c.good) for c in t.comments]) for t in threads] == [
        ("Best Bank. Which bank, in Doha?", [("IBQ", True), ("no idea sorry", False)]),
        ("Visa. How long?", [("a week", False)])]
    bom = tmp_path / "excel.txt"  # a spreadsheet's "CSV UTF-8" starts with a byte-order mark; any name will do
    bom.write_bytes(b"\xef\xbb\xbftitle,question,answer,label\r\nVisa,How long?,a week,Good\r\n")
    threads = load_labelled_comments(bom)
    assert [(t.text, [c.good for c in t.comments]) for t in threads] == [("Visa. How long?", [True])]


@pytest.mark.parametrize("raw, message", [
    (b"feature,question,answer,labels\nx,y,z,Good\n", "the header must be title,question,answer,label"),
    (b"title,question,answer,label\nx,y,z,good\n", "line 2: four fields and a label of"),
    (b"title,question,answer,label\nx,y,z\n", "line 2: four fields"),
    (b"title,question,answer,label\nx,y,\xff,Good\n", "not UTF-8"),
    (b"title,question,answer,label\n", "no labelled comment"),
])
def test_a_labelled_csv_that_is_wrong_is_a_clear_error(tmp_path: Path, raw: bytes, message: str) -> None:
    from cqa.semeval import load_labelled_comments

    bad = tmp_path / "bad.csv"
    bad.write_bytes(raw)
    with pytest.raises(DataFormatError, match=message):
        load_labelled_comments(bad)
