"""`qa kbqa "question"`: answer from the knowledge graph (the embedded default, a file, or an endpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from qa.errors import InputError
from qa.validation import check_question


def register(app: typer.Typer) -> None:
    @app.command("kbqa")
    def kbqa(
        question: str = typer.Argument(..., help="The question, e.g. \"What is the capital of France?\""),
        graph: Path = typer.Option(None, help="A Turtle / N-Triples / TSV-triples file instead of the default."),
        endpoint: str = typer.Option("", help="A SPARQL 1.1 endpoint URL (overrides --graph)."),
        scorer: Path = typer.Option(None, help="A trained path scorer (JSON) for this graph."),
        top_k: int = typer.Option(3, min=1, max=100, help="How many answers to show."),
        as_json: bool = typer.Option(False, "--json", help="Print answers and explanations as JSON."),
        explain: bool = typer.Option(True, help="Show linked entities, the path and the SPARQL."),
        timeout: float = typer.Option(None, help="Query timeout in seconds."),
    ) -> None:
        """Answer a factual question from the knowledge graph, with the SPARQL it ran."""
        from kb.pipeline import KBQA
        from kb.scorer import Scorer
        from qa.settings import Settings

        overrides = {"kb_endpoint": endpoint or None, "kb_timeout_s": timeout}
        if graph is not None:
            if not graph.exists():
                raise InputError(f"graph file not found: {graph}")
            overrides["kb_graph"] = str(graph)
        settings = Settings.load(**overrides)
        check_question(question, settings.max_question_chars)
        if scorer is not None and not scorer.exists():
            raise InputError(f"scorer file not found: {scorer}")
        pipeline = KBQA(settings, scorer=Scorer.load(scorer) if scorer else None)
        answers = pipeline.answer(question, top_k=top_k)
        if as_json:
            typer.echo(json.dumps([a.to_dict() for a in answers], indent=2, ensure_ascii=False))
            return
        out = Console()
        first = answers[0]
        if first.no_answer:
            guess = first.extra.get("best_guess")
            out.print(f"[yellow]no answer[/] (confidence {first.extra.get('confidence', 0):.2f}"
                      + (f"; best guess: {guess}" if guess else "") + ")")
        else:
            for a in answers:
                out.print(f"[bold green]{a.text}[/]  score {a.score:.2f}  [dim]{a.source_id}[/]")
        if explain:
            ex = first.extra
            links = ", ".join(f"{c['label']} ({c['method']} {c['score']:.2f})" for c in ex.get("linked_entities", []))
            out.print(f"[dim]linked:[/] {links or '-'}")
            path = " -> ".join(
                p["relation"].rsplit("/", 1)[-1] + ("" if p["direction"] == "forward" else " (inverse)")
                for p in ex.get("path", []))
            out.print(f"[dim]path:[/] {path or '-'}")
            if ex.get("constraints"):
                out.print(f"[dim]constraints:[/] {', '.join(ex['constraints'])}")
            if ex.get("sparql"):
                out.print("[dim]sparql:[/]")
                out.print(ex["sparql"], markup=False, highlight=False)
