"""ONNX Runtime copies of Hugging Face models: the fast CPU path of the span reader and the encoder.

Why it is built this way:

* Inference needs only `onnxruntime`, `tokenizers` and numpy: a process that answers with the
  fast path never imports torch or transformers, which is most of a cold start.
* The copy is built once, on first use or with `qa export onnx`, from the model's own weights:
  PyTorch exports the float graph (TorchScript exporter: its graph is the one ONNX Runtime's
  transformer optimiser recognises), the optimiser fuses attention, LayerNorm (with the residual
  add) and GELU, and dynamic int8 quantisation stores the matrix weights (and the embedding table)
  as 8-bit integers, one scale per output channel. The fused float graph is checked against the
  plain export before it is kept; a graph the optimiser got wrong is dropped for the plain one.
* Copies live in the user's cache (`cache_dir()/onnx/<kind>-<model>-<hash>/`), never in the model
  folder, so a read-only install works. The folder name and its `source.json` carry a hash of the
  weights and config they came from and of the build recipe: a retrained or edited model, or a
  newer recipe, never loads a stale copy; it gets a fresh build and the stale one is removed.
* The hash of a model's weight files is remembered by (size, mtime, inode), so a warm start does
  not re-read 100 MB of weights to find its copy.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.core.atomic import atomic_write_text, file_lock, recover_interrupted, staging_dir, swap_dir
from qa.core.errors import ConfigError, InputError, ModelNotFoundError
from qa.core.paths import cache_dir
from qa.core.quiet import quiet_transformers
from qa.core.settings import SpanBackend
from qa.core.text import json_file

# Bump when the export, optimisation or quantisation recipe changes: copies built by an older
# recipe are then rebuilt instead of loaded.
RECIPE = 3
FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
SOURCE_FILE = "source.json"
_FINGERPRINTS = "fingerprints.json"
_LOCK = threading.Lock()

# (model_dir, out_file) -> writes the float32 ONNX graph of the model (may import torch)
Exporter = Callable[[Path, Path], None]


@dataclass(frozen=True)
class OnnxRecipe:
    """How one kind of model becomes an ONNX copy.

    `kind` names the cache folder ("span", "encoder"); `export` writes the float graph; `sample`
    builds a small feed (input name -> int64 array) for the parity check; `keep_float` lists
    substrings of node names that stay float32 in the int8 copy (small, sensitive products)."""

    kind: str
    export: Exporter
    sample: Callable[[Sequence[str]], dict[str, Any]]
    keep_float: tuple[str, ...] = ()
    tolerance: float = 1e-3
    extra: dict[str, Any] = field(default_factory=dict)


def onnx_root() -> Path:
    return cache_dir() / "onnx"


# ---------------------------------------------------------------------- fingerprints
# Files beside the weights that an exporter bakes into the graph (the answer judge's linear head):
# they are part of what a copy is built from.
BAKED_SIDECARS = ("judge.json",)


def _weight_files(model_dir: Path) -> list[Path]:
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    sidecars = [model_dir / name for name in BAKED_SIDECARS if (model_dir / name).is_file()]
    return [model_dir / "config.json", *files, *sidecars]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(model_dir: str | Path) -> str:
    """One hash over the model's config and weight files (what its ONNX copy is built from)."""
    model_dir = Path(model_dir).resolve()
    memo_path = onnx_root() / _FINGERPRINTS
    try:
        memo = json_file(memo_path)
    except (OSError, ValueError):
        memo = {}
    parts: list[str] = []
    changed = False
    for f in _weight_files(model_dir):
        try:
            st = f.stat()
        except OSError as exc:
            raise ModelNotFoundError(f"cannot read {f}: {exc}") from exc
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = memo.get(str(f))
        if isinstance(known, dict) and known.get("stamp") == stamp:
            digest = str(known.get("sha256"))
        else:
            digest = _sha256(f)
            memo[str(f)] = {"stamp": stamp, "sha256": digest}
            changed = True
        parts.append(f"{f.name}:{digest};")
    if changed:
        with contextlib.suppress(OSError):  # a read-only cache only costs the re-hash next time
            atomic_write_text(memo_path, json.dumps(memo, indent=0, sort_keys=True))
    return hashlib.sha256(f"recipe {RECIPE};{''.join(parts)}".encode()).hexdigest()


