"""sync_license on fakes: what moves the checkpoints, what stops a sync, what is reported."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.domain.errors import InvalidInput
from auditor.services.fakes import InMemoryEventStore
from auditor.services.sync import ENDPOINT_NAMES, OVERLAP, sync_license
from auditor.services.sync_fakes import InMemorySyncState, ScriptedMetrc
from auditor.services.sync_ports import MetrcRefused, MetrcUnavailable
from tests.conftest import LICENSE

LIC = LICENSE.number
T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def receipt(n: int, modified: str) -> dict[str, Any]:
    return {"Id": n, "ExternalReceiptNumber": f"R{n}", "SalesDateTime": "2026-01-05T10:00:00",
            "SalesCustomerType": "Consumer", "IsFinal": False, "LastModified": modified,
            "Transactions": [{"PackageLabel": "1A4000000000000000000001", "QuantitySold": 1,
                              "UnitOfMeasureName": "Each", "TotalPrice": 10}]}


def nothing(_path: str, _params: Mapping[str, str]) -> list[dict[str, Any]]:
    return []


def test_a_failed_window_keeps_the_checkpoint_at_the_last_window_stored(
        fake_store: InMemoryEventStore) -> None:
    def answer(path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        if params["lastModifiedStart"] == "2026-01-06T08:00:00Z":
            raise MetrcUnavailable("METRC GET kept failing")
        return [receipt(1, "2026-01-05T09:00:00+00:00")] if params[
            "lastModifiedStart"] == "2026-01-05T08:00:00Z" else []

    state = InMemorySyncState()
    result = sync_license(fake_store, state, ScriptedMetrc(answer), LIC, since=T0,
                          until=T0 + timedelta(days=3), only=["receipts-active"])
    (run,) = result.runs
    assert run.status == "failed" and run.accepted == 1 and run.windows == 1
    assert state.checkpoint(LIC, "receipts-active") == T0 + timedelta(days=1)
    assert not result.ok and len(state.finished) == 1


def test_a_refused_key_stops_the_sync_and_skips_the_rest(
        fake_store: InMemoryEventStore) -> None:
    def refuse(_path: str, _params: Mapping[str, str]) -> list[dict[str, Any]]:
        raise MetrcRefused("METRC refused the user key for license X")

    state = InMemorySyncState()
    with pytest.raises(MetrcRefused):
        sync_license(fake_store, state, ScriptedMetrc(refuse), LIC, since=T0,
                     until=T0 + timedelta(hours=1))
    (summary,) = state.finished
    statuses = [e["status"] for e in summary["endpoints"]]
    assert statuses == ["failed"] + ["skipped"] * (len(ENDPOINT_NAMES) - 1)


def test_without_since_a_sync_starts_at_the_checkpoint_less_the_overlap(
        fake_store: InMemoryEventStore) -> None:
    state = InMemorySyncState()
    source = ScriptedMetrc(nothing)
    sync_license(fake_store, state, source, LIC, since=T0, until=T0 + timedelta(hours=2),
                 only=["adjustments"])
    source.calls.clear()
    sync_license(fake_store, state, source, LIC, until=T0 + timedelta(hours=5),
                 only=["adjustments"])
    ((_, params),) = source.calls
    start = T0 + timedelta(hours=2) - OVERLAP
    assert params["lastModifiedStart"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_first_sync_without_since_pulls_the_last_day(fake_store: InMemoryEventStore) -> None:
    source = ScriptedMetrc(nothing)
    sync_license(fake_store, InMemorySyncState(), source, LIC, until=T0, only=["adjustments"])
    ((_, params),) = source.calls
    assert params["lastModifiedStart"] == "2026-01-04T08:00:00Z"
    assert params["lastModifiedEnd"] == "2026-01-05T08:00:00Z"


def test_since_after_until_and_unknown_endpoints_are_refused(
        fake_store: InMemoryEventStore) -> None:
    with pytest.raises(InvalidInput, match="is not before"):
        sync_license(fake_store, InMemorySyncState(), ScriptedMetrc(nothing), LIC,
                     since=T0, until=T0)
    with pytest.raises(InvalidInput, match="unknown METRC endpoint plants"):
        sync_license(fake_store, InMemorySyncState(), ScriptedMetrc(nothing), LIC,
                     only=["plants"])


def test_a_configured_location_metrc_does_not_list_is_noted(
        fake_store: InMemoryEventStore) -> None:
    def locations(_path: str, _params: Mapping[str, str]) -> list[dict[str, Any]]:
        return [{"Id": 1, "Name": "Sales Floor"}]

    result = sync_license(fake_store, InMemorySyncState(), ScriptedMetrc(locations), LIC,
                          until=T0, only=["locations"])
    (run,) = result.runs
    assert run.notes == ["location 'Vault' of the license is not an active METRC location"]
    assert run.status == "ok"


def test_transfers_carry_their_delivery_packages_into_the_importer(
        fake_store: InMemoryEventStore) -> None:
    def answer(path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        if path == "/transfers/v2/incoming":
            return [{"Id": 7, "ManifestNumber": "0000000007", "DeliveryId": 70,
                     "IsVoided": False, "LastModified": "2026-01-05T07:00:00+00:00"}]
        assert path == "/transfers/v2/deliveries/70/packages"
        return [{"PackageLabel": "1A4000000000000000000002", "ShipmentPackageState": "Accepted",
                 "ShippedQuantity": 5, "ShippedUnitOfMeasureName": "Each"}]

    sync_license(fake_store, InMemorySyncState(), ScriptedMetrc(answer), LIC, until=T0,
                 only=["transfers-incoming"])
    assert fake_store.event_counts(LIC) == {"manifest": 1, "manifest_package": 1}
