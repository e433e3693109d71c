"""Console users: create, list and disable them, and sign them in by email and password.

Passwords are hashed with werkzeug's scrypt (salted, memory-hard); only the hash is
stored. A signed-in user is the same `Principal` an API token gives, with the same role
and organization/license scope, so every service check treats both alike.

Failed sign-ins are counted per source address and per account in the same per-minute
counter the API uses for bad tokens (`auth_failures`): past the limit the address, or
the account, is refused for the rest of the minute without checking the password. The
answer never says whether the email exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import check_password_hash, generate_password_hash

from auditor.domain.errors import AuditorError, InvalidInput
from auditor.domain.trail import Change
from auditor.services.access import Principal, Role, check_role, licenses_owner
from auditor.services.auth_failures import FailedAuthentications
from auditor.services.ports import EventStore
from auditor.services.trail import Trail
from auditor.services.user_ports import UserRecord, Users

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt of a megabyte password is a cheap denial of service
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked when the email is unknown, so an unknown email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method="scrypt")


class SignInRefused(AuditorError):
    """The email and password do not sign in (or the address or account is limited)."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignInLimits:
    """The failure counters sign-in consults: per source address and per account."""

    addresses: FailedAuthentications
    accounts: FailedAuthentications


def normal_email(email: str) -> str:
    """Return the email as stored (trimmed, lower-cased); InvalidInput if it is not one."""
    cleaned = email.strip().lower()
    if not EMAIL.match(cleaned) or len(cleaned) > 254:
        raise InvalidInput(f"{email!r} is not an email address (like ann@example.com)")
    return cleaned


def check_password(password: str) -> str:
    """Return the password if it is long enough to keep; InvalidInput naming the rule."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password may have at most {MAX_PASSWORD} characters")
    return password


def create_user(users: Users, store: EventStore, email: str, password: str, role: str,
                licenses: list[str], organization: str | None = None) -> UserRecord:
    """Create a user for existing licenses of one organization; Conflict if the email is taken."""
    checked = check_role(role)
    owner = licenses_owner(store, licenses, organization, "a user")
    hashed = generate_password_hash(check_password(password), method="scrypt")
    return users.add(normal_email(email), hashed, checked.value,
                     tuple(sorted(set(licenses))), owner, datetime.now(UTC))


def user_principal(user: UserRecord) -> Principal:
    """Return the principal a user acts as: its role, organization and licenses."""
    return Principal(user.id, user.email, Role(user.role), frozenset(user.licenses),
                     user.organization, kind="user")


def signed_in(users: Users, user_id: int) -> Principal | None:
    """Return the principal of a session's user, or None once it is disabled or gone."""
    user = users.get(user_id)
    if user is None or user.disabled_at is not None:
        return None
    return user_principal(user)


def sign_in(users: Users, limits: SignInLimits, trail: Trail, email: str, password: str,
            address: str) -> Principal:
    """Return the principal of a live user with that password; SignInRefused otherwise."""
    account = email.strip().lower()[:254]
    for counter, key in ((limits.addresses, address), (limits.accounts, account)):
        wait = counter.limited_for(key)
        if wait:
            _count_failure(limits, trail, address, account)  # the trail hears of the limit
            raise SignInRefused("too many failed sign-ins; try again in a minute", wait)
    user = users.by_email(account)
    good = check_password_hash(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
    if user is not None and good and user.disabled_at is None:
        return user_principal(user)
    _count_failure(limits, trail, address, account)
    raise SignInRefused("the email or password is wrong, or the account is disabled")


def _count_failure(limits: SignInLimits, trail: Trail, address: str, account: str) -> None:
    """Count a failed sign-in against the address and the account; trail what is reported."""
    for counter, kind, key in ((limits.addresses, "address", address),
                               (limits.accounts, "account", account)):
        for report in counter.failed(key).reports:
            trail.record(Change(f"signin.{report.kind}", kind, report.address, None, None,
                                {"window_start": report.window_start,
                                 "failures": report.failures}))
