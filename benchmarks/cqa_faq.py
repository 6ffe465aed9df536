"""cqa-faq: community QA over an FAQ of one-line questions that differ in a word or a name.

SemEval's forum threads are long and their relevance loose; an FAQ is the other case, the one
users of FAQ matchers report "always confident": short questions, many alike. PathQuestion gives
such questions with paraphrases: every question of a relation path ("which nationality is X's
couple?", "what is the nation of X's couple?") asks the same, and questions of other paths ask
about other people or other relations in the same words. The topic entity, an id in the data
("frederica_of_mecklenburg-strelitz"), is written as a user would write the name ("Frederica of
Mecklenburg-Strelitz").

An FAQ store holds one question of each of 70 % of the paths (seed 0) with its answer. Asked: another
question of each stored path (answerable: the right match is that path's entry) and one question
of each path left out (unanswerable: every match is wrong). None of this data trains anything of
community QA (the re-scorer is SemEval's; the question judge, which reads two one-line questions
together, is trained on SQuAD's training questions (v1.0), never on dev or PathQuestion).

Reported: P@1 on the answerable questions; how many of each kind are answered (shown score at
least `cqa_min_score`) and how many of those are wrong; ECE (15 bins) and AUROC of the top match's
score against its being right, over all asked; how many top matches were held down as another
question, and for how many questions the right entry was among the matches held down (wrongly);
how often the store says it holds the question itself, so that the engine asks it before any other
source (`CommunityQA.holds`), and how often it is then wrong.

A second FAQ is written by people: SQuAD v1.1 dev questions (crowd workers' questions about 48
Wikipedia articles; each article's questions share its names and words, "When was the Eiffel Tower
built?" beside "Who built the Eiffel Tower?"). Half of each article's questions are stored with
their answer (seed 0); up to 2,000 of the others are asked (not those stored word for word). A match
is right where the stored question asks about the same paragraph and its answer span overlaps the
asked question's: people asking for the same fact twice. Most asked questions have no right entry,
so what counts is how many get an answer anyway, and how many of the answers given are wrong
(`squad_` metrics). What the question judge costs: 300 of the SQuAD FAQ's questions matched by a
source with it and one without, alternately, p50 ms of each (`squad_match_p50_ms_*`).

    python benchmarks/cqa_faq.py [--paths N] [--squad N] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import find_data, open_text, write_results  # noqa: E402
from qa.core import measures  # noqa: E402
from qa.core.paths import SHARED_DATA  # noqa: E402

SQUAD_DEV = SHARED_DATA / "mrc" / "squad-v1.1-dev.json.gz"
SQUAD_STORED_SHARE = 0.5
JUDGE_COST_QUESTIONS = 300  # SQuAD FAQ questions matched with and without the question judge, alternately

DATA = SHARED_DATA / "kbqa" / "pathquestion"
SETS = ("PQ-2H", "PQ-3H", "PQL-2H", "PQL-3H")
STORED_SHARE = 0.7
_ROMAN = re.compile(r"^(?:ii|iii|iv|vi|vii|viii|ix|xi|xii|xiii|xiv|xv|xvi|xvii|xviii)$")
_LOWER = frozenset("of the and de da di von van la le du der del in on at for to".split())


def written_name(entity_id: str) -> str:
    """"john_campbell_9th_duke_of_argyll" -> "John Campbell 9th Duke of Argyll"; "james_ii_of_england"
    -> "James II of England"; "john_c_calhoun" -> "John C. Calhoun"."""
    out = []
    for i, w in enumerate(entity_id.split("_")):
        if i and w in _LOWER:
            out.append(w)
        elif _ROMAN.match(w):
            out.append(w.upper())
        elif len(w) == 1 and w.isalpha():  # an initial ("John A. Roebling"); "I" a numeral or the pronoun
            out.append(w.upper() + ("" if w in "ivxa" else "."))
        else:
            out.append("-".join(p[:1].upper() + p[1:] for p in w.split("-")))
    return " ".join(out)


def as_typed(question: str, entity_id: str) -> str:
    q = re.sub(r"(?<!\S)" + re.escape(entity_id) + r"(?!\S)", written_name(entity_id), question.strip())
    q = q.replace(" 's", "'s").replace(" ?", "?")
    return q[:1].upper() + q[1:]


def path_groups(sets: tuple[str, ...]) -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Questions by what they ask, the topic entity and the relations followed from it (the data's
    path also names the entities passed through and one of the answers: questions of one topic
    and relations with several answers ask the same): (question as typed, answer)."""
    groups: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for name in sets:
        with open_text(DATA / f"{name}.txt.xz") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3:
                    continue
                steps = parts[2].split("#")
                topic, relations = steps[0], [r for r in steps[1::2] if r != "<end>"]
                answer = parts[1].split("(")[0].replace("_", " ")
                groups[(topic, *relations)].append((as_typed(parts[0], topic), answer))
    return groups


