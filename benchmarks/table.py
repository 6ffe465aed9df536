"""Regenerates the results table of benchmarks/README.md from benchmarks/results/*.json, so the
table can never disagree with the files the benchmarks wrote.

    python benchmarks/table.py           # rewrites the table in benchmarks/README.md
    python benchmarks/table.py --check   # exit 1, with the difference, when the table is out of date
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _fmt(v: object) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _metrics(d: dict) -> str:
    return ", ".join(f"{k} {_fmt(v)}" for k, v in d.items())


def rows() -> list[str]:
    out = ["| benchmark | dataset | system / model | metrics | date |", "|---|---|---|---|---|"]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        if "-limit" in path.stem:
            continue  # quick looks on a subset are not results
        date = str(r.get("date", ""))[:10]
        model = r.get("model") or r.get("encoder") or ""
        # a variant run (api-load-without-question-judge.json) is told apart from the benchmark's own
        name = r["name"] if path.stem == r["name"] else f"{r['name']} ({path.stem})"
        if r.get("metrics"):
            out.append(f"| {name} | {r.get('dataset', '')} | {model} | {_metrics(r['metrics'])} | {date} |")
        for system, m in (r.get("systems") or {}).items():
            out.append(f"| {name} | {r.get('dataset', '')} | {system} | {_metrics(m)} | {date} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing: exit 1 with the difference when the "
                                                         "table in benchmarks/README.md is not what the results say")
    args = ap.parse_args(argv)
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    table = "\n".join([START, *rows(), END])
    if START in text and END in text:
        new = text[: text.index(START)] + table + text[text.index(END) + len(END):]
    else:
        new = text.rstrip() + "\n\n" + table + "\n"
    if args.check:
        diff = list(difflib.unified_diff(text.splitlines(), new.splitlines(), "benchmarks/README.md", "results",
                                         lineterm=""))
        print("\n".join(diff) if diff else "the table is up to date")
        return 1 if diff else 0
    from qa.core.atomic import atomic_write_text

    atomic_write_text(readme, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
