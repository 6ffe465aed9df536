"""`qa chat`: a conversation in the terminal. The engine loads once and answers question after
question; follow-ups ("When did he die?") are rewritten from the earlier turns, and the rewrite
is shown. `/help` lists the commands; Ctrl-D or `/quit` ends the conversation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from qa.commands import check_graph_file
from qa.core.errors import InputError, QAError

if TYPE_CHECKING:
    from qa.engine import Engine

out = Console()
err = Console(stderr=True)
HELP = ("/route auto|webqa|kbqa|cqa  ask one source (or let the router decide)\n"
        "/collection NAME|all         answer from one passage collection alone (or all sources)\n"
        "/new                         forget the conversation (no more follow-ups to it)\n"
        "/quit                        leave (Ctrl-D works too)")
MAX_TURNS = 10
MAX_LINE_BYTES = 100_000 * 4 + 8  # the longest question any setting allows, in UTF-8, and its line end


def _lines(prompt: bool) -> Iterator[str]:
    """Questions one a line: typed at a prompt on a terminal, else read from standard input;
    a line that is not UTF-8 is reported and skipped, not fatal."""
    if prompt:
        # undecodable bytes typed at the prompt arrive as surrogates, which the question check
        # refuses as "not valid UTF-8"; strict decoding raised from input() itself, a traceback
        reconfigure = getattr(sys.stdin, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")
        # the prompt where the user sees it: `qa chat > transcript.txt` wrote it into the file
        asks = out if sys.stdout.isatty() else err
        while True:
            try:
                yield asks.input(Text("you › ", style="bold cyan"))
            except EOFError:  # Ctrl-D: end the line, so the shell's prompt starts on its own
                out.print()
                return
    while raw := sys.stdin.buffer.readline(MAX_LINE_BYTES):
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):  # read in pieces, never held whole
            while (more := sys.stdin.buffer.readline(MAX_LINE_BYTES)) and not more.endswith(b"\n"):
                pass
            err.print(Text.assemble(("error: ", "bold red"), "that line is longer than any question may be; skipped"))
            continue
        try:
            yield raw.decode("utf-8-sig").rstrip("\r\n")
        except UnicodeDecodeError:
            err.print(Text.assemble(("error: ", "bold red"), "that line is not UTF-8 text; skipped"))


def _known_collections(engine: Engine) -> list[str]:
    try:
        return engine.collections()
    except QAError:  # no passage source here: nothing to check against
        return []


def chat(
    route: Annotated[str, typer.Option("--route", "-r", help="auto (default), webqa, kbqa or cqa.")] = "",
    collection: Annotated[str | None, typer.Option(
        "--collection", "-c", help="Answer from this passage collection alone.")] = None,
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Search only this index folder.")] = None,
    graph: Annotated[Path | None, typer.Option(
        "--graph", help="Knowledge graph file (.ttl .nt .rdf .owl .jsonld .tsv; .gz .xz .bz2 too).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=20,
                                       help="Answers to show (a chat shows the best one; QA_TOP_K is qa ask's).")] = 1,
    explain: Annotated[bool, typer.Option(help="Show the route and why.")] = True,
) -> None:
    """Ask question after question; the models load once and follow-ups refer back."""
    from qa.commands import check_index, check_models
    from qa.commands.ask import build_engine
    from qa.core.settings import RouteChoice, Settings
    from qa.core.types import Question
    from qa.render import print_response

    # what `qa ask` refuses is refused here too, before the session starts, not at every question
    check_graph_file(graph)
    if index is not None:
        check_index(index)
    settings = Settings.load(route=route or None, kb_graph=str(graph) if graph else None,
                             flags={"route": "--route", "kb_graph": "--graph"})
    check_models(settings, "QA_SPAN_MODEL / span_model")
    engine = build_engine(settings, index)
    if collection is not None and collection != "all":
        known = _known_collections(engine)
        if known and collection not in known:
            raise InputError(f"no collection named {collection!r}; known: {', '.join(known)}")
    if collection == "all":  # as `/collection all` in the session: every collection
        collection = None
    interactive = sys.stdin.isatty()
    if interactive:
        (out if sys.stdout.isatty() else err).print(Text("Loading the models once …", style="dim"))
    from qa.cli import stopped_as

    stopped_as("the conversation ended")  # a Ctrl-C at the prompt, or a `kill`: nothing was half done
    history: list[str] = []
    current_route: str = str(settings.route)
    for line in _lines(interactive):
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            cmd, _, arg = text.partition(" ")
            if cmd in ("/quit", "/exit"):
                return
            if cmd == "/new":
                history.clear()
                out.print(Text("(new conversation)", style="dim"))
            elif cmd == "/route":
                routes = [r.value for r in RouteChoice]
                if arg.strip() in routes:
                    current_route = arg.strip()
                    out.print(Text(f"(route: {current_route})", style="dim"))
                elif not arg.strip():
                    out.print(Text(f"(route: {current_route}; /route {' | '.join(routes)} changes it)", style="dim"))
                else:
                    err.print(Text.assemble(("error: ", "bold red"), f"unknown route {arg.strip()!r}; choose "
                                            f"{', '.join(routes)}"), soft_wrap=True)
            elif cmd == "/collection":
                wanted = arg.strip()
                known = _known_collections(engine)
                if not wanted:
                    out.print(Text(f"(collection: {collection or 'all'}; known: {', '.join(known) or 'none'})",
                                   style="dim"))
                elif wanted != "all" and known and wanted not in known:  # said now, not at every question
                    err.print(Text.assemble(("error: ", "bold red"), f"no collection named {wanted!r}; known: "
                                            f"{', '.join(known)}"), soft_wrap=True)
                else:
                    collection = None if wanted == "all" else wanted
                    out.print(Text(f"(collection: {wanted})", style="dim"))
            else:
                if cmd not in ("/help", "/?"):  # a typo, not a request for help: say what was wrong
                    what = f"{cmd} {arg.strip()}".strip()
                    err.print(Text.assemble(("error: ", "bold red"), f"not a command: {what!r}"), soft_wrap=True)
                out.print(Text(HELP))
            continue
        if not interactive or not sys.stdout.isatty():  # each answer under its question, as a transcript
            # reads (typed at a terminal into a file, the question was only the terminal's echo); a
            # question too long to answer is not written out whole before it is refused
            shown = text if len(text) <= settings.max_question_chars else text[:200] + " …"
            out.print(Text.assemble(("> ", "bold"), shown))
        try:
            q = Question(text, history=tuple(history[-2 * MAX_TURNS:]), collection=collection,
                         max_chars=settings.max_question_chars)
            resp = engine.ask(q, top_k=top_k, route=current_route)
        except QAError as exc:
            err.print(Text.assemble(("error: ", "bold red"), str(exc).replace("\n", " ")), soft_wrap=True)
            continue
        except KeyboardInterrupt:
            from qa.cli import terminated

            if not interactive or terminated():  # piped questions, or a `kill`: the run stops
                raise
            # a Ctrl-C while one answer is worked out stops that answer, not the conversation (it
            # ended the session, its history and its loaded models); at the prompt it still ends it
            err.print(Text("(stopped: that question was not answered; ask again, or /quit)", style="yellow"))
            continue
        print_response(out, resp, explain=explain)
        top = resp.answers[0] if resp.answers else None
        history.extend((text, top.text if top is not None and not top.no_answer else ""))


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
