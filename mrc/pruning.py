"""`qa compress`: structured pruning of a span reader, a short distillation, then int8.

Why it is built this way:

* Structured, not sparse: whole attention heads and whole FFN neurons are removed, so every
  matrix product gets smaller and the CPU runs fewer multiply-adds (unstructured zeros would not
  make a dense int8 kernel any faster).
* Importance is measured, not guessed (Michel et al., 2019): a gate of 1.0 multiplies each head's
  output and each FFN neuron's activation; the expected |d loss / d gate| over windows of the
  reader's *held-out* training articles (never dev) says how much the loss moves if that unit is
  removed. Scores are normalised per layer and ranked globally, so layers that matter more keep
  more; every layer keeps at least one head and a few neurons.
* Pruning levels are fractions of heads and of FFN neurons removed (`--prune 0.3` removes 30 % of
  each). The folder stays in the Hugging Face layout with the narrower layers recorded in
  `config.json` (`pruned_layers`); `load_pruned` rebuilds the architecture from it (transformers 5
  dropped `prune_heads`), and the ONNX export reads the head counts from the graph.
* Recovery is distillation on CPU, a few thousand windows of training articles at a short length
  (`--distill-windows`, `--max-length`): the student learns the uncompressed reader's start/end
  distributions (temperature 2) plus the gold spans, for minutes, not hours.
* int8 is the serving copy every reader gets (`qa.core.onnx_models`), built on first use.
"""

from __future__ import annotations

import json
import random
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import atomic_write
from qa.core.errors import InputError

CONFIG_KEY = "pruned_layers"
MIN_NEURONS = 32


# ---------------------------------------------------------------------- loading a pruned folder
def _layers(model: Any) -> list[Any]:
    base = getattr(model, model.base_model_prefix, model)
    try:
        return list(base.encoder.layer)
    except AttributeError as exc:
        raise InputError("only BERT-style models (encoder.layer[i].attention.self.query ...) can be pruned") from exc


def _resize(layer: Any, heads: int, neurons: int) -> None:
    """Give one layer `heads` heads and `neurons` FFN neurons (fresh weights, loaded afterwards)."""
    import torch

    att = layer.attention.self
    size = heads * att.attention_head_size
    hidden = att.query.in_features
    for name in ("query", "key", "value"):
        setattr(att, name, torch.nn.Linear(hidden, size))
    att.num_attention_heads, att.all_head_size = heads, size
    layer.attention.output.dense = torch.nn.Linear(size, hidden)
    layer.intermediate.dense = torch.nn.Linear(hidden, neurons)
    layer.output.dense = torch.nn.Linear(neurons, hidden)