def ask_faq(entries: list[tuple[str, str]], asked: list[tuple[str, frozenset[int]]], label: str,
            settings_dir: Path) -> list[dict]:
    """A store of FAQ `entries` (question, answer; entry n has id n), each asked question matched
    against it; `asked` gives each question the ids of the entries that answer it (none: no right
    match). One row per asked question."""
    from cqa.matcher import CommunityQA
    from qa.core.settings import Settings
    from qa.models import shared_encoder, shared_question_judge

    settings = Settings.load(cqa_store=str(settings_dir / f"{label}.sqlite"), cqa_seed=False)
    # as the engine builds it (`qa.engine`): the question judge, when installed, reads one-line matches
    source = CommunityQA(settings, encoder=shared_encoder(settings), question_judge=shared_question_judge(settings))
    faq = settings_dir / f"{label}.jsonl"
    with faq.open("w", encoding="utf-8") as fh:
        for n, (question, answer) in enumerate(entries):
            fh.write(json.dumps({"id": str(n), "question": question, "answer": answer}) + "\n")
    source.import_file(faq)  # stored, then embedded and indexed
    rows = []
    for i, (question, right_ids) in enumerate(asked):
        matches = source.match(question)
        top = matches[0] if matches else None
        right = top is not None and int(top.thread.ext_id) in right_ids
        right_held = any(m.caveat is not None and int(m.thread.ext_id) in right_ids for m in matches)
        held = source.holds(question)
        rows.append({"question": question, "answerable": bool(right_ids), "matched": top.thread.title if top else None,
                     "score": top.probability if top else 0.0, "right": right,
                     "caveat": top.caveat if top else None, "right_held_down": right_held,
                     "asked_first": held >= settings.router_min_score})
        if i % 500 == 0:
            print(f"{label}: asked {i}/{len(asked)}", file=sys.stderr)
    return rows


def judge_cost(label: str, settings_dir: Path, questions: list[str]) -> dict[str, float]:
    """What the question judge costs a question: the same questions matched over the store
    `ask_faq` built, by a source with the judge and one without, one after the other for each
    question (each source with its own cache), p50 ms of each."""
    import statistics

    from cqa.matcher import CommunityQA
    from qa.core.settings import Settings
    from qa.models import shared_encoder, shared_question_judge

    settings = Settings.load(cqa_store=str(settings_dir / f"{label}.sqlite"), cqa_seed=False)
    judged = CommunityQA(settings, encoder=shared_encoder(settings), question_judge=shared_question_judge(settings))
    plain = CommunityQA(settings, encoder=shared_encoder(settings))
    times: dict[str, list[float]] = {"with": [], "without": []}
    for i, question in enumerate(questions):
        for name, source in (("with", judged), ("without", plain)) if i % 2 else (("without", plain),
                                                                                  ("with", judged)):
            t0 = time.perf_counter()
            source.match(question)
            times[name].append(1000 * (time.perf_counter() - t0))
    # the first of each is a warm-up (the judge's ONNX session starts on it)
    return {f"match_p50_ms_{k}_question_judge": round(statistics.median(v[1:] or v), 1)
            for k, v in times.items() if v}


