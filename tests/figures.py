"""The `figure` fixture: tests report the figures the README scorecard quotes.

Loaded as a plugin by tests/conftest.py, so any test directory can use it.

A test calls `figure("trail: edits detected", detected, of=total, unit="%")`. With
AUDITOR_FIGURES naming a file, every figure is appended to it as one JSON line (the
scorecard script reads them back); without it they are dropped, so the tests run the
same either way. A figure is a measurement, never the verdict: each
test still asserts what it promises.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

Figure = Callable[..., None]


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Figure:
    """Return a function recording one named figure of the running test."""
    path = os.environ.get("AUDITOR_FIGURES")

    def record(name: str, value: float | int, of: float | int | None = None,
               unit: str = "", **detail: Any) -> None:
        row = {"name": name, "value": value, "of": of, "unit": unit,
               "test": request.node.nodeid, "detail": detail}
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(row, default=str) + "\n")
    return record
