"""Uploads over the API: one file ingested, made idempotent by the caller's key.

Following the IETF Idempotency-Key draft: a request with a key first reserves it (a
unique pending row), then imports, then stores its answer. A request that finds the key
reserved with the same body waits for that answer and replays it (`replayed: true`),
so concurrent requests with one key make one import and all get its answer; the same
key with a different body is refused. A reservation still pending after LEASE means
its request died mid-import: the next retry takes the key over, marks the interrupted
import failed, imports the file again (rows already stored come back as duplicates) and
says so in `resumed_after`. A request whose import fails outright releases its key.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.domain.errors import Conflict
from auditor.importers.profile import load_profile
from auditor.services.api_ports import ApiStore, IdempotencyKeys, KeyState
from auditor.services.ingest import ingest
from auditor.services.ports import EventStore, ImportSummary

# Far beyond the longest upload (16 MiB imports in seconds); AUDITOR_IDEMPOTENCY_LEASE_SECONDS.
LEASE = timedelta(minutes=10)
WAIT_SECONDS = 60.0  # how long a request waits on another with its key before a 409
POLL_SECONDS = 0.05


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
