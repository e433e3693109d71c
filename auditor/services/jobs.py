"""Long work as jobs: submit one, run it wherever a runner is, record how far it got.

Audits, backtests, packet renders, reports and METRC syncs take seconds to minutes,
too long for a request thread. A request submits a job (a row in the store of record,
`queued`) and the queue hands its id to a runner; `run_job` is the one way any runner,
in-process or a separate worker, runs it: it claims the job (`running`), calls the job
kind's function with a context to report progress, and stores the result or the error.

A runner that dies leaves its job `running` with a heartbeat that stops moving; after
LEASE the job counts as stalled and `requeue_stalled` hands it out again, up to
MAX_ATTEMPTS runs in all, after which it is marked failed with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditor.domain.errors import AuditorError, InvalidInput
from auditor.domain.trail import acting_as
from auditor.services.job_ports import QUEUED, Job, JobQueue, JobStore, OutputFile

LEASE = timedelta(seconds=60)  # a running job silent this long lost its runner
HEARTBEAT_SECONDS = 10.0
MAX_ATTEMPTS = 3
PROGRESS_SECONDS = 0.5  # progress is written at most this often (the last step always)
log = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    """What a job function returns: a JSON result, and a file if it made one."""

    result: dict[str, Any]
    output: OutputFile | None = None


@dataclass
class JobContext:
    """What a job function gets besides its workspace: its job, and a way to report progress."""

    job: Job
    store: JobStore
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _written: float = 0.0

    def progress(self, done: int, total: int, note: str = "") -> None:
        """Record that done of total steps are over (throttled; the last one always)."""
        now = time.monotonic()
        if done < total and now - self._written < PROGRESS_SECONDS:
            return
        self._written = now
        self.store.progress(self.job.id, done, total, note[:200], self.clock())


JobFunction = Callable[[JobContext, Any], JobOutcome]


class Jobs:
    """Submits jobs to a queue and reads them back."""

    def __init__(self, store: JobStore, queue: JobQueue) -> None:
        self.store = store
        self.queue = queue

    def submit(self, kind: str, license_number: str, subject: str, params: dict[str, Any],
               actor: str, now: datetime | None = None) -> Job:
        """Record a job and queue it; an active job of the same kind and subject is reused."""
        now = now or datetime.now(UTC)
        job = Job(uuid.uuid4().hex, kind, license_number, subject, params, actor, QUEUED, now)
        stored = self.store.create(job)
        if stored.id == job.id:
            self.queue.enqueue(job.id)
        return stored

    def get(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        return self.store.get(job_id) if len(job_id) <= 32 else None

    def wait(self, job_id: str, timeout: float, poll: float = 0.1,
             on_progress: Callable[[Job], None] | None = None) -> Job:
        """Return the job once finished (or as it is after timeout seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.store.get(job_id)
            assert job is not None, f"job {job_id} vanished"
            if job.finished or time.monotonic() >= deadline:
                return job
            if on_progress:
                on_progress(job)
            time.sleep(poll)


def run_job(job_id: str, store: JobStore, workspace: Any, kinds: dict[str, JobFunction],
            clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Job | None:
    """Claim and run a job; return it as it ended, or None if it was not this runner's."""
    now = clock()
    job = store.start(job_id, now, now - LEASE)
    if job is None:
        return None  # finished already, or another runner has it
    if job.attempts > MAX_ATTEMPTS:
        store.fail(job.id, f"interrupted {MAX_ATTEMPTS} times: its runner stopped each time "
                   "(see the worker's log); submit it again", clock())
        return store.get(job.id)
    beating = _Heartbeat(job, store, clock)
    try:
        with acting_as(job.actor):
            outcome = kinds[job.kind](JobContext(job, store, clock), workspace)
    except AuditorError as error:
        store.fail(job.id, str(error), clock())
    except Exception:
        log.exception("job %s (%s) failed", job.id, job.kind)
        store.fail(job.id, "the job failed on an unexpected error; the runner's log has "
                   f"the details (job {job.id})", clock())
    else:
        store.succeed(job.id, json_safe(outcome.result), clock(), outcome.output)
    finally:
        beating.stop()
    return store.get(job.id)


def json_safe(value: Any) -> Any:
    """Return value with its times and dates as ISO 8601 text, as the API writes them."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def requeue_stalled(store: JobStore, queue: JobQueue, now: datetime | None = None) -> list[str]:
    """Hand out again the jobs whose runner stopped (no heartbeat within LEASE)."""
    ids = store.stalled((now or datetime.now(UTC)) - LEASE)
    for job_id in ids:
        queue.enqueue(job_id)
    return ids


def require_kind(kinds: dict[str, JobFunction], kind: str) -> None:
    """Raise InvalidInput unless kind is a known job kind."""
    if kind not in kinds:
        raise InvalidInput(f"unknown job kind {kind!r}: the kinds are {', '.join(kinds)}")


class _Heartbeat:
    """Keeps a running job's heartbeat fresh from a thread, so a long step is not stalled."""

    def __init__(self, job: Job, store: JobStore, clock: Callable[[], datetime]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(job, store, clock),
                                        name=f"job-heartbeat-{job.id[:8]}", daemon=True)
        self._thread.start()

    def _beat(self, job: Job, store: JobStore, clock: Callable[[], datetime]) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                store.progress(job.id, -1, -1, "", clock())  # -1: keep the counts
            except Exception:  # a missed beat is not fatal; the next one may get through
                log.warning("job %s: heartbeat not written", job.id, exc_info=True)

    def stop(self) -> None:
        """Stop beating (the job is over)."""
        self._stop.set()
        self._thread.join(timeout=5)
