"""What a packet shows: the PDF's sections and the Excel sheets, from its content."""

from __future__ import annotations

import re
from collections import Counter
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from auditor.domain.events import canonical_json
from auditor.services.packet_pages import pdf_log
from auditor.services.report_ports import PacketVersion
from auditor.services.tables import Column, Table

SEVERITIES = ("critical", "high", "medium", "low", "info")


def pdf_context(packet: PacketVersion, full_logs: bool = False) -> dict[str, Any]:
    """Return the template context of the PDF: cover, summary, findings, waivers, logs.

    The logs of rows that mostly agree (moves, counts, manifests) show their exceptions
    and per-day totals unless `full_logs`: every row is in the Excel and JSON packets.
    """
    content = packet.content
    run, zone = content["run"], content["license"]["timezone"]
    return {"packet": packet, "run": run, "license": content["license"],
            "generated_at": local_text(packet.created_at, content["license"]["timezone"]),
            "summary": summary_rows(content),
            "severity_counts": [(s, run["counts"]["by_severity"].get(s, 0))
                                for s in SEVERITIES],
            "groups": [{"rule": g["rule"], "findings": [pdf_finding(f, zone)
                                                         for f in g["findings"]]}
                       for g in finding_groups(content)],
            "trend": content["trend"],
            "waivers": content["waivers"],
            "logs": [pdf_log(Table.from_json(t), full_logs) for t in content["logs"]],
            "amendment": content.get("amendment"), "cover": cover_items(packet),
            "undetermined": undetermined_rows(content),
            "citations": citation_rows(content),
            "incidents": [row for row in incidents(content) if row[5] > 1 or row[6]],
            "incident_count": len(incidents(content)),
            "rules_from_run_pack": content["rules_from_run_pack"]}


def summary_rows(content: dict[str, Any]) -> list[list[Any]]:
    """Return per rule in force: id, title, severity, findings, findings per 1,000 events,
    pending, not judged; failing first."""
    counts = content["run"]["counts"]
    rates = (content["run"].get("activity") or {}).get("per_rule_per_1000_events", {})
    rows = [[r["id"], r["title"], r["severity"], counts["by_rule"].get(r["id"], 0),
             rates.get(r["id"], 0.0 if rates or "activity" in content["run"] else None),
             counts.get("pending", {}).get(r["id"], 0),
             counts.get("undetermined", {}).get(r["id"], 0)] for r in content["rules"]]
    known = {r["id"] for r in content["rules"]}
    # A finding of a rule missing from today's pack still counts: the run is the record.
    rows += [[rule, "(not in the current pack)", "", n, rates.get(rule), 0, 0]
             for rule, n in counts["by_rule"].items() if rule not in known]
    return sorted(rows, key=lambda r: (-r[3], SEVERITIES.index(r[2]) if r[2] else 9, r[0]))


