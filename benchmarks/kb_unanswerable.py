"""kb-unanswerable: does KBQA say "no answer" when the world graph does not know?

Unanswerable questions (>= 200, seed 5): a relation the graph lacks asked of a real country or
city ("Who is the president of France?", "What is the GDP of Peru?"), or a relation it has asked
of a place that is not in it ("What is the capital of Genovia?"). Answerable questions: the
graph's own relations in other words. All are written with templates that `qa kb train`'s
generator does not use (kb/training.py), and none of them was used to train or calibrate.

Reported for the KBQA source alone: abstention rate on the unanswerable questions; accuracy on the
answerable ones without abstention (the best guess counts) and with it (an abstention is a miss),
and the drop between the two. Beside them, 100 questions about whole classes ("which city has the
largest population?", "how many countries are there?"): accuracy, mean shown score and AUROC; and
200 yes/no questions, half of them true ("Does Chile share a border with Bolivia?", "Is Tashkent
the capital city of Oman?", "Is Lyon really a country?"), worded unlike the generator's: how often
the answer (or the guess) is right, how often it is given rather than abstained from, the mean
shown score and AUROC.

    python benchmarks/kb_unanswerable.py [--limit N]
    QA_KB_SCORER=old.json python benchmarks/kb_unanswerable.py --out results/kb-unanswerable-old.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import shown_path, write_results  # noqa: E402
from benchmarks.kb_speed import CITY, COUNTRY, NS, hit, world_questions  # noqa: E402

MISSING_RELATIONS = [
    ("Who is the president of {e}?", COUNTRY), ("What is the GDP of {e}?", COUNTRY),
    ("What is the national anthem of {e}?", COUNTRY), ("Who is the prime minister of {e}?", COUNTRY),
    ("What is the national animal of {e}?", COUNTRY), ("What is the life expectancy in {e}?", COUNTRY),
    ("What is the literacy rate of {e}?", COUNTRY), ("What is the national sport of {e}?", COUNTRY),
    ("What is the highest mountain in {e}?", COUNTRY), ("What is the motto of {e}?", COUNTRY),
    ("When did {e} become independent?", COUNTRY), ("What is the unemployment rate of {e}?", COUNTRY),
    ("Which suppliers are in {e}?", COUNTRY), ("Who is the head of state of {e}?", COUNTRY),
    ("What is the national dish of {e}?", COUNTRY), ("Which football club won the league in {e}?", COUNTRY),
    ("Who is the mayor of {e}?", CITY), ("Who founded {e}?", CITY), ("Which river flows through {e}?", CITY),
    ("What is the average temperature in {e}?", CITY), ("What is the postal code of {e}?", CITY),
    ("Which university is in {e}?", CITY), ("What is the elevation of {e}?", CITY),
    ("Who is the patron saint of {e}?", CITY),
]
FICTIONAL = ["Genovia", "Wakanda", "Latveria", "Zubrowka", "Freedonia", "Elbonia", "Narnia", "Ruritania",
             "Syldavia", "Borduria", "Sokovia", "Qumar", "Krakozhia", "Markovia", "Agrabah", "Zamunda",
             "Bialya", "Kasnia", "Arendelle", "Westeros", "Mordor", "Lilliput", "Brobdingnag", "Atlantis",
             "Panem", "Gilead", "Florin", "Guilder", "Pottsylvania", "Vulgaria", "Grand Fenwick", "San Theodoros",
             "Nuevo Rico", "Tropico", "Costaguana", "Kinakuta", "Moldavia Nova", "Carpathia", "Orsinia",
             "Transia"]
KNOWN_RELATIONS = ["What is the capital of {e}?", "What currency is used in {e}?", "Which languages are spoken in {e}?",
                   "Which continent is {e} in?", "What is the population of {e}?", "Which countries border {e}?",
                   "What is the calling code of {e}?", "What time zone is {e} in?"]
# the graph's relations in other words: for the answerable half
HELD_OUT = [
    ("Could you tell me the capital city of {e}?", "location.country.capital", True, COUNTRY),
    ("I would like to know the money they use in {e}", "location.country.currency_used", True, COUNTRY),
    ("Name the languages people speak in {e}", "location.country.languages_spoken", True, COUNTRY),
    ("On which continent does {e} lie?", "location.location.continent", True, COUNTRY),
    ("How many inhabitants does {e} have?", "location.statistical_region.population", True, COUNTRY),
    ("Which nations are neighbours of {e}?", "location.location.adjoin_s", True, COUNTRY),
    ("Which phone code should I dial for {e}?", "location.country.calling_code", True, COUNTRY),
    ("{e} belongs to which country?", "location.location.country", True, CITY),
    ("How many people live in {e}?", "location.statistical_region.population", True, CITY),
]


# yes/no questions, worded unlike the generator's "is {x} {np}?": (template, relation, the class of
# the entity {e} is; {x} is one of the relation's values for it (yes) or a value it has for others (no)
YES_NO = [
    ("Is {x} the capital city of {e}?", "location.country.capital", COUNTRY),
    ("Does {e} share a border with {x}?", "location.location.adjoin_s", COUNTRY),
    ("Do people in {e} speak {x}?", "location.country.languages_spoken", COUNTRY),
    ("Is the {x} the currency of {e}?", "location.country.currency_used", COUNTRY),
    ("Does {e} lie in {x}?", "location.location.continent", COUNTRY),
    ("Is {e} a city in {x}?", "location.location.country", CITY),
    ("Is {e} really a {x}?", None, COUNTRY),  # what it is: "country" (yes) or "city" (no)
    ("Is {e} really a {x}?", None, CITY),
]
KIND = {COUNTRY: "country", CITY: "city"}


def yes_no_questions(graph, n: int, seed: int = 5) -> list[dict]:
    """Half of them true, half false (another value the relation has for some other entity), each
    with its gold "yes" or "no"; cities among the first 400 by the graph's order."""
    from kb.sparql import iri

    rng = random.Random(seed)
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    typ = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    values: dict[str, dict[str, set[str]]] = {}  # relation -> entity label -> value labels
    for _, rel, cls in YES_NO:
        if rel is None:
            continue
        rows = graph.select(f"SELECT ?l ?v WHERE {{ ?e {typ} {iri(cls)} ; {label} ?l ; {iri(NS + rel)} ?a . "
                            f"?a {label} ?v }} LIMIT 200000")
        table = values.setdefault(rel, {})
        for name, value in rows:
            if str(name).isascii() and str(value).isascii():
                table.setdefault(str(name), set()).add(str(value))
    # the things of each kind: the countries and cities some relation above is asked of
    kinds = {cls: sorted({name for (_, rel, c) in YES_NO if c == cls and rel for name in values[rel]})
             for cls in KIND}
    members = {cls: set(names) for cls, names in kinds.items()}
    out, seen = [], set()
    while len(out) < n:
        template, rel, cls = rng.choice(YES_NO)
        holds = len(out) % 2 == 0
        if rel is None:
            name = rng.choice(kinds[cls][:400] if cls == CITY else kinds[cls])
            other = next(c for c in KIND if c != cls)
            x = KIND[cls] if holds else KIND[other]
            holds = holds or name in members[other]  # Monaco, Hong Kong: a country and a city both
        else:
            names = sorted(values[rel])[:400] if cls == CITY else sorted(values[rel])
            name = rng.choice(names)
            pool = sorted(values[rel][name]) if holds else sorted(
                {v for vs in values[rel].values() for v in vs} - values[rel][name])
            x = rng.choice(pool)
        q = template.format(e=name, x=x)
        if q not in seen:
            seen.add(q)
            out.append({"question": q, "gold": "yes" if holds else "no", "relation": rel or "type"})
    return out


