"""One settings object for every component.

Values come, lowest precedence first, from the defaults below, a TOML file (`QA_CONFIG` or
`./qa.toml`), and environment variables `QA_<FIELD>` (upper case). Components take a
`Settings` in their constructor instead of reading scattered constants.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.paths import DATA_DIR, MODELS_DIR


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "offline-qa"


@dataclass
class Settings:
    # models
    encoder_model: str = ""  # empty: the packaged all-MiniLM-L6-v2
    span_model: str = str(MODELS_DIR / "span-minilm-l6")
    choice_model: str = str(MODELS_DIR / "choice-minilm-l6")
    device: str = "cpu"
    span_backend: str = "torch"  # torch | onnx (int8, CPU; build with `qa export onnx`) | onnx-fp32
    # storage
    index_dir: str = field(default_factory=lambda: str(_default_cache() / "index"))
    data_dir: str = str(DATA_DIR)
    # retrieval
    top_k: int = 5
    retrieve_k: int = 20
    read_k: int = 8  # passages the reader reads per question (CPU cost grows linearly)
    # fusion tuned on SQuAD v1.0 *training* questions (benchmarks/squad_open.py --tune), not dev:
    # "convex" = weighted sum of min-max normalised scores; "rrf" = weighted reciprocal rank (uses k)
    fusion_method: str = "convex"
    fusion_weight_dense: float = 0.55
    fusion_weight_bm25: float = 0.45
    fusion_k: int = 60
    chunk_chars: int = 1200
    chunk_overlap: int = 200
    # readers
    max_seq_length: int = 384
    doc_stride: int = 128
    max_answer_length: int = 30
    n_best: int = 20
    null_threshold: float | None = None  # None: the threshold stored with the model
    batch_size: int = 32
    # knowledge graph
    kb_graph: str = ""  # empty: the embedded default graph
    kb_endpoint: str = ""  # a SPARQL 1.1 endpoint URL; overrides kb_graph when set
    kb_timeout_s: float = 10.0
    # API
    api_key: str = ""
    max_question_chars: int = 2_000
    request_timeout_s: float = 30.0

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        cfg = Path(path) if path else Path(os.environ.get("QA_CONFIG", "qa.toml"))
        if cfg.exists():
            try:
                values.update(tomllib.loads(cfg.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"settings file {cfg} is not valid TOML: {exc}") from exc
        elif path:
            raise InputError(f"settings file not found: {cfg}")
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise InputError(f"unknown settings in {cfg}: {', '.join(sorted(unknown))}")
        for name, f in known.items():
            env = os.environ.get(f"QA_{name.upper()}")
            if env is not None:
                values[name] = _coerce(name, env, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _coerce(name: str, raw: str, typ: Any) -> Any:
    t = str(typ)
    try:
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return None if raw == "" else float(raw)
    except ValueError as exc:
        raise InputError(f"QA_{name.upper()}={raw!r} is not a number") from exc
    return raw
