"""`qa train span|choice`: fine-tune the readers; the same command runs on CPU and CUDA."""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

import typer

from mrc.negatives import ADVERSARIAL_MIX, NegativeMix
from qa.core.errors import InputError
from qa.core.paths import MODELS_DIR, SHARED_DATA

if TYPE_CHECKING:
    from mrc.training import TrainConfig

train_app = typer.Typer(help="Fine-tune the span or multiple-choice reader.", no_args_is_help=True)


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class _RunOptions(TypedDict):
    """The `TrainConfig` fields both readers' commands set from their options."""

    base_model: str
    epochs: float
    batch_size: int
    learning_rate: float
    device: str
    precision: str
    max_minutes: float
    reserve_minutes: float
    limit: int
    seed: int
    resume: bool
    replace: bool


def _cfg(output_dir: Path, **kw: Unpack[_RunOptions]) -> TrainConfig:
    """The run's settings, each refused under its option's name when it can never work: a batch
    of 0 was a ZeroDivisionError, a negative learning rate torch's ValueError, `fp8` a KeyError
    (tracebacks, exit 1), and a negative --epochs or --max-minutes trained one step, installed
    that model over the shipped one and said nothing."""
    from mrc.training import TrainConfig

    positive = {"--epochs": kw["epochs"], "--batch-size": kw["batch_size"], "--learning-rate": kw["learning_rate"]}
    # (inf and nan are numbers to the option parser: a learning rate of inf trained a reader whose
    # weights were a quarter NaN, installed it and exited 0; --epochs inf a traceback after loading)
    for flag, value in positive.items():
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{flag} must be a number above 0, not {value}")
    for flag, value in {"--max-minutes": kw["max_minutes"], "--reserve-minutes": kw["reserve_minutes"],
                        "--limit": kw["limit"]}.items():
        if not (math.isfinite(value) and value >= 0):
            raise InputError(f"{flag} must be 0 (no limit) or more, not {value}")
    if kw["max_minutes"] and kw["reserve_minutes"] >= kw["max_minutes"]:  # one step, installed, exit 0
        raise InputError(f"--reserve-minutes {kw['reserve_minutes']:g} leaves no time of --max-minutes "
                         f"{kw['max_minutes']:g} to train: keep it below")
    if kw["resume"] and not (output_dir / "checkpoint.pt").is_file():  # it trained from scratch without a word
        raise InputError(f"--resume: {output_dir} holds no checkpoint.pt to continue from; run without --resume "
                         "to start afresh")
    _check_device(kw["device"])
    if kw["precision"] not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, not {kw['precision']!r}")
    return TrainConfig(output_dir=str(output_dir), **kw)


def _check_device(device: str) -> str:
    from mrc.training import check_device

    return check_device(device)


def _check_file(path: Path) -> str:
    if not path.exists():
        raise InputError(f"training file not found: {path}")
    return str(path)


