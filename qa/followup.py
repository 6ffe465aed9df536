"""Follow-up questions rewritten into standalone ones, without a language model.

A chat user asks "Who wrote Hamlet?", then "When did he die?"; the retrievers and the router see
one question at a time, and "When did he die?" alone finds any death date. So before routing, a
question that refers back is rewritten with the entity it refers to, taken from the earlier turns:

* a pronoun (he, she, it, they, him, his, its, their, there) becomes the entity: "When did he
  die?" -> "When did William Shakespeare die?", "What is its area?" -> "What is France's area?";
* an ellipsis ("What about its population?", "And the capital?", "How about Germany?") borrows
  the previous question: "And the capital?" after "What is the population of France?" -> "What
  is the capital of France?", "And Germany?" -> "What is the population of Germany?".

The entity is the previous question's subject (a possessor, a proper-noun phrase, "the X of Y"'s
Y, or the noun phrase after the verb), or, for he/she after a "Who ...?" question and "there"
after a "Where ...?" question, its answer when that is a name; "there" otherwise takes a name
after a preposition of place ("move to Vienna"). "he" / "she" never takes a thing ("the Eiffel
Tower", "oxygen": an earlier turn's person instead, or none) unless its head names a person ("the
pope"); "they" takes a plural name and "it" a singular one over a subject that does not agree
("What share of Armenians live in Russia?" -> "How many of them ...?" means the Armenians).
Earlier turns are resolved first, so a chain of follow-ups keeps its subject.

A question that does not refer back, or whose pronoun has its own antecedent in the question
("What did Tesla say about his work?"), is returned exactly as typed: rules that cannot tell are
written to leave the question alone, because a wrong rewrite costs more than a missed one. Why
rules and not a model: they cost microseconds, never invent words, and their output is shown to
the user, who can retype the question when the rewrite is wrong.

`history` is the conversation so far, oldest first, alternating question and answer
(q1, a1, q2, a2, ...); an answer may be "" (no answer) and the last answer may be missing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

WH = {"what", "when", "where", "who", "whom", "whose", "which", "why", "how"}
AUX = {"is", "was", "are", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will",
       "would", "should", "may", "might", "must", "shall", "be", "been", "being", "'s",
       # "couldn't" is tokenised "couldn" "'" "t"
       "isn", "wasn", "aren", "weren", "don", "doesn", "didn", "hasn", "haven", "hadn", "couldn", "wouldn",
       "shouldn", "won", "can't", "cannot"}
PREPS = {"in", "on", "at", "to", "from", "of", "for", "with", "by", "about", "during", "after", "before", "into",
         "over", "under", "between", "since", "until", "within", "without", "through", "against", "among", "per",
         "as", "than", "near", "across", "around", "behind", "beyond", "toward", "towards", "upon", "via"}
DETERMINERS = {"the", "a", "an", "this", "that", "these", "those"}
# what "What about X?" can hold that is no noun phrase of its own
STANDALONE_PRONOUNS = {"i", "me", "you", "we", "us", "it", "them", "him", "her", "he", "she", "they", "this",
                       "that", "these", "those", "one", "mine", "yours", "ours"}
# Lower-case words allowed inside a proper-noun phrase when a capitalised word follows them.
CONNECTORS = {"of", "the", "and", "upon", "de", "la", "le", "von", "van", "der", "du", "del", "da", "on", "for", "&"}
# Words that open a sentence in capitals before the noun they qualify: "Early ... Baptists", "Western it".
OPENERS = {"only", "early", "late", "more", "most", "some", "many", "several", "each", "every", "all", "both",
           "few", "southern", "northern", "western", "eastern", "central", "general", "current", "modern",
           "ancient", "medieval", "recent", "new", "old", "up", "based", "aside", "apart", "prior", "due", "since",
           "there", "large", "small", "major", "minor"}
# Words that open a sentence in capitals without being a name.
STARTERS = WH | AUX | DETERMINERS | PREPS | {
    "and", "but", "so", "also", "name", "give", "list", "tell", "describe", "explain", "identify", "define",
    "compare", "state", "find", "approximately", "roughly", "besides", "other",
    "along", "what's", "who's", "according", "if", "while", "i", "despite", "although", "though", "unlike", "like",
    "whereas"}
# "it" that refers to nothing: "How long does it take", "it rains", "is it true that".
# "What time is it?", "What day is it today?": "it" is the moment, not something said before.
TIME_WORDS = {"time", "day", "date", "year", "month", "season", "hour", "weather"}
EXPLETIVE_AFTER_IT = {"take", "takes", "took", "taken", "taking", "rain", "rains", "rained", "raining", "snow", "snows",
                      "snowing", "seem",
                      "seems", "seemed", "appear", "appears", "appeared", "matter", "matters", "mattered"}
# Words after a name that show it is not an adjective ("New Haven according to", "Tesla when").
NOT_NOUNS = {"and", "or", "but", "that", "who", "whom", "whose", "which", "according", "because", "if", "while",
             "although", "though", "once", "first", "also", "still", "only", "ever", "never", "always", "today",
             "now", "then", "later", "mostly", "usually", "originally", "officially", "eventually", "actually"}
MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
# Passive participles that end a "When was X built?" question rather than belong to X.
PARTICIPLES = {"built", "born", "made", "found", "known", "called", "written", "held", "won", "lost", "led", "taken",
               "given", "seen", "begun", "done", "sold", "bought", "set", "put", "run", "shown", "grown", "thought",
               "brought", "taught", "told", "paid", "meant", "kept", "left", "named", "used", "based", "located",
               "spoken", "chosen", "driven", "eaten", "fallen", "forgotten", "frozen", "hidden", "ridden", "risen",
               "stolen", "worn", "broken", "drawn", "thrown", "flown", "sung", "struck", "fought", "caught", "sent",
               "spent", "heard", "said", "read", "sworn", "torn", "woven", "beaten", "bitten", "blown"}
# What ends a clause: a pronoun after one of these may mean a name before it ("When Hitler took power,
# what did he call himself?").
CLAUSE_BREAKS = {"and", "or", "but", "that", "which", "who", "whom", "whose", "when", "while", "if", "because",
                 "although", "though", "where", "before", "after", "since", "until", "unless", "once", "whereas",
                 ",", ";"}
# Endings of singular words and names that end in s.
SINGULAR_ENDINGS = ("ss", "us", "is", "as", "os", "ics", "sis", "ness", "ous", "'s")
# Nouns that name a person after "the" ("the pope", "the first president of France"): "he" may mean them.
PERSON_NOUNS = {"king", "queen", "pope", "president", "emperor", "empress", "prince", "princess", "pharaoh", "sultan",
                "tsar", "czar", "kaiser", "duke", "duchess", "lord", "lady", "bishop", "archbishop", "cardinal",
                "prophet", "lama", "chancellor", "minister", "governor", "mayor", "general", "admiral", "captain",
                "author", "writer", "poet", "painter", "composer", "inventor", "founder", "architect", "director",
                "singer", "actor", "actress", "player", "coach", "leader", "ruler", "chief", "ceo", "man", "woman",
                "boy", "girl", "father", "mother", "son", "daughter", "brother", "sister", "husband", "wife",
                "saint", "apostle", "messiah", "doctor", "professor", "scientist", "explorer", "senator", "judge",
                "monarch", "dictator", "premier", "khan", "caliph", "shah", "emir", "rabbi", "priest", "monk",
                "samurai", "knight", "soldier", "warrior", "graduate", "student", "teacher", "officer", "artist",
                "musician", "person", "child", "guy"}
EXPLETIVE_BE_ADJ = {"true", "possible", "likely", "necessary", "important", "okay", "ok", "legal", "safe",
                    "better", "worth", "easy", "hard", "difficult", "common", "normal", "unusual", "illegal"}

_TOKEN = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:[-.][A-Za-z0-9\u00C0-\u024F]+)*|['’]s\b|[^\sA-Za-z0-9]")
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and|but|so|ok|okay|also|then)[,\s]+)?(?:what|how)\s+about\s+(?P<np>.+?)\s*[?.!]*\s*$"
    r"|^\s*(?:and|also)[,\s]+(?P<np2>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# "What is the X of Y?" asks about Y when Y is a name, with the noun it may qualify
_ASKED_OF = re.compile(r"^\s*(?i:what|which|who)\s+(?i:is|was|are|were)\s+the\s+[^?,]+?\s+(?:of|for)\s+"
                       r"(?P<y>(?:the\s+)?[A-Z][\w.\-]*(?:\s+(?:of|and|the|de|[A-Z0-9][\w.\-]*))*(?:\s+[a-z]+)?)\s*\?\s*$")
_LEADING_AND = re.compile(r"^\s*(?:and|but|so|also|then|ok|okay)[,\s]+(?=\w)", re.IGNORECASE)
# a capitalised word, a number, or a name with a capital inside ("iPod", "eBay")
_CAP_WORD = re.compile(r"^(?:[A-Z\u00C0-\u00DE][\w.\-’']*|[0-9][\w.\-]*|[a-z][a-z]?[A-Z][\w.\-’']*)$")
_INITIALS = re.compile(r"^[A-Z](?:\.[A-Z])*$")  # "C", "J.K" (of "J.K. Rowling")


class Referent(StrEnum):
    """What kind of thing a pronoun points at: a person (he, she), a thing (it), a group (they), a place."""

    PERSON = "person"
    THING = "thing"
    GROUP = "group"
    PLACE = "place"


class Form(StrEnum):
    SUBJECT = "subject"
    OBJECT = "object"
    POSSESSIVE = "possessive"
    LOCATIVE = "locative"


PRONOUNS: dict[str, tuple[Referent, Form]] = {
    "he": (Referent.PERSON, Form.SUBJECT), "she": (Referent.PERSON, Form.SUBJECT),
    "him": (Referent.PERSON, Form.OBJECT), "his": (Referent.PERSON, Form.POSSESSIVE),
    "hers": (Referent.PERSON, Form.OBJECT), "her": (Referent.PERSON, Form.POSSESSIVE),
    "it": (Referent.THING, Form.SUBJECT), "its": (Referent.THING, Form.POSSESSIVE),
    "they": (Referent.GROUP, Form.SUBJECT), "them": (Referent.GROUP, Form.OBJECT),
    "their": (Referent.GROUP, Form.POSSESSIVE), "theirs": (Referent.GROUP, Form.OBJECT),
    "there": (Referent.PLACE, Form.LOCATIVE),
}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower().replace("’", "'")


@dataclass(frozen=True)
class Rewrite:
    """The question as it will be answered; `entity` is what a reference was resolved to ("" when
    the question was left as typed), `reason` says which rule fired, for display and tests, and
    `previous` is the earlier turn the follow-up continues: its question (itself made standalone)
    and its answer, for passage search to add to the query; "" when the follow-up moves on. It is
    also set for a question left as typed whose pronoun points back at something no rule can name
    ("How old was Chopin when he moved to it?"): its words still find the passage with that help."""

    text: str
    entity: str = ""
    reason: str = ""
    previous: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.entity)


def tokens(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_cap(tok: Token) -> bool:
    return bool(_CAP_WORD.match(tok.text)) and tok.low not in {"i"}


def turns(history: Sequence[str]) -> list[tuple[str, str]]:
    """(question, answer) pairs from the flat alternating history, oldest first."""
    items = [h if isinstance(h, str) else "" for h in history]
    return [(items[i], items[i + 1] if i + 1 < len(items) else "") for i in range(0, len(items), 2)]


# ---------------------------------------------------------------------------------------------- subjects
def proper_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of proper-noun phrases: runs of capitalised words (and numbers after one),
    joined by lower-case connectors ("University of Chicago", "Newcastle upon Tyne")."""
    toks = tokens(text)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        first = i == 0 or toks[i - 1].text in {'"', "“", "(", ":"}
        if not _is_cap(t) or t.text[0].isdigit() or (first and t.low in STARTERS) or t.low in MONTHS:
            i += 1
            continue
        j = i + 1
        while j < len(toks):
            nxt = toks[j]
            if _is_cap(nxt) and nxt.start - toks[j - 1].end <= 1:
                j += 1
                continue
            if nxt.text == "." and _INITIALS.match(toks[j - 1].text) and nxt.start == toks[j - 1].end \
                    and j + 1 < len(toks) and _is_cap(toks[j + 1]) and toks[j + 1].start - nxt.end <= 1:
                j += 2  # "C. S. Lewis", "George H. W. Bush": an initial's full stop is inside the name
                continue
            joins = nxt.low in CONNECTORS or nxt.low == "'s" and nxt.start == toks[j - 1].end  # "Jehovah's Witnesses"
            if joins and j + 1 < len(toks) and _is_cap(toks[j + 1]) and not toks[j + 1].text[0].isdigit() \
                    and toks[j + 1].low not in MONTHS:
                j += 2
                continue
            break
        if first and j == i + 1 and _opener(t, toks[j] if j < len(toks) else None):
            i = j
            continue
        spans.append((t.start, toks[j - 1].end))
        i = j
    return spans


