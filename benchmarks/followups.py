"""followups: two-turn conversations from SQuAD v1.1 dev, answered over the squad-open collection.

Each conversation is built from one dev paragraph whose article's subject (its title, e.g.
"Nikola Tesla", or the last word of a person's name, "Tesla") appears in two of its questions:
turn 1 is the first such question, as written; turn 2 is the second with the subject replaced by
a pronoun (he/she by the paragraph's pronouns, it/they otherwise; "his"/"its" for a possessive,
"him"/"it" after a verb or preposition) or, for "What is the X of <subject>?", dropped ("And the
X?"). Turn 1's answer in the history is the reader's own top answer to turn 1 (what a user would
have seen), never the gold answer.

Turn 2 is asked three ways, each over the whole collection (2,067 paragraphs, WebQA forced):
with the history (the engine rewrites it), with the subject written out (the original SQuAD
question), and alone without history. Metric: official SQuAD v1.1 F1 (and EM) of the top answer,
or of the best guess when the engine answers "no answer" (every question here has an answer).

    python benchmarks/followups.py              # dev, every conversation it yields (222) -> results/followups.json
    python benchmarks/followups.py --limit 50   # quick look (no results file unless --out)
    python benchmarks/followups.py --split train --limit 200   # the rules were tuned here, never on dev
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    from benchmarks.common import REPO, Timer, cached_encode, find_data, open_text, write_results
except ModuleNotFoundError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import REPO, Timer, cached_encode, find_data, open_text, write_results

DEV = "mrc/squad-v1.1-dev.json.gz"
TRAIN = "mrc/squad-v1.0-train.from-explorer.json.xz"
VERBS_BEFORE_OBJECT = re.compile(r"\b(by|to|from|with|of|for|about|against|into|on|at|in|under|over|did|does|do)\s+$",
                                 re.IGNORECASE)


@dataclass
class Conversation:
    qid: str
    turn1: str
    turn2: str
    explicit: str
    golds: list[str]
    subject: str
    kind: str  # pronoun / possessive / object / dropped
    article: int = 0


def subject_names(title: str, person: bool = False) -> list[str]:
    """How questions name an article's subject: the title without qualifiers, a person's surname,
    a plural or singular form; longest first."""
    base = re.sub(r"\s*\(.*?\)", "", title.replace("_", " ")).split(",")[0].strip()
    names = {base}
    words = base.split()
    if person and len(words) == 2:
        names.add(words[1])  # "Nikola Tesla" -> "Tesla"
    names.add(base[:-1] if base.endswith("s") else base + "s")
    return sorted((n for n in names if len(n) >= 3), key=len, reverse=True)


def pronoun_class(article_text: str, name: str) -> str:
    """he / she for an article about a person (its text says he or she more often than it), else it."""
    words = name.split()
    if any(ch.isdigit() for ch in name) or len(words) > 3 or not all(w[:1].isupper() for w in words):
        return "it"
    words = re.findall(r"[a-z]+", article_text.lower())
    he = sum(w in {"he", "his", "him"} for w in words)
    she = sum(w in {"she", "her", "hers"} for w in words)
    it = sum(w in {"it", "its"} for w in words)
    if max(he, she) > it:
        return "she" if she > he else "he"
    return "it"


def part_of_longer_name(question: str, m: re.Match[str]) -> bool:
    """"University of Warsaw", "Warsaw Uprising": the mention is inside another name; "a teacher's
    college", "construction job": a common noun used as a modifier (only "the <noun>" is kept)."""
    before = question[:m.start()].rstrip()
    span = m.group(0)
    if span[:1].islower() and not span.lower().startswith("the "):
        return True
    if before.lower().endswith((" a", " an")) or before.lower() in {"a", "an"}:
        return True
    after = question[m.end():].lstrip()
    prev = before.split()[-1] if before.split() else ""
    if prev and prev[0].isupper() and len(before.split()) > 1:
        return True
    if prev.lower() == "of" and len(before.split()) > 1 and before.split()[-2][:1].isupper():
        return True
    nxt = after.split()[0] if after.split() else ""
    return bool(nxt) and nxt[0].isupper()


def find(question: str, names: list[str]) -> re.Match[str] | None:
    for n in names:
        m = re.search(rf"\b(?:the\s+)?{re.escape(n)}\b(?:['’]s\b)?", question, re.IGNORECASE)
        if m:
            return m
    return None


