"""A wheel carries what `qa` reads at run time: `pip install .` had installed the code alone (no
models, no index, no router), and every command failed outside the repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from qa.core.paths import REPO_ROOT


def _tracked(*paths: str) -> list[str]:
    return subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", *paths], capture_output=True, text=True,
                          check=True).stdout.split()


@pytest.mark.slow
def test_a_wheel_ships_the_code_and_the_data_and_nothing_else(tmp_path: Path) -> None:
    # setuptools at hand: built with it, as the editable install was
    args = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *args, str(REPO_ROOT),
                           "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("offline_qa-*.whl"))
    names = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    code = [p for p in _tracked("qa", "retrieval", "kb", "mrc", "cqa", "ui") if p.endswith(".py")]
    data = ["offline_qa_data/" + p.removeprefix("data/") for p in _tracked("data")]
    assert set(code) <= names, "a package is missing from pyproject.toml's list"
    assert set(data) <= names, "a kind of data file is missing from pyproject.toml's package-data"
    typed = {f"{p}/py.typed" for p in ("qa", "retrieval", "kb", "mrc", "cqa", "ui")}  # a caller's mypy reads them
    assert typed <= names
    assert names <= set(code) | set(data) | typed | {"offline_qa_data/__init__.py"}  # nothing untracked
