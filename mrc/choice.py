"""Multiple-choice reader: article + question + options -> a probability per option.

`build_choice_inputs` is the ONE place where an (article, question, option) triple becomes model
input. The trainer (`mrc/train_choice.py`) imports it, so training and inference cannot drift
apart: a model only scores well on inputs shaped like the ones it learnt from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrc.loading import checked_dir, effective_settings, load_tokenizer, reader_config, resolve_device
from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.core.types import Answer, ChoiceEvidence, Route

MISSING_HINT = (
    "Train it with `qa train choice`, or point at any Hugging Face multiple-choice model folder "
    "with --model DIR (or QA_CHOICE_MODEL=DIR)."
)
_BLANK = re.compile(r"_+")


def second_segment(question: str, option: str) -> str:
    """The text paired with the article for one option.

    Cloze questions (RACE writes the blank as `_`) read naturally only with the option in the
    blank, so every run of underscores is replaced by the option; other questions get
    ``question + " " + option``.
    """
    if "_" in question:
        return _BLANK.sub(lambda _m: option, question)
    return question + " " + option


def _fit_second(tokenizer: Any, text: str, budget: int) -> str:
    """Keep the question+option segment whole; only when it alone cannot fit (pathological input)
    keep its last `budget` tokens, which hold the option and the end of the question. Counted in
    tokens: one character can be several (Hangul jamo, byte-level BPE, NFKD expansions)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = enc["offset_mapping"]
    if len(offsets) <= budget:
        return text
    return text[offsets[len(offsets) - budget][0] :]


