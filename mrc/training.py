"""The training loop shared by the span and multiple-choice readers.

One loop serves CPU and CUDA so a run is reproduced with the same command anywhere: the
device only switches autocast (bf16 on CUDA) and the fused optimiser. Runs are bounded by a
wall-clock budget because GPU time is lent in fixed slices: when the planned epochs do not fit,
the linear schedule is shortened so the learning rate still reaches zero at the deadline
instead of stopping mid-schedule.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qa.core.atomic import atomic_write_text
from qa.core.errors import InputError
from qa.core.text import json_file

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class TrainConfig:
    """Hyper-parameters common to both readers; saved beside the weights for reproducibility."""

    output_dir: str
    base_model: str = ""  # empty: the packaged all-MiniLM-L6-v2
    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 6e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 42
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    max_minutes: float = 0.0  # wall-clock budget from process start; 0 = none
    reserve_minutes: float = 0.0  # kept free at the end of the budget for calibration/saving
    limit: int = 0  # use only the first N training questions (smoke tests, CPU runs)
    freeze_word_embeddings: bool = True
    checkpoint_every: int = 1000
    resume: bool = False
    replace: bool = False  # the reader in output_dir may be replaced (refused otherwise)
    log_every: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def check_device(name: str) -> str:
    """auto, cpu or cuda (`Settings.device`, which the reading after a training takes); one GPU of
    several is chosen with CUDA_VISIBLE_DEVICES, so `cuda:N` is refused with that way."""
    from qa.core.settings import Device

    if name in {d.value for d in Device}:
        return name
    hint = f" (for one GPU of several: CUDA_VISIBLE_DEVICES={name[5:]} and --device cuda)" \
        if re.fullmatch(r"cuda:\d+", name) else ""
    raise InputError(f"--device must be one of {', '.join(d.value for d in Device)}, not {name!r}{hint}")


def resolve_device(name: str) -> torch.device:
    if check_device(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    p = cfg.precision
    if p == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[p]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, group_factor: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of similar length: padding is paid per batch, so grouping halves compute
    on SQuAD-like data while the shuffle of groups and of batches keeps the order random."""
    idx = rng.permutation(len(lengths))
    lens = np.asarray(lengths)
    group = batch_size * group_factor
    batches: list[np.ndarray] = []
    for g in range(0, len(idx), group):
        chunk = idx[g : g + group]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class BudgetSchedule:
    """Linear warm-up then linear decay to zero at `total` steps, where `total` may shrink
    once the real step time is known so the decay finishes inside the wall-clock budget."""

    def __init__(self, total: int, warmup_ratio: float) -> None:
        self.total = max(1, total)
        self.warmup_ratio = warmup_ratio

    @property
    def warmup(self) -> int:
        return max(1, int(self.total * self.warmup_ratio))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=device.type == "cuda")


def freeze_word_embeddings(model: torch.nn.Module) -> int:
    """Word embeddings are frozen by default: fine-tuning barely moves them, freezing saves
    optimiser memory, and it lets a trained reader travel as its small trainable part."""
    n = 0
    for name, p in model.named_parameters():
        if name.endswith("word_embeddings.weight"):
            p.requires_grad_(False)
            n += p.numel()
    return n


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    total_steps: int = 0
    losses: list[float] = field(default_factory=list)


class _CollatedBatches(torch.utils.data.Dataset):
    def __init__(self, batches: Sequence[np.ndarray], collate: Callable[[np.ndarray], dict[str, torch.Tensor]]):
        self.batches, self.collate = batches, collate

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.collate(self.batches[i])


_T = TypeVar("_T")


def _as_is(batch: _T) -> _T:
    return batch


