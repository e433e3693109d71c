"""Pull one license's METRC data, window by window, through the importers.

Every windowed endpoint is read in `lastModifiedStart`/`lastModifiedEnd` windows of at
most 24 hours (METRC refuses longer ones). Each window's rows go through the endpoint's
import format as one import, so the importers' natural keys make a re-pull add nothing
and their rejections are reported as for any file. Only after a window is stored does
the endpoint's checkpoint move to its end: a sync killed mid-window pulls that window
again on the next run, and nothing is lost or stored twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.domain.errors import FileRejected, InvalidInput
from auditor.domain.events import EventType, require_aware
from auditor.domain.license import License
from auditor.importers.metrc import reason_list_digest
from auditor.services.ingest import DEFAULT_CHUNK, ingest
from auditor.services.ports import EventStore, ImportSummary
from auditor.services.sync_ports import (
    EndpointRun,
    MetrcError,
    MetrcRefused,
    MetrcSource,
    SyncState,
)

MAX_WINDOW = timedelta(hours=24)
# Each run starts a little before the checkpoint: a record METRC commits late, with a
# LastModified just before the previous run's end, is still picked up (re-pulls are free).
OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(hours=24)  # a first sync without --since pulls the last day
SHOWN_REJECTIONS = 20
Progress = Callable[[EndpointRun], None]


@dataclass(frozen=True)
class Endpoint:
    """One METRC GET the sync pulls, and the import format its rows go through."""

    name: str
    path: str
    format: str | None  # None: read to check the license's set-up, not stored as events
    windowed: bool = True
    with_delivery_packages: bool = False


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("adjust-reasons", "/packages/v2/adjust/reasons", "metrc-adjust-reasons",
             windowed=False),
    Endpoint("locations", "/locations/v2/active", None, windowed=False),
    Endpoint("transfers-incoming", "/transfers/v2/incoming", "metrc-transfers",
             with_delivery_packages=True),
    Endpoint("packages-active", "/packages/v2/active", "metrc-packages"),
    Endpoint("packages-onhold", "/packages/v2/onhold", "metrc-packages"),
    Endpoint("packages-inactive", "/packages/v2/inactive", "metrc-packages"),
    Endpoint("receipts-active", "/sales/v2/receipts/active", "metrc-receipts"),
    Endpoint("receipts-inactive", "/sales/v2/receipts/inactive", "metrc-receipts"),
    Endpoint("adjustments", "/packages/v2/adjustments", "metrc-adjustments"),
)
ENDPOINT_NAMES = tuple(e.name for e in ENDPOINTS)


@dataclass
class SyncResult:
    """What one sync did, endpoint by endpoint."""

    license: str
    until: datetime
    runs: list[EndpointRun]

    @property
    def ok(self) -> bool:
        """Return whether every endpoint was pulled and every row accepted or known."""
        return all(r.status == "ok" and r.rejected == 0 for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        """Return the result as the API and the audit trail show it (no keys in it)."""
        return {"license": self.license, "until": self.until.isoformat(),
                "endpoints": [r.as_json() for r in self.runs]}


def metrc_time(value: datetime) -> str:
    """Return a time as the METRC query parameters take it: UTC, whole seconds."""
    return require_aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def windows(start: datetime, end: datetime,
            size: timedelta = MAX_WINDOW) -> Iterator[tuple[datetime, datetime]]:
    """Yield consecutive [start, end) windows covering the span, none longer than size."""
    if size > MAX_WINDOW or size <= timedelta(0):
        raise InvalidInput(f"a METRC window must be positive and at most 24 h, not {size}")
    while start < end:
        stop = min(start + size, end)
        yield start, stop
        start = stop


def sync_license(store: EventStore, state: SyncState, source: MetrcSource,
                 license_number: str, *, since: datetime | None = None,
                 until: datetime | None = None, only: Sequence[str] | None = None,
                 progress: Progress | None = None, chunk_size: int = DEFAULT_CHUNK,
                 ) -> SyncResult:
    """Pull a license's METRC endpoints from their checkpoints (or since) up to until (now).

    Each endpoint's outcome is stored as it goes and the whole sync leaves one audit
    trail entry. A refusal of the keys (401/403) stops the sync and is raised after
    that entry is written; other METRC failures mark only their endpoint failed.
    """
    license = store.get_license(license_number)
    end = _whole_second(until or datetime.now(UTC))
    if since is not None and _whole_second(since) >= end:
        raise InvalidInput(f"since ({since.isoformat()}) is not before until "
                           f"({end.isoformat()}): nothing to pull")
    chosen = _chosen(only)
    if since is not None:
        _claim_start(state, license_number, chosen, _whole_second(since))
    runs: list[EndpointRun] = []
    refused: MetrcRefused | None = None
    for endpoint in chosen:
        run = EndpointRun(endpoint.name)
        runs.append(run)
        if refused is not None:
            run.status, run.error = "skipped", "not pulled: METRC refused the keys"
            continue
        try:
            _pull(store, state, source, license, endpoint, run, since, end, progress,
                  chunk_size)
        except MetrcError as exc:
            run.status, run.error = "failed", str(exc)
            state.advance(license.number, run, datetime.now(UTC))
            if isinstance(exc, MetrcRefused):
                refused = exc
    result = SyncResult(license.number, end, runs)
    state.finish(license.number, result.as_json(), datetime.now(UTC))
    if refused is not None:
        raise refused
    return result


def _claim_start(state: SyncState, license_number: str, chosen: list[Endpoint],
                 since: datetime) -> None:
    """Give each windowed endpoint not pulled before a checkpoint at since.

    A first sync killed before it reaches an endpoint is then resumed from since, not
    from the default look-back, so nothing between the two is skipped.
    """
    for endpoint in chosen:
        if endpoint.windowed and state.checkpoint(license_number, endpoint.name) is None:
            state.advance(license_number, EndpointRun(endpoint.name, status="pending",
                                                      synced_through=since), datetime.now(UTC))


def _chosen(only: Sequence[str] | None) -> list[Endpoint]:
    if not only:
        return list(ENDPOINTS)
    unknown = sorted(set(only) - set(ENDPOINT_NAMES))
    if unknown:
        raise InvalidInput(f"unknown METRC endpoint {', '.join(unknown)}; one of: "
                           + ", ".join(ENDPOINT_NAMES))
    return [e for e in ENDPOINTS if e.name in only]


def _whole_second(value: datetime) -> datetime:
    return require_aware(value).astimezone(UTC).replace(microsecond=0)


def _pull(store: EventStore, state: SyncState, source: MetrcSource, license: License,
          endpoint: Endpoint, run: EndpointRun, since: datetime | None, end: datetime,
          progress: Progress | None, chunk_size: int) -> None:
    params = {"licenseNumber": license.number}
    if not endpoint.windowed:
        rows = _all_rows(source, endpoint.path, params)
        _store_rows(store, license, endpoint, rows, endpoint.path, run, chunk_size)
        if endpoint.name == "locations":
            run.notes = _missing_locations(license, rows)
        _window_done(state, license, run, end, progress)
        return
    start = _start(state, license.number, endpoint, since, end)
    for window_start, window_end in windows(start, end):
        window = {**params, "lastModifiedStart": metrc_time(window_start),
                  "lastModifiedEnd": metrc_time(window_end)}
        rows = _all_rows(source, endpoint.path, window)
        if endpoint.with_delivery_packages:
            rows = [_with_packages(source, license, row) for row in rows]
        label = f"{endpoint.path} {window['lastModifiedStart']}..{window['lastModifiedEnd']}"
        _store_rows(store, license, endpoint, rows, label, run, chunk_size)
        _window_done(state, license, run, window_end, progress)


def _start(state: SyncState, license_number: str, endpoint: Endpoint,
           since: datetime | None, end: datetime) -> datetime:
    if since is not None:
        return _whole_second(since)
    checkpoint = state.checkpoint(license_number, endpoint.name)
    if checkpoint is None:
        return end - FIRST_LOOKBACK
    return min(_whole_second(checkpoint) - OVERLAP, end)


def _window_done(state: SyncState, license: License, run: EndpointRun, through: datetime,
                 progress: Progress | None) -> None:
    run.windows += 1
    run.synced_through = through
    state.advance(license.number, run, datetime.now(UTC))
    if progress:
        progress(run)


def _all_rows(source: MetrcSource, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in source.pages(path, params):
        rows.extend(page)
    return rows


def _with_packages(source: MetrcSource, license: License, row: dict[str, Any]) -> dict[str, Any]:
    """Attach a transfer's delivery packages as `Packages`, the shape the importer reads."""
    delivery = row.get("DeliveryId")
    if not isinstance(delivery, int) or isinstance(delivery, bool):
        return row  # the importer keeps the manifest; there is no delivery to read
    path = f"/transfers/v2/deliveries/{delivery}/packages"
    return {**row, "Packages": _all_rows(source, path, {"licenseNumber": license.number})}


