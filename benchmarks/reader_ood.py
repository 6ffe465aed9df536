"""reader-ood: does the span reader's "no answer" hold up outside SQuAD?

WikiQA test questions with at least one answer sentence (243), each read against its whole
summary paragraph (the question's document: its sentences in order, as in `wikiqa.py`), by the
span reader with its shipped threshold, on the default runtime. Every paragraph holds an answer,
so abstaining is wrong: the headline is the abstention rate. Beside it, how often the span read
lies inside one of the question's answer sentences (WikiQA labels sentences, not spans, so this
is the nearest thing to accuracy it allows), the mean shown score, and the same with abstention
switched off. Nothing is tuned on these questions: a reader may have been trained on WikiQA's
train split (`qa train span --wikiqa`), which leaves out every paragraph a test question reads, and
its threshold comes from held-out SQuAD training articles.

    python benchmarks/reader_ood.py                      # -> benchmarks/results/reader-ood.json
    python benchmarks/reader_ood.py --model DIR --out F  # another reader, another results file
    python benchmarks/reader_ood.py --before OLD_DIR     # and an earlier reader beside it, same run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

try:
    from benchmarks.common import Timer, repo_relative, write_results
    from benchmarks.wikiqa import _sent_order, read_rows
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import Timer, repo_relative, write_results
    from benchmarks.wikiqa import _sent_order, read_rows


def cases() -> list[dict]:
    """[{question, paragraph, answer spans (start, end) of its Label-1 sentences}] in file order."""
    from mrc.train_span import wikiqa_paragraph

    rows = read_rows()
    docs: dict[str, dict[str, str]] = {}
    for r in rows:
        docs.setdefault(r["DocumentID"], {})[r["SentenceID"]] = r["Sentence"]
    out: dict[str, dict] = {}
    for r in rows:
        if r["split"] != "test":
            continue
        q = out.setdefault(r["QuestionID"], {"id": r["QuestionID"], "question": r["Question"],
                                             "doc": r["DocumentID"], "positives": set()})
        if r["Label"].strip() == "1":
            q["positives"].add(r["SentenceID"])
    result = []
    for q in out.values():
        if not q["positives"]:
            continue
        text, starts = wikiqa_paragraph(docs[q["doc"]])
        spans = [(starts[sid], starts[sid] + len(docs[q["doc"]][sid]))
                 for sid in sorted(q["positives"], key=_sent_order)]
        result.append({"id": q["id"], "question": q["question"], "paragraph": text, "spans": spans})
    return result


def measure(model: str | None, items: list[dict]) -> tuple[dict, Any, list[bool]]:
    """The metrics of one span reader folder (None: the shipped one), its reader, and which it abstained on."""
    from mrc.span import ReadRequest, SpanReader
    from qa.core.settings import Settings

    settings = Settings.load()
    reader = SpanReader(settings, model_dir=model) if model else SpanReader(settings)
    requests = [ReadRequest(c["question"], c["paragraph"], c["id"]) for c in items]
    with_na = reader.read_batch(requests)
    forced = reader.read_batch(requests, allow_no_answer=False)

    def inside(ans, spans) -> bool:
        ev = ans.evidence
        return ev is not None and ev.start is not None and any(a <= ev.start and ev.end <= b for a, b in spans)

    abstained = [a[0].no_answer for a in with_na]
    n = len(items)
    answered = [(a[0], c) for a, c in zip(with_na, items, strict=True) if not a[0].no_answer]
    metrics = {
        "questions": n,
        "abstain_pct": round(100 * sum(abstained) / n, 2),
        "answered_inside_answer_sentence_pct": round(100 * sum(inside(a, c["spans"]) for a, c in answered) / n, 2),
        "forced_inside_answer_sentence_pct": round(
            100 * sum(inside(a[0], c["spans"]) for a, c in zip(forced, items, strict=True)) / n, 2),
        "mean_score": round(sum(a[0].score for a in with_na) / n, 4),
        "null_threshold": round(float(reader.null_threshold), 4),
    }
    return metrics, reader, abstained


def run(model: str | None, out: Path | None, before: str | None = None) -> Path:
    timer = Timer()
    items = cases()
    metrics, reader, abstained = measure(model, items)
    systems = None
    if before:
        systems = {"before": {**measure(before, items)[0], "model": before}, "after": dict(metrics)}
        metrics["abstain_pct_before"] = systems["before"]["abstain_pct"]
    return write_results(
        "reader-ood", "WikiQA test, 243 answerable questions, each read against its whole summary paragraph",
        metrics, wall_s=timer.elapsed, out=out, systems=systems,
        extra={"model": repo_relative(reader.model_dir),
               "protocol": "span reader with its shipped null threshold (qa_reader.json, fitted on held-out SQuAD "
                           "training articles); every paragraph holds an answer, so abstaining is an error; "
                           "'inside answer sentence': the span read lies within a Label-1 sentence",
               "examples_abstained": [c["question"] for c, a in zip(items, abstained, strict=True) if a][:20]},
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="span reader folder (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: benchmarks/results/reader-ood.json)")
    ap.add_argument("--before", default=None, help="an earlier span reader folder, measured in the same run")
    args = ap.parse_args()
    for option, folder in (("--model", args.model), ("--before", args.before)):
        if folder is not None and not Path(folder).is_dir():  # found now, not after measuring the other
            sys.exit(f"{option}: no span reader folder at {folder}")
    print(run(args.model, args.out, args.before))
