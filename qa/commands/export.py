"""`qa export onnx`: build the int8 ONNX copy of a span reader for the CPU `onnx` backend."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from qa.core.paths import MODELS_DIR

export_app = typer.Typer(help="Export readers to other runtimes.", no_args_is_help=True)
console = Console()


@export_app.command("onnx")
def onnx(
    model_dir: Path = typer.Option(MODELS_DIR / "span-minilm-l6", help="The span reader to export."),
    quantize: bool = typer.Option(True, help="Also write the int8 (dynamically quantised) model."),
) -> None:
    """Write <model>/onnx/model.onnx (float32) and model.int8.onnx; then use QA_SPAN_BACKEND=onnx."""
    from mrc.onnx_export import export_span_onnx

    info = export_span_onnx(model_dir, quantize=quantize)
    sizes = ", ".join(f"{name} {mb} MB" for name, mb in info["files_mb"].items())
    console.print(f"wrote {info['folder']} ({sizes}) in {info['seconds']:.0f}s; "
                  "read with it: QA_SPAN_BACKEND=onnx (int8) or onnx-fp32")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
