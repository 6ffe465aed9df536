"""PathQuestion (PQ-2H, PQ-3H, PQL-2H, PQL-3H): each set over its own KB loaded as RDF.

Split: per set, questions shuffled with random.Random(13) and cut 80/10/10 into train / dev / test.
The relation-path scorer is trained on train, calibrated on dev, and Hits@1 and answer-set F1 are
reported on test. Paths are enumerated forward only (the data set's paths all follow the triples'
direction), 1 to 3 hops; the number of hops is not given to the system.

    python benchmarks/pathquestion.py [--limit N] [--sets PQ-2H,PQ-3H]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_results  # noqa: E402
from kb.loaders import entity_iri, load_file, open_text  # noqa: E402
from kb.pipeline import KBQA, KBQAConfig, gold_path  # noqa: E402
from kb.scorer import Scorer  # noqa: E402
from kb.store import EmbeddedGraph  # noqa: E402
from kb.text import normalise  # noqa: E402
from qa.core.paths import SHARED_DATA  # noqa: E402
from qa.core.settings import Settings  # noqa: E402
from qa.models import shared_encoder  # noqa: E402

DATA = SHARED_DATA / "kbqa" / "pathquestion"
SETS = {"PQ-2H": "2H-kb.txt", "PQ-3H": "3H-kb.txt", "PQL-2H": "PQL2-KB.txt", "PQL-3H": "PQL3-KB.txt"}
SEED = 13


def _find(name: str) -> Path:
    for ext in ("", ".xz", ".gz"):
        p = DATA / (name + ext)
        if p.exists():
            return p
    raise FileNotFoundError(DATA / name)


def read_questions(name: str) -> list[dict]:
    out = []
    for line in open_text(_find(name + ".txt")).splitlines():
        if not line.strip():
            continue
        q, ans, path = line.split("\t")
        answers = ans[ans.index("(") + 1 : ans.rindex(")")].split("/") if "(" in ans else [ans]
        answers = [a for a in answers if a] or [ans.split("(")[0]]
        parts = path.strip().split("#")
        if "<end>" in parts:
            parts = parts[: parts.index("<end>")]
        out.append({"question": q.strip(), "answers": answers, "subject": parts[0], "relations": parts[1::2]})
    return out


def split(rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    rows = list(rows)
    random.Random(SEED).shuffle(rows)
    n = len(rows)
    a, b = int(n * 0.8), int(n * 0.9)
    return rows[:a], rows[a:b], rows[b:]


def f1(pred: set[str], gold: set[str]) -> float:
    if not pred or not gold:
        return 0.0
    tp = len(pred & gold)
    if tp == 0:
        return 0.0
    p, r = tp / len(pred), tp / len(gold)
    return 2 * p * r / (p + r)


def evaluate(qa: KBQA, rows: list[dict]) -> dict:
    hits = f1s = no_answer = 0.0
    p_tops, correct = [], []
    for row in rows:
        pred = qa.predict(row["question"])
        gold = {normalise(a) for a in row["answers"]}
        got = [normalise(lab) for _, lab in pred.answers]
        ok = bool(got) and got[0] in gold
        hits += ok
        f1s += f1(set(got), gold)
        no_answer += pred.confidence < qa.scorer.threshold
        p_tops.append(pred.p_top)
        correct.append(ok)
    n = max(1, len(rows))
    return {"hits@1": 100 * hits / n, "f1": 100 * f1s / n, "no_answer": 100 * no_answer / n,
            "p_tops": p_tops, "correct": correct, "n": len(rows)}


def run_set(name: str, limit: int | None, settings: Settings, log) -> dict:
    graph = EmbeddedGraph(store="Oxigraph")
    load_file(graph, _find(SETS[name]), fmt="tsv")
    train, dev, test = split(read_questions(name))
    if limit:
        train, dev, test = train[: limit * 8], dev[:limit], test[:limit]
    qa = KBQA(settings, graph=graph, scorer=Scorer(),
              config=KBQAConfig(max_hops=3, forward_only=True, top_anchors=2, type_rerank=0),
              encoder=shared_encoder(settings))
    t0 = time.perf_counter()
    examples = []
    for row in train:
        cands = qa.candidates(row["question"])
        gold_anchor, gpath = entity_iri(row["subject"]), gold_path(row["relations"])
        gold = [i for i, c in enumerate(cands) if c.anchor.node == gold_anchor and c.path == gpath]
        if gold:
            examples.append(([c.features for c in cands], gold[0]))
    log(f"{name}: {len(examples)}/{len(train)} training questions have the gold path among candidates "
        f"({time.perf_counter() - t0:.0f}s)")
    qa.scorer.fit(examples, log=lambda m: log(f"{name}: {m}"))
    dev_res = evaluate(qa, dev)
    qa.scorer.calibrate(dev_res["p_tops"], dev_res["correct"])
    test_res = evaluate(qa, test)
    log(f"{name}: dev hits@1 {dev_res['hits@1']:.1f}; test hits@1 {test_res['hits@1']:.1f} "
        f"f1 {test_res['f1']:.1f} (n={test_res['n']})")
    return {"train": len(train), "dev": len(dev), "test": len(test), "dev_hits@1": dev_res["hits@1"],
            "hits@1": test_res["hits@1"], "f1": test_res["f1"], "no_answer": test_res["no_answer"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="test/dev questions per set (train: 8x)")
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent", file=sys.stderr)
        return 0
    import torch

    torch.set_num_threads(1)  # 2 shared cores: one thread avoids oversubscription (25x slower otherwise)
    settings = Settings.load()
    t0 = time.perf_counter()
    metrics: dict[str, float] = {}
    details = {}
    for name in args.sets.split(","):
        res = run_set(name, args.limit, settings, lambda m: print(m, file=sys.stderr, flush=True))
        details[name] = res
        metrics[f"hits@1_{name}"] = res["hits@1"]
        metrics[f"f1_{name}"] = res["f1"]
    if not args.limit and set(details) == set(SETS):
        write_results("pathquestion", "PathQuestion PQ-2H/PQ-3H/PQL-2H/PQL-3H (IRN, Zhou et al. 2018)",
                      metrics, wall_s=time.perf_counter() - t0, extra={
                          "split": f"per set: random.Random({SEED}) shuffle, 80/10/10 train/dev/test; test reported",
                          "model": "linear path scorer (encoder + lexical + word-relation features) over "
                                   "all-MiniLM-L6-v2",
                          "store": "rdflib + oxrdflib (Oxigraph store)", "sets": details})
    else:
        print(metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
