"""Uploads over the API: one file ingested, made idempotent by the caller's key.

Following the IETF Idempotency-Key draft: the first request with a key stores its
response; a retry with the same key and the same body gets that response again and
writes nothing; the same key with a different body is refused. Two concurrent first
requests both ingest, which is safe because events are deduplicated by natural key:
the second one's rows come back as duplicates, and the response stored first wins.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from auditor.domain.errors import Conflict
from auditor.importers.profile import load_profile
from auditor.services.api_ports import ApiStore
from auditor.services.ingest import ingest
from auditor.services.ports import EventStore, ImportSummary


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
           profile_name: str | None = None) -> dict[str, Any]:
    """Ingest one uploaded file, replaying the stored answer for a repeated key.

    A profile is named, never a path: an upload cannot make the server read its files.
    """
    profile = load_profile(profile_name, allow_files=False) if profile_name else None
    described = f"{fmt}\x1f{source}\x1f" + (f"{profile_name}\x1f" if profile_name else "")
    request_hash = hashlib.sha256(described.encode() + data).hexdigest()
    if key is not None:
        replay = _replay(api, license_number, key, request_hash)
        if replay is not None:
            return replay
    response = summary_json(ingest(store, license_number, fmt, source, data,
                                   chunk_size=chunk_size, profile=profile))
    if key is not None and not api.remember_response(license_number, key, request_hash,
                                                     response, datetime.now(UTC)):
        replay = _replay(api, license_number, key, request_hash)
        assert replay is not None  # the key was stored by the request that beat us
        return replay
    return response


def _replay(api: ApiStore, license_number: str, key: str,
            request_hash: str) -> dict[str, Any] | None:
    stored = api.idempotent_response(license_number, key)
    if stored is None:
        return None
    if stored[0] != request_hash:
        raise Conflict(f"Idempotency-Key {key!r} was used with a different request; "
                       "use a new key for a new upload")
    return {**stored[1], "replayed": True}