def copy_folder(model_dir: str | Path, kind: str, fp: str | None = None) -> Path:
    """Where the ONNX copy of `model_dir` lives (whether or not it was built yet)."""
    model_dir = Path(model_dir)
    fp = fp or fingerprint(model_dir)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_dir.resolve().name)[:60]
    return onnx_root() / f"{kind}-{name}-{fp[:16]}"


def is_current(folder: Path, fp: str, int8: bool, keep_float: Sequence[str] | None = None) -> bool:
    """The copy exists, is complete and was built from exactly these weights by this recipe (and,
    when given, with these layers kept float)."""
    try:
        source = json_file(folder / SOURCE_FILE)
    except (OSError, ValueError):
        return False
    wanted = folder / (INT8_FILE if int8 else FLOAT_FILE)
    same_int8 = keep_float is None or source.get("keep_float") == list(keep_float)
    return source.get("fingerprint") == fp and source.get("recipe") == RECIPE and same_int8 and wanted.is_file()


# ---------------------------------------------------------------------- building
@contextlib.contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    """One build per copy at a time, across threads and processes (others wait, then load it)."""
    with _LOCK, file_lock(folder.parent / f".{folder.name}.lock"):
        yield


def ensure_copy(model_dir: str | Path, recipe: OnnxRecipe, *, int8: bool = True, progress: bool = True,
                rebuild: bool = False) -> Path:
    """The ONNX file for `model_dir` (int8 or float32), built first when missing or stale."""
    model_dir = Path(model_dir)
    fp = fingerprint(model_dir)
    folder = copy_folder(model_dir, recipe.kind, fp)
    if not rebuild and is_current(folder, fp, int8, recipe.keep_float):
        return folder / (INT8_FILE if int8 else FLOAT_FILE)
    try:
        with _build_lock(folder):
            if rebuild or not is_current(folder, fp, int8, recipe.keep_float):
                build_copy(model_dir, recipe, folder, fp, progress=progress)
    except OSError as exc:  # a read-only cache: "Read-only file system: …/offline-qa" named no way out
        if exc.errno == errno.ENOSPC:  # said as a full disk where it is caught
            raise
        raise ConfigError(f"cannot build the ONNX copy of {display_name(model_dir)} in {folder.parent} "
                          f"({exc.strerror or exc}): point XDG_CACHE_HOME at a folder this user can write, or "
                          "run the PyTorch weights (QA_SPAN_BACKEND=torch, QA_ENCODER_BACKEND=torch)") from exc
    return folder / (INT8_FILE if int8 else FLOAT_FILE)


def rebuild_copy(model_dir: str | Path, recipe: OnnxRecipe, *, progress: bool = True) -> dict[str, Any]:
    """Build the copy now whether or not it is current (`qa export onnx`); what was built, with its folder."""
    model_dir = Path(model_dir)
    fp = fingerprint(model_dir)
    folder = copy_folder(model_dir, recipe.kind, fp)
    with _build_lock(folder):
        return {"folder": str(folder), **build_copy(model_dir, recipe, folder, fp, progress=progress)}


