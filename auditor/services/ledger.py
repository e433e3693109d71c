"""A package ledger replayed from the events: what METRC, the POS and the floor hold.

On-hand is the rule language's one definition (`rules.language.ON_HAND`), the same the
rules read: METRC's is accepted quantity, plus adjustments, less METRC sales; the POS's
is the same with POS sales (voided lines aside). The location is the last physical
move's destination, or the METRC location until a move is seen.

Reports read these states as aggregates from the activity log (`packages_at`); this
replay is their reference, used by the in-memory log and the console's variances.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.domain.events import EventType as T
from auditor.rules.language import on_hand_delta
from auditor.services.report_ports import LoggedEvent, PackageState

LEDGER_TYPES = (T.MANIFEST_PACKAGE, T.PACKAGE_SNAPSHOT, T.ADJUSTMENT, T.METRC_SALE_LINE,
                T.POS_SALE_LINE, T.MOVE, T.LOCATION_CHANGE)


class Ledger:
    """Replays events in time order; `apply` one at a time to read states in between."""

    def __init__(self) -> None:
        self.packages: dict[str, PackageState] = {}

    def state(self, label: str | None) -> PackageState:
        """Return the package's state, creating it on first sight."""
        key = label or ""
        if key not in self.packages:
            self.packages[key] = PackageState(key)
        return self.packages[key]

    def apply(self, event: LoggedEvent) -> None:
        """Update the package the event is about."""
        p, package = event.payload, self.state(event.package_label)
        package.metrc += on_hand_delta("metrc", event.type, p) or 0.0
        package.pos += on_hand_delta("pos", event.type, p) or 0.0
        if event.type is T.MANIFEST_PACKAGE:
            _describe(package, p)
            if p.get("shipment_state") == "Accepted":
                package.received_at = event.occurred_at
                package.unit = p.get("received_unit") or package.unit
        elif event.type is T.PACKAGE_SNAPSHOT:
            _describe(package, p)
            dates = [p.get(k) for k in ("expiration_date", "sell_by_date", "use_by_date")]
            package.expires = min((d for d in dates if d), default=package.expires)
            package.location = package.location or p.get("location")
        elif event.type is T.POS_SALE_LINE and not p.get("voided"):
            _describe(package, {"item_name": p.get("product_name"), **p})
        elif event.type is T.MOVE:
            package.location = p.get("to_location") or package.location

    def replay(self, events: Iterable[LoggedEvent]) -> Ledger:
        """Apply every event and return self."""
        for event in events:
            self.apply(event)
        return self


def _describe(package: PackageState, payload: dict[str, Any]) -> None:
    package.item = package.item or payload.get("item_name")
    package.category = package.category or payload.get("category")
    package.unit = package.unit or payload.get("unit")

