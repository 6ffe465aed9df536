"""race: the shipped multiple-choice reader on the full RACE dev set (middle, high, all).

Runs the `qa eval race` code path and writes benchmarks/results/race.json.

    python benchmarks/race.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import Timer, find_data, write_results

from qa.cli import main as qa_main


def run(model: str | None, limit: int | None) -> Path:
    data = find_data("mrc/race-dev.jsonl.gz")
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        metrics_path = Path(tmp) / "metrics.json"
        argv = ["eval", "race", str(data), "--metrics-out", str(metrics_path)]
        if model:
            argv += ["--model", model]
        if limit:
            argv += ["--limit", str(limit)]
        code = qa_main(argv)
        if code:
            raise SystemExit(code)
        raw = json.loads(metrics_path.read_text())
    metrics = {
        "accuracy": round(float(raw["all"]), 2),
        "accuracy_middle": round(float(raw["middle"]), 2),
        "accuracy_high": round(float(raw["high"]), 2),
        "questions": int(raw["all_total"]),
        "questions_per_s": round(float(raw["questions_per_s"]), 2),
    }
    model_dir = Path(raw["model"])
    return write_results(
        "race" + ("-limit" if limit else ""),
        "RACE dev (1,389 articles, 4,887 questions)" + (f", first {limit}" if limit else ""),
        metrics, wall_s=timer.elapsed,
        extra={"model": model_dir.relative_to(Path.cwd()).as_posix() if model_dir.is_relative_to(Path.cwd())
               else str(model_dir)},
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="multiple-choice reader folder (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    print(run(args.model, args.limit))
