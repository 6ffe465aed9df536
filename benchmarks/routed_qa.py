"""routed-qa and calibration: the engine's router against the oracle route, and whether the scores
it shows are probabilities of being right.

Parts (../shared/BENCHMARKS.md), each asked of an engine that holds ALL the sources, so the router
has a real choice:

* webqa: SQuAD v1.1 dev questions; passages = the squad-open collection (the 2,067 dev paragraphs);
  the knowledge graph = the embedded world graph (what a user has by default).
* kbqa: PathQuestion test questions (each set's own KB, its path scorer trained on the set's train
  split and calibrated on its dev split, as in benchmarks/pathquestion.py); passages = the
  squad-open collection.
* ck25 (kbqa route): the CK25 questions over the CK25 graph, built as benchmarks/ck25.py builds
  it; scored by execution accuracy (the top answer's SPARQL gives the gold query's result set).
  The engine's router is the one `qa train router` trains for a user whose settings name that
  graph (the usual training questions plus questions generated from the graph; never CK25's).
  PathQuestion and CK25 together are the benchmark's kbqa part: `*_kbqa_pooled_hits1` counts a
  hit as Hits@1 on the one and the same result set on the other.
* cqa (when the community-QA source is installed): SemEval-2016 dev new questions over the SemEval
  threads.

Each question is asked twice: routed (the classifier orders the sources, the cascade decides) and
with the oracle route forced. A source answers a question once: both runs read the same memoised
source answers, so the comparison isolates routing. End-to-end: SQuAD EM/F1 for webqa, Hits@1 for
kbqa (the top answer's normalised label among the gold answers), P@1 for cqa. A "no answer" is
scored by its best guess, in both runs alike (the pathquestion benchmark scores the top candidate
the same way).

calibration: for each source, on its own held-out questions (the oracle runs above), the top
answer's shown score against whether it is right: ECE over 15 equal-width bins, AUROC right vs
wrong, accuracy at 50 / 80 / 100 % coverage.

    python benchmarks/routed_qa.py                # full run -> results/routed-qa.json, calibration.json
    python benchmarks/routed_qa.py --limit 300    # first 300 questions of each part (not written)
    python benchmarks/routed_qa.py --parts cqa    # one part only: a look, not written either
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # shared 2-core machines: one thread per process

try:
    from benchmarks.common import REPO, Timer, cached_encode, find_data, write_results
except ModuleNotFoundError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, Timer, cached_encode, find_data, write_results

from benchmarks.squad_open import DEV, load_squad  # noqa: E402
from qa.core.measures import accuracy_at_coverage, auroc, ece, ece_if_calibrated, ece_p_value  # noqa: E402
from qa.core.settings import Settings  # noqa: E402
from qa.core.types import Answer, HoldsQuestions, Question, Route  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.models import shared_encoder  # noqa: E402
from qa.router import RouteClassifier, Router  # noqa: E402

ROUTES = (Route.WEBQA, Route.KBQA, Route.CQA)


class Memo:
    """A source that answers each question once; later calls get copies of the same answers."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.name = source.name
        self.cache: dict[tuple[str, int], list[Answer]] = {}

    def warm_up(self) -> None:
        self.source.warm_up()

    def holds(self, question: Question) -> float:
        """What the engine asks before it picks a source (`HoldsQuestions`): passed on, so the
        benchmark routes as the product does."""
        return self.source.holds(question) if isinstance(self.source, HoldsQuestions) else 0.0

    def answer(self, question: Question, top_k: int) -> list[Answer]:
        key = (question.text, top_k)
        if key not in self.cache:
            self.cache[key] = self.source.answer(question, top_k)
        return copy.deepcopy(self.cache[key])


def shown(answers: list[Answer]) -> Answer | None:
    """The answer a user is shown first; for a "no answer", its best guess."""
    if not answers:
        return None
    a = answers[0]
    return a.best_guess if a.no_answer else a


