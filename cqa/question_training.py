"""Training data for the question judge: when do two one-line questions ask the same?

SemEval's threads are forum posts, and its labels call a thread relevant when it is about the same
thing; between two short questions that is the wrong notion ("Who built the Eiffel Tower?" is not
answered by the entry "When was the Eiffel Tower built?", though both are about one tower). The
re-scorer, fitted on SemEval, answers such questions confidently and mostly wrongly. SQuAD's
training questions give the right notion at scale: crowd workers asked several questions about each
paragraph, and two questions whose answer spans overlap ask for the same fact in other words
("Who supported Beyonce through her depression?" / "Who helped Beyoncé overcome her depression
...?"); two questions about the same paragraph with other answers are about the same thing but ask
another (the hard negatives the re-scorer gets wrong).

Articles are split once, by a hash of their title: four fifths train the judge (`question_pairs`),
the other fifth is an FAQ the matcher is asked as users ask it (`faq_simulation`: half of each
article's questions stored with their answer, the others asked), where the judge's logit and the
re-scorer's are combined and calibrated (`fit_question_stack`) on matches neither model was trained
on. SQuAD dev, which `benchmarks/cqa_faq.py` asks, is never read here.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cqa.features import asks, names, other_question
from cqa.model import LogisticModel

HELD_SHARE = 5  # one article in this many is held out for the combination
STORED_SHARE = 0.5  # of a held-out article's questions, the share stored in its FAQ
HARD_PER_POSITIVE = 2  # same paragraph, another fact
ARTICLE_PER_POSITIVE = 1  # same article, another paragraph
SWAPPED_PER_POSITIVE = 1  # the same question about another name or number of the article
STACK_FEATURES = ["match_logit", "judge_logit"]
STACK_L2 = 1.0
ANSWERABLE_SHARE = 0.5  # the share of asked questions the FAQ holds, as the combination is fitted


@dataclass(frozen=True)
class FactQuestion:
    """A question about one paragraph and where its answers lie in it (SQuAD's shape)."""

    article: str
    paragraph: str
    question: str
    spans: tuple[tuple[int, int], ...]  # (start, end) of each answer in the paragraph
    answer: str = ""

    def same_fact(self, other: FactQuestion) -> bool:
        """Asked about the same paragraph, and an answer of one overlaps an answer of the other."""
        return self.paragraph == other.paragraph and any(
            a0 < b1 and b0 < a1 for a0, a1 in self.spans for b0, b1 in other.spans)


def held_article(article: str) -> bool:
    """The fixed fifth of articles kept for the combination (a hash, so every run splits alike)."""
    return int(hashlib.sha1(article.encode("utf-8")).hexdigest(), 16) % HELD_SHARE == 0


_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w.,]*\w)")


def swapped(question: str, pool_names: Sequence[str], pool_numbers: Sequence[str], rng: random.Random) -> str | None:
    """`question` about another thing: one of its names or numbers replaced by another of the same
    article ("When did Beyoncé leave Destiny's Child?" -> "When did Kelly Rowland leave Destiny's
    Child?"). Negatives a model cannot reject by the words around the name, which SQuAD's own pairs
    rarely give: two questions about one paragraph differ in more than a name. None when the
    question names nothing the article has another of."""
    spots: list[tuple[int, int, Sequence[str]]] = [(m.start(), m.end(), pool_numbers)
                                                   for m in _NUMBER.finditer(question)]
    for name in names(question):  # where the name stands as whole words (not inside another word)
        found = re.search(r"(?<!\w)" + re.escape(" ".join(name)) + r"(?!\w)", question)
        if found:
            spots.append((found.start(), found.end(), pool_names))
    rng.shuffle(spots)
    for start, end, pool in spots:
        old = question[start:end]
        others = [o for o in pool if o != old and o not in old and old not in o]
        if pool is pool_numbers:  # a year for a year, a count for a count, where the article has one
            others = [o for o in others if len(o) == len(old)] or others
        if others:
            return question[:start] + others[rng.randrange(len(others))] + question[end:]
    return None