def _opener(word: Token, nxt: Token | None) -> bool:
    """A capitalised first word that opens the sentence rather than names something: "Originally,
    how many clubs ...", "Aside from X, ...", "Early seventeenth-century Baptists ..."."""
    if word.low in OPENERS or (word.low.endswith("ly") and len(word.low) > 4):
        return True
    return nxt is not None and nxt.low in {"from", "on", "to", "til", "till", "upon"}


def _strip_det(phrase: str) -> str:
    words = phrase.split()
    while words and words[0].lower() in DETERMINERS | {"its", "his", "her", "their"}:
        words = words[1:]
    return " ".join(words)


def subject(question: str) -> str:
    """The entity a question is about, or "" when none stands out.

    Order of trust: a name Y in "What is the X of Y?", then a name in subject position, then a
    possessor ("Tesla's father"), then the longest proper-noun phrase (ties to the earliest), then
    "the X of Y" at the end (Y), then the noun phrase after a copula or an auxiliary ("What is
    oxygen?", "When was the steam engine invented?").
    """
    toks = tokens(question)
    if not toks:
        return ""
    spans = proper_spans(question)
    asked_of = _ASKED_OF.match(question)
    if asked_of and any(s >= asked_of.start("y") for s, _ in spans) and not re.search(r"['’]s\b", asked_of["y"]):
        return asked_of.group("y")  # "What is the Chinese name for the Yuan dynasty?": the Yuan dynasty
    if spans:
        s, e = max(spans, key=lambda se: _name_rank(toks, *se))
        if _in_subject_position(toks, s):  # "What did Luther believe about God's ..."
            return _with_article(question, toks, s, e)
    # a possessor
    for k, t in enumerate(toks):
        if t.low == "'s" and k > 0:
            prev = toks[k - 1]
            for s, e in spans:
                if e == prev.end:
                    return question[s:e]
            if prev.low not in STARTERS and prev.low not in PRONOUNS and prev.text.isalpha():
                before = toks[k - 2] if k >= 2 else None
                if toks[0].low in {"what", "which", "whose"} and k <= 4 and \
                        all(t.text.islower() and t.low not in AUX | DETERMINERS for t in toks[1:k]):
                    continue  # "What ruler's death ...?", "Which film writer's work ...?": what is asked for
                if before is not None and before.low not in STARTERS and before.low not in PRONOUNS \
                        and before.text.isalpha() and before.low not in WH:
                    return question[before.start:prev.end]
                return prev.text
    if spans:
        s, e = max(spans, key=lambda se: _name_rank(toks, *se))
        if not _name_rank(toks, s, e)[0]:  # "Greek mythology"; "the name of the dog" names the subject
            common = _of_the_noun(toks)
            if common:
                return common
        return _with_article(question, toks, s, e)
    words = [t for t in toks if t.text not in {"?", ".", "!", ","}]
    while len(words) > 2 and _participle(words[-1].low):
        words = words[:-1]
    lows = [t.low for t in words]
    # "... the X of Y?" -> Y
    if "of" in lows:
        k = len(lows) - 1 - lows[::-1].index("of")
        tail = words[k + 1:]
        if 0 < len(tail) <= 4 and all(t.low not in AUX | WH | PREPS for t in tail):
            return _strip_det(question[tail[0].start:tail[-1].end])
    # "What is X?" / "When was X invented?" / "How does X work?"
    for k, t in enumerate(words[:3]):
        if t.low in AUX and k + 1 < len(words):
            np: list[Token] = []
            for w in words[k + 1:]:
                if w.low in PREPS | AUX | WH | set(PRONOUNS) or np and (w.low in DETERMINERS or _participle(w.low)):
                    break  # a preposition, another verb or the object's determiner ends the noun phrase
                np.append(w)
            cut = len(np) > 1 and t.low not in {"is", "are", "was", "were"}
            if cut:
                np = np[:-1]  # "did Tesla die", "does the engine use (the ...)": the last word is the verb
            if np and _participle(np[0].low):  # "What molecules are recognized by the immune system?"
                return _agent(question, words)
            if not np:
                return ""
            phrase = _strip_det(question[np[0].start:np[-1].end])
            if cut and t.low not in {"do", "does", "did"} and re.fullmatch(r"(?i)(?:\w+est|most|least|best|worst)",
                                                                           phrase):
                # "Which country has the largest population?": cut before its noun, "the largest" is no
                # subject, and the answer is what the question is about ("the contest" stays one)
                return ""
            if phrase and len(phrase.split()) <= 4:
                return ("the " if np[0].low == "the" else "") + phrase  # "the tallest mountain"
            return ""
    return ""


