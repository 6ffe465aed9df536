"""Loading reader folders (Hugging Face layout) the same way for the span and the choice reader.

Kept apart from the readers so both resolve devices, dtypes and the `qa_reader.json` sidecar alike:
a model trained here, a user's own folder or one fetched from the Hub all load through this path,
always from local files (nothing is downloaded at run time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.core.errors import ModelNotFoundError
from qa.core.onnx_models import resolve_backend  # noqa: F401 - the readers' one place to resolve `auto`
from qa.core.paths import check_model_dir

READER_CONFIG = "qa_reader.json"


def reader_config(model_dir: Path) -> dict[str, Any]:
    """The inference settings stored beside the weights by the trainer (e.g. the calibrated
    `null_threshold`); an absent file means "no calibration", a broken one is a user error."""
    path = model_dir / READER_CONFIG
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def resolve_device(name: str) -> Any:
    """`cuda` silently falls back to CPU when no GPU is present, so one settings file works on
    both the developer's laptop and a GPU box."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        name = "cpu"
    return torch.device(name)


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, use_fast=True)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"{model_dir} has no usable tokenizer: {exc}") from exc
    if not getattr(tok, "is_fast", False):
        # Offsets mapping (exact character spans) only exists for fast tokenizers.
        raise ModelNotFoundError(f"{model_dir}: a fast tokenizer (tokenizer.json) is required")
    return tok


def load_model(model_dir: Path, auto_class: Any, device: Any, **kwargs: Any) -> Any:
    """Load weights for inference. Half-precision checkpoints (we ship fp16 to keep the repo small)
    are cast to float32 on CPU, where fp16 matmuls are slow or unsupported; on a GPU the stored
    dtype is kept."""
    import torch
    from transformers.utils import logging as hf_logging

    dtype = torch.float32 if device.type == "cpu" else "auto"
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # our CLI draws its own progress; keep loading quiet
    try:
        if is_pruned(model_dir):
            from mrc.pruning import load_pruned

            model = load_pruned(model_dir, auto_class, **kwargs)
        else:
            model = auto_class.from_pretrained(str(model_dir), local_files_only=True, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the model in {model_dir}: {exc}") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if device.type == "cpu" and next(model.parameters()).dtype != torch.float32:
        model = model.float()
    model.to(device)
    model.eval()
    return model


def is_pruned(model_dir: Path) -> bool:
    """A folder written by `qa compress`: its layers are narrower than its config says (see
    `mrc.pruning`), so plain `from_pretrained` cannot load it."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "pruned_layers" in config


def checked_dir(path: str | Path, what: str, hint: str) -> Path:
    """`check_model_dir` with a message that says which reader is missing and how to fix it."""
    try:
        return check_model_dir(path)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"the {what} is missing ({exc}). {hint}") from exc
