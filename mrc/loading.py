"""Loading reader folders (Hugging Face layout) the same way for the span and the choice reader.

Kept apart from the readers so both resolve devices, dtypes and the `qa_reader.json` sidecar alike:
a model trained here, a user's own folder or one fetched from the Hub all load through this path,
always from local files (nothing is downloaded at run time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.core.errors import ModelNotFoundError
from qa.core.onnx_models import (
    resolve_backend,  # noqa: F401 - the readers' one place to resolve `auto`
    say_no_gpu,
)
from qa.core.paths import check_model_dir
from qa.core.quiet import quiet_transformers
from qa.core.settings import Settings
from qa.core.text import json_file

READER_CONFIG = "qa_reader.json"


class ReaderSidecar(BaseModel):
    """What a model folder's `qa_reader.json` may set for inference, the same for both readers.

    The trainer writes it beside the weights: the windowing the model was trained with and, for
    span readers, the calibrated no-answer threshold and score temperature. Anything else in the
    file (training provenance, calibration history) is kept but never read at inference.
    """

    model_config = ConfigDict(extra="allow")

    task: Literal["span", "choice"] | None = None
    max_seq_length: int | None = Field(None, ge=16, le=4096)
    doc_stride: int | None = Field(None, ge=0)
    max_answer_length: int | None = Field(None, ge=1)
    null_threshold: float | None = None
    score_temperature: float | None = Field(None, gt=0)


WINDOW_FIELDS = ("max_seq_length", "doc_stride", "max_answer_length")


def reader_config(model_dir: Path, task: str | None = None) -> ReaderSidecar:
    """The inference settings stored beside the weights; an absent file means "nothing stated"
    (our defaults, no calibration), a broken or out-of-range one is a user error, and so is a
    folder that holds the other kind of reader (a `task`, or the architecture in `config.json`):
    a multiple-choice model read as a span reader gives confident nonsense, not an error."""
    _check_task(model_dir, task)
    path = model_dir / READER_CONFIG
    if not path.exists():
        return ReaderSidecar()
    try:
        data = json_file(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{path} must hold a JSON object, not {type(data).__name__}")
    try:
        return ReaderSidecar.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err.get("loc", ()))
        raise ModelNotFoundError(f"{path}: {field}: {err.get('msg', 'invalid value')}") from None


_HEADS = {"span": "QuestionAnswering", "choice": "MultipleChoice"}
_KINDS = {"span": "span (extractive)", "choice": "multiple-choice"}


def _check_task(model_dir: Path, task: str | None) -> None:
    if task is None:
        return
    found = None
    try:
        stated = json_file(model_dir / READER_CONFIG).get("task")
        found = stated if stated in _HEADS else None
    except (OSError, ValueError, AttributeError):
        pass
    if found is None:
        try:
            archs = json_file(model_dir / "config.json").get("architectures") or []
        except (OSError, ValueError, AttributeError):
            archs = []
        found = next((t for t, head in _HEADS.items() for a in archs if head in str(a)), None)
        if found is None and archs:  # a judge, a sentence encoder: no reader head, read as one with a random one
            raise ModelNotFoundError(f"{model_dir} holds a {archs[0]} model, not a {_KINDS[task]} reader (no "
                                     f"reader head: a judge or a plain encoder?); give a {_KINDS[task]} reader folder")
    if found is not None and found != task:
        raise ModelNotFoundError(f"{model_dir} holds a {_KINDS[found]} reader, not a {_KINDS[task]} one; "
                                 f"give a {_KINDS[task]} reader folder")


def effective_settings(settings: Settings, sidecar: ReaderSidecar) -> Settings:
    """The windowing a model was trained with (its sidecar) wins over our defaults; a value the user
    set explicitly (environment, TOML, flag) wins over both. Both readers resolve it here."""
    update = {f: getattr(sidecar, f) for f in WINDOW_FIELDS
              if getattr(sidecar, f) is not None and not settings.explicitly_set(f)}
    return settings.model_copy(update=update) if update else settings


def resolve_device(name: str) -> Any:
    """`cuda` falls back to the CPU when no GPU is present, so one settings file works on both the
    developer's laptop and a GPU box; it says so once, so nobody waits for a GPU that is not there."""
    import torch

    name = str(name)
    if name == "auto":  # Device.AUTO: a GPU when one is present
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        say_no_gpu(name)
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

    dtype = torch.float32 if device.type == "cpu" else "auto"
    try:
        with quiet_transformers():  # our CLI draws its own progress; keep loading quiet
            if is_pruned(model_dir):
                from mrc.pruning import load_pruned

                model = load_pruned(model_dir, auto_class, **kwargs)
            else:
                model = auto_class.from_pretrained(str(model_dir), local_files_only=True, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the model in {model_dir}: {exc}") from exc
    if device.type == "cpu" and next(model.parameters()).dtype != torch.float32:
        model = model.float()
    model.to(device)
    model.eval()
    return model


def is_pruned(model_dir: Path) -> bool:
    """A folder written by `qa compress`: its layers are narrower than its config says (see
    `mrc.pruning`), so plain `from_pretrained` cannot load it."""
    try:
        config = json_file(Path(model_dir) / "config.json")
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "pruned_layers" in config


def checked_dir(path: str | Path, what: str, hint: str) -> Path:
    """`check_model_dir` with a message that says which reader is missing and how to fix it."""
    try:
        return check_model_dir(path)
    except ModelNotFoundError as exc:
        from qa.core.paths import MODELS_DIR

        if not Path(path).exists() and MODELS_DIR.resolve() not in Path(path).resolve().parents:
            # a folder the user named (a typo, most likely), not a shipped reader that is gone
            raise ModelNotFoundError(f"no {what} at {path}: folder not found") from exc
        raise ModelNotFoundError(f"the {what} is missing ({exc}). {hint}") from exc
