"""Re-calibrates a trained span reader's no-answer threshold and score temperature, without training.

The threshold decides how often the reader abstains, and it is only as good as the unanswerable
questions it was fitted on. Another paragraph of the same article is easy to tell apart, so a
threshold fitted on those alone almost never abstains on SQuAD 2.0-style questions, whose
paragraph talks about the right thing but lacks the answer. This module re-scores the articles
the reader's training held apart (listed in its `qa_reader.json`, never dev) with a mix of both
kinds of unanswerable questions, then rewrites the threshold and temperature in place; the
previous calibration is kept under `calibration_history`.

    qa train calibrate-span [--model-dir data/models/span-minilm-l6] [--hard-negative-ratio 0.5]
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from mrc.negatives import ADVERSARIAL_MIX, NegativeMix, kind_of, make_negatives
from mrc.train_span import (
    TEMPERATURE_NOTE,
    SpanExample,
    calibrate_null_threshold,
    load_squad_examples,
    score_temperature,
    score_with_reader,
)
from mrc.training import file_sha256, write_json_atomic
from qa.core.errors import DataFormatError, InputError
from qa.core.text import json_file

console = Console(stderr=True)


def held_out_examples(model_dir: Path, train_file: str | Path) -> tuple[dict[str, Any], list[SpanExample]]:
    """The model's config and the questions of the training articles it never saw."""
    cfg_path = model_dir / "qa_reader.json"
    if not model_dir.is_dir():
        raise InputError(f"model folder not found: {model_dir}")
    if not cfg_path.exists():
        raise InputError(f"{cfg_path} is missing: not a trained span reader folder")
    try:
        config = json_file(cfg_path)
        if not isinstance(config, dict):
            raise ValueError(f"a JSON object is expected, not {type(config).__name__}")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"{cfg_path} cannot be read ({exc}): not a trained span reader's settings") from None
    training = config.get("training") or {}
    held = training.get("held_out_articles")
    if not held:
        raise DataFormatError(f"{cfg_path} lists no held-out training articles to calibrate on")
    want = training.get("train_file_sha256")
    if want and file_sha256(train_file) != want:
        raise InputError(f"{train_file} is not the file this reader was trained on (sha256 differs), so its "
                         "article numbers would point at other articles")
    examples = [e for e in load_squad_examples(train_file) if e.article in set(held)]
    return config, examples


def recalibrate_span_reader(model_dir: str | Path, train_file: str | Path, *, mix: NegativeMix = ADVERSARIAL_MIX,
                            seed: int = 42, device: str = "auto",
                            limit: int = 0) -> dict[str, Any]:
    from mrc.span import SpanReader
    from qa.core.settings import Settings

    model_dir = Path(model_dir)
    config, positives = held_out_examples(model_dir, train_file)
    if limit:
        positives = positives[:limit]
    negatives = make_negatives(positives, mix, random.Random(seed + 1))  # as the training calibrated
    kinds = Counter(str(kind_of(n.qid)) for n in negatives)
    calib = positives + negatives
    console.print(f"re-scoring {len(positives):,} held-out questions + {len(negatives):,} unanswerable ({dict(kinds)})")
    # the weights' own (float) logits: a threshold belongs to the model, not to one runtime's rounding
    reader = SpanReader(Settings(device=device), model_dir=model_dir, null_threshold=0.0, backend="torch")
    scored = score_with_reader(reader, calib)
    stats: dict[str, Any] = calibrate_null_threshold(calib, scored)
    t = stats["null_threshold"]
    temperature = score_temperature(calib, scored, t)
    stats.update({"negative_mix": asdict(mix), "answerable": sum(e.answer_start >= 0 for e in calib),
                  "unanswerable_by_kind": dict(kinds), "method": "mrc.recalibrate"})
    history = list(config.get("calibration_history", []))
    if config.get("null_threshold") is not None:  # a first calibration (an averaged reader) replaces nothing
        history.append({"calibration": config.get("calibration"), "null_threshold": config.get("null_threshold"),
                        "score_temperature": config.get("score_temperature")})
    config.update({
        "null_threshold": t,
        "calibration": stats,
        "score_temperature": round(temperature, 4),
        "score_temperature_note": TEMPERATURE_NOTE,
        "calibration_history": history,
    })
    if not limit:
        write_json_atomic(model_dir / "qa_reader.json", config)
    was = f" (was {history[-1]['null_threshold']})" if history else ""
    console.print(f"null threshold {t:.3f}{was}; held-out F1 "
                  f"{stats['calibration_f1']:.1f}, HasAns F1 {stats['calibration_has_ans_f1']:.1f}, NoAns "
                  f"{stats['calibration_no_ans_acc']:.1f}; temperature {temperature:.2f}"
                  + ("" if not limit else " (--limit: nothing written)"))
    return stats
