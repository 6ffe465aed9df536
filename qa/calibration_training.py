"""Fitting WebQA's answer calibrator (`qa train calibrate-webqa`), on training data only.

The span reader held some SQuAD training articles apart (listed in its `qa_reader.json`); their
questions are asked in the open setting, as a user would: retrieval over a collection of those
articles' paragraphs plus paragraphs of other training articles (so retrieval can fail as it does
on a real collection), then the reader, the merging and the features WebQA computes. Every merged
candidate is labelled right or wrong by SQuAD exact match against the question's answers, and the
logistic model is fitted on them.

A real collection is also asked what it does not hold, and a reader finds a fluent span anyway:
"Who won the 2031 World Cup?" read from the 2026 final was Argentina at 0.84, "Who is the release
manager of the Eagle release?" read from notes on the Falcon release its manager at 0.91. So two
kinds of questions the collection cannot answer join the fit, each 15 % as many as the held-out ones:
questions of training articles the collection leaves out, and held-out questions with a year,
number or name changed to one their paragraph lacks (`near_miss`). Every benchmark asks questions
its collection answers, so this lowers the probabilities there a little; it is the price of
scores that also mean something for questions a collection cannot answer.

A fifth of the questions (whole articles' worth, by question) is kept apart to report the fit's
calibration; the saved model is then refitted on all of them.

One correction for the labels: SQuAD training questions have one reference answer, dev and real
use accept several phrasings (44 % of SQuAD v1.1 dev questions have two or more distinct references,
mostly the same answer with wider or narrower boundaries: "1889" / "in 1889" / "March 1889"). An
answer nested in the single reference (or holding it) within two words is therefore labelled 0.5,
"another annotator might have marked exactly this", instead of 0; exact matches are 1. Without this
the probabilities would be fitted to a stricter notion of right than the one they are read against.
The cross-validated figures report both: against the soft labels, and against plain single-reference
exact match (which the scores then over-estimate by design).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qa.calibration import AnswerCalibrator, terms
from qa.core.errors import DataFormatError, InputError
from qa.core.measures import auroc, ece
from qa.core.settings import Settings
from qa.core.text import json_file, parse_json, read_text
from qa.core.types import Encoder

if TYPE_CHECKING:
    from qa.webqa import WebQA
    from retrieval.passage import Passage

# Questions whose answer the collection does not hold, as a share of those whose answer it does:
# a user's collection meets such questions, and without them in the fit a fluent span from a
# passage on a neighbouring topic was shown at 0.8 or more.
ABSENT_SHARE = 0.15
# Questions the collection nearly answers (another year or name than its passage's), likewise.
NEAR_MISS_SHARE = 0.15
# Held-out questions asked again over a small collection of their article's paragraphs (a user's
# own notes are a few documents, not thousands), with near misses and other articles' questions.
SMALL_SHARE = 0.25
_SMALL_SIZES = (1, 2, 4, 8, 16)


def _held_out_articles(model_dir: Path, train_file: Path) -> list[int]:
    """The articles of `train_file` the reader never trained on; another file than the reader's own
    is refused (its article numbers would point at other articles, or past the end: an IndexError)."""
    from mrc.training import file_sha256

    try:
        cfg = json_file(model_dir / "qa_reader.json")
        held = [int(i) for i in cfg["training"]["held_out_articles"]]
        want = cfg["training"].get("train_file_sha256")
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{model_dir}/qa_reader.json lists no held-out training articles: {exc}") from exc
    if want and file_sha256(train_file) != want:
        raise InputError(f"{train_file} is not the file the span reader was trained on (sha256 differs): give that "
                         "file, whose held-out articles it never read")
    return held


def collect_candidates(settings: Settings, train_file: Path, encoder: Encoder, *, distractor_articles: int = 40,
                       absent_share: float = ABSENT_SHARE, near_miss_share: float = NEAR_MISS_SHARE,
                       small_share: float = SMALL_SHARE, batch: int = 16, limit: int = 0,
                       log: Callable[[str], None] = print) -> list[dict]:
    """Ask the held-out questions in the open setting, and questions whose article the collection
    lacks; one record per merged candidate answer (question number, features, right or wrong,
    texts, whether the collection answers the question)."""
    from qa.webqa import WebQA
    from retrieval.ingest import build_index
    from retrieval.passage import Passage

    doc = parse_json(read_text(train_file), str(train_file))
    articles = doc["data"]
    held = _held_out_articles(Path(settings.span_model), train_file)
    if any(not 0 <= i < len(articles) for i in held):
        raise InputError(f"{train_file} has {len(articles):,} articles, fewer than the held-out article numbers of "
                         "the span reader: give the file it was trained on")
    rng = random.Random(3)
    others = [i for i in range(len(articles)) if i not in set(held)]
    distractors = rng.sample(others, min(distractor_articles, len(others)))
    passages: list[Passage] = []
    questions: list[tuple[str, list[str]]] = []
    contexts: list[int] = []  # each held-out question's article
    for a in held + distractors:
        art = articles[a]
        title = str(art.get("title", "")).replace("_", " ")
        for p, para in enumerate(art["paragraphs"]):
            passages.append(Passage(id=f"{a}-{p}", text=para["context"], title=title, source=f"squad-train:{a}-{p}"))
            if a in held:
                questions.extend((qa["question"], [x["text"] for x in qa["answers"]]) for qa in para["qas"])
                contexts.extend(a for _ in para["qas"])
    if limit:
        questions, contexts = questions[:limit], contexts[:limit]
    answerable = len(questions)
    unused = {i for i in range(len(articles))} - set(held) - set(distractors)
    wanted = round(answerable * absent_share)
    absent = _absent_questions(articles, unused, wanted + round(answerable * small_share / 4) + 8, rng)
    absent, small_absent = absent[:wanted], absent[wanted:]
    names = sorted({str(articles[i].get("title", "")).replace("_", " ") for i in unused} - {""})
    texts = {a: "\n".join(p["context"] for p in articles[a]["paragraphs"]) for a in held}
    near = _near_misses([(q, texts[a]) for (q, _), a in zip(questions, contexts, strict=True)], names,
                        round(answerable * near_miss_share), rng)
    questions.extend(absent + near)
    log(f"collection: {len(passages):,} training paragraphs ({len(held)} held-out articles + "
        f"{len(distractors)} others); {answerable:,} held-out questions, {len(absent):,} questions of "
        f"articles it does not hold and {len(near):,} held-out questions with a number or a name changed")
    small = _small_collections(articles, held, names, small_absent, round(answerable * small_share), rng)
    asked_small = sum(len(qs) for _, qs, _ in small)
    if small:
        log(f"and {asked_small:,} questions over {len(small)} small collections of 1 to {max(_SMALL_SIZES)} of the "
            f"held-out articles' paragraphs ({sum(k for _, _, k in small):,} they answer, the rest near misses and "
            "questions of other articles)")
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        from rich.console import Console
        from rich.progress import Progress

        folder = build_index(passages, Path(tmp) / "calibration", settings, progress=True,
                             description="encoding paragraphs")
        webqa = WebQA(settings, index_dir=folder, encoder=encoder, calibrator=AnswerCalibrator())
        with Progress(console=Console(stderr=True)) as bar:
            task = bar.add_task("reading held-out questions", total=len(questions) + asked_small)
            _read(webqa, questions, answerable, 0, records, batch, lambda n: bar.advance(task, n))
            webqa.collections.close()
            first = len(questions)  # question numbers go on across the collections
            for i, (few, asked, answers) in enumerate(small):
                little = build_index(few, Path(tmp) / f"small-{i}", settings, progress=False)
                mini = WebQA(settings, index_dir=little, encoder=encoder, reader=webqa.reader,
                             calibrator=AnswerCalibrator())
                _read(mini, asked, answers, first, records, batch, lambda n: bar.advance(task, n), small=True)
                mini.collections.close()
                first += len(asked)
    return records


def _read(webqa: WebQA, questions: list[tuple[str, list[str]]], answerable: int, first: int, records: list[dict],
          batch: int, advance: Callable[[int], None], *, small: bool = False) -> None:
    """One record per merged candidate (its top five) of each question, numbered from `first`; the
    first `answerable` questions are ones the collection answers."""
    from mrc.metrics import normalize_answer

    for start in range(0, len(questions), batch):
        chunk = questions[start : start + batch]
        hits = [webqa.collections.search(q, webqa.settings.read_k) for q, _ in chunk]
        cands = webqa.candidates_batch([q for q, _ in chunk], hits)
        for j, ((q, golds), cs) in enumerate(zip(chunk, cands, strict=True)):
            gold = {normalize_answer(g) for g in golds}
            for cand, feats, _ in cs[:5]:
                records.append({"q": first + start + j, "features": feats, "right": normalize_answer(cand.text) in gold,
                                "question": q, "answer": cand.text, "golds": golds,
                                "answerable": start + j < answerable} | ({"small": True} if small else {}))
        advance(len(chunk))


def _small_collections(articles: list[dict], held: list[int], names: list[str], absent: list[tuple[str, list[str]]],
                       n: int, rng: random.Random) -> list[tuple[list[Passage], list[tuple[str, list[str]]], int]]:
    """Small collections cut from the held-out articles, as a user's own notes are (1 to 16
    paragraphs), asked about `n` of their questions in all, with near misses of those (half as many)
    and questions of other articles (`absent`, a quarter as many) beside them. Over a large
    collection a near miss's paragraph competes with others and its answer holds a small share of
    the reader's probability; over a few paragraphs it holds all of it, and "Who was the release
    manager of the Eagle release?" over notes on the Falcon release was still shown as its manager,
    with the reader itself preferring no answer. Each item: the passages, the questions (those it
    answers first) and how many it answers."""
    from retrieval.passage import Passage

    chunks: list[tuple[int, list[tuple[int, dict]]]] = []
    for a in held:
        paras = list(enumerate(articles[a]["paragraphs"]))
        rng.shuffle(paras)
        while paras:
            size = rng.choice(_SMALL_SIZES)
            chunks.append((a, paras[:size]))
            paras = paras[size:]
    total = sum(len(para["qas"]) for _, paras in chunks for _, para in paras)
    rate = n / max(total, 1)
    pool = list(absent)
    out: list[tuple[list[Passage], list[tuple[str, list[str]]], int]] = []
    for a, paras in chunks:
        title = str(articles[a].get("title", "")).replace("_", " ")
        few = [Passage(id=f"{a}-{p}", text=para["context"], title=title, source=f"squad-train:{a}-{p}")
               for p, para in paras]
        qas = [(qa["question"], [x["text"] for x in qa["answers"]]) for _, para in paras for qa in para["qas"]]
        k = min(len(qas), int(len(qas) * rate + rng.random()))
        if not k:
            continue
        asked = rng.sample(qas, k)
        text = "\n".join(para["context"] for _, para in paras)
        near = _near_misses([(q, text) for q, _ in asked], names, int(k / 2 + rng.random()), rng)
        others = [pool.pop() for _ in range(min(len(pool), int(k / 4 + rng.random())))]
        out.append((few, asked + near + others, k))
    return out


def _absent_questions(articles: list[dict], unused: set[int], n: int, rng: random.Random,
                      per_article: int = 16) -> list[tuple[str, list[str]]]:
    """`n` questions of training articles the calibration collection leaves out, a few from each of
    many articles (so no one topic stands for "not in the collection"). The reader trained on these
    questions with their own paragraphs, which it does not see here; what it reads instead are
    other articles' paragraphs, as for a user's question that the user's collection cannot answer."""
    pool = sorted(unused)
    rng.shuffle(pool)
    out: list[tuple[str, list[str]]] = []
    for a in pool:
        if len(out) >= n:
            break
        qas = [(qa["question"], [x["text"] for x in qa["answers"]])
               for para in articles[a]["paragraphs"] for qa in para["qas"]]
        out.extend(rng.sample(qas, min(per_article, len(qas), n - len(out))))
    return out


