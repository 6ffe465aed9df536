"""`qa cqa ...` end to end with the real packaged encoder (in-process, so it loads once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cqa.matcher import CommunityQA
from qa.cli import main
from qa.core.settings import Settings


@pytest.fixture
def faq(tmp_path: Path) -> Path:
    path = tmp_path / "office.jsonl"
    rows = [
        {"question": "How do I reset my VPN password?", "answer": "Open the self-service portal and choose Reset."},
        {"question": "Where is the printer on the third floor?", "answer": "Next to the kitchen, room 3.14."},
        {"question": "How many days of annual leave do I get?", "answer": "Twenty-five days a year."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_ask_add_stats(tmp_path: Path, faq: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "threads.sqlite")
    assert main(["cqa", "import", str(faq), "--store", store]) == 0
    assert "3 new threads" in capsys.readouterr().err
    assert main(["cqa", "import", str(faq), "--store", store]) == 0
    assert "0 new threads (3 read)" in capsys.readouterr().err
    assert main(["cqa", "ask", "I forgot the password of the VPN, how can I reset it?", "--store", store,
                 "--json"]) == 0
    resp = json.loads(capsys.readouterr().out)
    top = resp["answers"][0]
    top = top["best_guess"] if top["no_answer"] else top
    assert resp["routing"]["chosen"] == "cqa" and top["evidence"]["thread_id"].startswith("faq:office:")
    assert "self-service portal" in top["evidence"]["answer"]
    # how many answers: the top_k setting, as for `qa ask` (it had been 3 whatever QA_TOP_K said)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_TOP_K", "1")
        assert main(["cqa", "ask", "Is there parking?", "--store", store, "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["answers"]) == 1
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes, in the basement.",
                 "--store", store]) == 0
    err = capsys.readouterr().err
    assert "added thread user:" in err
    tid = err.split("added thread ", 1)[1].split()[0]
    # sent again: the thread and answer stored the first time, and said so
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes, in the basement.",
                 "--store", store]) == 0
    assert f"kept thread {tid}: the question is stored already" in " ".join(capsys.readouterr().err.split())
    assert main(["cqa", "add", tid, "--thread", "--answer", "Yes, in the basement.", "--store", store]) == 0
    assert "stored already" in capsys.readouterr().err
    # the question again with another answer: it said "kept ... (its answer is in it)" and the new
    # answer was the one shown from then on
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes, behind the canteen.",
                 "--store", store]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert f"added an answer to thread {tid}, whose question is stored already; accepted" in said
    # an answer added to a thread: not the one shown unless accepted, and said so (it was accepted by
    # default, silently replacing the answer shown); `qa cqa accept` makes it the one shown
    assert main(["cqa", "add", tid, "--thread", "--answer", "Ask at the front desk.", "--store", store]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "not accepted: `qa cqa accept" in said
    aid = said.split("added answer ", 1)[1].split()[0]
    src = CommunityQA(Settings(cqa_store=store), seed=False)
    assert [a.text for a in src.store.thread(tid).answers if a.accepted] == ["Yes, behind the canteen."]
    assert main(["cqa", "accept", tid, aid, "--store", store]) == 0
    assert "the one shown now" in capsys.readouterr().err
    assert [a.text for a in src.store.thread(tid).answers if a.accepted] == ["Ask at the front desk."]
    assert main(["cqa", "accept", tid, "no-such-answer", "--store", store]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # the same answer again with --accepted: it is accepted (it said so, and left the acceptance as it was)
    first = next(a.id for a in src.store.thread(tid).answers if a.text == "Yes, behind the canteen.")
    assert main(["cqa", "add", tid, "--thread", "--answer", "Yes, behind the canteen.", "--accepted",
                 "--store", store]) == 0
    assert "the one shown now" in " ".join(capsys.readouterr().err.split())
    assert [a.id for a in src.store.thread(tid).answers if a.accepted] == [first]
    # a --store with a typo: one line, and no store made (and seeded) there
    for args in (["accept", tid, aid], ["add", tid, "--thread", "--answer", "x"]):
        assert main(["cqa", *args, "--store", str(tmp_path / "typo" / "x.sqlite")]) == 2
        assert "no thread store at" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    src.store.close()
    # a --store that does not exist, asked: a typo made a new store (seeded with trivia) and answered
    assert main(["cqa", "ask", "Is there parking?", "--store", str(tmp_path / "typo" / "x.sqlite")]) == 2
    assert "no thread store at" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    assert main(["cqa", "stats", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "4 threads" in out and "faq:office: 3" in out and "user: 1" in out


def test_show_and_list_print_stored_escape_sequences_as_text(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An answer holding terminal commands (clear the screen, write the clipboard), imported or
    added through the API, was obeyed by `qa cqa show` and `qa cqa list`; `qa ask` showed them."""
    faq = tmp_path / "faq.jsonl"
    faq.write_text(json.dumps({"question": "How do I flush the DNS cache?\x1b[8m hidden",
                               "answer": "Run ipconfig.\x1b[2J\x1b[31mPWNED\x1b]52;c;ZWNobw==\x07"}) + "\n",
                   encoding="utf-8")
    store = str(tmp_path / "threads.sqlite")
    assert main(["cqa", "import", str(faq), "--store", store, "--no-embed"]) == 0
    capsys.readouterr()
    assert main(["cqa", "list", "--store", store]) == 0
    listed = capsys.readouterr().out
    tid = listed.split()[0]
    assert main(["cqa", "show", tid, "--store", store]) == 0
    shown = capsys.readouterr().out
    for out in (listed, shown):
        assert "\x1b" not in out and "\x07" not in out and "\ufffd[8m hidden" in out
    assert "Run ipconfig.\ufffd[2J\ufffd[31mPWNED" in shown
    assert main(["cqa", "show", tid, "--store", store, "--json"]) == 0  # JSON keeps the text as stored
    assert json.loads(capsys.readouterr().out)["answers"][0]["text"].startswith("Run ipconfig.\x1b[2J")


