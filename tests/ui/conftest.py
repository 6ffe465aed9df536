"""The UI tests run the real stack: the API server over the small corpus (tests/api/corpus.py),
the Streamlit app talking to it, and Debian's chromium driven by Playwright (nothing downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import REPO, Server, corpus_env, free_port, wait_ready

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def chromium_path() -> str | None:
    return os.environ.get("QA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def ui_stack(corpus_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium with apt)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    root = tmp_path_factory.mktemp("ui")
    env = corpus_env
    api = Server(env, root / "api.log").start()
    port = free_port()
    ui_env = {**os.environ, **env, "QA_API_URL": api.url}
    ui = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "ui" / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--global.developmentMode", "false", "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"],
        cwd=REPO, env=ui_env, stdout=(root / "ui.log").open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(lambda: {"status": "ok"} if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
                   else {}, timeout=120)
        yield {"ui": url, "api": api.url, "root": str(root)}
    finally:
        ui.terminate()
        try:
            ui.wait(10)
        except subprocess.TimeoutExpired:
            ui.kill()
        api.stop()


@pytest.fixture(scope="session")
def browser(ui_stack) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


__all__ = ["Path", "corpus_env"]
