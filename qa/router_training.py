"""Training data and training for the router's classifier (`qa train router`).

Questions whose right source is known, from training material only:

* webqa: SQuAD v1.0 *training* questions (a sample);
* kbqa: the training split of each PathQuestion set (the same seeded 80/10/10 split the
  pathquestion benchmark uses, so its test questions are never seen), QALD-9 English questions,
  questions generated from the embedded world graph, and, when the settings name another graph
  (`kb_graph` or `kb_endpoint`), questions generated from that graph by `qa kb train`'s generator:
  a graph of suppliers and departments is asked about in words no encyclopedic question uses, and
  the classifier only learns that they are graph questions from such questions;
* cqa: SemEval-2016 Task 3 training questions and the community-QA seed, when that source is
  installed (its package provides them).

routed-qa tests SQuAD v1.1 *dev*, PathQuestion *test*, CK25 and SemEval *dev*: none of them is
trained on. A tenth of the collected questions is held out to report the classifier's accuracy.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.core.errors import InputError
from qa.core.paths import SHARED_DATA
from qa.core.settings import Settings, unsecret
from qa.core.text import parse_json, read_text
from qa.core.types import Encoder, Route
from qa.router import RouteClassifier, model_path

PQ_SETS = ("PQ-2H", "PQ-3H", "PQL-2H", "PQL-3H")
PQ_SEED = 13  # benchmarks/pathquestion.py's split


def _find(base: Path) -> Path | None:
    for ext in ("", ".xz", ".gz"):
        p = base.with_name(base.name + ext)
        if p.exists():
            return p
    return None


def squad_train_questions(limit: int, seed: int = 0) -> list[str]:
    path = _find(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json")
    if path is None:
        return []
    doc = parse_json(read_text(path), str(path))
    questions = [qa["question"].strip() for art in doc["data"] for para in art["paragraphs"] for qa in para["qas"]]
    random.Random(seed).shuffle(questions)
    return questions[:limit]


def pathquestion_train_questions() -> list[str]:
    out: list[str] = []
    for name in PQ_SETS:
        path = _find(SHARED_DATA / "kbqa" / "pathquestion" / f"{name}.txt")
        if path is None:
            continue
        rows = [line for line in read_text(path).split("\n") if line.strip()]
        random.Random(PQ_SEED).shuffle(rows)
        out.extend(r.split("\t")[0].strip() for r in rows[: int(len(rows) * 0.8)])
    return out


def qald_questions() -> list[str]:
    out: list[str] = []
    for split in ("train", "test"):
        path = _find(SHARED_DATA / "kbqa" / "qald9" / f"qald-9-{split}-multilingual.json")
        if path is None:
            continue
        for q in parse_json(read_text(path), str(path))["questions"]:
            out.extend(x["string"].strip() for x in q["question"] if x.get("language") == "en" and x.get("string"))
    return out


def world_graph_questions(settings: Settings, per_relation: int = 40) -> list[str]:
    from kb.store import open_graph
    from kb.train_default import generate

    graph = open_graph(Settings.load(kb_graph="", kb_endpoint="", data_dir=settings.data_dir))
    return [q for q, _, _ in generate(graph, per_relation, seed=11)]


def configured_graph_questions(settings: Settings, encoder: Encoder, count: int = 1500) -> list[str]:
    """Questions generated from the graph the settings name (none for the embedded world graph,
    whose questions `world_graph_questions` gives): `count` along paths, a third as many about
    whole classes."""
    if not (settings.kb_graph or settings.kb_endpoint):
        return []
    from kb.pipeline import KBQA
    from kb.training import QuestionGenerator

    kbqa = KBQA(settings, encoder=encoder)
    kbqa.warm_up()
    gen = QuestionGenerator(kbqa, seed=3)
    # about one entity along a path ("who manages X?"), and about a class as a whole ("which supplier
    # has the lowest price?", "how many products are there?"): both are asked of a graph
    return [g.question for g in gen.generate(count)] + [c.question for c in gen.class_questions(count // 3)]


def cqa_train_questions() -> list[str]:
    """The community-QA source's training questions (SemEval-2016 training threads), when that
    package is installed. The embedded seed's questions are left out: they are trivia questions
    ("What were the two sides in World War II known as?") that read like the passages' questions,
    so learning them as cqa would send encyclopedic questions to the forum archive first."""
    try:
        from cqa.evaluation import router_questions
    except ImportError:
        return []
    try:
        return list(router_questions(include_seed=False))
    except InputError:  # no SemEval training file: the seed's questions alone are too few to learn from
        return []


def collect(settings: Settings, encoder: Encoder, *, squad_limit: int = 12_000) -> list[tuple[str, Route]]:
    data: list[tuple[str, Route]] = [(q, Route.WEBQA) for q in squad_train_questions(squad_limit)]
    kb = pathquestion_train_questions() + qald_questions() + world_graph_questions(settings)
    kb += configured_graph_questions(settings, encoder)
    data += [(q, Route.KBQA) for q in kb]
    data += [(q, Route.CQA) for q in cqa_train_questions()]
    seen: set[str] = set()
    out = []
    for q, r in data:
        if q and q not in seen:
            seen.add(q)
            out.append((q, r))
    return out


def train_router(settings: Settings, encoder: Encoder, *, out: Path | None = None,
                 progress: Callable[[str], None] = print) -> dict:
    """Collect, encode, fit, report held-out accuracy, save. Returns the summary."""
    data = collect(settings, encoder)
    routes = {r for _, r in data}
    if len(routes) < 2:
        raise InputError("router training needs questions of at least two routes: is ../shared/data present?")
    rng = random.Random(5)
    rng.shuffle(data)
    cut = int(len(data) * 0.9)
    counts = {str(r): sum(1 for _, x in data if x == r) for r in sorted(routes)}
    progress(f"router training questions: {counts}")
    texts = [q for q, _ in data]
    vectors = _encode(encoder, texts)
    labels = [r for _, r in data]
    clf = RouteClassifier.fit(vectors[:cut], labels[:cut])
    probs = clf.probabilities(vectors[cut:])
    pred = [clf.routes[i] for i in probs.argmax(axis=1)]
    held = labels[cut:]
    acc = 100.0 * sum(p == g for p, g in zip(pred, held, strict=True)) / max(1, len(held))
    per_route = {str(r): round(100.0 * sum(p == g for p, g in zip(pred, held, strict=True) if g == r)
                               / max(1, sum(1 for g in held if g == r)), 2) for r in sorted(routes)}
    clf = RouteClassifier.fit(vectors, labels, meta={
        "trained_on": "SQuAD v1.0 train (sample), PathQuestion train splits (seed 13, 80%), QALD-9 en, "
                      "world-graph generated questions, SemEval/seed questions when cqa is installed"
                      + (", questions generated from "
                         f"{unsecret('kb_endpoint', settings.kb_endpoint) or settings.kb_graph}"
                         if settings.kb_endpoint or settings.kb_graph else ""),
        "encoder": getattr(encoder, "name", ""), "questions": counts, "held_out_accuracy": round(acc, 2),
        "held_out_accuracy_per_route": per_route})
    target = out or model_path(settings)
    clf.save(target)
    progress(f"held-out route accuracy {acc:.2f}% {per_route}; wrote {target}")
    return clf.meta


def _encode(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Question vectors, cached under the cache folder by encoder and texts (retraining after a
    change of the classifier does not re-encode 20,000 questions)."""
    import hashlib

    from qa.core.atomic import atomic_write
    from qa.core.paths import cache_dir

    h = hashlib.sha256(getattr(encoder, "name", "encoder").encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    path = cache_dir() / "router" / f"{h.hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    try:
        vectors = encoder.encode(texts, progress=True, description="encoding questions")  # type: ignore[call-arg]
    except TypeError:
        vectors = encoder.encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, vectors)

    atomic_write(path, write)
    return vectors