def build_copy(model_dir: Path, recipe: OnnxRecipe, folder: Path, fp: str, *, progress: bool = True) -> dict:
    """Export, optimise, check and quantise into a staging folder, then swap it in atomically."""
    try:
        import onnx  # noqa: F401 - the optimiser and the quantiser need it
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelNotFoundError(f"building the ONNX copy needs onnx and onnxruntime ({exc.name} is missing): "
                                 "pip install onnx onnxruntime") from exc
    steps = ["export", "fuse", "check", "int8"]
    t0 = time.perf_counter()
    recover_interrupted(folder.parent, only=folder.name)  # a killed build's staging folder (tens of MB)
    with _steps(f"building the fast ONNX copy of {display_name(model_dir)} (once)", steps, progress) as step, \
            staging_dir(folder) as tmp, _quiet_libraries():
        step("export")
        raw = tmp / "exported.onnx"
        recipe.export(model_dir, raw)
        step("fuse")
        fused = tmp / FLOAT_FILE
        fusion: dict[str, int | str] = dict(_optimise(raw, fused))
        step("check")
        names = [i.name for i in _session(raw, threads=1).get_inputs()]
        feed = recipe.sample(names)
        diff = _max_diff(raw, fused, feed)
        if not diff <= recipe.tolerance:  # the optimiser changed the function: keep the plain graph
            os.replace(raw, fused)
            fusion = {"dropped": f"fused graph differed by {diff:.3g}"}
        else:
            raw.unlink()
        step("int8")
        _quantise(fused, tmp / INT8_FILE, recipe.keep_float)
        int8_diff = _max_diff(fused, tmp / INT8_FILE, feed)
        info = {"fingerprint": fp, "recipe": RECIPE, "kind": recipe.kind, "model_dir": str(model_dir.resolve()),
                "built": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(time.perf_counter() - t0, 1),
                "fusion": fusion, "fused_max_abs_diff": diff, "int8_max_abs_diff": int8_diff,
                "keep_float": list(recipe.keep_float),
                "files_mb": {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(tmp.glob("*.onnx"))},
                **recipe.extra}
        (tmp / SOURCE_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        swap_dir(tmp, folder)
    _remove_stale(folder, model_dir)
    return info


def display_name(model_dir: Path) -> str:
    """How users know a model folder: its name, with its parent's when the name says nothing (a
    package that ships its weights in `model/`)."""
    generic = {"model", "models", "weights", "checkpoint", "snapshot"}
    return f"{model_dir.parent.name}/{model_dir.name}" if model_dir.name.lower() in generic else model_dir.name


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """Our bar says what the build does; the libraries' own chatter is not for users: the weights
    loading bar of transformers, and the quantiser's warning on the root logger, which would also
    set up logging for the whole process (every library's debug lines on stderr from then on)."""
    import logging

    root = logging.getLogger()
    null = logging.NullHandler()
    root.addHandler(null)  # a root logger with a handler is not configured behind our back
    try:
        with quiet_transformers():
            yield
    finally:
        root.removeHandler(null)


def _remove_stale(folder: Path, model_dir: Path) -> None:
    """Copies of the same model folder built from earlier weights (or recipes) are never loaded again."""
    prefix = folder.name.rsplit("-", 1)[0] + "-"
    for other in folder.parent.glob(f"{prefix}*"):
        if other == folder or not other.is_dir():
            continue
        try:
            src = json_file(other / SOURCE_FILE).get("model_dir")
        except (OSError, ValueError):
            continue
        if src == str(model_dir.resolve()):
            shutil.rmtree(other, ignore_errors=True)


def _optimise(src: Path, dst: Path) -> dict[str, int]:
    """ONNX Runtime's BERT optimiser: attention, (skip) LayerNorm, bias + GELU and the embedding
    LayerNorm become single fused kernels. Head counts are read from each layer's graph, so
    pruned models (fewer heads in some layers) fuse correctly."""
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    model = optimize_model(str(src), model_type="bert", num_heads=0, hidden_size=0)
    model.save_model_to_file(str(dst))
    return {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}


def _quantise(src: Path, dst: Path, keep_float: Sequence[str]) -> None:
    """Dynamic int8: weights quantised once per output channel, activations per batch at run time
    (u8 x s8 products, which AVX-512 VNNI and AVX2 run natively)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src), load_external_data=False)
    exclude = [n.name for n in model.graph.node if any(k in n.name for k in keep_float)] if keep_float else []
    import logging

    class _Advice(logging.Filter):  # the quantiser's advice to pre-process, through the root logger: noise here
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    advice, root = _Advice(), logging.getLogger()
    root.addFilter(advice)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=exclude, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.removeFilter(advice)


def _max_diff(a: Path, b: Path, feed: dict[str, Any]) -> float:
    import numpy as np

    out_a = _session(a, threads=1).run(None, feed)
    out_b = _session(b, threads=1).run(None, feed)
    return float(max(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)))
                     for x, y in zip(out_a, out_b, strict=True)))


@contextlib.contextmanager
def _steps(title: str, steps: list[str], enabled: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr over the build steps (the build takes seconds to a minute), where
    stderr is a terminal; elsewhere (a library's caller, a notebook, a log file) the build is logged,
    not printed into what the caller reads."""
    what = title.split(" of ", 1)[-1].removesuffix(" (once)")
    isatty = getattr(sys.stderr, "isatty", None)
    if not enabled or not (callable(isatty) and isatty()):
        yield lambda _name: None
        logging.getLogger(__name__).info("built the ONNX copy of %s", what)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[step]}"), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task(title, total=len(steps), step="")
    done: list[str] = []

    def step(name: str) -> None:
        if done:
            bar.advance(task)
        done.append(name)
        bar.update(task, step=name)

    with bar:
        yield step
        bar.advance(task)
    print(f"built the ONNX copy of {what}", file=sys.stderr)


