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

import difflib
import enum
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import numpy as np

from cqa.wordnet import is_noun, one_meaning
from qa.core.text import folded, unaccented
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
# names a forum gives everyone who posts without an account (or whose account is gone): two posts
# under one of them are not one person's. On Qatar Living an "anonymous" asker's question is
# followed by "anonymous" comments that are Good a fifth of the time (SemEval-2016 train-part2),
# where an asker's own replies are Good one time in 17: read as the asker's, they sank.
NOBODY = frozenset({"anonymous", "anonymous user", "anon", "guest", "unknown", "deleted", "[deleted]",
                    "deleted user", "user deleted"})


def identity(author: str) -> str:
    """Who wrote a post, as far as the name says: "" for no name or a name shared by everyone."""
    name = " ".join(author.split())
    return "" if name.casefold() in NOBODY else name


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
    asker = identity(asker)
    authors = [identity(a.author) for a in answers]
    names = _name_patterns([who for who in authors if who != asker])
    rows = []
    for i, a in enumerate(answers):
        aset = set(a.tokens)
        who = authors[i]
        own = sum(1 for b in authors if b and b == who)
        words = max(len(a.text.split()), 1)
        by_asker = bool(asker) and who == asker
        asker_next = not by_asker and bool(asker) and i + 1 < n and authors[i + 1] == asker
        rows.append({
            "cos": float(a.vector @ q_vector), "cen": float(a.vector @ centre),
            "lex": len(qset & aset) / max(len(qset), 1),
            "asker": float(by_asker), "pos": i / 10.0,
            "loglen": math.log1p(len(a.text)), "qmark": float("?" in a.text), "url": float(bool(_URL.search(a.text))),
            "thank": float(bool(_THANK.search(a.text))), "at": float("@" in a.text), "own_share": own / n,
            "short": float(len(a.text.split()) < 5),
            "first_own": float(not who or all(b != who for b in authors[:i])),
            "names_other": float(any(pat.search(a.text) for name, pat in names.items() if name != who)),
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
    for spans in reader.read_batch([(q, a[:READ_ANSWER_CHARS] or ".") for a in answers], top_k=1,
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
# to the re-scorer. Where the check is unsure whether two names are one thing it leaves the match
# alone: a match held down wrongly hides a right answer, one left alone is shown with the
# re-scorer's probability as before.
ONE_QUESTION_WORDS = 30
# the encoder's similarity at which two one-line questions that name different things name one
# thing two ways ("the US flag" / "the American flag" 0.96, "the UK" / "Britain" 0.95); two things
# asked about in the same words score less ("Barack Obama's wife" / "Michelle Obama's husband" 0.87,
# "a PDF on Windows" / "on Linux" 0.84, "Sweden" / "Norway" 0.81)
ONE_THING_TWO_WAYS = 0.9
_WORD = re.compile(r"[^\W_]+(?:['’.&\u2010\u2011-][^\W_]+)*\.?")
# lower-case words inside a name ("Duke of Argyll", "Leonardo da Vinci", "Lord of the Rings")
_NAME_JOINERS = frozenset("of the de da di del della der van von la le du al bin y and".split())
MAX_JOINERS = 2  # "of the" inside a name; more lower-case words in a row end it
# what a company's name may leave out ("Microsoft" is "Microsoft Corporation"); in capitals and two
# letters long these are other names ("CO", Colorado), so those are not left out
_COMPANY = frozenset("inc incorporated corp corporation co company ltd limited llc plc gmbh group".split())
# how a name may be addressed ("President Biden" is "Joe Biden", "Mr. Rogers" "Fred Rogers")
_TITLES = frozenset("""mr mrs ms miss mx dr prof sir dame president king queen prince princess pope lord lady
    general captain senator governor judge rev reverend""".split())
# titles abbreviated with a stop that ends no sentence ("Prof. Smith"); up to three letters any
# capitalised word with a stop is one ("Mr.", "Mt.", "St.")
_LONG_ABBREVIATIONS = frozenset("prof capt sgt gov gen col rev approx".split())
# the words a question opens with, capitalised only for being first
_OPENERS = frozenset("""what what's whats who who's whom whose when where where's which why how how's is are was
    were do does did can could should would will shall may might must please tell name list give define explain
    describe i i'm my in on at for of to from the a an if there any has have had since after before during
    between""".split())
# the small words a headline capitalises ("Best Bank In Doha?") and a sentence does not
_SMALL_WORDS = frozenset("a an and as at but by for from in into of on or the to with vs".split())
HEADLINE_WORDS = 3  # this many capitalised words (after the first) and no lower-case one: a headline
_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
MAX_ABBREVIATION = 6  # letters of an abbreviation ("USA", "NASA", "WWII")
# "Mt", "St", "Dr": a word this short (not in capitals: "US", "II") may stand for a longer one of the
# same first and last letter
MAX_SHORTENED = 2
MIN_FUZZY_CHARS = 5  # shorter words match exactly or but for a doubled letter ("Pitt" / "Pit"; "Mars" is not "Mass")
LONG_WORD = 10  # from this length two edits are a misspelling, below it one ("Reagen", "Einstien")
_DOUBLED = re.compile(r"(.)\1+")
MAX_RUN = 3  # words written as one elsewhere ("Iron Man" / "Ironman", "Coca Cola" / "Coca-Cola")


def _stop_within_sentence(token: str) -> bool:
    """A word with a full stop that ends no sentence: an initial ("F."), a short title ("Mr.",
    "Mt.", "St."), letters with stops between them ("U.S.")."""
    core = token.rstrip(".")
    return bool(core) and (len(core) <= 3 and core[0].isupper() or "." in core or core.lower() in _LONG_ABBREVIATIONS)


def _sentences(text: str) -> int:
    """How many sentences a text holds: a stop, question or exclamation mark followed by more
    words starts another ("Who is Mr. Bean?" is one; "... in the UAE? My old one ..." two)."""
    count = 1
    for m in re.finditer(r"([?!]+|\.)\s+(?=[^\W_])|\n\s*(?=[^\W_])", text):
        if m[1] == ".":
            before = text[:m.start() + 1].split()
            if before and _stop_within_sentence(before[-1]):
                continue
        count += 1
    return count


def _tokens(text: str) -> list[str]:
    return [m[0] for m in _WORD.finditer(unicodedata.normalize("NFC", text))]


@lru_cache(maxsize=256)  # the new question is tested against each of its candidates
def one_question(text: str) -> bool:
    """A single short sentence: an FAQ entry or a question typed into a box, not a forum post, nor
    a headline ("Driving Test Rules In Qatar", "TRAFFIC TICKET RULES"), whose capitals name
    nothing."""
    text = text.strip()
    if not text or len(text.split()) > ONE_QUESTION_WORDS or _sentences(text) > 1:
        return False
    tokens = _tokens(text)
    if not tokens:
        return False
    rest = tokens[1:]
    if rest and all(w.isupper() for w in tokens if w[:1].isalpha()):
        return False  # in capitals throughout
    if any(w.lower() in _SMALL_WORDS and w[:1].isupper() and not (w.isupper() and len(w) > 1)
           and not (w == "The" and i + 1 < len(rest) and rest[i + 1][:1].isupper()) for i, w in enumerate(rest)):
        return False  # "In", "For", "A" inside a sentence: title case ("The Godfather" is a name's)
    if tokens[0].lower() in _OPENERS and text.endswith("?"):
        return True  # "Is Kansas City in Missouri?": a question, however many names it holds
    big = [w for w in rest if w.lower() not in _SMALL_WORDS]
    return not (len(big) >= HEADLINE_WORDS and all(w[:1].isupper() for w in big))


# the words a question typed without its question mark opens with ("who built the eiffel tower")
_ASKING = frozenset("""what what's whats who who's whom whose when where where's which why how how's is are was
    were do does did can could should would will""".split())


def asks(text: str) -> bool:
    """Written as a question: its question mark, or (typed into a box, the mark is often left out)
    opening with a question word."""
    text = text.strip()
    words = _tokens(text)
    return text.endswith("?") or bool(words) and words[0].lower() in _ASKING


def two_questions(question: str, matched: str) -> bool:
    """Whether the question judge reads the pair: two one-line questions, the stored one written as
    a question (a question mark), the asked one too or opening with a question word (typed into a
    box, the mark is often left out). It learnt from questions asked about a paragraph; an FAQ
    entry written as a statement of a problem ("My printer is not printing.") is outside what it
    knows, and the re-scorer keeps such a match."""
    text = question.strip()
    return asks(text) and one_question(text) and one_question(matched) and matched.strip().endswith("?")


def names(text: str) -> list[list[str]]:
    """The capitalised names of a text, each as its words ("World War II", "Lord of the Rings");
    the first word only where the next is capitalised too and it is no question word ("Albert
    Einstein was ...", not "Mars is ..." nor "Where is ...": a first word is capitalised anyway)."""
    text = unicodedata.normalize("NFC", text)
    found = list(_WORD.finditer(text))
    words = [m[0] if _stop_within_sentence(m[0]) else m[0].rstrip(".") for m in found]
    out: list[list[str]] = []
    run: list[str] = []
    pending: list[str] = []

    def close() -> None:
        nonlocal run, pending
        if run:
            out.append(run)
        run, pending = [], []

    for i, w in enumerate(words):
        between = text[found[i - 1].end():found[i].start()] if i else ""
        first = not i or bool(re.search(r"[.?!]", between)) or (
            found[i - 1][0].endswith(".") and not _stop_within_sentence(found[i - 1][0]))
        if run and between.strip() and between.strip() != "&":  # "Ulm, I think"; "Procter & Gamble" is one
            close()
        base = re.sub(r"['’]s$", "", w)
        capital = base[:1].isupper() and (not first or base.lower() not in _OPENERS and _next_capital(words, i))
        if base == "I" or base.isdigit():  # "World War I", "World War 1", "Windows 10"; else the pronoun, a count
            capital = bool(run) and not pending
        if capital:
            run += pending + [base]
            pending = []
        elif run and base in _NAME_JOINERS and len(pending) < MAX_JOINERS:
            pending.append(base)
        else:
            close()
        if w != base:  # a possessive ends a name ("Earth's largest ocean")
            close()
    close()
    return out


def _next_capital(words: Sequence[str], i: int) -> bool:
    """Whether a sentence's capitalised first word starts a longer name ("Albert Einstein was
    ..."); alone it is capitalised only for being first."""
    return i + 1 < len(words) and words[i + 1][:1].isupper() and not words[i].endswith(("'s", "’s"))


def _plain(word: str) -> str:
    """A word as compared: lower case, no accents ("Salwá" is "salwa", as users type it), no stops,
    hyphens or apostrophes ("Wi-Fi" is "wifi", "U.S." is "us", "McDonald's" is "mcdonalds")."""
    return re.sub(r"[.'’&\u2010\u2011-]", "", unaccented(word).lower())


def _initials(words: Sequence[str], *, joiners: bool = False) -> str:
    """A run of name words as its abbreviation: first letters, numbers and roman numerals whole
    ("World War II" -> "wwii", "World War 1" -> "ww1"), joiners left out ("USA") or kept
    ("POTUS")."""
    out = []
    for w in words:
        p = _plain(w)
        if not p or w in _NAME_JOINERS and not joiners:
            continue
        out.append(p if p.isdigit() or _ROMAN.match(p) and len(w) > 1 and w.isupper() else p[0])
    return "".join(out)


def _same_word(a: str, b: str) -> bool:
    """Two plain words one name: equal, or long enough and one or two typing errors apart
    ("einstien", "reagen"; not "austria" / "australia", two apart at seven letters)."""
    if a == b:
        return True
    if any(c.isdigit() for c in a + b) or _ROMAN.match(a) or _ROMAN.match(b):
        return False  # "S24" is not "S23", "II" not "I", "LII" not "LI"
    if _DOUBLED.sub(r"\1", a) == _DOUBLED.sub(r"\1", b):  # "Pitt" typed "Pit"
        return True
    shorter = min(len(a), len(b))
    if shorter < MIN_FUZZY_CHARS:
        return False
    from rapidfuzz.distance import OSA

    return OSA.distance(a, b, score_cutoff=2) <= (2 if shorter >= LONG_WORD else 1)


class _Other:
    """What the other question names, as a name of this one is looked up in it."""

    def __init__(self, text: str) -> None:
        tokens = _tokens(text)
        plain = [_plain(re.sub(r"['’]s$", "", t.rstrip("."))) for t in tokens]
        plain = [p for p in plain if p]
        # its words, and its runs of up to MAX_RUN words written as one ("Iron Man" -> "ironman")
        self.words = {"".join(plain[i:i + n]) for n in range(1, MAX_RUN + 1) for i in range(len(plain) - n + 1)}
        self.names = names(text)
        self.abbreviations = {_plain(n[0]) for n in self.names if len(n) == 1 and _abbreviates_word(n[0])}
        # every run of two or more words of its names, as initials ("President John F. Kennedy" ->
        # "jfk" among them)
        self.initials = {_initials(n[i:j], joiners=k) for n in self.names for i in range(len(n))
                         for j in range(i + 2, len(n) + 1) for k in (False, True) if n[i] not in _NAME_JOINERS}
        self.long_words = [w for n in self.names for w in n if len(w) > MAX_ABBREVIATION and w[:1].isupper()]
        self.numbers = _values([t for t in tokens if t != "I"] + [w for n in self.names for w in n if w == "I"])

    def has(self, word: str) -> bool:
        w = _plain(word)
        if not w:
            return True
        if word in _NAME_JOINERS or w in _COMPANY and not (len(w) <= 2 and word.isupper()):
            return True
        if w in self.words:
            return True
        if _numeral(word) and _values([word]) <= self.numbers:
            return True  # "II" and "2" one number
        if len(w) <= MAX_SHORTENED and not word.rstrip(".").isupper():  # "Mt." for "Mount", "St." for "Saint"
            return any(len(x) > len(w) and x[0] == w[0] and x[-1] == w[-1] for x in self.words)
        return any(_same_word(w, x) for x in self.words)

    def shortened(self, abbreviation: str) -> bool:
        """Whether an abbreviation stands for one of its names: their initials ("jfk"), another
        abbreviation it starts or is started by ("us" / "usa"), or one long word ("ms" / "Microsoft")."""
        return abbreviation in self.initials or any(
            a.startswith(abbreviation) or abbreviation.startswith(a) for a in self.abbreviations) or any(
            _shortens(abbreviation, _plain(w)) for w in self.long_words)

    def covers(self, name: Sequence[str]) -> bool:
        """Whether it names this too: every word of it (misspelt, or written as one word or in two,
        a number as a numeral), or the name is an abbreviation of some of its name's words, or
        some of this name's words are an abbreviation it uses ("US Army" / "United States Army",
        "WWII" / "World War II"). A title the name opens with is how it is addressed ("President
        Biden" is "Joe Biden"), not the name."""
        if "".join(_plain(w) for w in name) in self.words:
            return True
        name = _untitled(name)
        i = 0
        while i < len(name):
            w = name[i]
            if self.has(w) or _abbreviates_word(w) and self.shortened(_plain(w)) or any(
                    _shortens(a, _plain(w)) for a in self.abbreviations):
                i += 1
                continue
            # a run of this name's words that the other writes as its abbreviation
            ends = [j for j in range(i + 2, len(name) + 1)
                    if {_initials(name[i:j]), _initials(name[i:j], joiners=True)} & self.abbreviations]
            if not ends:
                return False
            i = max(ends)
        return True


@lru_cache(maxsize=256)  # the new question is looked up in, and looks up, each of its candidates
def _other(text: str) -> _Other:
    return _Other(text)


def _untitled(name: Sequence[str]) -> Sequence[str]:
    """A name without the title it opens with ("President Biden" -> "Biden"): only before another
    capitalised word ("the King of Spain" is the title itself), and not a two-letter code ("MS")."""
    first = name[0].rstrip(".") if name else ""
    if len(name) > 1 and first.lower() in _TITLES and name[1] not in _NAME_JOINERS and not (
            len(first) <= 2 and first.isupper()):
        return name[1:]
    return name


_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _values(words: Sequence[str]) -> set[int]:
    """The numbers words hold: digits, also inside a word ("PS5", "WW2"), and roman numerals in
    capitals ("II", "LIII"; "I" only as the caller passes it: a name's, not the pronoun)."""
    out: set[int] = set()
    for w in words:
        digits = re.findall(r"\d+", w)
        if digits:
            out.update(int(d) for d in digits if len(d) < MAX_DIGITS)
        elif w.isupper() and _ROMAN.match(w.lower()):
            total = 0
            for c, nxt in zip(w.lower(), w.lower()[1:] + " ", strict=True):
                v = _ROMAN_VALUES[c]
                total += -v if nxt in _ROMAN_VALUES and _ROMAN_VALUES[nxt] > v else v
            out.add(total)
    return out


def _shortens(abbreviation: str, word: str) -> bool:
    """"ms" for "microsoft": a short abbreviation of one long word, its first letter first and the
    others in order."""
    if not (2 <= len(abbreviation) <= 3 and len(word) > MAX_ABBREVIATION and word[0] == abbreviation[0]):
        return False
    rest = iter(word[1:])
    return all(c in rest for c in abbreviation[1:])


def _abbreviates_word(word: str) -> bool:
    """Written as an abbreviation: capitals (digits allowed), two to MAX_ABBREVIATION letters
    ("US", "WWII", "WW1", "P&G", "U.S.")."""
    p = _plain(word)
    return 2 <= len(p) <= MAX_ABBREVIATION and word.replace(".", "").replace("&", "").isupper()


def other_question(question: str, title: str, text: str, similarity: float) -> str | None:
    """Why a matched thread (its `title`, its `text`: title and body) asks another question than
    `question` (None where it may ask the same): other numbers (`other_numbers`), and between two
    one-line questions other things named (`other_names`), the opposite asked (`other_ask`),
    another kind of answer asked for (`other_kind`) or, of a named thing, a word or two of
    another meaning in the same words (`other_word`). A thread with a body is a post, not a
    one-line question, whatever its title."""
    why = other_script(question, title or text) or other_numbers(question, title or text, similarity)
    if why is None and one_question(question) and one_question(text):
        why = (other_names(question, text, similarity) or other_ask(question, text) or other_kind(question, text)
               or other_word(question, text))
    return why


def _script(text: str) -> str | None:
    """The script most of `text`'s letters are written in where it is not Latin ("CJK", "ARABIC",
    "CYRILLIC", as Unicode names the letters), else None."""
    counts: dict[str, int] = {}
    for c in folded(text):  # full-width Latin letters are Latin ("ＡＢＣ")
        if c.isalpha():
            name = unicodedata.name(c, "")
            script = name.split(" ", 1)[0] if name else "UNKNOWN"
            script = _ONE_WRITING.get(script, script)
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    script, n = max(counts.items(), key=lambda kv: kv[1])
    return None if script == "LATIN" or n * 2 <= sum(counts.values()) else script


# scripts written together: Japanese mixes kanji, hiragana and katakana in one sentence, and no one
# of them alone is most of its letters
_ONE_WRITING = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HALFWIDTH": "CJK", "HANGUL": "CJK", "BOPOMOFO": "CJK"}


def _characters(text: str) -> str:
    """A question's letters and digits alone, compatibility forms folded ("４５" is "45")."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def other_script(question: str, matched: str) -> str | None:
    """Why a matched question may not be `question`, where `question` is written in a script other
    than Latin: the encoder, the re-scorer and the question judge learnt English, and between two
    questions in Chinese, Arabic or Cyrillic they call any two alike ("how do I reset the router?"
    matched "how do I reset my password?" at 0.97). Only the same question, letter for letter
    (punctuation, spacing and case aside), is taken for it."""
    script = _script(question)
    if script is None or _characters(question) == _characters(matched):
        return None
    return (f"the question is written in {script.title().replace('Cjk', 'Chinese, Japanese or Korean')} script, "
            "which the matching models do not read: only the same question, letter for letter, is matched")


def other_names(question: str, matched: str, similarity: float = 0.0) -> str | None:
    """Why a matched one-line question (see `one_question`) is another question: each names a
    thing the other does not ("World War II" asked, "the Cold War" matched). None when only one of
    them names something more ("Who founded Apple?" / "... Apple Inc.?"), or when the encoder
    calls the two nearly the same question (`ONE_THING_TWO_WAYS`: "the US flag" / "the American
    flag"), unless both name numbers and not the same ("Galaxy S24" / "S23", "World War I" / "II",
    "Super Bowl LI" / "LII" are never one thing; "World War 2" / "II" and "PS5" / "PlayStation 5"
    are)."""
    mine, theirs = _other(question), _other(matched)
    asked = [n for n in mine.names if not theirs.covers(n)]
    found = [n for n in theirs.names if not mine.covers(n)]
    if not (asked and found):
        return None
    numbers = _values([w for n in asked for w in n]), _values([w for n in found for w in n])
    if similarity >= ONE_THING_TWO_WAYS and not (all(numbers) and numbers[0] != numbers[1]):
        return None
    return (f"the matched question is about {', '.join(' '.join(n) for n in found)} where the question "
            f"asks about {', '.join(' '.join(n) for n in asked)}")


def _numeral(word: str) -> bool:
    """A number alone, in digits or roman numerals ("2", "II", "LII", the "I" of "World War I"; not
    "PS5", whose number is the name's)."""
    return word.isdigit() or word.isupper() and bool(_ROMAN.match(word.lower()))


# words that ask for the other end of the same order, or the opposite action: "the largest ocean"
# is not "the smallest", "How do I enable the firewall?" is not "... disable the firewall?"
_OPPOSITES = [({"largest", "biggest", "greatest"}, {"smallest", "tiniest"}),
              ({"most"}, {"least", "fewest"}), ({"highest", "tallest"}, {"lowest", "shortest"}),
              ({"longest"}, {"shortest"}), ({"oldest", "earliest", "first"}, {"youngest", "newest", "latest", "last"}),
              ({"hottest", "warmest"}, {"coldest", "coolest"}), ({"fastest", "quickest"}, {"slowest"}),
              ({"richest", "wealthiest"}, {"poorest"}), ({"best"}, {"worst"}), ({"deepest"}, {"shallowest"}),
              ({"heaviest"}, {"lightest"}), ({"widest", "broadest"}, {"narrowest"}),
              ({"closest", "nearest"}, {"farthest", "furthest"}), ({"strongest"}, {"weakest"}),
              ({"cheapest"}, {"dearest"}), ({"brightest"}, {"dimmest", "darkest"}),
              ({"maximum", "max"}, {"minimum", "min"}), ({"enable"}, {"disable"}), ({"lock"}, {"unlock"}),
              ({"upgrade"}, {"downgrade"}), ({"increase"}, {"decrease"}), ({"install"}, {"uninstall"}),
              ({"subscribe"}, {"unsubscribe"}), ({"activate"}, {"deactivate"}), ({"connect"}, {"disconnect"}),
              ({"encrypt"}, {"decrypt"}), ({"import"}, {"export"}), ({"buy"}, {"sell"}),
              ({"donor", "donors"}, {"recipient", "recipients"}), ({"upload"}, {"download"}),
              ({"input"}, {"output"}), ({"login"}, {"logout"}), ({"inbound"}, {"outbound"}),
              ({"incoming"}, {"outgoing"}), ({"north"}, {"south"}), ({"east"}, {"west"}), ({"male"}, {"female"}),
              ({"add"}, {"remove"}), ({"delete"}, {"restore", "undelete", "recover"})]
# opposites that ask another question only in the same words otherwise ("What time does the store
# close?" / "... open?", "When did Einstein die?" / "When was Einstein born?", "the freezing point"
# / "the boiling point"), and not in a yes/no question ("Does Costco close on Sundays?" asks what
# "Is Costco open on Sundays?" asks; "Until when is the Louvre open?" what "What time does the
# Louvre close?" asks)
_FRAME_OPPOSITES = [({"open", "opens"}, {"close", "closes", "closed"}), ({"boiling"}, {"freezing", "melting"}),
                    ({"born", "birth"}, {"die", "died", "death"}), ({"fast", "faster"}, {"slow", "slower"})]
_OPPOSITE_WORDS = frozenset().union(*(a | b for a, b in _OPPOSITES))
# the ends of an order, "the smallest", "the first" (the other opposites are actions or states)
_OPPOSITE_ENDS = frozenset(w for w in _OPPOSITE_WORDS if w.endswith("est")) | frozenset(
    "most least fewest first last worst maximum max minimum min".split())
# superlatives that rank only after these ("the first man", "Earth's last ice age"); elsewhere "at
# least", "most people", "first time", "last week" rank nothing
_RANKS_AFTER = frozenset("the my your our its their his her".split())
_SUPERLATIVE_ONLY_AFTER = frozenset("most least fewest first last best".split())
# these rank the word after them, so only before the same word are they opposites ("the most
# inexpensive" is "the least expensive"); other words are opposites wherever they stand ("the
# biggest ocean" / "which ocean is the smallest")
_MODIFIERS = frozenset("most least fewest".split())
# "can't" is "can not": contractions written out, so a question and its negation differ by "not" alone
_CONTRACTIONS = [(re.compile(r"\b(can)'?t\b|\bcannot\b"), "can not"), (re.compile(r"\bwon'?t\b"), "will not"),
                 (re.compile(r"\bshan'?t\b"), "shall not"),
                 (re.compile(r"\bain'?t\b"), "am not"),
                 (re.compile(r"\b(is|are|was|were|do|does|did|has|have|had|could|would|should|must|need|might|dare"
                             r"|ought)n'?t\b"), r"\1 not")]
_SESSION_IN = re.compile(r"\b(?:log(?:ged)?|sign(?:ed)?)[ -]?in(?:to)?\b|\blog(?:ged)?[ -]?on(?:to)?\b")
_SESSION_OUT = re.compile(r"\b(?:log(?:ged)?|sign(?:ed)?)[ -]?out\b|\blog(?:ged)?[ -]?off\b")
# "Gate No. 5", "the No. 1 song", "#1" are numbers; "no 5 star hotels" is a negation
_NUMBER_SIGN = re.compile(r"\b(?:No\.?|no\.)\s*(?=\d)|#(?=\d)")
# "no" that negates: not after a word that makes it part of a name ("a no smoking policy", "the no-fly list")
_NO_AS_NAME_AFTER = frozenset("a an the any".split())
_AUXILIARIES = frozenset("""is are am was were do does did can could will would shall should may might must need has
    have had dare ought""".split())
_LOWER_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _lower_words(text: str) -> list[str]:
    """Lower-case words, contractions written out, "No. 5" read as "number 5", "log in", "sign in"
    and "log on" (or "logged in") as "login", "log out", "sign out" and "log off" as "logout"."""
    text = _NUMBER_SIGN.sub("number ", text).lower().replace("’", "'")
    for pattern, written in _CONTRACTIONS:
        text = pattern.sub(written, text)
    text = _SESSION_OUT.sub("logout", _SESSION_IN.sub("login", text))
    return _LOWER_WORD.findall(text)


def _opposite_words(words: Sequence[str]) -> set[tuple[str, str]]:
    """The words of `_OPPOSITES` a question asks by, each with the word after it ("" at the end).
    "most", "least", "first", "last" and "best" only after "the" or a possessive (elsewhere they
    rank nothing: "at least", "most people", "best regards")."""
    out = set()
    for i, w in enumerate(words):
        if w not in _OPPOSITE_WORDS:
            continue
        after_the = i > 0 and (words[i - 1] in _RANKS_AFTER or words[i - 1].endswith("'s"))
        if w in _SUPERLATIVE_ONLY_AFTER and not after_the:
            continue
        out.add((w, words[i + 1] if i + 1 < len(words) else ""))
    return out


def _negations(words: Sequence[str]) -> list[int]:
    """Where a question negates: "not", "never", "without", and "no" but in a name ("a no smoking
    policy"). A negative question's opening ("Isn't the museum open on Sundays?") asks what the
    positive one asks, so a "not" right after an auxiliary that opens the question does not count."""
    out = []
    for i, w in enumerate(words):
        if w == "no" and i and words[i - 1] in _NO_AS_NAME_AFTER:
            continue
        if w in ("not", "never", "without", "no") and not (w == "not" and i == 1 and words[0] in _AUXILIARIES):
            out.append(i)
    return out


def other_ask(question: str, matched: str) -> str | None:
    """Why a matched one-line question (see `one_question`) asks the opposite of the new one: the
    other end of the order the question names, or the opposite action ("the smallest ocean" for
    "the biggest ocean", 0.83 alike; "most" and "least" only before the same word: "the most
    inexpensive" is "the least expensive"), or the same question negated ("Which mammal has no vocal cords?"
    for "Which mammal has vocal cords?", 0.95). A negation alone is not enough: "My computer won't
    start" and "My computer is dead" ask the same, so only two questions in the same words but for
    the negation count."""
    asked, found = _lower_words(question), _lower_words(matched)
    a, f = _opposite_words(asked), _opposite_words(found)
    for w, after in sorted(a):
        for one, other in _OPPOSITES:
            if w not in one | other:
                continue
            mine, theirs = (one, other) if w in one else (other, one)
            hit = next((x for x, later in sorted(f) if x in theirs and (later == after or w not in _MODIFIERS
                                                                            and x not in _MODIFIERS)), None)
            # not where either asks both ends ("the largest and the smallest")
            if hit and not any(x in theirs for x, _ in a) and not any(x in mine for x, _ in f):
                if hit in _OPPOSITE_ENDS:
                    return f"the matched question asks for the {hit} where the question asks for the {w}"
                return f"the matched question says {hit!r} where the question says {w!r}"
    if asked and found and asked[0] not in _AUXILIARIES and found[0] not in _AUXILIARIES:  # no yes/no question
        for one, other in _FRAME_OPPOSITES:
            pairs = [(x, y) for x in asked if x in one | other for y in found
                     if y in (other if x in one else one)]
            if len(pairs) == 1 and _frame(asked, pairs[0][0]) == _frame(found, pairs[0][1]):
                return f"the matched question says {pairs[0][1]!r} where the question says {pairs[0][0]!r}"
    turned = _reversed_action(asked, found) or _reversed_action(found, asked, matched=True)
    if turned:
        return turned
    na, nf = _negations(asked), _negations(found)
    if bool(na) != bool(nf):
        # "without" is "with" negated ("Which bone are babies born without?")
        rest_a = ["with" if w == "without" else w for i, w in enumerate(asked) if i not in na or w == "without"]
        rest_f = ["with" if w == "without" else w for i, w in enumerate(found) if i not in nf or w == "without"]
        if rest_a == rest_f:
            return ("the matched question is the question negated" if nf else
                    "the question is the matched question negated")
    return None


# words that end the action named after them ("How do I stop draining a node?" is not "How do I
# drain a node?", 0.88 alike): only before a verb's -ing form ("stop sharing"), as "stop a process",
# "cancel my subscription" or "undo a commit" name no action of the other question to undo
_REVERSING = frozenset("stop cancel quit cease halt".split())


def _verb_bases(word: str) -> set[str]:
    """"draining" / "drained" / "drains" -> {"drain"}, "stopping" -> {"stop"}, "sharing" -> {"shar", "share"}."""
    for end in ("ing", "ed", "es", "s"):
        if word.endswith(end) and len(word) - len(end) >= 3:
            base = word[: -len(end)]
            if len(base) > 3 and base[-1] == base[-2]:
                base = base[:-1]
            return {base, base + "e"}
    return {word}


def _reversed_action(asked: Sequence[str], found: Sequence[str], *, matched: bool = False) -> str | None:
    """How `asked` undoes the action `found` asks about: "stop draining" / "drain", "undrain" / "drain"
    (a reversing word before an -ing form, or "un" before the other question's verb, that the other
    question lacks; not where both reverse something: "stop sharing" / "quit sharing"); `matched`:
    `asked` is the matched question's words, and the line says so."""
    if any(w in _REVERSING for w in found):
        return None
    this, that = ("the matched question", "the question") if matched else ("the question", "the matched question")
    bases = {base: w for w in found if w not in _FUNCTION_WORDS for base in _verb_bases(w)}
    for i, w in enumerate(asked):
        if w in found:
            continue
        nxt = asked[i + 1] if i + 1 < len(asked) else ""
        if w in _REVERSING and nxt.endswith("ing") and (hit := next(
                (bases[b] for b in _verb_bases(nxt) if b in bases), None)) is not None:
            return f"{this} asks to {w} {nxt!r}, {that} to {hit!r}"
        if w.startswith("un") and not w.startswith("under") and len(w) > 5 and (hit := next(
                (bases[b] for b in _verb_bases(w[2:]) | {w[2:]} if b in bases), None)) is not None:
            return f"{that} says {hit!r} where {this} says {w!r}"
    return None


def _frame(words: Sequence[str], word: str) -> list[str]:
    """A question's words but one, without articles and auxiliaries ("When did Einstein die?" and
    "When was Einstein born?" are one frame)."""
    return ["*" if w == word else w for w in words if w not in _SKELETON_DROPS]


class Kind(enum.Enum):
    """The kind of answer a question asks for, where its question word says so."""

    PERSON = "who"
    TIME = "when"
    PLACE = "where"
    AMOUNT = "how many or how much"
    REASON = "why"
    MANNER = "how"


# "what year", "which city": a question word before one of these nouns asks for that kind
_KIND_NOUNS = {**dict.fromkeys("time year date day month century decade era hour season".split(), Kind.TIME),
               **dict.fromkeys("country city place town continent island location".split(), Kind.PLACE)}
# "how many", "how far": a number ("how long", "how often", "how old" are left out: "How long does
# delivery take?" asks what "When will my order arrive?" asks, "How old is ...?" what "When was
# ... built?" asks)
_AMOUNT_AFTER_HOW = frozenset("many much far big tall high deep wide heavy large expensive".split())
# "how many years ago", "how many days until": an amount of time is when, as "how long" is
_TIME_UNITS = frozenset("""time times year years month months week weeks day days hour hours minute minutes
    second seconds century centuries decade decades""".split())
# "Who knows when ...?", "Who can tell me why ...?": asking for help, not for a person
_WHO_HELPS = frozenset("knows know tell explain".split())
# kinds one answer can serve both ways: "Who is the best dentist in Doha?" and "Where is the best
# dentist in Doha?" (a clinic), "Who hosted the 2016 Olympics?" and "Where were they held?" (a
# city); "How did the Titanic sink?" and "Why did it sink?". ("Who do I contact?" and "Where do I
# ask?", the help desk's idiom, ask no kind at all.)
_COMPATIBLE_KINDS = frozenset({frozenset({Kind.PERSON, Kind.PLACE}), frozenset({Kind.MANNER, Kind.REASON})})
# but where a "where" question asks where something happened to someone or was made, the person is
# not the place: "Where was the first female Prime Minister born?" is not "Who was she?", "Where
# were scissors invented?" not "Who invented scissors?", "Where is the iPhone made?" not "Who
# makes the iPhone?"
_PLACE_OF_EVENT = frozenset("""born raised grew educated studied died buried invented founded established discovered
    created built made manufactured produced designed written painted recorded filmed published signed""".split())
# "Where can I find ...", "Who do I call ...", "When should I ...": a help desk's idiom asks for
# whatever gets it done, not for a place, a person or a time
_ASKS_HOW = frozenset("can could do does should would may might will shall must".split())
_ASKED_BY = frozenset("i we you one".split())
_QUESTION_WORDS = frozenset("who whom whose when where why how what which".split())
# a question word after these asks ("In what year ...?", "... since when?"); after a noun it
# opens a relative clause ("the scientist who discovered penicillin")
_ASKING_AFTER = frozenset("in on at from to for by of since until till with about during after before".split())


def _asking_words(text: str) -> list[str]:
    """A question's words, lower-case, commas kept, a question word's "'s" and "'re" written out
    ("Where's" is "where is"); a capitalised word past the first but "I" is a name's, blanked ("I
    Know Why the Caged Bird Sings" asks nothing)."""
    out = []
    for i, t in enumerate(re.findall(r",|[^\W_]+(?:['’][^\W_]+)*", unicodedata.normalize("NFC", text))):
        if i and t != "I" and t[:1].isupper():
            out.append("")
            continue
        word, _, tail = t.lower().replace("’", "'").partition("'")
        out += [word, {"s": "is", "re": "are"}[tail]] if tail in ("s", "re") and word in _QUESTION_WORDS else [word]
    return out


@lru_cache(maxsize=256)  # the new question's, against each candidate
def _question_kind(text: str) -> Kind | None:
    """The kind of the main question, by its first question word that asks: one opening the
    question or a clause (after a comma or a preposition: "In what year ...?") or ending it ("...
    born where?"), not one opening a relative clause ("the scientist who discovered ..."), nor a
    "when" or "where" before a subject rather than a verb ("When John Fox left, who replaced
    him?" asks who; "When I log in, where do I click?" where). None for "what", "which" and "how"
    before other words, for a help desk's "Where can I ...", and for a question asking two kinds
    ("When was it signed, and where?")."""
    words = _asking_words(text)
    n = len(words)
    for i, w in enumerate(words):
        if w not in _QUESTION_WORDS:
            continue
        nxt = words[i + 1] if i + 1 < n else ""
        if not (i == 0 or words[i - 1] == "," or words[i - 1] in _ASKING_AFTER or i == n - 1):
            continue
        if w in ("when", "where") and not (nxt in _AUXILIARIES or nxt == "," or i == n - 1):
            continue  # a subordinate clause: "When I try ...", "When John Fox left ..."
        if w == "who" and _WHO_HELPS.intersection(words[i + 1:i + 4]):
            continue  # "Who knows when ...?": the question is the next one
        kind = _kind(w, nxt, words[i + 2] if i + 2 < n else "")
        if kind is None or nxt in _ASKS_HOW and i + 2 < n and words[i + 2] in _ASKED_BY:
            return None
        rest = words[i + 1:]
        if any(c in rest for c in ("and", "or")) and any(q in _QUESTION_WORDS for q in rest):
            return None  # "when and where", "When was it signed, and where?"
        return kind
    return None


def _kind(w: str, nxt: str, after: str) -> Kind | None:
    """The kind a question word asks for, with the two words after it ("how many", "what year";
    "how many days" and "what time zone" none)."""
    if w in ("who", "whom", "whose"):
        return Kind.PERSON
    if w == "when":
        return Kind.TIME
    if w == "where":
        return Kind.PLACE
    if w == "why" or w == "how" and nxt == "come":
        return Kind.REASON
    if w == "how":
        if nxt in _AMOUNT_AFTER_HOW:
            return Kind.AMOUNT if after not in _TIME_UNITS else None
        # "How was Skyloft founded?" asks the way, not "When ...?" ("how long", "how old" stay untyped)
        return Kind.MANNER if nxt in _AUXILIARIES else None
    return None if after == "zone" else _KIND_NOUNS.get(nxt)  # "what", "which"


def other_kind(question: str, matched: str) -> str | None:
    """Why a matched one-line question asks for another kind of answer: "Where was Einstein
    born?" is not "When was Einstein born?" (0.97 as the re-scorer saw it), "When was Hamlet
    written?" not "Who wrote Hamlet?", "Where was Thatcher born?" not "Who was the first female
    Prime Minister?". Only where both question words say the kind (see `_question_kind`), and not
    kinds one answer can serve (`_COMPATIBLE_KINDS`: a clinic is who and where) unless the "where"
    asks where something happened or was made (`_PLACE_OF_EVENT`)."""
    a, b = _question_kind(question), _question_kind(matched)
    if a is None or b is None or a is b:
        return None
    place = question if a is Kind.PLACE else matched if b is Kind.PLACE else ""
    if frozenset({a, b}) in _COMPATIBLE_KINDS and not _PLACE_OF_EVENT.intersection(_lower_words(place)):
        return None
    return f"the question asks {a.value}, the matched question {b.value}"


# words a question may drop or change without asking anything else: articles and auxiliaries ("What
# is the height of Mount Everest?" / "What was the height of Mount Everest?" differ in nothing)
_SKELETON_DROPS = frozenset("a an the be been being".split()) | _AUXILIARIES
# words whose swap is left to the other checks or to nobody: question words (`other_kind`),
# pronouns, prepositions, conjunctions, negations (`other_ask`), quantifiers
_FUNCTION_WORDS = frozenset("""what whats who whom whose when where which why how i me my mine we us our you
    your yours he him his she her hers it its they them their theirs this that these those there here some
    any each every all both either neither other another of in on at for to from by with without about into
    onto over under between among through during before after since until than as and or but so if then also just only
    not no never much many more few lot please one ones""".split())


# words before a noun phrase ("the population", "Australia's capital", "how many stars")
_DETERMINERS = frozenset("""the a an my your his her its our their this that these those many much few several
    some any""".split())


@lru_cache(maxsize=256)  # the new question's, against each candidate
def _skeleton(text: str) -> tuple[tuple[str, bool, bool], ...]:
    """A one-line question's words in order, lower-case, without articles and auxiliaries, each
    with whether it is a content word (not a function word, nor a name: a capitalised word past
    the first, or a first one opening a name, which `other_names` compares; nor a number) and
    whether it opens a noun phrase (after a determiner or a possessive)."""
    tokens = _tokens(_NUMBER_SIGN.sub("number ", text).replace("’", "'"))
    out = []
    for i, token in enumerate(tokens):
        word = re.sub(r"'s$", "", token.lower().rstrip("."))
        if word in _SKELETON_DROPS:
            continue
        before = tokens[i - 1].lower() if i else ""
        name = token[:1].isupper() and (i > 0 or _next_capital(tokens, 0))
        out.append((word, word.isalpha() and not name and word not in _FUNCTION_WORDS,
                    before in _DETERMINERS or before.endswith("'s")))
    return tuple(out)


MAX_SWAPPED = 2  # "stars" for "red stripes"; more words swapped say more than one word of another meaning


def other_word(question: str, matched: str) -> str | None:
    """Why a matched one-line question about a named thing, in the same words as the new one but a
    noun, asks something else: WordNet links no meaning of the two nouns ("What is the population of
    Australia?" / "... the capital of Australia?", 0.77 as the re-scorer saw it; "the weight of
    Mount Everest" / "the height", 0.93; up to two words for up to two, none linked to another: "How
    many stars ...?" / "How many red stripes ...?", 0.87). Asked of a named thing, another noun is
    mostly another attribute of it; a verb or an adjective is as often another way of saying it
    ("Who founded Apple?" / "Who started Apple?"). Where nothing is named ("How do I contact
    customer service?" / "... support?", "What are the symptoms of diabetes?" / "... signs ...") a
    help desk's paraphrases use words WordNet does not link, and the match is left alone. So is it
    where the words are linked ("the cost" / "the price", "tall" / "height"), where WordNet knows
    either word not, and where the questions differ in more than that ("How many people live in
    Tokyo?" / "How many inhabitants does Tokyo have?", "Where does he come from?" / "What is his
    nation?")."""
    if not (_other(question).names or _other(matched).names):
        return None
    asked, found = _skeleton(question), _skeleton(matched)
    ops = [op for op in difflib.SequenceMatcher(None, [w for w, _, _ in asked], [w for w, _, _ in found],
                                                autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    mine, theirs = asked[i1:i2], found[j1:j2]
    if len(mine) > MAX_SWAPPED or len(theirs) > MAX_SWAPPED or not all(c for _, c, _ in mine + theirs):
        return None
    if not (mine[0][2] and theirs[0][2]):
        return None  # a verb or an adjective
    if i2 < len(asked) and asked[i2][1] or j2 < len(found) and found[j2][1] or not (
            is_noun(mine[-1][0]) and is_noun(theirs[-1][0])):
        return None  # not the head noun: "the zip code" / "the postal code"
    if any(one_meaning(a, b) is not False for a, _, _ in mine for b, _, _ in theirs):
        return None
    return (f"the matched question asks about {' '.join(w for w, _, _ in theirs)!r} where the question asks "
            f"about {' '.join(w for w, _, _ in mine)!r}")