def build_choice_inputs(
    tokenizer: Any, article: str, question: str, options: Sequence[str], max_length: int
) -> dict[str, list[list[int]]]:
    """Model inputs for one question, one row per option, unpadded.

    Pairs are (article, second segment) with ``truncation="only_first"``: when too long, only the
    article is cut (from its end), so the question and the option always reach the model.
    Returns the tokenizer's fields (`input_ids`, `attention_mask`, and `token_type_ids` where the
    model uses them), each a list of `len(options)` token lists; pad with `pad_choice_batch`.
    """
    if max_length < 8:
        raise InputError("max_length must be at least 8 tokens")
    if not options:
        raise InputError("at least one option is needed")
    budget = max(1, max_length // 2)  # room left for at least half a window of article
    seconds = [_fit_second(tokenizer, second_segment(question, o), budget) for o in options]
    enc = tokenizer(
        [article] * len(seconds),
        seconds,
        truncation="only_first",
        max_length=max_length,
        padding=False,
    )
    return {k: [list(map(int, row)) for row in v] for k, v in enc.items()}


def build_choice_inputs_many(
    tokenizer: Any, items: Sequence[tuple[str, str, Sequence[str]]], max_length: int
) -> dict[str, list[list[int]]]:
    """`build_choice_inputs` for many (article, question, options) at once, in one tokenizer
    call (fast tokenizers then work in parallel); rows are question-major, option-minor."""
    if max_length < 8:
        raise InputError("max_length must be at least 8 tokens")
    budget = max(1, max_length // 2)
    firsts: list[str] = []
    seconds: list[str] = []
    for article, question, options in items:
        if not options:
            raise InputError("at least one option is needed")
        for o in options:
            firsts.append(article)
            seconds.append(_fit_second(tokenizer, second_segment(question, o), budget))
    enc = tokenizer(firsts, seconds, truncation="only_first", max_length=max_length, padding=False)
    return {k: list(v) for k, v in enc.items()}  # already lists of ints: no copy (RACE train has 305k rows)


def pad_choice_batch(tokenizer: Any, batch: Sequence[dict[str, list[list[int]]]]) -> dict[str, Any]:
    """Stack `build_choice_inputs` outputs (same number of options each) into (B, C, L) tensors,
    padded only to the longest row of this batch."""
    import torch

    n_opts = {len(item["input_ids"]) for item in batch}
    if len(n_opts) != 1:
        raise InputError("every question in a batch must have the same number of options")
    (c,) = n_opts
    width = max(len(row) for item in batch for row in item["input_ids"])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: dict[str, Any] = {}
    for key in batch[0]:
        fill = pad_id if key == "input_ids" else 0
        arr = np.full((len(batch), c, width), fill, dtype=np.int64)
        for b, item in enumerate(batch):
            for o, row in enumerate(item[key]):
                arr[b, o, : len(row)] = row
        out[key] = torch.from_numpy(arr)
    return out


@dataclass(frozen=True)
class ChoiceRequest:
    question: str
    article: str
    options: tuple[str, ...]


class ChoiceReader:
    """Scores the options of a question against an article with an `AutoModelForMultipleChoice`
    folder; the model loads lazily once per instance."""

    def __init__(self, settings: Settings | None = None, model_dir: str | Path | None = None) -> None:
        settings = settings or Settings()
        self.model_dir = checked_dir(
            model_dir or settings.choice_model, "trained multiple-choice reader", MISSING_HINT
        )
        # The length the model was trained with wins over our default: truncation changes what the
        # model sees (an explicit QA_MAX_SEQ_LENGTH still wins; see mrc.loading.effective_settings).
        self.settings = effective_settings(settings, reader_config(self.model_dir, task="choice"))
        self.max_length = int(self.settings.max_seq_length)
        self._device: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._loading = threading.Lock()  # concurrent first requests load the model once

    def warm_up(self) -> None:
        """Load the tokenizer and the model now (a server does at start, so no request waits)."""
        _ = self.tokenizer, self.model

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            with self._loading:
                if self._tokenizer is None:
                    self._tokenizer = load_tokenizer(self.model_dir)
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._loading:
                if self._model is None:
                    from mrc.choice_model import load_choice_model

                    self._device = resolve_device(self.settings.device)
                    self._model = load_choice_model(self.model_dir, self._device)
        return self._model

    def probabilities(self, question: str, article: str, options: Sequence[str]) -> list[float]:
        """Softmax over the option logits, in the order the options were given."""
        return self.probabilities_batch([ChoiceRequest(question=question, article=article, options=tuple(options))])[0]

    def probabilities_batch(
        self,
        requests: Sequence[ChoiceRequest],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[list[float]]:
        """Batched scoring; questions are sorted by length and batched by option count so that
        padding stays small. `progress(done, total)` is called after each batch."""
        import torch

        for r in requests:
            if len(r.options) < 2:
                raise InputError("a multiple-choice question needs at least two options")
            if any(not isinstance(o, str) or not o.strip() for o in r.options):
                raise InputError("options must be non-empty text")
        model = self.model
        encoded = [
            build_choice_inputs(self.tokenizer, r.article, r.question, r.options, self.max_length)
            for r in requests
        ]
        wanted = set(self.tokenizer.model_input_names)
        longest = [max(len(row) for row in e["input_ids"]) for e in encoded]
        order = sorted(range(len(requests)), key=lambda i: (len(requests[i].options), -longest[i]))
        result: list[list[float]] = [[] for _ in requests]
        per_batch = max(1, int(self.settings.batch_size) // 4)
        done = 0
        with torch.inference_mode():
            i = 0
            while i < len(order):
                n_opts = len(requests[order[i]].options)
                batch = [order[i]]
                i += 1
                while i < len(order) and len(batch) < per_batch and len(requests[order[i]].options) == n_opts:
                    batch.append(order[i])
                    i += 1
                tensors = pad_choice_batch(self.tokenizer, [encoded[j] for j in batch])
                inputs = {k: v.to(self._device) for k, v in tensors.items() if k in wanted}
                logits = model(**inputs).logits.float()
                probs = torch.softmax(logits, dim=-1).cpu().numpy()
                for row, j in enumerate(batch):
                    result[j] = [float(p) for p in probs[row]]
                done += len(batch)
                if progress is not None:
                    progress(done, len(requests))
        return result

    def chars_read(self, question: str, article: str, options: Sequence[str]) -> int | None:
        """How many of the article's characters fit the window beside the longest question-option
        segment (the article is cut from its end: `build_choice_inputs`); None when all of it does."""
        budget = max(1, self.max_length // 2)
        seconds = [_fit_second(self.tokenizer, second_segment(question, o), budget) for o in options]
        longest = max(len(self.tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"]) for s in seconds)
        enc = self.tokenizer(article, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        room = self.max_length - longest - 3  # [CLS] article [SEP] segment [SEP]
        offsets = enc["offset_mapping"]
        if len(offsets) <= room:
            return None
        return int(offsets[max(0, room - 1)][1]) if room > 0 else 0

    def read(self, question: str, article: str, options: Sequence[str]) -> list[Answer]:
        """One `Answer` per option, most probable first; each carries a `ChoiceEvidence` with all
        the options and probabilities, and `chosen` is that answer's option index."""
        raw = self.probabilities(question, article, options)
        probs = [round(min(1.0, max(0.0, p)), 4) for p in raw]  # four places, as every other score
        read = self.chars_read(question, article, options)
        answers = [
            Answer(
                text=opt,
                score=p,
                route=Route.READER,
                evidence=ChoiceEvidence(context=article, question=question, options=list(options),
                                        probabilities=probs, chosen=i, context_chars_read=read),
            )
            for i, (opt, p) in enumerate(zip(options, probs, strict=True))
        ]
        order = sorted(range(len(answers)), key=lambda i: raw[i], reverse=True)  # ties after rounding keep theirs
        return [answers[i] for i in order]
