"""Turn the figures the reliability tests recorded into the README's scorecard section.

The tests append one JSON line per figure (see tests/figures.py). Figures of the same
name are added up across tests and databases (a parametrized test reports one line
per case; a share in % is averaged instead), then shown one row each, grouped by the
area of the reliability catalog (the README's scorecard).
Nothing here runs tests or touches files: scripts/scorecard does that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START = "<!-- scorecard:start -->"
END = "<!-- scorecard:end -->"
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# The promise each area of the reliability catalog makes, in the catalog's order.
PROMISES: dict[str, str] = {
    "trail": "every change leaves one hash-chained trail entry; any edit of the trail is "
             "detected; no mutation path gets through",
    "crash-import": "kill -9 twenty times during a 100k-event import, then resume: "
                    "acknowledged events survive, none is stored twice",
    "crash-worker": "kill -9 the continuous worker twenty times mid-stream: its findings "
                    "equal one uninterrupted run's",
    "crash-sync": "kill -9 `auditor sync` twice mid-pull from the METRC simulator, then "
                  "resume: the stored METRC events equal a file import's, none twice",
    "secrets": "a METRC sync, and one with a refused key: the keys appear in no output, "
               "log record, table or trail entry",
    "idempotency": "importing again, or concurrently, adds nothing and changes no finding",
    "input-json": "malformed JSON (truncated, bad UTF-8, deep nesting, NaN, wrong types, "
                  "extra fields, empty, non-object): no server error, nothing written",
    "input-csv": "malformed CSV (BOM, unterminated quote, NUL, wrong columns, formulas, a "
                 "100k-row file): every row accounted for, every rejection placed",
    "oversized": "bodies and uploads over the limits: 413, nothing written",
    "api": "schemathesis against the OpenAPI document, all checks",
    "authz": "role x route matrix from the app's URL map; other licenses' and other "
             "organizations' objects; failed logins counted, not trailed one by one",
    "rules": "every rule's cases through both backends",
    "engine": "every stored event through the continuous worker (a sample store here, "
              "not the catalog's 1M events)",
    "packets": "injection payloads in every user-controlled field; one run as JSON, PDF "
               "and XLSX",
    "time": "naive datetimes refused; every stored time aware",
}


@dataclass
class Total:
    """One figure name, added up over every line that reported it."""

    name: str
    value: float = 0
    of: float | None = None
    unit: str = ""
    lines: int = 0
    databases: set[str] = field(default_factory=set)

    @property
    def area(self) -> str:
        """Return the catalog area: the name's part before the colon."""
        return self.name.split(":", 1)[0].strip()

    @property
    def label(self) -> str:
        """Return the name's part after the area."""
        return self.name.split(":", 1)[-1].strip()


def read_figures(path: Path) -> list[dict[str, Any]]:
    """Return the figure lines a test run appended to path."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def add_up(figures: Iterable[dict[str, Any]]) -> list[Total]:
    """Add up figures by name, keeping "x of y" when every line reported a total."""
    totals: dict[str, Total] = {}
    missing_of: set[str] = set()
    for row in figures:
        total = totals.setdefault(row["name"], Total(row["name"], unit=row.get("unit", "")))
        total.value += row["value"]
        total.lines += 1
        if row.get("of") is None:
            missing_of.add(row["name"])
        else:
            total.of = (total.of or 0) + row["of"]
        database = (row.get("detail") or {}).get("database")
        if database:
            total.databases.add(database)
    for name in missing_of:
        totals[name].of = None
    for total in totals.values():
        if total.unit == "%":  # shares are averaged, not added up
            total.value /= total.lines
            total.of = None
    order = list(PROMISES)
    return sorted(totals.values(), key=lambda t: (
        order.index(t.area) if t.area in order else len(order), t.area))


def number(value: float) -> str:
    """Format a count with thousands separators, a fraction with at most two decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def describe(total: Total) -> str:
    """Return one figure as the scorecard shows it, e.g. `lost: **0** of 200,000`."""
    shown = f"**{number(total.value)}**"
    if total.unit == "%":
        shown += " %"
    elif total.unit:
        shown += f" {total.unit}"
    if total.of is not None:
        shown += f" of {number(total.of)}"
    where = " + ".join(DATABASE_NAMES.get(d, d) for d in sorted(total.databases))
    return f"{total.label}: {shown}" + (f" ({where})" if where else "")


def table(totals: list[Total]) -> str:
    """Return the markdown table: area | promise | figure, the promise once per area."""
    lines = ["| area | promise | figure |", "|---|---|---|"]
    shown: set[str] = set()
    for total in totals:
        promise = PROMISES.get(total.area, "") if total.area not in shown else ""
        area = total.area if total.area not in shown else ""
        shown.add(total.area)
        lines.append(f"| {area} | {promise} | {describe(total)} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class RunFacts:
    """What the section says about the run behind its figures."""

    date: str
    commit: str
    seconds: float
    command: str
    outcome: str  # e.g. "212 passed, 4 expected failures"


def section(totals: list[Total], facts: RunFacts) -> str:
    """Return the generated part of the README section, markers included."""
    minutes, seconds = divmod(round(facts.seconds), 60)
    return "\n".join([
        START,
        f"Measured {facts.date} on commit `{facts.commit}` by `{facts.command}` "
        f"({facts.outcome}; {minutes} min {seconds:02d} s wall time). Each figure is added up "
        "over the test cases and databases that report it.",
        "",
        table(totals),
        END,
    ])


def replace_section(readme: str, generated: str) -> str:
    """Return readme with the text between the scorecard markers replaced by generated."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START} ... {END} section to rewrite")
    return readme[:start] + generated + readme[end + len(END):]
