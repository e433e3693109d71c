"""Render the packet's HTML from the Jinja templates in `templates/`, autoescaped.

Jinja's autoescape is off outside Flask, so it is switched on here for every template:
text from the store (notes, names, reasons) reaches the HTML as text, never as markup.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

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


def display(value: Any, kind: str = "text") -> str:
    """Return a cell's value as people read it: times to the minute, numbers tidy."""
    if value is None:
        return ""
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    if kind == "number" and isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
