"""reader-speed: our span reader, its default fast path and compressed variants vs the Hugging Face
question-answering pipeline.

Same weights, same first N SQuAD v1.1 dev questions (each read on its gold paragraph), same
window settings (max_seq_length 384, doc_stride 128, max_answer_length 30), same thread count;
model loading, ONNX builds and a short warm-up are excluded from every timing. The questions are
read in `--rounds` slices, each slice by every system in turn, so a change in the shared
machine's load during the run falls on all systems alike. Systems, all in one run:

* `hf_pipeline`: `pipeline("question-answering")` on PyTorch float32 (the peer);
* `ours_torch`: our batched reader on PyTorch float32 (`span_backend=torch`);
* `ours_onnx_fp32`: the fused float32 ONNX copy (`onnx-fp32`);
* `ours_default`: what `qa` reads with by default (`span_backend=auto` on a CPU: the fused int8
  ONNX copy, built into the cache on first use);
* one system per `--variant DIR` (folders written by `qa compress span`), read with int8 ONNX.

Reported per system: questions/s, official v1.1 EM/F1, parameters, size on disk of what it
reads with; in `metrics` each system's speedup over the pipeline and F1 difference to it
(`default_speedup`, `default_f1_difference` for the default path) and the share of questions
where our PyTorch path and the pipeline return the same answer text.

The peer: `pipeline("question-answering")` was removed in transformers 5, which the project uses,
so the peer runs in a child process on transformers 4.57 installed apart under
`.cache/hf-pipeline-4.57` (`--setup-peer` installs it with pip; nothing else changes).

Weights: `data/models/span-minilm-l6` when it exists; otherwise the packaged all-MiniLM-L6-v2
encoder with a randomly initialised QA head (seed 0), marked `"weights": "untrained"`: its
speed figures are valid, its F1 only shows that both systems pick the same spans.

    python benchmarks/reader_speed.py --setup-peer   # once: install the peer's transformers 4.57
    python benchmarks/reader_speed.py --variant DIR --variant DIR2   # 1,000 questions -> results/reader-speed.json
    python benchmarks/reader_speed.py --limit 100    # quick look -> results/reader-speed-limit.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    from benchmarks.common import REPO, RESULTS, Timer, find_data, install_apart, machine, write_results
except ModuleNotFoundError:  # run as a script: benchmarks/ is on sys.path, the repo root is not
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, RESULTS, Timer, find_data, install_apart, machine, write_results

PEER_ENV = REPO / ".cache" / "hf-pipeline-4.57"
PEER_PACKAGES = [
    "transformers==4.57.6",
    "huggingface_hub==0.36.0",
    "tokenizers==0.22.1",
    "requests",
    "urllib3",
    "charset_normalizer",
]
UNTRAINED = REPO / ".cache" / "bench" / "span-untrained-minilm-l6"
MAX_SEQ, STRIDE, MAX_ANSWER = 384, 128, 30
WARMUP = 8


def untrained_model() -> Path:
    """The packaged encoder with a seeded random QA head, saved once (float32)."""
    if (UNTRAINED / "config.json").exists():
        return UNTRAINED
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.core.paths import encoder_path

    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_pretrained(str(encoder_path()), dtype=torch.float32)
    UNTRAINED.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(UNTRAINED))
    AutoTokenizer.from_pretrained(str(encoder_path())).save_pretrained(str(UNTRAINED))
    return UNTRAINED


def make_reader(model_dir: Path, batch_size: int, backend: str | None = None) -> Any:
    """One of our systems, loaded (and its ONNX copy built on first use) and warmed up."""
    from mrc.span import ReadRequest, SpanReader
    from qa.core.settings import Settings

    settings = Settings(
        max_seq_length=MAX_SEQ, doc_stride=STRIDE, max_answer_length=MAX_ANSWER, batch_size=batch_size
    )
    reader = SpanReader(settings, model_dir=model_dir, backend=backend)
    reader.read_batch([ReadRequest("What is this?", "A warm-up paragraph about nothing in particular.")] * WARMUP,
                     allow_no_answer=False)
    return reader


def run_ours(reader: Any, pairs: list[dict[str, str]]) -> tuple[dict[str, str], float]:
    from mrc.span import ReadRequest

    reqs = [ReadRequest(p["question"], p["context"], p["id"]) for p in pairs]
    t0 = time.perf_counter()
    answers = reader.read_batch(reqs, allow_no_answer=False)
    seconds = time.perf_counter() - t0
    return {r.source_id or "": a[0].text for r, a in zip(reqs, answers, strict=True)}, seconds


def footprint(model_dir: Path, onnx: Path | None) -> dict[str, float]:
    """Parameters of the model and the size on disk of what the system reads (the ONNX file, or
    the safetensors weights as stored)."""
    from safetensors import safe_open

    params = 0
    files = sorted(model_dir.glob("*.safetensors"))
    for f in files:
        with safe_open(str(f), "np") as fh:
            for k in fh.keys():
                shape = fh.get_slice(k).get_shape()
                params += int(np.prod(shape)) if shape else 1
    size = onnx.stat().st_size if onnx is not None else sum(f.stat().st_size for f in files)
    return {"parameters_m": round(params / 1e6, 2), "size_mb": round(size / 1e6, 1)}


def peer_worker(model_dir: str, data_file: str, out_file: str, threads: int, batch_size: int) -> None:
    """Runs inside the child process, with transformers 4.57 first on sys.path."""
    import torch
    import transformers
    from transformers import pipeline

    torch.set_num_threads(threads)
    pairs = json.loads(Path(data_file).read_text(encoding="utf-8"))
    qa = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device=-1, dtype=torch.float32)
    kw = {"max_seq_len": MAX_SEQ, "doc_stride": STRIDE, "max_answer_len": MAX_ANSWER, "top_k": 1}
    if batch_size > 1:
        kw["batch_size"] = batch_size

    def call(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        out = qa(question=[p["question"] for p in items], context=[p["context"] for p in items], **kw)
        return out if isinstance(out, list) else [out]

    call(pairs[:WARMUP])
    t0 = time.perf_counter()
    results = call(pairs)
    seconds = time.perf_counter() - t0
    preds = {p["id"]: r["answer"] for p, r in zip(pairs, results, strict=True)}
    payload = {"predictions": preds, "seconds": seconds, "transformers": transformers.__version__}
    Path(out_file).write_text(json.dumps(payload), encoding="utf-8")


def run_peer(model_dir: Path, pairs: list[dict[str, str]], threads: int, batch_size: int) -> dict[str, Any]:
    if not (PEER_ENV / "transformers").exists():
        sys.exit(
            f"the peer is not installed under {PEER_ENV}: run `python {Path(__file__).name} --setup-peer`"
        )
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "pairs.json", Path(tmp) / "out.json"
        data.write_text(json.dumps(pairs), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PEER_ENV), str(REPO)]), HF_HUB_OFFLINE="1")
        env["TRANSFORMERS_OFFLINE"] = "1"
        cmd = [sys.executable, __file__, "--peer-worker", str(model_dir), str(data), str(out)]
        cmd += ["--threads", str(threads), "--peer-batch-size", str(batch_size)]
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text(encoding="utf-8"))


def _compression(folder: Path) -> dict[str, Any]:
    """What `qa compress` recorded about a variant (pruning level, kept heads, distillation)."""
    try:
        info = json.loads((folder / "qa_reader.json").read_text(encoding="utf-8")).get("compression", {})
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in info.items() if k not in ("source", "row")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000, help="first N dev questions (default 1000)")
    ap.add_argument(
        "--model", type=Path, default=None, help="span reader folder (default: shipped or untrained)"
    )
    ap.add_argument("--batch-size", type=int, default=32, help="our windows per forward pass")
    ap.add_argument("--peer-batch-size", type=int, default=1, help="pipeline batch_size (1 = its default)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads, both")
    ap.add_argument("--setup-peer", action="store_true", help="install the peer's transformers 4.57 and exit")
    ap.add_argument("--peer-worker", nargs=3, metavar=("MODEL", "DATA", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help="results file (default results/reader-speed.json)")
    ap.add_argument("--rounds", type=int, default=5, help="slices of the questions read by every system in turn")
    ap.add_argument("--variant", type=Path, action="append", default=[],
                    help="a compressed reader folder (qa compress span) to measure as one more system")
    args = ap.parse_args()
    if args.peer_worker:
        peer_worker(*args.peer_worker, threads=args.threads, batch_size=args.peer_batch_size)
        return
    if args.setup_peer:
        install_apart(PEER_ENV, PEER_PACKAGES)
        return

    import torch

    from mrc.datasets import load_squad
    from mrc.metrics import normalize_answer, squad_v1_evaluate
    from mrc.onnx_export import onnx_info
    from qa.core.paths import MODELS_DIR

    timer = Timer()
    torch.set_num_threads(args.threads)
    ds = load_squad(find_data("mrc/squad-v1.1-dev.json.gz")).subset(args.limit)
    pairs = [{"id": e.qid, "question": e.question, "context": e.context} for e in ds.examples]
    shipped = MODELS_DIR / "span-minilm-l6"
    if args.model:
        model_dir, weights = args.model, "given"
    elif (shipped / "config.json").exists():
        model_dir, weights = shipped, "trained"
    else:
        model_dir, weights = untrained_model(), "untrained"
    print(f"model {model_dir} ({weights}); {len(pairs)} questions; {args.threads} threads", file=sys.stderr)

    runs: list[tuple[str, Path, str | None]] = [("ours_torch", model_dir, "torch"),
                                                 ("ours_onnx_fp32", model_dir, "onnx-fp32"),
                                                 ("ours_default", model_dir, None)]
    runs += [(v.name.replace("-", "_"), v, "onnx") for v in args.variant]
    readers = {name: make_reader(folder, args.batch_size, backend) for name, folder, backend in runs}
    # Rounds: every system reads the same slice of questions in turn, so a change of the shared
    # machine's load during the run hits all systems alike instead of whichever ran then.
    results: dict[str, tuple[dict[str, str], float]] = {name: ({}, 0.0) for name in ["hf_pipeline", *readers]}
    peer: dict[str, Any] = {}
    bounds = np.linspace(0, len(pairs), max(1, args.rounds) + 1).astype(int)
    for r, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        part = pairs[a:b]
        peer = run_peer(model_dir, part, args.threads, args.peer_batch_size)
        preds, seconds = results["hf_pipeline"]
        results["hf_pipeline"] = ({**preds, **peer["predictions"]}, seconds + peer["seconds"])
        for name, reader in readers.items():
            got, s = run_ours(reader, part)
            preds, seconds = results[name]
            results[name] = ({**preds, **got}, seconds + s)
        print(f"round {r + 1}/{len(bounds) - 1}: " + ", ".join(
            f"{n} {(b - bounds[0]) / t:.1f} q/s" for n, (_, t) in results.items()), file=sys.stderr)
    peer["predictions"] = results["hf_pipeline"][0]
    sizes = {"hf_pipeline": footprint(model_dir, None)}
    sizes.update({name: footprint(folder, getattr(readers[name].model, "path", None)) for name, folder, _ in runs})
    systems: dict[str, dict[str, float]] = {}
    for name, (preds, seconds) in results.items():
        m = squad_v1_evaluate(ds.data, preds)
        systems[name] = {
            "questions_per_s": round(len(pairs) / seconds, 2),
            "f1": round(m["f1"], 2),
            "exact_match": round(m["exact_match"], 2),
            "seconds": round(seconds, 2),
            **sizes[name],
        }
    peer_qps, peer_f1 = systems["hf_pipeline"]["questions_per_s"], systems["hf_pipeline"]["f1"]
    ours_preds = results["ours_torch"][0]
    same = sum(normalize_answer(ours_preds[k]) == normalize_answer(v) for k, v in peer["predictions"].items())
    metrics: dict[str, float] = {
        "default_speedup": round(systems["ours_default"]["questions_per_s"] / peer_qps, 2),
        "default_f1_difference": round(systems["ours_default"]["f1"] - peer_f1, 2),
        "same_answer_pct": round(100.0 * same / len(pairs), 2),
    }
    for name in systems:
        if name not in ("hf_pipeline", "ours_default"):
            metrics[f"{name}_speedup"] = round(systems[name]["questions_per_s"] / peer_qps, 2)
            metrics[f"{name}_f1_difference"] = round(systems[name]["f1"] - peer_f1, 2)
    if args.out is None and len(pairs) < 1000:
        args.out = RESULTS / "reader-speed-limit.json"  # quick looks stay out of the table
    path = write_results(
        "reader-speed",
        f"SQuAD v1.1 dev, first {len(pairs)} questions, gold paragraph",
        metrics,
        wall_s=timer.elapsed,
        systems=systems,
        out=args.out,
        extra={
            "weights": weights,
            "model": str(model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir),
            "settings": {
                "max_seq_length": MAX_SEQ,
                "doc_stride": STRIDE,
                "max_answer_length": MAX_ANSWER,
                "threads": args.threads,
                "ours_batch_size": args.batch_size,
                "pipeline_batch_size": args.peer_batch_size,
                "rounds": args.rounds,
            },
            "peer": f"transformers {peer['transformers']} pipeline('question-answering'), child process",
            "default_path": {k: v for k, v in onnx_info(model_dir).items() if k not in ("model_dir", "fingerprint")},
            "variants": {v.name.replace("-", "_"): _compression(v) for v in args.variant},
            "cpu": machine()["cpu"],
        },
    )
    print(json.dumps({"systems": systems, "metrics": metrics}, indent=1))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