def _agent(question: str, words: list[Token]) -> str:
    """The noun phrase after the last "by" at the end of a passive question, or ""."""
    lows = [t.low for t in words]
    if "by" not in lows:
        return ""
    tail = words[len(lows) - lows[::-1].index("by"):]
    if 0 < len(tail) <= 4 and all(t.low not in AUX | WH | PREPS for t in tail):
        return question[tail[0].start:tail[-1].end]
    return ""


def _with_article(question: str, toks: list[Token], s: int, e: int) -> str:
    """The name at [s, e) with its "the" ("the Black Death") and the common nouns that end its phrase
    ("the Apollo program", "did the Amazon rainforest reach", "Who applies European Union law?")."""
    k = next(i for i, t in enumerate(toks) if t.start == s)
    j = next(i for i, t in enumerate(toks) if t.end == e) + 1
    article = k > 1 and toks[k - 1].low == "the"  # "the Black Death", not "Black Death"
    # "of / applies European Union law": a name of two words or more with the noun it names
    governed = j > k + 1 and k > 0 and (toks[k - 1].low in PREPS or _lower_word(toks[k - 1]))
    verb_last = any(t.low in {"do", "does", "did"} for t in toks[:k])  # "does the X employ?"
    for n in ((1, 2) if article and j == k + 1 else (1,) if article or governed else ()):
        tail = toks[j:j + n]
        after = toks[j + n] if j + n < len(toks) else None
        nouns = all(_lower_word(t) and not _participle(t.low) for t in tail)
        if len(tail) < n or not nouns:
            continue
        if verb_last:  # the last word is the verb: "did the Amazon rainforest reach from ...?"
            if not (article and n == 1 and after is not None and _lower_word(after) and _clause_end(toks, j + 2)):
                continue
        elif not (_clause_end(toks, j + n) if article else after is None or not after.text[0].isalnum()):
            continue
        e = tail[-1].end
        break
    return ("the " if article else "") + question[s:e]


