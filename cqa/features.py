"""The signals the two small models read.

Thread match (is this stored thread's question the new question, or close enough that its answers
answer it?): dense similarity of the new question to the thread's title + body, BM25 against the
thread's question and BM25 against the whole thread with its answers (answer relevance: a thread
whose title is vague but whose answers use the question's words is on topic). The lexical scores
only mean something relative to the other candidates, so they enter as z-scores within the
candidates of one question; the dense similarity enters both raw and relative.

Answer quality (is this answer a good answer to its thread's question?): its similarity to the
question and to the other answers (good answers agree with each other), whether the asker wrote
it (forum askers mostly reply "thanks" or ask again), its position, length, questions, links and
thanks. A forum thread is also a conversation, and where an answer sits in it says much: a
writer's first post in a thread answers more often than their later ones (those argue or chat),
a post that names another participant replies to that person rather than to the question, and
a post the asker answers next (above all with thanks) was read as an answer. Plain wording
helps too: answers open with "yes" / "no" and speak to "you", chatter asks questions and talks
about "I". What the wording of an answer says beyond these is read off its sentence vector by a
small logistic model of its own (`wording`). And whether the answer answers at all is read off by
the span reader, the one model here that reads question and answer together: how far its best
span in the answer scores above its "no answer" (`read`; the mean of the training rows when no
reader is at hand, which leaves the ranking to the other features).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from qa.core.types import SpanReading

MATCH_FEATURES = ["d_text", "d_max", "d_text_z", "bm25_z", "bma_z"]
ANSWER_FEATURES = ["cos", "cen", "lex", "asker", "pos", "loglen", "qmark", "url", "thank", "at", "own_share",
                   "short", "cos_gap", "cen_gap", "first_own", "names_other", "asker_next", "asker_thanks_next",
                   "n_qmarks", "yes_no", "you", "i_me", "last", "wording", "read"]
# added by the matcher: `wording`, a logistic model's score of the answer's sentence vector alone;
# `read`, the span reader's margin of its best span over "no answer" (see `read_margins`)
READ_CLIP = 20.0
READ_QUESTION_CHARS = 400  # the thread's question as the reader's question: title and the body's opening
# the opening of an answer the span reader reads (about four windows): what answers a question is
# said early, and a 125,000-character answer read whole held its question up for 16 seconds
READ_ANSWER_CHARS = 5_000

_URL = re.compile(r"https?://|www\.")
_THANK = re.compile(r"(?i)\bthank|\bthanx|\bthx\b|\bthnx")
_YES_NO = re.compile(r"(?i)^\W*(yes|no|yeah|yep|nope|yup)\b")
_YOU = re.compile(r"(?i)\b(you|your|u)\b")
_I_ME = re.compile(r"(?i)\b(i|me|my)\b")
MIN_NAME_CHARS = 3  # shorter user names match ordinary words


@dataclass
class Candidate:
    """What the match features need about one candidate thread."""

    key: int
    vector: np.ndarray  # the thread's question (title + body)
    bm25: float  # BM25 of the new question against the thread's question
    bma: float  # BM25 against the whole thread (question and answers)


def _z(values: Sequence[float]) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std())
    return [0.0] * len(v) if sd < 1e-9 else ((v - v.mean()) / sd).tolist()


def match_features(q_vector: np.ndarray, cands: Sequence[Candidate]) -> list[dict[str, float]]:
    """One row per candidate. Raw similarity says how close the thread is; the z-scores (within
    the candidates of this question) say how it compares with the others; `d_max` (the best
    candidate's similarity) tells a question the store can answer from one it cannot."""
    if not cands:
        return []
    dense = [float(c.vector @ q_vector) for c in cands]
    d_max = max(dense)
    return [{"d_text": d, "d_max": d_max, "d_text_z": dz, "bm25_z": bz, "bma_z": az}
            for d, dz, bz, az in zip(dense, _z(dense), _z([c.bm25 for c in cands]), _z([c.bma for c in cands]),
                                     strict=True)]


@dataclass
class AnswerInfo:
    """What the answer features need about one answer of a thread."""

    text: str
    tokens: list[str]
    vector: np.ndarray
    author: str = ""


def answer_features(q_tokens: Sequence[str], q_vector: np.ndarray, asker: str,
                    answers: Sequence[AnswerInfo]) -> list[dict[str, float]]:
    if not answers:
        return []
    vecs = np.stack([a.vector for a in answers])
    centre = vecs.mean(axis=0)
    n = len(answers)
    qset = set(q_tokens)
    names = _name_patterns([a.author for a in answers if a.author != asker])
    rows = []
    for i, a in enumerate(answers):
        aset = set(a.tokens)
        own = sum(1 for b in answers if b.author and b.author == a.author)
        words = max(len(a.text.split()), 1)
        by_asker = bool(asker) and a.author == asker
        asker_next = not by_asker and bool(asker) and i + 1 < n and answers[i + 1].author == asker
        rows.append({
            "cos": float(a.vector @ q_vector), "cen": float(a.vector @ centre),
            "lex": len(qset & aset) / max(len(qset), 1),
            "asker": float(bool(asker) and a.author == asker), "pos": i / 10.0,
            "loglen": math.log1p(len(a.text)), "qmark": float("?" in a.text), "url": float(bool(_URL.search(a.text))),
            "thank": float(bool(_THANK.search(a.text))), "at": float("@" in a.text), "own_share": own / n,
            "short": float(len(a.text.split()) < 5),
            "first_own": float(not a.author or all(b.author != a.author for b in answers[:i])),
            "names_other": float(any(pat.search(a.text) for name, pat in names.items() if name != a.author)),
            "asker_next": float(asker_next),
            "asker_thanks_next": float(asker_next and bool(_THANK.search(answers[i + 1].text))),
            "n_qmarks": float(min(a.text.count("?"), 5)), "yes_no": float(bool(_YES_NO.search(a.text))),
            "you": len(_YOU.findall(a.text)) / words, "i_me": len(_I_ME.findall(a.text)) / words,
            "last": float(i == n - 1),
        })
    for key in ("cos", "cen"):
        top = max(r[key] for r in rows)
        for r in rows:
            r[f"{key}_gap"] = r[key] - top
    return rows


def _name_patterns(authors: Sequence[str]) -> dict[str, re.Pattern[str]]:
    """A whole-word, case-insensitive pattern per participant name long enough to be told from a word."""
    return {name: re.compile(rf"(?i)(?<!\w){re.escape(name)}(?!\w)")
            for name in dict.fromkeys(authors) if len(name) >= MIN_NAME_CHARS}


# a number as a question names one: "37th", "2", "1,500", "3.5", "10^6", "1e6", "1.5 million",
# "100k"; ordinal suffixes and thousands separators go, so "the 37th" and "number 37" name the same
# number, and "10^6", "1e6", "1 million" and "1000000" one value
_SPECIFIC = re.compile(
    r"(?<![\w.,])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?:(?:\s*(?P<op>\^|\*\*)\s*|e)(?P<pow>\d{1,2})|(?:st|nd|rd|th)|\s*(?P<scale>k|thousand|million|billion)\b)?"
    r"(?![\w]|[.,]\d)", re.IGNORECASE)
_SCALE = {"k": 10**3, "thousand": 10**3, "million": 10**6, "billion": 10**9}
# a place in a ranking: an ordinal before a superlative ("the 3rd largest", "the second-most
# populous"); other ordinals are mostly circumstance in a forum post ("on the 4th floor", "in 5th
# grade", "May 1st") and are compared as numbers only
_ORDINAL_WORDS = {w: i for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1)}
_ORDINAL = r"(?:(?<![\w.,])(?P<digits>\d{1,4})(?:st|nd|rd|th)|\b(?P<word>" + "|".join(_ORDINAL_WORDS) + r"))\b"
# the superlatives a ranking question uses ("arrest", "honest", "harvest" end alike and rank nothing)
_SUPERLATIVES = frozenset("""most least best worst largest biggest smallest highest lowest longest shortest
    tallest oldest youngest newest richest poorest busiest deepest fastest slowest hottest coldest warmest
    greatest heaviest lightest widest narrowest closest nearest farthest furthest strongest weakest
    brightest cheapest earliest latest wealthiest""".split())
