"""Ingest source files into the event store: parse, dedupe, store in atomic batches, report."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from auditor.domain.dedupe import Outcome
from auditor.domain.errors import FileRejected
from auditor.domain.events import EventType
from auditor.domain.license import License
from auditor.importers.base import ParseContext, Parsed, parse_records
from auditor.importers.metrc import reason_list_digest
from auditor.importers.profile import Profile
from auditor.importers.registry import get_format
from auditor.services.ports import (
    Appended,
    Batch,
    BatchWriter,
    EventStore,
    ImportOpening,
    ImportSummary,
    Rejection,
)

DEFAULT_CHUNK = 2000
T = TypeVar("T")
Progress = Callable[[ImportSummary], None]


@dataclass(frozen=True)
class IngestJob:
    """One file to import: whose it is, its format, and its bytes (or where to read them)."""

    license_number: str
    format: str
    source: str
    data: bytes | None = None
    path: Path | None = None
    effective_at: datetime | None = None
    profile: Profile | None = None

    def content(self) -> bytes | Path:
        """Return the bytes, or the path the importers stream the file from."""
        if self.data is not None:
            return self.data
        assert self.path is not None, "an IngestJob needs data or a path"
        return self.path

    def sha256(self) -> str:
        """Return the file's SHA-256, reading a file in chunks rather than whole."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        assert self.path is not None, "an IngestJob needs data or a path"
        with self.path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()


def ingest(store: EventStore, license_number: str, fmt_name: str, source: str, data: bytes, *,
           effective_at: datetime | None = None, chunk_size: int = DEFAULT_CHUNK,
           progress: Progress | None = None, profile: Profile | None = None) -> ImportSummary:
    """Import one file of a format for a license and return what was accepted and rejected.

    Structural problems raise FileRejected before anything is written. Records are
    stored in batches of chunk_size, each batch one transaction: a crash loses at most
    the batch in flight, and importing the file again adds only what is missing.
    """
    job = IngestJob(license_number, fmt_name, source, data=data, effective_at=effective_at,
                    profile=profile)
    return _ingest_job(store, job, chunk_size, progress)


def ingest_path(store: EventStore, license_number: str, fmt_name: str, path: Path, *,
                effective_at: datetime | None = None, chunk_size: int = DEFAULT_CHUNK,
                progress: Progress | None = None, profile: Profile | None = None
                ) -> ImportSummary:
    """Import a file streamed from its path, so memory does not grow with its size.

    The same promises as `ingest`; the file is named by its path in rejections.
    """
    job = IngestJob(license_number, fmt_name, str(path), path=path, effective_at=effective_at,
                    profile=profile)
    return _ingest_job(store, job, chunk_size, progress)


def _ingest_job(store: EventStore, job: IngestJob, chunk_size: int,
                progress: Progress | None) -> ImportSummary:
    (result,) = ingest_files(store, [job], chunk_size=chunk_size, progress=progress)
    if isinstance(result, FileRejected):
        raise result
    return result


def ingest_files(store: EventStore, jobs: Iterable[IngestJob], *,
                 chunk_size: int = DEFAULT_CHUNK, progress: Progress | None = None,
                 on_file: Callable[[int], None] | None = None,
                 durable_progress: bool = False) -> list[ImportSummary | FileRejected]:
    """Import files in order; a file that cannot be read gives its FileRejected, not a raise.

    The files share the store's ingest session: their batches are committed in groups
    (see auditor/store/ingest_session.py), and all of them by the time this returns.
    on_file(n) is called when the n-th file is done (its group may not be committed yet).
    With `durable_progress` the open group is committed before each progress report: a
    report that others read (a job's progress row) then counts only stored rows, and its
    own write does not wait on the group's lock (SQLite has one writer).
    """
    results: list[ImportSummary | FileRejected] = []
    licenses: dict[str, License] = {}
    with store.ingest_session() as writer:
        for number, job in enumerate(jobs, start=1):
            if job.license_number not in licenses:
                licenses[job.license_number] = store.get_license(job.license_number)
            try:
                results.append(_ingest_one(store, writer, licenses[job.license_number], job,
                                           chunk_size, progress, durable_progress))
            except FileRejected as rejected:
                results.append(rejected)
            if on_file:
                on_file(number)
    return results


