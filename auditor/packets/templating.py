"""Render the packet's HTML from the Jinja templates in `templates/`, autoescaped.

Jinja's autoescape is off outside Flask, so it is switched on here for every template:
text from the store (notes, names, reasons) reaches the HTML as text, never as markup.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2


def templates_dir() -> Path:
    """Return the packet templates folder (AUDITOR_TEMPLATES_DIR overrides this checkout's)."""
    override = os.environ.get("AUDITOR_TEMPLATES_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "templates"


@cache
def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(root), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["cell"] = display
    env.filters["counted"] = counted
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """Render a template with autoescaping on and undefined names refused."""
    return _environment(templates_dir()).get_template(template).render(**context)


def asset(name: str) -> bytes:
    """Return a packaged asset (a stylesheet) by its file name under templates/assets."""
    root = (templates_dir() / "assets").resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise FileNotFoundError(name)
    return path.read_bytes()


def counted(number: int, noun: str) -> str:
    """Return a count with its noun in the number it needs: 1 exception, 2 exceptions."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def display(value: Any, kind: str = "text", zone: str | None = None) -> str:
    """Return a cell's value as people read it: times to the minute in the license's zone
    with its abbreviation (2026-01-05 14:00 PST), numbers tidy (39, 3.5)."""
    if value is None:
        return ""
    if kind == "auto":  # evidence of any kind: a time in it is read locally too
        kind = "datetime" if isinstance(value, str) and _ISO_TIME.match(value) else "text"
    if kind == "datetime" and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if zone and moment.tzinfo is not None:
            return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
        return moment.strftime("%Y-%m-%d %H:%M")
    if kind in ("number", "int") and isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