def finding_groups(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the findings grouped by rule, each group with the rule's text and citations."""
    rules = {r["id"]: r for r in content["rules"]}
    order = Counter(f["rule_id"] for f in content["run"]["findings"])
    groups = []
    for rule_id in sorted(order, key=lambda r: (-order[r], r)):
        rule = rules.get(rule_id, {"id": rule_id, "title": rule_id, "citations": [],
                                   "uncited": None, "description": "", "remediation": ""})
        found = [f for f in content["run"]["findings"] if f["rule_id"] == rule_id]
        groups.append({"rule": rule, "findings": found})
    return groups


INCIDENT_COLUMNS = [Column("incident", "int"), Column("occurred at", "datetime"),
                    Column("package"), Column("subject"), Column("rules", width=50),
                    Column("findings", "int"), Column("corrected", width=70)]


def incidents(content: dict[str, Any]) -> list[list[Any]]:
    """Return the run's incidents: findings that share a triggering record are one.

    Each rule's finding stays in the findings; an incident lists them together and what
    remedied them, by which event and when.
    """
    by_trigger: dict[Any, list[dict[str, Any]]] = {}
    for finding in content["run"]["findings"]:
        trigger = finding["evidence"][0] if finding["evidence"] else finding["subject"]
        by_trigger.setdefault(trigger, []).append(finding)
    rows = []
    for number, found in enumerate(sorted(by_trigger.values(),
                                          key=lambda f: (f[0]["occurred_at"], f[0]["rule_id"])),
                                   start=1):
        first = found[0]
        rows.append([number, first["occurred_at"], first["package_label"], first["subject"],
                     ", ".join(sorted({f["rule_id"] for f in found})), len(found),
                     _correction(found, content["license"]["timezone"])])
    return rows


def _correction(found: list[dict[str, Any]], zone: str) -> str | None:
    """Return what remedied an incident's findings: by which event (type, reference) and
    when, in local time; a late follow-up also says how far past its deadline."""
    said = []
    for finding in found:
        fields = finding["fields"]
        late = fields.get("timeliness") == "late"
        if not fields.get("corrected_by_type") and not late:
            continue
        when = fields["reported_at"] if late else fields["corrected_at"]
        text = f"{finding['rule_id']}: corrected {'late, ' if late else ''}at " \
               f"{local_text(when, zone)}"
        if late:
            text += f" ({fields['past_deadline']} past the deadline)"
        if fields.get("corrected_by_type"):
            what = fields.get("corrected_by_reference") or \
                f"event {fields['corrected_by_event']}"
            text += f", by {fields['corrected_by_type'].replace('_', ' ')} {what}"
        if text not in said:  # findings of one rule on one record: said once
            said.append(text)
    return "; ".join(said) or None


CITATION_COLUMNS = [Column("rule"), Column("jurisdiction"), Column("citation", width=70),
                    Column("source", width=60)]


def citation_rows(content: dict[str, Any]) -> list[list[Any]]:
    """Return per rule in force its citations (the license's state and METRC's only),
    or a row saying the state cites nothing for it, and why."""
    rows: list[list[Any]] = []
    state = content["license"]["state"]
    for rule in sorted(content["rules"], key=lambda r: r["id"]):
        rows += [[rule["id"], c.get("jurisdiction", ""), c["regulation"], c["url"]]
                 for c in rule["citations"]]
        if rule.get("uncited"):
            rows.append([rule["id"], state, f"none: {rule['uncited']}", None])
    return rows


UNDETERMINED_COLUMNS = [Column("rule"), Column("occurred at", "datetime"), Column("event"),
                        Column("event id", "int"), Column("package"), Column("reference")]


def undetermined_rows(content: dict[str, Any]) -> list[list[Any]]:
    """Return the events a rule could not judge (nothing yet told their package's state)."""
    return [[u["rule_id"], u["occurred_at"], u["event_type"], u["event_id"],
             u["package_label"], u["reference"]]
            for u in content["run"].get("undetermined", [])]


FINDING_COLUMNS = [Column("occurred at", "datetime"), Column("severity"),
                   Column("rule version", "int"), Column("package"), Column("subject"),
                   Column("explanation", width=80), Column("evidence events"),
                   Column("evidence fields", width=80)]


def finding_row(finding: dict[str, Any]) -> list[Any]:
    """Return a finding as a table row (evidence fields as canonical JSON text)."""
    return [finding["occurred_at"], finding["severity"], finding["rule_version"],
            finding["package_label"], finding["subject"], finding["message"],
            ", ".join(map(str, finding["evidence"])), canonical_json(finding["fields"])]


def pdf_finding(finding: dict[str, Any], zone: str) -> dict[str, Any]:
    """Return a finding as the PDF prints it, its evidence condensed.

    The subject is shown when it differs from the package; of the frozen fields, those
    whose value the explanation already states (a tag, a reason, a local time) are not
    repeated. Every field stays in the Excel and JSON packets.
    """
    package, message = finding["package_label"], finding["message"]
    return {"severity": finding["severity"], "occurred_at": finding["occurred_at"],
            "package": package or "",
            "subject": finding["subject"] if finding["subject"] != package else None,
            "message": message, "evidence": ", ".join(map(str, finding["evidence"])),
            "fields": [(key, value) for key, value in sorted(finding["fields"].items())
                       if not _stated(value, message, zone)]}


def _stated(value: Any, message: str, zone: str) -> bool:
    """Return whether the message states a text or time value, as a whole word."""
    if not isinstance(value, str) or len(value) < 4:
        return False  # numbers and short codes: too easily found by chance
    if len(value) >= 16 and value[4] == "-" and value[10] == "T":
        with suppress(ValueError):  # not a time after all: compared as text
            value = local_text(value, zone)  # the message reads times locally
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", message) is not None


def packet_tables(packet: PacketVersion) -> list[Table]:
    """Return the Excel sheets: cover, summary, trend, waivers, one per rule and per log."""
    content, run = packet.content, packet.content["run"]
    # Figures stay numbers (a spreadsheet sums them); every other fact is text.
    cover = Table("cover", "Cover", [Column("item"), Column("value", "number", width=70)],
                  [[k, v if isinstance(v, int | float) else "" if v is None else str(v)]
                   for k, v in cover_items(packet)])
    summary = Table("summary", "Summary", [Column("rule"), Column("title"), Column("severity"),
                                            Column("findings", "int"),
                                            Column("per 1,000 events", "number"),
                                            Column("pending", "int"),
                                            Column("not judged", "int")], summary_rows(content))
    trend = Table("trend", "Trend", [Column("run"), Column("audited at", "datetime"),
                                     Column("from", "date"), Column("to", "date"),
                                     Column("pack version", "int"), Column("score", "int")],
                  [[t["run_id"], t["created_at"], t["from"], t["to"], t["pack_version"],
                    t["score"]] for t in content["trend"]])
    waivers = Table("waivers", "Waivers", [Column("rule"), Column("subject"),
                                           Column("justification", width=60),
                                           Column("approver"), Column("expires")],
                    [[w["rule_id"], w["subject"], w["justification"], w["approver"],
                      w["expires_at"]] for w in content["waivers"]])
    rules = [Table(f"rule:{g['rule']['id']}", g["rule"]["id"], FINDING_COLUMNS,
                   [finding_row(f) for f in g["findings"]]) for g in finding_groups(content)]
    logs = [Table.from_json(t) for t in content["logs"]]
    unjudged = Table("undetermined", "Not judged", UNDETERMINED_COLUMNS,
                     undetermined_rows(content))
    citations = Table("citations", "Citations", CITATION_COLUMNS, citation_rows(content))
    incident_table = Table("incidents", "Incidents", INCIDENT_COLUMNS, incidents(content))
    assert len(run["findings"]) == sum(len(t.rows) for t in rules)
    zone = content["license"]["timezone"]
    return [replace(t, zone=zone) for t in
            (cover, summary, incident_table, citations, trend, waivers, *rules, unjudged,
             *logs)]


def cover_items(packet: PacketVersion) -> list[tuple[str, Any]]:
    """Return the cover's facts, in order, shared by the PDF and the Excel cover sheet."""
    content, run = packet.content, packet.content["run"]
    license = content["license"]
    items: list[tuple[str, Any]] = [
        ("business", license["business_name"]), ("license", license["number"]),
        ("state", license["state"]),
        ("period", f"{run['period']['from']} to {run['period']['to']}"),
        ("audit run", run["run_id"]),
        ("audited at", local_text(content["run_created_at"], license["timezone"])),
        ("rule pack", f"{run['pack']['id']} v{run['pack']['version']}"),
        ("rule pack SHA-256", run["pack"]["hash"]),
        ("readiness score (of 100)", run["readiness_score"]),
        *_rate_items(run.get("activity")),
        ("findings", len(run["findings"])),
        ("incidents (findings sharing a triggering record are one)", len(incidents(content))),
        ("packet version", packet.version),
        ("status", "final" if packet.finalized_at else "draft"),
        ("generated at", local_text(packet.created_at, license["timezone"])),
        ("generated by", packet.created_by),
        ("packet SHA-256", packet.sha256),
        ("audit trail head", _trail_head(content.get("trail"))),
        ("what the SHA-256 covers", "the packet's canonical JSON content (`auditor packet RUN "
         "--format json`): run, license, rules, trend, waivers, logs, audit trail head; "
         "not this page's generation time, author or the hash itself"),
    ]
    if content.get("amendment"):
        amendment = content["amendment"]
        items += [("amends SHA-256", amendment["previous_sha256"]),
                  ("amendment reason", amendment["reason"]),
                  ("amendment changes", "; ".join(amendment["changes"]))]
    return items


def _rate_items(activity: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Return the cover's finding rate, the figure that moves as a store improves."""
    if not activity:
        return [("findings per 1,000 events", "not worked out for this run")]
    previous = activity.get("previous") or {}
    return [("findings per 1,000 events", activity["findings_per_1000_events"]),
            ("events in the period", activity["events"]),
            ("findings per 1,000 events, previous run",
             previous.get("findings_per_1000_events", "no earlier run")),
            ("change since the previous run (negative: improving)",
             activity["change"] if activity["change"] is not None else "nothing to compare")]


def local_text(value: datetime | str, zone: str) -> str:
    """Return a time as people read it: in the license's zone, with its abbreviation."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times without an offset are UTC
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _trail_head(head: dict[str, Any] | None) -> str:
    """Return the trail head a packet carries, as `auditor trail verify --head` takes it."""
    return f"{head['seq']}:{head['sha256']}" if head else "none (no audit trail)"
