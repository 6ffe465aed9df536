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


@pytest.mark.slow
def test_a_wheel_ships_the_data_folder_and_no_local_builds(tmp_path: Path) -> None:
    # setuptools at hand: built with it; else pip fetches it from the package index as a user's pip would
    args = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *args, str(REPO_ROOT),
                           "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("offline_qa-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "data"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and not set(tracked) - names  # every shipped model, index and data file
    assert not [n for n in names if "/onnx/" in n or "/.onnx-" in n]  # copies built here stay here
    assert {"qa/cli.py", "ui/app.py", "kb/sparql.py"} <= names