def faq_metrics(rows: list[dict], floor: float) -> dict[str, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if r["score"] >= floor]
    scores, right = [r["score"] for r in rows], [r["right"] for r in rows]
    return {
        "p@1_answerable": 100 * sum(r["right"] for r in answerable) / max(1, len(answerable)),
        "answered_pct_answerable": 100 * sum(r["score"] >= floor for r in answerable) / max(1, len(answerable)),
        "answered_right_pct_answerable": 100 * sum(r["score"] >= floor and r["right"] for r in answerable)
        / max(1, len(answerable)),
        "answered_pct_unanswerable": 100 * sum(r["score"] >= floor for r in unanswerable) / max(1, len(unanswerable)),
        "wrong_pct_of_answered": 100 * sum(not r["right"] for r in answered) / max(1, len(answered)),
        "ece": measures.ece(scores, right),
        "auroc": measures.auroc(scores, right) if 0 < sum(right) < len(right) else None,
        "held_down_pct": 100 * sum(r["caveat"] is not None for r in rows) / max(1, len(rows)),
        "right_match_held_down": sum(r["right_held_down"] for r in rows),
        "asked_first_pct_answerable": 100 * sum(r["asked_first"] for r in answerable) / max(1, len(answerable)),
        "asked_first_pct_unanswerable": 100 * sum(r["asked_first"] for r in unanswerable) / max(1, len(unanswerable)),
        "asked_first_wrong": sum(r["asked_first"] and not r["right"] for r in rows),
        "answerable_questions": len(answerable),
        "unanswerable_questions": len(unanswerable),
    }


def pathquestion_faq(n_paths: int) -> tuple[list[tuple[str, str]], list[tuple[str, frozenset[int]]]]:
    groups = path_groups(SETS)
    rng = random.Random(0)
    keys = sorted(k for k, g in groups.items() if len({q for q, _ in g}) >= 2)
    rng.shuffle(keys)
    keys = keys[:n_paths]
    stored = keys[:int(len(keys) * STORED_SHARE)]
    entry = {k: n for n, k in enumerate(stored)}
    stored_texts = {groups[k][0][0] for k in stored}
    asked = []
    for k in keys:
        # another wording than any stored question's (a question stored word for word is no test)
        wordings = [q for q, _ in groups[k] if q not in stored_texts]
        if wordings:
            asked.append((wordings[rng.randrange(len(wordings))], frozenset({entry[k]} if k in entry else ())))
    return [groups[k][0] for k in stored], asked


def same_fact(stored, asked) -> bool:
    """Whether a stored SQuAD question asks for the asked one's answer: the same paragraph and an
    answer span overlapping one of the asked question's (two questions whose answers are the same
    words by chance, "two" or "Denver Broncos", ask different things)."""
    if stored.context != asked.context:
        return False
    s0, s1 = stored.answer_starts[0], stored.answer_starts[0] + len(stored.answers[0])
    return any(start < s1 and s0 < start + len(text) for text, start in zip(asked.answers, asked.answer_starts,
                                                                              strict=True))


def squad_faq(n_asked: int) -> tuple[list[tuple[str, str]], list[tuple[str, frozenset[int]]]]:
    from mrc.datasets import load_squad

    by_article: dict[str, list] = defaultdict(list)
    for ex in load_squad(SQUAD_DEV).examples:
        by_article[ex.title].append(ex)
    rng = random.Random(0)
    entries: list[tuple[str, str]] = []
    asked = []
    for title in sorted(by_article):
        examples = sorted(by_article[title], key=lambda e: e.qid)
        rng.shuffle(examples)
        cut = int(len(examples) * SQUAD_STORED_SHARE)
        first = len(entries)
        entries += [(e.question.strip(), e.answers[0]) for e in examples[:cut]]
        stored = {e.question.strip() for e in examples[:cut]}
        for e in examples[cut:]:
            if e.question.strip() in stored:
                continue  # a question stored word for word is no test
            right = frozenset(first + n for n, s in enumerate(examples[:cut]) if same_fact(s, e))
            asked.append((e.question.strip(), right))
    rng.shuffle(asked)
    return entries, asked[:n_asked]


