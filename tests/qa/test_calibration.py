"""WebQA's answer probabilities: the signals that a passage answers another question than the one
asked, and the training questions that teach them (no model involved: these run in milliseconds)."""

from __future__ import annotations

import random

from qa.calibration import named_nowhere, question_coverage, span_features
from qa.calibration_training import _SMALL_SIZES, _absent_questions, _near_misses, _small_collections, near_miss

FINAL = "FIFA World Cup\nThe reigning champion is Spain, who won the 2026 World Cup by defeating Argentina."


def test_a_passage_about_another_year_or_name_covers_less_of_the_question() -> None:
    """"Who won the 2031 World Cup?" read from the 2026 final was Argentina at 0.84: nothing the
    probability was computed from saw that the passage speaks of another year."""
    assert question_coverage("Who won the 2026 World Cup?", FINAL) == (1.0, 0)
    cover, missing = question_coverage("Who won the 2031 World Cup?", FINAL)
    assert cover < 1.0 and missing == 1
    # numbers are whole ("3.5" is not 3 and 5, "1,000" is 1000), small words of a Title Case question
    # and single letters ("U.S.") are no names
    assert question_coverage("Is 3.5 of 1,000 the Rate Of The U.S.?", "5.3 and 1000; the rate")[1] == 1
    # words meet on their first letters ("elected" / "election"), a decade on its digits ("1930s" / "1930")
    assert question_coverage("When was he elected?", "The election of 1930.")[0] == 1.0
    assert question_coverage("What happened in the 1930s Dust Bowl?", "The Dust Bowl of 1930")[1] == 0
    notes = ["Release notes\nThe Falcon release is scheduled for March 14.", "Ticket 43 was closed by Yuki."]
    assert named_nowhere("Who is the release manager of the Eagle release?", notes) == 1
    assert named_nowhere("Who closed ticket 44?", notes) == 1
    assert named_nowhere("When is the Falcon release?", notes) == 0
    feats = span_features(question="Who won the 2031 World Cup?", answer="Argentina", reader_prob=0.9, mass=0.9,
                          mass_t3=0.9, support=1, rank=1, retrieval_score=0.8, gap=3.0, passage_abstained=False,
                          groups=2, passage=FINAL, nowhere=1, dense=0.7, dense_top=0.7)
    assert feats["q_named_missing"] > 0 and feats["q_named_nowhere"] > 0 and feats["dense"] == 0.7


def test_near_misses_ask_about_a_year_number_or_name_the_paragraph_lacks() -> None:
    rng = random.Random(0)
    context = "In 1858 the Virgin Mary appeared to Bernadette in Lourdes, France; 5,000 pilgrims came."
    names = ["Genghis Khan", "Race (human categorization)", "Charleston, South Carolina"]
    for _ in range(20):
        year = near_miss("To whom did the Virgin Mary appear in 1858?", context, names, rng)
        assert year is not None and "1858" not in year and year.split(" in ")[-1].rstrip("?") not in context
    for _ in range(10):
        name = near_miss("What did the Virgin Mary do in Lourdes?", context, names, rng)
        assert name is not None and any(n in name for n in ("Genghis Khan", "Race", "Charleston"))
        # a title's parenthesis and the part after its comma are not part of a name
        assert not any(n in name for n in ("(", "South Carolina"))
    assert near_miss("what did she do?", context, names, rng) is None  # nothing to change
    # a number as written: the comma after it stays, "5,000" is one number (and no year), the new one
    # is not the article's in other writing ("5,000" for 5000)
    comma = near_miss("In 1858, who appeared?", context, names, rng)
    assert comma is not None and comma.startswith("In ") and comma[7:9] == ", "
    many = near_miss("Were 5,000 pilgrims there?", context, names, rng)
    assert many is not None and "5,000" not in many and int(many.split()[1]) > 5000
    items = [("To whom did the Virgin Mary appear in 1858?", context), ("what did she do?", context)]
    assert [golds for _, golds in _near_misses(items, names, 5, rng)] == [[]]  # no answer is right for them


def test_questions_of_articles_the_collection_lacks_come_a_few_from_each_of_many() -> None:
    articles = [{"title": f"A{i}", "paragraphs": [{"context": "x", "qas": [
        {"question": f"q{i}-{j}?", "answers": [{"text": "a"}]} for j in range(40)]}]} for i in range(10)]
    got = _absent_questions(articles, {2, 3, 4, 5, 6}, 30, random.Random(1), per_article=8)
    assert len(got) == 30
    used = {q.split("-")[0] for q, _ in got}
    assert used <= {"q2", "q3", "q4", "q5", "q6"} and len(used) >= 4


def test_small_collections_are_a_few_paragraphs_of_one_article_with_questions_they_do_not_answer() -> None:
    """A user's notes are a few documents: over them a near miss's answer holds all of the reader's
    probability, so the calibration is also fitted on collections of 1 to 16 paragraphs."""
    def name(a: int, p: int) -> str:  # no digits: the year is the question's one number
        return "".join(chr(97 + int(d)) for d in f"{a}{p:02d}")

    articles = [{"title": f"Article_{a}", "paragraphs": [
        {"context": f"In {1900 + p} the Falcon {name(a, p)} was built by Priya.", "qas": [
            {"question": f"Who built the Falcon {name(a, p)} in {1900 + p}?", "answers": [{"text": "Priya"}]}
            for _ in range(4)]} for p in range(40)]} for a in range(3)]
    absent = [(f"Who won the cup {i}?", ["X"]) for i in range(50)]
    small = _small_collections(articles, [0, 2], ["Eagle Works"], absent, 120, random.Random(5))
    seen = set()
    for few, asked, answers in small:
        assert 1 <= len(few) <= max(_SMALL_SIZES) and len({p.title for p in few}) == 1
        assert few[0].title in ("Article 0", "Article 2")
        seen.update(p.id for p in few)
        texts = " ".join(p.text for p in few)
        # the questions it answers come first, each about one of its paragraphs
        assert answers >= 1 and all(golds == ["Priya"] and q.split()[4] in texts for q, golds in asked[:answers])
        # then near misses (another year: no paragraph of the collection has it) and other articles' questions
        for q, golds in asked[answers:]:
            assert golds == [] and q.split()[-1].rstrip("?") not in texts or q.startswith("Who won the cup")
    assert seen <= {f"{a}-{p}" for a in (0, 2) for p in range(40)} and len(seen) == 80  # each paragraph once
    assert 80 <= sum(answers for *_, answers in small) <= 160
    assert len({q for _, asked, _ in small for q, _ in asked if q.startswith("Who won")}) >= 15
