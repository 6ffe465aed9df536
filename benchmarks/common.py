"""Shared helpers for benchmark scripts: data paths, opening .gz/.xz files, cached encoding and
the results-file writer (the format of ../shared/BENCHMARKS.md: name, dataset, command,
machine, date, wall time, metrics, systems)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))



def _one_line_for_user_errors(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """A benchmark given a wrong path or setting (`QA_KB_SCORER=/nope`, `--compare missing.json`)
    says so in one line, exit 2, as the `qa` commands do; a bug keeps its traceback."""
    from qa.core.errors import QAError

    if isinstance(exc, QAError):
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.__excepthook__(kind, exc, tb)


sys.excepthook = _one_line_for_user_errors
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CACHE = REPO / ".cache" / "bench"
CACHE_HITS: list[str] = []  # descriptions of encodings reused from CACHE in this run


def open_text(path: str | Path) -> IO[str]:
    """Open a plain, .gz or .xz file as UTF-8 text (the shared data is stored compressed)."""
    p = Path(path)
    if p.suffix == ".gz":
        return gzip.open(p, "rt", encoding="utf-8", newline="")
    if p.suffix == ".xz":
        return lzma.open(p, "rt", encoding="utf-8", newline="")
    return open(p, encoding="utf-8", newline="")


def find_data(rel: str) -> Path:
    """A file under ../shared/data, exiting with a clear message when the folder is absent."""
    p = SHARED / rel
    if not p.exists():
        sys.exit(f"benchmark data not found: {p} (the shared data folder sits beside the repository)")
    return p


def machine() -> dict[str, Any]:
    """CPU model and core count, since timings only compare within one machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "cores": cores,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def command_line() -> str:
    """The command that produced a result, as one would retype it from the repository root, with
    the `QA_*` settings (and OMP_NUM_THREADS) of its environment in front."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    # the settings a run was given in its environment are part of what it measured
    from qa.core.settings import unsecret

    env = [f"{k}={shlex.quote(str(unsecret(k[3:].lower(), v)))}" for k, v in sorted(os.environ.items())
           if (k.startswith("QA_") and k != "QA_CONFIG") or k in ("OMP_NUM_THREADS", "QA_CONFIG")]
    return " ".join([*env, "python", shlex.quote(str(script)), *map(shlex.quote, sys.argv[1:])])


def shown_path(path: object) -> str:
    """A file a result names, relative to the repository when it is in it (another checkout's
    absolute path says nothing to a reader of the result)."""
    try:
        return str(Path(str(path)).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def cached_encode(encoder: Any, texts: Sequence[str], *, description: str) -> np.ndarray:
    """Encode `texts` once per (encoder, texts) and reuse the vectors from .cache/bench/ on reruns.

    Benchmarks are rerun while tuning; re-encoding thousands of passages each time would cost
    minutes of a shared CPU for identical numbers.
    """
    # the runtime is part of the key: the int8 and float copies give (slightly) different vectors
    h = hashlib.sha256(f"{encoder.name}|{getattr(encoder, 'backend', '')}".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    path = CACHE / f"{h.hexdigest()[:24]}.npy"
    if path.exists():
        CACHE_HITS.append(description)
        return np.load(path)
    vectors = encoder.encode(list(texts), progress=True, description=description)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)
    return vectors


def write_results(
    name: str,
    dataset: str,
    metrics: dict[str, float],
    *,
    wall_s: float,
    systems: dict[str, dict[str, float]] | None = None,
    extra: dict[str, Any] | None = None,
    out: Path | None = None,
) -> Path:
    """Write benchmarks/results/<name>.json (or `out`) and return its path."""
    payload: dict[str, Any] = {
        "name": name,
        "dataset": dataset,
        "command": command_line(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "metrics": metrics,
    }
    if CACHE_HITS:  # wall_s then leaves out that encoding time
        payload["vectors_reused_from_cache"] = list(CACHE_HITS)
    if systems is not None:
        payload["systems"] = systems
    if extra:
        payload.update(extra)
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    from qa.core.atomic import atomic_write_text  # a run stopped while writing keeps the last results whole

    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def run_cli_metrics(argv: list[str]) -> dict[str, Any]:
    """Runs a `qa eval ...` command in-process with --metrics-out and returns its metrics, so a
    benchmark measures exactly the code path users run."""
    import tempfile

    from qa.cli import main as qa_main

    with tempfile.TemporaryDirectory() as tmp:
        metrics_path = Path(tmp) / "metrics.json"
        code = qa_main([*argv, "--metrics-out", str(metrics_path)])
        if code:
            raise SystemExit(code)
        return json.loads(metrics_path.read_text())


def install_apart(target: Path, packages: Sequence[str]) -> None:
    """Install a peer's packages into their own folder, without dependencies (torch, numpy and the
    like come from the project's environment), so measuring a peer never changes ours."""
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    *packages], check=True)


def repo_relative(path: str | Path) -> str:
    p = Path(path).resolve()
    return p.relative_to(REPO).as_posix() if p.is_relative_to(REPO) else str(p)


class Timer:
    """Wall time of the whole benchmark run."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