def refer_back(question: str, m: re.Match[str], cls: str, plural: bool) -> tuple[str, str] | None:
    """Turn 2's text with the subject replaced by a pronoun or dropped, and which way."""
    span = m.group(0)
    q = question.strip()
    dropped = re.match(rf"^(what|who|which)\s+(is|was|are|were)\s+(the\s+.+?)\s+of\s+{re.escape(span)}\s*\?$", q,
                       re.IGNORECASE)
    if dropped:
        return f"And {dropped.group(3)}?", "dropped"
    subj, obj, poss = ("they", "them", "their") if plural else {
        "he": ("he", "him", "his"), "she": ("she", "her", "her"), "it": ("it", "it", "its")}[cls]
    before = q[:m.start()]
    if span.lower().endswith(("'s", "’s")):
        repl, kind = poss, "possessive"
    elif VERBS_BEFORE_OBJECT.search(before) and not re.search(r"\b(did|does|do|is|was|are|were)\s+$", before,
                                                               re.IGNORECASE):
        repl, kind = obj, "object"
    else:
        repl, kind = subj, "pronoun"
    if m.start() == 0:
        repl = repl.capitalize()
    out = q[:m.start()] + repl + q[m.end():]
    if find(out, [span]) is not None:
        return None  # named twice: replacing one mention would not make it a follow-up
    return out, kind


