"""The associate's today page for one license: what needs doing on the floor now.

Each list names the events behind it (their ids), so the page links to the evidence:

manifests     deliveries of the last days not fully scanned in, or not yet accepted
moves         moves to a location METRC did not show first (the transfer-before-move rule)
picks         packages about to be moved: the replenishment's vault packages, first-
              expiring first, each saying whether METRC must be changed before the move
variances     count lines off METRC's on-hand with no adjustment since, and the reason
              codes METRC allows for that adjustment
replenish     what to bring from the vault (the replenishment report)
sell soon     packages on hand, nearest expiry first (the sell-soon report)

The last three replay the whole history, so the page loads them on their own, and every
list is kept (`Recent`) until something new is stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from auditor.domain.events import EventType as T
from auditor.domain.findings import Finding, explain
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule
from auditor.rules.language import state_given
from auditor.services.audit import local_bounds, rules_in_force
from auditor.services.ledger import LEDGER_TYPES, Ledger
from auditor.services.ports import EventStore
from auditor.services.report_ports import ActivityLog, LoggedEvent
from auditor.services.reports import Period, replenishment, sell_soon
from auditor.services.tables import Table

T_ = TypeVar("T_")
DAYS = 7  # the page looks back a week: a delivery or a count older than that is an audit's
MOVE_RULE = "transfer-before-move"
TOLERANCE = 1e-6


@dataclass
class Manifest:
    """A delivery of the window: what it lists, what was scanned, and whether accepted."""

    number: str
    first_event: int
    arrived_at: datetime
    listed: set[str] = field(default_factory=set)
    scanned: set[str] = field(default_factory=set)
    accepted: bool = False

    @property
    def unscanned(self) -> list[str]:
        """Return the listed package tags not scanned in, sorted."""
        return sorted(self.listed - self.scanned)


@dataclass(frozen=True)
class Variance:
    """A count line off METRC's on-hand, still without an adjustment."""

    event_id: int
    counted_at: datetime
    label: str
    item: str | None
    counted: float
    metrc: float
    unit: str | None


@dataclass
class Today:
    """The lists to act on, for one license and one day."""

    license: License
    day: date
    manifests: list[Manifest]
    moves: list[Finding]
    variances: list[Variance]
    reasons: list[str]


@dataclass(frozen=True)
class Pick:
    """A vault package to bring to the sales floor, and where METRC has it now."""

    label: str
    product: str
    expires: str | None
    quantity: Any  # how many to bring, when the replenishment says
    metrc_location: str | None
    metrc_event: int | None  # the event that put it there in METRC: the evidence
    metrc_since: datetime | None
    ready: bool  # METRC already shows it on the sales floor, recently enough to cover a move


@dataclass
class Stock:
    """What to bring out and what to sell first, for one license and one day."""

    license: License
    day: date
    replenish: Table
    sell_soon: Table
    picks: list[Pick] = field(default_factory=list)


def _window(license: License, now: datetime) -> tuple[date, date, datetime, datetime]:
    """Return the page's first and last local day and their UTC bounds."""
    day = now.astimezone(license.zone()).date()
    start = day - timedelta(days=DAYS - 1)
    return (start, day, *local_bounds(license, start, day))


def today(store: EventStore, log: ActivityLog, pack: Pack, license: License,
          now: datetime) -> Today:
    """Return the lists to act on for the license as of now."""
    start, day, opens, closes = _window(license, now)
    return Today(license, day, open_manifests(log, license, opens, closes),
                 unrecorded_moves(store, pack, license, start, day),
                 unadjusted_variances(log, license, opens, closes),
                 allowed_reasons(log, license, closes))


