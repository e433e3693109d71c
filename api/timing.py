"""Per-request phase timings, written as JSON lines when AUDITOR_REQUEST_TIMINGS names a folder.

Off by default, and then nothing here runs: `init_timing` returns before wrapping the
app or listening to the engine. On, each serving process appends one line per request
to `<folder>/requests-<pid>.jsonl`: when the app began and ended (`time.monotonic()`,
one clock for every process of the machine, so a load generator can line its own
send and receive times up against them), the thread's CPU seconds, the seconds spent
in database statements and how many, database connections made, how many other
requests were in the app when it began, the client's port (its connection), and the
seconds this process spent in garbage collection while the request ran. A request carrying
`X-Load-Id` (tests/load.py sends one) has it copied into its line.
The remainder, wall minus CPU minus statements, is time the thread was ready but not
running: waiting for the GIL, or sleeping.

Each garbage collection is also written, as a line of its own (generation, seconds).
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _Recorder:
    """What one process measures: per-thread counters, a shared GC clock, one output file."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._out = (folder / f"requests-{os.getpid()}.jsonl").open("a", buffering=1)
        self._write_lock = threading.Lock()
        self.local = threading.local()
        self.gc_seconds = 0.0  # the process's total so far; a request takes its difference
        self.running = 0  # requests in the app now
        self.running_lock = threading.Lock()  # += is not atomic across threads
        self._gc_began = 0.0

    def write(self, line: dict[str, Any]) -> None:
        """Append one JSON line (whole lines: writers take turns)."""
        text = json.dumps(line) + "\n"
        with self._write_lock:
            self._out.write(text)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """Time each collection (gc.callbacks: the GIL is held, so no other thread runs)."""
        if phase == "start":
            self._gc_began = time.monotonic()
            return
        took = time.monotonic() - self._gc_began
        self.gc_seconds += took
        if took >= 0.001:
            self.write({"gc": info.get("generation"), "s": round(took, 6),
                        "at": round(self._gc_began, 6), "pid": os.getpid()})

    def counters(self) -> dict[str, float]:
        """Return this thread's counters of the request in flight (made on first use)."""
        found: dict[str, float] | None = getattr(self.local, "counters", None)
        if found is None:
            found = self.local.counters = {"db": 0.0, "stmts": 0, "connects": 0}
        return found


def init_timing(app: Flask, engine: Engine, folder: str | None) -> None:
    """Time every request of app and the statements on engine if folder is set; else nothing."""
    if not folder:
        return
    recorder = _Recorder(Path(folder))
    gc.callbacks.append(recorder.on_gc)
    _listen(engine, recorder)
    app.wsgi_app = _timed(app.wsgi_app, recorder)  # type: ignore[method-assign,assignment]


def _listen(engine: Engine, recorder: _Recorder) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _before(_conn: Any, _cursor: Any, _sql: str, _params: Any, context: Any,
                _many: bool) -> None:
        recorder.local.statement_began = time.monotonic()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, _cursor: Any, _sql: str, _params: Any, context: Any,
               _many: bool) -> None:
        counters = recorder.counters()
        counters["db"] += time.monotonic() - recorder.local.statement_began
        counters["stmts"] += 1

    @event.listens_for(engine, "connect")
    def _connect(_dbapi: Any, _record: Any) -> None:
        recorder.counters()["connects"] += 1


def _timed(wsgi_app: WsgiApp, recorder: _Recorder) -> WsgiApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        counters = recorder.counters()
        for name in counters:
            counters[name] = 0
        status: list[str] = []

        def remember(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        began, cpu, gc_before = time.monotonic(), time.thread_time(), recorder.gc_seconds
        with recorder.running_lock:
            running_before = recorder.running
            recorder.running += 1
        body = wsgi_app(environ, remember)
        try:
            yield from body
        finally:
            with recorder.running_lock:
                recorder.running -= 1
            close = getattr(body, "close", None)
            if close is not None:
                close()
            ended = time.monotonic()
            recorder.write({
                "pid": os.getpid(), "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"), "status": status[0][:3] if status else None,
                "id": environ.get("HTTP_X_LOAD_ID"), "port": environ.get("REMOTE_PORT"),
                "running_before": running_before,
                "began": round(began, 6), "ended": round(ended, 6),
                "cpu": round(time.thread_time() - cpu, 6), "db": round(counters["db"], 6),
                "stmts": counters["stmts"], "connects": counters["connects"],
                "gc": round(recorder.gc_seconds - gc_before, 6)})

    return app