def load_pruned(model_dir: Path, auto_class: Any, **kwargs: Any) -> Any:
    """A pruned folder: the stock architecture from its config, each layer narrowed as recorded,
    then the saved weights loaded strictly (a mismatch is an error, never silent re-init)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    shapes = getattr(config, CONFIG_KEY)
    model = auto_class.from_config(config, attn_implementation=kwargs.get("attn_implementation", "eager"))
    layers = _layers(model)
    if len(shapes) != len(layers):
        raise InputError(f"{model_dir}: {CONFIG_KEY} lists {len(shapes)} layers, the model has {len(layers)}")
    for layer, shape in zip(layers, shapes, strict=True):
        _resize(layer, int(shape["heads"]), int(shape["intermediate"]))
    state: dict[str, Any] = {}
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    tied = {"cls.predictions.decoder.weight"}
    if missing or [k for k in unexpected if k not in tied]:
        raise InputError(f"{model_dir}: weights do not fit the pruned shapes (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return model.to(torch.float32).eval()


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------- importance
@dataclass
class Importance:
    heads: np.ndarray  # (layers, heads)
    neurons: list[np.ndarray]  # per layer, (intermediate,)
    windows: int


def _windows(tokenizer: Any, examples: list[Any], max_len: int, stride: int, limit: int,
             seed: int) -> dict[str, Any]:
    from mrc.train_span import tokenize_for_training

    # a question that leaves no more room than the stride makes the tokenizer panic (a Rust
    # PanicException, not an error): with short windows, such examples are left out
    lengths = tokenizer([e.question.lstrip() for e in examples], add_special_tokens=False)["input_ids"]
    examples = [e for e, q in zip(examples, lengths, strict=True) if len(q) + stride + 4 < max_len]
    if not examples:
        raise InputError(f"no training question leaves room for a context in a window of {max_len} tokens; "
                         "give a larger --max-length")
    feats = tokenize_for_training(tokenizer, examples, max_len, stride)
    n = len(feats["input_ids"])
    keep = np.random.default_rng(seed).permutation(n)[: min(limit, n)]
    return {"input_ids": [feats["input_ids"][i] for i in keep], "token_type_ids": [feats["token_type_ids"][i]
            for i in keep], "start": feats["start"][keep], "end": feats["end"][keep]}


def _batches(feats: dict[str, Any], batch_size: int, shuffle: bool, seed: int = 0) -> list[dict[str, Any]]:
    import torch

    from mrc.train_span import _pad

    n = len(feats["input_ids"])
    order = np.argsort([-len(x) for x in feats["input_ids"]], kind="stable")
    chunks = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if shuffle:
        random.Random(seed).shuffle(chunks)
    out = []
    for idx in chunks:
        ids = _pad([feats["input_ids"][i] for i in idx])
        out.append({"input_ids": ids, "attention_mask": (ids != 0).long(),
                    "token_type_ids": _pad([feats["token_type_ids"][i] for i in idx]),
                    "start_positions": torch.as_tensor(feats["start"][idx], dtype=torch.long),
                    "end_positions": torch.as_tensor(feats["end"][idx], dtype=torch.long), "rows": idx})
    return out


def importance(model: Any, batches: list[dict[str, Any]], progress: Callable[[int], None] | None = None) -> Importance:
    """Expected |d loss / d gate| for every head and FFN neuron (gates multiply their outputs)."""
    import torch

    layers = _layers(model)
    head_size = layers[0].attention.self.attention_head_size
    head_gates = [torch.ones(lay.attention.self.query.out_features // head_size, requires_grad=True)
                  for lay in layers]
    neuron_gates = [torch.ones(lay.intermediate.dense.out_features, requires_grad=True) for lay in layers]
    hooks = []
    for lay, hg, ng in zip(layers, head_gates, neuron_gates, strict=True):
        hooks.append(lay.attention.output.dense.register_forward_pre_hook(
            lambda _m, args, g=hg: (args[0] * g.repeat_interleave(head_size),)))
        hooks.append(lay.output.dense.register_forward_pre_hook(lambda _m, args, g=ng: (args[0] * g,)))
    head_score = [torch.zeros_like(g) for g in head_gates]
    neuron_score = [torch.zeros_like(g) for g in neuron_gates]
    model.eval()
    windows = 0
    try:
        for b in batches:
            inputs = {k: v for k, v in b.items() if k != "rows"}
            loss = model(**inputs).loss
            grads = torch.autograd.grad(loss, head_gates + neuron_gates)
            for i in range(len(layers)):
                head_score[i] += grads[i].abs().detach()
                neuron_score[i] += grads[len(layers) + i].abs().detach()
            windows += len(b["rows"])
            if progress:
                progress(len(b["rows"]))
    finally:
        for h in hooks:
            h.remove()
    return Importance(heads=torch.stack(head_score).numpy(), neurons=[s.numpy() for s in neuron_score],
                      windows=windows)


def plan(imp: Importance, fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Which heads and neurons each layer keeps when `fraction` of each kind is removed: scores
    normalised per layer (L2), ranked over all layers, at least one head and MIN_NEURONS neurons
    per layer."""
    if not 0.0 <= fraction < 1.0:
        raise InputError("the pruning fraction must be in [0, 1)")

    def keep(scores: list[np.ndarray], minimum: int) -> list[np.ndarray]:
        normed = [s / (np.linalg.norm(s) + 1e-12) for s in scores]
        total = sum(len(s) for s in normed)
        n_remove = int(round(fraction * total))
        flat = sorted(((float(v), li, j) for li, s in enumerate(normed) for j, v in enumerate(s)))
        removed: list[set[int]] = [set() for _ in normed]
        for _v, li, j in flat:
            if n_remove == 0:
                break
            if len(normed[li]) - len(removed[li]) > minimum:
                removed[li].add(j)
                n_remove -= 1
        return [np.array([j for j in range(len(s)) if j not in removed[li]], dtype=np.int64)
                for li, s in enumerate(normed)]

    return keep(list(imp.heads), 1), keep(imp.neurons, MIN_NEURONS)