def squad_index(settings: Settings, workdir: Path) -> Path:
    from retrieval.ingest import build_index

    passages, _ = load_squad(find_data(DEV))
    vectors = cached_encode(shared_encoder(settings), [p.text for p in passages], description="encoding paragraphs")
    return build_index(passages, workdir / "squad-open", settings, progress=False, embeddings=vectors)


def squad_questions(limit: int | None) -> list[dict]:
    import json

    from benchmarks.common import open_text

    with open_text(find_data(DEV)) as fh:
        data = json.load(fh)["data"]
    out = [{"question": qa["question"], "answers": [a["text"] for a in qa["answers"]], "id": qa["id"]}
           for art in data for para in art["paragraphs"] for qa in para["qas"]]
    return out[:limit] if limit else out


def score_webqa(a: Answer | None, row: dict) -> tuple[float, float]:
    from mrc.metrics import squad_em, squad_f1

    text = a.text if a is not None else ""
    return squad_em(text, row["answers"]), squad_f1(text, row["answers"])


def score_kbqa(a: Answer | None, row: dict) -> float:
    from kb.text import normalise

    return float(a is not None and normalise(a.text) in {normalise(g) for g in row["answers"]})


def run_part(engine: Engine, rows: list[dict], gold: Route, scorer, log, label: str) -> dict:
    """Ask each row routed and oracle-routed; returns per-question records."""
    records = []
    t0 = time.perf_counter()
    for i, row in enumerate(rows, 1):
        routed = engine.ask(row["question"])
        oracle = engine.ask(row["question"], route=str(gold))
        r_ans, o_ans = shown(routed.answers), shown(oracle.answers)
        first = next(iter(routed.routing.probabilities), None)
        records.append({"gold": gold, "routed_route": routed.routing.chosen, "first": first,
                        "routed": scorer(r_ans, row), "oracle": scorer(o_ans, row),
                        "oracle_score": o_ans.score if o_ans is not None else 0.0})
        if i % 200 == 0 or i == len(rows):
            log(f"{label}: {i}/{len(rows)} ({time.perf_counter() - t0:.0f}s)")
    return {"records": records}


def _webqa_cache(settings: Settings, top_k: int) -> Path:
    """Where WebQA's answers to the SQuAD part are kept between runs: keyed by everything they
    depend on (the code of WebQA and its calibration, the calibrator, the reader and its runtime,
    the ONNX recipes and the query encoder, the settings that shape retrieval and reading), so a
    change of any of them recomputes."""
    import hashlib

    from mrc.loading import resolve_backend
    from qa.core.paths import REPO_ROOT

    h = hashlib.sha256()
    # the whole of the code an answer passes through (retrieval, reading, the core), not a list of
    # files that misses one: a change anywhere there recomputes
    code = sorted(p for tree in ("qa", "mrc", "retrieval") for p in (REPO_ROOT / tree).rglob("*.py"))
    for f in [*code, REPO_ROOT / "data" / "calibration" / "webqa.json"]:
        h.update(str(f.relative_to(REPO_ROOT)).encode())
        h.update(f.read_bytes())
    model = Path(settings.span_model)
    for f in ("qa_reader.json", "model.safetensors.index.json", "config.json"):
        if (model / f).exists():
            h.update((model / f).read_bytes())
    h.update(repr((str(model), resolve_backend(settings.span_backend, settings.device),
                   str(resolve_backend(settings.encoder_backend, settings.device)), settings.read_k, top_k,
                   settings.retrieve_k,
                   settings.fusion_method, settings.fusion_weight_dense, settings.fusion_weight_bm25)).encode())
    return REPO / ".cache" / "bench" / f"routed-webqa-{h.hexdigest()[:20]}.jsonl"


