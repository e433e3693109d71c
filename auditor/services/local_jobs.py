"""The in-process job runner of the embedded (SQLite) default: threads of this process.

It runs the same `run_job` on the same job records as the PostgreSQL workers; only
the hand-over differs (a thread pool here, procrastinate's queue there). Every minute,
and when it starts, it takes over the jobs a stopped process left behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

REAP_SECONDS = 60.0
log = logging.getLogger(__name__)


class LocalQueue:
    """Runs each job id on one of a few threads of this process."""

    def __init__(self, run: Callable[[str], object], threads: int = 2) -> None:
        self._run = run
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="auditor-job")
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None

    def start_reaper(self, reap: Callable[[], object]) -> None:
        """Call reap now and every minute (it hands stalled jobs back to this queue)."""
        self._reaper = threading.Thread(target=self._reap_every_minute, args=(reap,),
                                        name="auditor-job-reaper", daemon=True)
        self._reaper.start()

    def enqueue(self, job_id: str) -> None:
        """Run the job on the next free thread."""
        self._pool.submit(self._run_logged, job_id)

    def _run_logged(self, job_id: str) -> None:
        try:
            self._run(job_id)
        except Exception:  # run_job records job failures; this is the store itself failing
            log.exception("job %s could not be run", job_id)

    def _reap_every_minute(self, reap: Callable[[], object]) -> None:
        while True:
            try:
                reap()
            except Exception:
                log.warning("stalled jobs not looked for", exc_info=True)
            if self._closed.wait(REAP_SECONDS):
                return

    def close(self) -> None:
        """Finish the jobs taken and the look for stalled ones under way; take no more.

        The reaper is joined because a reap in flight holds one of the store's pooled
        connections: disposed under it, that connection would be left open in a pool
        nobody closes."""
        self._closed.set()
        self._pool.shutdown(wait=True)
        if self._reaper is not None:
            self._reaper.join()
