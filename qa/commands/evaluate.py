"""`qa eval squad|race`: batch evaluation of the readers with the official metrics.

With `--out`, predictions are written in the official formats (`{id: answer}` and, for SQuAD
v2.0, `{id: na_prob}`) so the official scripts can re-check any number we report; without it only
the metrics are shown (nothing lands in the working folder unasked).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from qa.commands import check_apart, check_writable
from qa.core.errors import InputError
from qa.core.progress import LoggedProgress
from qa.core.settings import Settings

eval_app = typer.Typer(help="Evaluate the readers on SQuAD or RACE files.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()
CHUNK = 256  # questions per reader call: bounded memory, smooth progress


@contextmanager
def _progress(what: str, total: int) -> Iterator[Any]:
    columns = (
        TextColumn(f"[bold]{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with LoggedProgress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.update(task, completed=n)


def _within(at: Any, part: slice) -> Any:
    """The reader's progress through one chunk (windows or sequences done of all) as questions
    done of the whole run, so the bar moves with every batch, not once a chunk."""
    return lambda done, total: at(part.start + (part.stop - part.start) * done / max(total, 1))


def _table(title: str, rows: Sequence[tuple[str, Any]]) -> Table:
    out.print(f"[bold]{title}[/]")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, f"{value:.2f}" if isinstance(value, float) else str(value))
    return table


def _write_json(path: Path, data: Any) -> None:
    """Written whole or not at all: a full disk leaves the previous file, not half of a new one."""
    from qa.core.atomic import atomic_write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc}") from exc


def _chunks(n: int, size: int = CHUNK) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


@eval_app.command("squad")
def squad(
    file: Annotated[Path, typer.Argument(help="SQuAD v1.1 / v2.0 JSON (.json, .gz or .xz).")],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Span reader folder (default: the shipped one).")
    ] = None,
    predictions: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write {id: answer} (the official script's input).")
    ] = None,
    na_probs: Annotated[
        Path | None, typer.Option("--na-probs", help="v2.0: write {id: na_prob} (default with --out: "
                                  "beside it, <out>_na_probs.json).")
    ] = None,
    metrics_out: Annotated[
        Path | None, typer.Option("--metrics-out", help="Also write the metrics as JSON.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    version: Annotated[str, typer.Option("--version", help="auto | 1 | 2")] = "auto",
    null_threshold: Annotated[
        float | None, typer.Option(help="Override the model's no-answer threshold.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per forward pass.")] = None,
) -> None:
    """Read every question's gold paragraph; report official EM/F1 (and HasAns/NoAns for v2.0)."""
    from mrc.datasets import load_squad
    from mrc.metrics import squad_v1_evaluate, squad_v2_evaluate
    from mrc.span import ReadRequest, SpanReader

    settings = Settings.load(null_threshold=null_threshold, batch_size=batch_size,  # bad options before the data
                             flags={"null_threshold": "--null-threshold", "batch_size": "--batch-size"})
    if predictions is not None and not predictions.name:  # `--out ''`, `--out .`: no file to name
        raise InputError(f"cannot write {predictions}: it is a folder; give the predictions file's name")
    ds = load_squad(file, version).subset(limit)  # refuses a v1.1 reading of unanswerable questions
    na_path = na_probs or (predictions.with_name(predictions.stem + "_na_probs.json") if predictions else None)
    if ds.version == 1 and na_probs is not None:
        console.print(f"note: --na-probs is for SQuAD v2.0 files; {file.name} is v1.1, so none is written",
                      markup=False, highlight=False)
    na_flag = "--na-probs" if na_probs is not None else "the no-answer file beside --out"
    check_apart(file, {"--out": predictions, na_flag: na_path if ds.version == 2 else None,
                       "--metrics-out": metrics_out})
    check_writable(predictions, na_path if ds.version == 2 else None, metrics_out)
    reader = SpanReader(settings, model_dir=model)
    _ = reader.tokenizer, reader.model  # loaded before the clock starts: questions/s is reading alone
    v2 = ds.version == 2
    preds: dict[str, str] = {}
    probs: dict[str, float] = {}
    started = time.perf_counter()
    with _progress(f"SQuAD v{ds.version} {file.name}", len(ds.examples)) as at:
        for part in _chunks(len(ds.examples)):
            batch = ds.examples[part]
            reqs = [ReadRequest(e.question, e.context, e.qid) for e in batch]
            read = reader.read_batch(reqs, allow_no_answer=v2, progress=_within(at, part))
            for ex, answers in zip(batch, read, strict=True):
                best = answers[0]
                preds[ex.qid] = "" if best.no_answer else best.text
                # na_prob: the probability that there is no answer, the official script's input.
                probs[ex.qid] = best.score if best.no_answer else 1.0 - best.score
            at(part.stop)
    elapsed = time.perf_counter() - started
    if v2:
        metrics: dict[str, Any] = squad_v2_evaluate(ds.data, preds, probs)
        order = [f"{g}{m}" for g in ("", "HasAns_", "NoAns_") for m in ("exact", "f1", "total")]
        order += ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]
        rows = [(k, metrics[k]) for k in order if k in metrics]
    else:
        metrics = squad_v1_evaluate(ds.data, preds)
        rows = [("exact_match", metrics["exact_match"]), ("f1", metrics["f1"]), ("total", metrics["total"])]
    metrics["questions_per_s"] = len(ds.examples) / elapsed if elapsed > 0 else 0.0
    rows.append(("questions/s", metrics["questions_per_s"]))
    out.print(_table(f"SQuAD v{ds.version}: {file.name} — {reader.model_dir.name}", rows))
    # written after the table: a file that cannot be written never costs the run its scores
    if predictions is not None:
        _write_json(predictions, preds)
    if v2 and na_path is not None:
        _write_json(na_path, probs)
    written = [f"predictions: {predictions}"] if predictions is not None else []
    written += [f"na_probs: {na_path}"] if v2 and na_path is not None else []
    if written:
        console.print(", ".join(written), markup=False, highlight=False)
    if metrics_out:
        _write_json(
            metrics_out, {"file": str(file), "model": str(reader.model_dir), "version": ds.version, **metrics}
        )


