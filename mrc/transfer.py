"""Moves a trained reader through narrow pipes (16 MiB files, 64 MiB per transfer).

Readers are trained with frozen word embeddings, so the embedding matrix (half of MiniLM's
weights) equals the packaged encoder's and need not travel: `pack` keeps every other tensor
in fp16 shards and `unpack` rebuilds the full Hugging Face folder from the packaged encoder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mrc.training import keep_non_model_files
from qa.core.atomic import as_umask_allows, staging_dir, swap_dir
from qa.core.errors import InputError

FROZEN = "embeddings.word_embeddings.weight"


def _load_all(model_dir: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors


def pack(model_dir: str | Path, out_dir: str | Path, shard_bytes: int = 15_000_000) -> list[Path]:
    src, dst = Path(model_dir), Path(out_dir)
    dst.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.half() if v.is_floating_point() else v
               for k, v in _load_all(src).items() if not k.endswith(FROZEN)}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, v in tensors.items():
        n = v.numel() * v.element_size()
        if size + n > shard_bytes and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][k] = v.contiguous()
        size += n
    paths = []
    for i, shard in enumerate(shards):
        p = dst / f"part-{i:02d}.safetensors"
        save_file(shard, str(p), metadata={"format": "pt"})
        paths.append(p)
    for name in ("config.json", "qa_reader.json", "training_log.jsonl"):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    return paths


def unpack(parts_dir: str | Path, base_encoder: str | Path, out_dir: str | Path) -> Path:
    """Full fp16 reader folder = packed tensors + the base encoder's (frozen) word embeddings."""
    from transformers import AutoConfig, AutoModelForMultipleChoice, AutoModelForQuestionAnswering, AutoTokenizer

    parts, base, out = Path(parts_dir), Path(base_encoder), Path(out_dir)
    config = AutoConfig.from_pretrained(parts)
    arch = (config.architectures or [""])[0]
    cls = AutoModelForMultipleChoice if "MultipleChoice" in arch else AutoModelForQuestionAnswering
    model = cls.from_config(config)
    state = {}
    for f in sorted(parts.glob("part-*.safetensors")):
        state.update(load_file(str(f)))
    base_state = load_file(str(base / "model.safetensors"))
    target = next(k for k in model.state_dict() if k.endswith(FROZEN))  # e.g. "bert." + FROZEN
    state[target] = next(v for k, v in base_state.items() if k.endswith(FROZEN))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"unpack mismatch: missing {missing}, unexpected {unexpected}")
    if out.is_symlink():
        raise InputError(f"{out} is a link, which an unpacked reader cannot be swapped into: "
                         "give the folder it leads to")
    with staging_dir(out) as stage:  # a reader folder is whole or not there: never half unpacked
        model.half().save_pretrained(stage, max_shard_size="15MB")
        AutoTokenizer.from_pretrained(base).save_pretrained(stage)
        as_umask_allows(stage)  # safetensors writes 0600: a server of another account could not load it
        for name in ("qa_reader.json", "training_log.jsonl"):
            if (parts / name).exists():
                shutil.copy2(parts / name, stage / name)
        keep_non_model_files(out, stage, skip={f.name for f in stage.iterdir()})
        swap_dir(stage, out)
    return out
