"""The audit trail: an append-only, hash-chained record of every change and who made it.

Each entry says who (the actor), what (the action, the entity and its old and new
values as JSON), when (server time, UTC) and, for a license's data, which license. Its
hash is the SHA-256 of its canonical content, which includes the hash of the entry
before it (64 zeros for the first), so changing, removing or inserting an entry breaks
every link after it. An attacker who owns the database can still rewrite the whole
chain from the edit onwards; an HMAC-SHA256 over the same content, with a key kept
outside the database, makes that detectable too. A truncation of the newest entries
leaves a valid chain: only a head published elsewhere (each packet prints one) shows it.

`verify` walks stored rows as they come from the database, undecoded, so that a row
damaged beyond reading is reported by its place in the chain, not as a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditor.domain.errors import InvalidInput
from auditor.domain.events import canonical_json

GENESIS = "0" * 64  # the previous hash of the first entry
FIELDS = ("seq", "at", "actor", "action", "entity_type", "entity_id", "license", "old",
          "new", "prev_hash")
STORED = (*FIELDS, "hash", "mac")
MIN_KEY_BYTES = 16

_actor: ContextVar[str] = ContextVar("auditor_trail_actor", default="system")


def current_actor() -> str:
    """Return who the changes made now are attributed to."""
    return _actor.get()


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute the changes made inside the block to actor."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(actor: str) -> None:
    """Attribute the changes made from now on, in this context, to actor (the CLI's way)."""
    _actor.set(actor)


@dataclass(frozen=True)
class Change:
    """What a caller records: the action, the entity changed and its old and new values."""

    action: str
    entity_type: str
    entity_id: str
    license: str | None = None
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class Entry:
    """One stored entry; `old` and `new` are canonical JSON text, `at` ISO-8601 UTC text."""

    seq: int
    at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    license: str | None
    old: str
    new: str
    prev_hash: str
    hash: str
    mac: str | None = None

    def content(self) -> bytes:
        """Return the bytes the hash and the MAC cover: every field but the two of them."""
        return content_bytes([getattr(self, name) for name in FIELDS])

    def row(self) -> dict[str, Any]:
        """Return the entry as a stored row."""
        return {name: getattr(self, name) for name in STORED}

    def as_json(self) -> dict[str, Any]:
        """Return the entry for display, with old and new values decoded."""
        return {**self.row(), "old": json.loads(self.old), "new": json.loads(self.new)}

    @property
    def head(self) -> Head:
        """Return this entry as a chain head."""
        return Head(self.seq, self.hash)


@dataclass(frozen=True)
class Head:
    """The newest entry's sequence number and hash: enough to detect a later rewrite."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """Read a head written as SEQ:HASH."""
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"a trail head is SEQ:SHA256, got {text!r}")
        return cls(int(seq), digest.lower())


def content_bytes(values: list[Any]) -> bytes:
    """Return the canonical serialisation of an entry's content fields, in FIELDS order."""
    return canonical_json(values).encode()


def utc_text(when: datetime) -> str:
    """Return an aware time as the trail stores it: ISO-8601 in UTC, microseconds, Z."""
    if when.tzinfo is None:
        raise ValueError("trail times must carry a zone")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mac_of(content: bytes, key: bytes) -> str:
    """Return the HMAC-SHA256 of an entry's content under key."""
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def seal(previous: Head | None, change: Change, actor: str, at: datetime,
         key: bytes | None = None) -> Entry:
    """Return the entry that records change after previous (None: the first entry)."""
    fields: dict[str, Any] = {
        "seq": (previous.seq if previous else 0) + 1, "at": utc_text(at), "actor": actor,
        "action": change.action, "entity_type": change.entity_type,
        "entity_id": str(change.entity_id), "license": change.license,
        "old": canonical_json(change.old), "new": canonical_json(change.new),
        "prev_hash": previous.hash if previous else GENESIS}
    content = content_bytes([fields[name] for name in FIELDS])
    return Entry(**fields, hash=hashlib.sha256(content).hexdigest(),
                 mac=mac_of(content, key) if key else None)


def decode(row: Mapping[str, Any]) -> Entry:
    """Return the entry of a stored row; ValueError saying why if it cannot be read."""
    values: dict[str, Any] = {}
    for name in STORED:
        value = row[name]
        if isinstance(value, bytes | bytearray | memoryview):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{name} is not UTF-8 text") from None
        values[name] = value
    if not isinstance(values["seq"], int):
        raise ValueError("seq is not a whole number")
    for name in STORED[1:]:
        if values[name] is not None and not isinstance(values[name], str):
            raise ValueError(f"{name} is not text")
    for name in ("old", "new"):
        try:
            json.loads(values[name])
        except (TypeError, ValueError):
            raise ValueError(f"{name} is not JSON") from None
    try:
        datetime.strptime(values["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    except (TypeError, ValueError):
        raise ValueError("at is not an ISO-8601 UTC time") from None
    return Entry(**values)


@dataclass(frozen=True)
class Verdict:
    """What verification found: how many entries, the head, and the first broken entry."""

    entries: int
    head: Head | None
    broken_seq: int | None = None
    reason: str | None = None
    macs_checked: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the whole trail verified."""
        return self.broken_seq is None

    def __str__(self) -> str:
        if not self.ok:
            return f"seq {self.broken_seq}: {self.reason}"
        head = f"head {self.head}" if self.head else "empty"
        macs = "hashes and MACs" if self.macs_checked else "hashes (no key: MACs not checked)"
        return f"OK: {self.entries} entries, {head}; {macs} verified"


def verify(rows: Iterable[Mapping[str, Any]], key: bytes | None = None,
           published: Head | None = None) -> Verdict:
    """Check stored rows in seq order; return the first broken entry and why, if any.

    With a key, every entry must carry a valid MAC. With a published head (from a
    packet), that entry must still be there with the same hash: this catches a
    truncation, which leaves a valid chain behind.
    """
    previous: Head | None = None
    seen_published = False
    count = 0
    for position, row in enumerate(rows, start=1):
        problem, entry = _check(row, position, previous, key)
        if problem is not None:
            return Verdict(count, previous, position, problem, key is not None)
        assert entry is not None
        if published and entry.seq == published.seq:
            if entry.hash != published.hash:
                return Verdict(count, previous, entry.seq, "hash differs from the published "
                               f"head {published}: the trail was rewritten", key is not None)
            seen_published = True
        previous, count = entry.head, count + 1
    if published and not seen_published:
        return Verdict(count, previous, published.seq, "missing, yet a packet published it "
                       f"as the head ({published}): the trail was truncated", key is not None)
    return Verdict(count, previous, None, None, key is not None)


def _check(row: Mapping[str, Any], position: int, previous: Head | None,
           key: bytes | None) -> tuple[str | None, Entry | None]:
    """Return (why the row at position is broken, or None; its entry if readable)."""
    try:
        entry = decode(row)
    except (KeyError, ValueError) as exc:
        return f"undecodable row ({exc})", None
    if entry.seq > position:
        return f"missing: the trail jumps from {position - 1} to {entry.seq}", entry
    if entry.seq < position:
        return (f"an entry numbered {entry.seq} stands where {position} should "
                "(inserted or renumbered)"), entry
    if entry.prev_hash != (previous.hash if previous else GENESIS):
        return "broken link: its previous hash is not the hash of the entry before it", entry
    content = entry.content()
    if not hmac.compare_digest(hashlib.sha256(content).hexdigest(), entry.hash):
        return "hash mismatch: its content changed after it was written", entry
    if key is not None:
        if not entry.mac:
            return "no MAC: written without the trail key, or forged", entry
        if not hmac.compare_digest(mac_of(content, key), entry.mac):
            return "MAC mismatch: rewritten by someone without the trail key", entry
    return None, entry


def load_key(path: str) -> bytes:
    """Read an HMAC key file (kept outside the database); refuse one too short to protect."""
    try:
        with open(path, "rb") as handle:
            key = handle.read().strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read the trail key file {path}: {exc.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(f"the trail key in {path} is shorter than {MIN_KEY_BYTES} bytes")
    return key
