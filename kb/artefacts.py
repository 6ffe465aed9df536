"""Where a graph's built artefacts live: its label index and the scorer trained for it.

A graph file is known by the SHA-256 of its content, so a trained scorer and a label index are
found again for the same graph wherever the file sits, and an edited graph never uses the stale
ones. They live in `<cache>/kb/<hash>/` (`qa.core.paths.cache_dir()`); the hash of a file is
remembered by (path, size, modification time), so a large graph is hashed once, not per start.
A SPARQL endpoint is keyed by its URL; its data can change, so its label index is rebuilt once it
is older than `kb_index_max_age_h` (24 h by default; 0 rebuilds it at every start).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from kb.scorer import Scorer
from qa.core.atomic import atomic_write_text
from qa.core.paths import cache_dir, data_file
from qa.core.settings import Settings, unsecret
from qa.core.text import json_file

log = logging.getLogger(__name__)

LABELS = "labels.pkl"
SCORER = "scorer.json"
_HASHES = "hashes.json"


def graph_file(settings: Settings) -> Path | None:
    """The graph file the settings name (the embedded default when none), or None for an endpoint."""
    if settings.kb_endpoint:
        return None
    if settings.kb_graph:
        return Path(settings.kb_graph)
    from kb.default_graph import default_graph_path

    return default_graph_path()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered by (path, size, mtime, inode, ctime) in the cache
    folder. The inode and change time too: an edit that keeps the size, with the time stamp put
    back (`cp -p`, `rsync -a`, `touch -r`), kept answering from the graph before the edit; no
    tool sets the change time back."""
    path = Path(path).resolve()
    st = path.stat()
    memo_path = cache_dir() / "kb" / _HASHES
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_ctime_ns}"
    try:
        memo = json_file(memo_path)
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    memo[key] = h.hexdigest()
    _forget_earlier_versions(memo, str(path), memo[key])
    try:
        atomic_write_text(memo_path, json.dumps(memo, indent=0))
    except OSError as exc:  # a read-only cache only costs the hash next time
        log.info("cannot remember the graph hash: %s", exc)
    return memo[key]


def _forget_earlier_versions(memo: dict[str, str], path: str, now: str) -> None:
    """A graph file edited: the label index of its earlier content is removed (it holds every name
    the graph held, those the edit took out included: they stayed in the cache for good) unless
    another file still has that content. A scorer trained for it is kept: training costs minutes,
    and the edit may be undone."""
    earlier = {k: h for k, h in memo.items() if k.rsplit("|", 4)[0] == path and h != now}
    for k in earlier:
        del memo[k]
    for h in set(earlier.values()) - set(memo.values()):
        try:
            (cache_dir() / "kb" / h[:32] / LABELS).unlink(missing_ok=True)
        except OSError as exc:  # a read-only cache: the graph still loads
            log.info("cannot remove the earlier label index of %s: %s", path, exc)


def graph_key(settings: Settings) -> str:
    if settings.kb_endpoint:
        return "endpoint-" + hashlib.sha256(settings.kb_endpoint.encode("utf-8")).hexdigest()[:24]
    path = graph_file(settings)
    assert path is not None  # a file whenever there is no endpoint
    return file_hash(path)[:32]


def artefact_dir(settings: Settings) -> Path:
    return cache_dir() / "kb" / graph_key(settings)


def shipped_scorer(settings: Settings) -> Path:
    return data_file(settings.data_dir, "kb", SCORER)


def find_scorer(settings: Settings, artefacts: Path | None) -> tuple[Scorer, str]:
    """The scorer to use and where it came from: `kb_scorer` when set; else the one trained for this
    graph (`qa kb train`); else the shipped scorer, which was trained on the embedded world graph."""
    if settings.kb_scorer:
        return Scorer.load(settings.kb_scorer), settings.kb_scorer
    if artefacts is not None and (artefacts / SCORER).exists():
        return Scorer.load(artefacts / SCORER), str(artefacts / SCORER)
    shipped = shipped_scorer(settings)
    if not shipped.exists():
        return Scorer(), "untrained default weights"
    scorer = Scorer.load(shipped)
    if settings.kb_endpoint:
        shown = unsecret("kb_endpoint", settings.kb_endpoint)
        log.warning("no scorer trained for the endpoint %s yet: answers use the world graph's scorer and may be "
                    "worse; run `qa kb train --endpoint %s` once", shown, shown)
    elif scorer.meta.get("graph_sha256"):
        path = graph_file(settings)
        if path is not None and file_hash(path) != scorer.meta["graph_sha256"]:
            log.warning("no scorer trained for %s yet: answers use the world graph's scorer and may be "
                        "worse; run `qa kb train --graph %s` once", path, path)
    return scorer, str(shipped)
