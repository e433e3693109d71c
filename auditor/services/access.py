"""Bearer tokens, roles and what each role may do, scoped to licenses.

A token's secret is shown once, at creation; only its SHA-256 is stored. The secret
carries 256 bits of randomness, so a plain hash (no salt, no stretching) cannot be
reversed by guessing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from auditor.domain.errors import AuditorError, InvalidInput
from auditor.domain.license import DEFAULT_ORGANIZATION
from auditor.services.api_ports import TokenRecord, Tokens
from auditor.services.ports import EventStore

SECRET_PREFIX = "aud_"
AFFECTING_LICENSES = frozenset({"rule.publish"})  # entries listing the licenses they affect


class Forbidden(AuditorError):
    """The caller's role does not allow the action (on an object it may see)."""


class Permission(StrEnum):
    """One kind of action an API route performs."""

    READ = "read"  # licenses, imports, events, audits, findings, rules
    READ_RUNS = "read_runs"  # audit runs and their findings only
    INGEST = "ingest"
    ACKNOWLEDGE = "acknowledge"
    AUDIT = "audit"  # start audits; resolve, waive and reopen findings
    ADMIN = "admin"  # licenses and tokens
    TRAIL = "trail"  # read and verify the audit trail
    SYNC = "sync"  # pull a license's data from METRC


class Role(StrEnum):
    """The roles a token can carry."""

    VIEWER = "viewer"
    ASSOCIATE = "associate"
    COMPLIANCE_OFFICER = "compliance_officer"
    ADMIN = "admin"
    REGULATOR = "regulator"


P = Permission
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({P.READ, P.READ_RUNS}),
    Role.ASSOCIATE: frozenset({P.READ, P.READ_RUNS, P.INGEST, P.ACKNOWLEDGE}),
    Role.COMPLIANCE_OFFICER: frozenset({P.READ, P.READ_RUNS, P.ACKNOWLEDGE, P.AUDIT, P.SYNC}),
    Role.ADMIN: frozenset({P.READ, P.READ_RUNS, P.ADMIN, P.TRAIL, P.SYNC}),
    # Packets (finalized, for the regulator) come later; until then the runs they cite.
    Role.REGULATOR: frozenset({P.READ_RUNS, P.TRAIL}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's (or console user's) id and label, role, organization
    and visible licenses."""

    token_id: int  # the user's id when kind is "user"
    label: str
    role: Role
    licenses: frozenset[str]
    organization: str = DEFAULT_ORGANIZATION
    kind: str = "token"  # "token" (API) or "user" (console sign-in)

    def may(self, permission: Permission) -> bool:
        """Return whether the role grants the permission."""
        return permission in GRANTS[self.role]

    def sees(self, license_number: str) -> bool:
        """Return whether the token may see the license's data."""
        return license_number in self.licenses

    def sees_entry(self, entry: dict[str, Any]) -> bool:
        """Return whether a trail entry concerns one of the token's licenses.

        An entry belongs to its license, or, for a change of the organization's rules,
        to every license the change affects (listed in its new value).
        """
        if entry["license"] is not None:
            return self.sees(entry["license"])
        if entry["action"] not in AFFECTING_LICENSES:
            return False
        new = entry["new"] if isinstance(entry["new"], dict) else {}
        named = new.get("licenses")
        return isinstance(named, list) and any(self.sees(str(n)) for n in named)

    @property
    def actor(self) -> str:
        """Return how changes made with this token are attributed."""
        return f"{self.kind} {self.token_id} ({self.label})"


def hash_secret(secret: str) -> str:
    """Return the stored form of a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(tokens: Tokens, store: EventStore, role: str, licenses: list[str],
                 label: str = "", organization: str | None = None) -> tuple[str, TokenRecord]:
    """Create a token for existing licenses of one organization; return its secret and record.

    Without an organization the token belongs to its licenses' (they must share one).
    """
    checked = check_role(role)
    owner = licenses_owner(store, licenses, organization, "a token")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    record = tokens.add(hash_secret(secret), checked.value, tuple(sorted(set(licenses))),
                        label or checked.value, datetime.now(UTC), owner)
    return secret, record


def licenses_owner(store: EventStore, licenses: list[str], organization: str | None,
                   holder: str) -> str:
    """Return the one organization that holds all the licenses (and is the one named, if any).

    holder names what is being created ("a token", "a user") in the messages.
    """
    if not licenses:
        raise InvalidInput(f"{holder} needs at least one license")
    owners = {store.get_license(n).organization for n in licenses}  # UnknownLicense names it
    owner = organization or (owners.pop() if len(owners) == 1 else None)
    if owner is None:
        raise InvalidInput("the licenses belong to several organizations: "
                           f"{', '.join(sorted(owners))}; {holder} belongs to one (--org)")
    outside = sorted(n for n in licenses if store.get_license(n).organization != owner)
    if outside:
        raise InvalidInput(f"licenses {', '.join(outside)} are not in organization {owner!r}")
    return owner


def check_role(role: str) -> Role:
    """Return the role named; InvalidInput listing the roles if there is none."""
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; one of: "
                           + ", ".join(r.value for r in Role)) from None


def authenticate(tokens: Tokens, secret: str) -> Principal | None:
    """Return the principal of a live token secret, or None."""
    record = tokens.by_secret(hash_secret(secret))
    if record is None or record.revoked_at is not None:
        return None
    return Principal(record.id, record.label, Role(record.role), frozenset(record.licenses),
                     record.organization)
