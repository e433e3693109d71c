"""The API's storage on SQL: tokens, findings with their lifecycle, events, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, insert, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import NotFound
from auditor.domain.license import DEFAULT_ORGANIZATION
from auditor.domain.trail import Change
from auditor.services.api_ports import EventQuery, FindingQuery, FindingState, TokenRecord
from auditor.store.engine import WRITE, single_statements
from auditor.store.idempotency_sql import SqlIdempotencyKeys
from auditor.store.organizations_sql import organization_id
from auditor.store.schema import (
    api_tokens,
    audit_runs,
    events,
    finding_changes,
    finding_states,
    findings,
    licenses,
    organizations,
)
from auditor.store.trail_sql import record


class SqlTokens:
    """Tokens on SQL, found by the hash of their secret."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = single_statements(engine)

    def add(self, secret_sha256: str, role: str, licenses: tuple[str, ...], label: str,
            created_at: datetime, organization: str = DEFAULT_ORGANIZATION) -> TokenRecord:
        """Store a token of an organization and return its record."""
        row = {"secret_sha256": secret_sha256, "role": role, "licenses": list(licenses),
               "label": label[:200], "created_at": created_at}
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            row["organization_id"] = organization_id(conn, organization)
            token_id = int(conn.execute(api_tokens.insert().returning(api_tokens.c.id),
                                        row).scalar_one())
            record(conn, Change("token.create", "token", str(token_id), None, None,
                                {"role": role, "licenses": list(licenses), "label": label[:200],
                                 "organization": organization}))
            return TokenRecord(token_id, role, licenses, label[:200], created_at,
                               organization=organization)

    def by_secret(self, secret_sha256: str) -> TokenRecord | None:
        """Return the token with that secret hash, or None."""
        with self._reads.connect() as conn:
            row = conn.execute(_tokens().where(
                api_tokens.c.secret_sha256 == secret_sha256)).first()
        return _token(row) if row else None

    def list(self) -> list[TokenRecord]:
        """Return every token, oldest first."""
        with self.engine.connect() as conn:
            return [_token(r) for r in conn.execute(_tokens().order_by(api_tokens.c.id))]

    def revoke(self, token_id: int, at: datetime) -> None:
        """Mark a token revoked; NotFound if there is none."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            done = conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                                .values(revoked_at=at))
            if done.rowcount == 0:
                raise NotFound(f"no token {token_id}")
            record(conn, Change("token.revoke", "token", str(token_id), None,
                                {"revoked_at": None}, {"revoked_at": at.isoformat()}))


def _tokens() -> Select[Any]:
    return select(api_tokens, organizations.c.name.label("organization")).join(
        organizations, organizations.c.id == api_tokens.c.organization_id)


def _token(row: Any) -> TokenRecord:
    return TokenRecord(row.id, row.role, tuple(row.licenses), row.label, row.created_at,
                       row.revoked_at, row.organization)


FINDING_COLUMNS = (findings.c.id, findings.c.run_id, findings.c.identity, findings.c.rule_id,
                   findings.c.rule_version, findings.c.severity, findings.c.occurred_at,
                   findings.c.package_label, findings.c.subject, findings.c.message,
                   findings.c.evidence, licenses.c.number.label("license"))


STATE_COLUMNS = tuple(finding_states.c[name].label(f"state_{name}") for name in (
    "status", "revision", "note", "actor", "changed_at", "waiver_justification",
    "waiver_expires_at"))


def _with_state(row: dict[str, Any]) -> dict[str, Any]:
    """Return a finding row with its joined state columns folded into `state` (None: none)."""
    values = [row.pop(column.name) for column in STATE_COLUMNS]
    row["state"] = FindingState(*values) if values[0] is not None else None
    return row


def _status_change(license_number: str, identity: str, old_status: str,
                   state: FindingState) -> Change:
    """Return the trail entry of a finding's status change (a waiver with its terms)."""
    expires = state.waiver_expires_at.isoformat() if state.waiver_expires_at else None
    new = {"status": state.status, "revision": state.revision, "note": state.note,
           "waiver": {"justification": state.waiver_justification, "expires_at": expires}
           if state.status == "waived" else None}
    return Change("finding.waive" if state.status == "waived" else "finding.status",
                  "finding", identity, license_number,
                  {"status": old_status, "revision": state.revision - 1}, new)


RUN_LICENSES_KEPT = 100_000


