"""`qa read`: run a reader on a text you give it, without any index.

With `--option` (two or more) it scores the options with the multiple-choice reader; otherwise it
extracts a span with the span reader and shows it marked in its context, so a user can check what
the reader saw.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.core.text import check_question, decode_utf8, printable, read_text
from qa.core.types import Answer, ChoiceEvidence
from qa.render import marked, print_json, printable_copy

MAX_OPTIONS = 26
MAX_CONTEXT_CHARS = 2_000_000  # a 2 MB context is a mistake (a whole corpus), not a passage
SNIPPET_CHARS = 400
LONG_CONTEXT_CHARS = 20_000  # about a second of reading on a CPU: say that something is happening

console = Console()


def _context(context: str | None, context_file: Path | None) -> str:
    if (context is None) == (context_file is None):
        raise InputError("give exactly one of --context TEXT or --context-file FILE")
    if context_file is not None and str(context_file) == "-":  # `cat article.txt | qa read -f - -q ...`
        raw = sys.stdin.buffer.read(MAX_CONTEXT_CHARS * 4 + 4)
        if len(raw) > MAX_CONTEXT_CHARS * 4:
            raise InputError(f"the context on standard input is longer than the limit of {MAX_CONTEXT_CHARS:,} "
                             "characters")
        context = decode_utf8(raw, "the context on standard input")
    elif context_file is not None:
        context = read_text(context_file, MAX_CONTEXT_CHARS)  # a folder, a missing file, bad UTF-8: one error
    assert context is not None
    if not context.strip():
        raise InputError("the context is empty")
    if len(context) > MAX_CONTEXT_CHARS:
        raise InputError(f"the context is {len(context):,} characters; the limit is {MAX_CONTEXT_CHARS:,}")
    return context


def read(
    question: Annotated[str, typer.Option("--question", "-q", help="The question to answer.")],
    context: Annotated[str | None, typer.Option("--context", "-c", help="The passage to read.")] = None,
    context_file: Annotated[
        Path | None, typer.Option("--context-file", "-f", help='Read the passage from a UTF-8 file ("-": standard '
                                                               'input).')
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
    overrides = {"choice_model" if option else "span_model": str(model) if model else None}
    settings = Settings.load(flags={"choice_model": "--model", "span_model": "--model"}, **overrides)
    question = check_question(question, settings.max_question_chars)
    text = _context(context, context_file)
    if option is not None and len(option) < 2:
        raise InputError("give at least two --option values (or none for span extraction)")
    if option is not None and top_k != 1:  # it was dropped without a word: every option is scored
        raise InputError("--top-k is for span answers; with --option every option is scored and shown")
    if option is not None and len(option) > MAX_OPTIONS:  # labelled A to Z, as RACE files letter them
        raise InputError(f"give at most {MAX_OPTIONS} --option values (they are labelled A to Z)")
    from qa.engine import Engine

    engine = Engine(settings)
    status = Console(stderr=True).status(f"reading {len(text):,} characters", spinner="dots")
    with status if len(text) > LONG_CONTEXT_CHARS else contextlib.nullcontext():
        answers = engine.read(question, text, option or None, top_k=0 if option else top_k)
    if as_json:
        print_json([a.to_dict() for a in answers])
        return
    answers = [printable_copy(a) for a in answers]  # a passage's escape sequences are shown, not obeyed
    if option:
        _print_choice(printable(question), answers[0])
        return
    for rank, a in enumerate(answers, 1):
        head = f"{rank}. " if top_k > 1 else ""
        if a.no_answer:
            line = Text(f"{head}No answer in this context (confidence {a.score:.2f})", style="bold red")
            if a.best_guess is not None:
                line.append(f"; best guess: {a.best_guess.text} ({a.best_guess.score:.2f})", style="yellow")
            console.print(line)
            continue
        console.print(Text.assemble(head, (a.text, "bold green"), f"  score {a.score:.2f}  chars {a.start}-{a.end}"))
        if rank == 1 and a.span is not None:
            console.print(marked(a.span.text, a.start, a.end, width=SNIPPET_CHARS))


def _print_choice(question: str, best: Answer) -> None:
    ev = best.evidence
    assert isinstance(ev, ChoiceEvidence)
    table = Table(title=Text(question), show_lines=False)
    table.add_column("")
    table.add_column("option")
    table.add_column("probability", justify="right")
    for i, (opt, p) in enumerate(zip(ev.options, ev.probabilities, strict=True)):
        table.add_row(chr(65 + i), Text(opt), f"{p:.3f}",
                      style="bold green" if i == ev.chosen else "")
    console.print(table)
    if ev.context_chars_read is not None:  # the reader reads one window: the rest it never saw
        console.print(Text(f"note: the reader read the first {ev.context_chars_read:,} of the article's "
                           f"{len(ev.context):,} characters (one window of its input); the rest was not read",
                           style="yellow"))


def register(app: typer.Typer) -> None:
    app.command("read")(read)
