"""Serve the API from several processes sharing one listening socket (waitress in each).

waitress runs requests on threads under one GIL, so one process uses about one core.
`auditor serve --processes N` binds the port once, forks N children and lets the kernel
hand each new connection to whichever child accepts it first. Each child builds its own
app after the fork (its own database pool). The parent only forwards SIGTERM/SIGINT and
waits; a child whose parent disappears (killed -9) stops too, so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

PARENT_CHECK_SECONDS = 1.0


def serve_processes(make_app: Callable[[], Any], host: str, port: int, processes: int,
                    options: dict[str, Any]) -> None:
    """Run processes waitress servers of make_app() on one socket until signalled."""
    import waitress  # imported here: only serving needs it

    listener = socket.create_server((host, port), backlog=int(options.pop("backlog", 1024)))
    listener.set_inheritable(True)
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # the child: its own app, on the shared socket
            _stop_with_parent(os.getppid())
            try:
                waitress.serve(make_app(), sockets=[listener], **options)
            finally:
                os._exit(0)
        children.append(pid)
    listener.close()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            _signal(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        os.waitpid(child, 0)


def _stop_with_parent(parent: int) -> None:
    """Exit this child once its parent is gone (reparented to init or a subreaper)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended already
        os.kill(pid, signum)
