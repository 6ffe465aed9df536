"""lookahead-cost: what the engine's look ahead at the community store costs a routed question.

Before the classifier's order is followed, a store of answered questions that holds the question
itself is asked first (`Engine._held_first`, `CommunityQA.holds`): one match of the store for
every question the classifier sends elsewhere first. Measured in one process on the embedded
default over api-load's mixed auto-routed questions, each asked with the look ahead and without
it, the two interleaved (and their order alternated each round) so that the machine's load falls
on both alike.

    python benchmarks/lookahead_cost.py            # -> results/lookahead-cost.json
    python benchmarks/lookahead_cost.py --rounds 1 # a quick look -> results/lookahead-cost-limit.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api_load import ROUTED  # noqa: E402
from benchmarks.common import RESULTS, write_results  # noqa: E402

ROUNDS = 3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--out", type=Path, default=None, help="results file (default: results/lookahead-cost.json; "
                                                          "lookahead-cost-limit.json with fewer rounds)")
    args = ap.parse_args(argv)
    from qa.core.types import Question, Route
    from qa.engine import Engine

    t0 = time.perf_counter()
    engine = Engine()
    engine.warm_up()
    for q in ROUTED:  # every path warm before timing
        engine.ask(q)
    looking = engine._held_first

    def not_looking(q: Question, order: list[Route]) -> tuple[list[Route], str | None]:
        return order, None

    times: dict[str, list[float]] = {"with": [], "without": []}
    held = 0
    for rnd in range(args.rounds):
        for q in ROUTED:
            for mode in ("with", "without") if rnd % 2 == 0 else ("without", "with"):
                engine._held_first = looking if mode == "with" else not_looking  # type: ignore[method-assign]
                start = time.perf_counter()
                resp = engine.ask(q)
                times[mode].append(time.perf_counter() - start)
                held += mode == "with" and "holds this question" in resp.routing.reason
    metrics = {
        "mean_ms_with": 1000 * statistics.mean(times["with"]),
        "mean_ms_without": 1000 * statistics.mean(times["without"]),
        "p50_ms_with": 1000 * statistics.median(times["with"]),
        "p50_ms_without": 1000 * statistics.median(times["without"]),
        "questions": len(ROUTED),
        "asked_first_from_the_store": held // args.rounds,
    }
    print(metrics, file=sys.stderr)
    write_results("lookahead-cost", f"api-load's {len(ROUTED)} auto-routed questions on the embedded default, "
                  f"{args.rounds} rounds, with and without the look ahead interleaved", metrics,
                  wall_s=time.perf_counter() - t0,
                  out=args.out or (RESULTS / "lookahead-cost-limit.json" if args.rounds < ROUNDS else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