@eval_app.command("race")
def race(
    file: Annotated[
        Path, typer.Argument(help="RACE .jsonl[.gz] (one article a line) or a folder of article files.")
    ],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Multiple-choice reader folder.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    predictions: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write {question id: letter}.")
    ] = None,
    metrics_out: Annotated[
        Path | None, typer.Option("--metrics-out", help="Also write the metrics as JSON.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Sequences (question x option) per forward pass.")
    ] = None,
) -> None:
    """Pick the most probable option for every question; report accuracy for middle, high and all."""
    from mrc.choice import ChoiceReader, ChoiceRequest
    from mrc.datasets import LETTERS, load_race, race_levels
    from mrc.metrics import race_accuracy

    settings = Settings.load(batch_size=batch_size, flags={"batch_size": "--batch-size"})
    check_apart(file, {"--out": predictions, "--metrics-out": metrics_out})
    check_writable(predictions, metrics_out)
    questions = load_race(file)[:limit] if limit else load_race(file)
    reader = ChoiceReader(settings, model_dir=model)
    _ = reader.tokenizer, reader.model  # loaded before the clock starts: questions/s is reading alone
    chosen: dict[str, int] = {}
    started = time.perf_counter()
    with _progress(f"RACE {file.name}", len(questions)) as at:
        for part in _chunks(len(questions)):
            batch = questions[part]
            reqs = [ChoiceRequest(question=q.question, article=q.article, options=q.options) for q in batch]
            for q, p in zip(batch, reader.probabilities_batch(reqs, progress=_within(at, part)), strict=True):
                chosen[q.qid] = max(range(len(p)), key=p.__getitem__)
            at(part.stop)
    elapsed = time.perf_counter() - started
    metrics: dict[str, Any] = race_accuracy(
        chosen, {q.qid: q.answer for q in questions}, race_levels(questions)
    )
    metrics["questions_per_s"] = len(questions) / elapsed if elapsed > 0 else 0.0
    levels = [g for g in ("middle", "high", "all") if metrics[f"{g}_total"]]  # a slice may hold one level
    rows = [(g, metrics[g]) for g in levels] + [(f"{g}_total", int(metrics[f"{g}_total"])) for g in levels]
    rows.append(("questions/s", metrics["questions_per_s"]))
    out.print(_table(f"RACE accuracy: {file.name} — {reader.model_dir.name}", rows))
    if predictions:
        _write_json(predictions, {qid: LETTERS[i] for qid, i in chosen.items()})
        console.print(f"predictions: {predictions}", markup=False, highlight=False)  # as `qa eval squad` says it
    if metrics_out:
        _write_json(metrics_out, {"file": str(file), "model": str(reader.model_dir), **metrics})


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
