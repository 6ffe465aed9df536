"""The span reader's ONNX copy: the default CPU runtime (`span_backend` auto / onnx / onnx-fp32).

The copy is built on first use (or by `qa export onnx`) into the cache by `qa.core.onnx_models`:
TorchScript export of the question-answering model (plain or pruned by `qa compress`), ONNX
Runtime's fused BERT kernels, then dynamic int8 with one scale per output channel. Reading with it
imports neither torch nor transformers. The float32 copy reproduces the PyTorch logits (tested);
int8 moves them slightly, and what that costs in F1 is measured by `benchmarks/reader_speed.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.core.errors import InputError
from qa.core.onnx_models import (
    FLOAT_FILE,
    INT8_FILE,
    SOURCE_FILE,
    OnnxRecipe,
    copy_folder,
    ensure_copy,
    open_session,
    rebuild_copy,
    sample_feed,
    torch_export,
)
from qa.core.text import json_file

OUTPUTS = ["start_logits", "end_logits"]
KEEP_FLOAT = ("qa_outputs", "attention/output/dense", "/layer.0/output/dense/", "/layer.1/output/dense/",
              "/layer.2/output/dense/")


def _config(model_dir: Path) -> dict[str, Any]:
    try:
        return json_file(model_dir / "config.json")
    except (OSError, ValueError) as exc:
        raise InputError(f"{model_dir} is not a Hugging Face model folder: {exc}") from exc


def _export(model_dir: Path, out: Path) -> None:
    """TorchScript export of the question-answering model, returning (start, end) logits."""
    try:
        import torch
        from transformers import AutoModelForQuestionAnswering
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise InputError(f"building the ONNX copy needs torch and transformers ({exc.name} is missing)") from exc

    from mrc.loading import load_model

    # eager attention: its additive mask is the pattern ONNX Runtime fuses into one Attention kernel
    model = load_model(model_dir, AutoModelForQuestionAnswering, torch.device("cpu"), attn_implementation="eager")
    names = input_names(model_dir)

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.inner(**dict(zip(names, inputs, strict=True)))
            return out.start_logits, out.end_logits

    vocab = int(_config(model_dir).get("vocab_size", 30522))
    torch_export(Logits(model), names, OUTPUTS, out, check_feed=sample_feed(names, vocab))


def input_names(model_dir: Path) -> list[str]:
    """BERT-style models take segment ids; RoBERTa- and DistilBERT-style ones do not need them."""
    config = _config(model_dir)
    with_types = config.get("model_type") not in {"distilbert", "roberta", "xlm-roberta", "camembert"}
    return ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])


def recipe(model_dir: Path) -> OnnxRecipe:
    vocab = int(_config(model_dir).get("vocab_size", 30522))
    # Kept float: the QA head (384 -> 2), a tiny product whose rounding moves every span score; each
    # layer's attention output projection (384 -> 384, a twelfth of a layer's products), whose int8
    # rounding cost most of the F1 that int8 lost on held-out training questions (-0.44 -> -0.03 on
    # the 1,274 of them, at about 6 % of the speed); and the FFN output products of the first three
    # layers, whose inputs carry the largest outlier channels (one GELU channel 9-17x the median,
    # 3-4x in the last layers): they bring the answers that differ from the float copy's from 7.9 to
    # 5.7 % of those questions at about 3 % of the speed. `benchmarks/int8_recipe.py` measures each.
    return OnnxRecipe(kind="span", export=_export, sample=lambda names: sample_feed(names, vocab),
                      keep_float=KEEP_FLOAT)


def onnx_file(model_dir: str | Path, int8: bool = True, *, build: bool = True, progress: bool = True) -> Path:
    """The ONNX copy of a span reader; built into the cache first if missing or stale."""
    model_dir = Path(model_dir)
    if not build:
        return copy_folder(model_dir, "span") / (INT8_FILE if int8 else FLOAT_FILE)
    return ensure_copy(model_dir, recipe(model_dir), int8=int8, progress=progress)


def export_span_onnx(model_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """(Re)build the ONNX copies of a span reader now (`qa export onnx`); returns what was built."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise InputError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
    return rebuild_copy(model_dir, recipe(model_dir), progress=progress)


def onnx_info(model_dir: str | Path) -> dict[str, Any]:
    """What `source.json` says about the current copy (empty when none is built)."""
    try:
        return json_file(copy_folder(Path(model_dir), "span") / SOURCE_FILE)
    except (OSError, ValueError):
        return {}


class OnnxSpanModel:
    """The ONNX Runtime session behind the onnx backends: numpy in, (start, end) logits out."""

    def __init__(self, model_dir: str | Path, *, int8: bool = True, threads: int | None = None,
                 progress: bool = True) -> None:
        self.path = onnx_file(model_dir, int8, progress=progress)
        self.session = open_session(self.path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._shrink: Any = None

    def __call__(self, feed: dict[str, Any], *, shrink: bool = False) -> tuple[Any, Any]:
        """`shrink`: give the memory this run leaves unused back to the system afterwards. ONNX
        Runtime keeps what its largest run needed for the next (a 100,000-character read or a
        full batch left a server some 500 MB larger for good); releasing it after every run costs
        small reads about 8 % in time, so the caller asks for it at the end of a large read."""
        if shrink and self._shrink is None:
            import onnxruntime as ort

            self._shrink = ort.RunOptions()
            self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        start, end = self.session.run(OUTPUTS, {k: v for k, v in feed.items() if k in self.input_names},
                                      self._shrink if shrink else None)
        return start, end
