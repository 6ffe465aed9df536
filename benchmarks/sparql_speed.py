"""sparql-speed: the gold PathQuestion and CK25 queries on rdflib's default store, the Oxigraph store
(oxrdflib) and the Oxigraph server over HTTP (SPARQLWrapper), all through kb.store's interface.

Query set: for each PathQuestion set, the gold relation path of up to 250 questions (fixed seed)
as a SELECT over that set's KB; plus the 50 CK25 gold queries over prod-inst.ttl. Each system runs
the whole set `--repeat` times; queries that fail on any system are reported and left out of the
timing for all. Speed is reported as queries/s and as ratios measured in the same run.

    python benchmarks/sparql_speed.py [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_results  # noqa: E402
from benchmarks.pathquestion import SETS, _find, read_questions  # noqa: E402
from kb.loaders import entity_iri, load_file  # noqa: E402
from kb.pathquery import gold_sparql  # noqa: E402
from kb.server import OxigraphServer  # noqa: E402
from kb.sparql import check_read_only  # noqa: E402
from kb.store import EmbeddedGraph, RemoteGraph  # noqa: E402
from qa.core.paths import SHARED_DATA  # noqa: E402

CK25 = SHARED_DATA / "kbqa" / "ck25"


def query_sets(limit: int | None) -> list[tuple[str, Path, str, list[str]]]:
    import yaml

    out = []
    for name, kb in SETS.items():
        rows = read_questions(name)
        random.Random(13).shuffle(rows)
        rows = rows[: limit or 250]
        qs = [gold_sparql(entity_iri(r["subject"]), r["relations"]) for r in rows]
        out.append((name, _find(kb), "tsv", qs))
    data = yaml.safe_load((CK25 / "questions.yml").read_text(encoding="utf-8"))
    qs = [q["query"]["sparql"] for q in data["questions"]][: limit or None]
    out.append(("CK25", CK25 / "graphs" / "prod-inst.ttl.xz", None, qs))
    return out


def run(graph, queries: list[str]) -> tuple[list, set[int]]:
    results, failed = [], set()
    for i, q in enumerate(queries):
        try:
            if check_read_only(q) == "ask":
                results.append(graph.ask(q, timeout_s=60))
            else:
                results.append(sorted(map(str, graph.select(q, timeout_s=60))))
        except Exception:  # noqa: BLE001 - a failure is recorded, not fatal
            results.append(None)
            failed.add(i)
    return results, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not CK25.exists():
        print(f"benchmark data not found: {CK25} (the shared data folder sits beside the repository)",
              file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    systems = {"rdflib-default": 0.0, "oxigraph-store": 0.0, "oxigraph-server-http": 0.0}
    counted = 0
    failures: dict[str, list[str]] = {k: [] for k in systems}
    agree = 0
    with OxigraphServer() as server:
        for name, path, fmt, queries in query_sets(args.limit):
            graphs = {}
            for store, key in (("default", "rdflib-default"), ("Oxigraph", "oxigraph-store")):
                g = EmbeddedGraph(store=store, timeout_s=60)
                load_file(g, path, fmt=fmt)
                graphs[key] = g
            server.load(graphs["oxigraph-store"])
            graphs["oxigraph-server-http"] = RemoteGraph(server.query_url, timeout_s=60)
            first = {k: run(g, queries) for k, g in graphs.items()}  # warm-up and correctness
            bad = set().union(*(f for _, f in first.values()))
            for k, (_, f) in first.items():
                failures[k] += [f"{name}#{i + 1}" for i in sorted(f)]
            keep = [q for i, q in enumerate(queries) if i not in bad]
            ref = [r for i, r in enumerate(first["oxigraph-store"][0]) if i not in bad]
            agree += sum(r == s for r, s in zip(ref, [r for i, r in enumerate(first["oxigraph-server-http"][0])
                                                      if i not in bad], strict=True))
            for k, g in graphs.items():
                start = time.perf_counter()
                for _ in range(args.repeat):
                    run(g, keep)
                systems[k] += time.perf_counter() - start
            counted += len(keep) * args.repeat
            print(f"{name}: {len(keep)}/{len(queries)} queries timed; failures {sorted(bad)}", file=sys.stderr)
    per = {k: {"queries_per_s": counted / v, "seconds": v, "queries": counted} for k, v in systems.items()}
    metrics = {
        "oxigraph_vs_rdflib": per["oxigraph-store"]["queries_per_s"] / per["rdflib-default"]["queries_per_s"],
        "server_vs_rdflib": per["oxigraph-server-http"]["queries_per_s"] / per["rdflib-default"]["queries_per_s"],
        "server_vs_oxigraph_store": per["oxigraph-server-http"]["queries_per_s"]
        / per["oxigraph-store"]["queries_per_s"],
        "server_store_agreement": 100 * agree / max(1, counted // args.repeat),
    }
    for k, v in per.items():
        print(f"{k}: {v['queries_per_s']:.1f} queries/s", file=sys.stderr)
    print(metrics, file=sys.stderr)
    if not args.limit:
        write_results("sparql-speed", "PathQuestion gold paths (250 per set) + CK25 gold queries (50)", metrics,
                      wall_s=time.perf_counter() - t0, systems=per,
                      extra={"failures": failures, "repeat": args.repeat,
                             "note": "through kb.store (read-only guard included); "
                                     "server = `oxigraph serve` on loopback"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
