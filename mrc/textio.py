"""Opens data files whether plain, gzip or xz, because shared data sets ship compressed."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import IO


def open_text(path: str | Path) -> IO[str]:
    p = Path(path)
    if p.suffix == ".gz":
        return gzip.open(p, "rt", encoding="utf-8")
    if p.suffix == ".xz":
        return lzma.open(p, "rt", encoding="utf-8")
    return p.open("r", encoding="utf-8")