@dataclass
class QuestionPairs:
    """The judge's training pairs and labels, with the counts its card and the command report."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    positives: int = 0
    swapped: int = 0  # negatives made by another name or number in one of a same-fact pair
    dropped: int = 0  # same-fact pairs left out: one names another thing or number than the other


def question_pairs(questions: Iterable[FactQuestion], seed: int = 0) -> QuestionPairs:
    """Labelled pairs of the training articles (held-out ones are skipped): every same-fact pair as
    a positive, except where the one-line checks see another question in it (two questions whose
    answers overlap by chance, "How many men were in the top twelve of season five?" / "How many
    women ... season nine?": both "six"); per positive, two questions of the same paragraph about
    another fact and one of another paragraph of the article. Each pair in a random order."""
    rng = random.Random(seed)
    by_paragraph: dict[tuple[str, str], list[FactQuestion]] = defaultdict(list)
    by_article: dict[str, list[FactQuestion]] = defaultdict(list)
    for q in questions:
        if q.spans and not held_article(q.article):
            by_paragraph[(q.article, q.paragraph)].append(q)
            by_article[q.article].append(q)
    out = QuestionPairs()
    positives: list[tuple[str, str]] = []
    hard: list[tuple[str, str]] = []
    for _, group in sorted(by_paragraph.items()):
        for a, b in itertools.combinations(group, 2):
            qa, qb = a.question.strip(), b.question.strip()
            if qa.lower() == qb.lower():
                continue
            if a.same_fact(b):
                if other_question(qa, qb, qb, 0.0) or other_question(qb, qa, qa, 0.0):
                    out.dropped += 1
                else:
                    positives.append((qa, qb))
            else:
                hard.append((qa, qb))
    other_paragraph: list[tuple[str, str]] = []
    for article in sorted(by_article):
        group = by_article[article]
        for _ in range(len(group) // 4):
            a, b = rng.sample(group, 2)
            if a.paragraph != b.paragraph:
                other_paragraph.append((a.question.strip(), b.question.strip()))
    pools: dict[str, tuple[list[str], list[str]]] = {}
    for article, group in by_article.items():
        texts = sorted({q.question.strip() for q in group})
        pools[article] = (sorted({" ".join(n) for t in texts for n in names(t)}),
                          sorted({m[0] for t in texts for m in _NUMBER.finditer(t)}))
    article_of = {q.question.strip(): q.article for group in by_article.values() for q in group}
    swaps: list[tuple[str, str]] = []
    for first, second in positives:
        other = swapped(second, *pools[article_of[second]], rng)
        if other is not None and other.lower() != first.lower():
            swaps.append((first, other))
    rng.shuffle(hard)
    rng.shuffle(other_paragraph)
    rng.shuffle(swaps)
    rows = ([(p, True) for p in positives] + [(p, False) for p in hard[:HARD_PER_POSITIVE * len(positives)]]
            + [(p, False) for p in other_paragraph[:ARTICLE_PER_POSITIVE * len(positives)]]
            + [(p, False) for p in swaps[:SWAPPED_PER_POSITIVE * len(positives)]])
    rng.shuffle(rows)
    for (first, second), label in rows:
        out.pairs.append((second, first) if rng.random() < 0.5 else (first, second))
        out.labels.append(label)
    out.positives = len(positives)
    out.swapped = min(len(swaps), SWAPPED_PER_POSITIVE * len(positives))
    return out


def faq_simulation(questions: Iterable[FactQuestion], seed: int = 0, limit: int | None = None
                   ) -> tuple[list[tuple[str, str]], list[tuple[str, frozenset[int]]]]:
    """An FAQ of the held-out articles: (stored question, answer) entries, entry n with id n, and the
    questions asked of it, each with the ids of the entries asking the same fact (none: no entry
    answers it). A question stored word for word is not asked."""
    by_article: dict[str, list[FactQuestion]] = defaultdict(list)
    for q in questions:
        if q.spans and held_article(q.article):
            by_article[q.article].append(q)
    rng = random.Random(seed)
    entries: list[tuple[str, str]] = []
    asked: list[tuple[str, frozenset[int]]] = []
    for article in sorted(by_article):
        # an answer of punctuation alone ("$", ".") is no FAQ answer: the importer refuses it
        group = [q for q in by_article[article] if any(c.isalnum() for c in q.answer)]
        rng.shuffle(group)
        cut = int(len(group) * STORED_SHARE)
        first = len(entries)
        entries += [(q.question.strip(), q.answer) for q in group[:cut]]
        stored = {q.question.strip() for q in group[:cut]}
        for q in group[cut:]:
            if q.question.strip() not in stored:
                asked.append((q.question.strip(),
                              frozenset(first + n for n, s in enumerate(group[:cut]) if s.same_fact(q))))
    rng.shuffle(asked)
    return entries, asked[:limit]


GROUP_COLUMNS = ("text", "category")  # an intent data set's (Banking77's, CLINC150's as CSV); `domain` optional
GROUP_POSITIVES = 4000  # paraphrase pairs taken from grouped questions at most: about as many as SQuAD gives
GROUP_POOL = 20  # other groups' questions among which the closest in words is a positive's hard negative
GROUP_STORED_SHARE = 0.7  # of the held-out groups, the share stored in their FAQ (the others ask what it lacks)


@dataclass(frozen=True)
class GroupedQuestion:
    """A question and its group: the questions of one group ask the same thing in other words (an
    intent of a help desk's data, a cluster of a forum's duplicates). The domain, where given, groups
    the groups; another group's question of the same domain is the hard negative."""

    question: str
    group: str
    domain: str = ""


def load_grouped(path: str | Path) -> list[GroupedQuestion]:
    """Grouped questions from a CSV with the columns `text,category` and optionally `domain`, one
    question a row (an intent data set's shape: Banking77 ships it so, CLINC150 converts to it in a
    line). Plain or compressed UTF-8; a malformed file is one error naming its line."""
    import csv

    from cqa.semeval import csv_reading
    from qa.core.errors import DataFormatError
    from qa.core.text import open_text

    p = Path(path)
    out: list[GroupedQuestion] = []
    start = 1  # the line the row being read starts on (a quoted field may span lines)
    with csv_reading(p, lambda: start), open_text(p) as fh:
        reader = csv.reader(fh, strict=True)
        columns = tuple(h.strip() for h in next(reader, []))
        if columns[:2] != GROUP_COLUMNS or columns[2:] not in ((), ("domain",)):
            raise DataFormatError(f"{p}: the header must be text,category or text,category,domain "
                                  f"(found {','.join(columns) or 'none'})")
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not row:  # a blank line
                continue
            if len(row) != len(columns):
                raise DataFormatError(f"{p}, line {start}: {len(columns)} fields expected, {len(row)} found")
            text, group = " ".join(row[0].split()), row[1].strip()
            if text and group:
                out.append(GroupedQuestion(text, group, row[2].strip() if len(row) > 2 else ""))
    if len({q.group for q in out}) < 2:
        raise DataFormatError(f"{p}: questions of two groups at least are needed")
    return out


def _groups(questions: Iterable[GroupedQuestion], held: bool) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each group's distinct questions (the training groups or the held-out ones: split by a hash of
    the group's name, as articles are) and its domain."""
    by_group: dict[str, list[str]] = defaultdict(list)
    seen: dict[str, set[str]] = defaultdict(set)  # a question repeated, in other case too, is one question
    domain: dict[str, str] = {}
    for q in questions:
        if held_article(q.group) == held and q.question.lower() not in seen[q.group]:
            seen[q.group].add(q.question.lower())
            by_group[q.group].append(q.question)
            domain.setdefault(q.group, q.domain)
    return {g: qs for g, qs in by_group.items() if len(qs) >= 2}, domain


def group_pairs(questions: Iterable[GroupedQuestion], seed: int = 0, cap: int = GROUP_POSITIVES) -> QuestionPairs:
    """Labelled pairs of the training groups: a question and another of its group (the same asked in
    other words: "Where is my new card?" / "My card has still not arrived"), and per positive two
    negatives, the question beside another group's that shares the most words with it among
    `GROUP_POOL` of its domain ("How do I activate my card?"), and one of any other group. SQuAD's
    pairs teach the judge what a fact is; these teach it that a help desk's users word one request
    in many ways. Each pair in a random order."""
    from rapidfuzz import fuzz

    rng = random.Random(seed)
    by_group, domain = _groups(questions, held=False)
    names_ = sorted(by_group)
    out = QuestionPairs()
    if len(names_) < 2:
        return out
    by_domain: dict[str, list[str]] = defaultdict(list)
    for g in names_:
        by_domain[domain[g]].append(g)
    filed: dict[str, set[str]] = defaultdict(set)  # a question filed under several groups asks what each asks
    for g in names_:
        for q in by_group[g]:
            filed[q.lower()].add(g)
    positives = [((a, rng.choice([b for b in by_group[g] if b != a])), g) for g in names_ for a in by_group[g]]
    rng.shuffle(positives)
    rows: list[tuple[tuple[str, str], bool]] = []
    for (a, b), g in positives[:cap]:
        near = [h for h in by_domain[domain[g]] if h != g] or [h for h in names_ if h != g]
        # no negative shares a group with the question (nor is the question itself)
        pool = [t for t in (rng.choice(by_group[rng.choice(near)]) for _ in range(GROUP_POOL))
                if not filed[t.lower()] & filed[a.lower()]]
        other = [t for t in by_group[rng.choice([h for h in names_ if h != g])]
                 if not filed[t.lower()] & filed[a.lower()]]
        rows.append(((a, b), True))
        if pool:
            rows.append(((a, max(pool, key=lambda t: fuzz.token_set_ratio(a, t))), False))
        if other:
            rows.append(((a, rng.choice(other)), False))
    rng.shuffle(rows)
    for (first, second), label in rows:
        out.pairs.append((second, first) if rng.random() < 0.5 else (first, second))
        out.labels.append(label)
    out.positives = min(cap, len(positives))
    return out


def as_entry(question: str) -> str:
    """A question as an FAQ's author writes it: a capital first letter and a question mark where it
    asks ("how do i order a new card" -> "How do i order a new card?"); intent data is typed into a
    chat box, an FAQ is edited."""
    text = question.strip()
    if asks(text) and not text.endswith("?"):
        text = text.rstrip(".!") + "?"
    return text[:1].upper() + text[1:]


def group_faq_simulation(questions: Iterable[GroupedQuestion], seed: int = 0, limit: int | None = None,
                         first_id: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, frozenset[int]]]]:
    """An FAQ of the held-out groups, as `faq_simulation` makes one of articles: one entry for each
    of `GROUP_STORED_SHARE` of them (a question of the group that asks, written as an entry, with
    the group's name as its answer; entry n has id `first_id + n`), and the other questions asked:
    those of a stored group with its entry as the right one, those of the others with none."""
    rng = random.Random(seed)
    by_group, _ = _groups(questions, held=True)
    names_ = sorted(by_group)
    rng.shuffle(names_)
    stored = names_[:round(len(names_) * GROUP_STORED_SHARE)]
    entries: list[tuple[str, str]] = []
    asked: list[tuple[str, frozenset[int]]] = []
    for g in names_:
        qs = list(by_group[g])
        right: frozenset[int] = frozenset()
        if g in stored:
            pick = next((q for q in qs if asks(q)), qs[0])
            qs.remove(pick)
            right = frozenset({first_id + len(entries)})
            entries.append((as_entry(pick), g.replace("_", " ")))
        asked += [(q, right) for q in qs]
    rng.shuffle(asked)
    return entries, asked[:limit]


