"""Send new critical and high findings to a webhook, once each, retrying with backoff.

The worker queues an alert in the transaction that writes its finding (the outbox);
`deliver_due` sends the alerts that are due and records the outcome. A send that fails
is tried again after a backoff that doubles per attempt (capped at an hour). An alert
marked delivered is never sent again; one sent but not yet marked when the process died
is sent again after the restart, with the same `id` (in the body and the
`Idempotency-Key` header), so the receiver can drop the repeat.

Exception tree::

    AlertNotDelivered   the receiver refused the alert or could not be reached
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
BATCH = 100


class AlertNotDelivered(Exception):
    """The receiver refused the alert or could not be reached."""


@dataclass(frozen=True)
class Alert:
    """A queued alert: its row, the JSON body to send, and the attempts made so far."""

    id: int
    payload: Mapping[str, Any]
    attempts: int


class AlertOutbox(Protocol):
    """Where alerts wait until delivered."""

    def due(self, now: datetime, limit: int) -> list[Alert]:
        """Return up to limit undelivered alerts whose next attempt is due."""
        ...

    def delivered(self, alert_id: int, at: datetime) -> None:
        """Record that an alert was delivered."""
        ...

    def failed(self, alert_id: int, next_attempt_at: datetime, error: str) -> None:
        """Record a failed attempt and when to try again."""
        ...


Send = Callable[[Mapping[str, Any], str], None]  # (body, idempotency key); raises on failure


def backoff(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(20, max(0, attempts - 1)))


def deliver_due(outbox: AlertOutbox, send: Send, now: datetime) -> tuple[int, int]:
    """Send every alert that is due; return how many were delivered and how many failed."""
    sent = failed = 0
    for alert in outbox.due(now, BATCH):
        try:
            send(alert.payload, str(alert.payload["id"]))
        except AlertNotDelivered as why:
            outbox.failed(alert.id, now + backoff(alert.attempts + 1), str(why))
            failed += 1
            continue
        outbox.delivered(alert.id, now)
        sent += 1
    return sent, failed