def intent_faq(train_csv: Path, test_csv: Path, n_asked: int | None
               ) -> tuple[list[tuple[str, str]], list[tuple[str, frozenset[int]]]]:
    """An FAQ of a help desk's intents (an intent data set's train and test CSVs, `text,category`):
    70 % of the intents (seed 0) stored as one entry each, a question of its training part written
    as an FAQ's author writes it; the test part asked, a question of a stored intent right on its
    entry, one of the others on none."""
    from cqa.question_training import as_entry, load_grouped

    train: dict[str, list[str]] = defaultdict(list)
    for q in load_grouped(train_csv):
        train[q.group].append(q.question)
    rng = random.Random(0)
    intents = sorted(train)
    rng.shuffle(intents)
    entries: list[tuple[str, str]] = []
    entry_of: dict[str, int] = {}
    for intent in intents[:int(len(intents) * STORED_SHARE)]:
        qs = list(train[intent])
        rng.shuffle(qs)
        asking = [q for q in qs if q.endswith("?")] or qs
        entry_of[intent] = len(entries)
        entries.append((as_entry(asking[0]), intent.replace("_", " ")))
    asked = [(q.question, frozenset({entry_of[q.group]} if q.group in entry_of else ()))
             for q in load_grouped(test_csv)]
    rng.shuffle(asked)
    return entries, asked[:n_asked]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=int, default=3000, help="relation paths drawn (each with two or more questions)")
    ap.add_argument("--squad", type=int, default=2000, help="SQuAD questions asked of the SQuAD FAQ")
    ap.add_argument("--intents", type=Path, nargs=2, metavar=("TRAIN_CSV", "TEST_CSV"), default=None,
                    help="a third FAQ, of a help desk's intents (Banking77's banking_data/train.csv and test.csv)")
    ap.add_argument("--limit", type=int, default=None, help="a quick look: this many of each, nothing written")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: results/cqa-faq.json)")
    args = ap.parse_args(argv)
    for f in args.intents or ():  # found now, not after the two other FAQs' minutes
        if not f.is_file():
            sys.exit(f"--intents: file not found: {f}")
    for needed in [*(DATA / f"{name}.txt.xz" for name in SETS), SQUAD_DEV]:  # the shared data, checked first
        find_data(str(Path(needed).relative_to(SHARED_DATA)))
    from qa.core.settings import Settings

    t0 = time.perf_counter()
    floor = Settings.load().cqa_min_score
    with tempfile.TemporaryDirectory() as tmp:
        pq_entries, pq_asked = pathquestion_faq(args.limit or args.paths)
        pq = ask_faq(pq_entries, pq_asked, "pathquestion", Path(tmp))
        sq_entries, sq_asked = squad_faq(args.limit or args.squad)
        sq = ask_faq(sq_entries, sq_asked, "squad", Path(tmp))
        cost = judge_cost("squad", Path(tmp), [q for q, _ in sq_asked[:JUDGE_COST_QUESTIONS]])
        it_entries, it_asked = intent_faq(args.intents[0], args.intents[1], args.limit) if args.intents else ([], [])
        it = ask_faq(it_entries, it_asked, "intents", Path(tmp)) if args.intents else []
    metrics = faq_metrics(pq, floor)
    metrics.update({f"squad_{k}": v for k, v in faq_metrics(sq, floor).items()})
    metrics["squad_stored"] = len(sq_entries)
    metrics.update({f"squad_{k}": v for k, v in cost.items()})
    if it:
        metrics.update({f"intents_{k}": v for k, v in faq_metrics(it, floor).items()})
        metrics["intents_stored"] = len(it_entries)
    print(metrics, file=sys.stderr)
    # examples are printed, not written: the results file holds no text of the data sets (PathQuestion
    # may not be redistributed)
    for rows in (pq, sq, it):
        for r in [r for r in rows if r["score"] >= floor and not r["right"]][:10]:
            print(f"answered wrongly ({r['score']:.2f}): {r['question']!r} -> {r['matched']!r}", file=sys.stderr)
        for r in [r for r in rows if r["caveat"]][:10]:
            print(f"held down: {r['question']!r} -> {r['matched']!r}: {r['caveat']}", file=sys.stderr)
    if not args.limit:
        intents = (f". FAQ of {len(it_entries)} intents of {args.intents[0].parent.name}/{args.intents[0].name} "
                   f"(70 %), its {args.intents[1].name}'s {len(it)} questions asked") if it else ""
        write_results("cqa-faq", f"FAQ store of {len(pq_entries)} PathQuestion questions ({', '.join(SETS)}); "
                      f"{metrics['answerable_questions']} paraphrases of stored questions and "
                      f"{metrics['unanswerable_questions']} questions of paths not stored asked. FAQ store of "
                      f"{len(sq_entries)} SQuAD v1.1 dev questions (half of each article's); {len(sq)} of the others "
                      "asked" + intents, metrics, wall_s=time.perf_counter() - t0, extra={"min_score": floor},
                      out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