_RANK = re.compile(_ORDINAL + r"(?:\s*-\s*|\s+)(?P<sup>[a-z]+)\b", re.IGNORECASE)
_ANY_ORDINAL = re.compile(_ORDINAL, re.IGNORECASE)
# a matched question that names other numbers or other things than the new one is another question
# ("Who was the 37th president?" for "the 36th", "the Cold War" for "World War II"): its answer is
# right only by chance, so it is never shown as more likely than this (below `cqa_min_score`'s
# default: a best guess, not an answer)
OTHER_QUESTION_CAP = 0.25
# the encoder's similarity of two questions above which they ask the same but for their numbers:
# such pairs score 0.8 and more ("Who was the 36th president?" / "... the 37th President of the
# United States?" 0.82); the SemEval pairs whose numbers differ (a forum post's circumstance:
# "a car for 1 month, budget 1500" / "QR1,500/month car rental", relevant) 0.55 and less
SAME_QUESTION = 0.75
MAX_DIGITS = 30  # numbers with this many digits or more (before or after the point) are not compared


def specifics(text: str) -> set[str]:
    """The numbers a question names, each as one normalised value ("1,500" and "1500" alike,
    "37th" as "37", "10^6" and "1 million" as "1000000")."""

    out = set()
    for m in _SPECIFIC.finditer(text):
        try:
            value = Decimal(m["int"].replace(",", "") + (f".{m['frac']}" if m["frac"] else ""))
            if m["pow"]:  # "10^6" a power, "1.5e6" a mantissa and an exponent
                value = value ** int(m["pow"]) if m["op"] else value * Decimal(10) ** int(m["pow"])
            elif m["scale"]:
                value *= _SCALE[m["scale"].lower()]
        except ArithmeticError:  # decimal overflow or an invalid operation: no number to compare
            continue
        if abs(value.adjusted()) < MAX_DIGITS:  # "99^99" is no number a question is about; nor shown in full
            out.add(format(value.normalize(), "f"))
    return out


