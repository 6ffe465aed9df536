"""int8-recipe: which products of the span reader to keep float in its int8 ONNX copy.

Dynamic int8 rounds every matrix product; a few of them move the answers more than the rest. Each
candidate set of kept-float products is quantised from the same fused float graph and read over
questions of the reader's held-out *training* articles (never dev: this is where the default
recipe in `mrc/onnx_export.py` is chosen): F1 against the float copy's, the share of answers that
differ from the float copy's (a finer measure of fidelity than F1, where flips in both directions
cancel), seconds for the same questions in the same run. The default recipe is read once more one
window per batch: dynamic int8 scales activations over the whole batch, so the share of answers
that change says how much a window's answer depends on the windows beside it. Timings are for
comparing candidates with each other, on a quiet machine; reader-speed is the speed benchmark.

    python benchmarks/int8_recipe.py               # 1,274 held-out questions -> results/int8-recipe.json
    python benchmarks/int8_recipe.py --limit 100   # quick look (no results file unless --out)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.common import Timer, find_data, write_results
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import Timer, find_data, write_results

TRAIN = "mrc/squad-v1.0-train.from-explorer.json.xz"
HEAD = ("qa_outputs",)
CANDIDATES: dict[str, tuple[str, ...] | None] = {
    "float": None,
    "head": HEAD,
    "head+attention_outputs": HEAD + ("attention/output/dense",),
    "head+attention_outputs+early_ffn_outputs": HEAD + ("attention/output/dense",) + tuple(
        f"/layer.{i}/output/dense/" for i in range(3)),
    "head+ffn_outputs": HEAD + tuple(f"layer.{i}/output/dense" for i in range(6)),
    "head+first_layer": HEAD + ("layer.0/",),
    "head+last_layer": HEAD + ("layer.5/",),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1500, help="held-out training questions (1500: all 1,274)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    timer = Timer()

    from mrc.metrics import squad_f1
    from mrc.onnx_export import onnx_file, recipe
    from mrc.recalibrate import held_out_examples
    from mrc.span import ReadRequest, SpanReader
    from qa.core.onnx_models import _quantise, open_session
    from qa.core.paths import MODELS_DIR
    from qa.core.settings import Settings

    model_dir = MODELS_DIR / "span-minilm-l6"
    _, examples = held_out_examples(model_dir, find_data(TRAIN))
    examples = examples[: args.limit]
    requests = [ReadRequest(e.question, e.context, e.qid) for e in examples]
    fused = onnx_file(model_dir, int8=False)
    chosen = next(n for n, k in CANDIDATES.items() if k == tuple(recipe(model_dir).keep_float))

    def read(path: Path, batch_size: int) -> tuple[list[str], float, float]:
        """(answers, F1, seconds) of the reader over `path` at one batch size."""
        reader = SpanReader(Settings(batch_size=batch_size), model_dir=model_dir, backend="onnx")
        reader.model.session, reader.model.path = open_session(path, None), path
        t0 = time.perf_counter()
        answers = [a[0].text for a in reader.read_batch(requests, allow_no_answer=False)]
        seconds = time.perf_counter() - t0
        f1 = 100 * sum(squad_f1(a, [e.answer_text]) for a, e in zip(answers, examples, strict=True)) / len(examples)
        return answers, round(f1, 2), round(seconds, 1)

    systems: dict[str, dict] = {}
    float_answers: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, keep in CANDIDATES.items():
            path = fused
            if keep is not None:
                path = Path(tmp) / f"{name}.onnx"
                _quantise(fused, path, keep)
            answers, f1, seconds = read(path, Settings().batch_size)
            float_answers = float_answers or answers
            differ_float = sum(a != b for a, b in zip(answers, float_answers, strict=True))
            systems[name] = {"f1": f1, "seconds": seconds, "kept_float": list(keep or ["everything"]),
                             "answers_differing_from_float_pct": round(100 * differ_float / len(examples), 2)}
            print(name, systems[name], flush=True)
            if name == chosen:
                # Dynamic int8 scales each product's activations over the whole batch, so a window's
                # answer can depend on the windows read beside it: the default again, one per batch.
                single, f1, seconds = read(path, 1)
                differ = sum(a != b for a, b in zip(single, answers, strict=True))
                systems[f"{chosen}@batch1"] = {
                    "f1": f1, "seconds": seconds, "kept_float": list(keep or []), "batch_size": 1,
                    "answers_differing_from_batch_default_pct": round(100 * differ / len(examples), 2)}
                print(f"{chosen}@batch1", systems[f"{chosen}@batch1"], flush=True)
    base = systems["float"]["f1"]
    metrics = {f"{n}_f1_difference": round(s["f1"] - base, 2) for n, s in systems.items() if n != "float"}
    metrics.update({f"{n}_answers_differing_from_float_pct": s["answers_differing_from_float_pct"]
                    for n, s in systems.items() if n not in ("float", f"{chosen}@batch1")})
    metrics["default_f1_difference"] = metrics[f"{chosen}_f1_difference"]
    metrics["default_answers_differing_from_float_pct"] = systems[chosen]["answers_differing_from_float_pct"]
    metrics["default_batch1_f1_difference"] = round(systems[f"{chosen}@batch1"]["f1"] - base, 2)
    metrics["default_batch1_answers_differing_pct"] = systems[f"{chosen}@batch1"][
        "answers_differing_from_batch_default_pct"]
    metrics["questions"] = len(examples)
    if args.limit != 1500 and args.out is None:
        print("(not the full run: results file not written; pass --out to keep it)")
        return 0
    path_out = write_results("int8-recipe", f"{len(examples)} questions of the span reader's held-out SQuAD training "
                             "articles, gold paragraph", metrics, wall_s=timer.elapsed, systems=systems,
                             extra={"default": chosen}, out=args.out)
    print(f"wrote {path_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
