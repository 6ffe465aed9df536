"""`qa compress span`: prune a span reader by importance, distil it, and read it with int8 ONNX.

    qa compress span --prune 0.3 --out ~/.cache/offline-qa/models/span-p30-kd
    qa compress span --prune 0.5 --distill-windows 0 --out /tmp/span-p50     # pruning alone
    qa compress span --prune 0.3 --eval ../shared/data/mrc/squad-v1.1-dev.json.gz --eval-limit 1000
    QA_SPAN_MODEL=~/.cache/offline-qa/models/span-p30-kd qa ask "..."         # use it
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from qa.core.atomic import atomic_write_text, staging_dir, swap_dir
from qa.core.errors import InputError
from qa.core.paths import MODELS_DIR, SHARED_DATA, cache_dir
from qa.core.text import json_file

compress_app = typer.Typer(help="Compress readers: structured pruning, distillation, int8.", no_args_is_help=True)
console = Console(stderr=True)
out_console = Console()


@compress_app.command("span")
def span(
    prune: float = typer.Option(0.3, "--prune", min=0.0, max=0.9,
                                help="Share of attention heads and of FFN neurons to remove (0 = none)."),
    model_dir: Path = typer.Option(MODELS_DIR / "span-minilm-l6", help="The span reader to compress (the teacher)."),
    out: Path | None = typer.Option(None, help="Where the compressed folder goes "
                                    "(default: <cache>/models/<model>-p<NN>[-kd])."),
    train_file: Path = typer.Option(SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz",
                                    help="The SQuAD file the reader was trained on (its held-out articles "
                                    "rank the heads and neurons; the others are distilled on)."),
    distill_windows: int = typer.Option(3000, min=0, help="Training windows to distil on (0: prune only)."),
    importance_windows: int = typer.Option(512, min=16, help="Held-out windows that rank heads and neurons."),
    max_length: int = typer.Option(256, min=64, max=512, help="Window length for importance and distillation."),
    epochs: float = typer.Option(1.0, min=0.1, help="Passes over the distillation windows."),
    learning_rate: float = typer.Option(1e-4, min=1e-9, help="Peak learning rate of the distillation (linear decay)."),
    max_minutes: float = typer.Option(15.0, min=0.5, help="Stop the distillation after this many minutes."),
    eval_file: Path | None = typer.Option(None, "--eval", help="SQuAD v1.1 file: report F1 of the int8 copy."),
    eval_limit: int = typer.Option(1000, min=1, help="Questions of --eval to read (the first N)."),
    calibrate: bool = typer.Option(True, help="Refit the no-answer threshold on the held-out articles after."),
    replace: bool = typer.Option(False, "--replace", help="Replace a reader already in --out."),
    seed: int = 0,
) -> None:
    """Prune heads and FFN neurons by importance, distil from the uncompressed reader, then use the
    int8 ONNX copy (built on first use). Prints the row of the trade-off table."""
    import torch

    from mrc.pruning import compress_span_reader

    for flag, number in {"--prune": prune, "--epochs": epochs, "--learning-rate": learning_rate,
                         "--max-minutes": max_minutes}.items():  # inf and nan pass the options' bounds
        if not math.isfinite(number):
            raise InputError(f"{flag} must be a finite number, not {number}")
    if not train_file.exists():
        raise InputError(f"training file not found: {train_file}")
    from mrc.loading import reader_config

    reader_config(model_dir, task="span")  # a multiple-choice folder, or none, said as such
    if eval_file is not None:
        from mrc.datasets import load_squad

        load_squad(eval_file)  # a missing or malformed file is said now, not after minutes of compressing
    torch.set_num_threads(max(1, torch.get_num_threads()))
    name = f"{model_dir.name}-p{round(prune * 100):02d}" + ("-kd" if distill_windows else "")
    chosen = out is not None
    out = (out or cache_dir() / "models" / name).expanduser()
    from mrc.training import recover_output_dir

    recover_output_dir(out)  # a reader a killed run had moved aside is put back before it is looked at
    check_compress_target(model_dir, out, replace=replace or not chosen)
    # built beside --out and swapped in whole: an interrupted run leaves the previous reader, never half of one
    with staging_dir(out) as tmp:
        info = compress_span_reader(model_dir, tmp, train_file, prune_fraction=prune,
                                    distill_windows=distill_windows, importance_windows=importance_windows,
                                    max_length=max_length, epochs=epochs, lr=learning_rate, max_minutes=max_minutes,
                                    seed=seed, console=console)
        if calibrate:
            from mrc.recalibrate import recalibrate_span_reader

            recalibrate_span_reader(tmp, train_file)
        swap_dir(tmp, out)
    row = trade_off_row(out, eval_file, eval_limit)
    info["row"] = row
    cfg_path = out / "qa_reader.json"
    cfg = json_file(cfg_path)
    cfg["compression"] = info
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2))
    table = Table(title=f"compressed span reader: {out}", show_header=False)
    for key, value in row.items():
        table.add_row(key, str(value))
    out_console.print(table)


def check_compress_target(model_dir: Path, out: Path, *, replace: bool) -> None:
    """Refuse an --out that would destroy something: the reader being compressed (or a folder
    holding it), a file, a folder of other things, or a reader already there unless `replace`."""
    source, target = model_dir.expanduser().resolve(), out.resolve()
    if target == source or source.is_relative_to(target):
        raise InputError(f"--out {out} would replace the reader being compressed ({model_dir}): choose a new folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: --out names the folder the compressed reader goes to")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "config.json").exists():
            raise InputError(f"{out} is a folder with other files in it, not a reader: choose a new or empty folder")
        if not replace:
            raise InputError(f"{out} already holds a reader: give --replace to replace it, or choose a new folder")


def trade_off_row(model: Path, eval_file: Path | None, limit: int) -> dict[str, object]:
    """Parameters, the int8 copy's size on disk and, given a SQuAD file, its F1 and questions/s."""
    import time

    from mrc.loading import is_pruned
    from mrc.onnx_export import onnx_file, onnx_info
    from mrc.span import ReadRequest, SpanReader
    from qa.core.settings import Settings

    int8 = onnx_file(model)
    cfg = json_file(model / "config.json")
    heads = [s["heads"] for s in cfg["pruned_layers"]] if is_pruned(model) else [cfg["num_attention_heads"]] * \
        cfg["num_hidden_layers"]
    row: dict[str, object] = {"model": model.name, "heads": sum(heads),
                              "int8 MB": round(int8.stat().st_size / 1e6, 1),
                              "fusion": ", ".join(f"{k} {v}" for k, v in onnx_info(model).get("fusion", {}).items())}
    try:
        compression = json_file(model / "qa_reader.json").get("compression", {})
    except (OSError, ValueError):
        compression = {}
    if compression.get("parameters"):
        row["parameters"] = compression["parameters"]
    if eval_file is not None:
        from mrc.datasets import load_squad
        from mrc.metrics import squad_v1_evaluate

        ds = load_squad(eval_file).subset(limit)
        reader = SpanReader(Settings(), model_dir=model, backend="onnx")
        reqs = [ReadRequest(e.question, e.context, e.qid) for e in ds.examples]
        reader.read_batch(reqs[:8], allow_no_answer=False)
        t0 = time.perf_counter()
        answers = reader.read_batch(reqs, allow_no_answer=False)
        seconds = time.perf_counter() - t0
        m = squad_v1_evaluate(ds.data, {e.qid: a[0].text for e, a in zip(ds.examples, answers, strict=True)})
        row.update({"questions": len(reqs), "f1": round(m["f1"], 2), "em": round(m["exact_match"], 2),
                    "questions/s": round(len(reqs) / seconds, 2)})
    return row


def register(app: typer.Typer) -> None:
    app.add_typer(compress_app, name="compress")