def unanswerable_questions(graph, n: int, seed: int = 5) -> list[dict]:
    from kb.sparql import iri

    rng = random.Random(seed)
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    typ = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    pool = {}
    for cls in (COUNTRY, CITY):
        rows = graph.select(f"SELECT ?l WHERE {{ ?e {typ} {iri(cls)} ; {label} ?l }} LIMIT 100000")
        pool[cls] = sorted({str(x) for (x,) in rows if str(x).isascii()})
    out, seen = [], set()
    while len(out) < n:
        if rng.random() < 0.6:
            template, cls = rng.choice(MISSING_RELATIONS)
            q, kind = template.format(e=rng.choice(pool[cls][:400] if cls == CITY else pool[cls])), "relation"
        else:
            q, kind = rng.choice(KNOWN_RELATIONS).format(e=rng.choice(FICTIONAL)), "entity"
        if q not in seen:
            seen.add(q)
            out.append({"question": q, "missing": kind})
    return out


def class_question_figures(qa, n: int) -> dict[str, float]:
    """Questions about a whole class (superlatives, counts, filters, lists) from `qa kb train`'s
    generator with a seed its calibration does not use (21; calibration uses seed + 3 = 10), each
    judged by its gold query: how often the answer is right, what the shown score says, and whether
    it separates right from wrong."""
    from kb.training import QuestionGenerator, class_answer_right
    from qa.core.measures import auroc

    made = [c for c in QuestionGenerator(qa, seed=21).class_questions(3 * n) if c.gold][:n]
    scores, right = [], []
    for c in made:
        pred = qa.predict(c.question)
        if pred.best is None:
            scores.append(0.0)
            right.append(False)
            continue
        scores.append(pred.confidence)
        right.append(class_answer_right(qa, pred, c))
    answered = [ok for p, ok in zip(scores, right, strict=True) if p >= qa.scorer.threshold]
    return {"class_questions": len(made), "class_accuracy": 100 * sum(right) / max(1, len(right)),
            "class_mean_score": sum(scores) / max(1, len(scores)),
            "class_auroc": auroc(scores, right),
            "class_answered_pct": 100 * len(answered) / max(1, len(made)),
            "class_accuracy_answered": 100 * sum(answered) / max(1, len(answered))}