# ---------------------------------------------------------------------- loading
def resolve_backend(backend: str, device: str) -> SpanBackend:
    """`auto` is the int8 ONNX copy on a CPU and PyTorch on a GPU. Deciding it for a CPU needs no
    torch import (that is what keeps a cold start short); only a `cuda`/`auto` device asks torch
    whether a GPU is there. Never `auto` itself."""
    try:
        chosen = SpanBackend(str(backend))
    except ValueError:
        raise InputError(f"backend {str(backend)!r}: choose auto, onnx (int8), onnx-fp32 or torch") from None
    if chosen != SpanBackend.AUTO:
        return chosen
    if str(device) == "cpu":
        return SpanBackend.ONNX
    import torch

    if torch.cuda.is_available():
        return SpanBackend.TORCH
    if str(device).startswith("cuda"):  # asked for by name: say where it runs instead
        say_no_gpu(str(device))
    return SpanBackend.ONNX


def say_no_gpu(device: str) -> None:
    """Once a process: a GPU was asked for and there is none, so nobody waits for one (the
    settings file that names cuda still works on a laptop)."""
    if not _NO_GPU_SAID:
        _NO_GPU_SAID.append(True)
        logging.getLogger("qa").warning("device %s asked for, but no GPU is available: running on the CPU", device)


_NO_GPU_SAID: list[bool] = []


def default_threads() -> int:
    """Intra-op threads: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # The file is already optimised offline; the basic level only folds constants at load.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def open_session(path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for an ONNX copy."""
    try:
        return _session(Path(path), threads)
    except ImportError as exc:
        raise ModelNotFoundError("the onnx backend needs onnxruntime: pip install onnxruntime") from exc


def load_tokenizer(model_dir: str | Path) -> Any:
    """The model's fast tokenizer (`tokenizer.json`) through the `tokenizers` library alone, with
    the padding and truncation saved in the file switched off (callers set their own)."""
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise ModelNotFoundError(f"{model_dir}: a fast tokenizer (tokenizer.json) is required")
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type for a broken file
        raise ModelNotFoundError(f"{path} is not a usable tokenizer: {exc}") from exc
    tok.no_padding()
    tok.no_truncation()
    return tok


