"""Averages the weights of span readers fine-tuned from one starting point (a "model soup",
Wortsman et al. 2022, arXiv 2203.05482), then calibrates the average like a trained reader.

Runs that differ in one choice (how much of an extra data set they saw, a learning rate) sit in
one basin of the loss when they started from the same weights, and their average often keeps
what each does better: here, one run learnt web-search questions more, the other kept more of
SQuAD 2.0's "no answer". Averaging costs no training and no GPU; readers from different starts
average to noise, so the readers must share an architecture and the held-out articles their
threshold is fitted on (the calibration must stay on text none of them trained on).

    qa train average --model runA --model runB --out data/models/span-minilm-l6 --replace
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from mrc.loading import WINDOW_FIELDS, reader_config, resolve_device
from mrc.training import check_output_dir, install_model, recover_output_dir, removed_on_failure, save_model_fp16
from qa.core.errors import InputError
from qa.core.text import json_file

console = Console(stderr=True)


def average_span_readers(models: list[str | Path], out: str | Path, train_file: str | Path,
                         weights: list[float] | None = None, device: str = "cpu",
                         replace: bool = False) -> dict[str, Any]:
    """Writes the weighted average of `models` to `out`, calibrated on their shared held-out
    articles of `train_file`; returns the new `qa_reader.json`. A reader in `out` is replaced only
    with `replace`, or when it is one of `models` (averaging runs into the first is the recipe)."""
    from transformers import AutoModelForQuestionAnswering

    from qa.core.paths import check_model_dir

    dirs = [Path(m) for m in models]
    if len(dirs) < 2:
        raise InputError("averaging needs at least two --model folders")
    weights = weights or [1.0 / len(dirs)] * len(dirs)
    if (len(weights) != len(dirs) or any(not math.isfinite(w) or w < 0 for w in weights)
            or abs(sum(weights) - 1.0) > 1e-6):
        raise InputError(f"--weight: give one non-negative weight per model, summing to 1 (got {weights})")
    for d in dirs:
        check_model_dir(d)
    out = Path(out).expanduser().absolute()  # "." has no name to build a folder beside
    recover_output_dir(out)
    # before minutes of loading and calibrating, not after
    check_output_dir(out, "span", "--out", replace=replace or any(d.expanduser().absolute() == out for d in dirs))
    resolve_device(device)  # a bad --device is said now, not once the average is written
    configs = [reader_config(d, task="span").model_dump() for d in dirs]
    held = [sorted((c.get("training") or {}).get("held_out_articles") or []) for c in configs]
    if missing := [str(d) for d, h in zip(dirs, held, strict=True) if not h]:
        raise InputError(f"{', '.join(missing)}: its qa_reader.json lists no held-out training articles to calibrate "
                         "the average on (a reader trained by `qa train span` does)")
    if any(h != held[0] for h in held):
        raise InputError("the readers were not trained with the same held-out articles, so no calibration set is "
                         "unseen by all of them: average only runs that continue one reader")
    total: dict[str, torch.Tensor] = {}
    first = None
    for d, w in zip(dirs, weights, strict=True):
        model = AutoModelForQuestionAnswering.from_pretrained(d, dtype=torch.float32)
        state = model.state_dict()
        if first is None:
            first, total = model, {k: w * v for k, v in state.items()}
            continue
        if state.keys() != total.keys() or any(state[k].shape != total[k].shape for k in state):
            raise InputError(f"{d} does not have the architecture of {dirs[0]}: readers average only with their like")
        for k, v in state.items():
            total[k] += w * v
    assert first is not None
    first.load_state_dict(total)
    out.mkdir(parents=True, exist_ok=True)
    stage = out / ".trained"
    shutil.rmtree(stage, ignore_errors=True)
    with removed_on_failure(stage):
        sidecar = _stage_average(first, stage, dirs, weights, configs, held, train_file, device)
    install_model(stage, out, sidecar)  # a failure there keeps the staged reader and says where
    console.print(f"averaged {len(dirs)} readers into {out}")
    return sidecar


def _stage_average(first: Any, stage: Path, dirs: list[Path], weights: list[float],
                     configs: list[dict[str, Any]], held: list[list[str]], train_file: str | Path,
                     device: str) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from mrc.recalibrate import recalibrate_span_reader

    save_model_fp16(first, AutoTokenizer.from_pretrained(dirs[0]), stage)
    base = configs[0]
    draft = {k: base[k] for k in ("task", *WINDOW_FIELDS) if base.get(k) is not None}
    draft.update({
        "base_model": f"weight average of {len(dirs)} span readers",
        "training": {
            "method": "mrc.average (weight average, no training)",
            "models": [str(d) for d in dirs],
            "weights": weights,
            "held_out_articles": held[0],
            "train_file_sha256": (base.get("training") or {}).get("train_file_sha256"),
        },
        "averaged": [{"model": str(d), "weight": w, "training": c.get("training"),
                      "training_history": c.get("training_history", [])}
                     for d, w, c in zip(dirs, weights, configs, strict=True)],
    })
    (stage / "qa_reader.json").write_text(json.dumps(draft, indent=2, ensure_ascii=False), encoding="utf-8")
    recalibrate_span_reader(stage, train_file, device=device)  # threshold and temperature of the average
    return json_file(stage / "qa_reader.json")
