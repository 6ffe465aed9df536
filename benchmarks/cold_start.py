"""cold-start: wall time and peak memory of a fresh `qa` process, median of 5 runs.

Commands: `qa --help`, and `qa ask "<question>"` on the embedded default (the router picks the
source; the answer is read with the default backends), each run as a new process after one
warm-up run (so the operating system's file cache is warm, as it is for any command run twice;
the ONNX copies in the user's cache are built by the warm-up if missing). Peak memory is the
child's maximum resident set size (`wait4`). Absolute seconds depend on the machine's load:
`uptime` load averages before and after are recorded, and a noisy run should be repeated.

The figures measured when this benchmark was introduced (issue 14's start) are kept under
`baseline` for comparison.

    python benchmarks/cold_start.py              # -> results/cold-start.json
    python benchmarks/cold_start.py --runs 3     # quicker look -> results/cold-start-limit.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    from benchmarks.common import REPO, RESULTS, Timer, machine, write_results
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, RESULTS, Timer, machine, write_results

QUESTION = "Who proposed the theory of general relativity?"
# Measured before the fast path (torch reader and encoder), same machine type.
BASELINE = {
    "issue_start": {"ask_s": 5.4, "ask_peak_mb": 640, "help_imports_torch": True,
                    "note": "as filed in issue 14 (qa ask cold, before the core-layer rework)"},
    "this_work_start": {"help_s": 0.33, "ask_webqa_s": 5.49,
                        "note": "2026-11-30, one run each, load average 0.1: `qa --help`; `qa ask --route webqa "
                                "...` (auto routing then failed: the router model was not yet built)"},
}


def qa_exe() -> str:
    exe = Path(sys.executable).parent / "qa"
    return str(exe) if exe.exists() else "qa"


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode:
        print(f"{' '.join(cmd)} exited {proc.returncode}: {err.strip()[-300:]}", file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def measure(cmd: list[str], runs: int) -> dict[str, float]:
    timed(cmd)  # warm-up, not counted
    walls, peaks, codes = [], [], []
    for _ in range(runs):
        s, mb, rc = timed(cmd)
        walls.append(s)
        peaks.append(mb)
        codes.append(rc)
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "max_s": round(max(walls), 3), "peak_mb": round(max(peaks), 1),
            "failed_runs": sum(1 for c in codes if c)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    timer = Timer()
    load_before = os.getloadavg()
    qa = qa_exe()
    systems = {
        "help": measure([qa, "--help"], args.runs),
        "ask": measure([qa, "ask", args.question], args.runs),
        "ask_webqa": measure([qa, "ask", "--route", "webqa", args.question], args.runs),
    }
    load_after = os.getloadavg()
    metrics = {"help_s": systems["help"]["median_s"], "ask_s": systems["ask"]["median_s"],
               "ask_webqa_s": systems["ask_webqa"]["median_s"], "ask_peak_mb": systems["ask"]["peak_mb"]}
    if args.out is None and args.runs < 5:
        args.out = RESULTS / "cold-start-limit.json"
    path = write_results(
        "cold-start", f"fresh processes on the embedded default, median of {args.runs} after one warm-up",
        metrics, wall_s=timer.elapsed, systems=systems, out=args.out,
        extra={"question": args.question, "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in load_after], "baseline": BASELINE,
               "cpu": machine()["cpu"]},
    )
    print(json.dumps({"systems": systems, "metrics": metrics}, indent=1))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
