"""api-load: the REST API on the embedded default under load, with locust headless on loopback.

1. Start `python -m qa.api` on a free loopback port (embedded passages + world graph), wait until
   every source has loaded, warm it with a few questions.
2. Single client, warm: 40 questions per route one after another (webqa, kbqa, cqa, and routed:
   the router picks among the three); p50/p95 per route.
3. Load: locust headless, 8 users x 60 s (bounded: the run stops at 60 s and each user after
   MAX_REQUESTS_PER_USER requests), no think time, questions of every route mixed 1:1:1:1:
   throughput, p50/p95/p99 overall and per route, errors, the server's resident memory.
4. Overload: 64 simultaneous clients against the default 4 workers and a queue of 16: every request must get
   an answer or a 503 with Retry-After within the client's timeout (no timeouts).

    python benchmarks/api_load.py                  # -> benchmarks/results/api-load.json
    python benchmarks/api_load.py --users 2 --seconds 10 --out /tmp/x.json   # quick look

This file is also the locustfile (the `QAUser` class below).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WEBQA = [
    "Where is the Eiffel Tower?", "Who wrote Pride and Prejudice?", "When was Microsoft founded?",
    "Who proposed the theory of general relativity?", "What is the largest planet in the Solar System?",
    "Who painted the Mona Lisa?", "What is photosynthesis?", "Who discovered penicillin?",
    "When did the Second World War end?", "What is the speed of light?", "Who was the first president of the "
    "United States?", "What language is spoken in Brazil?", "Who invented the telephone?",
    "What is the boiling point of water?", "Who wrote Hamlet?", "What is DNA?", "Where is Mount Everest?",
    "Who founded Apple?", "What is the Great Barrier Reef?", "Who composed the Magic Flute?",
]
KBQA = [
    "What is the capital of France?", "What currency is used in Japan?", "Which countries border Switzerland?",
    "What is the capital of Australia?", "What continent is Kenya in?", "What is the currency of Brazil?",
    "What language is spoken in Argentina?", "What is the capital of Canada?", "Which countries border Spain?",
    "What is the population of Berlin?", "What is the capital of Egypt?", "What currency does Sweden use?",
    "What is the most populous city in Germany?", "How many countries border Germany?",
    "Is Paris the capital of France?", "What is the capital of India?", "Which continent is Peru in?",
    "What is the capital of Norway?", "What currency is used in India?", "What is the capital of Italy?",
]
# community QA: reworded questions that the shipped seed of answered questions holds (never its exact text)
CQA = [
    "What are fingernails made of?", "Which country makes the most coffee?", "Who made the cartoon Futurama?",
    "What is the biggest planet in the solar system?", "How many ribs does a person have?",
    "Which metal is liquid at room temperature?", "What grows out of an acorn?", "Who came up with the steam engine?",
    "Which vitamin does sunlight help your skin make?", "What is the tallest kind of dog?",
    "What pulls so hard that not even light gets out?", "Who wrote the Winnie the Pooh books?",
]
ROUTED = WEBQA[:12] + KBQA[:12] + CQA  # route "auto": the router chooses
ROUTES = {"webqa": WEBQA, "kbqa": KBQA, "cqa": CQA, "auto": ROUTED}
MAX_REQUESTS_PER_USER = 5_000

try:  # the locustfile part: only when locust imports this module
    from locust import HttpUser, task

    class QAUser(HttpUser):
        """A client asking questions back to back: passages, graph, answered questions and routed."""

        wait_time = staticmethod(lambda: 0)

        def on_start(self) -> None:
            self.count = 0
            self.rng = random.Random()

        def _ask(self, route: str, questions: list[str]) -> None:
            self.count += 1
            if self.count > MAX_REQUESTS_PER_USER:
                self.stop()
                return
            with self.client.post("/v1/ask", json={"question": self.rng.choice(questions), "route": route},
                                  name=f"/v1/ask {route}", catch_response=True, timeout=60) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                elif not r.json().get("answers"):
                    r.failure("no answers in the response")

        @task
        def webqa(self) -> None:
            self._ask("webqa", WEBQA)

        @task
        def kbqa(self) -> None:
            self._ask("kbqa", KBQA)

        @task
        def cqa(self) -> None:
            self._ask("cqa", CQA)

        @task
        def auto(self) -> None:
            self._ask("auto", ROUTED)
except ImportError:  # pragma: no cover - locust is a dev dependency
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def start_server(port: int, log: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "QA_API_PORT": str(port), "QA_API_HOST": "127.0.0.1", **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "qa.api"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the API server stopped (exit {proc.returncode}); see {log}")
        try:
            h = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json()
            if h["status"] == "ok":
                if not all(h["ready"].get(r) for r in ("webqa", "kbqa", "cqa")):
                    sys.exit(f"a source did not load: {h['ready']}; see {log}")
                return proc
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("the API server did not start within 10 minutes")


def single_client(url: str, n: int) -> dict[str, list[float]]:
    import httpx

    out: dict[str, list[float]] = {route: [] for route in ROUTES}
    with httpx.Client(timeout=60) as c:
        for route, questions in ROUTES.items():
            for q in itertools.islice(itertools.cycle(questions), n):
                t = time.perf_counter()
                r = c.post(f"{url}/v1/ask", json={"question": q, "route": route})
                dt = (time.perf_counter() - t) * 1000
                if r.status_code != 200:
                    sys.exit(f"single-client {route} {q!r}: HTTP {r.status_code} {r.text[:300]}")
                out[route].append(dt)
    return out


def overload(url: str, clients: int) -> dict[str, float]:
    import httpx

    def one(i: int) -> tuple[int, str, float]:
        t = time.perf_counter()
        try:
            r = httpx.post(f"{url}/v1/ask", json={"question": WEBQA[i % len(WEBQA)], "route": "webqa"}, timeout=60)
            return r.status_code, r.headers.get("Retry-After", ""), time.perf_counter() - t
        except httpx.TimeoutException:
            return -1, "", time.perf_counter() - t

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(clients)))
    rejected = [r for r in results if r[0] == 503]
    return {
        "overload_clients": clients,
        "overload_200": sum(r[0] == 200 for r in results),
        "overload_503": len(rejected),
        "overload_503_with_retry_after": sum(r[1].isdigit() and int(r[1]) >= 1 for r in rejected),
        "overload_timeouts": sum(r[0] == -1 for r in results),
        "overload_other": sum(r[0] not in (200, 503, -1) for r in results),
        "overload_503_max_ms": round(max((r[2] for r in rejected), default=0.0) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.common import RESULTS, Timer, write_results

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--single", type=int, default=40, help="single-client questions per route")
    ap.add_argument("--overload-clients", type=int, default=64)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    timer = Timer()
    import httpx
    import psutil

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="api-load-"))
    server = start_server(port, work / "server.log", {})
    try:
        for route, questions in ROUTES.items():  # warm: first calls pay for lazy pieces (caches, SPARQL store)
            for q in questions[:3]:
                httpx.post(f"{url}/v1/ask", json={"question": q, "route": route}, timeout=120)
        load_before = os.getloadavg()
        single = single_client(url, args.single)
        print("single client p50: " + ", ".join(f"{r} {statistics.median(v):.0f} ms" for r, v in single.items())
              + f" (load {load_before[0]:.1f})")
        prefix = work / "locust"
        cmd = [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve()), "--headless", "-u",
               str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host", url, "--csv", str(prefix),
               "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
        subprocess.run(cmd, check=False, timeout=args.seconds + 120)
        rows = {r["Name"]: r for r in csv.DictReader((work / "locust_stats.csv").open())}
        total = rows["Aggregated"]
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        load_during = os.getloadavg()
        over = overload(url, args.overload_clients)
        metrics_text = httpx.get(f"{url}/metrics").text
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    per_route = {}
    for route in ROUTES:
        r = rows.get(f"/v1/ask {route}", {})
        per_route[route] = {"requests": int(r.get("Request Count", 0)), "failures": int(r.get("Failure Count", 0)),
                            "p50_ms": float(r.get("50%", 0)), "p95_ms": float(r.get("95%", 0)),
                            "p99_ms": float(r.get("99%", 0)), "rps": round(float(r.get("Requests/s", 0)), 2)}
    batch = [line for line in metrics_text.splitlines() if line.startswith("qa_reader_batch_requests_sum")
             or line.startswith("qa_reader_batch_requests_count")]
    metrics = {
        "errors": int(total["Failure Count"]),
        "requests": int(total["Request Count"]),
        "rps": round(float(total["Requests/s"]), 2),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        **{f"single_p{p}_ms_{route}": round(percentile(v, p), 1) for route, v in single.items() for p in (50, 95)},
        "rss_mb": round(rss_mb, 1),
        **over,
    }
    print(json.dumps({"metrics": metrics, "routes": per_route}, indent=2))
    path = write_results(
        "api-load", f"REST API on the embedded default: locust {args.users} users x {args.seconds} s on loopback, "
                    "/v1/ask with webqa, kbqa, cqa and routed questions mixed 1:1:1:1", metrics, wall_s=timer.elapsed,
        systems=per_route,
        extra={"load_average": {"before_single_client": [round(x, 2) for x in load_before],
                                "after_load": [round(x, 2) for x in load_during]},
               "server": "python -m qa.api (uvicorn, default settings: QA_API_WORKERS 4, queue 16, "
                         "one reader thread, each request read alone on a CPU)",
               "reader_batches": batch},
        # a shorter or smaller run is a quick look, kept apart from the published figures
        out=args.out or (RESULTS / ("api-load.json" if (args.users, args.seconds, args.single, args.overload_clients)
                                    == (8, 60, 40, 64) else "api-load-limit.json")))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