class SqlApiStore:
    """ApiStore on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tokens = SqlTokens(engine)
        self.keys = SqlIdempotencyKeys(engine)
        self._reads = single_statements(engine)  # each read below is one statement
        # A run never changes license, so its license is read once per process: every
        # findings page asks, and the answer saves a round trip each time.
        self._run_licenses: dict[str, str] = {}

    def _write(self) -> Any:
        return self.engine.connect().execution_options(**WRITE)

    def _license_id(self, conn: Any, number: str) -> int:
        found = conn.scalar(select(licenses.c.id).where(licenses.c.number == number))
        if found is None:
            raise NotFound(f"unknown license {number!r}")
        return int(found)

    def run_license(self, run_id: str) -> str | None:
        """Return the license number of an audit run, or None."""
        if run_id in self._run_licenses:
            return self._run_licenses[run_id]
        with self._reads.connect() as conn:
            number = conn.scalar(select(licenses.c.number)
                                 .join(audit_runs, audit_runs.c.license_id == licenses.c.id)
                                 .where(audit_runs.c.id == run_id))
        if number is not None:
            if len(self._run_licenses) >= RUN_LICENSES_KEPT:
                self._run_licenses.clear()  # a rare reset beats an LRU's bookkeeping
            self._run_licenses[run_id] = number
        return number

    def _findings(self) -> Select[Any]:
        return (select(*FINDING_COLUMNS)
                .join(audit_runs, audit_runs.c.id == findings.c.run_id)
                .join(licenses, licenses.c.id == audit_runs.c.license_id))

    def findings(self, query: FindingQuery) -> list[dict[str, Any]]:
        """Return a page of a run's findings, by occurrence then id, each with its state.

        The recorded states come in the same statement (joined by license and identity),
        so a page is one query, not a query for the findings and one for their states.
        """
        stmt = (select(*FINDING_COLUMNS, *STATE_COLUMNS)
                .join(audit_runs, audit_runs.c.id == findings.c.run_id)
                .join(licenses, licenses.c.id == audit_runs.c.license_id)
                .outerjoin(finding_states,
                           (finding_states.c.license_id == audit_runs.c.license_id)
                           & (finding_states.c.identity == findings.c.identity))
                .where(findings.c.run_id == query.run_id))
        for column, value in ((findings.c.rule_id, query.rule_id),
                              (findings.c.severity, query.severity),
                              (findings.c.package_label, query.package_label)):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.start is not None:
            stmt = stmt.where(findings.c.occurred_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(findings.c.occurred_at < query.end)
        stmt = (stmt.order_by(findings.c.occurred_at, findings.c.id)
                .limit(query.limit).offset(query.offset))
        with self._reads.connect() as conn:
            return [_with_state(dict(r._mapping)) for r in conn.execute(stmt)]

    def finding(self, finding_id: int) -> dict[str, Any] | None:
        """Return one stored finding with its run's license, or None."""
        with self._reads.connect() as conn:
            row = conn.execute(self._findings().where(findings.c.id == finding_id)).first()
        return dict(row._mapping) if row else None

    def finding_states(self, license_number: str,
                       identities: list[str]) -> dict[str, FindingState]:
        """Return the recorded states of findings by identity."""
        if not identities:
            return {}
        stmt = (select(finding_states).join(licenses,
                                            licenses.c.id == finding_states.c.license_id)
                .where(licenses.c.number == license_number,
                       finding_states.c.identity.in_(set(identities))))
        with self._reads.connect() as conn:
            return {r.identity: FindingState(r.status, r.revision, r.note, r.actor,
                                             r.changed_at, r.waiver_justification,
                                             r.waiver_expires_at)
                    for r in conn.execute(stmt)}

    def set_finding_state(self, license_number: str, identity: str, expected_revision: int,
                          old_status: str, state: FindingState) -> bool:
        """Record a new state and its change in one transaction if the revision still holds."""
        values = {"status": state.status, "revision": state.revision, "note": state.note,
                  "actor": state.actor, "changed_at": state.changed_at,
                  "waiver_justification": state.waiver_justification,
                  "waiver_expires_at": state.waiver_expires_at}
        with self._write() as conn, conn.begin():
            license_id = self._license_id(conn, license_number)
            if expected_revision == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(finding_states), {
                            "license_id": license_id, "identity": identity, **values})
                except IntegrityError:
                    return False
            else:
                done = conn.execute(update(finding_states).where(
                    finding_states.c.license_id == license_id,
                    finding_states.c.identity == identity,
                    finding_states.c.revision == expected_revision).values(values))
                if done.rowcount != 1:
                    return False
            conn.execute(insert(finding_changes), {
                "license_id": license_id, "identity": identity, "old_status": old_status,
                "new_status": state.status, "note": state.note, "actor": state.actor,
                "changed_at": state.changed_at,
                "waiver_justification": state.waiver_justification,
                "waiver_expires_at": state.waiver_expires_at})
            record(conn, _status_change(license_number, identity, old_status, state))
        return True

    def finding_history(self, license_number: str, identity: str) -> list[dict[str, Any]]:
        """Return a finding's status changes, oldest first."""
        stmt = (select(finding_changes.c.old_status, finding_changes.c.new_status,
                       finding_changes.c.note, finding_changes.c.actor,
                       finding_changes.c.changed_at, finding_changes.c.waiver_justification,
                       finding_changes.c.waiver_expires_at)
                .join(licenses, licenses.c.id == finding_changes.c.license_id)
                .where(licenses.c.number == license_number,
                       finding_changes.c.identity == identity)
                .order_by(finding_changes.c.id))
        with self._reads.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def events(self, query: EventQuery) -> list[dict[str, Any]]:
        """Return a page of a license's events, by id."""
        stmt = (select(events.c.id, events.c.type, events.c.occurred_at,
                       events.c.package_label, events.c.reference, events.c.source,
                       events.c.import_id, events.c.payload)
                .join(licenses, licenses.c.id == events.c.license_id)
                .where(licenses.c.number == query.license_number,
                       events.c.id > query.after_id))
        if query.type is not None:
            stmt = stmt.where(events.c.type == query.type)
        if query.package_label is not None:
            stmt = stmt.where(events.c.package_label == query.package_label)
        if query.start is not None:
            stmt = stmt.where(events.c.occurred_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(events.c.occurred_at < query.end)
        with self._reads.connect() as conn:
            rows = conn.execute(stmt.order_by(events.c.id).limit(query.limit))
            return [dict(r._mapping) for r in rows]
