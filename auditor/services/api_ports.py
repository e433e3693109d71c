"""The ports the HTTP API's services need from storage, and the records they exchange."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from auditor.domain.license import DEFAULT_ORGANIZATION


@dataclass(frozen=True)
class TokenRecord:
    """A stored bearer token: its organization, role and licenses, never its secret."""

    id: int
    role: str
    licenses: tuple[str, ...]
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
    organization: str = DEFAULT_ORGANIZATION


@dataclass(frozen=True)
class FindingState:
    """A finding's recorded status, the change that set it and its waiver, if any."""

    status: str
    revision: int
    note: str
    actor: str
    changed_at: datetime
    waiver_justification: str | None = None
    waiver_expires_at: datetime | None = None


@dataclass(frozen=True)
class FindingQuery:
    """Filters over a run's findings, and the page wanted."""

    run_id: str
    rule_id: str | None = None
    severity: str | None = None
    package_label: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class EventQuery:
    """Filters over a license's events, and the page wanted (by id, ascending)."""

    license_number: str
    type: str | None = None
    package_label: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    after_id: int = 0
    limit: int = 100


class Tokens(Protocol):
    """Storage of API tokens by the SHA-256 of their secret."""

    def add(self, secret_sha256: str, role: str, licenses: tuple[str, ...], label: str,
            created_at: datetime, organization: str = DEFAULT_ORGANIZATION) -> TokenRecord:
        """Store a token of an organization and return its record."""

    def by_secret(self, secret_sha256: str) -> TokenRecord | None:
        """Return the token with that secret hash, revoked or not, or None."""

    def list(self) -> list[TokenRecord]:
        """Return every token, oldest first."""

    def revoke(self, token_id: int, at: datetime) -> None:
        """Mark a token revoked; NotFound if there is none."""


@dataclass(frozen=True)
class KeyState:
    """A stored Idempotency-Key: the request it was first used with, and its answer if done."""

    request_sha256: str
    status: str  # pending (work under way, or interrupted) or done
    response: dict[str, Any]
    reserved_at: datetime


class IdempotencyKeys(Protocol):
    """Idempotency keys per license, reserved before the work they guard starts."""

    def reserve(self, license_number: str, key: str, request_sha256: str,
                at: datetime) -> bool:
        """Insert a pending key; False if the key exists already."""

    def state(self, license_number: str, key: str) -> KeyState | None:
        """Return a key's state, or None."""

    def take_over(self, license_number: str, key: str, stale_before: datetime,
                  at: datetime) -> bool:
        """Reserve a key still pending since before stale_before anew; False if another did."""

    def complete(self, license_number: str, key: str, response: dict[str, Any]) -> bool:
        """Store a pending key's answer; False if it was done already."""

    def release(self, license_number: str, key: str) -> None:
        """Drop a pending key whose work failed, so a retry can do it."""

    def fail_interrupted_imports(self, license_number: str, sha256: str,
                                 started_before: datetime, at: datetime) -> list[int]:
        """Mark imports of a file still running since before a time failed; return their ids."""


class ApiStore(Protocol):
    """What the API reads and writes beyond the event store."""

    tokens: Tokens
    keys: IdempotencyKeys

    def run_license(self, run_id: str) -> str | None:
        """Return the license number of an audit run, or None if there is no such run."""

    def findings(self, query: FindingQuery) -> list[dict[str, Any]]:
        """Return a page of a run's findings (with license and identity), by occurrence.

        Each row carries its recorded state under "state" (None: never changed), read
        with the page rather than by a second query.
        """

    def finding(self, finding_id: int) -> dict[str, Any] | None:
        """Return one stored finding with its run's license, or None."""

    def finding_states(self, license_number: str,
                       identities: list[str]) -> dict[str, FindingState]:
        """Return the recorded states of findings by identity (absent means never changed)."""

    def set_finding_state(self, license_number: str, identity: str, expected_revision: int,
                          old_status: str, state: FindingState) -> bool:
        """Record a new state and its change if the revision is still expected; else False."""

    def finding_history(self, license_number: str, identity: str) -> list[dict[str, Any]]:
        """Return a finding's status changes, oldest first."""

    def events(self, query: EventQuery) -> list[dict[str, Any]]:
        """Return a page of a license's events."""


@dataclass(frozen=True)
class RuleVersion:
    """A rule version published through the API: its YAML, when and by whom."""

    rule_id: str
    version: int
    yaml: str
    published_at: datetime | None
    actor: str


class RuleVersions(Protocol):
    """One organization's published rule versions (the shipped YAML files are the seed)."""

    organization: str

    def of(self, organization: str) -> RuleVersions:
        """Return the published versions of another organization."""

    def latest(self) -> dict[str, RuleVersion]:
        """Return the newest published version of each edited rule, by rule id."""

    def get(self, rule_id: str, version: int) -> RuleVersion | None:
        """Return one published version, or None."""

    def add(self, rule_id: str, version: int, yaml: str, at: datetime, actor: str,
            licenses: Sequence[str] = ()) -> None:
        """Store a new version (trailed for the licenses it affects); Conflict if it exists."""