@dataclass
class StackRows:
    """What the combination is fitted on, one row per candidate the judge reads: the re-scorer's
    probability and the judge's logit (its inputs at run time), whether the candidate asks the same
    fact (the label), and the asked question it belongs to (the weights are per question)."""

    priors: list[float] = field(default_factory=list)
    judged: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    answerable: list[bool] = field(default_factory=list)  # whether the FAQ holds the row's asked question

    def matrix(self) -> np.ndarray:
        from cqa.matcher import stack_inputs

        return stack_inputs(self.priors, self.judged)


def stack_rows(match: Callable[[str], Sequence[Any]], judge: Callable[[list[tuple[str, str]]], list[float]],
               asked: Sequence[tuple[str, frozenset[int]]], *,
               progress: Callable[[int], None] | None = None) -> StackRows:
    """Each asked question matched as users' questions are (`match`, without the question judge:
    `Match.prior` is the re-scorer's), and every candidate the judge would read at run time
    (`judged_pair`) read by it, so the combination is fitted on what it is applied to."""
    from cqa.matcher import judged_pair

    rows = StackRows()
    for g, (question, right) in enumerate(asked):
        cands = [m for m in match(question) if judged_pair(question, m.thread, m.features["d_text"])]
        if cands:
            logits = judge([(question, m.thread.title) for m in cands])
            for m, z in zip(cands, logits, strict=True):
                rows.priors.append(float(m.prior))
                rows.judged.append(float(z))
                rows.labels.append(int(m.thread.ext_id) in right)
                rows.groups.append(g)
                rows.answerable.append(bool(right))
        if progress is not None:
            progress(1)
    return rows


