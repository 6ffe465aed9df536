"""`qa kb ...`: prepare a knowledge graph for questions.

    qa kb train --graph my.ttl      # generate questions from the graph, train and calibrate its scorer
    qa kb info --graph my.ttl       # what is built for the graph and where
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from qa.commands import check_apart, check_endpoint_option, check_graph_file, check_writable
from qa.core.atomic import file_stamp
from qa.core.errors import ConflictError, InputError
from qa.core.settings import unsecret
from qa.core.text import json_file

if TYPE_CHECKING:
    from kb.scorer import Scorer
    from qa.core.settings import Settings

GRAPH_HELP = "Turtle, N-Triples, RDF/XML, JSON-LD or TSV graph; default: the embedded world graph."
out = Console()
err = Console(stderr=True)
kb_app = typer.Typer(help="Prepare knowledge graphs: train the scorer for a graph, show what is built.",
                     no_args_is_help=True)


def _settings(graph: Path | None, endpoint: str | None, **extra: Any) -> Settings:
    from qa.core.settings import Settings

    check_graph_file(graph)
    check_endpoint_option(endpoint, graph)
    return Settings.load(kb_graph=str(graph) if graph else None, kb_endpoint=endpoint or None,
                         flags={"kb_graph": "--graph", "kb_endpoint": "--endpoint"}, **extra)


def _trained_for(scorer: Scorer, settings: Settings) -> bool:
    """Whether `scorer` was calibrated for the graph `settings` name (its file's hash, or its endpoint)."""
    from kb import artefacts

    if scorer.calibrator is None:
        return False
    path = artefacts.graph_file(settings)
    if path is None:
        # kept as shown (a password masked): the same endpoint with another password is the same graph
        return scorer.meta.get("endpoint") in (unsecret("kb_endpoint", settings.kb_endpoint), settings.kb_endpoint)
    return scorer.meta.get("graph_sha256") == artefacts.file_hash(path)


@kb_app.command("train")
def train(
    graph: Annotated[Path | None, typer.Option(help=GRAPH_HELP)] = None,
    endpoint: Annotated[str | None, typer.Option(help="A SPARQL 1.1 endpoint URL instead of a file.")] = None,
    questions: Annotated[int, typer.Option(min=50, max=100_000, help="Questions to generate.")] = 2000,
    max_hops: Annotated[int | None, typer.Option(min=1, max=4, help="Longest path (default: kb_max_hops).")] = None,
    forward_only: Annotated[bool, typer.Option(help="Only follow relations in their stored direction.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the question generator.")] = 7,
    paraphrases: Annotated[bool, typer.Option(help="Also write relations with similar words (encoder).")] = True,
    sparse: Annotated[bool, typer.Option(help="Also learn word-relation features (memorises wording).")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the scorer here (default: cache).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the training summary as JSON.")] = False,
    recalibrate: Annotated[bool, typer.Option(
        help="Keep the path scorer the graph uses now; refit only its calibration and threshold.")] = False,
    yes_no_only: Annotated[bool, typer.Option(
        "--yes-no-only", help="Keep the path scorer and its calibration; refit only how sure yes/no answers are "
                              "(implies --recalibrate).")] = False,
) -> None:
    """Train KBQA for a graph from the graph alone: questions generated from its relations and
    names train the path scorer; held-out and unanswerable ones calibrate its scores and when to
    abstain. The result is kept beside the graph's label index, keyed by the graph's content hash,
    and `qa kbqa --graph G` / `qa ask` use it from then on. `--recalibrate` keeps the paths it
    picks and refits only how sure it says it is (minutes less; the same paths, new scores);
    `--yes-no-only` also keeps how sure it is of every other answer, and refits only yes/no
    answers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kb import artefacts
    from kb.pipeline import KBQA, KBQAConfig
    from kb.training import train as train_kbqa
    from qa.models import shared_encoder

    settings = _settings(graph, endpoint)
    if out_path is not None:  # found out now, not after minutes of training
        out_path = _scorer_target(out_path)
        if graph is not None:  # the graph itself was replaced by the scorer's JSON, exit 0
            check_apart(graph, {"--out": out_path})
    t0 = time.perf_counter()
    folder = artefacts.artefact_dir(settings)
    path = out_path or folder / artefacts.SCORER
    before = file_stamp(path)  # another run's scorer saved meanwhile must not be undone by this one
    config = KBQAConfig(max_hops=max_hops or settings.kb_max_hops, forward_only=forward_only,
                        top_anchors=settings.kb_top_anchors)
    with Progress(TextColumn("{task.description}", markup=False, style="bold"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("loading the graph and its label index", total=None)
        stage = {"name": ""}

        def progress(name: str, done: int, total: int) -> None:
            if name != stage["name"]:
                stage["name"] = name
                bar.update(task, description=name, total=total or None, completed=0)
            bar.update(task, completed=done, total=total or None)

        qa = KBQA(settings, config=config, encoder=shared_encoder(settings), artefacts=folder)
        untrained = logging.getLogger("kb.artefacts")  # "no scorer trained for G yet": it is being trained
        level = untrained.level
        untrained.setLevel(logging.ERROR)
        try:
            qa.warm_up(progress=progress)
        finally:
            untrained.setLevel(level)

        if yes_no_only and not _trained_for(qa.scorer, settings):
            raise InputError("--yes-no-only refits the yes/no answers of the scorer trained for this graph, and "
                             "none is yet: run `qa kb train` for it first")
        given = None
        if graph is None and not endpoint:  # the embedded world graph also has its own templates
            from kb.train_default import generate as world_questions
            from kb.training import Generated

            given = [Generated(q, s, p) for q, s, p in world_questions(qa.graph, 60, seed=seed)]
        scorer = train_kbqa(qa, questions=questions, seed=seed, progress=progress, paraphrases=paraphrases,
                            sparse=sparse, given=given, keep_paths=recalibrate or yes_no_only,
                            yes_no_only=yes_no_only,
                            log=lambda m: bar.console.print(Text(m, style="dim")))
        bar.update(task, description="encoding labels for dense linking", total=None)
        n_vectors = qa.index.save_vectors()
    graph_file = artefacts.graph_file(settings)
    if graph_file is not None:
        scorer.meta["graph_sha256"] = artefacts.file_hash(graph_file)
        scorer.meta["graph"] = graph_file.name
    else:
        scorer.meta["endpoint"] = unsecret("kb_endpoint", settings.kb_endpoint)  # never a password in a file
    if file_stamp(path) != before:
        raise ConflictError(f"{path} changed while this ran (another `qa kb train` for this graph?); nothing was "
                            "saved, so that one's result stands: run this again if it is the one wanted")
    scorer.save(path)
    summary = {"scorer": str(path), "artefacts": str(folder), "label_vectors": n_vectors,
               "seconds": round(time.perf_counter() - t0, 1), **scorer.meta, "threshold": scorer.threshold}
    if as_json:
        from qa.render import print_json

        print_json(summary)
        return
    out.print(Text.assemble(("trained ", "bold green"), str(path)))
    out.print(Text(f"{scorer.meta['questions']} generated questions; held-out accuracy "
                   f"{scorer.meta['held_out_accuracy']:.1f}%, unanswerable ones abstained "
                   f"{scorer.meta['held_out_abstention_unanswerable']:.1f}% (threshold {scorer.threshold:.2f}); "
                   f"{summary['seconds']:.0f}s"))


def _scorer_target(path: Path) -> Path:
    """Where `--out` writes: the file named, or `scorer.json` in a folder named; refused now if it
    cannot be written, not after the training."""
    from kb import artefacts

    path = path.expanduser()
    if path.is_dir():
        path = path / artefacts.SCORER
    check_writable(path)
    if path.is_file() and not _is_scorer(path):  # another file of the user's, not an earlier scorer
        raise InputError(f"--out {path} exists and is not a graph scorer: it would be replaced; give a new "
                         "file, or a folder")
    return path


def _is_scorer(path: Path) -> bool:
    try:
        data = json_file(path)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and {"weights", "meta"} <= set(data)


@kb_app.command("info")
def info(
    graph: Annotated[Path | None, typer.Option(help=GRAPH_HELP)] = None,
    endpoint: Annotated[str | None, typer.Option(help="A SPARQL 1.1 endpoint URL instead of a file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Where a graph's label index and trained scorer live, and whether they are built yet."""
    from kb import artefacts

    settings = _settings(graph, endpoint)
    path = artefacts.graph_file(settings)
    if path is not None:  # a .trig, say, that no command could load (the file itself is not parsed here)
        from kb.loaders import graph_format

        graph_format(path)
    folder = artefacts.artefact_dir(settings)
    trained = folder / artefacts.SCORER
    shipped = artefacts.shipped_scorer(settings)
    # the shipped scorer was trained on the embedded world graph: trained for it, as `qa kb train`
    # trains one for a graph of one's own
    world = not settings.kb_graph and not settings.kb_endpoint
    uses = (settings.kb_scorer or (str(trained) if trained.exists() else None)
            or (str(shipped) if shipped.exists() else "untrained default weights"))
    data = {"graph": unsecret("kb_endpoint", settings.kb_endpoint) or str(artefacts.graph_file(settings)),
            "key": folder.name,
            "artefacts": str(folder), "label_index": (folder / artefacts.LABELS).exists(),
            "trained_scorer": trained.exists() or (world and shipped.exists()), "scorer_used": uses}
    labels = folder / artefacts.LABELS
    if settings.kb_endpoint and labels.exists():  # an endpoint's index is rebuilt once this old
        data["label_index_age_h"] = round((time.time() - labels.stat().st_mtime) / 3600, 1)
        data["label_index_max_age_h"] = settings.kb_index_max_age_h
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for k, v in data.items():
        out.print(Text.assemble((f"{k}: ", "dim"), str(v)))


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
