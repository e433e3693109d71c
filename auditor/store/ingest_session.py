"""Grouped commits for bulk ingest: many small imports share one transaction.

A year of a store is thousands of daily files of a few thousand rows each. Committed
one by one, every commit rewrites the index pages the file touched into the WAL and
waits for an fsync. A session keeps one write transaction open across small files
(each stored in one batch, opened and finished in it) and commits when it holds
GROUP_RECORDS records or has been open GROUP_SECONDS (so other writers wait at most
that long for the lock), and when the session ends. A batch that is only part of a
larger file is committed at once, as outside a session: AUDITOR_IMPORT_CHUNK keeps
meaning the records per transaction of a large file.

Each import is still all or nothing: a crash rolls back the whole open group (imports,
their events and their trail entries together), and importing the files again adds
exactly what was lost. What a session promises less than one commit per file is only
this: files reported done may roll back with their group if the process dies before
the group's commit; the session's end commits everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from auditor.services.ports import Appended, Batch, Finish

GROUP_RECORDS = 20_000
GROUP_SECONDS = 2.0

Connect = Callable[[], Any]
AppendIn = Callable[[Any, Batch, Finish | None], Appended]


class GroupedWriter:
    """Appends batches through one connection, committing every group of records."""

    def __init__(self, connect: Connect, append_in: AppendIn) -> None:
        self._connect = connect
        self._append_in = append_in
        self._group_records = GROUP_RECORDS
        self._group_seconds = GROUP_SECONDS
        self._conn: Any = None
        self._transaction: Any = None
        self._records = 0
        self._began = 0.0

    def append(self, batch: Batch, finish: Finish | None = None) -> Appended:
        """Store a batch in the open group's transaction; commit if the group is full."""
        if self._transaction is None:
            if self._conn is None:
                self._conn = self._connect()
            self._transaction = self._conn.begin()
            self._records, self._began = 0, time.monotonic()
        appended = self._append_in(self._conn, batch, finish)
        self._records += len(batch.records)
        whole_file = batch.opening is not None and finish is not None
        if (not whole_file or self._records >= self._group_records
                or time.monotonic() - self._began >= self._group_seconds):
            self.commit()
        return appended

    def commit(self) -> None:
        """Commit the open group, if any."""
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            transaction.commit()

    def close(self, *, commit: bool) -> None:
        """Commit (or roll back) the open group and give the connection back."""
        try:
            if commit:
                self.commit()
            elif self._transaction is not None:
                transaction, self._transaction = self._transaction, None
                transaction.rollback()
        finally:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
