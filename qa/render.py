"""Terminal rendering of answers (`qa ask`, `qa kbqa`, `qa chat`, `qa read`).

Every piece of data (answers, passages, labels, SPARQL) goes into `rich.text.Text` objects, never
into markup strings, so a `[/]` in a question or a graph label is shown as typed instead of being
read as rich markup; and every string is made `printable` first, so escape sequences stored in a
passage or a label are shown, not obeyed by the terminal.
"""

from __future__ import annotations

import errno
import io
import sys
from typing import Any, TypeVar

from pydantic import BaseModel
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from qa.core.text import clip, counted, printable
from qa.core.types import Answer, ChoiceEvidence, GraphEvidence, Response, SpanEvidence, ThreadEvidence

SNIPPET_CHARS = 250
M = TypeVar("M", bound=BaseModel)


def print_json(data: str | Any, *, one_line: bool = False) -> None:
    """`--json` output: JSON text (a document, or data to write as one), indented (or one line, for
    a JSON-lines listing), on standard output as it is. Through rich it was coloured wherever rich
    took the output for a terminal (FORCE_COLOR=1, as CI sets it) and then was no JSON, and
    COLUMNS=0 printed nothing at all."""
    import json
    import sys

    doc = json.loads(data) if isinstance(data, str) else data
    sys.stdout.write(json.dumps(doc, indent=None if one_line else 2, ensure_ascii=not writes_unicode(sys.stdout))
                     + "\n")
    sys.stdout.flush()


