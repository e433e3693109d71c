"""Uploaded files waiting for their import job, in SQL (migration 0014).

The pieces live in the store of record, as packet files do, because the job that
imports a file may run on another machine that shares only the database. A file is
kept as pieces of at most PIECE bytes, each its own row, so neither the request that
writes it nor the job that reads it holds more than one piece in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from auditor.store.engine import WRITE
from auditor.store.schema import UTCDateTime, metadata

PIECE = 1024 * 1024

staged_uploads = Table(
    "staged_uploads", metadata,
    Column("upload_id", String(32), nullable=False),
    Column("piece", Integer, nullable=False),  # 0, 1, 2 ... in the file's order
    Column("license_number", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("staged_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("upload_id", "piece"),
    Index("ix_staged_uploads_staged_at", "staged_at"),
)


class SqlStagedUploads:
    """StagedUploads on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, upload_id: str, license_number: str, pieces: Iterable[bytes],
            at: datetime) -> int:
        """Keep the pieces of one file under upload_id (one transaction); return its size."""
        size = 0
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            for number, piece in enumerate(pieces):
                conn.execute(insert(staged_uploads), {
                    "upload_id": upload_id, "piece": number, "license_number": license_number,
                    "data": piece, "staged_at": at})
                size += len(piece)
        return size

    def pieces(self, upload_id: str) -> Iterator[bytes]:
        """Yield the file's pieces in order, reading one row at a time."""
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).where(
                staged_uploads.c.upload_id == upload_id)).scalar_one()
        for number in range(count):
            with self.engine.connect() as conn:
                data = conn.execute(select(staged_uploads.c.data).where(
                    staged_uploads.c.upload_id == upload_id,
                    staged_uploads.c.piece == number)).scalar_one()
            yield bytes(data)

    def drop(self, upload_id: str) -> None:
        """Forget the file."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(delete(staged_uploads).where(staged_uploads.c.upload_id == upload_id))

    def drop_older(self, before: datetime) -> int:
        """Forget files staged before a moment; return how many pieces went."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            gone = conn.execute(delete(staged_uploads).where(
                staged_uploads.c.staged_at < before))
        return int(gone.rowcount or 0)
