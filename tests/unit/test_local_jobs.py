"""The in-process job runner stops cleanly: nothing it started is still at work after close."""

from __future__ import annotations

import threading
import time

from auditor.services.local_jobs import LocalQueue


def test_close_waits_for_the_look_for_stalled_jobs_under_way() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_reap() -> None:  # a reap holding a store connection for a while
        started.set()
        release.wait(5)
        finished.set()

    queue = LocalQueue(lambda job_id: None, threads=1)
    queue.start_reaper(slow_reap)
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    began = time.monotonic()
    queue.close()
    assert finished.is_set()  # the store may be disposed now: no reap holds a connection
    assert time.monotonic() - began >= 0.15


def test_close_finishes_the_jobs_taken() -> None:
    ran: list[str] = []
    queue = LocalQueue(lambda job_id: (time.sleep(0.1), ran.append(job_id)), threads=1)
    queue.enqueue("a")
    queue.enqueue("b")
    queue.close()
    assert ran == ["a", "b"]