def other_numbers(question: str, matched: str, similarity: float) -> str | None:
    """Why a matched question is another question: the two ask the same (`similarity`, the
    encoder's, at least `SAME_QUESTION`) but each names a number the other does not ("the 36th
    president" asked, "the 37th" matched). None when either names no number the other lacks (a
    number one of them does not mention only narrows it, as "my 2 kids" in a thread about school
    fees), or when they ask more differently: in a forum post numbers are mostly circumstance.
    A rank is no circumstance: "the 3rd largest country" is not "the largest country" (0.86
    alike), so a rank that only one of them names is enough ("third" and "3rd" are one rank)."""
    if similarity < SAME_QUESTION:
        return None
    asked, found = specifics(question), specifics(matched)
    if asked - found and found - asked:
        return (f"the matched question names {', '.join(sorted(found - asked, key=float))} where the question "
                f"names {', '.join(sorted(asked - found, key=float))}")
    for text, other, which in ((question, matched, "the question asks for"),
                               (matched, question, "the matched question is about")):
        named = _ordinals(other) | {int(d) for n in specifics(other) if (d := Decimal(n)) == int(d)}
        ranks = [" ".join(m[0].split()) for m in _RANK.finditer(text)
                 if m["sup"].lower() in _SUPERLATIVES and _ordinal_value(m) not in named]
        if ranks:
            return f"{which} the {', '.join(dict.fromkeys(ranks))}, which the other does not name"
    return None


def _ordinal_value(m: re.Match[str]) -> int:
    return int(m["digits"]) if m["digits"] else _ORDINAL_WORDS[m["word"].lower()]


def _ordinals(text: str) -> set[int]:
    """Every place in an order a text names, "3rd" and "third" alike."""
    return {_ordinal_value(m) for m in _ANY_ORDINAL.finditer(text)}