def writes_unicode(stream: Any) -> bool:
    """Whether `stream` takes every character (UTF-8): JSON for one that does not is written with
    escapes ("\\u00fc"), which lose nothing, where its "?" for what it cannot hold would."""
    return (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-") in ("utf-8", "utf8")


def marked(text: str, start: int | None, end: int | None, width: int = SNIPPET_CHARS) -> Text:
    """`text` around [start, end) with the span highlighted and ellipses where it was cut."""
    if start is None or end is None:
        return Text(text[: 2 * width] + ("…" if len(text) > 2 * width else ""))
    lo, hi = max(0, start - width), min(len(text), end + width)
    out = Text("…" if lo else "")
    out.append(text[lo:start])
    out.append(text[start:end], style="bold black on yellow")
    out.append(text[end:hi])
    if hi < len(text):
        out.append("…")
    return out


def evidence_lines(a: Answer) -> list[Text]:
    ev = a.evidence
    lines: list[Text] = []
    if isinstance(ev, SpanEvidence):
        if ev.text:
            lines.append(marked(ev.text, ev.start, ev.end))
        src = Text("source: ", style="dim")
        src.append(f"{ev.title or ev.source} [{ev.passage_id}]", style="dim")  # untitled JSON line: file and line
        if ev.collection:
            src.append(f" in {ev.collection}", style="dim")
        if ev.also_in:
            src.append(f" (also in {len(ev.also_in)} more: {', '.join(ev.also_in[:3])}"
                       f"{'…' if len(ev.also_in) > 3 else ''})", style="dim")
        lines.append(src)
    elif isinstance(ev, GraphEvidence):
        shown = list(ev.entities)
        if ev.anchor is not None and all(e.iri != ev.anchor.iri for e in shown):
            shown.insert(0, ev.anchor)  # the query starts there: never leave it out of the explanation
        ents = ", ".join(f"{e.label} ({e.method} {e.score:.2f})" for e in shown)
        lines.append(Text.assemble(("linked: ", "dim"), ents or "-"))
        path = " -> ".join(s.label + ("" if s.direction == "forward" else " (inverse)") for s in ev.path)
        lines.append(Text.assemble(("path: ", "dim"), path or "-"))
        if ev.constraints:
            lines.append(Text.assemble(("constraints: ", "dim"), ", ".join(ev.constraints)))
        if ev.more_answers:
            lines.append(Text(f"answers: the first {ev.n_answers} (the query's LIMIT; the graph may hold more)",
                              style="dim"))
        if ev.sparql:
            lines.append(Text("sparql:", style="dim"))
            lines.append(Text(ev.sparql))
    elif isinstance(ev, ThreadEvidence):
        lines.append(Text.assemble(("matched question: ", "dim"), ev.title or ev.question[:200]))
        if ev.caveat:
            lines.append(Text.assemble(("but: ", "yellow"), ev.caveat))
        if ev.answer:
            lines.append(marked(ev.answer, ev.start, ev.end, width=400))
        meta = [f"thread {ev.thread_id}"]
        if ev.via_duplicate:
            meta.append(f"matched through its duplicate {ev.via_duplicate}")
        if ev.votes is not None:
            meta.append(counted(ev.votes, "vote"))
        if ev.accepted:
            meta.append("accepted")
        if ev.source and not (ev.accepted and ev.source == "accepted"):  # "accepted, accepted"
            meta.append(ev.source)
        lines.append(Text(", ".join(meta), style="dim"))
    elif isinstance(ev, ChoiceEvidence):
        for i, (opt, p) in enumerate(zip(ev.options, ev.probabilities, strict=True)):
            lines.append(Text(f"{chr(65 + i) if i < 26 else i}. {opt}  {p:.3f}",
                              style="bold green" if i == ev.chosen else ""))
    return lines


def answer_panel(a: Answer, rank: int) -> Panel:
    if a.no_answer:
        head = Text(f"No answer (confidence {a.score:.2f})", style="bold red")
        body: list[Text] = [head]
        if a.best_guess is not None:
            g = a.best_guess
            body.append(Text.assemble(("best guess: ", "yellow"), (clip(g.text), "bold"), f"   score {g.score:.2f}"))
            body.extend(evidence_lines(g))
        return Panel(Group(*body), title=f"#{rank} {a.route}", border_style="red")
    head = Text.assemble((clip(a.text), "bold green"), f"   score {a.score:.2f}")
    return Panel(Group(head, *evidence_lines(a)), title=f"#{rank} {a.route}", border_style="green")


def printable_copy(model: M) -> M:
    """A copy of a response or an answer with every string made `printable` (stored text may hold
    terminal escape sequences; offsets stay valid, one character for one)."""
    def clean(x: Any) -> Any:
        if isinstance(x, str):
            return printable(x)
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return type(model).model_validate(clean(model.model_dump()))


def print_response(console: Console, resp: Response, *, explain: bool = True) -> None:
    resp = printable_copy(resp)
    warn = Console(stderr=True)
    for route, why in resp.routing.failed.items():  # the other sources answered; the user should still know
        warn.print(Text.assemble(("warning: ", "bold yellow"), f"{route} could not answer: {why}"), soft_wrap=True)
    if resp.rewritten and resp.rewritten != resp.question:
        console.print(Text.assemble(("understood as: ", "dim"), resp.rewritten))
    for rank, a in enumerate(resp.answers, 1):
        console.print(answer_panel(a, rank))
    if explain:
        console.print(Text.assemble(("route: ", "dim"), (str(resp.routing.chosen), "bold"), " — ",
                                    (resp.routing.reason, "dim")))
        t = resp.timings
        console.print(Text(f"{t.get('total_s', 0):.2f}s", style="dim"))


class ClosedOutput(io.TextIOBase):
    """Standard output closed (`>&-`): the answers were written to the null device, exit 0, and a
    cron job lost them without a sign. A command that writes to it fails as writing to a full disk
    does (one line, exit 2); one that writes nothing there is unaffected, and a server's status lines
    go to stderr instead (`status_console`)."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed: nothing could be written")

    def isatty(self) -> bool:
        return False


def status_console() -> Console:
    """Where a long-running command says how it is doing: standard output, or standard error when
    that is closed (`qa serve >&-`, as a service manager may start it: it did not start)."""
    return Console(stderr=isinstance(sys.stdout, ClosedOutput))
