"""Test doubles of the sync ports: METRC pages held in memory, and checkpoints in a dict."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from auditor.services.sync_ports import EndpointRun

Answer = Callable[[str, Mapping[str, str]], list[dict[str, Any]]]


class ScriptedMetrc:
    """A MetrcSource answering each GET with answer(path, params): one page per call."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.closed = False

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Yield the scripted rows as one page (raising whatever the script raises)."""
        self.calls.append((path, dict(params)))
        yield self.answer(path, params)

    def close(self) -> None:
        """Remember that the source was closed."""
        self.closed = True


class InMemorySyncState:
    """SyncState in a dict, with the SQL adapter's rule: checkpoints only move forward."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], EndpointRun] = {}
        self.checkpoints: dict[tuple[str, str], datetime] = {}
        self.finished: list[dict[str, Any]] = []

    def checkpoint(self, license_number: str, endpoint: str) -> datetime | None:
        """Return the end of the last window pulled completely, or None."""
        return self.checkpoints.get((license_number, endpoint))

    def advance(self, license_number: str, run: EndpointRun, at: datetime) -> None:
        """Keep the run and move the checkpoint forward to its end, if later."""
        key = (license_number, run.endpoint)
        self.runs[key] = run
        current = self.checkpoints.get(key)
        if run.synced_through is not None and (current is None or run.synced_through > current):
            self.checkpoints[key] = run.synced_through

    def status(self, license_number: str) -> list[dict[str, Any]]:
        """Return each endpoint's last run, ordered by endpoint."""
        return [run.as_json() for (number, _), run in sorted(self.runs.items())
                if number == license_number]

    def finish(self, license_number: str, summary: dict[str, Any], at: datetime) -> None:
        """Keep the summary the trail would record."""
        self.finished.append(summary)
