"""Fine-tunes the answer judge (`mrc.judge`) on labelled (question, answer) pairs.

The recipe: start from the span reader's encoder (it already reads a question against a text),
mean pooling and a fresh linear layer, binary cross-entropy on Good / not Good, AdamW at 5e-5
with 10 % warm-up and linear decay, batches of 16, two epochs, inputs cut to 192 tokens. About
6,700 SemEval comments train in about half an hour on two CPU cores; on such a small set more
epochs only memorise it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrc.judge import MAX_LENGTH, JudgeHead, build_pair_inputs, pooled_logits
from mrc.loading import load_tokenizer
from mrc.training import save_model_fp16
from qa.core.errors import InputError
from qa.core.quiet import quiet_transformers


@dataclass
class JudgeRecipe:
    epochs: float = 2.0
    lr: float = 5e-5
    batch_size: int = 16
    max_length: int = MAX_LENGTH
    warmup: float = 0.1
    seed: int = 0


def train_judge(base_dir: Path, pairs: Sequence[tuple[str, str]], labels: Sequence[bool], out_dir: Path, *,
                recipe: JudgeRecipe | None = None, meta: dict | None = None,
                progress: Callable[[int, int, float], None] | None = None) -> Path:
    """Fine-tune from `base_dir` (any BERT-like folder in the Hugging Face layout) and save the judge
    (fp16 weights, tokenizer, `judge.json`) into `out_dir`; `progress(step, steps, loss)`."""
    import torch
    from transformers import AutoModel

    r = recipe or JudgeRecipe()
    if len(pairs) != len(labels) or not pairs:
        raise InputError("the judge needs the same number of (question, answer) pairs and labels, at least one")
    if r.epochs <= 0 or r.batch_size < 1:
        raise InputError("epochs must be positive and the batch size at least 1")
    torch.manual_seed(r.seed)
    rng = random.Random(r.seed)
    tokenizer = load_tokenizer(base_dir)
    # the base's task head and absent pooler are expected, not a warning; the caller draws progress
    with quiet_transformers(errors_only=True):
        encoder = AutoModel.from_pretrained(str(base_dir), local_files_only=True, dtype=torch.float32)
    encoder.train()
    head = torch.nn.Linear(encoder.config.hidden_size, 1)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=0.01)
    steps = max(1, int(math.ceil(len(pairs) / r.batch_size) * r.epochs))
    warm = max(1, int(r.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm)))
    y = torch.tensor([float(v) for v in labels])
    order = list(range(len(pairs)))
    step, t0 = 0, time.perf_counter()
    while step < steps:
        rng.shuffle(order)
        for i in range(0, len(order), r.batch_size):
            if step >= steps:
                break
            idx = order[i : i + r.batch_size]
            batch = build_pair_inputs(tokenizer, [pairs[j] for j in idx], r.max_length)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(pooled_logits(encoder, head, batch), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if progress is not None:
                progress(step, steps, float(loss.item()))
    out_dir = Path(out_dir)
    save_model_fp16(encoder, tokenizer, out_dir)
    JudgeHead(weight=head.weight.detach().double().numpy().ravel().tolist(), bias=float(head.bias.item()),
              max_length=r.max_length,
              meta={"base": base_dir.name, **(meta or {}), "pairs": len(pairs), "positives": int(np.sum(labels)),
                    "recipe": r.__dict__, "train_s": round(time.perf_counter() - t0, 1)}).save(out_dir)
    return out_dir
