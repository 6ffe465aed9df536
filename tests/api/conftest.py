"""Fixtures: one real engine over a small collection and graph built in a temporary folder, served
in-process (FastAPI's TestClient) or as a real uvicorn server on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from tests.api.corpus import build

torch.set_num_threads(1)  # shared 2-core machines: oversubscribed threads make every model slower
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpus_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("api")
    env = build(root)
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]  # the graph's label index is cached here
    yield env
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def api_settings(corpus_env: dict[str, str]):
    from qa.core.settings import Settings

    return Settings(index_dir=corpus_env["QA_INDEX_DIR"], include_default=False, kb_graph=corpus_env["QA_KB_GRAPH"],
                    cqa_store=corpus_env["QA_CQA_STORE"], cqa_seed=False, api_batch_window_ms=2.0)


@pytest.fixture(scope="session")
def app(api_settings):
    from qa.api import create_app

    return create_app(api_settings)


@pytest.fixture(scope="session")
def client(app) -> Iterator:
    from fastapi.testclient import TestClient

    with TestClient(base_url="http://127.0.0.1", app=app, raise_server_exceptions=False) as c:
        wait_ready(lambda: c.get("/v1/health").json())
        yield c


def wait_ready(get, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            h = get()
            if h.get("status") == "ok":
                return h
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.3)
    raise TimeoutError("the API did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m qa.api` in its own process on a loopback port."""

    def __init__(self, env: dict[str, str], log: Path, **settings: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "OMP_NUM_THREADS": "1", "QA_API_PORT": str(self.port),
                    **{f"QA_{k.upper()}": str(v) for k, v in settings.items()}}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        # a child inherits an ignored SIGINT (a shell's background job); a user's terminal does not
        self.proc = subprocess.Popen([sys.executable, "-m", "qa.api"], cwd=REPO, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        wait_ready(lambda: httpx.get(f"{self.url}/v1/health", timeout=2).json())
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
