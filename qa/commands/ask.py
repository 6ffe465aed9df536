"""`qa ask "question"`: the routed answer (passages, knowledge graph or answered questions), with
its evidence, the route taken and why."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from qa.commands import check_endpoint_option, check_graph_file, check_index, check_models
from qa.core.errors import InputError

if TYPE_CHECKING:
    from qa.core.settings import Settings
    from qa.core.types import AnswerSource, Route
    from qa.engine import Engine

# the option each setting came from, so a bad value is refused under the name the user typed
ASK_FLAGS = {"span_model": "--model", "read_k": "--read-k", "route": "--route", "kb_graph": "--graph",
             "kb_endpoint": "--endpoint"}
KBQA_FLAGS = {"kb_graph": "--graph", "kb_endpoint": "--endpoint", "kb_timeout_s": "--timeout",
              "kb_scorer": "--scorer"}

out = Console()
err = Console(stderr=True)  # a spinner while a question is answered (rich draws none off a terminal)


def read_stdin_question(limit: int) -> str:
    """Reads at most a little more than the limit, so a huge input is refused, not loaded."""
    from qa.core.text import decode_utf8

    raw = sys.stdin.buffer.read(limit * 4 + 4)
    if len(raw) > limit * 4:
        raise InputError(f"the question on standard input is longer than the limit of {limit:,} characters")
    return decode_utf8(raw, "the question on standard input")


def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(
        help='The question, in quotes; "-" reads it (all of standard input, one question) from standard input.',
        show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="Many questions: one per line (.txt), or one JSON object per line with \"question\" "
                             "and an optional \"id\" (.jsonl; also \"history\", \"route\", \"top_k\" and "
                             "\"collection\" as /v1/ask takes them, for that question); \"-\" reads them from "
                             "standard input. The answers come as JSON lines.")] = None,
    out_path: Annotated[Path | None, typer.Option(
        "--out", "-o", help="With --file: write the answers (JSON lines) here instead of standard output.")] = None,
    route: Annotated[str, typer.Option("--route", "-r", help="auto (default), webqa, kbqa or cqa.")] = "",
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Search only this index folder.")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c",
                                                   help="Answer from this passage collection alone.")] = None,
    graph: Annotated[Path | None, typer.Option(
        "--graph", help="Knowledge graph file (.ttl .nt .rdf .owl .jsonld .tsv; .gz .xz .bz2 too).")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="A SPARQL 1.1 endpoint URL.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, max=100, help="Answers to show.")] = None,
    read_k: Annotated[int | None, typer.Option(min=1, max=100, help="Passages the reader reads.")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Span reader folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
    explain: Annotated[bool, typer.Option(help="Show the route and why.")] = True,
) -> None:
    """Answer a question: the router picks the source (passages, knowledge graph, answered
    questions), asks the next when the first is unsure, and keeps the answer most likely right."""
    from qa.core.settings import RouteChoice, Settings
    from qa.core.text import check_question
    from qa.core.types import Question

    if (question is None) == (file is None):  # a usage error: the usage line helps
        said = "give a question, or --file with many" if question is None else "give the question or --file, not both"
        raise typer.BadParameter(said, ctx=ctx,
                                 param_hint="QUESTION / --file")
    if out_path is not None and file is None:
        raise typer.BadParameter("--out goes with --file; one answer is printed", ctx=ctx, param_hint="--out")
    check_graph_file(graph)
    check_endpoint_option(endpoint, graph)
    settings = Settings.load(span_model=str(model) if model else None, read_k=read_k, route=route or None,
                             kb_graph=str(graph) if graph else None, kb_endpoint=endpoint, flags=ASK_FLAGS)
    if index is not None:
        check_index(index)
        if settings.route not in (RouteChoice.AUTO, RouteChoice.WEBQA):  # it was dropped without a word
            raise InputError(f"--index is passages: it goes with the route webqa (or none), not {settings.route}")
    check_models(settings, "--model" if model else "QA_SPAN_MODEL / span_model")
    if file is not None:
        from qa.batch import ask_file

        ask_file(build_engine(settings, index), file, out_path, top_k=top_k, collection=collection)
        return
    assert question is not None
    if question == "-":
        question = read_stdin_question(settings.max_question_chars)
    check_question(question, settings.max_question_chars)
    engine = build_engine(settings, index)
    # seconds of silence otherwise (the models load for the first question)
    with err.status("answering (the models load first) …"):
        resp = engine.ask(Question(question, collection=collection, max_chars=settings.max_question_chars),
                          top_k=top_k)
    if as_json:
        from qa.render import print_json

        print_json(resp.model_dump_json())
        return
    from qa.render import print_response

    print_response(out, resp, explain=explain)


def build_engine(settings: Settings, index: Path | None = None) -> Engine:
    """The engine the CLI commands share; `index` replaces the collections by one folder."""
    from qa.engine import Engine

    sources: dict[Route, AnswerSource] = {}
    if index is not None:
        from qa.core.types import Route
        from qa.webqa import WebQA

        sources[Route.WEBQA] = WebQA(settings, index_dir=index)
    return Engine(settings, sources=sources)


def kbqa(
    question: Annotated[str, typer.Argument(help='The question, e.g. "What is the capital of France?"')],
    graph: Annotated[Path | None,
                     typer.Option(help="A Turtle, N-Triples, RDF/XML, JSON-LD or TSV-triples file "
                                       "(compressed too: .gz .xz .bz2).")] = None,
    endpoint: Annotated[str, typer.Option(help="A SPARQL 1.1 endpoint URL (instead of --graph).")] = "",
    scorer: Annotated[Path | None, typer.Option(help="A trained path scorer (JSON) for this graph.")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=100, help="How many answers to show (default: the "
                                                                    "top_k setting).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
    explain: Annotated[bool, typer.Option(help="Show the route line and the time taken under the answers.")] = True,
    timeout: Annotated[float | None, typer.Option(help="Query timeout in seconds.")] = None,
) -> None:
    """Answer from the knowledge graph only (the same as `qa ask --route kbqa`)."""
    from qa.core.settings import Settings
    from qa.core.text import check_question

    check_graph_file(graph)
    if scorer is not None and not scorer.is_file():
        raise InputError(f"scorer file not found: {scorer}")
    check_endpoint_option(endpoint, graph)
    settings = Settings.load(kb_graph=str(graph) if graph else None, kb_endpoint=endpoint or None,
                             kb_timeout_s=timeout, kb_scorer=str(scorer) if scorer else None, flags=KBQA_FLAGS)
    check_question(question, settings.max_question_chars)
    from qa.engine import Engine

    with err.status("answering from the graph (the graph and models load first) …"):
        resp = Engine(settings).ask(question, top_k=top_k, route="kbqa")
    if as_json:
        from qa.render import print_json

        print_json(resp.model_dump_json())  # the one shape of `qa ask --json`
        return
    from qa.render import print_response

    print_response(out, resp, explain=explain)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("kbqa")(kbqa)
