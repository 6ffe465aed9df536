"""The community-QA answer source: matching, answer selection, "no answer", live additions, the
shipped models, and the engine's third route."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cqa.importers import import_file
from cqa.index import DENSE, ThreadIndex, index_folder
from cqa.matcher import ANSWER_RANKER, ANSWER_STACK, RESCORER, CommunityQA
from cqa.model import LogisticModel
from cqa.store import ThreadStore
from cqa.text import tokenize
from qa.core.errors import ConfigError, DataFormatError, InputError
from qa.core.settings import Settings
from qa.core.types import Answer, Route, ThreadEvidence

FAQ = [
    {"id": "visa", "question": "How do I apply for a family visa in Qatar?",
     "answers": ["Apply at the immigration department with your salary certificate and marriage certificate.",
                 "I did it online last year."]},
    {"id": "bank", "question": "Which bank is best for opening a salary account in Doha?",
     "answers": ["Commercial Bank has good service for salary accounts."]},
    {"id": "license", "question": "How can I convert my driving license to a Qatari license?",
     "answers": ["Take the eye test, then go to the traffic department with your license and passport."]},
    {"id": "school", "question": "Which schools follow the British curriculum?",
     "answers": ["Doha College and several others follow the British curriculum."]},
]


@pytest.fixture
def faq_source(tmp_path: Path, encoder) -> CommunityQA:
    path = tmp_path / "qatar.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ), encoding="utf-8")
    store = ThreadStore(tmp_path / "t.sqlite")
    import_file(store, path)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    source.refresh()
    return source


def test_shipped_models_load_and_name_their_features() -> None:
    for path in (RESCORER, ANSWER_RANKER, ANSWER_STACK):
        m = LogisticModel.load(path)
        assert len(m.weights) == len(m.features) and m.calibration[0] > 0
        assert "train-part2" in m.meta["data"]


def test_answer_has_thread_evidence_and_a_probability(faq_source: CommunityQA) -> None:
    answers = faq_source.answer("how to apply family visa qatar", top_k=3)
    top = answers[0] if not answers[0].no_answer else answers[0].best_guess
    assert isinstance(top, Answer) and top.route == Route.CQA
    ev = top.evidence
    assert isinstance(ev, ThreadEvidence) and ev.thread_id == "faq:qatar:visa"
    assert ev.accepted and ev.answer.startswith("Apply at the immigration")  # the FAQ's own answer
    assert top.text == ev.answer  # short answer: no span reader given, the full answer
    assert 0.0 <= top.score <= 1.0
    data = top.to_dict()
    assert data["evidence"]["kind"] == "thread" and data["route"] == "cqa"
    scores = [a.score for a in answers if not a.no_answer]
    assert scores == sorted(scores, reverse=True)


def test_unrelated_question_is_no_answer_with_best_guess(faq_source: CommunityQA) -> None:
    matches = faq_source.match("What is the boiling point of tungsten in kelvin?")
    # calibrated with questions no thread answers: near zero, not a typical match's 0.1-0.2
    assert all(m.probability < 0.1 for m in matches)
    res = faq_source.answer("What is the boiling point of tungsten in kelvin?")
    assert len(res) == 1 and res[0].no_answer and res[0].text == ""


def test_added_question_is_found_at_once_without_rebuilding(faq_source: CommunityQA) -> None:
    index = faq_source.index
    before = len(index)
    tid = faq_source.add_question("Where do I pay traffic fines online?", answer="On the Metrash2 app.")
    assert len(faq_source.index) == before + 1 and faq_source.index is index  # same index, one vector added
    matches = faq_source.match("pay traffic fines online")
    assert matches[0].thread.uid == tid
    aid = faq_source.add_answer(tid, "Also at any traffic department office.")
    faq_source.accept_answer(tid, aid)
    ranked = faq_source.rank_answers(faq_source.store.thread(tid))
    assert ranked[0].answer.id == aid and ranked[0].reason == "accepted"


def test_index_reopens_from_its_file_and_catches_up_with_the_store(tmp_path: Path, faq_source: CommunityQA,
                                                                   encoder) -> None:
    faq_source.index.save()
    assert (index_folder(faq_source.store.path) / DENSE).exists()
    faq_source.store.add_question("A question added by another process", question_id="other")
    fresh = ThreadIndex(faq_source.store, encoder)
    assert fresh.embed_pending() == 1
    fresh.load()
    assert len(fresh) == faq_source.store.count()


def test_a_running_source_sees_what_another_process_writes_to_its_store(tmp_path: Path, faq_source: CommunityQA,
                                                                        encoder) -> None:
    """`qa cqa import` while `qa serve` answers from the same store: the server's source catches up
    before its next question, without a restart and without a rebuild."""
    assert faq_source.answer("where to register a boat in qatar")[0].no_answer
    index = faq_source.index
    other = CommunityQA(Settings(), store=ThreadStore(faq_source.store.path), encoder=encoder, seed=False)
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({"id": "boat", "question": "Where do I register a boat in Qatar?",
                                "answer": "At the coast guard office in Doha port."}) + "\n", encoding="utf-8")
    other.import_file(late)
    top = faq_source.answer("where to register a boat in qatar")[0]
    assert not top.no_answer and top.evidence.thread_id == "faq:late:boat"
    assert faq_source.index is index and len(index) == len(FAQ) + 1
    assert not index.sync()  # nothing written since: one read of the generation
    other.store.delete_thread("faq:qatar:bank")
    assert all(m.thread.uid != "faq:qatar:bank" for m in faq_source.match("salary account bank doha"))
    assert len(index) == len(FAQ)


def test_a_running_source_follows_its_store_file_removed_or_replaced(tmp_path: Path, encoder) -> None:
    """A server kept answering from a thread store deleted under it, and filed the answers added
    through the API into it, all lost at its restart; a backup put back came out corrupt."""
    import os
    import shutil

    path = tmp_path / "threads.sqlite"
    running = CommunityQA(Settings(), store=path, encoder=encoder, seed=False)
    running.add_question("Where do I register a boat in Qatar?", answer="At the coast guard office.")
    assert not running.answer("where to register a boat in qatar")[0].no_answer
    for p in tmp_path.glob("threads.sqlite*"):  # deleted to start over
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    # another process starts over at the same path
    CommunityQA(Settings(), store=path, encoder=encoder, seed=False).add_question(
        "What is the office wifi password?", answer="It is on the board by the door.")
    assert running.answer("what is the wifi password of the office")[0].evidence.answer.startswith("It is on")
    assert running.answer("where to register a boat in qatar")[0].no_answer
    tid = running.add_question("How do I renew a visa?", answer="At the immigration office.")
    assert ThreadStore(path).thread(tid).answers  # filed where the other processes see it
    # a backup put back over it: the running store's write-ahead log, left at the path, was read
    # over the backup ("database disk image is malformed", or the old content back)
    backup = tmp_path / "backup.sqlite"
    saved = CommunityQA(Settings(), store=backup, encoder=encoder, seed=False)
    saved.add_question("Where do I register a boat in Qatar?", answer="At the coast guard office.")
    saved.close()  # a backup is a closed store's file
    for i in range(20):  # pages in the running store's log, not yet in its file
        running.add_question(f"Which ferry leaves pier {i} first?", answer=f"The {i} o'clock one.")
    os.replace(backup, path)
    assert not running.answer("where to register a boat in qatar")[0].no_answer
    assert running.answer("what is the office wifi password")[0].no_answer
    running.close()
    with ThreadStore(path) as restored:
        assert restored.count() == 1 and restored._rows("PRAGMA integrity_check") == [("ok",)]


def test_keys_are_never_reused_and_an_edited_question_is_searched_by_its_new_text(tmp_path: Path,
                                                                                 faq_source: CommunityQA,
                                                                                 encoder) -> None:
    """Between two searches another process deletes the newest thread and files a new one (SQLite
    would give it the deleted key), and edits a question: the index must not mistake either."""
    index = faq_source.index
    other = ThreadStore(faq_source.store.path)
    newest = max(other.keys().tolist())
    other.delete_thread(next(uid for uid in (f"faq:qatar:{r['id']}" for r in FAQ) if other.key_of(uid) == newest))
    key, _ = other.put_thread("forum", "ferry", "Is there a ferry from Doha to Bahrain?", "")
    other.put_answer(key, "a", "No, only flights.")
    assert key > newest
    edited, _ = other.put_thread("faq:qatar", "bank", "Which bank gives the best exchange rate for rupees?", "")
    ThreadIndex(other, encoder).embed_pending()  # the writer encodes; the running index only reads
    assert faq_source.match("ferry doha bahrain")[0].thread.key == key
    assert faq_source.match("best exchange rate for rupees")[0].thread.key == edited
    assert faq_source.index is index and len(index) == other.count()


def test_file_answer_is_idempotent_and_answers_next_time(faq_source: CommunityQA) -> None:
    q = "Can I bring my cat when I move to Doha?"
    tid = faq_source.file_answer(q, "Yes, with a vaccination record and an import permit.")
    assert faq_source.file_answer(q, "Yes, with a vaccination record and an import permit.") == tid
    assert len(faq_source.store.thread(tid).answers) == 1
    res = faq_source.answer("moving to Doha with my cat")
    top = res[0].best_guess if res[0].no_answer else res[0]
    assert top.evidence.thread_id == tid and top.evidence.accepted


def test_votes_decide_without_an_accepted_answer(tmp_path: Path, encoder) -> None:
    store = ThreadStore(tmp_path / "t.sqlite")
    key, _ = store.put_thread("forum", "1", "How do I cook rice?", "")
    store.put_answer(key, "a", "Boil it.", votes=1)
    store.put_answer(key, "b", "Rinse, then simmer one cup of rice in two cups of water for 15 minutes.", votes=9)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    ranked = source.rank_answers(store.get([key])[key])
    assert [r.answer.id for r in ranked] == ["b", "a"] and ranked[0].reason == "votes"


def test_a_question_in_another_script_is_matched_letter_for_letter_only(tmp_path: Path, encoder) -> None:
    """The models learnt English: "how do I reset the router?" in Chinese was answered with the
    stored answer to "how do I reset my password?" at 0.97 ("how do I cook borscht?" in Russian,
    the same in Arabic): in another script only the same question is taken for it."""
    from cqa.features import other_script

    source = CommunityQA(Settings(), store=ThreadStore(tmp_path / "t.sqlite"), encoder=encoder, seed=False)
    source.add_question("如何重置密码？", answer="点击“忘记密码”，然后按照邮件中的说明操作。")
    source.add_question("Как сбросить пароль?", answer="Нажмите «Забыли пароль».")
    source.add_question("How do I reset my password?", answer="Use the Forgot password link.")
    for other in ("如何重置路由器？", "如何做红烧肉？", "Как приготовить борщ?"):
        top = source.answer(other, 1)[0]
        assert top.no_answer and top.best_guess is not None and top.best_guess.score <= 0.25, other
        assert "script" in (top.best_guess.evidence.caveat or ""), other
    for same, answer in (("如何重置密码", "点击“忘记密码”"), ("как сбросить пароль ?", "Нажмите")):
        top = source.answer(same, 1)[0]
        assert not top.no_answer and top.evidence.answer.startswith(answer) and top.score >= 0.5, same
    assert other_script("How do I reset the router?", "How do I reset my password?") is None  # English: the models'
    assert other_script("Wie setze ich mein Passwort zurück?", "Wie koche ich Reis?") is None  # Latin letters
    assert other_script("Tickets ４５ euro?", "Tickets 45 euro?") is None
    # Japanese mixes three scripts, none of them most of its letters; full-width Latin is Latin
    assert other_script("富士山の高さは何メートルですか", "東京タワーの高さは？") is not None
    assert other_script("ＨＯＷ ＤＯ Ｉ ＲＥＳＥＴ ＭＹ ＰＡＳＳＷＯＲＤ?", "How can I reset my password?") is None


def test_an_answer_added_with_zero_votes_leaves_a_forum_thread_to_the_quality_model(tmp_path: Path, encoder) -> None:
    """A forum thread without votes (SemEval's) is ranked by the answer models; one answer added
    with `votes: 0` (the API's field) switched the whole thread to vote order, all zeros, so the
    thread showed its first comment instead of its best."""
    store = ThreadStore(tmp_path / "t.sqlite")
    key, _ = store.put_thread("forum", "1", "Where can I renew my residence permit?", "Mine expires next week.")
    store.put_answer(key, "a", "Thanks, I have the same question.")
    store.put_answer(key, "b", "You renew it at the immigration office in Al Gharafa, bring your passport.")
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    before = [r.answer.id for r in source.rank_answers(store.get([key])[key])]
    assert before == ["b", "a"]  # the models' order; stored order is a, b
    store.add_answer(store.get([key])[key].uid, "No idea, sorry.", votes=0)
    ranked = source.rank_answers(store.get([key])[key])
    assert {r.reason for r in ranked} == {"relevance"}
    assert [r.answer.id for r in ranked if r.answer.id in before] == before


def test_the_span_reader_tells_an_answer_from_chatter_and_its_absence_changes_nothing(tmp_path: Path,
                                                                                         encoder) -> None:
    from qa.models import shared_span_reader

    store = ThreadStore(tmp_path / "t.sqlite")
    key, _ = store.put_thread("forum", "1", "Where can I renew my residence permit?", "Mine expires next week.")
    store.put_answer(key, "a", "Thanks, I have the same question.")
    store.put_answer(key, "b", "You renew it at the immigration office in Al Gharafa, bring your passport.")
    thread = store.get([key])[key]
    with_reader = CommunityQA(Settings(), store=store, encoder=encoder, seed=False, span_reader=shared_span_reader())
    chatter, answer = (r["read"] for r in with_reader.answer_features(thread))
    assert answer > chatter + 1.0
    assert [r.answer.id for r in with_reader.rank_answers(thread)] == ["b", "a"]  # no votes: the models decide
    without = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    model = without.answer_ranker
    assert [r["read"] for r in without.answer_features(thread)] == [model.mean[model.features.index("read")]] * 2


def test_the_judge_reads_each_answer_with_the_question_and_ranks_with_the_answer_model(tmp_path: Path,
                                                                                     encoder) -> None:
    from qa.models import shared_judge

    judge = shared_judge(Settings())
    assert judge is not None, "the trained answer judge ships in data/models"
    store = ThreadStore(tmp_path / "t.sqlite")
    key, _ = store.put_thread("forum", "1", "Where can I renew my residence permit?", "Mine expires next week.")
    store.put_answer(key, "a", "Thanks, I have the same question.")
    store.put_answer(key, "b", "You renew it at the immigration office in Al Gharafa, bring your passport.")
    store.put_answer(key, "c", "Lol good luck with that")
    thread = store.get([key])[key]
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False, judge=judge)
    judged = judge.score([(thread.text, a.text) for a in thread.answers])
    assert judged[1] > max(judged[0], judged[2])
    stack = source.answer_stack
    assert stack is not None and stack.features == ["answer", "judge"]
    rows = source.answer_features(thread, read=())
    expected = stack.probabilities(np.stack([source.answer_ranker.raw_logits(rows), judged], axis=1))
    assert np.allclose(source.answer_quality(thread), expected)
    assert source.rank_answers(thread)[0].answer.id == "b"
    # without a judge the stack is never used, and a one-answer thread needs no reading at all
    assert CommunityQA(Settings(), store=store, encoder=encoder, seed=False).answer_stack is None
    single, _ = store.put_thread("forum", "2", "Is the metro open on Fridays?", "")
    store.put_answer(single, "x", "Yes, from 2 pm.")
    assert len(source.answer_quality(store.get([single])[single])) == 1


def test_duplicate_without_answers_answers_from_its_original(tmp_path: Path, encoder) -> None:
    store = ThreadStore(tmp_path / "t.sqlite")
    orig, _ = store.put_thread("se", "1", "How to center a div horizontally", "")
    store.put_answer(orig, "a1", "Use margin: 0 auto on a block with a width.", votes=50, accepted=True)
    dup, _ = store.put_thread("se", "2", "Centering a div in the middle of the page horizontally", "")
    store.link(dup, orig)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    source.refresh()
    res = source.answer("centering a div in the middle of the page horizontally", top_k=3)
    got = [a.best_guess if a.no_answer else a for a in res]
    assert any(a.evidence.answer_id == "a1" for a in got)
    # the evidence names the thread the answer is in, and the duplicate that matched; the original,
    # matched too, does not show the same answer a second time
    ev = got[0].evidence
    assert (ev.thread_id, ev.answer_id, ev.via_duplicate) == ("se:1", "a1", "se:2")
    assert [a.evidence.answer_id for a in res if not a.no_answer].count("a1") <= 1
    assert len(source.answer("center a div horizontally", top_k=3)) == 1


def test_the_same_question_filed_twice_answers_once(faq_source: CommunityQA) -> None:
    for _ in range(2):
        faq_source.add_question("Where can I buy a bus card in Doha?", answer="At any Karwa station.")
    res = faq_source.answer("where to buy a bus card in doha", top_k=3)
    assert [a.text for a in res].count("At any Karwa station.") == 1


def test_bad_input_and_missing_models(tmp_path: Path, faq_source: CommunityQA, encoder) -> None:
    with pytest.raises(InputError):
        faq_source.answer("   ")
    with pytest.raises(InputError):
        faq_source.add_question("")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(DataFormatError, match="not a community-QA scoring model"):
        LogisticModel.load(broken)
    with pytest.raises(InputError, match="encoder"):
        CommunityQA(Settings(), store=tmp_path / "x.sqlite", seed=False).match("hello there")


def test_encoder_change_is_refused(faq_source: CommunityQA) -> None:
    class Other:
        name = "another-encoder"

        def encode(self, texts):
            return np.ones((len(texts), 4), dtype=np.float32) / 2

    with pytest.raises(ConfigError, match="embedded with the encoder"):
        ThreadIndex(faq_source.store, Other()).load()


def test_seed_store_is_created_on_first_use(tmp_path: Path, encoder) -> None:
    pytest.importorskip("chatterbot_corpus")
    source = CommunityQA(Settings(cqa_store=str(tmp_path / "fresh.sqlite")), encoder=encoder)
    stats = source.stats()
    assert stats["sources"].get("seed:chatterbot-corpus", 0) > 200 and stats["answers"] > stats["threads"] - 1
    res = source.answer("Who was the 37th President of the United States?")
    top = res[0].best_guess if res[0].no_answer else res[0]
    assert "Nixon" in top.evidence.answer
    # a conversation answering with a bare pronoun is not the accepted answer: the real one is
    res = source.answer("how far is the moon")
    top = res[0].best_guess if res[0].no_answer else res[0]
    assert "250,000 miles" in top.evidence.answer, top.evidence.answer


def test_an_empty_store_never_seeded_is_seeded_and_an_imported_one_never(tmp_path: Path, encoder) -> None:
    """A first run killed while seeding leaves an empty store (the file exists, the seed's
    transaction never committed): the next run seeds it. A store `qa cqa import` created holds
    the user's file alone, even while it is empty."""
    pytest.importorskip("chatterbot_corpus")
    from cqa.store import SEED_META

    ThreadStore(tmp_path / "killed.sqlite").close()
    source = CommunityQA(Settings(cqa_store=str(tmp_path / "killed.sqlite")), encoder=encoder)
    assert source.stats()["sources"].get("seed:chatterbot-corpus", 0) > 200
    assert source.store.get_meta(SEED_META) == "done"
    imported = ThreadStore(tmp_path / "imported.sqlite")
    imported.set_meta(SEED_META, "skip")
    imported.close()
    assert CommunityQA(Settings(cqa_store=str(tmp_path / "imported.sqlite")), encoder=encoder).stats()["threads"] == 0


def test_a_store_started_empty_or_made_an_imports_is_never_seeded_behind_it(tmp_path: Path, encoder,
                                                                           monkeypatch) -> None:
    """Two processes: a `qa ask` beside a running `qa cqa import` seeded the import's new store (the
    trivia among a team's FAQ), and a store started with QA_CQA_SEED=false was seeded by the next
    run with the default setting."""
    pytest.importorskip("chatterbot_corpus")
    import cqa.importers
    from cqa.store import SEED_META
    from qa.cli import main

    unseeded = str(tmp_path / "unseeded.sqlite")  # opened unseeded for a command's own work (`qa cqa embed`):
    assert CommunityQA(Settings(cqa_store=unseeded), encoder=encoder, seed=False).stats()["threads"] == 0
    assert CommunityQA(Settings(cqa_store=unseeded), encoder=encoder).stats()["threads"] > 200  # seeded later
    empty = str(tmp_path / "empty.sqlite")
    assert CommunityQA(Settings(cqa_store=empty, cqa_seed=False), encoder=encoder).stats()["threads"] == 0
    assert CommunityQA(Settings(cqa_store=empty), encoder=encoder).stats()["threads"] == 0  # "starts it empty"
    # seeding waited for the store, and finds it another's meanwhile: nothing is added
    taken = ThreadStore(tmp_path / "taken.sqlite")
    taken.add_question("Is there a bike shed?")
    CommunityQA._import_seed(taken)
    assert taken.count() == 1 and not taken.get_meta(SEED_META)
    # the import's store is marked as it begins, not once the file is in
    real, seen = cqa.importers.import_file, []

    def importing(store, *args, **kwargs):
        seen.append(store.get_meta(SEED_META))
        return real(store, *args, **kwargs)

    monkeypatch.setattr(cqa.importers, "import_file", importing)
    faq = tmp_path / "faq.jsonl"
    faq.write_text("".join(json.dumps(r) + "\n" for r in FAQ), encoding="utf-8")
    assert main(["cqa", "import", str(faq), "--store", str(tmp_path / "team.sqlite"), "--no-embed"]) == 0
    assert seen == ["skip"]


def test_a_user_write_waits_out_another_servers_brief_one(tmp_path: Path, encoder) -> None:
    """A write of a few milliseconds by another server had refused a user's question outright
    (503 "being written by another process (an import?)") for one in five writes of two servers."""
    import sqlite3
    import threading

    path = tmp_path / "t.sqlite"
    source = CommunityQA(Settings(), store=ThreadStore(path), encoder=encoder, seed=False)
    source.add_question("Is the pool open on Sundays?")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: other.execute("ROLLBACK")).start()
    try:
        tid = source.add_question("Is the gym open on Sundays?", answer="Yes, from 8 to 20.")
    finally:
        other.close()
    assert source.store.thread(tid).answers[0].text == "Yes, from 8 to 20."


def test_a_new_store_at_an_old_stores_path_is_not_answered_from_its_index(tmp_path: Path, encoder) -> None:
    """Keys start at 1 in every store: index files left beside a deleted store must not be taken
    for the new one's (its questions would be searched with the old store's vectors and words)."""
    path = tmp_path / "t.sqlite"
    first = tmp_path / "a.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in FAQ), encoding="utf-8")
    store = ThreadStore(path)
    import_file(store, first)
    CommunityQA(Settings(), store=store, encoder=encoder, seed=False).answer("Which bank is best?")
    store.close()
    path.unlink()
    second = tmp_path / "b.jsonl"
    second.write_text(json.dumps({"question": "How do I get a driving license for my car?",
                                  "answer": "At the traffic department."}) + "\n" +
                      json.dumps({"question": "Where can I rent an apartment near the beach?",
                                  "answer": "Try the Pearl."}) + "\n", encoding="utf-8")
    store = ThreadStore(path)
    import_file(store, second)
    top = CommunityQA(Settings(), store=store, encoder=encoder, seed=False).match(
        "How do I get a driving license for my car?")[0]
    assert top.thread.title == "How do I get a driving license for my car?" and top.features["d_text"] > 0.99


def test_a_duplicate_of_a_duplicate_answers_from_the_answered_original(tmp_path: Path, encoder) -> None:
    store = ThreadStore(tmp_path / "t.sqlite")
    orig, _ = store.put_thread("se", "3", "Idiom for flipping a sequence", "")
    store.put_answer(orig, "a3", "Use slicing: s[::-1]", votes=9)
    mid, _ = store.put_thread("se", "2", "Weird output order from my script", "")
    first, _ = store.put_thread("se", "1", "How do I reverse a string in Python?", "")
    store.link(first, mid)
    store.link(mid, orig)
    loop, _ = store.put_thread("se", "4", "Reverse the words of a sentence in Python", "")
    store.link(loop, first)
    store.link(first, loop)  # a cycle is cut, not followed forever
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    source.refresh()
    res = source.answer("How do I reverse a string in Python?", top_k=1)
    got = res[0].best_guess if res[0].no_answer else res[0]
    assert (got.evidence.thread_id, got.evidence.answer_id, got.evidence.via_duplicate) == ("se:3", "a3", "se:1")


def test_a_store_filled_without_vectors_is_searched_by_a_source_started_before(tmp_path: Path, encoder) -> None:
    """The source starts on an empty store; another writer imports without embedding: the
    candidates are encoded when asked, not a crash."""
    path = tmp_path / "t.sqlite"
    source = CommunityQA(Settings(), store=ThreadStore(path), encoder=encoder, seed=False)
    assert source.answer("how do I kill a process")[0].no_answer
    other = ThreadStore(path)
    key, _ = other.put_thread("se", "3", "How do I kill a process by name?", "")
    other.put_answer(key, "a1", "Use pkill followed by the process name.", votes=3)
    got = source.answer("how do I kill a process by name")[0]
    got = got.best_guess if got.no_answer else got
    assert got.evidence.answer_id == "a1"


def test_unicode_composition_does_not_split_words_or_answers(tmp_path: Path, encoder) -> None:
    import unicodedata

    from cqa.text import tokenize

    nfc = "Où se trouve le café Müller à Zürich?"
    assert tokenize([unicodedata.normalize("NFD", nfc)]) == tokenize([nfc])
    store = ThreadStore(tmp_path / "t.sqlite")
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    answer = "Le café Müller est près de la gare."
    first = source.file_answer(nfc, answer)
    assert source.file_answer(unicodedata.normalize("NFD", nfc), unicodedata.normalize("NFD", answer)) == first
    assert store.count() == 1


def test_a_write_committed_while_bm25_is_built_is_not_claimed_by_the_saved_index(tmp_path: Path, encoder) -> None:
    from cqa.index import ThreadIndex

    path = tmp_path / "t.sqlite"
    store = ThreadStore(path)
    key, _ = store.put_thread("faq", "1", "How do I renew my visa?", "")
    store.put_answer(key, "a", "At the immigration office.")
    texts = store.iter_texts

    def read_then_another_process_writes():  # an import commits while the texts are being read
        yield from texts()
        ThreadStore(path).put_thread("faq", "2", "Where can I rent a car in Doha?", "")

    store.iter_texts = read_then_another_process_writes  # type: ignore[method-assign]
    ThreadIndex(store, encoder).load()
    fresh = ThreadIndex(ThreadStore(path), encoder).load()  # a process started later trusts the saved file
    found = [k for k, _ in fresh.bm25_search(["rent", "car", "doha"], 5)]
    assert ThreadStore(path).key_of("faq:2") in found


def test_questions_are_answered_while_another_process_imports(tmp_path: Path, encoder) -> None:
    """An import holds the store's write lock until it commits: opening the store and answering
    (which caches answer vectors) must not wait for it (they waited 30 s, then failed)."""
    import time

    path = tmp_path / "t.sqlite"
    writer = ThreadStore(path)
    key, _ = writer.put_thread("se", "7", "How can I read a text file line by line in Java?", "")
    writer.put_answer(key, "a1", "Use BufferedReader.readLine in a loop until it returns null.", votes=2)
    writer.put_answer(key, "a2", "Files.lines(path) gives a stream of the lines.", votes=1)
    with writer.transaction():  # the import, still running
        t0 = time.perf_counter()
        source = CommunityQA(Settings(), store=ThreadStore(path), encoder=encoder, seed=False)
        got = source.answer("read a text file line by line in Java")[0]
        assert time.perf_counter() - t0 < 5
    got = got.best_guess if got.no_answer else got
    assert got.evidence.answer_id == "a1"
    assert source.store.set_answer_vectors([1], np.zeros((1, 4)), wait=True)  # the import is done


def test_vectors_added_to_an_empty_store_record_their_encoder(tmp_path: Path, encoder) -> None:
    from cqa.index import ThreadIndex

    store = ThreadStore(tmp_path / "t.sqlite")
    index = ThreadIndex(store, encoder)
    index.embed_pending()
    index.load()
    tid = store.add_question("How do I reset my password?")
    index.add([store.thread(tid).key], [store.thread(tid).text])
    assert store.get_meta("encoder") == encoder.name

    class Other(type(encoder)):
        name = "another-encoder"

    with pytest.raises(ConfigError, match="was embedded with the encoder"):
        ThreadIndex(store, Other(), folder=tmp_path / "idx2").load()


def test_a_thread_added_after_the_index_was_built_scores_as_if_it_had_been_there(tmp_path: Path, encoder) -> None:
    """Threads added since the main BM25 index was built were scored by an index of their own, whose
    word weights had nothing to do with the main one's: a thread filed a moment ago lost to older
    similar ones even when asked its exact question."""
    from cqa.index import _BM25, ThreadIndex

    store = ThreadStore(tmp_path / "t.sqlite")
    texts = [f"What colour is the gadget number {n} painted in Wubbaland?" for n in range(1, 80)]
    for n, text in enumerate(texts, start=1):
        store.put_thread("faq", str(n), text, "")
    index = ThreadIndex(store, encoder)
    index.load()
    key, _ = store.put_thread("faq", "new", "What colour is the gadget number 120 painted in Wubbaland?", "")
    index.add([key], [store.get([key])[key].text])
    query = tokenize(["What colour is the gadget number 120 painted in Wubbaland?"])[0]
    got = index.bm25_search(query, 3)
    assert got[0][0] == key
    everything = _BM25().build([*range(1, 80), key], [*texts, store.get([key])[key].text])
    assert got[0][1] == pytest.approx(float(everything.scores(query)[-1]), rel=1e-5)


def test_a_whole_import_left_unembedded_is_searched_by_words_not_embedded_by_the_first_question(
        tmp_path: Path, encoder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A few threads filed since the last embedding are embedded by the next question; a whole dump
    imported with --no-embed is not (minutes without a word): BM25 finds its threads, the log says
    why and what embeds them."""
    import cqa.matcher

    path = tmp_path / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ), encoding="utf-8")
    store = ThreadStore(tmp_path / "t.sqlite")
    import_file(store, path)
    monkeypatch.setattr(cqa.matcher, "INLINE_EMBED", 3)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    with caplog.at_level("WARNING", logger="qa.cqa"):
        got = source.answer("which bank is best for a salary account in doha")[0]
    assert "4 threads in" in caplog.text and "`qa cqa embed`" in caplog.text
    assert store.count_unembedded() == 4  # nothing embedded behind the question's back
    got = got.best_guess if got.no_answer else got
    assert got.evidence.thread_id == "faq:faq:bank"  # found by its words
    monkeypatch.setattr(cqa.matcher, "INLINE_EMBED", 4)  # few enough: the next source embeds them first
    CommunityQA(Settings(), store=store, encoder=encoder, seed=False).answer("which bank is best")
    assert store.count_unembedded() == 0


def test_a_very_long_answer_is_read_from_its_opening_with_its_offsets_kept(tmp_path: Path, encoder) -> None:
    """A 125,000-character answer read whole held its question up for 16 seconds."""
    from cqa.features import READ_ANSWER_CHARS
    from qa.models import shared_span_reader

    class Recording:
        def __init__(self, reader) -> None:
            self.reader, self.contexts = reader, []

        def read(self, question, context, **kw):
            self.contexts.append(context)
            return self.reader.read(question, context, **kw)

        def read_batch(self, requests, **kw):
            self.contexts.extend(c for _, c in requests)
            return self.reader.read_batch(requests, **kw)

    store = ThreadStore(tmp_path / "t.sqlite")
    key, _ = store.put_thread("forum", "1", "When is the visa office open?", "")
    long = "The visa office is open from 7 am to 2 pm on weekdays. " + "It is often busy in the morning. " * 4000
    store.put_answer(key, "a", long, accepted=True)
    reader = Recording(shared_span_reader())
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False, span_reader=reader)
    got = source.answer("when is the visa office open")[0]
    got = got.best_guess if got.no_answer else got
    assert reader.contexts and max(len(c) for c in reader.contexts) <= READ_ANSWER_CHARS
    assert got.evidence.answer == long  # the full answer is shown beside the short one
    # the short answer is cut from the opening, so its offsets index the full answer as they are
    assert got.evidence.start is not None and got.text != long
    assert long[got.evidence.start:got.evidence.end] == got.text


def test_a_match_naming_other_numbers_is_a_guess_that_says_why(tmp_path: Path, encoder) -> None:
    """"Who was the 36th President?" matched "the 37th" and answered Richard Nixon at 0.94: the
    features see two questions alike in every word but the number as one question. A match that
    asks the same but names a number the question does not (and lacks one it names) is held to a
    best guess, and the evidence says why; the same number written otherwise ("37" for "37th",
    "1,500" for "1500", "10^6" for "1 million") is still a match."""
    from cqa.features import OTHER_QUESTION_CAP, other_numbers, specifics

    assert specifics("the 37th, 1,500 or 1500 riyals, 3.50 or v3, 2nd, 10.0.0.1") == {"37", "1500", "3.5", "2"}
    assert specifics("10^6, 10**6, 1e6, 1 million, 1000000") == {"1000000"}
    assert specifics("100k or 1.5e3") == {"100000", "1500"}
    assert specifics("9" * 10200 + "^99 or 99^99") == set()  # past any number worth comparing, no overflow
    assert other_numbers("Who was the 37 president?", "Who was the 37th President?", 0.95) is None
    assert other_numbers("the 36th president in 2020", "the 37th president in 2020", 0.95) is not None
    assert other_numbers("school fees for my 2 kids", "school fees", 0.9) is None  # nothing to disagree with
    # a rank is no circumstance: named on one side only, another question ("third" and "3rd" alike)
    assert "asks for the 3rd largest" in other_numbers("What is the 3rd largest country?",
                                                       "What is the largest country?", 0.86)
    assert "is about the second most" in other_numbers("the most populous city?", "the second most populous city?",
                                                       0.9)
    assert other_numbers("What is the 3rd-largest country?", "What is the largest country?", 0.9)
    assert other_numbers("the second-largest city", "the largest city", 0.9)
    for same in (("What is the 3rd largest country?", "What is the third largest country?"),
                 ("What to do after my first arrest?", "What to do after my arrest?"),
                 ("my second harvest", "my harvest"),
                 ("the 03rd largest", "the 3rd largest"), ("the 3rd largest", "number 3 by size, the largest")):
        assert other_numbers(*same, 0.95) is None, same
    # other ordinals are circumstance, as other numbers one side names alone are
    for pair in (("What's the 1st thing to do after arriving?", "What's the first thing to do after arriving?"),
                 ("a flat on the 4th floor in West Bay", "a flat in West Bay"), ("my son in 5th grade", "my son"),
                 ("the 2nd test results", "the test results"), ("my 1st birthday party venue", "birthday party venue")):
        assert other_numbers(*pair, 0.95) is None, pair
    assert other_numbers("school fees for my 2 kids in 2024", "school fees 2024", 0.9) is None  # only narrower
    # a forum post whose numbers are circumstance does not ask what the thread asks
    assert other_numbers("looking for a rental car for 1 month, budget 1500", "QR 1,400/month car rental?",
                         0.55) is None
    store = ThreadStore(tmp_path / "t.sqlite")
    for i, (q, a) in enumerate([("Who was the 37th President of the United States?", "Richard Nixon"),
                                ("What does a residence permit for 1,500 riyals cover?", "One year.")]):
        key, _ = store.put_thread("faq", str(i), q, "")
        store.put_answer(key, "a", a, accepted=True)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    source.refresh()
    same = source.answer("Who was the 37th President of the United States?")[0]
    assert same.text == "Richard Nixon" and same.score > OTHER_QUESTION_CAP and same.evidence.caveat is None
    other = source.answer("Who was the 36th President of the United States?")[0]
    assert other.no_answer and other.best_guess is not None and other.best_guess.score <= OTHER_QUESTION_CAP
    assert "names 37 where the question names 36" in other.best_guess.evidence.caveat
    match = source.match("Who was the 36th President of the United States?")[0]
    assert match.probability <= OTHER_QUESTION_CAP and match.caveat
    assert source.match("What does a residence permit for 1500 riyals cover?")[0].caveat is None


def test_short_paraphrases_naming_other_numbers_are_caught_with_the_real_encoder(tmp_path: Path) -> None:
    """The words of "Who was the 36th president?" and the seed's "Who was the 37th President of the
    United States?" overlap too little for a word count to call them one question; the encoder
    does (0.8 and more), so that match is held down for each of these. (Another seed thread, "Who was
    the only US President to resign?", still comes close to 0.5: same-entity trivia the re-scorer
    cannot tell apart.)"""
    from cqa.features import OTHER_QUESTION_CAP
    from qa.models import shared_encoder

    source = CommunityQA(Settings(), store=tmp_path / "seed.sqlite", encoder=shared_encoder(), seed=True)
    for q in ("Who was the 36th president?", "Which US president was the 36th?",
              "Who was the 36th President of the USA?"):
        assert not any(m.thread.title.startswith("Who was the 37th") and m.probability > OTHER_QUESTION_CAP
                       for m in source.match(q)), q
    assert source.answer("Which US president was the 37th?")[0].text == "Richard Nixon"


def test_one_line_questions_naming_other_things_are_other_questions() -> None:
    """"When did World War II end?" matched the seed's "When did the Cold War end?" (0.68 alike) and
    answered 1989 at 0.74. Two one-line questions that each name a thing the other does not ask
    different things; one that only names more ("Apple Inc.") or names it otherwise ("USA", "Mt.",
    a misspelling) still asks the same."""
    from cqa.features import names, one_question, other_names, other_question

    for different in (("When did World War II end?", "When did the Cold War end?"),
                      ("What is the largest ocean on Mars?", "What is the name of the Earth’s largest ocean?"),
                      ("How do I cancel my Netflix subscription?", "How do I cancel my Spotify subscription?"),
                      ("Who painted the Mona Lisa?", "Who painted The Last Supper?"),
                      ("How do I install Python on Mac?", "How do I install Python on Windows?"),
                      ("Who is Barack Obama's wife?", "Who is Michelle Obama's husband?")):
        why = other_names(*different)
        assert why is not None and why.startswith("the matched question is about"), different
    assert "about Cold War where the question asks about World War II" in other_names(
        "When did World War II end?", "When did the Cold War end?")
    for same in (("Which US president was the 37th?", "Who was the 37th President of the United States?"),
                 ("What's the capital of the USA?", "What is the capital of the United States of America?"),
                 ("When was JFK shot?", "What year was President John F. Kennedy assassinated?"),
                 ("How tall is Mt. Everest?", "What is the height of Mount Everest?"),
                 ("What does NASA stand for?", "What is the full form of N.A.S.A.?"),
                 ("Who was Albert Einstien?", "Who was Albert Einstein?"),
                 ("Who founded Apple?", "Who is the founder of Apple Inc.?"),
                 ("Who is the CEO of Microsoft?", "Who runs Microsoft Corporation?"),
                 ("Where was Leonardo da Vinci born?", "What is the birthplace of Leonardo Da Vinci?"),
                 ("when did world war ii end", "When did the Cold War end?"),  # nothing named: the re-scorer's call
                 ("What is the capital of Spain?", "What is the national dish of Spain?")):  # the same thing named
        assert other_names(*same) is None, same
    # names written otherwise: abbreviations (of a whole name, of some of its words, of one long
    # word), numerals, hyphens and spaces, letters without accents, a doubled letter, a short title
    for same in (("When did WWII end?", "When did World War II end?"),
                 ("When did WW1 start?", "When did World War 1 start?"),
                 ("How do I join the US Army?", "How do I join the United States Army?"),
                 ("How do I join the U.S. Army?", "How do I join the United States Army?"),
                 ("How do I get to JFK Airport?", "How do I get to John F. Kennedy Airport?"),
                 ("Do you ship to the USA?", "Do you ship to the US?"),
                 ("How do I use Microsoft Word?", "How to use MS Word?"),
                 ("Who owns Procter & Gamble?", "Who owns P&G?"),
                 ("Who wrote LOTR?", "Who wrote The Lord of the Rings?"),
                 ("Who is POTUS?", "Who is the President of the United States?"),
                 ("How do I connect to Wi-Fi?", "How do I connect to WiFi?"),
                 ("Who plays Iron Man?", "Who plays Ironman?"),
                 ("What is Coca\u2011Cola made of?", "What is Coca Cola made of?"),
                 ("How big is Łódź?", "How big is Lodz?"),
                 ("Who was Ronald Reagan?", "Who was Ronald Reagen?"),
                 ("Who is Brad Pitt?", "Who is Brad Pit?")):
        assert other_question(same[0], same[1], same[1], 0.8) is None, same
    # ... but not a place that differs in two letters, a two-letter code that is also a joiner or a
    # company's "Co", nor questions whose every word but the first is a name, or with a title's stop
    for different in (("What is the capital of Austria?", "What is the capital of Australia?"),
                      ("What is the weather in LA?", "What is the weather in NYC?"),
                      ("How do I get a driver's license in CO?", "How do I get a driver's license in TX?"),
                      ("Is Paris in France?", "Is Lyon in France?"), ("Where's Paris?", "Where's London?"),
                      ("Is Austria in the EU?", "Is Switzerland in the EU?"), ("Who is Mr. Bean?", "Who is Mr. T?"),
                      ("How tall is Mt. Everest?", "How tall is Mt. Fuji?"),
                      ("Who is Elon Musk? 😀", "Who is Jeff Bezos? 😀"),
                      ("Is St. Louis in Missouri?", "Is Kansas City in Missouri?")):
        assert other_question(different[0], different[1], different[1], 0.8) is not None, different
    # what the encoder calls nearly the same question is one thing named two ways, unless numbers differ
    for numbered in (("When did World War I end?", "When did World War II end?", 0.96),
                     ("Who played in Super Bowl LII?", "Who played in Super Bowl LI?", 0.96),
                     ("What is the battery life of the Galaxy S24?",
                      "What is the battery life of the Galaxy S23?", 0.92),
                     ("Who was Henry VII?", "Who was Henry VIII?", 0.95)):
        assert other_question(numbered[0], numbered[1], numbered[1], numbered[2]) is not None, numbered
    # ... and one number written two ways is one number, a number only one side names no difference
    for one in (("When did World War 2 end?", "When did World War II end?", 0.95),
                ("What is the price of the PS5?", "What is the price of the PlayStation 5?", 0.93),
                ("Who directed Rocky II?", "Who directed Rocky 2?", 0.8),
                ("How do I exit the VI editor?", "How do I exit the Vim editor?", 0.93)):
        assert other_question(one[0], one[1], one[1], one[2]) is None, one
    # a title is how a name is addressed, where it opens a name; a title alone, or inside a name, is
    # the name ("Queen", "the King of Spain", "Stephen King"), as is a two-letter code ("MS")
    for titled in (("Who sang in Queen?", "Who sang in Genesis?"),
                   ("Who is the King of Spain?", "Who is the Queen of Spain?"),
                   ("Who is Stephen King?", "Who is Stephen Hawking?"),
                   ("What is the treatment for MS?", "What is the treatment for ALS?")):
        assert other_question(titled[0], titled[1], titled[1], 0.8) is not None, titled
    # "The" before a name is the name's
    assert other_question("Who is President Biden?", "Who is Joe Biden?", "Who is Joe Biden?", 0.81) is None
    assert other_question("Who directed The Godfather?", "Who directed The Matrix?", "Who directed The Matrix?", 0.7)
    assert other_question("When was Prof. Higgs born?", "When was Prof. Hawking born?", "When was Prof. Hawking born?",
                          0.8)
    for odd in ("?", "😀", "'", "", "...", "2024"):
        assert not one_question(odd) or other_question(odd, odd, odd, 1.0) is None
    post = ("Where can I renew a passport in the UAE? My old one expires next month and the embassy in West Bay "
            "is closed.")
    assert not one_question(post) and one_question("Who is Mr. Bean?")
    assert names("Tom, Sarah and I went to Ulm") == [["Tom"], ["Sarah"], ["Ulm"]]
    assert names("Albert Einstein was born where? In Ulm, I think") == [["Albert", "Einstein"], ["Ulm"]]
    assert names("Mars is red") == [] and names("When did World War I end?") == [["World", "War", "I"]]
    # forum posts and headlines: their capitals name circumstance, or nothing (left to the re-scorer)
    assert not one_question("Visa for my wife. I work at Hamad Hospital and want to bring her to Doha.")
    assert not one_question("Driving Test Rules In Qatar") and not one_question("TRAFFIC TICKET RULES")
    assert other_question("Best Bank In Doha?", "HSBC loan interest", "HSBC loan interest", 0.5) is None
    # what the encoder calls nearly the same question names one thing two ways
    flag = "How many red stripes are there on the American flag?"
    assert other_names("How many red stripes does the US flag have?", flag) is not None
    assert other_question("How many red stripes does the US flag have?", flag, flag, 0.96) is None
    assert other_question("Who is Barack Obama's wife?", "Who is Michelle Obama's husband?",
                          "Who is Michelle Obama's husband?", 0.87) is not None
    assert other_question("What is the biggest bank in Doha? I have a salary account at HSBC.", "Biggest bank?",
                          "Biggest bank?", 0.7) is None
    assert one_question("Who was the 37th President of the United States?")


def test_a_match_naming_another_thing_is_a_guess_that_says_why(tmp_path: Path, encoder) -> None:
    from cqa.features import OTHER_QUESTION_CAP

    store = ThreadStore(tmp_path / "t.sqlite")
    for i, (q, a) in enumerate([("When did the Cold War end?", "1989"),
                                ("Where can I renew a passport in Doha? My old one expires next month and the "
                                 "embassy in West Bay is closed.", "At the immigration office.")]):
        key, _ = store.put_thread("faq", str(i), q, "")
        store.put_answer(key, "a", a, accepted=True)
    source = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    source.refresh()
    assert source.answer("When did the Cold War end?")[0].text == "1989"
    other = source.answer("When did World War II end?")[0]
    assert other.no_answer and other.best_guess is not None and other.best_guess.score <= OTHER_QUESTION_CAP
    assert "Cold War where the question asks about World War II" in other.best_guess.evidence.caveat
    # a forum post names its circumstance: not held down for naming Doha where the question names Qatar
    doha = [m for m in source.match("How do I renew my passport in Qatar?") if "Doha" in m.thread.title]
    assert doha and doha[0].caveat is None


def test_seed_questions_about_other_things_are_guesses_and_their_paraphrases_answers(tmp_path: Path) -> None:
    """With the real encoder over the seed: a question that asks the seed's question of another
    named thing (0.56 to 0.78 alike) is no longer answered from it; the same question in other
    words, naming the thing shorter or otherwise, still is."""
    from cqa.features import OTHER_QUESTION_CAP
    from qa.models import shared_encoder

    source = CommunityQA(Settings(), store=tmp_path / "seed.sqlite", encoder=shared_encoder(), seed=True)
    for asked, seed in (("What is the most populous city in Australia?", "What is the most populous city in Canada?"),
                        ("In which city did Mussolini die?", "In which city did Hitler commit suicide?"),
                        ("How many children does Madonna have?", "How many children does Oprah Winfrey have?"),
                        ("What was the name of the first American satellite?",
                         "What was the name of the first artificial Earth satellite?"),
                        ("When did World War II end?", "When did the Cold War end?"),
                        ("What is the biggest ocean in the world?", "What is the smallest ocean in the world?"),
                        ("Which mammal has vocal cords?", "Which mammal has no vocal cords?")):
        held = [m for m in source.match(asked) if m.thread.title == seed]
        assert held and held[0].probability <= OTHER_QUESTION_CAP and held[0].caveat, asked
    for asked, seed in (("Which city in Canada has the most people?", "What is the most populous city in Canada?"),
                        ("What's Jordan's capital?", "What is the name of Jordan’s capital city?"),
                        ("Where did Hitler kill himself?", "In which city did Hitler commit suicide?"),
                        ("How many kids does Oprah have?", "How many children does Oprah Winfrey have?")):
        top = source.match(asked)[0]
        assert top.thread.title == seed and top.probability >= 0.5 and top.caveat is None, asked


def test_one_line_questions_asking_the_opposite_are_other_questions() -> None:
    """The seed's "What is the smallest ocean in the world?" answered "the biggest ocean" at 0.92
    and "Which mammal has no vocal cords?" answered "Which mammal has vocal cords?" at 0.99: the
    other end of the same order, or the same words negated, is another question. Words that rank
    nothing where they stand ("at least", "most people", "first time") and negations in other words
    ("won't turn on" / "is dead") are no opposite."""
    from cqa.features import other_ask, other_question

    for pair in (("What is the biggest ocean in the world?", "What is the smallest ocean in the world?"),
                 ("Which ocean is largest?", "Which ocean is smallest?"),
                 ("Who was the first man on the moon?", "Who was the last man on the moon?"),
                 ("What is the most populous city?", "What is the least populous city?"),
                 ("What is Earth's hottest place?", "What is Earth's coldest place?"),
                 ("Which mammal has vocal cords?", "Which mammal has no vocal cords?"),
                 ("Why doesn't my printer print?", "Why does my printer print?"),
                 ("Why cannot I log in?", "Why can I log in?"),
                 ("Which bone are babies born with?", "Which bone are babies born without?")):
        assert other_ask(*pair) is not None and other_ask(*pair[::-1]) is not None, pair
    assert "asks for the smallest where the question asks for the biggest" in other_ask(
        "What is the biggest ocean in the world?", "What is the smallest ocean in the world?")
    for pair in (("Why can't I log in?", "Why can I log in?"),
                 ("Why won't my phone charge?", "Why will my phone charge?"),
                 ("Why cant I log in?", "Why can I log in?"),
                 ("Is the server not responding?", "Is the server responding?"),
                 ("What is the maximum file size?", "What is the minimum file size?"),
                 ("What is the biggest ocean?", "Which ocean is the smallest?"),
                 ("Printer not working?", "Printer working?"),
                 ("Are there no 5 star hotels in Doha?", "Are there 5 star hotels in Doha?"),
                 ("How do I enable the firewall?", "How do I disable the firewall?"),
                 ("What is the universal recipient blood type?", "What blood type qualifies as a universal donor?"),
                 ("What is a male bee called?", "What is a female bee called?"),
                 ("How many users can I add to the Basic plan?", "How many users can I remove from the Basic plan?"),
                 ("How do I delete my account?", "How do I restore my account?"),
                 ("How do I delete a file?", "How do I recover a deleted file?"),
                 ("Why is syncing so slow?", "Why is syncing so fast?"),
                 ("How do I log in on all devices?", "How do I sign out on all devices?"),
                 ("How do I sign in?", "How do I log-off?"),
                 ("Why am I logged out?", "Why am I logged in?"),
                 # undoing the action ("stop draining" answered "Run zephyrctl drain NODE." at 0.88)
                 ("How do I stop draining a gateway node?", "How do I drain a gateway node?"),
                 ("How do I undrain a gateway node?", "How do I drain a gateway node?"),
                 ("How can I cancel renewing my permit?", "How can I renew my permit?")):
        assert other_ask(*pair) is not None and other_ask(*pair[::-1]) is not None, pair
    assert other_ask("How do I drain a node?", "How do I stop draining a node?") == (
        "the matched question asks to stop 'draining', the question to 'drain'")
    assert other_ask("How do I stop sharing my screen?", "How do I share my screen?") is not None
    for pair in (("How do I understand the logs?", "How do I stand the logs?"),  # "under" is no "un"
                 ("Where does the bus stop?", "Where does the bus stop at night?"),
                 ("How do I cancel my order?", "How do I order a pizza?"),
                 # the same question in other words: no action of one undone by the other
                 ("How do I undo a commit?", "How do I revert a commit?"), ("How do I quit vim?", "How do I exit vim?"),
                 ("How do I stop a running process?", "How do I kill a running process?"),
                 ("How do I halt the deployment?", "How do I pause the deployment?"),
                 ("How do I cancel my subscription?", "How do I pause my subscription?"),
                 ("How do I stop sharing my screen?", "How do I quit sharing my screen?")):
        assert other_ask(*pair) is None and other_ask(*pair[::-1]) is None, pair
    # a negative question asks what the positive one asks; "No. 5" is a number; "a no smoking
    # policy" names a policy; "most" and "least" compare only before the same word
    for pair in (("Isn't the museum open on Sundays?", "Is the museum open on Sundays?"),
                 ("Don't you ship to Canada?", "Do you ship to Canada?"),
                 ("Where is Gate No. 5?", "Where is Gate 5?"),
                 ("What is the No. 1 song this week?", "What is the #1 song this week?"),
                 ("Does the hotel have a no smoking policy?", "Does the hotel have a smoking policy?"),
                 ("Which is the most inexpensive hotel?", "Which is the least expensive hotel?"),
                 ("My computer is dead", "My computer won't turn on."),
                 ("I need at least 2 days off, what can I do?", "What do most people do on days off?"),
                 ("When did I first meet you?", "When did we last meet?"),
                 ("What is the largest country?", "What is the largest country in the world?"),
                 ("Is the largest and the smallest ocean salty?", "Is the smallest ocean salty?"),
                 ("How do I log in?", "How do I sign in?"),
                 ("How do I add or remove a user?", "How do I remove a user?"),
                 ("How do I log on to the portal?", "How can I login to the portal?"),
                 ("Is Qatar internet fast?", "Is Qatar internet slow?"),  # yes / no: one answer
                 ("Why is my laptop so slow?", "How can I make my laptop fast?"),  # a problem and its fix
                 ("What time does the fast end today?", "Why is the slow lane closed today?"),
                 ("Where do I sign on the dotted line?", "Where do I sign off?")):
        assert other_ask(*pair) is None, pair
    # a forum post asks with circumstance around it: left to the re-scorer
    post = "Which is the best school in Doha? My son is 6 and we live near the worst traffic."
    assert other_question("Which is the worst school in Doha?", post, post, 0.7) is None


def test_one_line_questions_asking_another_kind_of_answer_are_other_questions() -> None:
    """"Where was Einstein born?" answered "When was Einstein born?" at 0.97: the question words
    ask for another kind of answer. Untyped question words ("what", "how" before a verb, "how
    long"), a help desk's "Where can I ...", two kinds asked together, a person against a place
    where one says hosting (a city hosts), and question words that open a subordinate or relative
    clause are left alone; so are kinds one answer serves (a clinic is who and where, "how" and
    "why" a sinking) but where a "where" asks where something happened or was made. "Where was the
    first female Prime Minister born?" got "Margaret Thatcher" at 0.98, and the store was asked
    first with "Where was Skyloft founded?" ("Who founded Skyloft?", 0.97)."""
    from cqa.features import other_kind, other_question

    for pair in (("Where was Albert Einstein born?", "When was Albert Einstein born?"),
                 ("When was Hamlet written?", "Who wrote Hamlet?"),
                 ("How many people attended the concert?", "When was the concert?"),
                 ("In what year did the Titanic sink?", "Where did the Titanic sink?"),
                 ("Why is the sky blue?", "When is the sky blue?"),
                 ("How far is the Moon?", "Who walked on the Moon?"),
                 ("Canberra is the capital of which country?", "When did Canberra become the capital?"),
                 ("When John Fox left as head coach, who replaced him?", "When did John Fox leave as head coach?"),
                 ("The scientist who discovered penicillin was born in what year?",
                  "Where was the scientist who discovered penicillin born?"),
                 ("Where was the first female Prime Minister of Great Britain born?",
                  "Who was the first female Prime Minister of Great Britain?"),
                 ("Where were scissors invented?", "Who invented scissors?"),
                 ("Where was Skyloft founded?", "Who founded Skyloft?"),
                 ("How was Skyloft founded?", "When was Skyloft founded?"),
                 ("How did Albert Einstein die?", "When did Albert Einstein die?"),
                 ("Where is the iPhone made?", "Who makes the iPhone?")):
        assert other_kind(*pair) is not None and other_kind(*pair[::-1]) is not None, pair
    assert other_kind("How was Skyloft founded?",
                      "When was Skyloft founded?") == "the question asks how, the matched question when"
    assert other_kind("Where was Albert Einstein born?",
                      "When was Albert Einstein born?") == "the question asks where, the matched question when"
    for pair in (("When does the store open?", "What time does the store open?"),
                 ("Who hosted the 2016 Olympics?", "Where were the 2016 Olympics held?"),
                 ("Where can I find the opening hours?", "When do you open?"),
                 ("When and where was Einstein born?", "Where was Einstein born?"),
                 ("What is the capital of France?", "Where is the capital of France?"),
                 ("How do I get to the airport?", "When does the airport open?"),
                 ("Who was president when the war ended?", "Who was president?"),
                 ("When John Fox left as head coach, who replaced him?", "Who is the head coach of the Broncos?"),
                 ("I Know Why the Caged Bird Sings was written by whom?",
                  "Who wrote I Know Why the Caged Bird Sings?"),
                 ("Who was the US president, when the Berlin Wall fell?",
                  "Who was the US president when the Berlin Wall fell?"),
                 ("When was the treaty signed, and where?", "When was the treaty signed?"),
                 ("When I try to pay why does it fail?", "Why does my payment fail?"),
                 ("The scientist who discovered penicillin was born in what year?",
                  "When was the scientist who discovered penicillin born?"),
                 ("How long does delivery take?", "When will my order arrive?"),
                 ("How often does the bus come?", "When does the bus come?"),
                 ("How old is the Eiffel Tower?", "When was the Eiffel Tower built?"),
                 ("Where can I find the opening hours?", "When does the store open?"),
                 ("Where's the station?", "Where is the station?"),
                 ("How many years ago did the Roman Empire fall?", "When did the Roman Empire fall?"),
                 ("How fast does Amazon Prime deliver?", "When will Amazon Prime deliver my order?"),
                 ("Who knows when the Louvre opens?", "When does the Louvre open?"),
                 ("What time zone is Chicago in?", "Where is Chicago?"),
                 ("By when must I return an item to Amazon?", "Where must I return an item to Amazon?"),
                 ("Who held the 1998 World Cup?", "Where was the 1998 World Cup?"),
                 ("How does the store work?", "How is the store run?"),
                 ("How do I reset my password?", "When can I reset my password?"),
                 ("Who Hosted The 2016 Olympics?", "Where were the 2016 Olympics held?"),
                 ("Who is the best dentist in Doha?", "Where is the best dentist in Doha?"),
                 ("Who sells cheap furniture in Doha?", "Where is cheap furniture sold in Doha?"),
                 ("How did the Titanic sink?", "Why did the Titanic sink?")):
        assert other_kind(*pair) is None and other_kind(*pair[::-1]) is None, pair
    # a forum post is no one-line question
    post = "When is the best time to visit Doha? We come in May with kids."
    assert other_question("Where is the best place to visit in Doha?", post, post, 0.7) is None


def test_one_line_questions_with_one_word_of_another_meaning_are_other_questions() -> None:
    """An FAQ answered "What is the population of Australia?" with Canberra (0.77) and "What is
    the weight of Mount Everest?" with its height (0.93): a question about a named thing in the
    same words but a noun or two that WordNet does not link. Linked words, words WordNet does not
    know, verbs and adjectives, names (`other_names`' job), questions naming nothing (a help
    desk's paraphrases use words WordNet does not link) and questions differing in more than
    that are left alone. Opposites anywhere are `other_ask`'s ("When did Albert Einstein die?"
    got his birth date at 0.96; "the freezing point" the boiling point; "close" the opening
    time)."""
    from cqa.features import other_ask, other_question, other_word

    for pair in (("What is the population of Australia?", "What is the capital of Australia?"),
                 ("What is the weight of Mount Everest?", "What is the height of Mount Everest?"),
                 ("How many stripes are on the American flag?", "How many stars are on the American flag?"),
                 ("Who is Barack Obama's wife?", "Who is Barack Obama's husband?"),
                 ("What is the currency of Japan?", "What is the language of Japan?"),
                 ("How many stars are there on the American flag?",
                  "How many red stripes are there on the American flag?")):
        assert other_word(*pair) is not None and other_word(*pair[::-1]) is not None, pair
        assert other_question(pair[0], pair[1], pair[1], 0.95) is not None, pair
    assert other_word("What is the population of Australia?", "What is the capital of Australia?") == (
        "the matched question asks about 'capital' where the question asks about 'population'")
    for pair in (("What is the freezing point of water?", "What is the boiling point of water?"),
                 ("When did Albert Einstein die?", "When was Albert Einstein born?"),
                 ("What time does the store close?", "What time does the store open?")):
        assert other_ask(*pair) is not None and other_ask(*pair[::-1]) is not None, pair
    assert other_ask("What is the best pizza in Chicago?", "What is the worst pizza in Chicago?") == (
        "the matched question asks for the worst where the question asks for the best")
    # opposite states asked in other words, or in a yes/no question, ask the same
    for pair in (("Is the museum closed on Mondays?", "Is the museum open on Mondays?"),
                 ("Does Costco close on Sundays?", "Is Costco open on Sundays?"),
                 ("When does Walmart close?", "What are Walmart's opening hours?"),
                 ("Until when is the Louvre open?", "What time does the Louvre close?")):
        assert other_ask(*pair) is None and other_ask(*pair[::-1]) is None, pair
    for pair in (("What is the cost of the basic plan?", "What is the price of the basic plan?"),
                 ("How tall is Mount Everest?", "What is the height of Mount Everest?"),
                 ("Who is Barack Obama's mom?", "Who is Barack Obama's mother?"),
                 ("How do I register my car?", "How do I register my vehicle?"),
                 ("Where is the kids' menu?", "Where is the children's menu?"),
                 ("When did Einstein die?", "When has Einstein died?"),
                 ("What is the nation of Einstein?", "What is the nationality of Einstein?"),
                 ("How do I reset my password?", "How do I change my password?"),
                 ("Is there a pool at the hotel?", "Is there a pool at the hostel?"),
                 ("How many people live in Tokyo?", "How many inhabitants does Tokyo have?"),
                 ("What is Australia's capital city?", "What is the capital of Australia?"),
                 ("Who wrote Macbeth?", "Who wrote Hamlet?"),  # names: other_names says why
                 ("How do I reset my wifi?", "How do I reset my zyxel?"),  # unknown to WordNet
                 ("Which flights go to Doha?", "Which flights go from Doha?"),
                 ("How do I fix my computer?", "How do I repair my laptop?"),
                 ("What is the best way to learn French?", "How can I learn French fast?"),
                 ("What is the capital city of Australia?", "What is the seat of government of Australia?"),
                 ("How do I contact customer service?", "How do I contact customer support?"),
                 ("What are the symptoms of diabetes?", "What are the signs of diabetes?"),
                 ("What are your opening hours?", "What are your opening times?"),
                 ("How do I log in?", "How do I sign in?"),
                 ("Who founded Apple?", "Who started Apple?"),
                 ("How do I sort a list in Python?", "How do I order a list in Python?"),
                 ("What does DNA stand for?", "What is DNA short for?"),
                 ("When did Einstein die?", "When was Einstein's death?"),
                 ("What is the max file size?", "What is the maximum file size?"),
                 ("What is the zip code of Beverly Hills?", "What is the postal code of Beverly Hills?"),
                 ("What is the official language of Brazil?", "What is the main language of Brazil?"),
                 ("What are the rules of cricket in England?", "What are the laws of cricket in England?"),
                 ("How many followers does Taylor Swift have?", "How many fans does Taylor Swift have?")):
        assert other_word(*pair) is None and other_word(*pair[::-1]) is None, pair


def test_everyday_faq_questions_of_one_word_or_kind_apart_are_guesses_with_the_real_encoder(tmp_path: Path) -> None:
    """Through the source with the real encoder and re-scorer: the other question is shown as a
    guess that says why; paraphrases of a stored question are still answered."""
    from cqa.features import OTHER_QUESTION_CAP
    from qa.models import shared_encoder

    store = ThreadStore(tmp_path / "t.sqlite")
    for i, (q, a) in enumerate([("What is the capital of Australia?", "Canberra"),
                                ("When was Albert Einstein born?", "14 March 1879"),
                                ("What is the height of Mount Everest?", "8,849 metres"),
                                ("What is the price of the basic plan?", "$10 a month")]):
        key, _ = store.put_thread("faq", str(i), q, "")
        store.put_answer(key, "a", a, accepted=True)
    source = CommunityQA(Settings(), store=store, encoder=shared_encoder(), seed=False)
    source.warm_up()
    for asked, why in (("What is the population of Australia?", "'capital' where the question asks about 'population'"),
                       ("When did Albert Einstein die?", "says 'born' where the question says 'die'"),
                       ("Where was Albert Einstein born?", "the question asks where, the matched question when"),
                       ("What is the weight of Mount Everest?", "'height' where the question asks about 'weight'")):
        got = source.answer(asked)[0]
        assert got.no_answer and got.best_guess is not None and got.best_guess.score <= OTHER_QUESTION_CAP, asked
        assert why in got.best_guess.evidence.caveat, asked
    for asked, text in (("What is Australia's capital city?", "Canberra"),
                        ("How tall is Mount Everest?", "8,849 metres"),
                        ("What is the cost of the basic plan?", "$10 a month")):
        got = source.answer(asked)[0]
        assert not got.no_answer and got.text == text and got.score >= 0.5, asked


def test_warm_up_loads_wordnet_only_for_a_store_holding_one_line_questions(tmp_path: Path, encoder,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """WordNet (3 s, 340 MB) serves the one-line checks only: a store of forum posts warms up without it."""
    import cqa.matcher

    loads: list[int] = []
    monkeypatch.setattr(cqa.matcher.wordnet, "load", lambda: loads.append(1))
    store = ThreadStore(tmp_path / "posts.sqlite")
    key, _ = store.put_thread("forum", "1", "Renewing a passport in Doha", "Mine expires next month. Where do I go?")
    store.put_answer(key, "a", "The immigration office.", accepted=True)
    CommunityQA(Settings(), store=store, encoder=encoder, seed=False).warm_up()
    assert not loads and not store.has_bodiless()
    key, _ = store.put_thread("faq", "2", "Where do I renew a passport?", "")
    store.put_answer(key, "a", "At the immigration office.", accepted=True)
    CommunityQA(Settings(), store=store, encoder=encoder, seed=False).warm_up()
    assert loads == [1] and store.has_bodiless()


def test_a_name_everyone_posts_under_is_nobody_in_the_answer_features() -> None:
    """An "anonymous" comment under an "anonymous" question was read as the asker's own reply (Good
    one time in 17 on SemEval's training part, where such comments are Good one time in 5)."""
    import numpy as np

    from cqa.features import AnswerInfo, answer_features, identity

    v = np.ones(4, dtype=np.float32) / 2
    answers = [AnswerInfo("Try the Metrash2 app.", ["metrash2", "app"], v, "Anonymous"),
               AnswerInfo("Thanks, that worked!", ["thank", "work"], v, "sam"),
               AnswerInfo("Or the police station.", ["polic", "station"], v, "anonymous"),
               AnswerInfo("Thanks again.", ["thank"], v, "sam")]
    anon = answer_features(["pay", "fine"], v, " anonymous ", answers)
    assert [r["asker"] for r in anon] == [0.0, 0.0, 0.0, 0.0]
    assert [r["first_own"] for r in anon] == [1.0, 1.0, 1.0, 0.0]  # two anonymous posts: no one's second
    assert [r["own_share"] for r in anon] == [0.0, 0.5, 0.0, 0.5]
    named = answer_features(["pay", "fine"], v, "sam", answers)
    assert [r["asker"] for r in named] == [0.0, 1.0, 0.0, 1.0]
    assert [r["asker_next"] for r in named] == [1.0, 0.0, 1.0, 0.0]
    assert identity("Guest") == "" and identity("  Dilgeer ") == "Dilgeer"


def _save_often(store_path: str, times: int, errors) -> None:
    from tests.cqa.conftest import HashEncoder

    try:
        index = ThreadIndex(ThreadStore(store_path), HashEncoder()).load()
        for _ in range(times):
            index.save()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_saving_one_index_take_turns(faq_source: CommunityQA) -> None:
    """A server and a command saving the same thread index at once: the second swap met the
    first's folder (ENOTEMPTY), failed, and left moved-aside folders behind."""
    import multiprocessing as mp

    assert len(faq_source.index) == len(FAQ)  # built and saved once
    ctx = mp.get_context("fork")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_save_often, args=(str(faq_source.store.path), 100, errors)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found and all(p.exitcode == 0 for p in procs)
    folder = index_folder(faq_source.store.path)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_closed_source_folds_its_log_into_the_store_and_opens_again_when_used(tmp_path: Path, encoder) -> None:
    """A stopping server closes the source: the store is one file again; used again (an app made
    twice over one engine), it opens again, the search index with it."""
    path = tmp_path / "threads.sqlite"
    source = CommunityQA(Settings(cqa_store=str(path)), encoder=encoder, seed=False)
    tid = source.add_question("How do I cook rice?", answer="Rinse it, then simmer it for 15 minutes.")
    assert source.answer("How do I cook rice?")[0].evidence.thread_id == tid
    source.close()
    assert not path.with_name(path.name + "-wal").exists()
    tid2 = source.add_question("How long do eggs keep?", answer="About five weeks in the fridge.")
    assert source.answer("How long do eggs keep?")[0].evidence.thread_id == tid2
    source.close()
    source.close()  # twice: nothing left to close


def test_votes_and_tags_from_the_python_api_are_checked_before_anything_is_stored(faq_source: CommunityQA) -> None:
    """`add_answer(votes="many")` was stored as text and every later question matching the thread
    failed ("bad operand type for unary -"); `tags="security"` was stored as eight one-letter tags."""
    tid = "faq:qatar:visa"
    before = faq_source.store.thread(tid).answers
    for votes in ("many", 2.5, True, 10**30):
        with pytest.raises(InputError, match="votes"):
            faq_source.add_answer(tid, f"Another answer {votes}.", votes=votes)  # type: ignore[arg-type]
    assert faq_source.store.thread(tid).answers == before
    for tags in ("security", [1, 2], 7):
        with pytest.raises(InputError, match="tags"):
            faq_source.add_question(f"How do I renew a permit {tags!r}?", tags=tags)  # type: ignore[arg-type]
    new = faq_source.add_question("How do I renew my residence permit online?", tags=["security", "visa"])
    assert faq_source.store.thread(new).tags == ["security", "visa"]
    # a store an earlier version wrote a text vote count into still answers
    with faq_source.store.transaction() as c:
        c.execute("UPDATE answers SET votes = 'many' WHERE thread_key = ?", (faq_source.store.key_of(tid),))
    top = faq_source.answer("how to apply family visa qatar", top_k=1)[0]
    top = top if not top.no_answer else top.best_guess
    assert top is not None and top.evidence.thread_id == tid and top.evidence.votes is None


def test_questions_are_answered_while_an_import_is_embedded(faq_source: CommunityQA, tmp_path: Path) -> None:
    """`refresh` after an FAQ import encoded with the source's lock held: an FAQ question (and the
    engine's routing, which asks the source first) waited for the whole embedding."""
    import threading

    inner = faq_source.encoder
    release, embedding = threading.Event(), threading.Event()

    class Slow:  # the real (hashing) encoder, held up inside the refresh's thread until released
        name, dim = inner.name, inner.dim

        def encode(self, texts):  # noqa: ANN001, ANN202
            if threading.current_thread().name == "refresh":
                embedding.set()
                assert release.wait(30)
            return inner.encode(texts)

    faq_source._encoder = Slow()  # noqa: SLF001
    rows = [{"id": f"q{i}", "question": f"How do I renew parking permit number {i} in Doha?",
             "answers": [f"Renew permit {i} at the municipality."]} for i in range(40)]
    path = tmp_path / "more.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    faq_source.import_file(path, embed=False)
    worker = threading.Thread(target=faq_source.refresh, name="refresh")
    worker.start()
    try:
        assert embedding.wait(30)
        got: list = []
        asker = threading.Thread(target=lambda: got.append(faq_source.answer("how to apply family visa qatar")))
        asker.start()
        asker.join(20)
        assert got and not asker.is_alive()  # answered while the import's threads were being encoded
        # the new threads are found by their words meanwhile
        found = faq_source.answer("renew parking permit number 17", top_k=1)[0]
        found = found if not found.no_answer else found.best_guess
        assert found is not None and found.evidence.thread_id.endswith(":q17")
    finally:
        release.set()
        worker.join(30)
    assert faq_source.store.count_unembedded() == 0
    assert faq_source.index.vectors([faq_source.store.key_of(f"{found.evidence.thread_id}")])[0].any()


def test_a_deleted_thread_or_answer_leaves_the_store_and_its_index_files(tmp_path: Path, encoder) -> None:
    """Deleting is how a user's data is taken out: the index beside the store kept a deleted
    thread's vector for good and its words until a later question, the write-ahead log kept the
    rows for as long as a server ran, and free pages kept them until a VACUUM on SQLite builds
    without secure_delete."""
    marker = "PX-77-SECRET-4411 quillfeath"
    path = tmp_path / "threads.sqlite"
    running = CommunityQA(Settings(), store=path, encoder=encoder, seed=False)
    faq = tmp_path / "faq.jsonl"
    faq.write_text("\n".join(json.dumps(r) for r in [
        {"id": "renew", "question": "How do I renew a passport?", "answer": "At the embassy, with two photographs."},
        {"id": "whose", "question": f"Whose passport is {marker}?", "answer": f"It belongs to Ivo, {marker}."},
        {"id": "canteen", "question": "Where is the canteen?", "answer": f"On the second floor, said {marker}."},
    ]) + "\n", encoding="utf-8")
    running.import_file(faq)  # an import writes the index files: the marker is in them now
    faq.unlink()
    tid, kept = "faq:faq:whose", "faq:faq:canteen"
    assert not running.answer("whose passport is px-77-secret-4411")[0].no_answer

    def holding() -> list[str]:
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                      if p.is_file() and b"quillfeath" in p.read_bytes().lower())

    running.delete_thread(tid)
    answer_id = running.store.thread(kept).answers[0].id
    running.delete_answer(kept, answer_id)
    assert holding() == [], holding()  # with the store still open, as a server holds it
    assert running.answer("whose passport is px-77-secret-4411")[0].no_answer


def test_a_backup_restored_over_a_store_does_not_inherit_its_index(tmp_path: Path, encoder) -> None:
    """A backup keeps the key high-water mark it had: the threads imported after the restore took
    keys the index beside the store held for other questions (the kettle question was answered
    with the router's answer at 0.98)."""
    import shutil
    import sqlite3

    def faq(name: str, rows: list[tuple[str, str]]) -> Path:
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": f"{name}{i}", "question": q, "answer": a}) + "\n"
                                for i, (q, a) in enumerate(rows)), encoding="utf-8")
        return path

    store = tmp_path / "threads.sqlite"
    src = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    src.import_file(faq("a", [("Where is the canteen?", "On the second floor."),
                              ("How do I renew a passport?", "At the embassy.")]))
    with sqlite3.connect(tmp_path / "old.sqlite") as backup:
        src.store._conn.backup(backup)  # as `sqlite3 threads.sqlite ".backup old.sqlite"`
    from cqa.importers import import_file as import_only

    import_only(src.store, faq("b", [("How do I return a broken kettle?", "Bring it back with the receipt."),
                                     ("Can I pay with bitcoin?", "No, cards and cash only.")]))  # no vectors yet
    src.index.sync()
    src.index.save()  # as a larger import, or the next process's load, writes them: BM25 holds keys dense does not
    src.store.close()
    for p in tmp_path.glob("threads.sqlite-*"):
        p.unlink()
    shutil.copy(tmp_path / "old.sqlite", store)  # restored; the index folder beside it left as it was
    again = CommunityQA(Settings(), store=store, encoder=encoder, seed=False)
    again.import_file(faq("c", [("How do I reset my router?", "Hold the reset button for ten seconds."),
                                ("What is the parking fee?", "Parking costs 3 euros per hour.")]))
    top = again.answer("How do I reset my router?")[0]
    assert not top.no_answer and "reset button" in top.text
    bitcoin = again.answer("Can I pay with bitcoin?")[0]
    assert bitcoin.no_answer or "Parking" not in bitcoin.text


def test_a_new_store_at_a_deleted_ones_path_never_vouches_for_its_vectors(tmp_path: Path, encoder) -> None:
    """The index files record the store they were written for; with no vector yet in the new store,
    its first save vouched for the deleted store's dense file, whose vectors then answered for the
    new threads sharing their keys."""
    path = tmp_path / "threads.sqlite"
    old = CommunityQA(Settings(), store=path, encoder=encoder, seed=False)
    old.add_question("How do I reset my router password?", answer="Hold the button.")
    old.index.save()
    old.store.close()
    for p in tmp_path.glob("threads.sqlite*"):
        if p.is_file():
            p.unlink()  # the store deleted, its index folder left
    new = ThreadStore(path)
    ThreadIndex(new, encoder).load()  # no vector in the new store yet
    assert not (index_folder(path) / DENSE).exists()