def test_list_show_and_delete_a_wrong_answer_or_thread(tmp_path: Path, faq: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A typo'd answer filed with `qa cqa add` (accepted: the default) stayed the one shown for good,
    and a thread's ids were found only through `qa cqa ask --json`."""
    store = str(tmp_path / "threads.sqlite")
    assert main(["cqa", "import", str(faq), "--store", store]) == 0
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes, in the basment.",
                 "--store", store]) == 0
    capsys.readouterr()
    assert main(["cqa", "list", "--store", store, "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("user:") and "1 answer  Is there parking for bikes?" in lines[0]
    tid = lines[0].split()[0]
    assert main(["cqa", "list", "--store", store, "--source", "faq:office", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and all(r["thread_id"].startswith("faq:office:") and r["answers"] for r in rows)
    assert main(["cqa", "add", tid, "--thread", "--answer", "Yes, in the basement.", "--accepted", "--store",
                 store]) == 0
    capsys.readouterr()
    assert main(["cqa", "show", tid, "--store", store, "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    typo = next(a["answer_id"] for a in answers if "basment" in a["text"])
    assert main(["cqa", "show", tid, "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "Is there parking for bikes?" in shown and typo in shown and "basment" in shown
    assert main(["cqa", "delete", tid, typo, "--store", store]) == 0
    assert f"deleted answer {typo} of {tid}" in capsys.readouterr().err
    # its words are out of the index files beside the store now, not at some later question
    files = [*(tmp_path / "threads.sqlite.index").rglob("*"), *tmp_path.glob("threads.sqlite*")]
    assert not [p for p in files if p.is_file() and b"basment" in p.read_bytes()]
    assert main(["cqa", "delete", tid, typo, "--store", store]) == 2
    assert "has no answer" in capsys.readouterr().err
    from qa.models import shared_encoder

    src = CommunityQA(Settings(cqa_store=store), encoder=shared_encoder(Settings()), seed=False)
    top = src.answer("Is there parking for bikes?")[0]
    assert "basement" in (top.best_guess or top).evidence.answer
    assert main(["cqa", "delete", tid, "--store", store]) == 0
    assert "with its 1 answer" in capsys.readouterr().err
    assert all(m.thread.uid != tid for m in src.match("Is there parking for bikes?"))  # gone from the index too
    src.store.close()
    for args, said in ((["delete", tid], "no thread"), (["show", tid], "no thread"),
                       (["list", "--source", "nope"], "no source 'nope' in the store (its sources: faq:office)")):
        assert main(["cqa", *args, "--store", store]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert main(["cqa", "list", "--store", str(tmp_path / "typo.sqlite")]) == 2
    assert "no thread store at" in capsys.readouterr().err and not (tmp_path / "typo.sqlite").exists()
    for args in (["show", "user:\udcff"], ["delete", "user:\udcff"], ["accept", "user:\udcff", "x"]):
        assert main(["cqa", *args, "--store", store]) == 2  # a byte that is no UTF-8 in the id: no traceback
        assert capsys.readouterr().err.strip() == "error: an argument is not valid UTF-8 text"
    assert main(["cqa", "list", "--offset", "99999999999999999999", "--store", store]) == 2
    assert "--offset" in capsys.readouterr().err
    # an import holding the store: refused at once, as `add` and `accept` are, not after 30 s
    import time

    from cqa.store import SEED_META, ThreadStore

    with ThreadStore(store) as importer, importer.transaction():
        t0 = time.perf_counter()
        assert main(["cqa", "delete", "faq:office:" + rows[0]["thread_id"].split(":")[-1], "--store", store]) == 2
        assert time.perf_counter() - t0 < 10 and "being written by another process" in capsys.readouterr().err
    # emptied by hand, a store is not taken for a new one that the seed fills at the next start
    with ThreadStore(tmp_path / "unmarked.sqlite") as s:
        tid = s.add_question("Is there a bike shed?")
        assert s.get_meta(SEED_META) == ""
        s.delete_thread(tid)
        assert s.count() == 0 and s.get_meta(SEED_META) == "skip"


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "threads.sqlite")
    bad = tmp_path / "bad.csv"
    bad.write_text("Question,Answer\nWhat?,\n", encoding="utf-8")
    assert main(["cqa", "import", str(bad), "--store", store, "--no-embed"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "no answer" in err
    # the store the failed import started is not marked "never seed" (it was, for good), and the
    # import that then succeeds marks it: it holds the user's file alone
    from cqa.store import SEED_META, ThreadStore

    with ThreadStore(store) as s:
        assert s.count() == 0 and s.get_meta(SEED_META) == ""
    good = tmp_path / "good.csv"
    good.write_text("Question,Answer\nWhat?,This.\n", encoding="utf-8")
    assert main(["cqa", "import", str(good), "--store", store, "--no-embed"]) == 0
    with ThreadStore(store) as s:
        assert s.count() == 1 and s.get_meta(SEED_META) == "skip"
    capsys.readouterr()
    assert main(["cqa", "import", str(tmp_path / "nope.xml"), "--store", store]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["cqa", "import", str(bad), "--format", "yaml", "--store", store]) == 2
    assert "--format must be one of" in capsys.readouterr().err
    assert main(["cqa", "add", "user:missing", "--thread", "--answer", "x", "--store", store]) == 2
    assert "no thread" in capsys.readouterr().err
    assert main(["cqa", "stats", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert main(["cqa", "train-judge", "--extra", str(tmp_path / "none.xml")]) == 2
    assert "extra training file not found" in capsys.readouterr().err
    assert main(["cqa", "train-judge", "--stack-only", "--once"]) == 2
    assert "--stack-only keeps the installed judge" in capsys.readouterr().err
    wrong = tmp_path / "pairs.csv"  # refused before the training file is read
    wrong.write_text("question,answer\nWhat?,This.\n", encoding="utf-8")
    assert main(["cqa", "train-judge", "--extra", str(wrong), "--train-file", str(bad)]) == 2
    assert "the header must be title,question,answer,label" in capsys.readouterr().err


def test_embed_does_not_create_an_empty_store(tmp_path, capsys) -> None:
    store = tmp_path / "new.sqlite"
    assert main(["cqa", "embed", "--store", str(store)]) == 2
    assert "no thread store" in capsys.readouterr().err and not store.exists()


def test_a_named_judge_that_is_missing_is_an_error_and_an_empty_name_switches_it_off(tmp_path: Path) -> None:
    from qa.core.errors import ModelNotFoundError
    from qa.core.settings import Settings
    from qa.models import shared_judge

    with pytest.raises(ModelNotFoundError, match="answer judge folder not found"):
        shared_judge(Settings.load(cqa_judge_model=str(tmp_path / "none")))
    assert shared_judge(Settings.load(cqa_judge_model="")) is None


def test_a_second_writer_waiting_out_the_busy_timeout_is_one_line_exit_2(tmp_path: Path, faq: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A second `qa cqa import` or `qa cqa embed` behind a running import printed a traceback
    (sqlite3.OperationalError: database is locked) after 30 s and exited 1."""
    import sqlite3
    import time

    from cqa.store import ThreadStore

    monkeypatch.setattr("cqa.store.BUSY_TIMEOUT_MS", 200)
    store = tmp_path / "s.sqlite"
    assert main(["cqa", "import", str(faq), "--no-embed", "--store", str(store)]) == 0
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"question": "Is there parking for bikes?", "answer": "Yes, in the basement."}) + "\n",
                    encoding="utf-8")
    capsys.readouterr()
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the running import's one transaction
    try:
        for args in (["import", str(more), "--no-embed"], ["embed"]):
            started = time.perf_counter()
            assert main(["cqa", *args, "--store", str(store)]) == 2, args
            err = capsys.readouterr().err  # beside the progress bar it started
            lines = [x for x in err.splitlines() if x.startswith("error:")]
            assert len(lines) == 1 and "Traceback" not in err, err
            assert f"the thread store {Path(store).name} is being written by another process" in lines[0]
            assert "try again when it finishes" in lines[0] and time.perf_counter() - started < 20
            if args[0] == "import":  # it waited the half minute in silence
                assert "another process is writing s.sqlite (an import?): waiting up to 0.2 s" in err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert main(["cqa", "import", str(more), "--no-embed", "--store", str(store)]) == 0
    assert main(["cqa", "embed", "--store", str(store)]) == 0
    s = ThreadStore(store)
    assert s.count() == 4 and s.count_unembedded() == 0 and s.integrity_ok()


def test_a_blank_source_or_store_path_is_one_line_exit_2(tmp_path: Path, faq: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["cqa", "import", str(faq), "--source", "   ", "--store", str(tmp_path / "t.sqlite")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: the source name '' has no letter or digit"]
    monkeypatch.setenv("QA_CQA_STORE", "")
    assert main(["cqa", "stats"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "QA_CQA_STORE" in lines[0] and "is empty" in lines[0]


def _tiny_semeval(path: Path, questions: int = 10) -> Path:
    """A SemEval-2016 training file small enough to train a judge on in seconds (one thread of four
    comments a new question; a Good answer names what the question asks about)."""
    topics = ["bank", "visa", "school", "car", "rent", "phone", "doctor", "flight", "beach", "job", "mall", "salary"]
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<xml>']
    for q in range(questions):
        topic = topics[q % len(topics)]
        parts.append(f'<OrgQuestion ORGQ_ID="Q{q}"><OrgQSubject>{topic} {q}</OrgQSubject><OrgQBody>Which {topic} '
                     f'in Doha?</OrgQBody><Thread THREAD_SEQUENCE="Q{q}_R1"><RelQuestion RELQ_ID="Q{q}_R1" '
                     f'RELQ_USERNAME="asker{q}" RELQ_RELEVANCE2ORGQ="PerfectMatch"><RelQSubject>best {topic} {q}'
                     f'</RelQSubject><RelQBody>Where is a good {topic} here, number {q}?</RelQBody></RelQuestion>')
        for c, (text, label) in enumerate([(f"The {topic} near the Corniche, ask for Ahmed ({q})", "Good"),
                                           (f"lol {q}", "Bad"), (f"thanks for asking {q}", "Bad"),
                                           (f"Try the {topic} in West Bay, open till 9 ({q})", "Good")]):
            parts.append(f'<RelComment RELC_ID="Q{q}_R1_C{c + 1}" RELC_USERNAME="u{c}" '
                         f'RELC_RELEVANCE2RELQ="{label}"><RelCText>{text}</RelCText></RelComment>')
        parts.append("</Thread></OrgQuestion>")
    path.write_text("".join(parts) + "</xml>\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("with_extra", [False, True])
def test_train_judge_once_installs_the_judge_that_scored_the_held_out_fold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], with_extra: bool) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    train = _tiny_semeval(tmp_path / "tiny-train.xml")
    more = tmp_path / "more.csv"
    more.write_text("title,question,answer,label\nquiet laundry zx81,Which laundry?,The one on C Ring Road,Good\n"
                    "quiet laundry zx81,Which laundry?,no idea,Bad\n", encoding="utf-8")
    out, stack = tmp_path / "judge", tmp_path / "stack.json"
    args = ["cqa", "train-judge", "--train-file", str(train), "--once", "--epochs", "0.5", "--out", str(out),
            "--stack-out", str(stack)] + (["--extra", str(more)] if with_extra else [])
    assert main(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    meta = json.loads((out / "judge.json").read_text(encoding="utf-8"))["meta"]
    assert meta["once"] is True and json.loads(stack.read_text(encoding="utf-8"))["features"] == ["answer", "judge"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "all but the held-out fifth" in card
    if with_extra:
        assert meta["extra"]["comments"] == 2 and "extra: 2 comments of 1 threads from 1 file(s)" in err
        assert "2 labelled comments of 1 threads (`more.csv`" in card
    else:
        assert "extra" not in meta and "extra:" not in err
    assert not list(out.parent.glob("judge-*")), "the temporary folder is gone"
    if not with_extra:  # --limit is a dry run: the installed judge (the setting's) and the combination stay
        from cqa.matcher import ANSWER_STACK

        monkeypatch.setenv("QA_CQA_JUDGE_MODEL", str(out))
        before = {p: p.stat().st_mtime_ns for p in [*out.iterdir(), ANSWER_STACK]}
        assert main(["cqa", "train-judge", "--train-file", str(train), "--epochs", "0.5", "--limit", "150"]) == 0, \
            capsys.readouterr().err
        assert "a dry run beside the judge in" in " ".join(capsys.readouterr().err.split())
        assert {p: p.stat().st_mtime_ns for p in [*out.iterdir(), ANSWER_STACK]} == before


def test_two_faq_files_of_one_name_are_not_taken_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """hr/faq.csv and it/faq.csv are both the source faq:faq by their names: the second was taken
    for a new version of the first and replaced its threads (with --prune, deleted them)."""
    store = str(tmp_path / "threads.sqlite")
    for team, q in (("hr", "How many vacation days do I get?"), ("it", "How do I reset my password?")):
        (tmp_path / team).mkdir()
        (tmp_path / team / "faq.csv").write_text(f"id,question,answer\n1,{q},Ask {team}.\n", encoding="utf-8")
    assert main(["cqa", "import", str(tmp_path / "hr" / "faq.csv"), "--store", store, "--no-embed"]) == 0
    capsys.readouterr()
    assert main(["cqa", "import", str(tmp_path / "it" / "faq.csv"), "--store", store, "--no-embed"]) == 2
    err = capsys.readouterr().err
    assert "holds the FAQ imported from" in err and "--source" in err and len(err.strip().splitlines()) == 1
    # the same file again is its new version, as before; another name for the second file keeps both
    assert main(["cqa", "import", str(tmp_path / "hr" / "faq.csv"), "--store", store, "--no-embed"]) == 0
    assert main(["cqa", "import", str(tmp_path / "it" / "faq.csv"), "--source", "faq:it", "--store", store,
                 "--no-embed"]) == 0
    capsys.readouterr()
    assert main(["cqa", "stats", "--store", store]) == 0
    assert "2 threads" in capsys.readouterr().out


def test_a_ctrl_c_while_an_import_embeds_says_the_import_is_stored(tmp_path: Path, faq: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """"interrupted: stopped before finishing" after the import had committed: the user could not
    tell whether to import again or to embed."""
    from cqa.store import ThreadStore

    def interrupted(source):
        raise KeyboardInterrupt  # a Ctrl-C in the embedding, after the import's commit

    monkeypatch.setattr("qa.commands.cqa._embed", interrupted)
    store = tmp_path / "s.sqlite"
    assert main(["cqa", "import", str(faq), "--store", str(store)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: the import is stored, its embedding not finished: `qa cqa embed`" in err
    with ThreadStore(store) as s:
        assert s.count() == 3


def test_add_says_what_it_did_whatever_other_processes_do_meanwhile(tmp_path: Path, faq: Path, capsys,
                                                                     monkeypatch) -> None:
    """It told "added" from "kept" by the store's thread count before and after: a deletion by
    another process between the two made a new question "stored already"."""
    from cqa.matcher import CommunityQA

    store = str(tmp_path / "threads.sqlite")
    assert main(["cqa", "import", str(faq), "--store", store, "--no-embed"]) == 0
    real = CommunityQA.add_question

    def beside_a_deletion(self, *args, **kwargs):
        tid = real(self, *args, **kwargs)
        other = next(t for t in self.store.newest(10) if t.uid != tid)
        self.store.delete_thread(other.uid)  # as `qa cqa delete` in another terminal
        return tid

    monkeypatch.setattr(CommunityQA, "add_question", beside_a_deletion)
    capsys.readouterr()
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes.", "--store", store]) == 0
    assert "added thread user:" in capsys.readouterr().err
    assert main(["cqa", "add", "Is there parking for bikes?", "--answer", "Yes.", "--store", store]) == 0
    assert "the question is stored already (its answer is in it)" in " ".join(capsys.readouterr().err.split())


def test_an_import_beside_a_seeding_does_not_take_the_seeded_store_for_its_own(tmp_path: Path, faq: Path) -> None:
    """The import looked at the store, then marked it its own: a seeding that committed in between
    left the store both seeded and marked "never seed", as if it held the file alone."""
    import sqlite3
    import threading

    from cqa.store import SEED_META, ThreadStore

    path = tmp_path / "threads.sqlite"
    ThreadStore(path).close()
    seeding = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    seeding.execute("BEGIN IMMEDIATE")  # the seed's transaction, under way as the import starts
    seeding.execute("INSERT INTO meta(name, value) VALUES (?, 'done')", (SEED_META,))
    threading.Timer(1.0, lambda: seeding.execute("COMMIT")).start()
    try:
        assert main(["cqa", "import", str(faq), "--store", str(path), "--no-embed"]) == 0
    finally:
        seeding.close()
    with ThreadStore(path) as s:
        assert s.get_meta(SEED_META) == "done"


def test_an_faq_piped_in_twice_is_the_same_faq(tmp_path: Path) -> None:
    """The second import through /dev/stdin was refused as "another file", naming the first one's
    pipe (/proc/PID/fd/pipe:[N]) and a --source that was the default already."""
    import os
    import subprocess
    import sys

    from qa.core.paths import REPO_ROOT

    faq = '[{"question": "When are you open?", "answer": "9 to 5"}]'
    command = [sys.executable, "-c", "import sys; from qa.cli import main; sys.exit(main(sys.argv[1:]))", "cqa",
               "import", "/dev/stdin", "--format", "faq", "--store", str(tmp_path / "s.sqlite"), "--no-embed"]
    for said in ("1 new thread", "0 new threads (1 read)"):
        done = subprocess.run(command, input=faq.encode(), capture_output=True, cwd=REPO_ROOT, timeout=120,
                              env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0 and said in done.stderr.decode(), done.stderr.decode()


def test_reading_commands_leave_a_file_that_is_no_store_as_it_is(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`qa cqa list --store notes.txt` on an empty file made it a SQLite database, and a pipe named
    as the store was waited on for good."""
    import os

    empty = tmp_path / "notes.txt"
    empty.write_bytes(b"")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for args in (["list"], ["stats"], ["show", "faq:x:1"]):
        assert main(["cqa", *args, "--store", str(empty)]) == 2
        assert "is an empty file, not a thread store" in capsys.readouterr().err
    assert empty.read_bytes() == b""
    assert main(["cqa", "stats", "--store", str(pipe)]) == 2
    assert "not a regular file (a device or a pipe)" in capsys.readouterr().err
