"""race: the shipped multiple-choice reader on the full RACE dev set (middle, high, all).

Runs the `qa eval race` code path and writes benchmarks/results/race.json.

    python benchmarks/race.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Timer, find_data, repo_relative, run_cli_metrics, write_results


def run(model: str | None, limit: int | None) -> Path:
    timer = Timer()
    argv = ["eval", "race", str(find_data("mrc/race-dev.jsonl.gz"))]
    argv += ["--model", model] if model else []
    argv += ["--limit", str(limit)] if limit else []
    raw = run_cli_metrics(argv)
    metrics = {
        "accuracy": round(float(raw["all"]), 2),
        # a --limit slice may hold one level only: the other has no figure
        "accuracy_middle": None if raw["middle"] is None else round(float(raw["middle"]), 2),
        "accuracy_high": None if raw["high"] is None else round(float(raw["high"]), 2),
        "questions": int(raw["all_total"]),
        "questions_per_s": round(float(raw["questions_per_s"]), 2),
    }
    return write_results(
        "race" + ("-limit" if limit else ""),
        "RACE dev (1,389 articles, 4,887 questions)" + (f", first {limit}" if limit else ""),
        metrics, wall_s=timer.elapsed, extra={"model": repo_relative(raw["model"])},
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="multiple-choice reader folder (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    print(run(args.model, args.limit))
