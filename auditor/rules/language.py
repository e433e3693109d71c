"""The rule language: the fields rules read, their kinds, derived values and shared shapes.

This module knows no SQL and no engine; both evaluation backends build on it:

- every field a condition may name has a declared kind (text, number, date, time,
  boolean), so each backend types it the same way;
- derived fields (`local_date`, `on_hand`) and what they mean;
- METRC's and the POS's on-hand of a package, defined once (`ON_HAND`);
- the tolerances the templates share;
- `shape_violation`, the one place a violation's shape (time, package, subject,
  frozen fields) is decided.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from auditor.domain.events import EVENT_FIELDS, EventType
from auditor.domain.findings import Violation
from auditor.domain.license import License
from auditor.domain.rules import duration_text
from auditor.rules.coverage import COVERAGE, coverage_sentence

if TYPE_CHECKING:
    from auditor.domain.rules import Rule


class Kind(StrEnum):
    """What a field holds, and so how both backends read and compare it."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"  # a calendar date (ISO text in the payload)
    TIME = "time"  # an instant (ISO 8601 text with an offset in the payload)
    BOOLEAN = "boolean"


def _named(kind: Kind, names: str) -> dict[str, Kind]:
    return dict.fromkeys(names.split(), kind)


# Every payload field's kind, declared (never guessed from its name): `test_language`
# fails when a field is added to EVENT_FIELDS without one.
PAYLOAD_KINDS: dict[str, Kind] = {
    **_named(Kind.TEXT, "adjusted_by caregiver_license category count_id customer_id "
                        "customer_type delivery_id employee external_receipt_number "
                        "from_location item_name kind lab_testing_state label line_id "
                        "list_digest location manifest_number name note package_metrc_id "
                        "package_type patient_license product_name quantity_type reason "
                        "receipt_id receipt_metrc_id receipt_number received_from_license "
                        "received_from_manifest received_unit recipient recipient_license "
                        "recorded_by reference shipment_state shipped_unit shipper_license "
                        "shipper_name sku sublocation time_precision to_location transfer_id "
                        "unit unit_thc_content_unit unit_weight_unit"),
    **_named(Kind.NUMBER, "quantity counted_quantity shipped_quantity received_quantity "
                          "unit_price total_price unit_weight unit_thc_content package_count "
                          "received_package_count line_count metrc_id line_index"),
    **_named(Kind.DATE, "expiration_date sell_by_date use_by_date packaged_date finished_date "
                        "archived_date move_date actual_date"),
    **_named(Kind.TIME, "actual_arrival_at adjusted_at counted_at created_at effective_at "
                        "estimated_arrival_at last_modified moved_at received_at recorded_at "
                        "scanned_at sent_at sold_at"),
    **_named(Kind.BOOLEAN, "is_donation is_final is_finished is_on_hold is_on_recall "
                           "is_testing_sample is_trade_sample is_voided requires_note "
                           "requires_waste_weight voided"),
}
# Stored beside the payload on every event.
COLUMNS: dict[str, Kind] = {"package_label": Kind.TEXT, "reference": Kind.TEXT,
                            "occurred_at": Kind.TIME}
# Worked out, not stored: the event's date in the license's zone, and METRC's quantity of
# the event's package at the event's time (ON_HAND["metrc"]).
DERIVED: dict[str, Kind] = {"local_date": Kind.DATE, "on_hand": Kind.NUMBER}
STATE_PREFIX = "state."  # `state.X`: field X of the package's state (state_at_time)
LICENSE_PREFIX = "@license."  # a value taken from the license being audited


def kind_of(name: str) -> Kind:
    """Return the declared kind of a field (a `state.` field has its own field's kind)."""
    name = name.removeprefix(STATE_PREFIX)
    return COLUMNS.get(name) or DERIVED.get(name) or PAYLOAD_KINDS.get(name, Kind.TEXT)


def typed_value(field: str, raw: Any) -> Any:
    """Return a condition's literal value typed as the field it is compared with.

    A date field compares with dates, so "2026-03-10" in a rule is that date; lists (for
    `in`) are typed item by item. Values of other kinds are kept as written.
    """
    if isinstance(raw, list):
        return [typed_value(field, item) for item in raw]
    if kind_of(field) is Kind.DATE and isinstance(raw, str):
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            return raw
    return raw


# Events that make a tag known to METRC for the license (a manifest lists it, or METRC's
# package list does): `only_known_packages` asks for one of these, at any time.
KNOWN_PACKAGE_TYPES = ("manifest_package", "package_snapshot")

# Condition operators; those in NO_VALUE take no value, COMPARISONS may compare two fields.
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "matches", "not_matches",
             "empty", "not_empty", "length_between", "is_true", "is_false")
NO_VALUE = frozenset({"empty", "not_empty", "is_true", "is_false"})
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")

