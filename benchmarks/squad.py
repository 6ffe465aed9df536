"""squad1 / squad2: the shipped span reader on the full SQuAD dev sets, official metrics.

Runs exactly the `qa eval squad` code path (so the benchmark measures what users run) and
wraps its metrics in the results-file format of ../shared/BENCHMARKS.md.

    python benchmarks/squad.py --version 1        # -> benchmarks/results/squad1.json
    python benchmarks/squad.py --version 2        # -> benchmarks/results/squad2.json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import Timer, find_data, repo_relative, run_cli_metrics, write_results

FILES = {1: "mrc/squad-v1.1-dev.json.gz", 2: "mrc/squad-v2.0-dev.reconstructed.json.gz"}
DATASETS = {1: "SQuAD v1.1 dev (10,570 questions)", 2: "SQuAD v2.0 dev, reconstructed (11,873 questions)"}


def run(version: int, model: str | None, limit: int | None, predictions: Path | None = None) -> Path:
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["eval", "squad", str(find_data(FILES[version])), "--version", str(version),
                "--out", str(predictions or Path(tmp) / "pred.json")]
        argv += ["--model", model] if model else []
        argv += ["--limit", str(limit)] if limit else []
        raw = run_cli_metrics(argv)
    keep = ("exact_match", "f1") if version == 1 else (
        "exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1")
    metrics = {k: round(float(raw[k]), 2) for k in keep if k in raw}
    if version == 2:
        metrics["exact_match"] = metrics["exact"]
        metrics["NoAns_accuracy"] = metrics.get("NoAns_exact", 0.0)
    metrics["questions_per_s"] = round(float(raw["questions_per_s"]), 2)
    return write_results(
        f"squad{version}" + ("-limit" if limit else ""),
        DATASETS[version] + (f", first {limit}" if limit else ""), metrics, wall_s=timer.elapsed,
        extra={"model": repo_relative(raw["model"]), "backend": _backend(),
               "protocol": "reader on the gold paragraph, windows of 384 tokens with stride 128; "
                           "v2 null threshold from the model's qa_reader.json (calibrated on held-out "
                           "training articles, never dev); best_* are the official script's oracle figures"},
    )


def _backend() -> str:
    """The reader runtime the default settings resolve to (the int8 ONNX copy on a CPU)."""
    from mrc.loading import resolve_backend
    from qa.core.settings import Settings

    s = Settings.load()
    return str(resolve_backend(s.span_backend, s.device))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", type=int, choices=(1, 2), default=1)
    ap.add_argument("--model", default=None, help="span reader folder (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--predictions", type=Path, default=None,
                    help="keep the predictions (the official script's input) in this file")
    args = ap.parse_args()
    print(run(args.version, args.model, args.limit, args.predictions))
