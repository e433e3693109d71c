"""What a rule template compiles to: the queries the batch audit and the worker run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql import Select


@dataclass(frozen=True)
class Compiled:
    """A rule's queries: its violations, obligations still pending, events left unjudged."""

    found: Select[Any]
    pending: Select[Any] | None = None
    undetermined: Select[Any] | None = None
