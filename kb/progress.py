"""Progress on a terminal for KBQA's one-off preparation of a graph.

Opening a large graph the first time takes seconds to minutes: its file is parsed, hashed (the
key of its cached artefacts) and its label index built. A user of `qa kbqa --graph big.ttl` sees
each stage on stderr as a transient bar; when stderr is not a terminal (a server, a pipe, a test)
the stages go to the log instead, so nothing is drawn where no one reads it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total); total 0: not known


class Stages:
    """A `Progress` callback: one bar whose description is the current stage, drawn only once the
    work has taken `delay_s` (fast work shows nothing); `close()` removes it."""

    def __init__(self, enabled: bool | None = None, delay_s: float = 1.0, console: Console | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._console = console
        self._bar: Bar | None = None
        self._task: TaskID | None = None
        self._state = ("", 0, 0)
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._closed = False
        self._timer: threading.Timer | None = None
        if self.enabled:
            self._timer = threading.Timer(delay_s, self._show)
            self._timer.daemon = True
            self._timer.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._state[0]:
            if self._state[0]:
                log.info("%s: %.1fs", self._state[0], time.perf_counter() - self._t0)
            self._t0 = time.perf_counter()
            log.info("%s", stage)
        with self._lock:
            self._state = (stage, done, total)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, description=stage, total=total or None, completed=done)

    def _show(self) -> None:
        from rich.console import Console
        from rich.errors import LiveError
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._closed or self._bar is not None or not self._state[0]:
                return
            stage, done, total = self._state
            # a graph's file name is text, never markup ("[/]" in a name must not break the bar)
            self._bar = Progress(TextColumn("{task.description}", markup=False, style="bold"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self._console or Console(stderr=True),
                                 transient=True)
            self._task = self._bar.add_task(stage, total=total or None, completed=done)
            try:
                self._bar.start()
            except LiveError:  # the caller draws its own progress: it reports the stages then
                self._bar = None
                self._closed = True

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.stop()
                self._bar = None

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
