"""Keep a worker process running: restart it when it dies (SIGSEGV, MemoryError, kill -9).

The worker resumes from the event store on its own (see `services.worker`), so the
supervisor only has to start it again, with a short back-off so a crash loop does
not spin. A clean exit (status 0) ends supervision.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Supervision:
    """What happened under supervision: each child's exit status, in order."""

    exits: list[int] = field(default_factory=list)

    @property
    def restarts(self) -> int:
        """Return how many times the worker was started again after a crash."""
        return max(0, len(self.exits) - 1)


def supervise(command: Sequence[str], max_restarts: int = 100, backoff: float = 0.5,
              on_start: Callable[[subprocess.Popen[bytes]], None] | None = None) -> Supervision:
    """Run command, restarting it after any abnormal exit, up to max_restarts times."""
    record = Supervision()
    while True:
        child = subprocess.Popen(list(command))
        if on_start:
            on_start(child)
        status = child.wait()
        record.exits.append(status)
        if status == 0 or record.restarts >= max_restarts:
            return record
        time.sleep(backoff)