def yes_no_figures(qa, n: int) -> dict[str, float]:
    from qa.core.measures import auroc

    scores, right, given, gold = [], [], [], []
    for q in yes_no_questions(qa.graph, n):
        a = qa.answer(q["question"], top_k=1)[0]
        shown = a.best_guess if a.no_answer else a
        scores.append(shown.score if shown is not None else 0.0)
        right.append(shown is not None and shown.text == q["gold"])
        given.append(not a.no_answer)
        gold.append(q["gold"])
    answered = [ok for ok, g in zip(right, given, strict=True) if g]
    out = {"yes_no_questions": len(right), "yes_no_accuracy": 100 * sum(right) / max(1, len(right)),
           "yes_no_answered_pct": 100 * len(answered) / max(1, len(right)),
           "yes_no_accuracy_answered": 100 * sum(answered) / max(1, len(answered)),
           "yes_no_mean_score": sum(scores) / max(1, len(scores)), "yes_no_auroc": auroc(scores, right)}
    for g in ("yes", "no"):
        idx = [i for i, x in enumerate(gold) if x == g]
        out[f"yes_no_{g}_accuracy"] = 100 * sum(right[i] for i in idx) / max(1, len(idx))
        out[f"yes_no_{g}_answered_pct"] = 100 * sum(given[i] for i in idx) / max(1, len(idx))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--questions", type=int, default=250, help="of each kind")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: results/kb-unanswerable.json)")
    args = ap.parse_args(argv)
    from kb.pipeline import KBQA
    from qa.core.settings import Settings
    from qa.models import shared_encoder

    t0 = time.perf_counter()
    settings = Settings.load(kb_graph="", kb_endpoint="")
    qa = KBQA(settings, encoder=shared_encoder(settings))
    qa.warm_up()
    n = args.limit or args.questions
    unanswerable = unanswerable_questions(qa.graph, n)
    answerable = world_questions(qa.graph, n, templates=HELD_OUT, misspelled_share=0.0, seed=5)
    abstained = {"relation": [], "entity": []}
    for q in unanswerable:
        a = qa.answer(q["question"], top_k=1)[0]
        abstained[q["missing"]].append(a.no_answer)
        q["answer"] = a.best_guess.text if a.no_answer and a.best_guess else a.text
        q["abstained"], q["score"] = a.no_answer, a.score
    with_abst, without = [], []
    for q in answerable:
        a = qa.answer(q["question"], top_k=1)[0]
        guess = a.best_guess if a.no_answer else a
        without.append(hit(guess, q["gold"]))
        with_abst.append(hit(a, q["gold"]))
        q["abstained"], q["ok"] = a.no_answer, without[-1]
    classes = class_question_figures(qa, 25 if args.limit else 100)
    yes_no = yes_no_figures(qa, 50 if args.limit else 200)
    all_abst = abstained["relation"] + abstained["entity"]
    acc_without = 100 * sum(without) / len(without)
    acc_with = 100 * sum(with_abst) / len(with_abst)
    metrics = {
        "abstain_pct": 100 * sum(all_abst) / len(all_abst),
        "abstain_pct_missing_relation": 100 * sum(abstained["relation"]) / max(1, len(abstained["relation"])),
        "abstain_pct_missing_entity": 100 * sum(abstained["entity"]) / max(1, len(abstained["entity"])),
        "answerable_accuracy_without_abstention": acc_without,
        "answerable_accuracy_with_abstention": acc_with,
        "answerable_drop": acc_without - acc_with,
        "unanswerable_questions": len(unanswerable),
        "answerable_questions": len(answerable),
        **classes,
        **yes_no,
    }
    print(metrics, file=sys.stderr)
    if not args.limit:
        write_results("kb-unanswerable", f"{len(unanswerable)} unanswerable + {len(answerable)} answerable generated "
                      f"world-graph questions (templates not used for training), {yes_no['yes_no_questions']} yes/no",
                      metrics,
                      wall_s=time.perf_counter() - t0, extra={
                          "scorer": shown_path(qa.scorer_source), "threshold": qa.scorer.threshold,
                          "answered_unanswerable": [q for q in unanswerable if not q["abstained"]][:60],
                          "abstained_answerable": [q for q in answerable if q["abstained"]][:60],
                          "wrong_answerable": [q for q in answerable if not q["ok"]][:60]}, out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
