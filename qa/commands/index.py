"""`qa index`: build a searchable index folder from files, or rebuild the embedded default."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qa.errors import InputError
from qa.settings import Settings

console = Console(stderr=True)


def index(
    path: Annotated[
        Path | None,
        typer.Argument(help="A .txt/.md/.html/.jsonl file or a folder of them.", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Index folder to write (default: settings index_dir)."),
    ] = None,
    default: Annotated[
        bool,
        typer.Option("--default", help="Rebuild the embedded default index (Wikipedia summaries)."),
    ] = False,
    dense_kind: Annotated[
        str, typer.Option("--dense", help="FAISS index kind: flat (exact), fp16 (exact, half size), hnsw.")
    ] = "",
    config: Annotated[Path | None, typer.Option("--config", help="Settings TOML file.")] = None,
) -> None:
    """Index documents for `qa ask`; a failed run leaves the previous index intact."""
    from retrieval.dense import KINDS

    settings = Settings.load(config)
    if dense_kind and dense_kind not in KINDS:
        raise InputError(f"--dense must be one of {', '.join(KINDS)}, not {dense_kind!r}")
    started = time.perf_counter()
    if default:
        if path is not None:
            raise InputError("give either PATH or --default, not both")
        from retrieval.default import SHIPPED_INDEX, build_default_index

        target = out or SHIPPED_INDEX
        build_default_index(target, settings, progress=True, dense_kind=dense_kind or "fp16")
        from retrieval.index_dir import Manifest

        count = Manifest.load(target).count
    else:
        if path is None:
            raise InputError("give a file or folder to index (or --default)")
        from retrieval.ingest import index_path

        target = out or Path(settings.index_dir)
        target, count = index_path(path, target, settings, progress=True, dense_kind=dense_kind or "flat")
    secs = time.perf_counter() - started
    console.print(f"[green]indexed[/] {count:,} passages into {target} in {secs:.1f}s")


def register(app: typer.Typer) -> None:
    app.command("index")(index)
