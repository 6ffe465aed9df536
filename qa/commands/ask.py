"""`qa ask "question"`: answers from the passage collection (the embedded default unless an index
folder is given), with the evidence and the answer marked in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from qa.settings import Settings
from qa.types import Answer

out = Console()


def _evidence(a: Answer, width: int = 500) -> Text:
    """The passage around the answer, the answer itself highlighted."""
    ev = a.evidence or ""
    if a.start is None or a.end is None:
        return Text(ev[:width])
    lo = max(0, a.start - width // 2)
    hi = min(len(ev), a.end + width // 2)
    t = Text(("…" if lo else "") + ev[lo : a.start])
    t.append(ev[a.start : a.end], style="bold black on yellow")
    t.append(ev[a.end : hi] + ("…" if hi < len(ev) else ""))
    return t


def read_stdin_question(limit: int) -> str:
    """Reads at most a little more than the limit, so a huge input is refused, not loaded."""
    import sys

    from qa.errors import InputError

    raw = sys.stdin.buffer.read(limit * 4 + 4)
    if len(raw) > limit * 4:
        raise InputError(f"the question on standard input is longer than the limit of {limit:,} characters")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("the question on standard input is not UTF-8 text") from exc


def ask(
    question: Annotated[str, typer.Argument(help='The question, in quotes; "-" reads it from standard input.')],
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Index folder built by `qa index`.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50, help="Answers to show.")] = 3,
    read_k: Annotated[int | None, typer.Option(min=1, max=100, help="Passages the reader reads.")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Span reader folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")] = False,
) -> None:
    """Answer a question from passages: hybrid retrieval (FAISS + BM25), then the span reader."""
    from qa.validation import check_question
    from qa.webqa import WebQA

    settings = Settings.load(span_model=str(model) if model else None)
    if question == "-":
        question = read_stdin_question(settings.max_question_chars)
    check_question(question, settings.max_question_chars)
    if index is not None and not index.is_dir():
        from qa.errors import InputError

        raise InputError(f"index folder not found: {index} (build one with `qa index PATH --out DIR`)")
    answers = WebQA(settings, index_dir=index).ask(question, top_k=top_k, read_k=read_k)
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in answers], ensure_ascii=False))
        return
    for rank, a in enumerate(answers, 1):
        if a.no_answer:
            out.print(Panel(Text(f"No answer found in the passages (confidence {a.score:.2f})."),
                            title=f"#{rank}", border_style="red"))
            continue
        head = Text.assemble((a.text, "bold green"), f"   score {a.score:.2f}")
        src = f"{a.title or ''} [{a.source_id}]"
        if a.extra.get("also_in"):
            src += f" (also in {len(a.extra['also_in'])} more)"
        body = Text.assemble(head, "\n\n", _evidence(a), "\n\n", (f"source: {src}", "dim"))
        out.print(Panel(body, title=f"#{rank}", border_style="green"))
    if answers:
        t = answers[0].timings
        out.print(f"[dim]retrieval {t.get('retrieve_s', 0):.2f}s, reading {t.get('read_s', 0):.2f}s[/]")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