def fit_question_stack(rows: StackRows, meta: dict[str, Any] | None = None) -> LogisticModel:
    """Logistic regression over the two logits; its own probability is the calibration (a model of
    two inputs fitted on thousands of matches hardly overfits). Whether a match is right depends on
    how often the FAQ holds what is asked, which no training set knows of a user's FAQ (the held-out
    SQuAD FAQ holds about one asked question in fifteen, a FAQ asked its own paraphrases nearly
    all): the asked questions are weighted so that those the FAQ holds count `ANSWERABLE_SHARE` of
    the whole. The meta records how the top match of each asked question fares before and after,
    on these same matches (an in-sample figure: the benchmark is `benchmarks/cqa_faq.py`)."""
    from qa.core.measures import auroc

    if not rows.labels or all(rows.labels) or not any(rows.labels):
        raise ValueError("the combination needs right and wrong matches among the held-out questions")
    x, y = rows.matrix(), np.asarray(rows.labels, dtype=bool)
    answerable = np.asarray(rows.answerable, dtype=bool)
    groups_of = {g: a for g, a in zip(rows.groups, rows.answerable, strict=True)}
    n_yes = sum(groups_of.values())
    n_no = len(groups_of) - n_yes
    if not n_yes or not n_no:
        raise ValueError("the combination needs asked questions the FAQ holds and questions it does not")
    size = Counter(rows.groups)  # each asked question weighs the same, however many candidates it has
    per_group = np.array([1.0 / size[g] for g in rows.groups])
    weight = np.where(answerable, ANSWERABLE_SHARE / n_yes, (1 - ANSWERABLE_SHARE) / n_no) * len(groups_of) * per_group
    model = LogisticModel(list(STACK_FEATURES)).fit(x, y, l2=STACK_L2, sample_weight=weight)
    probs = model.probabilities(x)
    tops: dict[str, list[tuple[float, bool, bool]]] = {"before": [], "after": []}
    groups = np.asarray(rows.groups)
    for g in np.unique(groups):
        idx = np.where(groups == g)[0]
        for name, scores in (("before", np.asarray(rows.priors)), ("after", probs)):
            best = idx[int(np.argmax(scores[idx]))]
            tops[name].append((float(scores[best]), bool(y[best]), bool(answerable[best])))
    stats = {}
    for name, found in tops.items():
        s, r = [t[0] for t in found], [t[1] for t in found]
        held = [t for t in found if t[2]]
        not_held = [t for t in found if not t[2]]
        answered = [t for t in found if t[0] >= 0.5]
        # no ECE: the combination is fitted for an FAQ holding half of what is asked, not this one's share
        stats[name] = {"p@1_answerable": round(100 * float(np.mean([t[1] for t in held])), 2),
                       "answered_pct_answerable": round(100 * float(np.mean([t[0] >= 0.5 for t in held])), 2),
                       "answered_pct_unanswerable": round(100 * float(np.mean([t[0] >= 0.5 for t in not_held])), 2),
                       "wrong_pct_of_answered": round(100 * float(np.mean([not t[1] for t in answered])), 2)
                       if answered else 0.0,
                       "auroc": round(auroc(s, r), 4) if 0 < sum(r) < len(r) else None}
    model.meta = {**(meta or {}), "matches": len(y), "questions": len(tops["after"]), "right": int(y.sum()),
                  "answerable_questions": n_yes, "answerable_share": ANSWERABLE_SHARE,
                  "held_out_top_match": stats}
    return model
