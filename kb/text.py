"""Question text helpers: normalisation, tokens, and the segments that map to relation hops."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or is are was were be been do does did what which
    who whom whose where when how me us we our you your it its this that these those there give list
    tell show please s as any all some i my has have had can could would should will""".split()
)
# "how many", "how much": the question's frame, never a misspelt name ("many" is one edit from the
# Isle of Man); "Much" and "Many" alone are still places a question may name
QUANTITY_WORDS = frozenset({"many", "much"})
# "over 5000000", "under 1000", "taller than 8000": a comparison's words, never a misspelt name
# ("over" is one edit from Tver, "than" from Thane); "Over the Rainbow" still links exactly
COMPARING_WORDS = frozenset({"over", "under", "above", "below", "exceeding", "between", "after", "before", "since"})
# "after the year 1900": a point in time compared, with the words that may stand before its number
TIME_COMPARING = frozenset({"after", "before", "since"})
_THE_YEAR = ("the", "year")
_BEFORE_COMPARED = frozenset({"than", "least", "most", "exactly"})  # "more than 5", "at least 3"
# the word before "than" ("more" is one edit from Moro, "less" from Lesa): "Less Than Zero" still links exactly
_BEFORE_THAN = frozenset({"more", "less", "fewer", "greater", "higher", "lower", "larger", "smaller", "bigger",
                          "older", "younger", "earlier", "later", "longer", "shorter", "taller", "rather"})


def frame_word(words: list[str], i: int) -> bool:
    """Whether `words[i]` is the question's frame rather than a piece of a name: the "many" /
    "much" of "how many" / "how much", "than" and the "more" before it, or a comparing word before
    a number (with the "the year" of "after the year 1900")."""
    w = words[i]
    if w in QUANTITY_WORDS:
        return i > 0 and words[i - 1] == "how"
    if w == "than" or (w in _BEFORE_THAN and i + 1 < len(words) and words[i + 1] == "than"):
        return True
    if w in COMPARING_WORDS:
        j = i + 1
        if w in TIME_COMPARING:  # "after the year 1900"
            j += 2 if tuple(words[j:j + 2]) == _THE_YEAR else int(words[j:j + 1] == ["year"])
        return j < len(words) and words[j][:1].isdigit()
    if w in _THE_YEAR:  # the "the year" of "after the year 1900" ("year" was read as the currency YER)
        k = i - 1 - (w == "year" and i >= 2 and words[i - 1] == "the")
        return k >= 0 and words[k] in TIME_COMPARING and frame_word(words, k)
    return False


def compared_number(words: list[str], i: int) -> bool:
    """Whether `words[i]` is the number of a comparison ("over 1000", "more than 5", "at least 3",
    "between 1000 and 2000", "after the year 1900"), which is no piece of a name ("1000 Islands");
    a number elsewhere may be one ("who wrote 1984": the novel)."""
    if i == 0 or not words[i][:1].isdigit():
        return False
    prev = words[i - 1]
    return (frame_word(words, i - 1) or prev in _BEFORE_COMPARED
            or (prev == "and" and i >= 3 and words[i - 3] == "between"))


def fuzzy_blocked(words: list[str], start: int, end: int) -> bool:
    """Whether the words from `start` to `end` may not be read as a misspelt name: one of them is
    the question's frame (`frame_word`), except "than" and the word before it inside a longer span
    ("Beter Than Ezra" and "Less Than Zer" are misspelt names; "than" alone is not "Thane", nor
    "more" alone Moro)."""
    def inside(j: int) -> bool:
        return end - start > 1 and (words[j] == "than" or (words[j] in _BEFORE_THAN and j + 1 < end))

    return any(frame_word(words, j) and not inside(j) for j in range(start, end))


# words that negate what follows ("don't" is normalised "don t"): never a piece of a name to link
NEGATIONS = frozenset({"not", "never", "no", "none", "nobody", "nothing", "neither", "nor", "without"})
YES_NO_STARTS = frozenset("is are was were do does did has have had can could".split())
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, accents stripped, underscores and punctuation as spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _PUNCT.sub(" ", text.lower())
    return " ".join(text.split())


def cased_tokens(text: str) -> list[str]:
    """The tokens of `normalise(text)` with their case kept (same count, same positions)."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _PUNCT.sub(" ", text).split()


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def content(words: list[str]) -> list[str]:
    return [w for w in words if w not in STOPWORDS]


def segments(words: list[str], start: int, end: int) -> list[list[str]]:
    """Split a question around the entity at words[start:end] into relation phrases, nearest first.

    "the nationality of E 's couple" -> [["couple"], ["the", "nationality"]]: phrases after the
    entity are chained by the possessive (`'s` becomes the token "s"), phrases before it by "of".
    """
    after: list[list[str]] = [[]]
    for w in words[end:]:
        if w == "s":
            after.append([])
        else:
            after[-1].append(w)
    before: list[list[str]] = [[]]
    for w in reversed(words[:start]):
        if w == "of":
            before.append([])
        else:
            before[-1].insert(0, w)
    segs = [s for s in after if content(s)] + [s for s in before if content(s)]
    return segs


WH_WORDS = frozenset("where when how who whom why".split())


def split_possessed(words: list[str], start: int, end: int) -> list[list[str]] | None:
    """The other reading of "where did X 's daughter die": the possessed noun ("daughter") is one
    relation and what follows it ("die", with the question word "where") another. None when the
    question has no possessive followed by more than one word."""
    segs = segments(words, start, end)
    after: list[list[str]] = [[]]
    for w in words[end:]:
        if w == "s":
            after.append([])
        else:
            after[-1].append(w)
    if len(after) < 2:
        return None
    last = after[-1]
    heads = [i for i, w in enumerate(last) if w not in STOPWORDS]
    if not heads or heads[0] == len(last) - 1:
        return None
    head = last[: heads[0] + 1]
    tail = [w for w in words[:start] if w in WH_WORDS] + last[heads[0] + 1:]
    n_after = sum(1 for s in after if content(s))
    return segs[: n_after - 1] + [head, tail] + segs[n_after:]