def _batch_stream(
    batches: Sequence[np.ndarray], collate: Callable[[np.ndarray], dict[str, torch.Tensor]], device: torch.device
) -> Iterable[dict[str, torch.Tensor]]:
    """Batches in order, padded by worker processes on a GPU (so the GPU never waits for Python
    padding the next batch) and in this process on a CPU, where the cores are busy training."""
    if device.type != "cuda":
        return (collate(b) for b in batches)
    return torch.utils.data.DataLoader(_CollatedBatches(batches, collate), batch_size=None, shuffle=False,
                                       num_workers=min(4, os.cpu_count() or 1), pin_memory=True, prefetch_factor=8,
                                       collate_fn=_as_is, persistent_workers=False)


def _save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: BudgetSchedule,
                     state: LoopState) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule_total": schedule.total,
            "state": asdict(state),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        },
        tmp,
    )
    os.replace(tmp, path)


def train_loop(
    model: torch.nn.Module,
    cfg: TrainConfig,
    lengths: Sequence[int],
    collate: Callable[[np.ndarray], dict[str, torch.Tensor]],
    device: torch.device,
    started: float,
    log_path: Path,
) -> LoopState:
    """Runs epochs over length-grouped batches; returns the final state (losses per log window)."""
    out = Path(cfg.output_dir)
    ckpt = out / "checkpoint.pt"
    steps_per_epoch = math.ceil(len(lengths) / cfg.batch_size)
    planned = max(1, int(steps_per_epoch * cfg.epochs))
    schedule = BudgetSchedule(planned, cfg.warmup_ratio)
    optimizer = build_optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    state = LoopState(total_steps=planned)
    if cfg.resume and ckpt.exists():
        blob = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        schedule.total = blob["schedule_total"]
        state = LoopState(**blob["state"])
        torch.set_rng_state(blob["rng"]["torch"])
        np.random.set_state(blob["rng"]["numpy"])
        random.setstate(blob["rng"]["python"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule, last_epoch=state.step - 1)
    amp = autocast_dtype(cfg, device)
    scaler = torch.amp.GradScaler("cuda") if amp is torch.float16 else None
    deadline = started + cfg.max_minutes * 60 - cfg.reserve_minutes * 60 if cfg.max_minutes else math.inf
    model.train()
    window_loss, window_n, t_window = 0.0, 0, time.time()
    t_probe: float | None = None
    # a short run (a small file on a CPU: a hundred steps) probes and refits early and often: with
    # a probe of 20 steps, refits every 100 and 50 apart, it never refitted and was cut mid-schedule
    probe_from = state.step + min(20, max(2, planned // 10))
    refit_every = min(100, max(2, planned // 20))
    log_every = min(cfg.log_every, max(1, planned // 20))  # its loss and speed shown before its end
    log = log_path.open("a", encoding="utf-8")
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TextColumn("{task.fields[rate]:.1f} it/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    stop = False
    with Progress(*columns, refresh_per_second=1, console=Console(stderr=True)) as bar:
        task = bar.add_task("training", total=schedule.total, completed=state.step, loss=0.0, rate=0.0)
        while not stop and state.step < schedule.total:
            rng = np.random.default_rng(cfg.seed + state.epoch)
            batches = length_grouped_batches(lengths, cfg.batch_size, rng)
            first = state.batch_in_epoch
            for bi, cpu_batch in enumerate(_batch_stream(batches[first:], collate, device), start=first):
                batch = {k: v.to(device, non_blocking=True) for k, v in cpu_batch.items()}
                with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                    loss = model(**batch).loss
                if scaler:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.batch_in_epoch = bi + 1
                window_loss = window_loss + loss.detach()  # a float() here would wait for the GPU every step
                window_n += 1
                if state.step == probe_from:
                    t_probe = time.time()
                # Once the step time is known, fit the schedule into the budget; re-estimated
                # through the first half of the run (early steps are slow: kernels are tuned for
                # each new shape), never beyond the planned epochs.
                if (
                    t_probe
                    and deadline < math.inf
                    and state.step >= probe_from + min(50, refit_every)
                    and state.step % refit_every == 0
                    and state.step < schedule.total // 2
                ):
                    per_step = (time.time() - t_probe) / (state.step - probe_from)
                    fits = state.step + int((deadline - time.time()) / per_step)
                    schedule.total = max(state.step + 1, min(planned, fits))
                    bar.update(task, total=schedule.total)
                if state.step % log_every == 0:
                    rate = window_n / max(1e-9, time.time() - t_window)
                    mean = float(window_loss) / window_n
                    state.losses.append(mean)
                    record = {"step": state.step, "epoch": state.epoch, "loss": mean,
                              "lr": scheduler.get_last_lr()[0], "it_per_s": rate,
                              "elapsed_s": time.time() - started}
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    bar.update(task, loss=mean, rate=rate)
                    window_loss, window_n, t_window = 0.0, 0, time.time()
                bar.update(task, completed=state.step)
                if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0:
                    _save_checkpoint(ckpt, model, optimizer, schedule, state)
                if state.step >= schedule.total or time.time() >= deadline:
                    stop = True
                    break
            else:
                state.epoch += 1
                state.batch_in_epoch = 0
    if window_n:
        state.losses.append(float(window_loss) / window_n)
    log.close()
    state.total_steps = schedule.total
    model.eval()
    return state


def prepare_run(cfg: TrainConfig, task: str) -> tuple[float, torch.device, Path, Path]:
    """Start time, device, base model folder and output folder of a training run, with the seed
    set first so every trainer is reproducible the same way."""
    from qa.core.paths import check_model_dir, encoder_path

    started = time.time()
    set_seed(cfg.seed)
    device = resolve_device(cfg.device)
    base = Path(cfg.base_model) if cfg.base_model else encoder_path()
    check_model_dir(base)
    out = Path(cfg.output_dir).expanduser().absolute()  # "." has no name to build a folder beside
    recover_output_dir(out)
    check_output_dir(out, task, replace=cfg.replace or cfg.resume)  # a resumed run carries on in its own folder
    out.mkdir(parents=True, exist_ok=True)
    return started, device, base, out


def recover_output_dir(out: Path) -> None:
    """A reader folder a killed install had moved aside (between `swap_dir`'s two renames) is put
    back before this run looks at it; only that folder's leftovers, with a process id."""
    from qa.core.atomic import recover_target

    for note in recover_target(out):
        Console(stderr=True).print(note, style="yellow", markup=False, highlight=False)


def check_output_dir(out: Path, task: str, flag: str = "--output-dir", *, replace: bool = False) -> None:
    """The folder a trained reader goes to must be new, empty, or, with `replace`, a `task` reader:
    installing swaps the folder's model files for the new ones, so a folder of the user's own
    files, a reader of the other task, or (the default folder) the shipped reader was overwritten
    without a word. Said before the training, not after."""
    from qa.core.paths import INSTALLING, MODELS_DIR

    if out.exists() and not out.is_dir():
        raise InputError(f"{flag} {out} is a file: it names the folder the {task} reader goes to")
    if not out.expanduser().absolute().name:
        raise InputError(f"{flag} {out} is the root folder: give a folder of its own for the {task} reader")
    # the reader is installed by building its folder beside `out` and swapping it in: found now,
    # not after the training, that this cannot be done
    if out.is_symlink() or out.is_dir() and os.path.ismount(out):
        raise InputError(f"{flag} {out} is a link or a mount point, which a finished reader cannot be "
                         "swapped into: give the folder it leads to, or one inside it")
    parent = out.expanduser().absolute().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
        raise InputError(f"{flag} {out}: cannot write in {existing}, where the reader's folder is built "
                         "before it is swapped in")
    if not out.is_dir() or not any(p for p in out.iterdir() if p.name not in (".trained", "checkpoint.pt")):
        return
    try:
        held = json_file(out / "qa_reader.json").get("task")
    except (OSError, ValueError, AttributeError):
        held = "span" if (out / INSTALLING).exists() and task == "span" else None  # an interrupted install
    if held is None:
        raise InputError(f"{flag} {out} holds other files and no reader: choose a new or empty folder")
    if held != task:
        raise InputError(f"{flag} {out} holds a {held} reader, which the {task} reader would replace: "
                         "choose another folder")
    if not replace:
        shipped = " (the one shipped)" if out.expanduser().absolute() in {
            (MODELS_DIR / name).absolute() for name in ("span-minilm-l6", "choice-minilm-l6")} else ""
        raise InputError(f"{flag} {out} holds a {task} reader{shipped}: give --replace to replace it, or "
                         f"choose a new folder for this one")


def earlier_training(base: Path) -> list[dict[str, Any]]:
    """The training records of the reader a run continues (its own history first), so a model
    card can tell every stage a shipped reader went through, not just the last."""
    try:
        prior = json_file(base / "qa_reader.json")
    except (OSError, ValueError):
        return []
    if not isinstance(prior, dict) or not isinstance(prior.get("training"), dict):
        return []
    history = [h for h in prior.get("training_history") or [] if isinstance(h, dict)]
    return [*history, prior["training"]]


def write_json_atomic(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False))


def install_model(stage: Path, out: Path, sidecar: dict[str, Any]) -> None:
    """Put a trained model from its staging folder `stage` (inside `out`) in place of `out`'s,
    with its `qa_reader.json`: the new folder is built beside `out` (the new model's files, and
    the old folder's files that are no model, such as its card and training log) and swapped in
    whole, so an interruption leaves the old model or the new one, never a mix. Nothing in `out`
    changes before the model was trained, calibrated and checked in `stage`."""
    from qa.core.atomic import staging_dir, swap_dir

    # the final settings replace the draft the checks read the staged model with: the staged folder
    # is a whole reader from here on, whatever happens to the install
    write_json_atomic(stage / "qa_reader.json", sidecar)
    try:
        with staging_dir(out) as tmp:
            keep_non_model_files(out, tmp, skip={f.name for f in stage.iterdir()} | {stage.name})
            for f in sorted(stage.iterdir()):  # linked, not moved: the staged model outlives a failed install
                try:
                    os.link(f, tmp / f.name)
                except OSError:
                    shutil.copy2(f, tmp / f.name)
            swap_dir(tmp, out)
    except OSError as exc:
        raise InputError(f"the trained reader could not be put in {out} ({exc.strerror or exc}); it is kept, "
                         f"whole, in {stage}: move that folder where it should go") from None


_NOT_KEPT = {"qa_reader.json", "checkpoint.pt", "INSTALLING"}  # the old model's, or a run's own state


def keep_non_model_files(out: Path, into: Path, skip: set[str]) -> None:
    """Copy the files of reader folder `out` that are no model (its card, its training log) into
    `into`, the folder about to replace it; names in `skip` are the new model's own."""
    for old in sorted(out.iterdir()) if out.is_dir() else ():
        if old.name in skip or _is_model_file(old.name) or old.name in _NOT_KEPT:
            continue
        if old.is_dir():
            shutil.copytree(old, into / old.name, symlinks=True)
        else:
            shutil.copy2(old, into / old.name)


@contextlib.contextmanager
def removed_on_failure(stage: Path) -> Iterator[None]:
    """A trained model's staging folder is removed when what follows its training fails (a bad
    file, Ctrl-C): tens of megabytes were left inside the output folder."""
    try:
        yield
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _is_model_file(name: str) -> bool:
    return name.endswith((".safetensors", ".bin", ".index.json")) or name in {
        "config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
        "generation_config.json"}


def save_model_fp16(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, out_dir: Path,
                    max_shard_size: str = "15MB") -> None:
    """fp16 halves the shipped size; shards stay under the 16 MiB transfer limit of lent GPUs."""
    from qa.core.atomic import as_umask_allows
    from qa.core.quiet import quiet_transformers

    out_dir.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():  # its "Writing model shards" bar, stray beside ours
        cast("PreTrainedModel", model.to(torch.float16)).save_pretrained(out_dir, max_shard_size=max_shard_size)
        tokenizer.save_pretrained(out_dir)
    model.to(torch.float32)
    as_umask_allows(out_dir)
