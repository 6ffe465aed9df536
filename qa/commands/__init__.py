"""CLI sub-commands; each module exposes `register(app)`."""

from __future__ import annotations

from pathlib import Path

from qa.core.errors import InputError


def check_graph_file(graph: Path | None) -> None:
    """A `--graph` that names no readable file is refused before anything loads."""
    if graph is None:
        return
    if graph.is_dir():
        raise InputError(f"--graph {graph} is a folder; give a Turtle, N-Triples or TSV file")
    if not graph.is_file():
        raise InputError(f"graph file not found: {graph}")
