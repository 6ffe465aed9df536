"""Fitting WebQA's answer calibrator (`qa train calibrate-webqa`), on training data only.

The span reader held some SQuAD training articles apart (listed in its `qa_reader.json`); their
questions are asked in the open setting, as a user would: retrieval over a collection of those
articles' paragraphs plus paragraphs of other training articles (so retrieval can fail as it does
on a real collection), then the reader, the merging and the features WebQA computes. Every merged
candidate is labelled right or wrong by SQuAD exact match against the question's answers, and the
logistic model is fitted on them. A fifth of the questions (whole articles' worth, by question)
is kept apart to report the fit's calibration; the saved model is then refitted on all of them.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

from qa.calibration import AnswerCalibrator, auroc, ece
from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.core.text import read_text
from qa.core.types import Encoder


def _held_out_articles(model_dir: Path) -> list[int]:
    try:
        cfg = json.loads((model_dir / "qa_reader.json").read_text(encoding="utf-8"))
        return [int(i) for i in cfg["training"]["held_out_articles"]]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{model_dir}/qa_reader.json lists no held-out training articles: {exc}") from exc


def fit_webqa_calibrator(settings: Settings, train_file: Path, encoder: Encoder, *, out: Path,
                         distractor_articles: int = 40, batch: int = 16, limit: int = 0,
                         log: Callable[[str], None] = print) -> dict:
    from mrc.metrics import normalize_answer
    from qa.webqa import WebQA
    from retrieval.ingest import build_index
    from retrieval.passage import Passage

    doc = json.loads(read_text(train_file))
    articles = doc["data"]
    held = _held_out_articles(Path(settings.span_model))
    rng = random.Random(3)
    others = [i for i in range(len(articles)) if i not in set(held)]
    distractors = rng.sample(others, min(distractor_articles, len(others)))
    passages: list[Passage] = []
    questions: list[tuple[str, list[str]]] = []
    for a in held + distractors:
        art = articles[a]
        title = str(art.get("title", "")).replace("_", " ")
        for p, para in enumerate(art["paragraphs"]):
            passages.append(Passage(id=f"{a}-{p}", text=para["context"], title=title, source=f"squad-train:{a}-{p}"))
            if a in held:
                questions.extend((qa["question"], [x["text"] for x in qa["answers"]]) for qa in para["qas"])
    if limit:
        questions = questions[:limit]
    log(f"collection: {len(passages):,} training paragraphs ({len(held)} held-out articles + "
        f"{len(distractors)} others); {len(questions):,} held-out questions")
    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    qid: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_index(passages, Path(tmp) / "calibration", settings, progress=True,
                             description="encoding paragraphs")
        webqa = WebQA(settings, index_dir=folder, encoder=encoder, calibrator=AnswerCalibrator())
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task("reading held-out questions", total=len(questions))
            for start in range(0, len(questions), batch):
                chunk = questions[start : start + batch]
                hits = [webqa.collections.search(q, settings.read_k) for q, _ in chunk]
                cands = webqa.candidates_batch([q for q, _ in chunk], hits)
                for j, ((_, golds), cs) in enumerate(zip(chunk, cands, strict=True)):
                    gold = {normalize_answer(g) for g in golds}
                    for a, feats, _ in cs[:5]:
                        rows.append(feats)
                        labels.append(normalize_answer(a.text) in gold)
                        qid.append(start + j)
                bar.advance(task, len(chunk))
        webqa.collections.close()
    if len(set(labels)) < 2:
        raise InputError("calibration needs both right and wrong answers; use more questions")
    n_q = len(questions)
    cut = int(n_q * 0.8)
    train_idx = [i for i, q in enumerate(qid) if q < cut]
    test_q = sorted({q for q in qid if q >= cut})
    cal = AnswerCalibrator().fit([rows[i] for i in train_idx], [labels[i] for i in train_idx])
    top_scores, top_right = [], []
    for q in test_q:
        idx = [i for i, x in enumerate(qid) if x == q]
        probs = cal.probabilities([rows[i] for i in idx])
        best = int(probs.argmax())
        top_scores.append(float(probs[best]))
        top_right.append(labels[idx[best]])
    report = {"held_out_questions": len(test_q), "top_em": round(100 * sum(top_right) / max(1, len(top_right)), 2),
              "ece": round(ece(top_scores, top_right), 4), "auroc": round(auroc(top_scores, top_right), 4)}
    log(f"check on the last fifth of the questions (top answer): {report}")
    final = AnswerCalibrator().fit(rows, labels)
    final.meta = {
        "fitted_on": f"SQuAD v1.0 train: the span reader's {len(held)} held-out articles' questions "
                     f"({n_q}), open retrieval over {len(passages)} training paragraphs; never dev",
        "reader": str(settings.span_model), "reader_backend": str(settings.span_backend),
        "read_k": settings.read_k, "candidates": len(rows), "check": report,
    }
    final.save(out)
    log(f"wrote {out}")
    return final.meta
