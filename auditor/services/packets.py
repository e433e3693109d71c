"""Audit packets: the canonical content of a run's packet, its versions and its SHA-256.

A packet's content is a JSON document: the run exactly as stored, the license, the
rules in force with their citations, the trend of the license's earlier runs, the
waivers in force and the supporting logs of the period. Its SHA-256 is the hash of that
document serialised canonically (sorted keys, compact, UTF-8) — `auditor packet RUN
--format json` writes exactly those bytes, so anyone can check the hash printed on the
PDF's cover. Generation time, who generated it and the hash itself are outside it.

Until a run's packet is finalized, version 1 is a draft, rebuilt when generated again
(the same events give the same content and hash). A finalized version never changes; an
amendment is a new, final version that names what changed, who made it and why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from auditor.domain.errors import Conflict, InvalidInput
from auditor.domain.events import canonical_json
from auditor.domain.findings import Finding
from auditor.domain.rules import Pack, Severity, parse_deadline
from auditor.services.audit import local_bounds, rules_in_force
from auditor.services.packet_view import packet_tables, pdf_context
from auditor.services.ports import EventStore
from auditor.services.report_logs import supporting_logs
from auditor.services.report_ports import (
    ActivityLog,
    NoWaivers,
    PacketRecords,
    PacketVersion,
    WaiverSource,
)
from auditor.services.tables import Table
from auditor.services.trail import NoTrail, Trail, head_json

FORMAT = "auditor-packet/1"
WAIVER_FIELDS = ("rule_id", "subject", "justification", "approver", "expires_at")


class PacketRenderer(Protocol):
    """Turns a packet into a document (the PDF and Excel adapters implement it)."""

    def pdf(self, context: dict[str, Any]) -> bytes:
        """Return the packet as PDF."""

    def xlsx(self, tables: list[Table]) -> bytes:
        """Return the tables as an Excel workbook."""


@dataclass
class PacketSources:
    """What a packet is built from and kept in."""

    store: EventStore
    activity: ActivityLog
    records: PacketRecords
    waivers: WaiverSource = field(default_factory=NoWaivers)
    trail: Trail = field(default_factory=NoTrail)


def content_sha256(content: dict[str, Any]) -> str:
    """Return the SHA-256 of the packet content's canonical JSON."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def build_content(sources: PacketSources, run_id: str, pack: Pack) -> dict[str, Any]:
    """Return a run's packet content, read afresh from the stored run and events."""
    run = sources.store.runs.get(run_id)
    license = sources.store.get_license(run["license"])
    start, end = (date.fromisoformat(run["period"][k]) for k in ("from", "to"))
    opens, closes = local_bounds(license, start, end)
    history = sources.store.runs.list(license.number)
    created = next((r["created_at"] for r in history if r["id"] == run_id), closes)
    earlier = [r for r in history if r["created_at"] <= created]
    return {
        "format": FORMAT, "run": run, "run_created_at": created.isoformat(timespec="seconds"),
        "license": {"number": license.number, "state": license.state,
                    "business_name": license.business_name, "timezone": license.timezone},
        "rules": [rule_json(r) for r in rules_in_force(pack, license, start, end)],
        "rules_from_run_pack": pack.content_hash == run["pack"]["hash"],
        "trend": [{"run_id": r["id"], "created_at": r["created_at"].isoformat(timespec="seconds"),
                   "from": r["period_start"].isoformat(), "to": r["period_end"].isoformat(),
                   "pack_version": r["pack_version"], "score": r["readiness_score"]}
                  for r in sorted(earlier, key=lambda r: r["created_at"])],
        "waivers": _waivers(sources.waivers, run, license.number, closes),
        "logs": [t.as_json() for t in supporting_logs(
            sources.activity, license.number, license.zone(), opens, closes,
            parse_deadline(pack.parameters.get("sale_report_window", "PT24H")))],
    }


def current_packet(sources: PacketSources, run_id: str, pack: Pack, by: str,
                   now: datetime | None = None) -> PacketVersion:
    """Return the run's packet: its latest final version, or a draft built now."""
    versions = sources.records.versions(run_id)
    if versions and versions[-1].finalized_at is not None:
        return versions[-1]
    content = build_content(sources, run_id, pack)
    if versions and _without_trail(versions[-1].content) == content:
        return versions[-1]  # same content: keep the record of when it was first made
    content["trail"] = head_json(sources.trail)
    sha = content_sha256(content)
    draft = PacketVersion(run_id, 1, sha, content, now or datetime.now(UTC), by,
                          "first version", [], None)
    sources.records.save_draft(draft)
    return draft