def prune(model: Any, heads: list[np.ndarray], neurons: list[np.ndarray]) -> list[dict[str, int]]:
    """Cut the model in place down to the kept heads and neurons; returns the `pruned_layers` record."""
    import torch

    layers = _layers(model)
    shapes = []
    with torch.no_grad():
        for lay, hk, nk in zip(layers, heads, neurons, strict=True):
            att = lay.attention.self
            d = att.attention_head_size
            cols = torch.as_tensor(np.concatenate([np.arange(h * d, (h + 1) * d) for h in hk]))
            rows = torch.as_tensor(nk)
            old = {n: getattr(att, n) for n in ("query", "key", "value")}
            out_dense, ffn_in, ffn_out = lay.attention.output.dense, lay.intermediate.dense, lay.output.dense
            _resize(lay, len(hk), len(nk))
            for n, lin in old.items():
                getattr(att, n).weight.copy_(lin.weight[cols])
                getattr(att, n).bias.copy_(lin.bias[cols])
            lay.attention.output.dense.weight.copy_(out_dense.weight[:, cols])
            lay.attention.output.dense.bias.copy_(out_dense.bias)
            lay.intermediate.dense.weight.copy_(ffn_in.weight[rows])
            lay.intermediate.dense.bias.copy_(ffn_in.bias[rows])
            lay.output.dense.weight.copy_(ffn_out.weight[:, rows])
            lay.output.dense.bias.copy_(ffn_out.bias)
            shapes.append({"heads": len(hk), "intermediate": len(nk)})
    setattr(model.config, CONFIG_KEY, shapes)
    return shapes


