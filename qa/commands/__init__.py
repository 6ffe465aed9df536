"""CLI sub-commands; each module exposes `register(app)`."""

from __future__ import annotations

import os
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


def check_apart(reading: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse an output that is the file being read, or that another output also names: the first
    would replace a data set with predictions, the second keep only whichever is written last."""
    def same(a: Path, b: Path) -> bool:
        return a.expanduser().resolve() == b.expanduser().resolve()

    named = [(flag, path) for flag, path in outputs.items() if path is not None]
    for i, (flag, path) in enumerate(named):
        if str(reading) != "-" and same(path, reading):
            raise InputError(f"{flag} {path} is the file being read: it would be replaced")
        for other_flag, other in named[:i]:
            if same(path, other):
                raise InputError(f"{other_flag} and {flag} name the same file {path}: give each its own")


def check_writable(*paths: Path | None) -> None:
    """Refuse output paths that cannot be written before the work runs, not after it."""
    for path in paths:
        if path is None:
            continue
        if str(path) == "-":  # would be a file named "-", not standard output
            raise InputError("'-' is not a file name here: give the file to write")
        if path.is_dir():
            raise InputError(f"cannot write {path}: it is a folder")
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise InputError(f"cannot write {path}: {blocker} is a file, not a folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise InputError(f"cannot write {path}: {path.parent} is not a folder this user may write to")
