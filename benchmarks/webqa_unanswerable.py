"""webqa-unanswerable: what a passage answer's probability says when the passages do not hold the answer.

Every benchmark of passage answers asks questions whose answer the collection holds; a user's
collection is also asked what it does not hold, and a reader finds a fluent span anyway. Every
10th SQuAD v1.1 dev question (1,057), over the squad-open collection (the 2,067 dev paragraphs):

- `in`: as asked (answerable: EM of the top answer, mean shown score, ECE, AUROC);
- `absent`: as asked, with its own article's paragraphs taken out of what is read (the collection
  lacks the article: every answer is wrong);
- `near`: with a year, number or name changed to one its article lacks (`near_miss`, the
  generator `qa train calibrate-webqa` uses on training questions; every answer is wrong);
- `small` and `small_near`: over a collection of three paragraphs, its own and two others of its
  article (a user's own notes are a few documents), as asked and as a near miss.

For each part: how often the top answer is shown at 0.5 or more and at 0.8 or more, its mean score,
and (where some are right) EM, ECE and AUROC. Nothing here is used for fitting: the calibration is
fitted on SQuAD *training* questions. `--compare FILE` scores the same candidates with another
calibrator too (a `systems` entry each), so a refit is compared on the same reads.

    python benchmarks/webqa_unanswerable.py [--compare old-webqa.json ...] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import find_data, open_text, write_results  # noqa: E402
from benchmarks.routed_qa import squad_index  # noqa: E402
from benchmarks.squad_open import DEV  # noqa: E402

STEP = 10  # every 10th dev question
SMALL_EVERY = 5  # of those, every 5th is also asked over a three-paragraph collection
TRAIN = "mrc/squad-v1.0-train.from-explorer.json.xz"  # titles of articles dev lacks, for changed names
PARTS = ("in", "absent", "near", "small", "small_near")


def _rows(limit: int | None) -> list[dict]:
    with open_text(find_data(DEV)) as fh:
        data = json.load(fh)["data"]
    rows = [{"question": qa["question"], "answers": [a["text"] for a in qa["answers"]],
             "title": art["title"].replace("_", " "), "context": para["context"], "article": a, "paragraph": p,
             "others": [q["context"] for j, q in enumerate(art["paragraphs"]) if j != p]}
            for a, art in enumerate(data) for p, para in enumerate(art["paragraphs"]) for qa in para["qas"]][::STEP]
    return rows[:limit] if limit else rows


def _titles(dev_titles: set[str]) -> list[str]:
    with open_text(find_data(TRAIN)) as fh:
        train = json.load(fh)["data"]
    return sorted({a["title"].replace("_", " ") for a in train} - dev_titles)


def _summary(scored: list[tuple[float, float]]) -> dict[str, float]:
    import numpy as np

    from qa.core.measures import auroc, ece

    s = np.array([x for x, _ in scored])
    y = np.array([e for _, e in scored])
    out = {"questions": len(s), "mean_score": round(float(s.mean()), 4),
           "at_least_half_pct": round(100 * float((s >= 0.5).mean()), 2),
           "at_least_0.8_pct": round(100 * float((s >= 0.8).mean()), 2)}
    if y.any():
        out |= {"em": round(100 * float(y.mean()), 2), "ece": round(ece(s, y), 4)}
        if not y.all():
            out["auroc"] = round(auroc(s, y), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    from rich.progress import Progress

    from mrc.metrics import squad_em
    from qa.calibration import AnswerCalibrator
    from qa.calibration_training import near_miss
    from qa.core.settings import Settings
    from qa.models import shared_encoder
    from qa.webqa import WebQA
    from retrieval.ingest import build_index
    from retrieval.passage import Passage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another calibrator (a webqa.json) to score the same candidates with")
    ap.add_argument("--limit", type=int, default=None, help="first N sampled questions (a look: not written)")
    args = ap.parse_args(argv)
    t0 = time.time()
    settings = Settings.load()
    shipped = AnswerCalibrator.load_default(settings)
    calibrators = {"shipped": shipped} | {p.stem: AnswerCalibrator.load(p) for p in args.compare}
    rows = _rows(args.limit)
    titles = _titles({r["title"] for r in rows})
    rng = random.Random(7)
    for r in rows:
        r["near"] = near_miss(r["question"], "\n".join([r["context"], *r["others"]]),
                              [t for t in titles if t != r["title"]], rng)
    encoder = shared_encoder(settings)
    scored: dict[str, dict[str, list[tuple[float, float]]]] = {n: {p: [] for p in PARTS} for n in calibrators}

    def judge(part: str, webqa: WebQA, questions: list[str], golds: list[list[str]], hits: list) -> None:
        for golden, cands in zip(golds, webqa.candidates_batch(questions, hits), strict=True):
            for name, cal in calibrators.items():
                webqa._calibrator = cal  # noqa: SLF001 - the same reads, scored by each calibrator
                top = webqa.decide([(a.model_copy(), f, ab) for a, f, ab in cands])[0]
                a = top.best_guess if top.no_answer else top
                right = squad_em(a.text, golden) if a is not None and golden else 0.0
                scored[name][part].append((a.score if a is not None else 0.0, right))

    with tempfile.TemporaryDirectory() as tmp, Progress() as bar:
        folder = squad_index(settings, Path(tmp))
        webqa = WebQA(settings, index_dir=folder, encoder=encoder, calibrator=shipped)
        k = settings.read_k
        task = bar.add_task("reading", total=len(rows))
        for start in range(0, len(rows), 16):
            chunk = rows[start:start + 16]
            found = [webqa.collections.search(r["question"], 60) for r in chunk]
            judge("in", webqa, [r["question"] for r in chunk], [r["answers"] for r in chunk], [h[:k] for h in found])
            judge("absent", webqa, [r["question"] for r in chunk], [[] for _ in chunk],
                  [[p for p in h if p.title != r["title"]][:k] for h, r in zip(found, chunk, strict=True)])
            near = [r for r in chunk if r["near"]]
            judge("near", webqa, [r["near"] for r in near], [[] for _ in near],
                  [webqa.collections.search(r["near"], k) for r in near])
            bar.advance(task, len(chunk))
        webqa.collections.close()
        small = rows[::SMALL_EVERY]
        task = bar.add_task("three-paragraph collections", total=len(small))
        for i, r in enumerate(small):
            others = random.Random(i).sample(r["others"], min(2, len(r["others"])))
            passages = [Passage(id=f"p{j}", text=t, title=r["title"], source=f"squad:{r['article']}")
                        for j, t in enumerate([r["context"], *others])]
            mini = WebQA(settings, index_dir=build_index(passages, Path(tmp) / f"small-{i}", settings, progress=False),
                         encoder=encoder, reader=webqa.reader, calibrator=shipped)
            judge("small", mini, [r["question"]], [r["answers"]], [mini.collections.search(r["question"], k)])
            if r["near"]:
                judge("small_near", mini, [r["near"]], [[]], [mini.collections.search(r["near"], k)])
            mini.collections.close()
            bar.advance(task)
    systems = {name: {f"{part}_{key}": v for part in PARTS for key, v in _summary(parts[part]).items()}
               for name, parts in scored.items()}
    metrics = systems["shipped"]
    for part in PARTS:
        print(part, _summary(scored["shipped"][part]))
    if args.limit:
        print("(--limit: results not written)")
        return 0
    path = write_results("webqa-unanswerable", f"SQuAD v1.1 dev, every {STEP}th question, over squad-open", metrics,
                         wall_s=time.time() - t0, systems=systems if len(systems) > 1 else None,
                         extra={"calibrator": shipped.meta.get("fitted_on", ""),
                                "compared": {p.stem: str(p) for p in args.compare}})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
