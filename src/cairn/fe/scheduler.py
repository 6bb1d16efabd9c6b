"""BackgroundScheduler: the FE's one runner of periodic work (checkpoints, the snapshot schedule,
vacuum, compaction, heartbeats). Each named task runs on its own thread, so a long vacuum never
delays a heartbeat; all of them stop when the scheduler closes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cairn.errors import CairnError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """`run` every `interval_seconds`, first after one interval. A CairnError it raises is logged
    as "<name> failed" and the task keeps its schedule."""

    name: str
    interval_seconds: float
    run: Callable[[], object]


class BackgroundScheduler:
    """Runs tasks until `close`. Create it, `add` tasks, then `start`."""

    def __init__(self) -> None:
        self._tasks: list[Task] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    def add(self, name: str, interval_seconds: float, run: Callable[[], object]) -> None:
        """Schedule `run` every `interval_seconds` under `name` (also the thread's name)."""
        self._tasks.append(Task(name, interval_seconds, run))

    @property
    def task_names(self) -> list[str]:
        return [task.name for task in self._tasks]

    def start(self) -> None:
        """Start every task added so far."""
        for task in self._tasks[len(self._threads):]:
            thread = threading.Thread(target=self._loop, args=(task,), name=task.name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        """Stop every task; a run in progress finishes on its own thread."""
        self._closed.set()

    def _loop(self, task: Task) -> None:
        while not self._closed.wait(task.interval_seconds):
            try:
                task.run()
            except CairnError as exc:
                log.warning("%s failed: %s", task.name, exc)
            except Exception:
                log.exception("%s failed unexpectedly", task.name)
