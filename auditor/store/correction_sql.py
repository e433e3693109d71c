"""What remedied a finding: the corrective event, looked up beside each found event.

A rule's corrective event (`Rule.corrected_by`, see `rules.params.correction_of`) is the
first event of its kind after the trigger (by its time field: when METRC recorded a
late report), up to the audit's cutoff, whose `match` fields equal the trigger's: a
METRC adjustment after a count variance, a receiving scan after the acceptance, a
location change after the move, a report after its deadline. It is worked out for the
findings alone (scalar look-ups on the found rows) and kept in the finding's evidence:
`corrected_by_event`, `corrected_by_type`, `corrected_by_reference` and `corrected_at`
(an instant, shown in local time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, instant, selects

CORRECTION = ("corrected_by_event", "corrected_by_type", "corrected_by_reference",
              "corrected_at")


def correction_columns(found: Any, rule: Rule, dialect: str, license: License,
                       cutoff: datetime) -> list[Any]:
    """Return the corrective event's id, type, reference and time as `derived_` columns
    of the found rows (none for a rule without a corrective event)."""
    if rule.corrected_by is None:
        return []
    spec = rule.corrected_by
    fix = events.alias("corrective")
    cf, ff = Fields(fix, dialect, license), Fields(found, dialect, license)
    when = cf.time(spec.time)
    first = (select(fix.c.id).where(
        *selects(fix, cf, spec.event, found.c.license_id), when > ff.time(),
        when <= instant(cutoff, dialect),
        *(cf[m.follow_up] == ff[m.event] for m in spec.match))
        .order_by(when, fix.c.id).limit(1))
    at = fix.c.occurred_at if spec.time == "occurred_at" else cf[spec.time]
    columns = (fix.c.id, fix.c.type, fix.c.reference, at)
    return [first.with_only_columns(column).scalar_subquery().label(f"derived_{name}")
            for name, column in zip(CORRECTION, columns, strict=True)]


def corrected_fields(row: Any) -> dict[str, Any]:
    """Return the corrective event's evidence fields from a found row (empty: none)."""
    mapping = row._mapping
    if mapping.get("derived_corrected_by_event") is None:
        return {}
    fields = {name: mapping.get(f"derived_{name}") for name in CORRECTION}
    fields["corrected_by_event"] = int(fields["corrected_by_event"])
    fields["corrected_at"] = _iso(fields["corrected_at"])
    return fields


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
