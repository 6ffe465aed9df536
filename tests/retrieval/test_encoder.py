import numpy as np
import pytest

from retrieval.encoder import TextEncoder

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

    ours = TextEncoder(batch_size=2).encode(SENTENCES)
    ref = st.SentenceTransformer(str(encoder_path()), device="cpu").encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True
    )
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.999, cos


def test_order_norm_and_empty() -> None:
    enc = TextEncoder(batch_size=2)
    vecs = enc.encode(SENTENCES)
    assert vecs.shape == (len(SENTENCES), enc.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # batching and length sorting must not change which vector belongs to which text
    one = np.stack([enc.encode_query(s) for s in SENTENCES])
    np.testing.assert_allclose(vecs, one, atol=1e-5)
    assert enc.encode([]).shape == (0, enc.dim)