def read_margins(reader: SpanReading, question: str, answers: Sequence[str]) -> list[float]:
    """The span reader's best-span score minus its no-answer score, per answer (clipped): high
    when the answer holds something that answers the question, low for chatter and thanks."""
    if not answers:
        return []
    q = question.strip()[:READ_QUESTION_CHARS] or "?"
    out = []
    for spans in reader.read_many([(q, a[:READ_ANSWER_CHARS] or ".") for a in answers], top_k=1,
                                  allow_no_answer=False):
        best = spans[0] if spans else None
        if best is None or best.raw_score is None:
            out.append(-READ_CLIP)
            continue
        null = best.null_score if best.null_score is not None else -math.inf
        out.append(float(np.clip(best.raw_score - null, -READ_CLIP, READ_CLIP)))
    return out


# A one-line question names what it asks about; two such questions that each name a thing the other
# does not ("When did World War II end?" / "When did the Cold War end?", 0.68 alike; "the largest
# ocean on Mars" / "the Earth's largest ocean", 0.75) ask different things, however alike their
# wording. A forum post is no such question: its body names circumstance (a shop, a town, a
# colleague) and a thread that names other things often still answers it, so longer texts are left
# to the re-scorer.
ONE_QUESTION_WORDS = 30
_SENTENCE_BREAK = re.compile(r"(?<![A-Z])[.?!]\s+\S|\n")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*\.?")
# lower-case words inside a name ("Duke of Argyll", "Leonardo da Vinci")
_NAME_JOINERS = frozenset("of the de da di del della der van von la le du al bin y and &".split())
# what a company's name may leave out ("Microsoft" is "Microsoft Corporation")
_COMPANY = frozenset("inc incorporated corp corporation co company ltd limited llc plc gmbh ag sa group".split())
# the words a question opens with, capitalised only for being first
_OPENERS = frozenset("""what what's whats who who's whom whose when where which why how is are was were do does did
    can could should would will shall may might must please tell name list give define explain describe i i'm
    my in on at for of to from the a an if there any has have had since after before during between""".split())
# the small words a headline may leave in lower case ("Visa for Pakistanis in Doha")
_SMALL_WORDS = frozenset("a an and as at but by for from in into of on or the to with vs".split())
# "Mt", "St", "Dr": a word this short (not in capitals: "US", "II") may stand for a longer one of the
# same first and last letter
MAX_SHORTENED = 2
MAX_ABBREVIATION = 6  # letters of an abbreviation made of a name's initials ("USA", "NASA")
MIN_FUZZY_CHARS = 5  # shorter words must match exactly ("Mars" is not "Mass")
FUZZY_WORD = 85  # rapidfuzz ratio at which a longer word is the same word misspelt ("Einstien")


def one_question(text: str) -> bool:
    """A single short sentence in sentence case: an FAQ entry or a question typed into a box, not a
    forum post, nor a headline ("Driving Test Rules", "Where To Buy A Car"), whose capitals name
    nothing."""
    text = text.strip()
    words = text.split()
    if not words or len(words) > ONE_QUESTION_WORDS or _SENTENCE_BREAK.search(text):
        return False
    rest = [m[0] for m in _WORD.finditer(text)][1:]
    rest = [w for w in rest if not (w.islower() and w in _SMALL_WORDS)]
    return not rest or not all(w[:1].isupper() for w in rest)


def names(text: str) -> list[list[str]]:
    """The capitalised names of a text, each as its words ("World War II", "Duke of Argyll"); the
    first word only where the next is capitalised too and it is no question word ("Albert Einstein
    was ...", not "Mars is ..." nor "Where Is ...": a first word is capitalised anyway)."""
    text = unicodedata.normalize("NFC", text)  # "a" and a combining accent: one letter, in one word
    found = list(_WORD.finditer(text))
    words = [m[0].rstrip(".") for m in found]
    out: list[list[str]] = []
    run: list[str] = []
    pending: list[str] = []
    for i, w in enumerate(words):
        between = text[found[i - 1].end():found[i].start()] if i else ""
        first = not i or bool(re.search(r"[.?!]", between)) or _ends_sentence(found[i - 1][0])
        if run and between.strip():  # punctuation between two words ends a name ("Ulm, I think")
            out.append(run)
            run, pending = [], []
        base = re.sub(r"['’]s$", "", w)
        capital = base[:1].isupper() and (not first or base.lower() not in _OPENERS and _next_capital(words, i))
        if capital and base != "I" or (base == "I" and run):  # "World War I", not the pronoun
            run += pending + [base]
            pending = []
        elif run and base.lower() in _NAME_JOINERS and not pending:
            pending = [base]
        else:
            if run:
                out.append(run)
            run, pending = [], []
        if w != base and run:  # a possessive ends a name ("Earth's largest ocean")
            out.append(run)
            run, pending = [], []
    if run:
        out.append(run)
    return out


