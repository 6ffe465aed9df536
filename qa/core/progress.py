"""Progress that reaches a log too. A rich bar redraws only on a terminal: with standard error in a
file (`qa index notes/ 2> index.log`, a cron job, CI) it stayed empty for the whole run, then got
one finished bar, so a six-minute build looked hung. Off a terminal, `LoggedProgress` writes a
plain line every `every_s` seconds instead: what it does, how far, how long it has taken."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import Progress, TaskID


class LoggedProgress(Progress):
    def __init__(self, *columns: Any, every_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self.every_s = every_s
        self._said: dict[TaskID, float] = {}

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(description, *args, **kwargs)
        self._said[task_id] = time.monotonic()
        return task_id

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def update(self, task_id: TaskID, *args: Any, **kwargs: Any) -> None:
        super().update(task_id, *args, **kwargs)
        self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        if self.console.is_terminal or self.console.quiet:
            return
        now = time.monotonic()
        if now - self._said.get(task_id, now) < self.every_s:
            return
        self._said[task_id] = now
        task = self._tasks.get(task_id)
        if task is None:
            return
        done = f"{task.completed:,.0f}" + (f" of {task.total:,.0f} ({100 * task.completed / task.total:.0f} %)"
                                           if task.total else "")
        left = f", about {task.time_remaining:,.0f} s left" if task.time_remaining else ""
        self.console.print(f"{task.description}: {done}, {task.elapsed or 0:,.0f} s so far{left}",
                           markup=False, highlight=False, soft_wrap=True)