@contextlib.contextmanager
def _cleaned_up(output_dir: Path) -> Iterator[None]:
    """A run that fails or is stopped before its reader is in leaves no folder of its own behind
    (one holding an empty training log had been left), and a Ctrl-C says what it left."""
    existed = output_dir.exists()
    try:
        yield
    except BaseException as exc:
        if not existed and output_dir.is_dir() and not (output_dir / "config.json").exists():
            left = [p for p in output_dir.iterdir() if p.name not in ("training_log.jsonl", "checkpoint.pt")]
            if not left and not (output_dir / "checkpoint.pt").exists():  # a checkpoint is kept for --resume
                shutil.rmtree(output_dir, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            from qa.cli import stopped_as

            said = "no new reader was installed"
            if (output_dir / "checkpoint.pt").exists():
                said += f"; a checkpoint is in {output_dir} (--resume carries on from it)"
            elif existed and (output_dir / "config.json").exists():
                said += f"; the reader in {output_dir} is the one that was there"
            stopped_as(said)
        raise


def _mix(negative_ratio: float, hard_negative_ratio: float, swap_ratio: float, antonym_ratio: float) -> NegativeMix:
    if not all(0.0 <= r <= 1.0 for r in (negative_ratio, hard_negative_ratio, swap_ratio, antonym_ratio)):
        raise InputError("--negative-ratio, --hard-negative-ratio, --swap-ratio and --antonym-ratio must lie "
                         "between 0 and 1")
    return NegativeMix(swap=swap_ratio, antonym=antonym_ratio, answer_removed=hard_negative_ratio,
                       other_paragraph=negative_ratio)


_SWAP = typer.Option(ADVERSARIAL_MIX.swap, help="Share of questions also asked with one entity, number or date "
                     "swapped for another of the same kind from the paragraph or article (unanswerable, own "
                     "paragraph).")
_ANTONYM = typer.Option(ADVERSARIAL_MIX.antonym, help="Share of questions also asked with an antonym or a negation "
                        "(unanswerable, own paragraph).")
_HARD = typer.Option(ADVERSARIAL_MIX.answer_removed, help="Share of questions also paired with their own paragraph "
                     "minus the answer's sentences.")
_OTHER = typer.Option(ADVERSARIAL_MIX.other_paragraph, help="Share of questions also paired with another paragraph "
                      "of the article without the answer.")


@train_app.command("span")
def span(
    train_file: Path = typer.Option(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz",
                                    help="SQuAD-format training JSON (.json/.gz/.xz)."),
    output_dir: Path = typer.Option(MODELS_DIR / "span-minilm-l6", help="Where the trained reader goes."),
    base_model: str = typer.Option("", help="Base encoder folder; empty = packaged all-MiniLM-L6-v2."),
    epochs: float = 3.0,
    batch_size: int = 32,
    learning_rate: float = 6e-5,
    swap_ratio: float = _SWAP,
    antonym_ratio: float = _ANTONYM,
    hard_negative_ratio: float = _HARD,
    negative_ratio: float = _OTHER,
    holdout_articles: int = typer.Option(8, help="Training articles held apart to calibrate the null threshold."),
    max_seq_length: int = 384,
    doc_stride: int = 128,
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    precision: str = typer.Option("auto", help="auto (bf16 on CUDA) | fp32 | bf16 | fp16"),
    max_minutes: float = typer.Option(0.0, help="Wall-clock budget; the schedule is fitted into it."),
    reserve_minutes: float = typer.Option(0.0, help="Minutes of the budget kept for calibration and saving."),
    limit: int = typer.Option(0, help="Train on the first N questions only (smoke tests)."),
    seed: int = 42,
    resume: bool = typer.Option(False, help="Continue from output_dir/checkpoint.pt."),
    replace: bool = typer.Option(False, "--replace", help="Replace the reader already in --output-dir (by default "
                                 "the shipped one)."),
    eval_file: str = typer.Option("", help="Optional SQuAD dev file for a quick check after training."),
    wikiqa: str = typer.Option("", help="WikiQA folder (WikiQA-train.tsv.gz, WikiQASent.pos.ans.tsv.xz, ...): also "
                               "train on its train questions read against their whole paragraph, answerable at "
                               "the annotators' phrase, unanswerable without an answer sentence."),
    wikiqa_repeat: int = typer.Option(3, help="How many times each answerable WikiQA question is seen per epoch."),
) -> None:
    """Fine-tune the span reader on SQuAD-format data (answerable questions plus synthetic unanswerable
    ones), then calibrate its no-answer threshold on held-out training articles."""
    from mrc.train_span import train_span_reader

    cfg = _cfg(output_dir, base_model=base_model, epochs=epochs, batch_size=batch_size,
               learning_rate=learning_rate, device=device, precision=precision, max_minutes=max_minutes,
               reserve_minutes=reserve_minutes, limit=limit, seed=seed, resume=resume,
               replace=replace)
    mix = _mix(negative_ratio, hard_negative_ratio, swap_ratio, antonym_ratio)
    if not 8 <= max_seq_length <= 512:
        raise InputError(f"--max-seq-length must lie between 8 and 512 tokens, not {max_seq_length}")
    from mrc.span import question_room

    if doc_stride < 1:
        raise InputError(f"--doc-stride must be at least 1 token, not {doc_stride}")
    if question_room(max_seq_length, doc_stride) < 8:  # the reader's own rule
        raise InputError(f"--doc-stride {doc_stride} leaves a window of {max_seq_length} tokens no room for the "
                         "question and new context: give a smaller stride (or a longer window)")
    if holdout_articles < 1 or wikiqa_repeat < 1:
        raise InputError("--holdout-articles and --wikiqa-repeat must be at least 1")
    with _cleaned_up(output_dir):
        train_span_reader(cfg, _check_file(train_file), mix, holdout_articles, max_seq_length,
                          doc_stride, eval_file or None, wikiqa_dir=wikiqa or None, wikiqa_repeat=wikiqa_repeat)


@train_app.command("choice")
def choice(
    train_file: Path = typer.Option(..., help="RACE train as JSON lines (one article a line; .gz/.xz ok)."),
    output_dir: Path = typer.Option(MODELS_DIR / "choice-minilm-l6", help="Where the trained reader goes."),
    base_model: str = typer.Option("", help="Base encoder folder; empty = packaged all-MiniLM-L6-v2."),
    epochs: float = 3.0,
    batch_size: int = 32,
    learning_rate: float = 6e-5,
    max_seq_length: int = 512,
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    precision: str = typer.Option("auto", help="auto (bf16 on CUDA) | fp32 | bf16 | fp16"),
    max_minutes: float = typer.Option(0.0, help="Wall-clock budget; the schedule is fitted into it."),
    reserve_minutes: float = typer.Option(0.0, help="Minutes of the budget kept for evaluation and saving."),
    limit: int = typer.Option(0, help="Train on N random questions only (smoke tests)."),
    seed: int = 42,
    resume: bool = typer.Option(False, help="Continue from output_dir/checkpoint.pt."),
    replace: bool = typer.Option(False, "--replace", help="Replace the reader already in --output-dir (by default "
                                 "the shipped one)."),
    eval_file: str = typer.Option("", help="Optional RACE dev file for a quick check after training."),
    pooling: str = typer.Option("mean", help="mean (over the tokens, as the sentence encoder was trained) | cls "
                                "(Hugging Face's multiple-choice head)."),
) -> None:
    """Fine-tune the multiple-choice reader on RACE-format data (article, question, four options).
    Give a span reader as --base-model to start from its SQuAD-trained encoder."""
    from mrc.train_choice import train_choice_reader

    cfg = _cfg(output_dir, base_model=base_model, epochs=epochs, batch_size=batch_size,
               learning_rate=learning_rate, device=device, precision=precision, max_minutes=max_minutes,
               reserve_minutes=reserve_minutes, limit=limit, seed=seed, resume=resume,
               replace=replace)
    if not 16 <= max_seq_length <= 512:
        raise InputError(f"--max-seq-length must lie between 16 and 512 tokens, not {max_seq_length}")
    with _cleaned_up(output_dir):
        train_choice_reader(cfg, _check_file(train_file), max_seq_length, eval_file or None, pooling=pooling)


@train_app.command("calibrate-span")
def calibrate_span(
    model_dir: Path = typer.Option(MODELS_DIR / "span-minilm-l6", help="The trained span reader to re-calibrate."),
    train_file: Path = typer.Option(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz",
                                    help="The SQuAD file the reader was trained on (its held-out articles)."),
    swap_ratio: float = _SWAP,
    antonym_ratio: float = _ANTONYM,
    hard_negative_ratio: float = _HARD,
    negative_ratio: float = _OTHER,
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    limit: int = typer.Option(0, help="Only the first N held-out questions; prints, writes nothing."),
) -> None:
    """Refit the no-answer threshold and score temperature on held-out training articles (no training)."""
    from mrc.recalibrate import recalibrate_span_reader

    mix = _mix(negative_ratio, hard_negative_ratio, swap_ratio, antonym_ratio)
    if limit < 0:
        raise InputError(f"--limit must be 0 (every held-out question) or more, not {limit}")
    recalibrate_span_reader(model_dir, _check_file(train_file), mix=mix, device=_check_device(device), limit=limit)


@train_app.command("average")
def average(
    model: list[Path] = typer.Option(..., help="A span reader folder; give two or more, continued from one reader."),
    out: Path = typer.Option(..., help="Where the averaged reader goes (may be one of the --model folders)."),
    weight: list[float] = typer.Option(None, help="One weight per --model, summing to 1 (default: equal)."),
    train_file: Path = typer.Option(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz",
                                    help="The SQuAD file the readers were trained on (their held-out articles)."),
    device: str = typer.Option("cpu", help="Where the calibration reads: cpu | cuda"),
    replace: bool = typer.Option(False, "--replace", help="Replace a reader already in --out (one of the --model "
                                 "folders may be replaced without it)."),
) -> None:
    """Average the weights of span readers fine-tuned from one reader (a model soup), then refit the
    no-answer threshold and temperature of the average on their held-out training articles."""
    from mrc.average import average_span_readers

    with _cleaned_up(out):
        average_span_readers([str(m) for m in model], out, _check_file(train_file), weights=weight or None,
                             device=_check_device(device), replace=replace)


@train_app.command("router")
def router(
    out: Path = typer.Option(None, help="Where the router model goes (default: router/router.json in the "
                                        "data_dir setting's folder)."),
) -> None:
    """Train the router's classifier on training questions of each source (never what routed-qa tests),
    and on questions generated from your graph when QA_KB_GRAPH or QA_KB_ENDPOINT names one."""
    from qa.commands import check_writable
    from qa.core.settings import Settings
    from qa.models import shared_encoder
    from qa.router import model_path
    from qa.router_training import train_router

    settings = Settings.load()
    check_writable(out or model_path(settings))  # now, not after the training
    train_router(settings, shared_encoder(settings), out=out, progress=typer.echo)


@train_app.command("calibrate-webqa")
def calibrate_webqa(
    train_file: Path = typer.Option(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz",
                                    help="The SQuAD training file the span reader was trained on."),
    out: Path = typer.Option(None, help="Where the calibrator goes (default: calibration/webqa.json in the "
                                        "data_dir setting's folder)."),
    limit: int = typer.Option(0, help="Only the first N held-out questions: a quick look that prints, and writes "
                                      "no calibration unless --out names a file (--records is written as asked)."),
    records: Path = typer.Option(None, help="Keep the collected candidates in this JSON-lines file and "
                                            "refit from it when it exists (no re-reading)."),
) -> None:
    """Fit WebQA's answer probabilities on the span reader's held-out training articles (never dev)."""
    from qa.calibration_training import fit_webqa_calibrator
    from qa.commands import check_writable
    from qa.core.settings import Settings
    from qa.models import shared_encoder

    if limit < 0:  # `questions[:-1]` was every question but the last
        raise InputError(f"--limit must be 0 (every held-out question) or more, not {limit}")
    settings = Settings.load()
    # a fit on a few questions never replaces the calibration `qa ask` reads (one on three questions
    # scored a wrong answer to an unanswerable question 1.00): with --limit, only where --out says
    target = out if out is not None or limit else Path(settings.data_dir) / "calibration" / "webqa.json"
    # now, not after minutes of collecting candidates; records that exist are read, not written
    check_writable(target, records if records is not None and not records.exists() else None)
    fit_webqa_calibrator(settings, Path(_check_file(train_file)), shared_encoder(settings), out=target,
                         limit=limit, records_file=records, log=typer.echo)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