def _ends_sentence(word: str) -> bool:
    """A word with a full stop that is no abbreviation ("closed.", not "Mt.", "F.", "U.S.")."""
    return word.endswith(".") and len(word) > MAX_SHORTENED + 2 and "." not in word[:-1]


def _next_capital(words: Sequence[str], i: int) -> bool:
    """Whether a sentence's capitalised first word starts a longer name ("Albert Einstein was
    ..."); alone it is capitalised only for being first."""
    return i + 1 < len(words) and words[i + 1][:1].isupper() and not words[i].endswith(("'s", "’s"))


def _plain(word: str) -> str:
    """A word as compared: lower case, no dots, no accents ("Salwá" is "salwa", as users type it)."""
    word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return word.lower().replace(".", "").replace("’", "'")


def _abbreviates(short: str, name: Sequence[str]) -> bool:
    """Whether `short` is written of the initials of some words of `name` in a row ("JFK" of
    "President John F. Kennedy", "USA" of "United States of America", joiners kept or not)."""
    short = _plain(short)
    if not 2 <= len(short) <= MAX_ABBREVIATION:
        return False
    return any(short in "".join(w[0].lower() for w in name if keep or w.lower() not in _NAME_JOINERS)
               for keep in (True, False))


def _covered(name: Sequence[str], words: set[str], other_names: list[list[str]]) -> bool:
    """Whether the other text names this too: every word of it (misspelt, or shortened as "Mt" of
    "Mount"), or an abbreviation of the other's name or the other an abbreviation of it ("US" and
    "United States")."""
    from rapidfuzz import fuzz, process

    def has(word: str) -> bool:
        w = _plain(word)
        if w in words or w in _NAME_JOINERS or w in _COMPANY:
            return True
        if len(w) <= MAX_SHORTENED and not word.isupper() and any(
                len(x) > len(w) and x[0] == w[0] and x[-1] == w[-1] for x in words):
            return True
        return len(w) >= MIN_FUZZY_CHARS and process.extractOne(
            w, [x for x in words if len(x) >= MIN_FUZZY_CHARS], scorer=fuzz.ratio, score_cutoff=FUZZY_WORD) is not None

    if all(has(w) for w in name):
        return True
    if len(name) == 1 and name[0].isupper():
        return any(_abbreviates(name[0], n) for n in other_names if len(n) > 1)
    return any(_abbreviates(n[0], name) for n in other_names if len(n) == 1 and n[0].isupper())


def other_names(question: str, matched: str) -> str | None:
    """Why a matched one-line question is another question: each names a thing the other does not
    ("World War II" asked, "the Cold War" matched). None for longer texts (see `one_question`),
    or when only one of them names something more ("Who founded Apple?" / "... Apple Inc.?")."""
    if not (one_question(question) and one_question(matched)):
        return None
    found: list[list[str]] = []
    for text, other in ((question, matched), (matched, question)):
        words = {_plain(m[0].rstrip(".")) for m in _WORD.finditer(unicodedata.normalize("NFC", other))}
        words |= {re.sub(r"'s$", "", w) for w in words}
        mine, theirs = names(text), names(other)
        found.append([n for n in mine if not _covered(n, words, theirs)])
    asked, matched_only = found
    if asked and matched_only:
        return (f"the matched question is about {', '.join(' '.join(n) for n in matched_only)} where the question "
                f"asks about {', '.join(' '.join(n) for n in asked)}")
    return None
