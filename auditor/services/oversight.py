"""The compliance officer's view of a license: readiness across runs, open findings,
the findings of the latest run page by page, and status changes from a form.

A form carries the revision of the finding it was drawn from; a change is refused when
the finding has moved on since (the console's counterpart of the API's If-Match), so two
people working on one finding never overwrite each other unseen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.domain.errors import Conflict, InvalidInput, NotFound
from auditor.services.access import Forbidden, Principal
from auditor.services.api_ports import ApiStore, EventQuery, FindingQuery
from auditor.services.lifecycle import change_status, get_finding, with_status
from auditor.services.ports import AuditRuns

SEVERITIES = ("critical", "high", "medium", "low", "info")
READ_CHUNK = 1000  # findings read at a time when a whole run is summed up


class StaleForm(Conflict):
    """The form was drawn from an older revision of the finding than the stored one."""


@dataclass(frozen=True)
class Filters:
    """What the findings table shows: one rule, severity, status or package, and the page."""

    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    package: str | None = None
    page: int = 1
    size: int = 50


@dataclass
class BulkResult:
    """What a bulk acknowledgement did: findings changed, stale ones and refusals."""

    done: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def readiness_trend(runs: AuditRuns, license_number: str) -> list[dict[str, Any]]:
    """Return a license's runs oldest first: when, over what period, and the score."""
    return list(reversed(runs.list(license_number)))


def latest_run(runs: AuditRuns, license_number: str) -> dict[str, Any] | None:
    """Return the newest run's summary, or None before the first audit."""
    listed = runs.list(license_number)
    return listed[0] if listed else None


def run_findings(api: ApiStore, run_id: str) -> list[dict[str, Any]]:
    """Return every finding of a run with its current status."""
    found, offset = [], 0
    while True:
        rows = api.findings(FindingQuery(run_id, limit=READ_CHUNK, offset=offset))
        found += rows
        if len(rows) < READ_CHUNK:
            break
        offset += READ_CHUNK
    license_number = api.run_license(run_id)
    return with_status(api, license_number, found) if found and license_number else []


def open_counts(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Return open findings counted by severity (most severe first) and by rule."""
    still_open = [f for f in findings if f["status"] == "open"]
    by_severity = Counter(f["severity"] for f in still_open)
    return {"total": len(still_open),
            "by_severity": [(s, by_severity.get(s, 0)) for s in SEVERITIES],
            "by_rule": Counter(f["rule_id"] for f in still_open).most_common()}


def needing_action(findings: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """Return the open critical and high findings, most severe then newest first."""
    urgent = [f for f in findings if f["status"] == "open"
              and f["severity"] in ("critical", "high")]
    urgent.sort(key=lambda f: f["occurred_at"], reverse=True)
    urgent.sort(key=lambda f: SEVERITIES.index(f["severity"]))
    return urgent[:limit]


def findings_page(api: ApiStore, run_id: str,
                  filters: Filters) -> tuple[list[dict[str, Any]], bool]:
    """Return one page of a run's findings matching the filters, and whether more follow.

    Status is worked out when read (a waiver expires by itself), so a status filter
    reads the run's findings with status and pages what matches.
    """
    if filters.page < 1 or not 1 <= filters.size <= 500:
        raise InvalidInput("page starts at 1 and a page holds 1 to 500 findings")
    start = (filters.page - 1) * filters.size
    if filters.status is None:
        query = FindingQuery(run_id, filters.rule, filters.severity, filters.package or None,
                             limit=filters.size + 1, offset=start)
        rows = api.findings(query)
        license_number = api.run_license(run_id) or ""
        return with_status(api, license_number, rows[:filters.size]), len(rows) > filters.size
    matching = [f for f in run_findings(api, run_id) if f["status"] == filters.status
                and filters.rule in (None, f["rule_id"])
                and filters.severity in (None, f["severity"])
                and filters.package in (None, "", f["package_label"])]
    return matching[start:start + filters.size], len(matching) > start + filters.size


def change_from_form(api: ApiStore, who: Principal, finding_id: int, seen_revision: int,
                     status: str, note: str, waiver: dict[str, Any] | None = None) -> None:
    """Change a finding's status from a form drawn at seen_revision; Conflict if stale."""
    finding = get_finding(api, finding_id)
    if finding["revision"] != seen_revision:
        by = f" by {finding.get('actor')}" if finding.get("actor") else ""
        raise StaleForm(f"Finding {finding_id} was changed{by} after you opened it: it is "
                       f"now {finding['status']}. Nothing was saved; review it and submit "
                       "again.")
    if not note.strip():
        raise InvalidInput("a note saying why is required")
    change_status(api, who, finding, status, note.strip(), waiver)


def acknowledge_many(api: ApiStore, who: Principal, seen: dict[int, int],
                     note: str) -> BulkResult:
    """Acknowledge each finding (id -> revision seen) still as seen; report the rest."""
    result = BulkResult()
    for finding_id, revision in sorted(seen.items()):
        try:
            change_from_form(api, who, finding_id, revision, "acknowledged", note)
            result.done.append(finding_id)
        except StaleForm:
            result.stale.append(finding_id)
        except (Conflict, Forbidden, InvalidInput, NotFound) as refused:
            result.refused[finding_id] = str(refused)
    return result


def evidence_events(api: ApiStore, license_number: str,
                    event_ids: list[int]) -> list[dict[str, Any]]:
    """Return the license's events with those ids (its own only), in the order given."""
    found = []
    for event_id in event_ids:
        page = api.events(EventQuery(license_number, after_id=event_id - 1, limit=1))
        if page and page[0]["id"] == event_id:
            found.append(page[0])
    return found


def waiver_from_form(justification: str, expires_on: str, zone: Any) -> dict[str, Any]:
    """Return a waiver from a form's justification and expiry date (end of that local day)."""
    if not justification.strip():
        raise InvalidInput("a waiver needs a justification")
    try:
        day = datetime.strptime(expires_on, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"the expiry {expires_on!r} is not a date (YYYY-MM-DD)") from None
    expires = day.replace(hour=23, minute=59, second=59, tzinfo=zone).astimezone(UTC)
    return {"justification": justification.strip(), "expires_at": expires}