def prefill_webqa(memo: Memo, rows: list[dict], top_k: int, log, settings: Settings, batch: int = 32) -> int:
    """Compute WebQA's answers in batches (one reader pass per batch) into the memo; answers kept
    from an earlier run with the same code, models and settings are reused. Returns how many were
    reused (recorded in the results)."""
    import json

    cache = _webqa_cache(settings, top_k)
    known: dict[str, list[Answer]] = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run that was stopped mid-write
                continue
            known[rec["q"]] = [Answer.model_validate(a) for a in rec["answers"]]
        log(f"webqa: {len(known):,} answers reused from {cache.name}")
    todo = [r for r in rows if Question(r["question"]).text not in known]
    webqa = memo.source
    t0 = time.perf_counter()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            answers = webqa.answer_batch([r["question"] for r in chunk], top_k)
            for r, a in zip(chunk, answers, strict=True):
                text = Question(r["question"]).text
                known[text] = a
                fh.write(json.dumps({"q": text, "answers": [x.to_dict() for x in a]}) + "\n")
            fh.flush()
            if (start // batch) % 20 == 0:
                log(f"webqa prefill: {start + len(chunk)}/{len(todo)} ({time.perf_counter() - t0:.0f}s)")
    for r in rows:
        text = Question(r["question"]).text
        memo.cache[(text, top_k)] = known[text]
    return len(rows) - len(todo)


def pathquestion_parts(settings: Settings, limit: int | None, log) -> list[tuple[str, Any, list[dict]]]:
    """(set name, trained KBQA, test rows) per PathQuestion set."""
    from benchmarks import pathquestion as pq

    out = []
    for name in pq.SETS:
        kbqa, splits = pq.calibrated_kbqa(name, settings, log=log)
        test = splits["test"]
        out.append((name, kbqa, test[:limit] if limit else test))
    return out


def ck25_part(settings: Settings, encoder: Any, limit: int | None, log) -> tuple[Any, list[dict], Any] | None:
    """The CK25 questions over the CK25 graph, built and scored as benchmarks/ck25.py does (no CK25
    training; execution accuracy: the top answer's SPARQL gives the gold query's result set)."""
    from benchmarks import ck25

    if not ck25.CK25.exists():
        log(f"skipped: {ck25.CK25} is absent")
        return None
    graph = ck25.load_graph()
    golds = ck25.GoldSets(graph)
    rows = []
    for q in ck25.load_questions(limit):
        gold, store = golds.gold(q["query"]["sparql"])
        rows.append({"question": q["question"]["en"], "gold": gold, "store": store})

    def scorer(a: Answer | None, row: dict) -> float:
        sparql = getattr(a.evidence, "sparql", "") if a is not None else ""
        return float(ck25.same_result(row["store"], sparql, row["gold"]))

    return ck25.make_kbqa(graph, settings, encoder), rows, scorer


def graph_router(settings: Settings, encoder: Any, workdir: Path, log) -> Router:
    """The router `qa train router` trains with QA_KB_GRAPH set to the CK25 graph."""
    from benchmarks import ck25
    from qa.router_training import train_router

    path = workdir / "router-ck25.json"
    train_router(settings.model_copy(update={"kb_graph": str(ck25.GRAPH_FILE)}), encoder, out=path, progress=log)
    return Router(settings, encoder, RouteClassifier.load(path))


PARTS = ("webqa", "kbqa", "cqa")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each part (not written)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma-separated subset of webqa,kbqa,cqa (a subset is not written)")
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - set(PARTS):
        ap.error(f"--parts takes a comma-separated subset of {','.join(PARTS)}, not {args.parts!r}")
    timer = Timer()
    settings = Settings.load(max_question_chars=20_000)  # SemEval questions carry their whole body
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    encoder = shared_encoder(settings)
    top_k = settings.top_k
    results: dict[str, dict] = {}
    from kb.pipeline import KBQA
    from qa.webqa import WebQA

    with tempfile.TemporaryDirectory(dir=REPO / ".cache" if (REPO / ".cache").exists() else None) as tmp:
        folder = squad_index(settings, Path(tmp))
        web = Memo(WebQA(settings, index_dir=folder, encoder=encoder))
        routes = [Route.WEBQA, Route.KBQA]
        cqa_source = None
        if "cqa" in parts:
            try:
                from cqa.evaluation import semeval_dev_source, top_thread_correct
            except ImportError:
                log("community QA is not installed: two routes")
            else:
                from qa.models import shared_question_judge

                # the question judge as the engine passes it (it reads one-line questions against
                # bodiless threads only; P@1 is the thread's, so the answer judge is left out)
                src, newqs = semeval_dev_source(encoder, span_reader=web.source.reader, settings=settings,
                                                question_judge=shared_question_judge(settings))
                cqa_source = Memo(src)
                cqa_rows = [{"question": q.text, "q": q} for q in newqs][: args.limit or None]

                def cqa_scorer(a, row):
                    return float(top_thread_correct(row["q"], [a] if a is not None else []))

                routes.append(Route.CQA)

        def engine_with(kb_source, router: Router | None = None) -> Engine:
            sources = {Route.WEBQA: web, Route.KBQA: Memo(kb_source)}
            if cqa_source is not None:
                sources[Route.CQA] = cqa_source
            return Engine(settings, sources=sources, routes=routes, router=router)

        reused = 0
        if "webqa" in parts:
            rows = squad_questions(args.limit)
            reused = prefill_webqa(web, rows, top_k, log, settings)
            world = KBQA(settings, encoder=encoder)
            results["webqa"] = run_part(engine_with(world), rows, Route.WEBQA,
                                        lambda a, r: score_webqa(a, r), log, "webqa")
        if "kbqa" in parts:
            kb_records = []
            for name, kbqa, rows in pathquestion_parts(settings, args.limit, log):
                kb_records += run_part(engine_with(kbqa), rows, Route.KBQA, score_kbqa, log, name)["records"]
            results["kbqa"] = {"records": kb_records}
            ck = ck25_part(settings, encoder, args.limit, log)
            if ck is not None:
                ck_kbqa, ck_rows, ck_scorer = ck
                router = graph_router(settings, encoder, Path(tmp), log)
                results["ck25"] = run_part(engine_with(ck_kbqa, router), ck_rows, Route.KBQA, ck_scorer, log, "ck25")
        if cqa_source is not None:
            results["cqa"] = run_part(engine_with(KBQA(settings, encoder=encoder)), cqa_rows, Route.CQA,
                                      cqa_scorer, log, "cqa")
    routed_metrics, confusion, cal_metrics, details = summarise(results)
    print(routed_metrics, cal_metrics)
    if args.limit or parts != set(PARTS):
        # the results files hold every part of one run: a slice would replace them with a fragment
        print("(--limit or --parts: results files not written)")
        return 0
    write_results("routed-qa", "SQuAD v1.1 dev over the squad-open collection (webqa); PathQuestion test over "
                  "each set's KB and CK25 over its graph (kbqa); SemEval-2016 dev over the SemEval threads (cqa)",
                  routed_metrics, wall_s=timer.elapsed, extra={
                      "confusion": confusion, "parts": details,
                      "webqa_answers": f"read in batches of 32 questions (WebQA.answer_batch), as the API's batching "
                                       f"reads them; {reused:,} of them reused from an earlier run with the same "
                                       "code, models and settings (.cache/bench)",
                      "ck25_router": "retrained for CK25's graph (QA_KB_GRAPH=... qa train router), as a user of "
                                     "that graph would; every other part uses the shipped router"})
    write_results("calibration", "held-out questions of each source: squad-open dev (webqa, EM), PathQuestion "
                  "test (kbqa, Hits@1), SemEval dev (cqa, P@1)", cal_metrics, wall_s=timer.elapsed,
                  extra={"fitted_on": "training data only: SQuAD train held-out articles (webqa), PathQuestion "
                         "train/dev splits (kbqa), SemEval train-part2 (cqa)"})
    return 0


def summarise(results: dict[str, dict]) -> tuple[dict, dict, dict, dict]:
    confusion: dict[str, Counter] = defaultdict(Counter)
    right = total = 0
    metrics: dict[str, float] = {}
    cal: dict[str, float] = {}
    details: dict[str, Any] = {}
    for part, res in results.items():
        recs = res["records"]
        for r in recs:
            confusion[str(r["gold"])][str(r["routed_route"])] += 1
            right += r["routed_route"] == r["gold"]
            total += 1
        n = max(1, len(recs))
        if part == "webqa":
            routed_em = 100 * sum(r["routed"][0] for r in recs) / n
            routed_f1 = 100 * sum(r["routed"][1] for r in recs) / n
            oracle_em = 100 * sum(r["oracle"][0] for r in recs) / n
            oracle_f1 = 100 * sum(r["oracle"][1] for r in recs) / n
            metrics.update({"webqa_routed_em": round(routed_em, 2), "webqa_routed_f1": round(routed_f1, 2),
                            "webqa_oracle_em": round(oracle_em, 2), "webqa_oracle_f1": round(oracle_f1, 2),
                            "routed_minus_oracle_webqa_f1": round(routed_f1 - oracle_f1, 2)})
            correct = [bool(r["oracle"][0]) for r in recs]
        else:
            key = {"kbqa": "hits1", "ck25": "exec"}.get(part, "p1")
            routed = 100 * sum(r["routed"] for r in recs) / n
            oracle = 100 * sum(r["oracle"] for r in recs) / n
            metrics.update({f"{part}_routed_{key}": round(routed, 2), f"{part}_oracle_{key}": round(oracle, 2),
                            f"routed_minus_oracle_{part}_{key}": round(routed - oracle, 2)})
            correct = [bool(r["oracle"]) for r in recs]
        scores = [r["oracle_score"] for r in recs]
        cal.update({f"ece_{part}": round(ece(scores, correct), 4), f"auroc_{part}": round(auroc(scores, correct), 4),
                    # read ece_<part> against this, not 0: on 50 questions chance alone leaves a large ECE
                    f"ece_{part}_if_perfectly_calibrated": round(ece_if_calibrated(scores), 4),
                    # how often such a score shows this ECE or more by chance: small means miscalibrated
                    f"ece_{part}_p_value": round(ece_p_value(scores, correct), 3)})
        for cov in (0.5, 0.8, 1.0):
            cal[f"accuracy@{int(cov * 100)}_{part}"] = round(accuracy_at_coverage(scores, correct, cov), 2)
        cal[f"n_{part}"] = len(recs)
        details[part] = {"questions": len(recs),
                         "first_choice_accuracy": round(100 * sum(r["first"] == r["gold"] for r in recs) / n, 2)}
    if "kbqa" in results and "ck25" in results:
        # the benchmark's kbqa part is PathQuestion test and CK25 together: a hit is Hits@1 on the
        # one and the same result set on the other
        pooled = results["kbqa"]["records"] + results["ck25"]["records"]
        metrics.update(pooled_kbqa([r["routed"] for r in pooled], [r["oracle"] for r in pooled]))
    metrics["route_accuracy"] = round(100 * right / max(1, total), 2)
    metrics["questions"] = total
    return metrics, {g: dict(c) for g, c in confusion.items()}, cal, details


def pooled_kbqa(routed: list[float], oracle: list[float]) -> dict[str, float]:
    n = max(1, len(routed))
    r, o = 100 * sum(routed) / n, 100 * sum(oracle) / n
    return {"kbqa_pooled_routed_hits1": round(r, 2), "kbqa_pooled_oracle_hits1": round(o, 2),
            "routed_minus_oracle_kbqa_pooled_hits1": round(r - o, 2)}


if __name__ == "__main__":
    sys.exit(main())