def _lower_word(t: Token) -> bool:
    return t.text.isalpha() and t.text.islower() and t.low not in PREPS | AUX | WH | DETERMINERS


def _clause_end(toks: list[Token], i: int) -> bool:
    """Token `i` ends a noun phrase: the end, punctuation, a preposition or a verb."""
    return i >= len(toks) or not toks[i].text[0].isalnum() or toks[i].low in PREPS | AUX or _participle(toks[i].low)


def _name_rank(toks: list[Token], s: int, e: int) -> tuple[bool, bool, int, int]:
    """Which name a question is about: one that is not an adjective ("Greek mythology"), then the
    grammatical subject ("Dogs were ...", "When did Tesla ...", "does the Warsaw University ..."),
    then the longest name, then the earliest."""
    return (not _adjective(toks, s, e), _in_subject_position(toks, s), e - s, -s)


def _adjective(toks: list[Token], start: int, end: int) -> bool:
    """A name used as an adjective ("in Greek mythology"), not a subject before its verb ("did the
    Black Death reach")."""
    return _modifier(toks, end) and not _in_subject_position(toks, start)


def _modifier(toks: list[Token], end: int) -> bool:
    """A name used as an adjective: followed by a lower-case content word ("Greek mythology"); a
    plural is a noun ("Armenians live")."""
    k = next((i for i, t in enumerate(toks) if t.end == end), -1)
    if k >= 0 and _plural(toks[k].text):
        return False
    nxt = toks[k + 1] if 0 <= k < len(toks) - 1 else None
    return nxt is not None and nxt.text.isalpha() and nxt.text.islower() and not nxt.low.endswith(("ing", "ed")) \
        and nxt.low not in PREPS | AUX | WH | DETERMINERS | NOT_NOUNS and not _participle(nxt.low)


def _of_the_noun(toks: list[Token]) -> str:
    """"the dog" in "... of the dog with ...": a lower-case noun after "of the" that ends its phrase."""
    for k in range(len(toks) - 3):
        a, b, c, d = toks[k:k + 4]
        if a.low == "of" and b.low == "the" and c.text.isalpha() and c.text.islower() and \
                c.low not in PREPS | AUX | WH and (not d.text[0].isalnum() or d.low in PREPS | AUX):
            return f"the {c.text}"
    return ""


def _in_subject_position(toks: list[Token], start: int) -> bool:
    k = next((i for i, t in enumerate(toks) if t.start == start), -1)
    if k == 0:
        return True
    if k > 0 and toks[k - 1].low == "the":
        k -= 1
    # "When did Tesla ...", and after a fronted phrase "According to tradition, where did Virgil ..."
    return 0 < k and toks[k - 1].low in AUX and (k <= 5 or any(t.low in WH for t in toks[max(0, k - 4):k - 1]))


def _participle(word: str) -> bool:
    return word in PARTICIPLES or (len(word) > 4 and word.endswith("ed"))


def _looks_like_name(answer: str) -> bool:
    words = answer.split()
    return 0 < len(words) <= 6 and words[0][0].isupper() and all(w[0].isupper() or w.lower() in CONNECTORS
                                                                  for w in words)


def _asks_for_person(question: str) -> bool:
    """"Who wrote Hamlet?" asks for a person (the answer is the referent of a later "he");
    "Who was Nikola Tesla?" asks about one (the subject is), and so does "Who did Tesla work for?":
    there the name is the subject and the answer an object, and a later "he" goes on with the
    subject (the way a listener reads it: "When did he die?" means Tesla)."""
    toks = tokens(question)
    if not toks or toks[0].low not in {"who", "whom"}:
        return False
    words = [t for t in toks if t.text not in {"?", ".", "!"}]
    if len(words) >= 3 and words[1].low in {"is", "was", "are", "were"}:
        return not any(s == words[2].start and e == words[-1].end for s, e in proper_spans(question))
    if len(words) >= 3 and words[1].low in AUX:
        name = words[3] if words[2].low == "the" and len(words) > 3 else words[2]
        return not any(s == name.start for s, _ in proper_spans(question))
    return True


def _asks_for_place(question: str) -> bool:
    """"Where is the Eiffel Tower?" asks for a place: a later "there" means the answer."""
    toks = tokens(question)
    return bool(toks) and toks[0].low == "where"


PLACE_PREPS = {"in", "to", "at", "from", "near", "into", "across", "around", "visit", "visited", "visits"}


def _place_name(question: str) -> str:
    """The last name after a preposition of place ("move to Vienna", "born in the Bronx"), or ""."""
    toks = tokens(question)
    index = {t.start: i for i, t in enumerate(toks)}  # a scan per name was quadratic in a long answer
    for st, e in reversed(proper_spans(question)):  # the last one: the phrase is built for it alone
        k = index[st]
        before = toks[k - 2] if k >= 2 and toks[k - 1].low == "the" else toks[k - 1] if k else None
        if before is not None and before.low in PLACE_PREPS:
            return _with_article(question, toks, st, e)
    return ""


def _named_in(entity: str, text: str) -> bool:
    return bool(re.search(rf"(?i)(?<!\w){re.escape(_strip_det(entity))}(?!\w)", text))