def stock(log: ActivityLog, license: License, now: datetime, pack: Pack) -> Stock:
    """Return the replenishment and sell-soon lists (the reports) and the picks, as of now."""
    start, day, opens, closes = _window(license, now)
    period = Period(license, start, day, opens, closes)
    replenish, soon = replenishment(log, period)[0], sell_soon(log, period)[0]
    rule = next((r for r in rules_in_force(pack, license, start, day) if r.id == MOVE_RULE),
                None)
    return Stock(license, day, replenish, soon,
                 picks(log, license, replenish, soon, closes, _lookback(rule)))


class Recent:
    """The latest lists per license and day, kept while nothing new is stored.

    Polling pages ask every few seconds, but the lists replay the license's history
    (on-hand needs every event since the first), and they change only when something
    is stored: every stored change moves the audit trail's head, so a list computed at
    the same head is still right. Bounded to the most recent `size` keys per process.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], version: Any, compute: Callable[[], T_]) -> T_:
        """Return the value kept for key at version, else compute and keep it."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == version:
                self._kept.move_to_end(key)
                return cast(T_, kept[1])
        value = compute()
        with self._lock:
            self._kept[key] = (version, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return value


def open_manifests(log: ActivityLog, license: License, opens: datetime,
                   closes: datetime) -> list[Manifest]:
    """Return the window's deliveries with a package not scanned in, or not accepted."""
    found: dict[str, Manifest] = {}
    for e in log.events(license.number, (T.MANIFEST, T.MANIFEST_PACKAGE, T.RECEIVING_SCAN),
                        opens, closes):
        number = str(e.payload.get("manifest_number") or e.reference or "")
        if not number:
            continue
        manifest = found.setdefault(number, Manifest(number, e.id, e.occurred_at))
        if e.type is T.MANIFEST_PACKAGE and e.package_label:
            manifest.listed.add(e.package_label)
            manifest.accepted |= e.payload.get("shipment_state") == "Accepted"
        elif e.type is T.RECEIVING_SCAN and e.package_label:
            manifest.scanned.add(e.package_label)
        elif e.type is T.MANIFEST:
            manifest.accepted |= bool(e.payload.get("received_at"))
    return [m for m in found.values() if m.unscanned or not m.accepted]


def unrecorded_moves(store: EventStore, pack: Pack, license: License, start: date,
                     end: date) -> list[Finding]:
    """Return the window's moves with no METRC location change first, as the rule finds them."""
    rules = [r for r in rules_in_force(pack, license, start, end) if r.id == MOVE_RULE]
    if not rules:
        return []
    opens, closes = local_bounds(license, start, end)
    evaluation = store.evaluate(license.number, rules[0], opens, closes)
    return [explain(rules[0], v, license.zone()) for v in evaluation.violations]


def unadjusted_variances(log: ActivityLog, license: License, opens: datetime,
                         closes: datetime) -> list[Variance]:
    """Return the window's count lines off METRC's on-hand not adjusted since the count."""
    ledger, waiting = Ledger(), dict[str, Variance]()
    for e in log.events(license.number, (*LEDGER_TYPES, T.COUNT_LINE), None, closes):
        if e.type is T.ADJUSTMENT and e.package_label in waiting:
            del waiting[e.package_label]
        if e.type is not T.COUNT_LINE:
            ledger.apply(e)
        elif e.occurred_at >= opens and e.package_label:
            variance = _variance(e, ledger)
            if variance is not None:
                waiting[e.package_label] = variance
    return sorted(waiting.values(), key=lambda v: v.counted_at)


def _variance(count: LoggedEvent, ledger: Ledger) -> Variance | None:
    """Return the count line's variance against METRC's on-hand then, or None if it agrees."""
    state = ledger.state(count.package_label)
    counted = float(count.payload.get("counted_quantity") or 0.0)
    if abs(counted - state.metrc) <= TOLERANCE:
        return None
    return Variance(count.id, count.occurred_at, state.label, state.item, counted,
                    round(state.metrc, 6), state.unit or count.payload.get("unit"))


def allowed_reasons(log: ActivityLog, license: License, closes: datetime) -> list[str]:
    """Return the adjustment reasons of the license's newest METRC reason list."""
    lists: dict[str, list[str]] = {}
    for e in log.events(license.number, (T.ADJUST_REASON,), None, closes):
        lists.setdefault(str(e.payload.get("list_digest") or e.reference), []).append(
            str(e.payload.get("name")))
    return sorted(set(list(lists.values())[-1])) if lists else []


def picks(log: ActivityLog, license: License, replenish: Table, soon: Table,
          closes: datetime, lookback: timedelta | None) -> list[Pick]:
    """Return the replenishment's vault packages, first-expiring first, with METRC's location.

    The tables are read by column name, so the reports may add columns. A package is
    ready to move when METRC's newest location for it is a sales floor location, set no
    longer ago than the transfer-before-move rule looks back (an older change would not
    cover a move made now); otherwise the associate changes it in METRC first.
    """
    wanted = _wanted(replenish)
    tag, expiry = _column(soon, "package"), _column(soon, "expires")
    expires = {row[tag]: row[expiry] for row in soon.rows} \
        if tag is not None and expiry is not None else {}
    where = _metrc_locations(log, license, set(wanted), closes)
    found = []
    for label, (product, quantity) in wanted.items():
        location, event_id, since = where.get(label, (None, None, None))
        recent = since is not None and (lookback is None or since >= closes - lookback)
        found.append(Pick(label, product, expires.get(label), quantity, location, event_id,
                          since, recent and location in license.sales_floor_locations))
    return sorted(found, key=lambda p: (p.expires or "9999-12-31", p.label))


def _column(table: Table, *words: str) -> int | None:
    """Return the index of the first column whose name holds every word, or None."""
    return next((i for i, c in enumerate(table.columns)
                 if all(w in c.name.lower() for w in words)), None)


def _wanted(replenish: Table) -> dict[str, tuple[str, Any]]:
    """Return each vault package the replenishment names: its product and how many to move."""
    packages, product = _column(replenish, "from vault package"), _column(replenish, "product")
    quantity = _column(replenish, "move from this package")
    wanted: dict[str, tuple[str, Any]] = {}
    if packages is None:
        return wanted
    for row in replenish.rows:
        for label in str(row[packages] or "").split(","):
            if label.strip():
                wanted[label.strip()] = (str(row[product] or "") if product is not None
                                         else "", row[quantity] if quantity is not None
                                         else None)
    return wanted


def _metrc_locations(log: ActivityLog, license: License, labels: set[str],
                     closes: datetime) -> dict[str, tuple[str, int, datetime]]:
    """Return METRC's newest location of each package: where, by which event, since when.

    What sets it is the rule language's own evidence of a package's state (a location
    change, a package snapshot, an accepted delivery), as transfer-before-move reads it.
    """
    where: dict[str, tuple[str, int, datetime]] = {}
    if not labels:
        return where
    for e in log.events(license.number, (T.MANIFEST_PACKAGE, T.PACKAGE_SNAPSHOT,
                                         T.LOCATION_CHANGE), None, closes):
        if e.package_label not in labels:
            continue
        given = state_given(e.type.value, e.payload, ("location",), license)
        if given and given.get("location"):
            where[e.package_label] = (str(given["location"]), e.id, e.occurred_at)
    return where


def _lookback(rule: Rule | None) -> timedelta | None:
    """Return how far back the move rule looks for a METRC change (None: no such rule)."""
    within = getattr(rule.params, "within", None) if rule is not None else None
    return within if isinstance(within, timedelta) else None


def as_rows(table: Table, limit: int = 20) -> dict[str, Any]:
    """Return a report table's title, column names and kinds, and first rows for a template."""
    return {"title": table.title, "columns": [c.name for c in table.columns],
            "kinds": [c.kind for c in table.columns],
            "rows": table.rows[:limit], "more": max(len(table.rows) - limit, 0)}
