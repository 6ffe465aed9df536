"""`qa read`: run a reader on a text you give it, without any index.

With `--option` (two or more) it scores the options with the multiple-choice reader; otherwise it
extracts a span with the span reader and shows it marked in its context, so a user can check what
the reader saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from qa.errors import InputError
from qa.settings import Settings
from qa.types import Answer
from qa.validation import check_question

MAX_CONTEXT_CHARS = 2_000_000  # a 2 MB context is a mistake (a whole corpus), not a passage
SNIPPET_CHARS = 400

console = Console()


def _context(context: str | None, context_file: Path | None) -> str:
    if (context is None) == (context_file is None):
        raise InputError("give exactly one of --context TEXT or --context-file FILE")
    if context_file is not None:
        if not context_file.is_file():
            raise InputError(f"context file not found: {context_file}")
        try:
            context = context_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{context_file} is not UTF-8 text (byte {exc.start})") from exc
    assert context is not None
    if not context.strip():
        raise InputError("the context is empty")
    if len(context) > MAX_CONTEXT_CHARS:
        raise InputError(f"the context is {len(context):,} characters; the limit is {MAX_CONTEXT_CHARS:,}")
    return context


def marked(answer: Answer, width: int = SNIPPET_CHARS) -> Text:
    """The evidence around the answer with the span highlighted (ellipses where cut)."""
    evidence = answer.evidence or ""
    if answer.start is None or answer.end is None:
        return Text(evidence[: 2 * width] + ("…" if len(evidence) > 2 * width else ""))
    lo, hi = max(0, answer.start - width), min(len(evidence), answer.end + width)
    text = Text("…" if lo else "")
    text.append(evidence[lo : answer.start])
    text.append(evidence[answer.start : answer.end], style="bold black on yellow")
    text.append(evidence[answer.end : hi])
    if hi < len(evidence):
        text.append("…")
    return text


def read(
    question: Annotated[str, typer.Option("--question", "-q", help="The question to answer.")],
    context: Annotated[str | None, typer.Option("--context", "-c", help="The passage to read.")] = None,
    context_file: Annotated[
        Path | None, typer.Option("--context-file", "-f", help="Read the passage from a UTF-8 file.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="A candidate answer; two or more switch to the multiple-choice reader."
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Reader model folder (Hugging Face layout).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50, help="Span answers to show.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")] = False,
) -> None:
    """Answer a question from a given passage (span), or score given options (multiple choice)."""
    question = check_question(question)
    text = _context(context, context_file)
    settings = Settings.load()
    if option:
        _choice(settings, model, text, question, option, as_json)
    else:
        _span(settings, model, text, question, top_k, as_json)


def _span(
    settings: Settings, model: Path | None, text: str, question: str, top_k: int, as_json: bool
) -> None:
    from mrc.span import SpanReader

    answers = SpanReader(settings, model_dir=model).read(question, text, top_k=top_k)
    if as_json:
        console.print_json(json.dumps([_brief(a) for a in answers]))
        return
    for rank, a in enumerate(answers, 1):
        head = f"[bold]{rank}.[/] " if top_k > 1 else ""
        if a.no_answer:
            console.print(f"{head}[bold red]No answer[/] in this context (confidence {a.score:.2f})")
            continue
        console.print(f"{head}[bold green]{a.text}[/]  score {a.score:.2f}  chars {a.start}-{a.end}")
        if rank == 1:
            console.print(marked(a))


def _choice(
    settings: Settings, model: Path | None, text: str, question: str, options: list[str], as_json: bool
) -> None:
    from mrc.choice import ChoiceReader

    if len(options) < 2:
        raise InputError("give at least two --option values (or none for span extraction)")
    reader = ChoiceReader(settings, model_dir=model)
    probs = reader.probabilities(text, question, options)
    best = max(range(len(probs)), key=probs.__getitem__)
    if as_json:
        console.print_json(
            json.dumps([{"option": o, "probability": p} for o, p in zip(options, probs, strict=True)])
        )
        return
    table = Table(title=question, show_lines=False)
    table.add_column("")
    table.add_column("option")
    table.add_column("probability", justify="right")
    for i, (opt, p) in enumerate(zip(options, probs, strict=True)):
        style = "bold green" if i == best else ""
        table.add_row(chr(65 + i) if i < 26 else str(i), opt, f"{p:.3f}", style=style)
    console.print(table)


def _brief(a: Answer) -> dict[str, object]:
    return {
        "text": a.text,
        "score": a.score,
        "no_answer": a.no_answer,
        "start": a.start,
        "end": a.end,
        "raw_score": a.raw_score,
    }


def register(app: typer.Typer) -> None:
    app.command("read")(read)