def _surname_in(name: str, text: str) -> bool:
    """"Goodell said that it ...": a person named by the last word of a name the earlier turn wrote out."""
    words = _strip_det(name).split()
    if len(words) < 2 or not words[-1][:1].isupper() or len(words[-1]) <= 3:
        return False
    # the word alone, as written, not inside a longer name ("Shell Oil Company" is not "Royal Dutch Shell")
    return bool(re.search(rf"(?<![\w'’]){re.escape(words[-1])}(?![\w'’])(?!\s+[A-Z])", text)) and \
        not re.search(rf"[A-Z][\w.]*\s+{re.escape(words[-1])}", text)


def _other_names(question: str) -> list[str]:
    """Every name of a question as a phrase: with its article, and an adjective only with the noun
    it qualifies ("the Hellenistic period", never "Hellenistic" alone)."""
    toks = tokens(question)
    out = []
    for st, e in proper_spans(question):
        phrase = _with_article(question, toks, st, e)
        if not _adjective(toks, st, e) or not phrase.endswith(question[st:e]):
            out.append(phrase)
    return out


PLACE_TURNS = 3  # how far back "there" looks for a place before it takes a subject


def _same_subject(a: str, b: str) -> bool:
    sa, sb = subject(a), subject(b)
    return bool(sa) and _strip_det(sa).lower() == _strip_det(sb).lower()


def _place_of(question: str, answer: str) -> str:
    """The place a turn names: the answer of a "Where ...?" question (or the place named after "in"
    in it), else a name after a preposition of place in the question; "" when none."""
    if _asks_for_place(question):
        if _looks_like_name(answer):
            return answer.strip()
        named = _place_name(answer)
        if named:
            return named
    return _place_name(question)


def antecedent(referent: Referent | None, past: Sequence[tuple[str, str]], avoid: str = "", *,
               agree: bool = True, people: Collection[str] = ()) -> str:
    """The entity a reference points at: the most recent turn that has one. An entity the new
    question already names (`avoid`) is not what its pronoun means ("Which format, it or VHS?"
    after a question about LaserDisc and VHS): the earlier question's other name is taken, or
    none. With `agree`, a pronoun takes a name that agrees with it in number over a subject that
    does not (an ellipsis has no pronoun to agree with). "it" never means one of `people`: after
    "Who wrote Hamlet?", "When did he die?", "When was it written?" is about Hamlet."""
    if referent == Referent.PLACE:
        # "there" after "Where is the Eiffel Tower?" "When was it built?" is the place the earlier turn
        # answered: turns about the same subject are looked through for a place (at most PLACE_TURNS);
        # a turn about something else stops the search, and its subject is taken below
        recent = list(reversed(past))[:PLACE_TURNS]
        for i, (question, answer) in enumerate(recent):
            place = _place_of(question, answer)
            if place:
                return place
            if i + 1 == len(recent) or not _same_subject(question, recent[i + 1][0]):
                break
    for question, answer in reversed(past):
        if referent == Referent.PERSON and _asks_for_person(question) and _looks_like_name(answer):
            return answer.strip()
        if referent == Referent.PERSON and _asks_for_person(question) and _person_in_sentence(answer, question):
            # an FAQ's answer is a sentence: "Alice Moreau leads Sales." made "her" Sales
            return _person_in_sentence(answer, question)
        if referent == Referent.PLACE and _asks_for_place(question) and _looks_like_name(answer):
            return answer.strip()  # "Where is the Eiffel Tower?" "Paris": "there" is Paris
        if referent == Referent.PLACE and _asks_for_place(question) and _place_name(answer):
            return _place_name(answer)  # "Champ de Mars in Paris, France": the place named after "in"
        if referent == Referent.PLACE and _place_name(question):
            return _place_name(question)  # "When did Mozart move to Vienna?": Vienna, not Mozart
        subj = subject(question)
        if referent == Referent.THING and subj in people:
            things = [o for o in _other_names(question) if o not in people and not _named_in(o, subj)]
            subj = max(things, key=len, default="")
        if subj and avoid and (_named_in(subj, avoid) or referent == Referent.THING and _surname_in(subj, avoid)):
            others = [o for o in _other_names(question) if not _named_in(o, avoid) and not _named_in(o, subj)]
            return max(others, key=len, default="")
        if subj and referent == Referent.PERSON and not _could_be_person(subj, question):
            continue  # "When did he die?" after "What is the Eiffel Tower?": not the tower, nor its answer
        if subj and agree and _disagrees(referent, subj):
            # "them" after "What percentage of Jews live in Israel?" means the Jews, "it" after "Did
            # Russians settle in Alaska?" Alaska: a pronoun agrees in number with what it stands for
            agreeing = [o for o in _other_names(question)
                        if _plural(o) == (referent == Referent.GROUP) and not _named_in(o, subj)
                        and not _named_in(subj, o)]
            if agreeing:
                return max(agreeing, key=len)
        if subj:
            return subj
        if referent in (Referent.PERSON, Referent.THING, Referent.GROUP, Referent.PLACE) and _looks_like_name(answer) \
                and not (referent == Referent.THING and answer.strip() in people) \
                and not (referent == Referent.PERSON and _ASKS_AMOUNT_OR_TIME.match(question)):
            return answer.strip()  # not a time or an amount for "he" ("When did Early Bronze Age die?")
    return ""


# a capitalised run that is a thing, not a person: "The Sales Team", "Human Resources", "Expense Hub"
_DETERMINERS = {"the", "a", "an", "your", "our", "my", "their", "his", "her", "its", "this", "that"}
_NOT_A_PERSON = _DETERMINERS | {
    "team", "department", "resources", "hub", "office", "group", "inc", "ltd", "llc", "company", "committee",
    "board", "services", "service", "center", "centre", "desk", "portal", "app", "system", "unit", "division",
    "university", "school", "bank", "street", "road", "avenue", "building", "church", "club", "council",
    "ministry", "agency", "institute", "foundation", "corporation", "association", "society", "party"}


