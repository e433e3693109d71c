"""What a rule template compiles to: the queries the batch audit and the worker run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql import Select

# The `outcome` column of `Compiled.together`: what became of each event it selects.
FOUND, PENDING, UNDETERMINED = 0, 1, 2


@dataclass(frozen=True)
class Compiled:
    """A rule's queries: its violations, obligations still pending, events left unjudged.

    `together`, when a template gives it, selects in one query every event the other
    three select, each with an `outcome` column (FOUND, PENDING or UNDETERMINED): their
    common work (a count's coverage, each sale's package state) is then done once, not
    once per query. The batch audit and the worker's scoped re-judge run it where it is
    given, `found` and `pending` otherwise.
    """

    found: Select[Any]
    pending: Select[Any] | None = None
    undetermined: Select[Any] | None = None
    together: Select[Any] | None = None
