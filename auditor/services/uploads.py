"""Uploads over the API: one file ingested, made idempotent by the caller's key.

Following the IETF Idempotency-Key draft: a request with a key first reserves it (a
unique pending row), then imports, then stores its answer. A request that finds the key
reserved with the same body waits for that answer and replays it (`replayed: true`),
so concurrent requests with one key make one import and all get its answer; the same
key with a different body is refused. A reservation still pending after LEASE means
its request died mid-import: the next retry takes the key over, marks the interrupted
import failed, imports the file again (rows already stored come back as duplicates) and
says so in `resumed_after`. A request whose import fails outright releases its key.

The console's uploads run as jobs instead (`start_upload`, `import_staged`): the request
hands the file over in pieces (StagedUploads) and the job streams it to a temporary
file and imports it from there, reporting rows read and accepted as it goes, so no
step holds the whole file in memory and the page can show progress.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from auditor.domain.errors import Conflict, FileRejected, InvalidInput
from auditor.importers.profile import builtin_names, load_profile
from auditor.importers.registry import FORMATS
from auditor.services.api_ports import ApiStore, IdempotencyKeys, KeyState
from auditor.services.ingest import IngestJob, ingest, ingest_files
from auditor.services.job_ports import Job
from auditor.services.jobs import JobContext, Jobs
from auditor.services.ports import EventStore, ImportSummary
from auditor.services.upload_ports import StagedUploads

# Far beyond the longest upload (16 MiB imports in seconds); AUDITOR_IDEMPOTENCY_LEASE_SECONDS.
LEASE = timedelta(minutes=10)
WAIT_SECONDS = 60.0  # how long a request waits on another with its key before a 409
POLL_SECONDS = 0.05
PIECE_BYTES = 1024 * 1024  # an upload is staged, and read back, this much at a time
STAGED_FOR = timedelta(days=1)  # a staged upload still there after this lost its job


def summary_json(summary: ImportSummary) -> dict[str, Any]:
    """Return an import summary in the API's shape."""
    return {"import_id": summary.import_id, "source": summary.source, "format": summary.format,
            "license": summary.license, "rows_read": summary.rows_read,
            "accepted": summary.accepted, "duplicates": summary.duplicates,
            "rejected": summary.rejected, "events_added": summary.events_added,
            "rejections": [{"line": r.line, "reason": r.reason} for r in summary.rejections],
            "ignored_fields": sorted(summary.ignored_fields), "replayed": False}


def upload(store: EventStore, api: ApiStore, license_number: str, fmt: str, source: str,
           data: bytes, key: str | None, chunk_size: int,
           profile_name: str | None = None,
           wait_seconds: float | None = None, lease: timedelta = LEASE) -> dict[str, Any]:
    """Ingest one uploaded file, replaying the first answer for a repeated key.

    A profile is named, never a path: an upload cannot make the server read its files.
    """
    profile = load_profile(profile_name, allow_files=False) if profile_name else None
    if key is None:
        return summary_json(ingest(store, license_number, fmt, source, data,
                                   chunk_size=chunk_size, profile=profile))
    described = f"{fmt}\x1f{source}\x1f" + (f"{profile_name}\x1f" if profile_name else "")
    request_hash = hashlib.sha256(described.encode() + data).hexdigest()
    claim = _claim(api.keys, license_number, key, request_hash, hashlib.sha256(data).hexdigest(),
                   WAIT_SECONDS if wait_seconds is None else wait_seconds, lease)
    if isinstance(claim, dict):
        return claim
    try:
        response = summary_json(ingest(store, license_number, fmt, source, data,
                                       chunk_size=chunk_size, profile=profile))
    except BaseException:
        api.keys.release(license_number, key)
        raise
    if claim:
        response["resumed_after"] = claim
    if not api.keys.complete(license_number, key, response):
        stored = api.keys.state(license_number, key)
        assert stored is not None and stored.status == "done"
        return {**stored.response, "replayed": True}
    return response


def _claim(keys: IdempotencyKeys, license_number: str, key: str, request_hash: str,
           file_sha256: str, wait_seconds: float,
           lease: timedelta = LEASE) -> dict[str, Any] | list[int]:
    """Reserve the key (return the interrupted imports taken over) or return its answer."""
    deadline = time.monotonic() + wait_seconds
    while True:
        now = datetime.now(UTC)
        if keys.reserve(license_number, key, request_hash, now):
            return []
        state = keys.state(license_number, key)
        if state is None:
            continue  # released by a request that failed: try to reserve it again
        replay = _replay(state, key, request_hash)
        if replay is not None:
            return replay
        if state.reserved_at < now - lease and keys.take_over(license_number, key,
                                                               now - lease, now):
            return keys.fail_interrupted_imports(license_number, file_sha256,
                                                 state.reserved_at + timedelta(minutes=1), now)
        if time.monotonic() > deadline:
            raise Conflict(f"an upload with Idempotency-Key {key!r} is still in progress; "
                           "retry later for its answer")
        time.sleep(POLL_SECONDS)