def _person_in_sentence(answer: str, question: str) -> str:
    """The name a sentence answering "who" gives: its first run of two to four capitalised words
    the question does not name, unless it reads as a thing ("Alice Moreau leads Sales." after "Who
    is the head of Sales?"; not "The Sales Team is led by ...", nor "Human Resources")."""
    if _looks_like_name(answer) or len(answer) > 300:
        return ""
    for s, e in proper_spans(answer):
        name = answer[s:e]
        words = name.split()
        before = answer[:s].split()[-1:]
        if (2 <= len(words) <= 4 and not _named_in(name, question) and words[0].lower() not in _NOT_A_PERSON
                and words[-1].lower() not in _NOT_A_PERSON and not (before and before[0].lower() in _DETERMINERS)):
            return name
    return ""


def _could_be_person(phrase: str, question: str) -> bool:
    """Whether "he" or "she" may stand for `phrase`, the subject of `question`: a name ("Nikola
    Tesla", "al-Khwarizmi") may; a thing with its article ("the Eiffel Tower", "the Bible") or a
    common noun ("oxygen", "the steam engine") may not, unless its head names a person ("the
    pope", "the first president of France"). A question typed all in lower case tells names from
    common nouns by nothing, so there any subject without an article may be a person."""
    words = re.findall(r"[A-Za-z]+", phrase.split(" of ")[0])
    if not words:
        return False
    if words[-1].lower() in PERSON_NOUNS:
        return True
    if words[0].lower() == "the":
        return False
    return any(w[0].isupper() for w in words) or question == question.lower()


def _disagrees(referent: Referent | None, subj: str) -> bool:
    """"they" for a singular subject, "it" for a plural one."""
    return referent in (Referent.THING, Referent.GROUP) and _plural(subj) != (referent == Referent.GROUP)


def _plural(phrase: str) -> bool:
    """A plural noun phrase by its last word ("the Europeans", "Jews"), not a name that only ends
    in s ("Texas", "Paris", "Jesus", "Mathematics", "the Senate's")."""
    words = re.findall(r"[A-Za-z]+", phrase)
    last = words[-1].lower() if words else ""
    return len(last) > 3 and last.endswith("s") and not last.endswith(SINGULAR_ENDINGS)


# ---------------------------------------------------------------------------------------------- rewriting
def _possessive(entity: str) -> str:
    return entity + ("'" if entity.endswith("s") and not entity.endswith("ss") else "'s")


def _is_expletive_it(toks: list[Token], k: int) -> bool:
    nxt = toks[k + 1].low if k + 1 < len(toks) else ""
    nxt2 = toks[k + 2].low if k + 2 < len(toks) else ""
    if nxt in EXPLETIVE_AFTER_IT:
        return nxt2 != "place"  # "how long does it take", not "where did it take place"
    before = [t.low for t in toks[max(0, k - 3):k]]
    after = [t for t in toks[k + 1:] if t.text[0].isalnum()]
    if before[-1:] in (["is"], ["was"]) and any(w in TIME_WORDS for w in before) \
            and (not nxt.isalnum() or nxt in {"now", "today", "there", "here"} or nxt in PREPS and len(after) > 1):
        return True  # "What time is it?", "... today?", "... in Tokyo?"; not "What time zone is it in?"
    if before[-1:] in (["is"], ["was"]) and {"far", "long"} & set(before) and nxt == "from" \
            and any(t.low == "to" for t in after) and len(after) > 1 and after[1].text[0].isupper():
        return True  # "How far is it from Paris to Berlin?"; not "... from Miami?" or "from end to end?"
    # "How much does it cost to fly to Tokyo?", "Is it possible to visit the Louvre on Monday?": an
    # infinitive with more after it; not "How much did it cost to build?" or "Is it safe to eat?"
    infinitive = len(after) > 3 and after[1].low == "to"
    if nxt in {"cost", "costs"} and infinitive:
        return True
    if before[-1:] in (["is"], ["was"], ["be"]) and nxt in EXPLETIVE_BE_ADJ \
            and (nxt2 in {"that", "if", "whether"} or infinitive):
        return True  # "Is it true that ...", "Is it possible to visit ..."; not "Is it safe for dogs?"
    return nxt in {"is", "was", "be"} and nxt2 in EXPLETIVE_BE_ADJ


# "Do you ship to Canada?" -> "How much does it cost?": "it" is the shipping, not Canada. A question
# asking whether one can or does do something, then a verb of price, time or need with "it" as its
# subject: the doing is borrowed as an infinitive ("How much does it cost to ship to Canada?").
_CAN_YOU = re.compile(r"^\s*(?:and\s+)?(?:(?i:how|where|when)\s+)?(?i:do|does|can|could|will|would|may|should)\s+"
                      r"(?i:you|we|i|they|one)\s+(?P<vp>[a-z][\w'’-]*(?:\s+[^?]*?)?)\s*[?.!]*\s*$")
_EVENT_VERBS = {"cost", "costs", "take", "takes", "last", "lasts", "require", "requires", "involve", "involves"}


def _borrowed_doing(question: str, previous: str) -> tuple[str, str] | None:
    """`question` with the previous question's doing appended as an infinitive (see `_CAN_YOU`),
    and that infinitive ("to ship to Canada"); None where it does not ask about one."""
    m = _CAN_YOU.match(previous)
    if not m:
        return None
    toks = tokens(question)
    for k, t in enumerate(toks[:-1]):
        if t.low == "it" and toks[k + 1].low in _EVENT_VERBS:
            if any(x.low == "to" for x in toks[k + 2:]):  # "cost to fly to Tokyo": its own doing
                return None
            body = question.rstrip()
            end = len(body.rstrip("?.! "))
            doing = f"to {m.group('vp').strip()}"
            return f"{body[:end]} {doing}{body[end:] or '?'}", doing
    return None


def _her_form(toks: list[Token], k: int) -> Form:
    """"her" is possessive before a noun ("her husband") and an object elsewhere ("marry her?")."""
    nxt = toks[k + 1] if k + 1 < len(toks) else None
    if nxt is None or not nxt.text[0].isalnum() or nxt.low in PREPS | AUX | WH | {"and", "or"}:
        return Form.OBJECT
    return Form.POSSESSIVE