# a number as written ("1,000", "3.5", "1990" before a comma or a full stop), not one inside a word
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?!\w)(?![.,]\d)")
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'-]*)*")


def near_miss(question: str, context: str, names: list[str], rng: random.Random) -> str | None:
    """The question about another year, number or thing than its article speaks of (`context`: the
    article's text), so that its paragraph (still found: the rest of the question matches it) no
    longer answers it: "Who won the 2031 World Cup?" beside a paragraph on the 2026 final. A number
    becomes one the article lacks; else a name it has becomes one of `names` (titles of articles the
    collection does not hold). None when the question has neither. After Gautam, Zhang and Klakow (2023), who
    make unanswerable questions so for training readers; here they teach the probability shown."""
    numbers = [m for m in _NUMBER.finditer(question)]
    if numbers:
        m = rng.choice(numbers)
        digits = m.group().replace(",", "")
        value = float(digits)
        held = terms(context)  # its numbers as written without thousands commas: "1,028" is 1028
        for _ in range(20):
            if "," not in m.group() and "." not in digits and 1000 <= value <= 2100:  # a year: another near it
                new = str(int(value) + rng.choice((-1, 1)) * rng.randint(3, 40))
            elif "." in digits:
                new = f"{value * rng.choice((0.5, 2, 3)) + rng.randint(1, 9):.{len(digits.split('.')[1])}f}"
            else:
                new = str(int(value) * rng.choice((2, 3)) + rng.randint(1, 9))
            if new not in held:
                return question[: m.start()] + new + question[m.end():]
        return None
    found = [m for m in _NAME.finditer(question) if m.group() in context]
    options = [n for n in (re.sub(r"\s*\(.*?\)", "", n).split(",")[0].strip() for n in names)
               if n[:1].isupper() and n not in context and n not in question]
    if not found or not options:
        return None
    m = rng.choice(found)
    end = m.end() - 2 if m.group().endswith("'s") else m.end()
    return question[: m.start()] + rng.choice(options) + question[end:]