def _ingest_one(store: EventStore, writer: BatchWriter, license: License, job: IngestJob,
                chunk_size: int, progress: Progress | None,
                durable_progress: bool = False) -> ImportSummary:
    fmt = get_format(job.format, job.profile)
    now = datetime.now(UTC)
    records: Iterable[tuple[int, Any]] = fmt.read(job.content())
    ctx = ParseContext(license=license, imported_at=now)
    if fmt.name == "metrc-adjust-reasons":
        records = list(records)
        writer.commit()  # the store's read below must see lists imported earlier this session
        ctx = _reason_list_context(store, ctx, records, job.effective_at)
    summary = ImportSummary(source=job.source, format=fmt.name, license=license.number)
    opening = ImportOpening(fmt.name, job.source, job.sha256(), now)
    for chunk, last in _chunks(parse_records(fmt, records, ctx), chunk_size):
        _store_chunk(writer, summary, chunk, now, opening, last)
        if progress:
            if durable_progress:
                writer.commit()
            progress(summary)
    return summary


def _reason_list_context(store: EventStore, ctx: ParseContext, records: list[tuple[int, Any]],
                         effective_at: datetime | None) -> ParseContext:
    """Give a reason list its identity and effective time.

    Without an explicit date the list takes effect when first imported, so importing the
    same list again finds the same time and adds nothing.
    """
    digest = reason_list_digest(records)
    if effective_at is None:
        effective_at = store.earliest(ctx.license.number, EventType.ADJUST_REASON, digest)
    return ParseContext(license=ctx.license, imported_at=ctx.imported_at,
                        effective_at=effective_at or ctx.imported_at, reference=digest)


def _store_chunk(writer: BatchWriter, summary: ImportSummary, chunk: Sequence[Parsed],
                 now: datetime, opening: ImportOpening, last: bool) -> None:
    """Store one chunk; the first also opens the import, the last also finishes it."""
    summary.rows_read += len(chunk)
    parsed = []
    for p in chunk:  # one pass: this runs once per row of every file
        if p.reason is None:
            parsed.append(p)
        else:
            summary.rejections.append(Rejection(summary.source, p.line, p.reason))
        if p.ignored_fields:
            summary.ignored_fields |= p.ignored_fields
    summary.rejected = len(summary.rejections)
    if not (parsed or last or summary.import_id is None):
        return

    def count(appended: Appended) -> ImportSummary:
        summary.import_id = appended.import_id
        _count_outcomes(summary, parsed, appended)
        return summary

    first = summary.import_id is None
    appended = writer.append(Batch(summary.license, summary.import_id, summary.format,
                                  [p.events for p in parsed], now,
                                  opening=opening if first else None),
                            finish=count if last else None)
    if not last:
        count(appended)


def _count_outcomes(summary: ImportSummary, parsed: Sequence[Parsed],
                    appended: Appended) -> None:
    summary.events_added += appended.events_added
    outcomes = appended.outcomes
    assert len(outcomes) == len(parsed), "the store must give one outcome per record"
    added, duplicates = outcomes.count(Outcome.ADDED), outcomes.count(Outcome.DUPLICATE)
    summary.accepted += added
    summary.duplicates += duplicates
    if added + duplicates < len(outcomes):  # conflicts are rare: only then look for them
        summary.rejections += [
            Rejection(summary.source, p.line, "already imported with different content; "
                      "send a correction as a new record, never an edit of an old one")
            for p, outcome in zip(parsed, outcomes, strict=True)
            if outcome is Outcome.CONFLICT]
    summary.rejected = len(summary.rejections)


def _chunks(items: Iterable[T], size: int) -> Iterator[tuple[list[T], bool]]:
    """Yield (chunk, whether it is the last); an empty source gives one empty last chunk."""
    iterator = iter(items)
    chunk = list(islice(iterator, size))
    while True:
        following = list(islice(iterator, size)) if chunk else []
        yield chunk, not following
        if not following:
            return
        chunk = following