def finalize_packet(sources: PacketSources, run_id: str, pack: Pack, by: str,
                    now: datetime | None = None) -> PacketVersion:
    """Make the run's packet final: from now on it cannot change, only be amended."""
    now = now or datetime.now(UTC)
    packet = current_packet(sources, run_id, pack, by, now)
    if packet.finalized_at is not None:
        raise Conflict(f"the packet of run {run_id} is already final (version "
                       f"{packet.version}); amend it to record a change")
    sources.records.finalize(run_id, packet.version, now)
    return replace(packet, finalized_at=now)


def amend_packet(sources: PacketSources, run_id: str, pack: Pack, by: str, reason: str,
                 now: datetime | None = None) -> PacketVersion:
    """Add a new final version of a finalized packet, naming what changed, who and why."""
    if not by.strip() or not reason.strip():
        raise InvalidInput("an amendment needs who makes it and why")
    versions = sources.records.versions(run_id)
    if not versions or versions[-1].finalized_at is None:
        raise Conflict(f"the packet of run {run_id} is not final yet: finalize it first")
    previous, now = versions[-1], now or datetime.now(UTC)
    content = build_content(sources, run_id, pack)
    changes = describe_changes(previous.content, content)
    if not changes:
        raise InvalidInput("nothing in the packet changed since version "
                           f"{previous.version}: there is nothing to amend")
    content["amendment"] = {"version": previous.version + 1, "by": by, "reason": reason,
                            "changes": changes, "previous_sha256": previous.sha256}
    content["trail"] = head_json(sources.trail)
    packet = PacketVersion(run_id, previous.version + 1, content_sha256(content), content,
                           now, by, reason, changes, now)
    sources.records.add_version(packet)
    return packet


def _without_trail(content: dict[str, Any]) -> dict[str, Any]:
    """Return packet content without the trail head, which moves with every change."""
    return {k: v for k, v in content.items() if k != "trail"}


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return, in words, what differs between two packet contents."""
    changes = []
    old_logs = {t["key"]: t for t in before.get("logs", [])}
    for table in after["logs"]:
        old = old_logs.get(table["key"], {"rows": []})
        if old["rows"] != table["rows"]:
            changes.append(f"{table['title']}: {len(old['rows'])} rows before, "
                           f"{len(table['rows'])} now")
    for key, what in (("waivers", "waivers in force"), ("rules", "rule texts"),
                      ("trend", "earlier runs")):
        if before.get(key) != after.get(key):
            changes.append(f"{what} changed")
    return changes


def render_packet(packet: PacketVersion, fmt: str, renderer: PacketRenderer,
                  full_logs: bool = False) -> bytes:
    """Return the packet as pdf, xlsx, or json (its canonical content, which the SHA covers).

    The PDF shows the logs' exceptions and per-day totals, or every row with `full_logs`.
    """
    if fmt == "json":
        return canonical_json(packet.content).encode()
    if fmt == "xlsx":
        return renderer.xlsx(packet_tables(packet))
    if fmt == "pdf":
        return renderer.pdf(pdf_context(packet, full_logs))
    raise InvalidInput(f"unknown packet format {fmt!r}: use pdf, xlsx or json")


def rule_json(rule: Any) -> dict[str, Any]:
    """Return a rule in force as the packet content holds it, with its citations."""
    return {"id": rule.id, "title": rule.title, "version": rule.version,
            "severity": rule.severity.value, "description": rule.description,
            "remediation": rule.remediation,
            "citations": [{"regulation": c.regulation, "url": c.url,
                           "jurisdiction": c.jurisdiction} for c in rule.citations],
            "uncited": rule.uncited}


def _waivers(source: WaiverSource, run: dict[str, Any], license_number: str,
             at: datetime) -> list[dict[str, Any]]:
    """Return the waivers in force at the period's end on the run's findings."""
    by_identity = {finding_identity(f): f for f in run["findings"]}
    waived = source.in_force(license_number, list(by_identity), at)
    rows = [{"rule_id": by_identity[i]["rule_id"], "subject": by_identity[i]["subject"],
             **{k: _text(w.get(k)) for k in WAIVER_FIELDS[2:]}}
            for i, w in waived.items() if i in by_identity]
    return sorted(rows, key=lambda w: (w["rule_id"], w["subject"] or ""))


def finding_identity(finding: dict[str, Any]) -> str:
    """Return a stored finding's identity, as the domain defines it."""
    return Finding(finding["rule_id"], finding["rule_version"], Severity(finding["severity"]),
                   datetime.fromisoformat(finding["occurred_at"]), finding["package_label"],
                   finding["subject"], finding["message"], tuple(finding["evidence"])).identity


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value