def _near_misses(items: list[tuple[str, str]], names: list[str], n: int, rng: random.Random
                 ) -> list[tuple[str, list[str]]]:
    """Up to `n` near misses of held-out questions; no answer is right for them."""
    order = list(range(len(items)))
    rng.shuffle(order)
    out: list[tuple[str, list[str]]] = []
    for i in order:
        if len(out) >= n:
            break
        q = near_miss(*items[i], names, rng)
        if q is not None:
            out.append((q, []))
    return out


def nested_variant(answer: str, golds: list[str], words: int = 2) -> bool:
    """`answer` and a reference are the same span but for up to `words` words at its edges."""
    from mrc.metrics import normalize_answer

    a = normalize_answer(answer).split()
    for g in golds:
        b = normalize_answer(g).split()
        if not a or not b or a == b:
            continue
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        if len(long_) - len(short) <= words and any(
                long_[i : i + len(short)] == short for i in range(len(long_) - len(short) + 1)):
            return True
    return False


def label(record: dict) -> float:
    if record["right"]:
        return 1.0
    return 0.5 if "golds" in record and nested_variant(record["answer"], record["golds"]) else 0.0


def fit_from_records(records: list[dict], *, folds: int = 5, scale_on_answerable: bool = True
                     ) -> tuple[AnswerCalibrator, dict]:
    """The ranking model on every candidate, then Platt scaling of the top answers' out-of-fold
    log-odds (each question's top answer scored by a model that never saw that question).

    The ranking model learns from the questions the collection cannot answer too, so what tells
    them apart (a year or name the passages lack) weighs against an answer; the scaling, with
    `scale_on_answerable`, is fitted on the questions it can answer alone. Fitted on both, the
    probability of every answer carried their share: on SQuAD dev, where every question has its
    answer in the collection, the scores fell about six points under how often they were right."""
    from qa.calibration import platt_fit

    for r in records:
        r["label"] = label(r)
    labels = [r["label"] for r in records]
    if len({r["right"] for r in records}) < 2:
        raise InputError("calibration needs both right and wrong answers; use more questions")
    qids = sorted({r["q"] for r in records})
    fold_of = {q: i % folds for i, q in enumerate(qids)}
    oof_logit: dict[int, float] = {}
    oof_right: dict[int, bool] = {}
    for f in range(folds):
        train = [r for r in records if fold_of[r["q"]] != f]
        model = AnswerCalibrator().fit([r["features"] for r in train], [r["label"] for r in train])
        for q in (q for q in qids if fold_of[q] == f):
            rows = [r for r in records if r["q"] == q]
            z = model.logits([r["features"] for r in rows])
            best = int(z.argmax())
            oof_logit[q], oof_right[q] = float(z[best]), rows[best]["label"]
    zs = [oof_logit[q] for q in qids]
    ys = [oof_right[q] for q in qids]
    inside = {r["q"]: r.get("answerable", True) for r in records}
    scaled = [q for q in qids if inside[q]] if scale_on_answerable and any(inside.values()) else qids
    a, b = platt_fit([oof_logit[q] for q in scaled], [oof_right[q] for q in scaled])
    import numpy as np

    probs = 1 / (1 + np.exp(-(a * np.array(zs) + b)))
    em = [y == 1.0 for y in ys]
    report = {"questions": len(qids), "candidates": len(records), "top_em": round(100 * sum(em) / len(em), 2),
              "top_soft_label": round(100 * sum(ys) / len(ys), 2),
              "cross_validated_ece_soft": round(ece(probs, ys), 4),
              "cross_validated_ece_em": round(ece(probs, em), 4),
              "cross_validated_auroc_em": round(auroc(probs, em), 4)}
    held = [i for i, q in enumerate(qids) if inside[q]]
    unanswerable = [i for i, q in enumerate(qids) if not inside[q]]
    if held and unanswerable:
        # the questions whose article the collection holds (as every benchmark's are), and the others
        report |= {"answerable_questions": len(held),
                   "answerable_top_em": round(100 * sum(em[i] for i in held) / len(held), 2),
                   "answerable_cross_validated_ece_soft": round(ece(probs[held], [ys[i] for i in held]), 4),
                   "answerable_cross_validated_auroc_em": round(auroc(probs[held], [em[i] for i in held]), 4),
                   "unanswerable_questions": len(unanswerable),
                   "unanswerable_top_em": round(100 * sum(em[i] for i in unanswerable) / len(unanswerable), 2),
                   "unanswerable_mean_top_probability": round(float(probs[unanswerable].mean()), 4),
                   "unanswerable_top_at_least_half_pct": round(100 * float((probs[unanswerable] >= 0.5).mean()), 2)}
    small = {r["q"] for r in records if r.get("small")}
    for name, kind in (("small_answerable", True), ("small_unanswerable", False)):
        # the questions asked over a few paragraphs, as a user's notes are (somewhat optimistic: the
        # same question asked over the large collection may sit in another fold)
        at = [i for i, q in enumerate(qids) if q in small and inside[q] == kind]
        if at:
            report |= {f"{name}_questions": len(at), f"{name}_top_em": round(100 * sum(em[i] for i in at) / len(at), 2),
                       f"{name}_mean_top_probability": round(float(probs[at].mean()), 4),
                       f"{name}_top_at_least_half_pct": round(100 * float((probs[at] >= 0.5).mean()), 2)}
            if kind:
                report[f"{name}_cross_validated_ece_soft"] = round(ece(probs[at], [ys[i] for i in at]), 4)
    final = AnswerCalibrator().fit([r["features"] for r in records], labels)
    final.platt = (a, b)
    return final, report


