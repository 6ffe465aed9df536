"""The API as a real server process on loopback: overload is refused with 503 + Retry-After (not
left to time out), and a server killed with SIGKILL while it adds documents comes back with every
acknowledged document searchable and nothing half-written; Ctrl-C and `kill` say so and exit non-zero."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server

pytestmark = pytest.mark.server


def test_overload_gets_503_with_retry_after_not_timeouts(corpus_env, tmp_path: Path) -> None:
    server = Server(corpus_env, tmp_path / "server.log", api_workers=1, api_queue=1).start()
    try:
        body = {"question": "When did Nikola Tesla die?", "route": "webqa"}

        def ask(_: int) -> httpx.Response:
            return httpx.post(f"{server.url}/v1/ask", json=body, timeout=60)

        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(ask, range(12)))
        codes = sorted(r.status_code for r in responses)
        assert set(codes) <= {200, 503}, codes
        assert codes.count(200) >= 2 and codes.count(503) >= 1, codes
        for r in responses:
            if r.status_code == 503:
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"]["type"] == "overloaded"
            else:
                assert "1943" in r.json()["answers"][0]["text"]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'qa_rejected_total{reason="queue full"}' in metrics
        # once the burst is over, the server answers again
        assert ask(0).status_code == 200
    finally:
        server.stop()


def _doc(n: int) -> dict:
    return {"id": f"unit-{n}", "title": f"Unit {n}",
            "text": f"The secret password of storage unit number {n} is quokka{n}x. " * 3}


def test_kill_9_while_adding_documents_loses_nothing_acknowledged(corpus_env, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    acked: list[int] = []
    n = 0
    for round_ in range(3):
        server = Server(corpus_env, log).start()
        stop = threading.Event()

        def writer(server: Server, stop: threading.Event) -> None:
            nonlocal n
            while not stop.is_set():
                n += 1
                try:
                    r = httpx.post(f"{server.url}/v1/documents", timeout=30,
                                   json={"collection": "crash", "documents": [_doc(n)]})
                except httpx.HTTPError:
                    return  # killed mid-request: never acknowledged
                if r.status_code == 201:
                    acked.append(n)

        t = threading.Thread(target=writer, args=(server, stop), daemon=True)
        t.start()
        target = len(acked) + 3
        deadline = time.monotonic() + 120
        while len(acked) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05 * (round_ + 1))  # land the kill at different points of the next write
        server.kill()
        stop.set()
        t.join(30)
    assert len(acked) >= 9, acked

    server = Server(corpus_env, log).start()
    try:
        health = httpx.get(f"{server.url}/v1/health").json()
        assert health["ready"]["webqa"], health
        root = Path(corpus_env["QA_INDEX_DIR"])
        assert not [p.name for p in root.iterdir() if p.name.startswith(".")], "half-written folders left"
        from retrieval.index_dir import is_complete

        assert is_complete(root / "crash") and is_complete(root / "notes")
        for k in acked:
            r = httpx.post(f"{server.url}/v1/search", json={"query": f"password storage unit number {k} quokka{k}x",
                                                            "collection": "crash", "k": 1}, timeout=30)
            assert r.status_code == 200, r.text
            top = r.json()["passages"][0]
            assert top["id"] == f"unit-{k}#0" and top["text"] == _doc(k)["text"].strip(), (k, top)
        # the one in flight at each kill: either all there or not there at all
        r = httpx.post(f"{server.url}/v1/search", json={"query": "secret password storage unit", "collection": "crash",
                                                        "k": 50}).json()
        for p in r["passages"]:
            k = int(p["id"].split("-")[1].split("#")[0])
            assert p["text"] == _doc(k)["text"].strip()
    finally:
        server.stop()


@pytest.mark.parametrize(("sig", "word"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")])
def test_ctrl_c_and_kill_say_so_and_exit_non_zero(corpus_env, tmp_path: Path, sig: int, word: str) -> None:
    """uvicorn stops gracefully and returns: `python -m qa.api` ended silently with status 0."""
    log = tmp_path / "server.log"
    server = Server(corpus_env, log).start()
    assert server.proc is not None
    server.proc.send_signal(sig)
    assert server.proc.wait(30) == 128 + sig
    assert f"{word}: the API stopped" in log.read_text(encoding="utf-8")


def test_a_stopped_server_leaves_its_thread_store_one_file(corpus_env, tmp_path: Path) -> None:
    """After `qa serve` stopped, what the API had filed was still in `threads.sqlite-wal` beside the
    store: a copy of `threads.sqlite` alone (a backup) lacked it."""
    import shutil

    from cqa.store import ThreadStore

    store = tmp_path / "threads.sqlite"
    server = Server(corpus_env, tmp_path / "server.log", cqa_store=store).start()
    try:
        r = httpx.post(f"{server.url}/v1/threads", json={"question": "Where do the bikes go at night?",
                                                         "answer": "Into the shed behind the canteen."}, timeout=60)
        assert r.status_code == 201, r.text
        tid = r.json()["thread_id"]
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 128 + signal.SIGTERM
    finally:
        server.stop()
    wal = store.with_name(store.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    shutil.copy(store, tmp_path / "backup.sqlite")
    with ThreadStore(tmp_path / "backup.sqlite") as copy:
        assert [a.text for a in copy.thread(tid).answers] == ["Into the shed behind the canteen."]


def test_a_body_that_trickles_in_is_refused_at_its_deadline(corpus_env, tmp_path: Path) -> None:
    """Clients sending all but the end of a large body each held it in the server's memory for as
    long as they liked (30 such clients: 612 MB, none answered after a minute)."""
    import socket

    server = Server(corpus_env, tmp_path / "server.log", api_body_timeout_s=2).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n" + b'{"question": "' + b"a" * 50_000)
            t0 = time.monotonic()
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"did not arrive within 2 s" in reply and time.monotonic() - t0 < 10
        # a client that hangs up mid-body did nothing wrong with what it sent: it was counted a 400
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n" + b'{"query": "abc')
            time.sleep(0.3)
        for _ in range(50):
            metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
            if 'qa_rejected_total{reason="client gone"} 1.0' in metrics:
                break
            time.sleep(0.1)
        assert 'qa_rejected_total{reason="client gone"} 1.0' in metrics
        assert 'endpoint="/v1/search",status="400"' not in metrics
        # the server goes on answering
        assert httpx.post(f"{server.url}/v1/ask", json={"question": "What is the capital of France?"},
                          timeout=60).status_code == 200
    finally:
        server.stop()


def test_connections_that_send_no_request_are_closed_and_the_cap_answers_json(corpus_env, tmp_path: Path) -> None:
    """Nine silent sockets held all eight connection slots for as long as they stayed open (one
    client took the API down: /v1/health answered uvicorn's plain-text 503), and a request head
    sent a line at a time held its slot likewise."""
    import json
    import socket

    server = Server(corpus_env, tmp_path / "server.log", api_max_connections=8, api_header_timeout_s=2).start()
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(9)]
        time.sleep(0.3)
        over = httpx.get(f"{server.url}/v1/ready", timeout=10)
        assert over.status_code == 503 and over.json()["error"]["type"] == "overloaded"
        assert int(over.headers["Retry-After"]) >= 1 and "connection limit" in over.json()["error"]["message"]
        # liveness is answered at the cap: an orchestrator would restart a server that is only busy
        assert httpx.get(f"{server.url}/v1/health", timeout=10).status_code == 200
        time.sleep(2.5)
        assert httpx.get(f"{server.url}/v1/health", timeout=10).status_code == 200
        for sock in idle:
            assert sock.recv(1) == b""  # closed by the server
            sock.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
            t0 = time.monotonic()
            with pytest.raises(OSError):  # noqa: PT012 - the server closes it part-way through the lines
                slow.sendall(b"GET /v1/health HTTP/1.1\r\n")
                for _ in range(20):
                    time.sleep(0.5)
                    slow.sendall(b"X-Slow: 1\r\n")
            assert time.monotonic() - t0 < 6
        # a keep-alive client that asks in time is served on the same connection
        with httpx.Client(timeout=10) as c:
            assert [c.get(f"{server.url}/v1/health").status_code for _ in range(3)] == [200] * 3
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'qa_rejected_total{reason="connection limit"} 1.0' in metrics
        # a request the parser refuses: uvicorn's plain-text 400, counted nowhere, is the API's JSON
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as bad:
            bad.sendall(b"NOT A REQUEST LINE\r\n\r\n")
            reply = b""
            while chunk := bad.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
        assert json.loads(body)["error"]["type"] == "bad_request"
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'qa_http_requests_total{endpoint="unmatched",method="other",status="400"} 1.0' in metrics
    finally:
        server.stop()


def test_a_request_whose_client_left_while_queued_is_not_computed(corpus_env, tmp_path: Path) -> None:
    """Clients that give up (a load balancer's timeout, then a retry elsewhere) had their queued
    requests computed all the same: twenty abandoned asks kept the worker busy for seconds."""
    import json
    import socket

    server = Server(corpus_env, tmp_path / "server.log", api_workers=1, api_queue=16).start()
    try:
        context = "The vault code is 2222. " * 3000  # a read that holds the one worker a while
        busy = threading.Thread(target=httpx.post, args=(f"{server.url}/v1/read",),
                                kwargs={"json": {"question": "What is the vault code?", "context": context},
                                        "timeout": 120})
        busy.start()
        time.sleep(0.3)
        socks = []
        for i in range(4):
            body = json.dumps({"question": f"What is the capital of country {i}?"}).encode()
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            socks.append(sock)
        time.sleep(0.2)
        for sock in socks:
            sock.close()
        busy.join(120)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{server.url}/metrics").text
            if 'qa_rejected_total{reason="client gone"} 4.0' in metrics:
                break
            time.sleep(0.2)
        assert 'qa_rejected_total{reason="client gone"} 4.0' in metrics
        assert 'qa_http_requests_total{endpoint="/v1/ask",method="POST",status="200"}' not in metrics
        assert httpx.post(f"{server.url}/v1/ask", json={"question": "Who wrote Hamlet?"}, timeout=60).status_code == 200
    finally:
        server.stop()


def test_the_api_stops_when_qa_serve_is_killed(corpus_env, tmp_path: Path) -> None:
    """A `kill -9` of `qa serve` left the API it started serving and writing (shown only as
    `python -m qa.api`), and the next `qa serve` found the port in use."""
    import os
    import subprocess
    import sys

    from tests.api.conftest import REPO, free_port, wait_ready

    port = free_port()
    env = {**os.environ, **corpus_env, "OMP_NUM_THREADS": "1"}
    log = (tmp_path / "serve.log").open("ab")
    serve = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-ui", "--host", "127.0.0.1", "--port",
                              str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json())
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
            except httpx.HTTPError:
                break  # the API has stopped: nothing listens there any more
            time.sleep(0.3)
        else:
            pytest.fail("the API went on serving after qa serve was killed")
    finally:
        if serve.poll() is None:
            serve.kill()


def test_the_log_has_a_line_per_request_with_its_id_and_nothing_users_typed(corpus_env, tmp_path: Path) -> None:
    """An operator had no access log, no request ids, no timestamps and no level to set; a broken
    collection was a 500 whose two identical tracebacks never named it, and its question's text
    was the only line logged about it."""
    import re

    log = tmp_path / "server.log"
    server = Server(corpus_env, log, index_dir=tmp_path / "collections", api_key="k" * 20,
                    api_load_choice_reader="false").start()
    try:
        added = httpx.post(f"{server.url}/v1/documents", headers={"X-API-Key": "k" * 20}, timeout=120, json={
            "collection": "opsnotes", "documents": [{"id": "m1", "text": "The release manager is Dana Ortiz."}]})
        assert added.status_code == 201, added.text
        asked = httpx.post(f"{server.url}/v1/ask", json={"question": "Who is the secret release manager zqx?",
                                                         "collection": "opsnotes"},
                           headers={"X-Request-ID": "trace-42"}, timeout=60)
        assert asked.status_code == 200 and asked.headers["x-request-id"] == "trace-42"
        made = httpx.get(f"{server.url}/v1/health", headers={"X-Request-ID": "bad id \"forged\" 200"}).headers
        assert re.fullmatch(r"[0-9a-f]{32}", made["x-request-id"])  # not a header that forges a log line
        refused = httpx.delete(f"{server.url}/v1/documents/m1", headers={"X-Request-ID": "nokey-1"})
        assert refused.status_code == 401
    finally:
        server.stop()
    (tmp_path / "collections" / "opsnotes" / "docstore.sqlite").write_bytes(b"garbage" * 1000)
    server.start()
    try:
        assert httpx.get(f"{server.url}/v1/collections").json()["collections"] == []  # left out at start, said
        assert httpx.get(f"{server.url}/v1/health").json()["left_out"] == ["opsnotes"]  # before anyone asks for it
        searched = httpx.post(f"{server.url}/v1/search", json={"query": "release manager", "collection": "opsnotes"},
                              headers={"X-Request-ID": "broken-7"}, timeout=60)
        assert searched.status_code == 503, searched.text
        error = searched.json()["error"]
        assert error["type"] == "source_unavailable" and "'opsnotes'" in error["message"]
        assert "collections" not in error["message"]  # no server path to a client
        health = httpx.get(f"{server.url}/v1/health").json()
        # one collection that does not read is no source down: named in left_out, webqa still ready
        assert health["failing"] == {} and health["left_out"] == ["opsnotes"]
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        server.stop()
    text = log.read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{stamp} INFO qa\.api\.access \[trace-42\] 127\.0\.0\.1 \"POST /v1/ask\" 200 [\d.]+ ms$",
                     text, re.M), text[-3000:]
    assert re.search(r"\[nokey-1\] .*\"DELETE /v1/documents/m1\" 401", text)
    broken = [line for line in text.splitlines() if "[broken-7]" in line]
    assert any("WARNING" in line and "opsnotes" in line and "docstore.sqlite" in line for line in broken), broken
    assert any('"POST /v1/search" 503' in line for line in broken)
    assert "secret release manager" not in text and "k" * 20 not in text
    assert "Traceback" not in text
    assert 'qa_errors_total{endpoint="/v1/ready"' not in metrics
