"""Progress of long commands: a live line on a terminal, one summary line when not.

Everything goes to stderr, so stdout stays the command's result (what scripts parse).
On a terminal the line is redrawn at most a few times a second; in a log or a pipe
only the closing summary appears, with the time the work took.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click

REDRAW_SECONDS = 0.2


class Progress:
    """One long task's progress: `show` while it runs, `done` with its summary."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn = 0.0
        self._width = 0

    def elapsed(self) -> float:
        """Return the seconds since the task began."""
        return time.perf_counter() - self.started

    def show(self, status: str, *, force: bool = False) -> None:
        """Redraw the live line on a terminal (throttled unless forced); nothing otherwise."""
        now = time.perf_counter()
        if not self.live or (not force and now - self._drawn < REDRAW_SECONDS):
            return
        self._drawn = now
        line = f"{self.label}: {status} ({self.elapsed():.0f} s)"
        click.echo("\r" + line.ljust(self._width), file=self.stream, nl=False)
        self._width = len(line)

    def clear(self) -> None:
        """Erase the live line, so other output starts on a clean line."""
        if self.live and self._width:
            click.echo("\r" + " " * self._width + "\r", file=self.stream, nl=False)
            self._width = 0
            self._drawn = 0.0

    def done(self, summary: str) -> None:
        """Replace the live line by the summary, with the time taken."""
        self.clear()
        click.echo(f"{self.label}: {summary} in {self.elapsed():.1f} s", file=self.stream)


@contextmanager
def progress(label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """Yield a Progress; if the work fails, erase the live line so the error starts clean."""
    tracker = Progress(label, stream)
    try:
        yield tracker
    except BaseException:
        tracker.clear()
        raise
