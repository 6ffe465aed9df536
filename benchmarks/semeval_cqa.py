"""semeval-cqa: SemEval-2016 Task 3 (English, Qatar Living) dev, the community-QA source's two jobs.

Subtask B (question-question similarity): each of the 50 dev new questions re-ranks its 10 related
threads; MAP, MRR and P@1 as the official scorer computes them (every question counts; the seven
dev questions without any relevant thread score 0, so 86 is the ceiling). Systems side by side:
BM25 alone (over the dev store), dense alone (all-MiniLM-L6-v2 over title + body), the two fused
(reciprocal rank), and the final re-scorer. The search engine's own order (`ir`, the official
baseline) is shown for reference; it is never a feature.

Subtask A (answer selection): each related thread's 10 comments ranked as the source ranks them
(the answer-quality model combined with the answer judge), MAP over the threads the official
scoring keeps (those not repeating a training thread); beside it the ranking without the judge.
Also as BENCHMARKS.md words it, "for the top thread": the same ranking over each new question's
top related thread only (the thread whose best answer a user is shown; 50 threads, so a few points
of sampling noise), with and without the top threads that repeat a train-part2 thread.

Also: calibration of the re-scorer's probability (per pair and per question's top match), and
the source as users meet it: each dev new question asked over the whole dev store (500 threads).
Models are trained on train-part2 (`qa cqa train`, `qa cqa train-judge`); the answer judge may
also have read labelled comments of other SemEval parts (`train-judge --extra`, stated in the
results' `model`), never a thread that repeats a dev thread; nothing here is fitted on dev.

    python benchmarks/semeval_cqa.py            # full dev
    python benchmarks/semeval_cqa.py --limit 10 # a quick look (results/semeval-cqa-limit.json)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, Timer, write_results  # noqa: E402

ECE_TARGET = 0.05  # the community-QA calibration target of the project (ECE of the top match)


def judge_note(judge) -> str:
    """The judge's name, and what it read beside train-part2 (from its judge.json)."""
    import json

    if judge is None:
        return "(none installed)"
    try:
        meta = json.loads((Path(judge.model_dir) / "judge.json").read_text(encoding="utf-8")).get("meta", {})
    except (OSError, ValueError):
        meta = {}
    more = meta.get("extra")
    if not more:
        return judge.name
    dev = "none repeating a dev thread" if more.get("dev_checked") else "NOT checked against dev"
    return f"{judge.name} (also {more['comments']:,} labelled comments of {', '.join(more['files'])}, {dev})"


