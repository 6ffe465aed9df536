"""Extractive (span) reader: question + passage(s) -> answer spans with exact character offsets.

Why it is built this way:

* Long passages are cut into overlapping windows (`max_seq_length`, `doc_stride`) by the fast
  tokenizer itself (the `tokenizers` library: truncation with a stride returns the further windows
  as `overflowing`), and every token keeps its offsets into the *original* context string, so
  `context[answer.start:answer.end] == answer.text` always holds, whatever unicode, accents or
  white space the text carries.
* Runtimes (`span_backend`): `auto`, the default, reads with the fused int8 ONNX copy on a CPU
  (built into the cache on first use, `mrc.onnx_export`) through ONNX Runtime and numpy only, so
  a process that reads never imports torch or transformers; on a GPU `auto` is PyTorch. `torch`
  and `onnx-fp32` (the float copy, same logits as PyTorch) can be forced.
* All windows of all (question, context) pairs of one call are tokenized in one call, sorted by
  length and padded per batch only to the longest window of that batch: that, not per-question
  pipelines, is where CPU time is saved.
* Span search is vectorised: for every window the score of every (start, start + d) pair with
  d < max_answer_length is one array (`start[i] + end[i + d]`, a strided view), masked to context
  tokens, and `argpartition` gives the n-best; no Python loop over logits.
* Scores are UNNORMALISED (start logit + end logit). A per-window softmax would make a weak window
  look confident, so spans from different windows and passages are ranked by raw logits.
* No-answer is SQuAD-2 style: the null score is the [CLS] start + end logit (the minimum over the
  windows of one pair), and the reader answers "no answer" when
  ``null_score - best_span_score > null_threshold``.
* `Answer.score` is a calibrated probability that the span is an answer:
  ``sigmoid((span_score - null_score + null_threshold) / temperature)``. It is 0.5 exactly at the
  decision boundary, so `score >= 0.5` iff the reader would answer; the temperature (default
  `DEFAULT_TEMPERATURE`, or `score_temperature` in the model's `qa_reader.json`) is fitted on held-out
  questions. A no-answer result carries `1 - sigmoid(...)` of the best span, i.e. the confidence
  that there is no answer.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mrc.loading import checked_dir, effective_settings, reader_config, resolve_backend
from qa.core.errors import InputError
from qa.core.onnx_models import load_tokenizer, special_id, tokenizer_config
from qa.core.settings import Settings, SpanBackend
from qa.core.text import check_text, folded
from qa.core.types import Answer, Route, SpanEvidence

MISSING_HINT = (
    "Train it with `qa train span`, or point at any Hugging Face question-answering model folder "
    "with --model DIR (or QA_SPAN_MODEL=DIR)."
)
# Used when the model folder states no `score_temperature`. Fitted with `mrc.calibration` on 800
# held-out SQuAD v1.0 *training* questions (half paired with a paragraph lacking the answer) for
# span-minilm-l6: T = 5.2 (hard labels) / 5.8 (F1 as soft label); with T = 1 every score of a
# trained reader is 0.00 or 1.00, since raw logit margins span about -30..+15.
DEFAULT_TEMPERATURE = 5.0
# Windows keep up to this many context tokens beyond the stride (a quarter of small windows):
# a long question is cut to fit instead of making the tokenizer fail.
_MIN_NEW_CONTEXT_TOKENS = 32

# A read whose largest batch held more tokens than this gives the memory it grew back at its end
# (see `OnnxSpanModel`): a question over its passages (8 windows or so) stays under it and keeps
# the memory for the next one; a batch of asks or a long document's windows go over it.
SHRINK_AFTER_TOKENS = 4096

MAX_READ_QUESTION_CHARS = 100_000


@dataclass(frozen=True)
class ReadRequest:
    """One (question, context) pair; `source_id`/`title` are copied onto the answers."""

    question: str
    context: str
    source_id: str | None = None
    title: str | None = None


@dataclass
class _Features:
    """The tokenized windows of one `read_batch` call (one row per window)."""

    input_ids: list[list[int]]
    type_ids: list[list[int]] | None
    offsets: list[np.ndarray]  # (L, 2) character offsets into the pair's context
    context_mask: list[np.ndarray]  # (L,) True where the token belongs to the context
    pair_of: np.ndarray  # window -> request index


@dataclass
class _PairResult:
    """What the windows of one pair produced: deduplicated span candidates and the null score."""

    spans: dict[tuple[int, int], float] = field(default_factory=dict)  # (char start, end) -> score
    null_score: float = math.inf


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def question_room(max_seq_length: int, doc_stride: int) -> int:
    """Word pieces a question may take in a window of `max_seq_length` overlapping the previous one
    by `doc_stride`, leaving room for new context; a reader needs at least 8 (the trainer checks
    its options by the same rule)."""
    min_new = min(_MIN_NEW_CONTEXT_TOKENS, max_seq_length // 4)
    return max_seq_length - doc_stride - 4 - min_new


def cut_to_tokens(text: str, offsets: Sequence[tuple[int, int]], room: int) -> str:
    """`text` up to the end of its `room`-th token (`offsets`: each token's characters), as a
    question is cut to the room a window leaves it, by the reader and its trainer alike."""
    return text if len(offsets) <= room else text[: offsets[room - 1][1]]


class SpanReader:
    """Reads answers out of passages with any `AutoModelForQuestionAnswering` folder.

    The model loads lazily on first use and is shared by every call of this instance.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        model_dir: str | Path | None = None,
        *,
        null_threshold: float | None = None,
        temperature: float | None = None,
        align_to_words: bool = True,
        backend: str | None = None,
    ) -> None:
        settings = settings or Settings()
        self.backend = resolve_backend(backend or settings.span_backend, settings.device)
        self.align_to_words = align_to_words
        self.model_dir = checked_dir(model_dir or settings.span_model, "trained span reader", MISSING_HINT)
        self._config = reader_config(self.model_dir, task="span")
        self.settings = effective_settings(settings, self._config)
        s = self.settings
        if s.max_seq_length < 16 or s.doc_stride < 0 or s.max_answer_length < 1 or s.n_best < 1:
            raise InputError(
                "reader settings out of range: need max_seq_length >= 16, doc_stride >= 0, "
                "max_answer_length >= 1, n_best >= 1"
            )
        self.max_question_tokens = question_room(s.max_seq_length, s.doc_stride)
        if self.max_question_tokens < 8:
            raise InputError(
                f"doc_stride {s.doc_stride} is too large for max_seq_length {s.max_seq_length}: "
                "windows would have no room for the question"
            )
        # Precedence: explicit argument > settings > the value calibrated with the model > 0.0.
        if null_threshold is None:
            null_threshold = s.null_threshold
        if null_threshold is None:
            null_threshold = self._config.null_threshold if self._config.null_threshold is not None else 0.0
        self.null_threshold = float(null_threshold)
        self.temperature = float(temperature or self._config.score_temperature or DEFAULT_TEMPERATURE)
        if self.temperature <= 0:
            raise InputError("the score temperature must be positive")
        self._device: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._plain_tokenizer: Any = None
        self._input_names: set[str] = set()
        self._special: tuple[int, int | None] = (0, None)  # pad id, cls id
        self._loading = threading.RLock()

    # ------------------------------------------------------------------ loading
    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer (the `tokenizers` library, no transformers import), set to cut
        pairs into windows of `max_seq_length` tokens overlapping by `doc_stride`."""
        if self._tokenizer is not None:
            return self._tokenizer
        with self._loading:  # the API's first requests may race its warm-up: load once
            if self._tokenizer is None:
                config = tokenizer_config(self.model_dir)
                if config.get("padding_side", "right") != "right":
                    raise InputError(
                        f"{self.model_dir}: only question-first models (padding on the right) are supported"
                    )
                tok = load_tokenizer(self.model_dir)
                self._special = (special_id(tok, config, "pad_token", "[PAD]") or 0,
                                 special_id(tok, config, "cls_token", "[CLS]"))
                tok.enable_truncation(self.settings.max_seq_length, stride=self.settings.doc_stride,
                                      strategy="only_second", direction="right")
                self._tokenizer = tok
        return self._tokenizer

    @property
    def model(self) -> Any:
        """ONNX Runtime session (`onnx`, `onnx-fp32`; built into the cache on first use) or the
        PyTorch module (`torch`)."""
        if self._model is not None:
            return self._model
        with self._loading:
            if self._model is None and self.backend != SpanBackend.TORCH:
                from mrc.onnx_export import OnnxSpanModel

                session = OnnxSpanModel(self.model_dir, int8=self.backend == SpanBackend.ONNX)
                self._input_names = set(session.input_names)
                self._model = session  # published last: a reader on another thread checks it first
            if self._model is None:
                import inspect

                from transformers import AutoModelForQuestionAnswering

                from mrc.loading import load_model, resolve_device

                self._device = resolve_device(self.settings.device)
                module = load_model(self.model_dir, AutoModelForQuestionAnswering, self._device)
                params = inspect.signature(module.forward).parameters
                names = {"input_ids", "attention_mask"}
                if "token_type_ids" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
                    names.add("token_type_ids")
                self._input_names = names
                self._model = module
        return self._model

    # ------------------------------------------------------------------ public API
    def read(
        self,
        question: str,
        context: str,
        *,
        top_k: int = 1,
        source_id: str | None = None,
        title: str | None = None,
        allow_no_answer: bool = True,
    ) -> list[Answer]:
        """Best answers for one pair, best first (see `read_batch`)."""
        req = ReadRequest(question, context, source_id, title)
        return self.read_batch([req], top_k=top_k, allow_no_answer=allow_no_answer)[0]

    def read_batch(
        self,
        requests: Sequence[ReadRequest | tuple[str, str]],
        *,
        top_k: int = 1,
        allow_no_answer: bool = True,
        progress: Any = None,
    ) -> list[list[Answer]]:
        """Answers for many pairs in one batched pass; one list per request, best first.

        If the reader decides "no answer" (and `allow_no_answer`), the list starts with an
        `Answer.none` whose `raw_score` is the null score, followed by the best spans, at most
        `top_k` items in all. With `allow_no_answer=False` (SQuAD v1.1, where every question has
        an answer) the best spans are returned regardless of the null score.
        `progress(n_windows_done, n_windows_total)` is called after each batch, for progress bars.
        """
        if top_k < 1:
            raise InputError("top_k must be at least 1")
        reqs = [r if isinstance(r, ReadRequest) else ReadRequest(*r) for r in requests]
        if not reqs:
            return []
        for r in reqs:
            # the configured limit is the engine's and the CLI's to hold (one reader serves several
            # settings); here only what no setting allows, as any longer question is cut to fit anyway
            check_text(r.question, "question", MAX_READ_QUESTION_CHARS)
            if not isinstance(r.context, str):
                raise InputError("the context must be text")
        pairs = self._run(reqs, progress)
        return [self._answers(req, res, top_k, allow_no_answer) for req, res in zip(reqs, pairs, strict=True)]

    def calibrate(self, span_score: float, null_score: float) -> float:
        """Probability that `span_score` is a real answer, against the pair's null score."""
        if not math.isfinite(null_score):
            return 1.0 if null_score == -math.inf else 0.0
        return _sigmoid((span_score - null_score + self.null_threshold) / self.temperature)

    # ------------------------------------------------------------------ internals
    def _fit_question(self, question: str) -> str:
        """Strip leading space (matters for BPE vocabularies) and cut questions too long for a
        window at a token boundary. Counted in tokens, never guessed from characters: one character
        can be several tokens (Hangul splits into jamo, byte-level BPE gives an emoji four, NFKD
        expands ligatures), and a question the windowing tokenizer cannot fit makes it refuse the
        whole batch."""
        q = question.lstrip()
        if not q:
            return q
        if self._plain_tokenizer is None:  # the windowing tokenizer would refuse a lone long question
            self._plain_tokenizer = load_tokenizer(self.model_dir)
        return cut_to_tokens(q, self._plain_tokenizer.encode(q, add_special_tokens=False).offsets,
                             self.max_question_tokens)

    def _featurize(self, reqs: Sequence[ReadRequest]) -> _Features:
        """Every window of every pair, in one batched call of the Rust tokenizer (a pair longer
        than a window comes back with its further windows in `overflowing`)."""
        tok = self.tokenizer
        # full-width forms as ASCII, one character for one: the offsets point into the text as given;
        # the question cut to its room once folded (a full-width word is one [UNK], its ASCII several)
        fitted = {q: self._fit_question(folded(q)) for q in {r.question for r in reqs}}  # one question, many passages
        encodings = tok.encode_batch([(fitted[r.question], folded(r.context)) for r in reqs])
        ids: list[list[int]] = []
        types: list[list[int]] = []
        offsets: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        words: list[np.ndarray] = []
        pair_of: list[int] = []
        for pair, first in enumerate(encodings):
            for enc in (first, *first.overflowing):
                seq = enc.sequence_ids
                off = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
                ctx = np.fromiter((sid == 1 for sid in seq), dtype=bool, count=len(seq))
                masks.append(ctx & (off[:, 1] > off[:, 0]))
                offsets.append(off)
                ids.append(enc.ids)
                types.append(enc.type_ids)
                pair_of.append(pair)
                if self.align_to_words:
                    words.append(np.fromiter((-1 if w is None else w for w in enc.word_ids), dtype=np.int64,
                                             count=len(seq)))
        pairs = np.asarray(pair_of, dtype=np.int64)
        if self.align_to_words and offsets:
            offsets = self._word_offsets(offsets, masks, words, pairs)
        return _Features(input_ids=ids, type_ids=types, offsets=offsets, context_mask=masks, pair_of=pairs)

    @staticmethod
    def _word_offsets(
        offsets: list[np.ndarray],
        masks: list[np.ndarray],
        words: list[np.ndarray],
        pair_of: np.ndarray,
    ) -> list[np.ndarray]:
        """Widen every context token's character span to its whole word (as the tokenizer's
        pre-tokenizer splits words: white space and punctuation), over all windows of the pair.

        A span may start or end inside a word ("##ing"); readers of the answer, and the SQuAD
        metric, expect whole words, and the Hugging Face pipeline aligns the same way, so the
        two return the same spans. The result still indexes the original context exactly."""
        # One key per (pair, word) over all windows; min start / max end per key, vectorised.
        sizes = [int(m.sum()) for m in masks]
        stride = max(int(w.max(initial=0)) for w in words) + 1
        keys = np.concatenate([p * stride + w[m] for w, m, p in zip(words, masks, pair_of, strict=True)])
        starts = np.concatenate([o[m, 0] for o, m in zip(offsets, masks, strict=True)])
        ends = np.concatenate([o[m, 1] for o, m in zip(offsets, masks, strict=True)])
        uniq, inv = np.unique(keys, return_inverse=True)
        lo = np.full(len(uniq), np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full(len(uniq), -1, dtype=np.int64)
        np.minimum.at(lo, inv, starts)
        np.maximum.at(hi, inv, ends)
        out = []
        pos = 0
        for off, m, k in zip(offsets, masks, sizes, strict=True):
            aligned = off.copy()
            aligned[m, 0] = lo[inv[pos : pos + k]]
            aligned[m, 1] = hi[inv[pos : pos + k]]
            out.append(aligned)
            pos += k
        return out

    def _run(self, reqs: Sequence[ReadRequest], progress: Any = None) -> list[_PairResult]:
        feats = self._featurize(reqs)
        model = self.model
        pad_id, cls_id = self._special
        names = self._input_names or {"input_ids", "attention_mask", "token_type_ids"}
        wants_types = "token_type_ids" in names and feats.type_ids is not None
        results = [_PairResult() for _ in reqs]
        lengths = np.fromiter((len(x) for x in feats.input_ids), dtype=np.int64, count=len(feats.input_ids))
        # Longest first, batches of similar length: a window is padded only to its batch's longest.
        order = np.argsort(-lengths, kind="stable")
        bs = max(1, int(self.settings.batch_size))
        n_best = int(self.settings.n_best)
        max_len = int(self.settings.max_answer_length)
        done = 0
        largest = 0  # tokens of the largest batch so far: a large read gives its memory back at its end
        for b0 in range(0, len(order), bs):
            idx = order[b0 : b0 + bs]
            width = int(lengths[idx].max())
            largest = max(largest, len(idx) * width)
            ids = np.full((len(idx), width), pad_id, dtype=np.int64)
            att = np.zeros((len(idx), width), dtype=np.int64)
            ctx = np.zeros((len(idx), width), dtype=bool)
            types = np.zeros((len(idx), width), dtype=np.int64) if wants_types else None
            for row, f in enumerate(idx):
                n = int(lengths[f])
                ids[row, :n] = feats.input_ids[f]
                att[row, :n] = 1
                ctx[row, :n] = feats.context_mask[f]
                if types is not None and feats.type_ids is not None:
                    types[row, :n] = feats.type_ids[f]
            start, end = self._logits(model, ids, att, types,
                                      shrink=b0 + bs >= len(order) and largest > SHRINK_AFTER_TOKENS)
            rows = np.arange(len(idx))
            cls_pos = self._cls_positions(ids, cls_id)
            null = start[rows, cls_pos] + end[rows, cls_pos]
            # no span is longer than its window: a larger setting would only widen the array
            vals, starts, ends = self._top_spans(start, end, ctx, n_best, min(max_len, width))
            for row, f in enumerate(idx):
                self._collect(results[int(feats.pair_of[f])], feats.offsets[f], float(null[row]),
                              vals[row], starts[row], ends[row])
            done += len(idx)
            if progress is not None:
                progress(done, len(order))
        return results

    def _logits(self, model: Any, ids: np.ndarray, att: np.ndarray,
                types: np.ndarray | None, *, shrink: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) logits of one padded batch as float32 arrays, from either backend; `shrink`
        (the last batch of a large read): the ONNX session gives back the memory it grew to."""
        if self.backend != SpanBackend.TORCH:
            feed = {"input_ids": ids, "attention_mask": att}
            if types is not None:
                feed["token_type_ids"] = types
            start, end = model(feed, shrink=shrink)
            return np.asarray(start, dtype=np.float32), np.asarray(end, dtype=np.float32)
        import torch

        device = self._device or torch.device("cpu")
        inputs = {"input_ids": torch.from_numpy(ids).to(device), "attention_mask": torch.from_numpy(att).to(device)}
        if types is not None:
            inputs["token_type_ids"] = torch.from_numpy(types).to(device)
        with torch.inference_mode():
            out = model(**inputs)
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    @staticmethod
    def _cls_positions(ids: np.ndarray, cls_id: int | None) -> np.ndarray:
        """Where [CLS] sits in each row (index 0 for BERT-style models; the no-answer target)."""
        if cls_id is None:
            return np.zeros(len(ids), dtype=np.int64)
        hit = ids == cls_id
        return np.where(hit.any(axis=1), hit.argmax(axis=1), 0)

    @staticmethod
    def _top_spans(
        start: np.ndarray, end: np.ndarray, ctx: np.ndarray, n_best: int, max_len: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n-best (start, end) token pairs per row, both in the context, end - start < max_len.

        band[b, i, d] = end[b, i + d] (a strided view, no copy), so band + start[..., None] scores
        every allowed span of a row at once; invalid cells are -inf and dropped by the caller.
        """
        neg = np.float32(-np.inf)
        s = np.where(ctx, start, neg)
        e = np.pad(np.where(ctx, end, neg), ((0, 0), (0, max_len - 1)), constant_values=neg)
        band = np.lib.stride_tricks.sliding_window_view(e, max_len, axis=1)  # (B, L, A)
        scores = (s[:, :, None] + band).reshape(s.shape[0], -1)
        k = min(n_best, scores.shape[1])
        flat = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(scores, flat, axis=1)
        rank = np.argsort(-vals, axis=1, kind="stable")
        flat = np.take_along_axis(flat, rank, axis=1)
        vals = np.take_along_axis(vals, rank, axis=1)
        i = flat // max_len
        j = np.minimum(i + flat % max_len, s.shape[1] - 1)
        return vals, i, j

    @staticmethod
    def _collect(
        res: _PairResult,
        offsets: np.ndarray,
        null: float,
        vals: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> None:
        """Merge one window's candidates into its pair: the same character span seen from two
        overlapping windows keeps its best score; the pair's null score is the minimum over its
        windows (the window that best contains an answer decides)."""
        res.null_score = min(res.null_score, null)
        for v, i, j in zip(vals.tolist(), starts.tolist(), ends.tolist(), strict=True):
            if not math.isfinite(v):
                break  # sorted: the rest are masked cells
            key = (int(offsets[i, 0]), int(offsets[j, 1]))
            prev = res.spans.get(key)
            if prev is None or v > prev:
                res.spans[key] = v

    def _answers(self, req: ReadRequest, res: _PairResult, top_k: int, allow_no_answer: bool) -> list[Answer]:
        ranked = sorted(res.spans.items(), key=lambda kv: kv[1], reverse=True)
        null = res.null_score if math.isfinite(res.null_score) else -math.inf
        null_field = null if math.isfinite(null) else None
        # model_construct: these are built from trusted values in a hot loop (n-best per window)
        spans = [
            Answer.model_construct(
                text=req.context[cs:ce],
                score=self.calibrate(v, null),
                route=Route.READER,
                evidence=SpanEvidence.model_construct(
                    kind="span", passage_id=req.source_id, title=req.title or "", text=req.context,
                    start=cs, end=ce, source="", collection="", retrieval_score=None, also_in=[]),
                no_answer=False,
                best_guess=None,
                raw_score=v,
                null_score=null_field,
                timings={},
            )
            for (cs, ce), v in ranked[:top_k]
        ]
        best = ranked[0][1] if ranked else -math.inf
        no_answer = not ranked or (null - best > self.null_threshold)
        if not allow_no_answer and ranked:
            return spans
        if not no_answer:
            return spans
        none = Answer.none(
            Route.READER,
            score=1.0 - self.calibrate(best, null) if ranked else 1.0,
            best_guess=spans[0] if spans else None,
            evidence=SpanEvidence(passage_id=req.source_id, title=req.title or "", text=req.context),
            raw_score=null_field,
            null_score=null_field,
        )
        return [none, *spans[: top_k - 1]]
