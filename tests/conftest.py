"""The whole suite runs against a cache of its own, and under CI nothing it ships may be skipped.

Settings fix the default thread store and collections folder under the cache when `qa.core.settings`
is first imported, so the cache is chosen here, before any test module imports it: tests that ask
on the default routes read and wrote the developer's own thread store (`~/.cache/offline-qa`), and
their answers depended on what was in it. Subprocesses the tests start inherit it. Only the ONNX
copies of the models (named by the weights' fingerprint, so never stale) are kept from one session
to the next, in a folder of the temporary directory: building them takes a minute.

A test skips where something it needs is missing on a developer's machine (the shared data, the
Oxigraph server, the trained readers of a fresh clone whose large files did not come). Under CI
(`CI` set: `.ci/run` sets it) what the repository ships, `../shared` holds or `.ci/run`
installs is there by definition, so such a skip is a failure: a moved model folder or a broken
install would otherwise pass as a green run with a few tests fewer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_CACHE = tempfile.mkdtemp(prefix="offline-qa-tests-")
os.environ["XDG_CACHE_HOME"] = _CACHE
_ONNX = Path(tempfile.gettempdir()) / f"offline-qa-tests-onnx-{os.getuid()}"
_ONNX.mkdir(exist_ok=True)
(Path(_CACHE) / "offline-qa").mkdir()
(Path(_CACHE) / "offline-qa" / "onnx").symlink_to(_ONNX, target_is_directory=True)

# skips that say something CI must have is missing (the others: a GPU present, running as root, ...)
MUST_HAVE = ("no shipped reader", "no prebuilt default index", "../shared/data", "shared data absent",
             "oxigraph server", "no question judge installed", "chromium not installed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001 - pytest's hook signature
    outcome = yield
    report = outcome.get_result()
    if not (os.environ.get("CI") and report.skipped):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(m in reason for m in MUST_HAVE):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where it must run: {reason}"


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001 - pytest's hook signature
    shutil.rmtree(_CACHE, ignore_errors=True)