# ---------------------------------------------------------------------- distillation
def distill(student: Any, teacher: Any, batches: list[dict[str, Any]], *, epochs: float = 1.0, lr: float = 1e-4,
            temperature: float = 2.0, alpha: float = 0.5, max_minutes: float = 10.0,
            progress: Callable[[int, float], None] | None = None, seed: int = 0) -> dict[str, Any]:
    """Fine-tune `student` on `batches` towards the teacher's start/end distributions (weight
    `alpha`, temperature `temperature`) and the gold spans (weight 1 - alpha); linear decay;
    stops early at `max_minutes`. Teacher logits are computed once per batch, without gradients."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    steps = max(1, int(round(epochs * len(batches))))
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / steps) * min(1.0, (s + 1) / 20))
    teacher.eval()
    student.train()
    t0 = time.perf_counter()
    losses: list[float] = []
    done = 0
    rng = random.Random(seed)
    order: list[int] = []
    while done < steps:
        if not order:
            order = list(range(len(batches)))
            rng.shuffle(order)
        b = batches[order.pop()]
        inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            t_out = teacher(**inputs)
        s_out = student(**inputs)
        mask = inputs["attention_mask"].bool()
        kd: torch.Tensor | float = 0.0
        for s_log, t_log in ((s_out.start_logits, t_out.start_logits), (s_out.end_logits, t_out.end_logits)):
            s_log = s_log.masked_fill(~mask, -1e4) / temperature
            t_log = t_log.masked_fill(~mask, -1e4) / temperature
            kd = kd + F.kl_div(F.log_softmax(s_log, -1), F.log_softmax(t_log, -1), log_target=True,
                               reduction="batchmean") * temperature**2 / 2
        gold = (F.cross_entropy(s_out.start_logits, b["start_positions"])
                + F.cross_entropy(s_out.end_logits, b["end_positions"])) / 2
        loss = alpha * kd + (1 - alpha) * gold
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        done += 1
        if progress:
            progress(done, losses[-1])
        if time.perf_counter() - t0 > max_minutes * 60:
            break
    student.eval()
    w = max(1, min(20, len(losses) // 4))  # mean over the first and the last quarter (at most 20 steps)
    return {"steps": done, "planned_steps": steps, "loss_first": float(np.mean(losses[:w])),
            "loss_last": float(np.mean(losses[-w:])), "minutes": round((time.perf_counter() - t0) / 60, 2)}


# ---------------------------------------------------------------------- the whole recipe
def _importance_file(model_dir: Path, windows: int, max_length: int, seed: int) -> Path:
    from qa.core.onnx_models import fingerprint
    from qa.core.paths import cache_dir

    return cache_dir() / "compress" / f"importance-{fingerprint(model_dir)[:16]}-{windows}-{max_length}-{seed}.npz"


def compress_span_reader(model_dir: str | Path, out_dir: str | Path, train_file: str | Path, *,
                         prune_fraction: float, distill_windows: int = 3000, importance_windows: int = 512,
                         max_length: int = 256, stride: int = 128, batch_size: int = 16, epochs: float = 1.0,
                         lr: float = 1e-4, max_minutes: float = 15.0, seed: int = 0,
                         console: Any = None) -> dict[str, Any]:
    """Prune `model_dir` by importance on its held-out training articles, distil it on other
    training articles (skipped with distill_windows=0), and write a loadable folder `out_dir`."""
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from mrc.loading import load_model
    from mrc.recalibrate import held_out_examples
    from mrc.train_span import load_squad_examples
    from mrc.training import save_model_fp16

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    stride = min(stride, max_length // 2)
    t0 = time.perf_counter()
    config, held = held_out_examples(model_dir, train_file)
    held_ids = set(config["training"]["held_out_articles"])
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    cpu = torch.device("cpu")
    teacher = load_model(model_dir, AutoModelForQuestionAnswering, cpu, attn_implementation="eager")
    student = load_model(model_dir, AutoModelForQuestionAnswering, cpu, attn_implementation="eager")
    params_before = parameter_count(student)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console, transient=False)
    with bar:
        imp_file = _importance_file(model_dir, importance_windows, max_length, seed)
        imp = _saved_importance(imp_file)  # the same reader, windows and seed: the same ranking (each level reuses it)
        if imp is None:
            imp_feats = _windows(tok, [e for e in held if e.answer_start >= 0], max_length, stride,
                                 importance_windows, seed)
            task = bar.add_task("importance (held-out articles)", total=len(imp_feats["input_ids"]), note="")
            imp = importance(student, _batches(imp_feats, batch_size, shuffle=False),
                             progress=lambda n: bar.advance(task, n))
            imp_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(imp_file, lambda tmp: _save_importance(tmp, imp))  # a killed run leaves no torn file
        heads, neurons = plan(imp, prune_fraction)
        shapes = prune(student, heads, neurons)
        info: dict[str, Any] = {"prune_fraction": prune_fraction, "importance_windows": imp.windows,
                                "heads_kept": [int(s["heads"]) for s in shapes],
                                "neurons_kept": [int(s["intermediate"]) for s in shapes],
                                "parameters_before": params_before, "parameters": parameter_count(student)}
        if distill_windows > 0:
            rng = random.Random(seed)
            pool = [e for e in load_squad_examples(train_file) if e.article not in held_ids]
            rng.shuffle(pool)
            feats = _windows(tok, pool[: distill_windows], max_length, stride, distill_windows, seed)
            batches = _batches(feats, batch_size, shuffle=True, seed=seed)
            steps = max(1, int(round(epochs * len(batches))))
            task = bar.add_task("distillation (training articles)", total=steps, note="")
            info["distillation"] = distill(
                student, teacher, batches, epochs=epochs, lr=lr, max_minutes=max_minutes, seed=seed,
                progress=lambda s, loss: bar.update(task, completed=s, note=f"loss {loss:.3f}"))
            info["distillation"].update({"windows": len(feats["input_ids"]), "max_length": max_length,
                                         "batch_size": batch_size, "lr": lr, "temperature": 2.0, "alpha": 0.5})
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    save_model_fp16(student, tok, out_dir)
    reader_cfg = {k: v for k, v in config.items() if k in ("task", "null_threshold", "max_seq_length", "doc_stride",
                                                            "max_answer_length", "score_temperature")}
    # the held-out articles stay held out for this model too (it never trained on them)
    reader_cfg["training"] = {k: config["training"][k] for k in ("held_out_articles", "train_file_sha256")}
    info.update({"source": str(model_dir), "train_file": Path(train_file).name,
                 "seconds": round(time.perf_counter() - t0, 1)})
    reader_cfg["compression"] = info
    (out_dir / "qa_reader.json").write_text(json.dumps(reader_cfg, indent=2), encoding="utf-8")
    return info


def _saved_importance(path: Path) -> Importance | None:
    """The ranking an earlier run saved, or None when there is none or it cannot be read (a file
    a killed run tore, before these were written atomically): it is then computed again."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            return Importance(heads=saved["heads"], neurons=list(saved["neurons"]), windows=int(saved["windows"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _save_importance(path: Path, imp: Importance) -> None:
    with path.open("wb") as fh:  # a file object: np.savez would add ".npz" to a temporary name
        np.savez(fh, heads=imp.heads, neurons=np.stack(imp.neurons), windows=imp.windows)
