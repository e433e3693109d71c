"""Post an alert to a webhook: JSON over HTTP(S), with an idempotency key header.

Uses the standard library's urllib (httpx stays in the METRC connector alone); a
webhook is one POST, with no paging or session to keep.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from auditor.services.alerts import AlertNotDelivered


class Webhook:
    """Sends alerts to one URL (a `Send`)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        """Keep the URL (http or https only) and the timeout per request, in seconds."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"AUDITOR_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout = timeout

    def __call__(self, payload: Mapping[str, Any], key: str) -> None:
        """POST the alert; AlertNotDelivered unless the receiver answers 2xx."""
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as error:
            raise AlertNotDelivered(f"the webhook answered {error.code}") from error
        except (urllib.error.URLError, OSError) as error:
            raise AlertNotDelivered(f"the webhook could not be reached: {error}") from error
        if not 200 <= status < 300:
            raise AlertNotDelivered(f"the webhook answered {status}")
