"""The port where an uploaded file waits for the job that imports it.

A request hands the file over in pieces and submits a job; the job, on whichever
runner takes it (a thread of this process, or a worker on another machine that shares
only the database), reads the pieces back in order. Neither side holds the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol


class StagedUploads(Protocol):
    """Uploaded files waiting to be imported, kept as ordered pieces."""

    def put(self, upload_id: str, license_number: str, pieces: Iterable[bytes],
            at: datetime) -> int:
        """Keep the pieces of one file under upload_id; return its size in bytes."""

    def pieces(self, upload_id: str) -> Iterator[bytes]:
        """Yield the file's pieces in order, one at a time (none if it was dropped)."""

    def drop(self, upload_id: str) -> None:
        """Forget the file (its import is over)."""

    def drop_older(self, before: datetime) -> int:
        """Forget files staged before a moment (their jobs are long over); return how many."""
