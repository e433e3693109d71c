"""The findings lifecycle: open, acknowledged, resolved, waived; every change recorded.

A finding's status belongs to its identity within its license, so it carries over to
later runs that find the same violation. A waiver has a justification and an expiry;
the status is worked out when read, so a waiver past its expiry reads as open again
(with `waiver_expired` set) at that very moment, with no sweeper to fall behind. The
stored state keeps the waiver as it was granted, and its history stays untouched.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auditor.domain.errors import Conflict, InvalidInput, NotFound
from auditor.services.access import Forbidden, Permission, Principal
from auditor.services.api_ports import ApiStore, FindingQuery, FindingState

STATUSES = ("open", "acknowledged", "resolved", "waived")


def effective(state: FindingState | None, now: datetime) -> dict[str, Any]:
    """Return the status fields of a finding as they stand at now."""
    if state is None:
        return {"status": "open", "revision": 0, "waiver": None, "waiver_expired": False}
    expired = (state.status == "waived" and state.waiver_expires_at is not None
               and state.waiver_expires_at <= now)
    waiver = None
    if state.waiver_expires_at is not None:
        waiver = {"justification": state.waiver_justification,
                  "expires_at": state.waiver_expires_at}
    return {"status": "open" if expired else state.status, "revision": state.revision,
            "waiver": waiver, "waiver_expired": expired, "note": state.note,
            "actor": state.actor, "changed_at": state.changed_at}


def with_status(store: ApiStore, license_number: str,
                rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return findings with their current status merged in.

    Rows read as a page carry their recorded state already (under "state"); the states
    of any others are read in one query.
    """
    unread = [r["identity"] for r in rows if "state" not in r]
    states = store.finding_states(license_number, unread) if unread else {}
    now = datetime.now(UTC)
    return [{**{k: v for k, v in row.items() if k != "state"},
             **effective(row["state"] if "state" in row else states.get(row["identity"]), now)}
            for row in rows]


def list_findings(store: ApiStore, query: FindingQuery,
                  status: str | None) -> tuple[list[dict[str, Any]], bool]:
    """Return a page of a run's findings with status (one status if asked), and if more follow.

    The status filter applies after the page is read, since status is computed; a page
    can hold fewer items than asked, and `next_offset` still moves on.
    """
    license_number = store.run_license(query.run_id)
    if license_number is None:
        raise NotFound(f"no audit run {query.run_id!r}")
    rows = with_status(store, license_number, store.findings(query))
    return [r for r in rows if status is None or r["status"] == status], len(rows) == query.limit


def get_finding(store: ApiStore, finding_id: int) -> dict[str, Any]:
    """Return one finding with its current status; NotFound if there is none."""
    row = store.finding(finding_id)
    if row is None:
        raise NotFound(f"no finding {finding_id}")
    return with_status(store, row["license"], [row])[0]


def change_status(store: ApiStore, who: Principal, finding: dict[str, Any], status: str,
                  note: str, waiver: dict[str, Any] | None) -> None:
    """Record a status change by who, if their role allows it; Conflict if raced."""
    _check_change(who, finding["status"], status, waiver)
    now = datetime.now(UTC)
    state = FindingState(status, finding["revision"] + 1, note, who.actor, now,
                         (waiver or {}).get("justification"), (waiver or {}).get("expires_at"))
    if not store.set_finding_state(finding["license"], finding["identity"], finding["revision"],
                                   finding["status"], state):
        raise Conflict("the finding changed meanwhile; read it again and retry")


def _check_change(who: Principal, old: str, new: str, waiver: dict[str, Any] | None) -> None:
    if new not in STATUSES:
        raise InvalidInput(f"unknown status {new!r}")
    if new == old:
        raise Conflict(f"the finding is already {old}")
    needed = Permission.ACKNOWLEDGE if new == "acknowledged" else Permission.AUDIT
    if not who.may(needed):
        raise Forbidden(f"the {who.role.value} role may not set a finding to {new}")
    if (new == "waived") != (waiver is not None):
        raise InvalidInput("a waiver (justification and expiry) is required exactly when "
                           "the status is waived")
    if waiver is not None and waiver["expires_at"] <= datetime.now(UTC):
        raise InvalidInput("a waiver's expiry must be in the future")