def _store_rows(store: EventStore, license: License, endpoint: Endpoint,
                rows: list[dict[str, Any]], label: str, run: EndpointRun,
                chunk_size: int) -> None:
    run.pulled += len(rows)
    if endpoint.format is None or not rows:
        return
    if endpoint.format == "metrc-adjust-reasons" and _reasons_known(store, license, rows):
        run.duplicates += len(rows)  # pulled every run; an unchanged list is not re-imported
        return
    # One row per line, so a rejection's line number is the row's place in the window + 1.
    data = ("[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
            + "\n]\n").encode()
    try:
        summary = ingest(store, license.number, endpoint.format, f"METRC GET {label}", data,
                         chunk_size=chunk_size)
    except FileRejected as exc:  # the window's rows could not be read at all
        run.rejected += len(rows)
        run.rejections.append(f"METRC GET {label}: {exc}")
        return
    _count(run, summary)


def _reasons_known(store: EventStore, license: License, rows: list[dict[str, Any]]) -> bool:
    """Return whether this very reason list is stored already, so importing it adds nothing."""
    digest = reason_list_digest(list(enumerate(rows)))
    return store.earliest(license.number, EventType.ADJUST_REASON, digest) is not None


def _count(run: EndpointRun, summary: ImportSummary) -> None:
    run.accepted += summary.accepted
    run.duplicates += summary.duplicates
    run.rejected += summary.rejected
    room = SHOWN_REJECTIONS - len(run.rejections)
    run.rejections += [str(r) for r in summary.rejections[:max(room, 0)]]


def _missing_locations(license: License, rows: list[dict[str, Any]]) -> list[str]:
    """Name the license's configured locations METRC does not list as active."""
    active = {row.get("Name") for row in rows}
    configured = (*license.sales_floor_locations, *license.vault_locations)
    return [f"location {name!r} of the license is not an active METRC location"
            for name in configured if name not in active]