def _first_reference(question: str) -> tuple[Token, Referent, Form] | None:
    """The first pronoun that points outside the question, or None."""
    toks = tokens(question)
    own = proper_spans(question)
    for k, t in enumerate(toks):
        if t.low not in PRONOUNS:
            continue
        referent, form = PRONOUNS[t.low]
        if t.low == "it" and _is_expletive_it(toks, k):
            continue
        if t.low == "there":
            prev = toks[k - 1].low if k else ""
            nxt = toks[k + 1].low if k + 1 < len(toks) else ""
            if prev in {"is", "are", "was", "were", "be", "been"} or nxt in {"is", "are", "was", "were", "be", "been",
                                                                               "have", "has", "had", "'s"} or k == 0:
                continue  # existential "there is"
        if t.low == "her":
            form = _her_form(toks, k)
        names = [(st, e) for st, e in own if e <= t.start and not _adjective(toks, st, e)]  # not "Islamic name"
        if referent == Referent.THING:  # "it" is not "the Beatles"
            names = [(st, e) for st, e in names if not _plural(_with_article(question, toks, st, e))]
        if referent == Referent.PERSON:
            # "the Bible" is no one's name: "What did his work change in the Bible?"
            names = [(st, e) for st, e in names if not _with_article(question, toks, st, e).startswith("the ")]
            if form == Form.SUBJECT and k > 0 and toks[k - 1].low in AUX and not _clause_break_before(toks, k) \
                    and not any(_in_subject_position(toks, st) for st, _ in names):
                pass  # "How many Grammy Awards has he won?": the name belongs to what is asked
            elif form == Form.OBJECT and _object_of_clause(toks, k):
                pass  # "What did Tesla say about him?": not Tesla (that would be "himself")
            elif names:
                continue  # "What did Tesla say about his work?": its own antecedent
        elif not _object_of_clause(toks, k) and any(_in_subject_position(toks, st) for st, _ in names):
            continue  # "What did Apple say about its products?"; not "Which NFL team played at it?"
        return t, referent, form
    return None


def _object_of_clause(toks: list[Token], k: int) -> bool:
    """"it" / "them" / "him" / "her" as the object of a verb or preposition ("When did Microsoft
    launch it?", "How much did Google pay for it?"): an object pronoun never means its own clause's
    subject (one says "itself"), so a name in subject position is not its antecedent; "as it grew"
    is a subject again, and so is anything after a clause break."""
    if toks[k].low not in {"it", "them", "him", "her"} or k == 0 or _clause_break_before(toks, k):
        return False
    prev = toks[k - 1]
    nxt = toks[k + 1] if k + 1 < len(toks) else None
    if prev.low == "as" and nxt is not None and nxt.text[:1].islower():
        return False
    if prev.low in PREPS:
        return True
    return prev.text.isalpha() and prev.text.islower() and prev.low not in AUX | WH | DETERMINERS | CLAUSE_BREAKS


def _clause_break_before(toks: list[Token], k: int) -> bool:
    """A conjunction, subordinator, relative or comma before token `k` (not the question word that
    opens the question: "When did ...", "In which ...")."""
    return any(t.low in CLAUSE_BREAKS and not (i < 3 and t.low in WH) for i, t in enumerate(toks[:k]))


def _substitute(question: str, tok: Token, form: Form, entity: str) -> str:
    if form == Form.POSSESSIVE:
        repl = _possessive(entity)
    elif form == Form.LOCATIVE:
        repl = f"in {entity}"
    else:
        repl = entity
    if tok.start == 0 and repl[:1].islower():
        repl = repl[0].upper() + repl[1:]
    out = question[:tok.start] + repl + question[tok.end:]
    return out


def _frame(previous: str) -> str:
    """"What is" / "What was" / "How many ... are", from the previous question's opening."""
    toks = tokens(previous)
    lows = [t.low for t in toks]
    if len(lows) >= 2 and lows[0] in {"what", "who", "which"} and lows[1] in {"is", "was", "are", "were"}:
        return f"What {lows[1]}"
    return "What was" if any(w in {"was", "were", "did"} for w in lows[:4]) else "What is"


def _ellipsis(np: str, previous: str, prev_subject: str, person: str = "") -> tuple[str, str, str] | None:
    """(rewrite, entity, reason) for "What about NP?" / "And NP?", or None when it does not apply."""
    np = np.strip().rstrip("?.! ")
    if not np or not previous:
        return None
    toks = tokens(np)
    if not toks or toks[0].low in WH | AUX:
        return None
    if any(t.low in WH and toks[i].text == "," for i, t in enumerate(toks[1:])):
        return None  # "And Napoleon, where was he born?": a question of its own; not "And Doctor Who?"
    if all(t.low in STANDALONE_PRONOUNS or t.text in {"?", ".", "!"} for t in toks):
        return None  # "What about you?", "And them?": nothing to put in the previous frame
    ref = next(((k, t) for k, t in enumerate(toks) if t.low in {"its", "his", "her", "their"}), None)
    if ref is not None:
        k, t = ref
        # "And his wife?" after "Who wrote Hamlet?" is Shakespeare's wife, not Hamlet's: his / her
        # take the person the conversation is about, its / their the previous subject
        whose = person if t.low in {"his", "her"} else prev_subject
        if not whose:
            return None
        rest = np[t.end:].strip()
        head, _, tail = _split_at_prep(rest)
        q = f"{_frame(previous)} the {head} of {whose}{(' ' + tail) if tail else ''}?"
        return q, whose, ("ellipsis with a possessive: the person of an earlier turn" if whose == person
                          and whose != prev_subject else "ellipsis with a possessive: the previous question's subject")
    year = _YEAR.fullmatch(np)
    if year is not None:  # "And in 1990?", "What about 2002?": the earlier question in another year
        said = _YEAR_IN.findall(previous)
        if len(said) != 1:
            return None  # no year to put it in ("What is the 2002 of the world?"), or two
        return (_YEAR_IN.sub(year.group("y"), previous, count=1), year.group("y"),
                "ellipsis with a year: the previous question in that year")
    if toks[0].low in PREPS:  # "And of Germany?", "What about for Germany?": the name after it, or nothing
        rest = np[toks[1].start:] if len(toks) > 1 else ""
        if not rest or not proper_spans(rest) or proper_spans(rest)[0][0] != 0:
            return None
        np, toks = rest, tokens(rest)
    obj = next((t for t in toks[1:] if t.low in {"it", "them"}), None)
    if obj is not None:  # "And the capital of it?": the pronoun is the previous subject, in place
        if not prev_subject or len(toks) > 8:
            return None
        np = np[:obj.start] + prev_subject + np[obj.end:]
        if toks[0].low not in DETERMINERS:
            np = "the " + np
        return f"{_frame(previous)} {np}?", prev_subject, "ellipsis naming the previous subject by a pronoun"
    spans = proper_spans(np)
    # "the Eiffel Tower", "the United States": a new entity with its article, not "the X of France"
    named = bool(spans) and (spans[0][0] == 0 or toks[0].low == "the" and len(toks) > 1
                             and spans[0] == (toks[1].start, len(np)))  # the name is the whole phrase
    if named or toks[0].text[0].isupper() and toks[0].low not in DETERMINERS:
        if not prev_subject or prev_subject not in previous:
            return None
        return previous.replace(prev_subject, np, 1), np, "ellipsis with a new entity: the previous question for it"
    if not prev_subject or len(toks) > 8:
        return None
    words = np.split()
    if words[0].lower() not in DETERMINERS:
        np = "the " + np
    head, prep, tail = _split_at_prep(np)
    if prep.lower() == "of" and (named_in_tail := proper_spans(tail)) and named_in_tail[0][0] == 0:
        # "And the population of Germany?": whose it is, it says; the previous frame, a new entity
        return f"{_frame(previous)} {np}?", tail[:named_in_tail[0][1]], \
            "ellipsis naming its own entity: the previous question's frame"
    q = f"{_frame(previous)} {head} of {prev_subject}{(' ' + prep + ' ' + tail) if tail else ''}?"
    return q, prev_subject, "ellipsis: the previous question's subject"