def _latencies(source, questions) -> tuple[float, float]:
    """p50 and p95 milliseconds of `source.answer` over the questions (after one warm-up call)."""
    import time

    import numpy as np

    source.answer(questions[0].text)
    ms = []
    for q in questions:
        t = time.perf_counter()
        source.answer(q.text)
        ms.append(1000 * (time.perf_counter() - t))
    return round(float(np.percentile(ms, 50)), 1), round(float(np.percentile(ms, 95)), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="Only the first N dev new questions.")
    parser.add_argument("--dev-file", type=Path, default=None)
    args = parser.parse_args(argv)


    from cqa.evaluation import calibration_pairs, gold_threads
    from cqa.training import (
        DEFAULT_DEV,
        answer_rows,
        pair_rows,
        rank_by,
        ranking_metrics,
        semeval_source,
        store_rows,
    )
    from qa.core.measures import auroc, ece, ece_chance_within, ece_if_calibrated, ece_p_value
    from qa.core.settings import Settings
    from qa.models import shared_encoder, shared_judge, shared_question_judge, shared_span_reader

    dev_file = args.dev_file or DEFAULT_DEV
    if not dev_file.exists():
        sys.exit(f"benchmark data not found: {dev_file} (the shared data folder sits beside the repository)")
    timer = Timer()
    settings = Settings.load()
    encoder = shared_encoder(settings)
    # with the span reader and the answer judge, as the engine builds the source; `plain`: without the judge
    reader, judge = shared_span_reader(settings), shared_judge(settings)
    source, questions = semeval_source(dev_file, encoder, settings=settings, span_reader=reader, judge=judge,
                                       question_judge=shared_question_judge(settings))
    plain, _ = semeval_source(dev_file, encoder, settings=settings, span_reader=reader)
    if args.limit:
        questions = questions[: args.limit]
    pairs = pair_rows(source, questions)
    probs = [0.0] * len(pairs.rows)  # the probability shown: each question's ten threads as one group
    for gi in range(len(questions)):
        idx = [i for i, g in enumerate(pairs.groups) if g == gi]
        for i, p in zip(idx, source.rescorer.probabilities([pairs.rows[i] for i in idx], group=True), strict=True):
            probs[i] = float(p)

    def grouped(scores: list[float]) -> list[list[bool]]:
        out = []
        for gi in range(len(questions)):
            idx = [i for i, g in enumerate(pairs.groups) if g == gi]
            out.append(rank_by([scores[i] for i in idx], [pairs.labels[i] for i in idx]))
        return out

    def rrf(gi_scores: list[float], other: list[float]) -> list[float]:
        out = [0.0] * len(gi_scores)
        for gi in range(len(questions)):
            idx = [i for i, g in enumerate(pairs.groups) if g == gi]
            for scores in (gi_scores, other):
                order = sorted(idx, key=lambda i, s=scores: -s[i])
                for r, i in enumerate(order, start=1):
                    out[i] += 1.0 / (60 + r)
        return out

    dense = [r["d_text"] for r in pairs.rows]
    bm25 = [r["bm25_z"] for r in pairs.rows]  # z-scores within a question keep its BM25 order
    order_of = {t.id: t.ranking_order for q in questions for t in q.threads}
    ir = [-float(order_of[tid]) for tid in pairs.thread_ids]
    systems = {
        "ir_baseline": ranking_metrics(grouped(ir)),
        "bm25": ranking_metrics(grouped(bm25)),
        "dense": ranking_metrics(grouped(dense)),
        "fused": ranking_metrics(grouped(rrf(dense, bm25))),
        "final": ranking_metrics(grouped(list(map(float, probs)))),
    }
    # subtask A: the official threads (not repeating a training thread)
    def subtask_a(ans) -> tuple[list[list[bool]], list[list[bool]], list[list[bool]], list[list[bool]]]:
        """Per thread: labels ranked as the source ranks them for users (with the judge), as the
        source without the judge ranks them (the reader re-reads only the best few), ranked with the
        reader's margin for every answer, and in posting order."""
        every_read = source.answer_ranker.probabilities(ans.rows)
        shown, unjudged, every, chrono = [], [], [], []
        for gi in sorted(set(ans.groups)):
            idx = [i for i, g in enumerate(ans.groups) if g == gi]
            labels = [ans.labels[i] for i in idx]
            thread = source.store.get([ans.keys[gi]])[ans.keys[gi]]
            shown.append(rank_by(source.answer_quality(thread), labels))
            unjudged.append(rank_by(plain.answer_quality(thread), labels))
            every.append(rank_by([float(every_read[i]) for i in idx], labels))
            chrono.append(labels)
        return shown, unjudged, every, chrono

    a_groups, plain_groups, all_groups, chrono = subtask_a(answer_rows(source, questions, official_a=True))
    answer_a = ranking_metrics(a_groups)
    systems["answers_final"] = {"map": answer_a["map"], "mrr": answer_a["mrr"], "p@1": answer_a["p@1"],
                                "threads": len(a_groups)}
    systems["answers_without_judge"] = ranking_metrics(plain_groups)
    systems["answers_every_answer_read"] = ranking_metrics(all_groups)
    chrono_m = ranking_metrics(chrono)
    # a larger, unofficial subtask A set: every dev thread except those repeating a train-part2 thread
    # (the official set also drops the repeats of train-part1, which these models never saw)
    from cqa.semeval import load_semeval
    from cqa.training import DEFAULT_TRAIN

    train_ids = frozenset(t.id for q in load_semeval(DEFAULT_TRAIN) for t in q.threads)
    u_groups, u_plain, _, u_chrono = subtask_a(answer_rows(source, questions, exclude=train_ids))
    systems["answers_final_unseen_threads"] = {**ranking_metrics(u_groups), "threads": len(u_groups)}
    systems["answers_without_judge_unseen_threads"] = ranking_metrics(u_plain)
    systems["answers_chronological_unseen_threads"] = ranking_metrics(u_chrono)
    systems["answers_chronological"] = {"map": chrono_m["map"], "mrr": chrono_m["mrr"], "p@1": chrono_m["p@1"]}
    # subtask A as BENCHMARKS.md words it ("for the top thread"): the answers of each new question's
    # top related thread (the final re-scorer's), the thread whose best answer a user is shown; a
    # top thread repeating a train-part2 thread is also left out once (its comments were trained on)
    top_ids = frozenset(pairs.thread_ids[max((i for i, g in enumerate(pairs.groups) if g == gi),
                                             key=lambda i: probs[i])] for gi in range(len(questions)))
    t_groups, _, _, t_chrono = subtask_a(answer_rows(source, questions, only=top_ids))
    tu_groups, _, _, _ = subtask_a(answer_rows(source, questions, only=top_ids, exclude=train_ids))
    systems["answers_final_top_thread"] = {**ranking_metrics(t_groups), "threads": len(t_groups)}
    systems["answers_final_top_thread_unseen"] = {**ranking_metrics(tu_groups), "threads": len(tu_groups)}
    systems["answers_chronological_top_thread"] = ranking_metrics(t_chrono)
    # calibration of the re-scorer: every pair, and each question's top match among its ten
    top_p, top_ok = [], []
    for gi in range(len(questions)):
        idx = [i for i, g in enumerate(pairs.groups) if g == gi]
        best = max(idx, key=lambda i: probs[i])
        top_p.append(float(probs[best]))
        top_ok.append(pairs.labels[best])
    # the source as users meet it: each new question over the whole dev store
    store_pairs = calibration_pairs(source, questions)
    # seconds a question as users wait for it (top 3 threads, their best answers chosen with the
    # judge and cut short by the span reader), beside the same source without the judge and
    # without any reader, in the same run
    bare, _ = semeval_source(dev_file, encoder, settings=settings)
    latency = {name: _latencies(src, questions)
               for name, src in (("reader", source), ("no_judge", plain), ("no_reader", bare))}
    sp = [p for p, _ in store_pairs]
    sc = [c for _, c in store_pairs]
    # every retrieved candidate of every question (what a list of answers shows), and the ECE a
    # perfectly calibrated score would still show on this few questions (labels drawn from the scores)
    asked = store_rows(source, questions)
    asked_p: list[float] = []
    for gi in range(len(questions)):
        idx = [i for i, g in enumerate(asked.groups) if g == gi]
        asked_p.extend(float(p) for p in source.rescorer.probabilities([asked.rows[i] for i in idx], group=True))
    floor = ece_if_calibrated(sp)
    final = systems["final"]
    metrics = {
        "map": final["map"], "mrr": final["mrr"], "p@1": final["p@1"], "answer_map": answer_a["map"],
        "map_gain_over_dense": round(final["map"] - systems["dense"]["map"], 2),
        "map_gain_over_fused": round(final["map"] - systems["fused"]["map"], 2),
        "ece_pairs": round(ece(list(map(float, probs)), pairs.labels), 4),
        "auroc_pairs": round(auroc(list(map(float, probs)), pairs.labels), 4),
        "ece_top10": round(ece(top_p, top_ok), 4), "auroc_top10": round(auroc(top_p, top_ok), 4),
        "store_p@1": round(100 * sum(sc) / max(len(sc), 1), 2),
        "ece_store": round(ece(sp, sc), 4), "auroc_store": round(auroc(sp, sc), 4),
        "ece_store_if_perfectly_calibrated": round(floor, 4),
        "ece_store_p_value": round(ece_p_value(sp, sc), 3),
        # how often a perfectly calibrated score spread like this one meets the project's target
        "ece_store_chance_within_target": round(ece_chance_within(sp, ECE_TARGET), 3),
        "ece_store_all_candidates": round(ece(asked_p, asked.labels), 4),
        "auroc_store_all_candidates": round(auroc(asked_p, asked.labels), 4),
        # the official scorer counts a thread without any Good comment as 0 whatever the ranking
        "answer_map_ceiling": round(100 * sum(any(g) for g in chrono) / max(len(chrono), 1), 2),
        "answer_map_without_judge": systems["answers_without_judge"]["map"],
        "answer_map_top_thread": systems["answers_final_top_thread"]["map"],
        "answer_map_top_thread_unseen": systems["answers_final_top_thread_unseen"]["map"],
        "answer_map_top_thread_ceiling": round(100 * sum(any(g) for g in t_chrono) / max(len(t_chrono), 1), 2),
        "answer_p50_ms": latency["reader"][0], "answer_p95_ms": latency["reader"][1],
        "answer_p50_ms_without_judge": latency["no_judge"][0],
        "answer_p50_ms_without_reader": latency["no_reader"][0],
        "questions": len(questions), "pairs": len(pairs.rows),
    }
    name = "semeval-cqa" + ("-limit" if args.limit else "")
    path = write_results(
        name, f"SemEval-2016 Task 3 English dev ({len(questions)} new questions x 10 related threads; "
              f"subtask A over {len(a_groups)} official threads)",
        metrics, wall_s=timer.elapsed, systems=systems,
        extra={"model": f"re-scorer + answer model trained on train-part2 over {encoder.name}; answer judge "
                        f"{judge_note(judge)}",
               "gold_relevant_per_question": [len(gold_threads(q)) for q in questions],
               # each new question's top answer over the dev store: (shown probability, right), the
               # outcomes the store's ECE / AUROC / p-value are computed from
               "store_top_answers": [[round(p, 4), bool(c)] for p, c in store_pairs],
               "store_threads": source.store.count()},
        out=RESULTS / f"{name}.json")
    print(f"wrote {path}")
    for sys_name, m in systems.items():
        print(f"{sys_name:22s} " + "  ".join(f"{k} {v}" for k, v in m.items()))
    print("metrics", metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
