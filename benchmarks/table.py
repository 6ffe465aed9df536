"""Regenerates the results table of benchmarks/README.md from benchmarks/results/*.json, so the
table can never disagree with the files the benchmarks wrote.

    python benchmarks/table.py
"""

from __future__ import annotations

import json
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
        if r.get("metrics"):
            out.append(f"| {r['name']} | {r.get('dataset', '')} | {model} | {_metrics(r['metrics'])} | {date} |")
        for system, m in (r.get("systems") or {}).items():
            out.append(f"| {r['name']} | {r.get('dataset', '')} | {system} | {_metrics(m)} | {date} |")
    return out


def main() -> None:
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    table = "\n".join([START, *rows(), END])
    if START in text and END in text:
        text = text[: text.index(START)] + table + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    from qa.core.atomic import atomic_write_text

    atomic_write_text(readme, text)


if __name__ == "__main__":
    main()
