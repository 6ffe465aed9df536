"""kb-speed: `qa kbqa` on the embedded world graph, cold and warm.

Cold: a fresh process runs `qa kbqa "What currency is used in Japan?"` (3 runs; wall seconds,
median reported), and, beside it, a fresh process that only loads the sentence encoder and encodes
one sentence, so the share of the cold start that is the encoder is visible.

Warm: one engine answers >= 200 questions generated from the world graph with fixed templates
(seed 11); exactly 20 % (every fifth) have one typing error (a transposition, deletion,
insertion or substitution) in the entity's name, which is then at least 5 letters long.
Reported: p50 / p95 milliseconds per question, Hits@1 on the exact-name and the misspelled
questions: the top answer (the best guess when KBQA abstains) is one of the graph's answers;
`*_answered_hits@1` count an abstention as a miss (abstention is kb-unanswerable's subject).

    python benchmarks/kb_speed.py [--limit N] [--questions 250]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import REPO, write_results  # noqa: E402

NS = "http://kb.offline-qa.local/ns/"
COUNTRY, CITY = NS + "location.country", NS + "location.citytown"
# (template, relation, direction, the anchor's class): questions a user would type
TEMPLATES = [
    ("What is the capital of {e}?", "location.country.capital", True, COUNTRY),
    ("What currency is used in {e}?", "location.country.currency_used", True, COUNTRY),
    ("Which languages are spoken in {e}?", "location.country.languages_spoken", True, COUNTRY),
    ("Which continent is {e} in?", "location.location.continent", True, COUNTRY),
    ("What is the population of {e}?", "location.statistical_region.population", True, COUNTRY),
    ("Which countries border {e}?", "location.location.adjoin_s", True, COUNTRY),
    ("What is the calling code of {e}?", "location.country.calling_code", True, COUNTRY),
    ("What is the internet domain of {e}?", "location.country.internet_tld", True, COUNTRY),
    ("Which region is {e} part of?", "location.country.region", True, COUNTRY),
    ("In which country is {e}?", "location.location.country", True, CITY),
    ("What is the population of {e}?", "location.statistical_region.population", True, CITY),
    ("What time zone is {e} in?", "location.location.time_zones", True, CITY),
]


def misspell(name: str, rng: random.Random) -> str:
    """One typing error in the longest word of the name (left alone when it has under 5 letters)."""
    words = name.split(" ")
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) < 5:
        return name
    k = rng.randrange(1, len(w) - 1)
    kind = rng.choice(["swap", "delete", "insert", "replace"])
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == "swap":
        w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    elif kind == "delete":
        w = w[:k] + w[k + 1:]
    elif kind == "insert":
        w = w[:k] + rng.choice(letters) + w[k:]
    else:
        w = w[:k] + rng.choice([c for c in letters if c != w[k]]) + w[k + 1:]
    words[i] = w
    return " ".join(words)


def world_questions(graph, n: int, *, templates=TEMPLATES, misspelled_share: float = 0.2,
                    seed: int = 11) -> list[dict]:
    """Questions with their gold answer labels, from the world graph."""
    from kb.sparql import iri

    rng = random.Random(seed)
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    typ = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    pool: dict[str, list[str]] = {}
    for cls in (COUNTRY, CITY):
        rows = graph.select(f"SELECT ?e ?l WHERE {{ ?e {typ} {iri(cls)} ; {label} ?l }} LIMIT 100000")
        pool[cls] = sorted({(str(e), str(lab)) for e, lab in rows})
    out: list[dict] = []
    seen = set()
    n_wrong = 0
    while len(out) < n:
        template, rel, _, cls = rng.choice(templates)
        node, name = rng.choice(pool[cls])
        if cls == CITY and rng.random() < 0.7:  # big cities are what people ask about; keep a few small ones
            node, name = rng.choice(pool[cls][: len(pool[cls])])
        rows = graph.select(f"SELECT ?a ?l WHERE {{ {iri(node)} {iri(NS + rel)} ?a . OPTIONAL {{ ?a {label} ?l }} }} "
                            "LIMIT 1000")
        gold = {str(lab) if lab is not None else str(a) for a, lab in rows}
        if not gold or (template, node) in seen or not name.isascii():
            continue
        # exactly `misspelled_share` of the questions carry a typo, spread evenly: every 5th at 20 %
        wrong = round(misspelled_share * 1000) * (len(out) + 1) >= (n_wrong + 1) * 1000
        typed = misspell(name, rng) if wrong else name
        if wrong and typed == name:
            continue  # a name too short to misspell (every word under 5 letters): another entity takes its turn
        seen.add((template, node))
        n_wrong += wrong
        out.append({"question": template.format(e=typed), "gold": sorted(gold), "misspelled": wrong,
                    "entity": name, "relation": rel})
    return out


def hit(answer, gold: list[str]) -> bool:
    from kb.text import normalise

    if answer is None or answer.no_answer:
        return False
    g = {normalise(x) for x in gold}
    try:
        g |= {normalise(str(float(x))) for x in gold}
        text = normalise(str(float(answer.text)))
    except ValueError:
        text = normalise(answer.text)
    return text in g or normalise(answer.text) in g


def cold_runs(runs: int) -> tuple[list[float], list[float]]:
    qa_exe = Path(sys.executable).parent / "qa"
    cmd = [str(qa_exe), "kbqa", "What currency is used in Japan?"]
    enc = [sys.executable, "-c", "from qa.models import shared_encoder; shared_encoder().encode(['warm'])"]
    cold, encoder = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(enc, cwd=REPO, check=True, capture_output=True)
        encoder.append(time.perf_counter() - t)
    return cold, encoder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--questions", type=int, default=250)
    ap.add_argument("--cold-runs", type=int, default=3)
    args = ap.parse_args(argv)
    from qa.core.settings import Settings
    from qa.engine import Engine

    t0 = time.perf_counter()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    subprocess.run([str(Path(sys.executable).parent / "qa"), "kbqa", "What is the capital of France?"],
                   cwd=REPO, check=True, capture_output=True)  # label index and hash built once, as after install
    cold, encoder = cold_runs(args.cold_runs)
    engine = Engine(Settings.load(kb_graph="", kb_endpoint=""))
    source = engine.source("kbqa")
    source.warm_up()
    questions = world_questions(source.graph, args.limit or args.questions)
    engine.ask("What is the capital of France?", route="kbqa")  # the encoder's first call
    times, exact, wrong, shown_exact, shown_wrong = [], [], [], [], []
    for q in questions:
        t = time.perf_counter()
        resp = engine.ask(q["question"], route="kbqa")
        times.append(1000 * (time.perf_counter() - t))
        top = resp.answers[0] if resp.answers else None
        shown = hit(top, q["gold"])
        ok = hit(top.best_guess if top is not None and top.no_answer else top, q["gold"])
        (wrong if q["misspelled"] else exact).append(ok)
        (shown_wrong if q["misspelled"] else shown_exact).append(shown)
        q["ok"], q["shown_ok"], q["ms"] = ok, shown, round(times[-1], 1)
    qs = statistics.quantiles(times, n=100)
    metrics = {
        "cold_s": statistics.median(cold),
        "cold_encoder_only_s": statistics.median(encoder),
        "warm_p50_ms": statistics.median(times),
        "warm_p95_ms": qs[94],
        "exact_hits@1": 100 * sum(exact) / max(1, len(exact)),
        "misspelled_hits@1": 100 * sum(wrong) / max(1, len(wrong)),
        "exact_answered_hits@1": 100 * sum(shown_exact) / max(1, len(shown_exact)),
        "misspelled_answered_hits@1": 100 * sum(shown_wrong) / max(1, len(shown_wrong)),
        "questions": len(questions),
        "misspelled_questions": len(wrong),
    }
    print(metrics, file=sys.stderr)
    if not args.limit:
        write_results("kb-speed", f"{len(questions)} generated world-graph questions (20% misspelled), seed 11",
                      metrics, wall_s=time.perf_counter() - t0, extra={
                          "cold_runs_s": [round(x, 2) for x in cold],
                          "encoder_only_runs_s": [round(x, 2) for x in encoder],
                          "load_average_at_start": load,
                          "note": "cold = a fresh `qa kbqa` process (label index already cached, as after the "
                                  "first use); cold_encoder_only_s = a fresh process that only loads the encoder "
                                  "and encodes one sentence",
                          "misses": [q for q in questions if not q["ok"]][:60]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
