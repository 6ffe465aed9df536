"""The floor of the project: types, errors, settings and text helpers that every layer shares.

It imports nothing else of ours, so the sources (retrieval/, kb/, mrc/, cqa/) can all stand on it
without import cycles, and the application (engine, router, CLI, API, UI) stands on all of them.
Importing it is cheap: no torch, no model, no index.
"""

import os
import sys

# ONNX Runtime (1.29 and later) records a device id and usage events under ~/.cache/Microsoft and
# uploads them when it can; an offline product answering from a user's own documents sends nothing
# anywhere. Set before the runtime starts (it reads the variable once); a user who wants it sets
# ORT_DISABLE_TELEMETRY=0 themselves.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

# torch makes its compiler's cache folder when it is imported (/tmp/torchinductor_<user>, left behind
# by every command that loads the multiple-choice reader): inside this product's own cache instead,
# where removing the cache removes it too.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    from qa.core.errors import ConfigError
    from qa.core.paths import cache_dir

    def _writable_here(path: str) -> bool:
        """Whether the folder is there to write, or could be made: torch makes it when it is
        imported and fails the import where it cannot (a read-only cache), and the
        multiple-choice reader did not load there; such a machine keeps torch's own folder."""
        while not os.path.exists(path):
            parent = os.path.dirname(path)
            if parent == path:
                return False
            path = parent
        return os.access(path, os.W_OK)

    try:
        _inductor = str(cache_dir() / "torchinductor")
    except ConfigError:
        _inductor = ""
    if _inductor and _writable_here(_inductor):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = _inductor


def _faiss_after_fork() -> None:
    """FAISS searches on an OpenMP thread pool that a forked child does not inherit: a process
    forked after the parent had searched (multiprocessing's default start method on Linux, a
    ProcessPoolExecutor, a pre-forking server) hung in its first search. The child searches on one
    thread instead; nothing is imported here that the parent had not."""
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_faiss_after_fork)