# Tolerances shared by the templates.
EPSILON = 1e-9  # equivalents are fractions: 8 g / 8 must not read as above 1


@dataclass(frozen=True, slots=True)
class Term:
    """One event type's part in an on-hand: its quantity field, its sign, and a filter.

    `only_if` is (field, value): the term counts only events whose field equals it;
    `unless` is a boolean field that excludes an event when true (a voided POS line).
    """

    type: str
    field: str
    sign: float
    only_if: tuple[str, str] | None = None
    unless: str | None = None


# The one definition of a package's on-hand at an instant: the sum of these terms over
# the package's events at or before it. METRC's: accepted quantity, plus adjustments,
# less METRC sales. The POS's: the same with POS sales (voided lines aside).
ACCEPTED = Term("manifest_package", "received_quantity", 1.0, ("shipment_state", "Accepted"))
ADJUSTED = Term("adjustment", "quantity", 1.0)
ON_HAND: dict[str, tuple[Term, ...]] = {
    "metrc": (ACCEPTED, ADJUSTED, Term("metrc_sale_line", "quantity", -1.0)),
    "pos": (ACCEPTED, ADJUSTED, Term("pos_sale_line", "quantity", -1.0, unless="voided")),
}


RECEIVING = "@receiving_location"  # where the license receives packages: its first vault


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one event type tells of a package's state, from its time on.

    `gives` maps a state field to the payload field that holds it (RECEIVING: the
    license's receiving location, where an accepted package is); `all_fields` gives
    every field of the payload (METRC's package snapshot). `only_if` is (field, value):
    only such events are evidence (a manifest line METRC accepted).
    """

    type: str
    gives: Mapping[str, str]
    only_if: tuple[str, str] | None = None
    all_fields: bool = False

    def fields(self) -> frozenset[str]:
        """Return the state fields this evidence gives."""
        if self.all_fields:
            return EVENT_FIELDS[EventType(self.type)]
        return frozenset(self.gives)

    def source(self, state_field: str) -> str | None:
        """Return the payload field (or RECEIVING) that gives a state field, if any."""
        if self.all_fields:
            return state_field if state_field in self.fields() else None
        return self.gives.get(state_field)


# A package's state at an instant is, field by field, what the latest evidence giving
# that field said: where it was accepted (the receiving location, until moved), METRC
# location changes, METRC's package snapshots, and (physical side) the move log.
# `location` is METRC's location; `physical_location` where the move log has it.
STATE_EVIDENCE: dict[str, Evidence] = {evidence.type: evidence for evidence in (
    Evidence("manifest_package", {"location": RECEIVING, "physical_location": RECEIVING,
                                  "lab_testing_state": "lab_testing_state"},
             only_if=("shipment_state", "Accepted")),
    Evidence("location_change", {"location": "location", "sublocation": "sublocation"}),
    Evidence("package_snapshot", {}, all_fields=True),
    Evidence("move", {"physical_location": "to_location"}),
)}


def state_fields_given(types: Iterable[str]) -> frozenset[str]:
    """Return the state fields that evidence of these types gives."""
    return frozenset().union(*(STATE_EVIDENCE[t].fields() for t in types))


def receiving_location(license: License) -> str:
    """Return where the license receives packages (its first vault location)."""
    return license.vault_locations[0] if license.vault_locations else ""


def state_given(event_type: str, payload: Mapping[str, Any], names: Iterable[str],
                license: License) -> dict[str, Any] | None:
    """Return the state fields (of `names`) an event gives, or None if it is no evidence."""
    evidence = STATE_EVIDENCE.get(event_type)
    if evidence is None:
        return None
    if evidence.only_if is not None and payload.get(evidence.only_if[0]) != evidence.only_if[1]:
        return None
    given = {}
    for name in names:
        source = evidence.source(name)
        if source is not None:
            given[name] = receiving_location(license) if source == RECEIVING \
                else payload.get(source)
    return given


def on_hand_delta(side: str, event_type: str, payload: Mapping[str, Any]) -> float | None:
    """Return how much an event moves a package's on-hand on one side (None: it does not).

    A missing or non-numeric quantity counts as nothing, as SQL's SUM skips a NULL.
    """
    for term in ON_HAND[side]:
        if term.type != event_type:
            continue
        if term.only_if is not None and payload.get(term.only_if[0]) != term.only_if[1]:
            return None
        if term.unless is not None and payload.get(term.unless) is True:
            return None
        amount = payload.get(term.field)
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        return term.sign * float(amount)
    return None


def reads_only_state(condition: Any) -> bool:
    """Return whether a condition reads nothing but `state.` fields."""
    if condition.any:
        return all(reads_only_state(c) for c in condition.any)
    return all(name.startswith(STATE_PREFIX)
               for name in (condition.field, condition.other or STATE_PREFIX))


def state_fields(conditions: Iterable[Any]) -> set[str]:
    """Return the state fields (without `state.`) that conditions read."""
    names: set[str] = set()
    for condition in conditions:
        if condition.any:
            names |= state_fields(condition.any)
            continue
        names |= {n.removeprefix(STATE_PREFIX) for n in (condition.field, condition.other or "")
                  if n.startswith(STATE_PREFIX)}
    return names


def message_fields(message: str) -> set[str]:
    """Return the field names a message template refers to (`{name}`, `{name!r}`)."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


Derive = Callable[[str], Any]  # a derived field's value for the triggering event, by name

# Facts a template works out for a found event that its message may name, beside DERIVED:
# aggregate: the running `total` after the event and the `limit` (`limit_name`) it
# passed; state_at_time: which labelled `require` conditions `failed`; reconcile: the
# counterpart's compared fields, `right_X` (what METRC recorded); full_count_interval:
# the `coverage` of the count closest to full in a missed interval (`rules.coverage`).
FACTS = frozenset({"total", "limit", "limit_name", "failed", COVERAGE})
COUNTERPART_PREFIX = "right_"


def facts_named(message: str) -> set[str]:
    """Return the derived fields and template facts a message names."""
    named = message_fields(message)
    return (named & (DERIVED.keys() | FACTS)) | {
        n for n in named if n.startswith(COUNTERPART_PREFIX)}


def timeliness(params: Any, occurred_at: datetime, zone: ZoneInfo,
               derive: Derive) -> dict[str, Any]:
    """Return whether a missed obligation is `late` (every follow-up came, after the
    deadline) or `missing`, and for a late one when and how late.

    `derive("follow_up_<i>")` is the earliest follow-up of group i up to the audit's end
    (None if there is none); the obligation was met when the last group's came.
    """
    times = [derive(f"follow_up_{i}") for i in range(len(params.groups))]
    window = params.deadline.describe()
    if any(t is None for t in times):
        return {"timeliness": "missing", "window": window}
    came = max(times)
    return {"timeliness": "late", "window": window, "reported_at": came.isoformat(),
            "delay": duration_text(came - occurred_at),
            "past_deadline": duration_text(came - params.deadline.due(occurred_at, zone))}


def finding_fact(rule: Rule, name: str, column: Callable[[str], Any]) -> Any:
    """Return a fact a message names, from the values a backend worked out beside a finding.

    `column(name)` gives them as both backends keep them: `total` and `limit_index`
    (aggregate), `failed_<i>` (state_at_time: condition i of `require` failed), or the
    fact itself (`on_hand`, `right_X`).
    """
    params = rule.params
    if name in ("limit", "limit_name"):
        index = column("limit_index")
        if index is None:
            return None
        limit = params.limits[int(index)]
        if name == "limit_name":
            return limit.name
        return limit.maximum if limit.maximum is not None else limit.minimum
    if name == "total":
        total = column("total")
        return None if total is None else round(float(total), 3)
    if name == COVERAGE:
        return coverage_sentence(column)
    if name == "failed":
        return listed([c.label or c.field or "a condition"
                       for i, c in enumerate(params.require) if column(f"failed_{i}")])
    return column(name)


def listed(items: list[str]) -> str | None:
    """Return items as a sentence lists them: "a", "a and b", "a, b and c" (None: none)."""
    if not items:
        return None
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def shape_violation(rule: Rule, event_id: int, event_type: str, occurred_at: datetime,
                    package_label: str | None, reference: str | None,
                    payload: Mapping[str, Any], zone: ZoneInfo,
                    derive: Derive | None = None) -> Violation:
    """Return the violation an event triggers: both backends shape it here.

    Its time is the event's, or the `finding_time` field's, or the deadline after it
    (`date_by_deadline`); its package is none for license-level rules; its subject is
    the `subject` field, else the event's reference. The frozen fields are the event's
    payload plus the derived fields the rule's message names (`derive` works them out).
    """
    params = rule.params
    finding_time = getattr(params, "finding_time", None)
    when = datetime.fromisoformat(payload[finding_time]) if finding_time else occurred_at
    if getattr(params, "date_by_deadline", False):
        when = params.deadline.due(when, zone)
    label = None if getattr(params, "license_level", False) else package_label
    subject_field = getattr(params, "subject", None)
    subject = payload.get(subject_field) if subject_field else reference
    fields = dict(payload)
    if getattr(params, "late_message", None) and derive is not None:
        fields.update(timeliness(params, occurred_at, zone, derive))
    for name in sorted(facts_named(params.message)):
        if name == "local_date":
            fields[name] = occurred_at.astimezone(zone).date().isoformat()
        elif derive is not None:
            fields[name] = derive(name)
    return Violation(event_id, event_type, when, label, subject, fields)
