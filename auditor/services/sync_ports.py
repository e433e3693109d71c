"""The ports a METRC sync needs: a source of METRC pages and a store of checkpoints.

    AuditorError
    └── MetrcError               METRC could not be pulled from (502 over the API)
        ├── MetrcRefused         401/403: the keys or the user's rights are wrong
        ├── MetrcRequestRefused  another 4xx: METRC refused the request as sent
        └── MetrcUnavailable     429/5xx/network errors outlasted every retry
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from auditor.domain.errors import AuditorError


class MetrcError(AuditorError):
    """METRC could not be pulled from; the message says what to do."""


class MetrcRefused(MetrcError):
    """METRC answered 401 or 403: the keys or the user's facility rights are wrong."""


class MetrcRequestRefused(MetrcError):
    """METRC answered another 4xx: the request itself was refused."""


class MetrcUnavailable(MetrcError):
    """METRC kept failing (429, 5xx, dropped connections) after every retry."""


@dataclass(frozen=True)
class MetrcKeys:
    """A vendor key and a user key; never printed (repr hides them), never stored."""

    vendor_key: str = field(repr=False)
    user_key: str = field(repr=False)


class MetrcSource(Protocol):
    """Read access to one facility's METRC data."""

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Yield the rows of each page of a GET, following the v2 envelope to its last page."""

    def close(self) -> None:
        """Release the connections."""


@dataclass
class EndpointRun:
    """What one sync did for one endpoint."""

    endpoint: str
    status: str = "ok"  # ok, failed, skipped
    synced_through: datetime | None = None
    windows: int = 0
    pulled: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        """Return the one-line summary the CLI prints."""
        through = self.synced_through.isoformat() if self.synced_through else "-"
        text = (f"{self.endpoint:20} {self.status:6} windows {self.windows}, pulled "
                f"{self.pulled}, accepted {self.accepted}, duplicates {self.duplicates}, "
                f"rejected {self.rejected}; synced through {through}")
        for extra in (self.error, *self.notes):
            if extra:
                text += f"; {extra}"
        return text

    def as_json(self) -> dict[str, Any]:
        """Return the run as the API and the trail show it."""
        return {"endpoint": self.endpoint, "status": self.status,
                "synced_through": self.synced_through.isoformat() if self.synced_through
                else None, "windows": self.windows, "pulled": self.pulled,
                "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "rejections": self.rejections[:20],
                "notes": self.notes, "error": self.error}


class SyncState(Protocol):
    """Per license and endpoint: how far METRC has been pulled, and the last outcome."""

    def checkpoint(self, license_number: str, endpoint: str) -> datetime | None:
        """Return the end of the last window pulled completely, or None."""

    def advance(self, license_number: str, run: EndpointRun, at: datetime) -> None:
        """Store an endpoint's progress after a window has been pulled and ingested."""

    def status(self, license_number: str) -> list[dict[str, Any]]:
        """Return each endpoint's stored state, ordered by endpoint."""

    def finish(self, license_number: str, summary: dict[str, Any], at: datetime) -> None:
        """Record a finished (or failed) sync: its outcome per endpoint, in the audit trail."""
