"""Exports a span reader to ONNX and quantises it to int8, for the CPU-only `onnx` backend.

Dynamic int8 quantisation stores the matrix weights as 8-bit integers and runs the matrix products
in integer arithmetic, which is what makes a 2-core CPU answer faster; the word embeddings (a
lookup, not a product) stay float. The files are built on demand next to the model, in
`<model>/onnx/` (`model.onnx` in float32, `model.int8.onnx`, and `source.json` with a hash of the
weights they came from, so a retrained reader refuses a stale copy), and are not shipped: anyone
can rebuild them in seconds with `qa export onnx`. The float32 export reproduces the PyTorch logits
(tested); int8 changes them slightly, so its F1 is measured by `benchmarks/reader_speed.py`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.core.errors import InputError

ONNX_DIR = "onnx"
FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
SOURCE_FILE = "source.json"  # the fingerprint of the weights the ONNX files were built from
OUTPUTS = ["start_logits", "end_logits"]


def onnx_file(model_dir: str | Path, int8: bool = True) -> Path:
    return Path(model_dir) / ONNX_DIR / (INT8_FILE if int8 else FLOAT_FILE)


def weights_fingerprint(model_dir: str | Path) -> str:
    """One hash over the model's weight files: an ONNX copy built from other weights is stale."""
    from mrc.training import file_sha256

    files = sorted(Path(model_dir).glob("*.safetensors")) or sorted(Path(model_dir).glob("*.bin"))
    return hashlib.sha256("".join(f"{f.name}:{file_sha256(f)};" for f in files).encode()).hexdigest()


def onnx_is_current(model_dir: str | Path) -> bool:
    source = Path(model_dir) / ONNX_DIR / SOURCE_FILE
    if not source.exists():
        return False
    built_from = json.loads(source.read_text(encoding="utf-8")).get("weights_sha256")
    return built_from == weights_fingerprint(model_dir)


def export_span_onnx(model_dir: str | Path, *, quantize: bool = True) -> dict[str, Any]:
    """Writes `<model_dir>/onnx/` atomically (built in a temporary folder, then swapped in)."""
    try:
        import onnxscript  # noqa: F401 - the exporter needs it
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    except ImportError as exc:
        raise InputError(f"ONNX export needs the onnx extra: pip install -e '.[onnx]' ({exc.name} is missing)") from exc

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise InputError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in tok.model_input_names
                                               else [])

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return out.start_logits, out.end_logits

    ids = torch.full((2, 48), tok.cls_token_id or 101, dtype=torch.long)
    sample = tuple(ids if n == "input_ids" else torch.ones_like(ids) if n == "attention_mask"
                   else torch.zeros_like(ids) for n in names)
    batch, seq = torch.export.Dim("batch", min=1), torch.export.Dim("sequence", min=2, max=4096)
    shapes = {n: {0: batch, 1: seq} for n in names}
    parent = model_dir / ONNX_DIR
    staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=model_dir))
    staging.chmod(0o755)
    try:
        with torch.inference_mode():
            torch.onnx.export(Logits(model), sample, str(staging / FLOAT_FILE), input_names=names,
                              output_names=OUTPUTS, dynamic_shapes=shapes, opset_version=18, dynamo=True,
                              external_data=False)
        (staging / SOURCE_FILE).write_text(json.dumps({"weights_sha256": weights_fingerprint(model_dir)}),
                                          encoding="utf-8")
        if quantize:
            quantize_dynamic(str(staging / FLOAT_FILE), str(staging / INT8_FILE), weight_type=QuantType.QInt8,
                             per_channel=True)  # per output channel: 1.5 F1 lost on SQuAD, not 4.5
        if parent.exists():
            old = model_dir / f".onnx-old-{time.time_ns()}"
            parent.rename(old)
            staging.rename(parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(parent)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(parent.glob("*.onnx"))}
    return {"folder": str(parent), "files_mb": files, "inputs": names, "seconds": time.perf_counter() - t0}


class OnnxSpanModel:
    """The ONNX Runtime session behind `SpanReader(backend="onnx")`: numpy in, logits out."""

    def __init__(self, model_dir: str | Path, *, int8: bool = True, threads: int = 0) -> None:
        path = onnx_file(model_dir, int8)
        rebuild = f"build it with `qa export onnx --model-dir {model_dir}`"
        if not path.exists():
            raise InputError(f"{path} is missing: {rebuild}")
        if not onnx_is_current(model_dir):
            raise InputError(f"{path} was built from other weights than {model_dir} holds now: re-{rebuild}")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise InputError("the onnx backend needs onnxruntime: pip install -e '.[onnx]'") from exc
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def __call__(self, feed: dict[str, Any]) -> tuple[Any, Any]:
        start, end = self.session.run(OUTPUTS, {k: v for k, v in feed.items() if k in self.input_names})
        return start, end
