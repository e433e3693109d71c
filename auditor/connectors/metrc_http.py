"""METRC's v2 REST API over httpx: Basic auth, paging, rate limiting and retries.

The only module that imports httpx. Keys go into the Authorization header and nowhere
else: no message, log line or exception raised here carries them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from auditor.services.sync_ports import (
    MetrcKeys,
    MetrcRefused,
    MetrcRequestRefused,
    MetrcUnavailable,
)

PAGE_SIZE = 20  # METRC v2 serves at most 20 rows a page
GETS_PER_SECOND = 50.0  # METRC's limit per facility
MAX_ATTEMPTS = 6
BACKOFF_BASE = 0.5  # seconds; attempt n waits up to BACKOFF_BASE * 2**n
BACKOFF_CAP = 30.0
MAX_RETRY_AFTER = 120.0
_RETRIED_STATUS = {429, 500, 502, 503, 504}


class RateLimiter:
    """Space calls at least 1/rate seconds apart (one process, one facility)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        """Block until the next call is allowed."""
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class MetrcHttp:
    """Read one facility's METRC data: a MetrcSource on a real HTTP client."""

    def __init__(self, base_url: str, keys: MetrcKeys, license_number: str, *,
                 page_size: int = PAGE_SIZE, rate: float = GETS_PER_SECOND,
                 max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF_BASE,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.license_number = license_number
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.retries = 0  # how many requests were retried, for tests and summaries
        self._sleep = sleep
        self._limiter = RateLimiter(rate, sleep=sleep)
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                    auth=httpx.BasicAuth(keys.vendor_key, keys.user_key),
                                    headers={"Accept": "application/json"})

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Yield the rows of each page, from page 1 to the envelope's TotalPages."""
        number = 1
        while True:
            body = self._get(path, {**params, "pageNumber": str(number),
                                    "pageSize": str(self.page_size)})
            if isinstance(body, list):  # a bare array (v1 style, reference lists): one page
                yield body
                return
            rows = body.get("Data") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise MetrcRequestRefused(f"METRC GET {path} answered without a Data list")
            yield rows
            total_pages = body.get("TotalPages")
            if not rows or not isinstance(total_pages, int) or number >= total_pages:
                return
            number += 1

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        last = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self.retries += 1
            self._limiter.wait()
            try:
                response = self._client.get(path, params=params)
            except httpx.TransportError as exc:  # refused, reset or dropped connections
                last = f"{type(exc).__name__}"
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code in _RETRIED_STATUS:
                last = f"HTTP {response.status_code}"
                self._sleep(self._retry_after(response) or self._backoff(attempt))
                continue
            return self._body(path, response)
        raise MetrcUnavailable(
            f"METRC GET {path} for license {self.license_number} kept failing ({last}) after "
            f"{self.max_attempts} attempts: METRC may be down or limiting this key; "
            f"run the sync again later (it resumes where it stopped)")

    def _body(self, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise MetrcRefused(
                f"METRC refused the user key for license {self.license_number} (HTTP {status} "
                f"on GET {path}): check the vendor and user keys (AUDITOR_METRC_VENDOR_KEY, "
                f"AUDITOR_METRC_USER_KEY or AUDITOR_METRC_KEYS_FILE), that the user has the "
                f"facility's API permissions in METRC, and that the base URL is the license's "
                f"state ({self._client.base_url})")
        if status >= 400:
            raise MetrcRequestRefused(f"METRC refused GET {path} (HTTP {status}): "
                                      f"{response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            raise MetrcRequestRefused(f"METRC GET {path} answered with invalid JSON") from None

    def _backoff(self, attempt: int) -> float:
        """Return a 'full jitter' wait: random up to base * 2**attempt, capped."""
        return random.uniform(0, min(BACKOFF_CAP, self.backoff * 2 ** attempt))

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        """Return the wait a 429/503 asks for (seconds or an HTTP date), capped."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)
