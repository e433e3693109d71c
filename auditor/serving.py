"""Serve the API from several processes on one port (waitress in each), each ready for load.

waitress runs requests on threads under one GIL, so one process uses about one core.
`auditor serve --processes N` gives each of N forked children a listening socket of its
own on the same port (SO_REUSEPORT): the kernel spreads new connections over them by a
hash of the client's address and port, so long-lived keep-alive connections end up
evenly split. With one shared socket the children raced to accept, and a burst of
connections (50 terminals starting together) could land four in five on one child,
whose GIL then queued them while the other child idled. Each child builds its own app
after the fork (its own database pool) and closes the other children's sockets, so
when one child dies the kernel stops handing it connections. The parent only forwards
SIGTERM/SIGINT and waits; a child whose parent disappears (killed -9) stops too, so no
orphan keeps the port.

Before serving, `ready` collects the start-up garbage and freezes it (gc.freeze): the
app's modules, rule packs and SQLAlchemy metadata are some 160,000 objects that never
die, and a full collection walking them stopped every thread of the process for 40 ms
on an idle machine and over 300 ms under load, long enough to queue a dozen requests.
Frozen, they are no longer walked; only what requests leave behind is.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

PARENT_CHECK_SECONDS = 1.0


def ready(make_app: Callable[[], Any]) -> Any:
    """Return make_app() with the start-up objects frozen out of garbage collection."""
    app = make_app()
    gc.collect()
    gc.freeze()
    return app


def serve_processes(make_app: Callable[[], Any], host: str, port: int, processes: int,
                    options: dict[str, Any]) -> None:
    """Run processes waitress servers of make_app() on one port until signalled."""
    import waitress  # imported here: only serving needs it

    backlog = int(options.pop("backlog", 1024))
    # A plain bind first, so a port in use by anything (another auditor serve too) is an
    # error here, rather than a silent share of its connections through SO_REUSEPORT.
    socket.create_server((host, port)).close()
    listeners = [socket.create_server((host, port), backlog=backlog, reuse_port=True)]
    port = listeners[0].getsockname()[1]  # port 0 asked for a free one: the rest join it
    listeners += [socket.create_server((host, port), backlog=backlog, reuse_port=True)
                  for _ in range(processes - 1)]
    children = []
    for own in listeners:
        pid = os.fork()
        if pid == 0:  # the child: its own app, on its own socket
            _stop_with_parent(os.getppid())
            for other in listeners:
                if other is not own:
                    other.close()
            try:
                waitress.serve(ready(make_app), sockets=[own], **options)
            finally:
                os._exit(0)
        children.append(pid)
    for listener in listeners:
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