def tokenizer_config(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / "tokenizer_config.json"
    try:
        data = json_file(path) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def special_id(tok: Any, config: dict[str, Any], name: str, default: str) -> int | None:
    """The id of a special token named in tokenizer_config.json (`cls_token`, `pad_token`)."""
    token = config.get(name, default)
    if isinstance(token, dict):  # older configs store AddedToken objects
        token = token.get("content", default)
    return tok.token_to_id(str(token)) if token else None


def pad_feed(encodings: Sequence[Any], pad_id: int, names: Any) -> dict[str, Any]:
    """An ONNX feed from `tokenizers` encodings of one batch: ids, mask and segments padded on the
    right to the longest row, only the inputs the graph has (`names`)."""
    import numpy as np

    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for r, e in enumerate(encodings):
        n = len(e.ids)
        ids[r, :n], mask[r, :n], types[r, :n] = e.ids, e.attention_mask, e.type_ids
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {k: v for k, v in feed.items() if k in names}


# ---------------------------------------------------------------------- exporting with PyTorch
def torch_export(module: Any, input_names: Sequence[str], output_names: Sequence[str], out: Path,
                 sample_len: int = 48, check_feed: dict[str, Any] | None = None) -> None:
    """Export a torch module taking int64 (batch, sequence) inputs with both axes dynamic.

    BERT-style self-attention modules are swapped for `_ExplicitHeads` first (same weights, same
    function), whose reshapes name their head count: the optimiser reads it from the graph, which
    is what lets it fuse the attention of a pruned layer (fewer heads) correctly. The exported
    graph must reproduce the module's outputs on `check_feed` (ragged rows, so masking is tested)."""
    import warnings

    import numpy as np
    import torch

    check = check_feed or sample_feed(input_names, 30522)
    with torch.inference_mode():
        module.eval()
        outputs = module(*(torch.from_numpy(check[n]) for n in input_names))
        outputs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
        reference = [t.float().numpy() for t in outputs]
        _explicit_heads(module)
        ids = torch.full((2, sample_len), 101, dtype=torch.long)
        sample = tuple(torch.ones_like(ids) if n == "attention_mask" else torch.zeros_like(ids)
                       if n == "token_type_ids" else ids for n in input_names)
        axes = {n: {0: "batch", 1: "sequence"} for n in [*input_names, *output_names]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, sample, str(out), input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=axes, opset_version=17, dynamo=False)
    got = _session(out, threads=1).run(list(output_names), check)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, got, strict=True))
    if not diff <= 1e-3:
        raise ModelNotFoundError(f"the ONNX export differs from the PyTorch model by {diff:.3g}; "
                                 "this model cannot use the onnx backend (use the torch backend)")


def sample_feed(input_names: Sequence[str], vocab_size: int, batch: int = 3, length: int = 40,
                types: bool = True) -> dict[str, Any]:
    """A deterministic feed of ragged rows (padding included) for the parity checks; `types`
    marks the last two thirds of each row as the second segment."""
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1000, max(1001, vocab_size), size=(batch, length), dtype=np.int64)
    mask = np.ones((batch, length), dtype=np.int64)
    segments = np.zeros((batch, length), dtype=np.int64)
    for row in range(1, batch):
        cut = length - 7 * row
        ids[row, cut:], mask[row, cut:] = 0, 0
    if types:
        segments[:, length // 3 :] = 1
    segments *= mask
    ids[:, 0] = 101
    full = {"input_ids": ids, "attention_mask": mask, "token_type_ids": segments}
    return {n: full[n] for n in input_names}


def _explicit_heads(module: Any) -> None:
    import torch

    class _ExplicitHeads(torch.nn.Module):
        """Eager BERT self-attention with the head count written into its reshapes."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.query, self.key, self.value = inner.query, inner.key, inner.value
            self.head_size = int(inner.attention_head_size)
            self.heads = self.query.out_features // self.head_size
            self.scaling = float(getattr(inner, "scaling", self.head_size**-0.5))

        def forward(self, hidden_states: Any, attention_mask: Any = None, **_: Any) -> tuple[Any, None]:
            b, n = hidden_states.shape[0], hidden_states.shape[1]
            shape = (b, n, self.heads, self.head_size)
            q = self.query(hidden_states).view(shape).transpose(1, 2)
            k = self.key(hidden_states).view(shape).transpose(1, 2)
            v = self.value(hidden_states).view(shape).transpose(1, 2)
            scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling
            if attention_mask is not None:
                scores = scores + attention_mask
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).contiguous()
            return ctx.reshape(b, n, self.heads * self.head_size), None

    swaps = [(parent, name, child) for parent in module.modules() for name, child in parent.named_children()
             if type(child).__name__ == "BertSelfAttention" and hasattr(child, "attention_head_size")]
    for parent, name, child in swaps:
        setattr(parent, name, _ExplicitHeads(child))