def fit_webqa_calibrator(settings: Settings, train_file: Path, encoder: Encoder, *, out: Path | None,
                         distractor_articles: int = 40, batch: int = 16, limit: int = 0,
                         records_file: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Collect (or reload from `records_file`) the candidates, fit, report, save."""
    from qa.core.atomic import atomic_write_text

    reloaded = records_file is not None and records_file.exists()
    if reloaded:
        assert records_file is not None
        records = [parse_json(line, f"{records_file}:{n}", line_of_file=True)
                   for n, line in enumerate(read_text(records_file).split("\n"), 1) if line.strip()]
        log(f"{len(records):,} candidates reloaded from {records_file}")
    else:
        records = collect_candidates(settings, train_file, encoder, distractor_articles=distractor_articles,
                                     batch=batch, limit=limit, log=log)
        if records_file is not None:
            atomic_write_text(records_file, "".join(json.dumps(r) + "\n" for r in records))
    try:
        final, report = fit_from_records(records)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        if not reloaded:
            raise
        raise DataFormatError(f"{records_file} is not a file of candidates written by --records "
                              f"({type(exc).__name__}: {exc})") from None
    log(f"cross-validated on the held-out questions (top answer): {report}")
    final.meta = {
        "fitted_on": f"SQuAD v1.0 train: the span reader's held-out articles' questions "
                     f"({report.get('answerable_questions', report['questions'])}), open retrieval over those "
                     "articles' paragraphs and 40 other training articles'; and "
                     f"{report.get('unanswerable_questions', 0)} questions the collection cannot answer (of articles "
                     "it lacks, or held-out ones with a year, number or name changed); "
                     f"{report.get('small_answerable_questions', 0) + report.get('small_unanswerable_questions', 0)} "
                     "of all these asked over small collections of 1 to 16 held-out paragraphs; scaled on the "
                     "answerable ones; never dev",
        "reader": str(settings.span_model), "reader_backend": str(settings.span_backend),
        "read_k": settings.read_k, "fusion_method": str(settings.fusion_method),
        "retrieve_k": settings.retrieve_k, "check": report,
    }
    if out is None:
        log("a quick look: nothing written (give --out to keep this fit)")
        return final.meta
    final.save(out)
    log(f"wrote {out}")
    return final.meta
