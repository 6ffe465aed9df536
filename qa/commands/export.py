"""`qa export onnx`: build the fast ONNX copies now (they are otherwise built on first use).

    qa export onnx                         # the span reader, the encoder and both judges the settings select
    qa export onnx --model-dir DIR         # one span reader folder (e.g. from `qa compress span`)
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

export_app = typer.Typer(help="Export models to other runtimes.", no_args_is_help=True)
console = Console()


@export_app.command("onnx")
def onnx(
    model_dir: Path | None = typer.Option(None, help="A span reader folder (default: the settings' span model)."),
    encoder: bool = typer.Option(True, help="Also build the sentence encoder's copy."),
) -> None:
    """(Re)build the fused float32 and int8 ONNX copies into the cache; `qa ask`, `qa read` and
    retrieval then read with them (span_backend / encoder_backend `auto` or `onnx`)."""
    from mrc.loading import reader_config
    from mrc.onnx_export import export_span_onnx
    from qa.core.paths import check_model_dir
    from qa.core.settings import Settings

    settings = Settings.load()
    folder = check_model_dir(model_dir or settings.span_model)
    reader_config(folder, task="span")  # a multiple-choice folder would export as a span reader
    info = export_span_onnx(folder)
    _report(f"span reader {folder.name}", info)
    if encoder and model_dir is None:
        from retrieval.encoder import TextEncoder, build_onnx

        enc = TextEncoder(settings)
        _report(f"encoder {enc.name}", build_onnx(enc.path))
    from mrc.judge import build_onnx as build_judge_onnx

    # both judges of the answered questions: the question judge's copy was built by the first
    # question instead, 14 s into it
    judges = (("answer judge", settings.cqa_judge_model), ("question judge", settings.cqa_question_judge_model))
    for what, path in judges:
        if model_dir is None and path and Path(path).is_dir():
            judge = check_model_dir(path)
            _report(f"{what} {judge.name}", build_judge_onnx(judge))


def _report(what: str, info: dict) -> None:
    sizes = ", ".join(f"{name} {mb} MB" for name, mb in info["files_mb"].items())
    fused = ", ".join(f"{k} {v}" for k, v in info.get("fusion", {}).items())
    console.print(f"{what}: {info['folder']} ({sizes}; fused: {fused}) in {info['seconds']:.0f}s")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