def _replay(state: KeyState, key: str, request_hash: str) -> dict[str, Any] | None:
    if state.request_sha256 != request_hash:
        raise Conflict(f"Idempotency-Key {key!r} was used with a different request; "
                       "use a new key for a new upload")
    return {**state.response, "replayed": True} if state.status == "done" else None


def start_upload(jobs: Jobs, staged: StagedUploads, license_number: str, fmt: str,
                 source: str, stream: IO[bytes], actor: str, profile_name: str | None = None,
                 form_id: str | None = None) -> Job:
    """Stage an uploaded file piece by piece and submit the job that imports it.

    form_id names the form the file came in (one per page): the same form sent twice
    while its import runs shares that job, and the second copy is dropped. Sent again
    later, its rows come back as already stored; nothing is stored twice.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of: {', '.join(sorted(FORMATS))}")
    if profile_name is not None and profile_name not in builtin_names():
        raise InvalidInput(f"profile {profile_name!r} is not one of: "
                           f"{', '.join(builtin_names())}")
    upload_id = uuid.uuid4().hex
    size = staged.put(upload_id, license_number, _pieces(stream), datetime.now(UTC))
    if size == 0:
        staged.drop(upload_id)
        raise InvalidInput(f"{source} is empty: there is nothing to import")
    params = {"upload_id": upload_id, "format": fmt, "source": source,
              "profile": profile_name, "bytes": size}
    subject = f"{license_number} {form_id or upload_id}"[:300]
    try:
        job = jobs.submit("import", license_number, subject, params, actor)
    except BaseException:
        staged.drop(upload_id)
        raise
    if job.params.get("upload_id") != upload_id:
        staged.drop(upload_id)  # the same form again while its import runs: one import
    return job


def _pieces(stream: IO[bytes]) -> Iterator[bytes]:
    while piece := stream.read(PIECE_BYTES):
        yield piece


def import_staged(ctx: JobContext, store: EventStore, staged: StagedUploads,
                  chunk_size: int) -> dict[str, Any]:
    """Import a staged upload (the job's params say which), reporting rows as they go.

    The file is copied to a temporary file one piece at a time and imported from
    there; the staged copy is dropped once the import is over, whatever its outcome,
    and kept if the runner dies, so the job's next attempt finds it.
    """
    p = ctx.job.params
    profile = load_profile(p["profile"], allow_files=False) if p.get("profile") else None
    try:
        with tempfile.TemporaryDirectory(prefix="auditor-upload-") as folder:
            path = Path(folder) / "upload"
            lines = _copy(staged, p["upload_id"], path)
            estimate = lines if lines and not p["format"].startswith("metrc-") else 0

            def shown(summary: ImportSummary) -> None:
                ctx.progress(summary.rows_read, max(estimate, summary.rows_read + 1),
                             _note(summary))

            job = IngestJob(ctx.job.license_number, p["format"], p["source"], path=path,
                            profile=profile)
            (outcome,) = ingest_files(store, [job], chunk_size=chunk_size, progress=shown,
                                        durable_progress=True)
    finally:
        staged.drop(p["upload_id"])
    if isinstance(outcome, FileRejected):
        raise outcome
    ctx.progress(outcome.rows_read, outcome.rows_read, _note(outcome))
    return summary_json(outcome)


def _copy(staged: StagedUploads, upload_id: str, path: Path) -> int:
    """Write the staged file to path; return its line count (None of it if not text)."""
    lines, size, text = 0, 0, True
    with path.open("wb") as out:
        for piece in staged.pieces(upload_id):
            if size == 0:
                text = b"\0" not in piece[:4096] and not piece.startswith(b"PK")
            out.write(piece)
            size += len(piece)
            lines += piece.count(b"\n")
    if size == 0:
        raise InvalidInput("the uploaded file is no longer waiting to be imported (its "
                           "import ran before); upload it again")
    return lines if text else 0


def _note(summary: ImportSummary) -> str:
    return (f"{summary.rows_read} rows read: {summary.accepted} accepted, "
            f"{summary.duplicates} already stored, {summary.rejected} rejected")