def conversations(path: Path, limit: int, per_article: int = 12) -> tuple[list[Conversation], list, list]:
    """(conversations, paragraphs as passages, all questions) from a SQuAD file."""
    from retrieval.passage import Passage

    with open_text(path) as fh:
        data = json.load(fh)["data"]
    passages: list[Passage] = []
    convs: list[Conversation] = []
    for a, article in enumerate(data):
        base = re.sub(r"\s*\(.*?\)", "", article["title"].replace("_", " ")).split(",")[0].strip()
        cls = pronoun_class(" ".join(p["context"] for p in article["paragraphs"]), base)
        names = subject_names(article["title"], person=cls != "it")
        taken = 0
        for p, para in enumerate(article["paragraphs"]):
            pid = f"{a}-{p}"
            passages.append(Passage(id=pid, text=para["context"], title=article["title"].replace("_", " "),
                                    source=f"squad:{pid}"))
            if taken >= per_article:
                continue
            naming = [(qa, find(qa["question"], names)) for qa in para["qas"]]
            naming = [(qa, m) for qa, m in naming if m is not None and not part_of_longer_name(qa["question"], m)]
            if len(naming) < 2:
                continue
            (q1, _m1) = naming[0]
            for q2, m2 in naming[1:3]:  # turn 1 is the first naming question; up to two follow-ups
                if taken >= per_article:
                    break
                head = re.sub(r"['’]s$", "", m2.group(0).lower())
                plural = head.endswith("s") and not head.endswith("ss")
                made = refer_back(q2["question"], m2, cls, plural)
                if made is None:
                    continue
                turn2, kind = made
                convs.append(Conversation(q2["id"], q1["question"].strip(), turn2, q2["question"].strip(),
                                          [x["text"] for x in q2["answers"]], m2.group(0), kind, a))
                taken += 1
    # the first `limit` in article order (all of them by default)
    return convs[:limit] if limit else convs, passages, data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=300, help="conversations, the first N (default 300: dev yields 222)")
    ap.add_argument("--split", choices=["dev", "train"], default="dev")
    ap.add_argument("--train-article-step", type=int, default=10, help="train: every Nth article")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--show", type=int, default=0, help="print the first N rewrites")
    args = ap.parse_args(argv)
    timer = Timer()

    import torch

    from mrc.metrics import squad_em, squad_f1
    from qa.core.settings import Settings
    from qa.core.types import Question, Route
    from qa.engine import Engine
    from qa.followup import rewrite
    from qa.webqa import WebQA
    from retrieval.encoder import TextEncoder
    from retrieval.ingest import build_index

    torch.set_num_threads(max(1, torch.get_num_threads()))
    path = find_data(DEV if args.split == "dev" else TRAIN)
    convs, passages, data = conversations(path, 0)
    if args.split == "train":
        step = args.train_article_step
        passages = [p for p in passages if int(p.id.split("-")[0]) % step == 0]
        convs = [c for c in convs if c.article % step == 0]
    convs = convs[: args.limit] if args.limit else convs
    print(f"{len(convs)} conversations; kinds: "
          f"{ {k: sum(c.kind == k for c in convs) for k in ('pronoun', 'possessive', 'object', 'dropped')} }")
    settings = Settings.load(include_default=False)
    encoder = TextEncoder(settings)
    vectors = cached_encode(encoder, [p.text for p in passages], description="encoding paragraphs")
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" if (REPO / ".cache").exists() else None) as tmp:
        folder = build_index(passages, Path(tmp) / "squad-open", settings, progress=False, embeddings=vectors)
        engine = Engine(settings, sources={Route.WEBQA: WebQA(settings, index_dir=folder)}, routes=[Route.WEBQA])
        engine.warm_up()

        def top(resp) -> str:
            a = resp.answers[0]
            if a.no_answer:
                return a.best_guess.text if a.best_guess is not None else ""
            return a.text

        scores = {v: {"f1": 0.0, "em": 0.0} for v in ("history", "explicit", "no_history")}
        per_conv: list[tuple[Conversation, dict[str, float]]] = []
        rewritten_ok = 0
        from rich.progress import track

        for i, c in enumerate(track(convs, description="conversations", disable=not sys.stdout.isatty())):
            first = top(engine.ask(Question(c.turn1), route="webqa"))
            preds = {
                "history": engine.ask(Question(c.turn2, history=(c.turn1, first)), route="webqa"),
                "explicit": engine.ask(Question(c.explicit), route="webqa"),
                "no_history": engine.ask(Question(c.turn2), route="webqa"),
            }
            rw = rewrite(c.turn2, (c.turn1, first))
            rewritten_ok += int(c.subject.lower().removesuffix("'s").removesuffix("’s").replace("the ", "")
                                in rw.text.lower())
            f1s = {}
            for v, resp in preds.items():
                text = top(resp)
                f1s[v] = squad_f1(text, c.golds)
                scores[v]["f1"] += f1s[v]
                scores[v]["em"] += squad_em(text, c.golds)
            per_conv.append((c, f1s))
            if (i + 1) % 20 == 0:
                print(f"{i + 1}/{len(convs)}: " + ", ".join(f"{v} F1 {100 * sc['f1'] / (i + 1):.1f}"
                                                       for v, sc in scores.items()), flush=True)
            if i < args.show:
                print(f"\n1: {c.turn1}\n   -> {first}\n2: {c.turn2}\n   rewrite: {rw.text}\n   explicit: {c.explicit}"
                      f"\n   answers: {[top(r) for r in preds.values()]} gold {c.golds[:2]}")
    n = max(len(convs), 1)
    metrics = {f"{m}_{v}": round(100.0 * s[m] / n, 2) for v, s in scores.items() for m in ("f1", "em")}
    metrics["f1_history_minus_explicit"] = round(metrics["f1_history"] - metrics["f1_explicit"], 2)
    metrics["f1_history_minus_no_history"] = round(metrics["f1_history"] - metrics["f1_no_history"], 2)
    metrics["subject_restored"] = round(100.0 * rewritten_ok / n, 2)
    metrics["conversations"] = len(convs)
    print(json.dumps(metrics, indent=2))
    slices = {}
    groups = {f"kind={k}": [f for c, f in per_conv if c.kind == k] for k in ("pronoun", "object", "possessive",
                                                                              "dropped")}
    groups["short (turn 2 of at most 8 words)"] = [f for c, f in per_conv if len(c.turn2.split()) <= 8]
    groups["rewritten with the subject restored"] = [f for c, f in per_conv if c.subject.lower().removesuffix(
        "'s").removesuffix("’s").replace("the ", "") in rewrite(c.turn2, (c.turn1, "")).text.lower()]
    for name, fs in groups.items():
        if fs:
            slices[name] = {"n": len(fs), **{f"f1_{v}": round(100.0 * sum(f[v] for f in fs) / len(fs), 2)
                                             for v in ("history", "explicit", "no_history")}}
    print(json.dumps(slices, indent=2))
    if (args.limit != 300 or args.split != "dev") and args.out is None:
        print("(not the full run: results file not written; pass --out to keep it)")
        return 0
    path_out = write_results(
        "followups", f"SQuAD v1.1 {args.split}: {len(convs)} two-turn conversations over "
                     f"{len(passages):,} paragraphs (squad-open)", metrics, wall_s=timer.elapsed,
        extra={"kinds": {k: sum(c.kind == k for c in convs) for k in ("pronoun", "possessive", "object", "dropped")},
               "slices": slices,
               "protocol": "turn 2 asked with history (rewritten by qa.followup), with the subject written out "
                           "(the SQuAD question) and without history; WebQA forced; F1 of the top answer "
                           "(best guess on no-answer); turn 1's answer in the history is the engine's own"},
        out=args.out)
    print(f"wrote {path_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
