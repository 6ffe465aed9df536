"""The whole suite runs against a cache of its own.

Settings fix the default thread store and collections folder under the cache when `qa.core.settings`
is first imported, so the cache is chosen here, before any test module imports it: tests that ask
on the default routes read and wrote the developer's own thread store (`~/.cache/offline-qa`), and
their answers depended on what was in it. Subprocesses the tests start inherit it. The ONNX copies
of the models are built into it once per session, as on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="offline-qa-tests-")
os.environ["XDG_CACHE_HOME"] = _CACHE


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001 - pytest's hook signature
    shutil.rmtree(_CACHE, ignore_errors=True)
