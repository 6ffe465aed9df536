import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.encoder import TextEncoder

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [
    "The Eiffel Tower is in Paris.",
    "Zürich liegt in der Schweiz — über 400.000 Einwohner.",
    "a",
    "A much longer sentence that goes on and on, so that the batch needs padding for the shorter ones "
    "and the attention mask matters for mean pooling.",
    "東京は日本の首都です。",
]


def test_matches_sentence_transformers() -> None:
    st = pytest.importorskip("sentence_transformers")
    from qa.core.paths import encoder_path

    ours = TextEncoder(batch_size=2, backend="torch").encode(SENTENCES)
    ref = st.SentenceTransformer(str(encoder_path()), device="cpu").encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True
    )
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.999, cos


def test_default_path_is_int8_onnx_close_to_float() -> None:
    """The default (int8 ONNX) stays within cosine 0.99 of PyTorch float32; the float ONNX copy is
    the same function."""
    enc = TextEncoder(batch_size=2)
    assert enc.backend == "onnx"
    ref = TextEncoder(batch_size=2, backend="torch").encode(SENTENCES)
    assert ((enc.encode(SENTENCES) * ref).sum(1) > 0.99).all()
    assert ((TextEncoder(batch_size=2, backend="onnx-fp32").encode(SENTENCES) * ref).sum(1) > 0.99999).all()


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_order_norm_and_empty(backend: str) -> None:
    enc = TextEncoder(batch_size=2, backend=backend)
    vecs = enc.encode(SENTENCES)
    assert vecs.shape == (len(SENTENCES), enc.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # batching and length sorting must not change which vector belongs to which text (int8 scales
    # its activations per batch, so a text alone comes out very slightly different)
    one = np.stack([enc.encode_query(s) for s in SENTENCES])
    np.testing.assert_allclose(vecs, one, atol=1e-5 if backend == "torch" else 2e-2)
    assert ((vecs * one).sum(1) > 0.99).all()
    assert enc.encode([]).shape == (0, enc.dim)


def test_texts_are_tokenized_a_window_at_a_time_with_the_same_vectors(monkeypatch) -> None:
    """A collection's texts were all tokenized and kept before the first vector (about 30 kB
    each: 4.4 GB for 100,000 passages); now only their lengths are kept, a window at a time, and
    the batches, and so the int8 vectors, are the ones a single pass gives."""
    import retrieval.encoder

    enc = TextEncoder(batch_size=2, backend="onnx")
    texts = [s + suffix for suffix in ("", " Indeed.", " As the record shows.") for s in SENTENCES]
    whole = enc.encode(texts)
    monkeypatch.setattr(retrieval.encoder, "WINDOW", 3)
    windowed = enc.encode(texts, progress=True)
    np.testing.assert_array_equal(windowed, whole)


def test_unknown_backend_is_a_clear_error() -> None:
    from qa.core.errors import InputError

    with pytest.raises(InputError, match="backend"):
        TextEncoder(backend="tensorrt")


def test_encoding_on_the_default_path_imports_no_torch() -> None:
    TextEncoder().warm_up()  # the ONNX copy is built here if missing; the child only loads it
    code = (
        "import sys\n"
        "from retrieval.encoder import TextEncoder\n"
        "v = TextEncoder().encode_query('Where is the Eiffel Tower?')\n"
        "assert v.shape == (384,)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