_YEAR = re.compile(r"(?i:(?:in|for|during|of)\s+)?(?:the\s+year\s+)?(?P<y>1[0-9]{3}|20[0-9]{2})")
_YEAR_IN = re.compile(r"(?<![\d.,])(?:1[0-9]{3}|20[0-9]{2})(?![\d.,])")


_ASKS_AMOUNT_OR_TIME = re.compile(r"^\s*(?i:when|what\s+(?:year|time|date|century|age)|how\s+(?:long|many|much|old))\b")


def _not_the_asker(entity: str) -> str:
    """`entity`, or "" where it is the asker's own doing rather than a thing: after "How do I
    renew my passport?", "it" was "I renew my" ("How much does I renew my cost?")."""
    first = entity.split()[0].lower() if entity.split() else ""
    return "" if first in {"i", "we", "you", "me", "us", "my", "our", "your"} else entity


def _split_at_prep(np: str) -> tuple[str, str, str]:
    words = np.split()
    for i, w in enumerate(words):
        if i > 0 and w.lower() in PREPS:
            return " ".join(words[:i]), w, " ".join(words[i + 1:])
    return np, "", ""


def unnamed_person(question: str) -> str | None:
    """The pronoun ("he", "her") by which a question asked with no earlier turn points at a person
    it never names ("When was he born?", "Who is his wife?"), or None. Only where nothing but
    question and auxiliary words come before it: "If an employee is sick, can he work from home?"
    and "How do I change her password?" name whom they mean, or mean anyone."""
    ref = _first_reference(question)
    if ref is None or ref[1] != Referent.PERSON:
        return None
    before = [t.low for t in tokens(question) if t.end <= ref[0].start and t.text[0].isalnum()]
    return ref[0].text if all(w in WH | AUX | {"and", "so", "then", "but"} for w in before) else None


def rewrite(question: str, history: Sequence[str] = ()) -> Rewrite:
    """`question` made standalone from `history` (see the module's docstring); unchanged when it
    does not refer back."""
    if not history:
        return Rewrite(question)
    past: list[tuple[str, str]] = []
    people: set[str] = set()  # who "he" / "she" meant, and names answering "Who ...?": never "it"
    for q, a in turns(history):
        if not q.strip():
            continue
        r = _resolve(q, past, people)
        ref = _first_reference(q)
        if r.changed and ref is not None and ref[1] == Referent.PERSON:
            people.add(r.entity)
        if _asks_for_person(q) and _looks_like_name(a):
            people.add(a.strip())
        past.append((r.text, a))
    return _resolve(question, past, people)


def _resolve(question: str, past: Sequence[tuple[str, str]], people: Collection[str] = ()) -> Rewrite:
    if not past:
        return Rewrite(question)
    previous = past[-1][0]
    turn = f"{previous} {past[-1][1].strip()}".strip()
    m = _ELLIPSIS.match(question)
    if m:
        np = m.group("np") or m.group("np2") or ""
        subject_before = _not_the_asker(antecedent(Referent.THING, past, agree=False))
        person_before = _not_the_asker(antecedent(Referent.PERSON, past, people=people))
        done = _ellipsis(np, previous, subject_before, person_before)
        if done is not None:  # "And Germany?" moves to another subject: no earlier question to continue
            return Rewrite(*done, previous=turn if done[1] == subject_before else "")
    borrowed = _borrowed_doing(question, previous)
    if borrowed is not None:
        return Rewrite(*borrowed, "'it' -> what the earlier question asked about doing", turn)
    ref = _first_reference(question)
    if ref is None:
        return Rewrite(question)
    tok, referent, form = ref
    entity = _not_the_asker(antecedent(referent, past, avoid=question[:tok.start] + question[tok.end:], people=people))
    if not entity:  # it refers back to something no rule can name: left as typed, searched with the earlier turn
        return Rewrite(question, reason=f"'{tok.text}' refers to an earlier turn", previous=turn)
    text = _substitute(question, tok, form, entity)
    lead = _LEADING_AND.match(text)
    if lead:  # "And when did he die?" -> "When did ... die?"
        text = text[lead.end():]
        text = text[0].upper() + text[1:]
    # "he" for the previous answer moves the conversation to that answer ("Who wrote Hamlet?" -> "When
    # did he die?"): the earlier question is then about something else and is not continued.
    is_answer = entity in (past[-1][1].strip(), _person_in_sentence(*reversed(past[-1])))
    return Rewrite(text, entity, f"'{tok.text}' -> the {'answer' if is_answer else 'subject'} of an earlier turn",
                   "" if is_answer else turn)
