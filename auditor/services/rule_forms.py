"""A rule's YAML as a form a non-programmer can fill in, and the form back into YAML.

The form shows the rule's title and severity and every parameter that is a single value
or a list of values (durations like PT24H, tolerances, reason lists, messages); nested
structures such as match keys stay in the YAML view for experts. A filled-in form is
written back over the current YAML as the next version, so Validate, Backtest and
Publish all work on the very text that will be stored.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from auditor.domain.errors import InvalidInput
from auditor.domain.rules import Severity
from auditor.rules.loader import dump_text, load_text

LIST_SEPARATOR = ","
TOP_LEVEL = re.compile(r"^[A-Za-z_][\w-]*:")
DURATION = re.compile(r"^P(\d+[DWMY]|T\d+[HMS])")


@dataclass(frozen=True)
class Field:
    """One editable parameter: its dotted path, kind, current text and a hint."""

    path: str
    kind: str  # text, number, integer, flag or list
    value: str
    hint: str


def rule_data(text: str) -> dict[str, Any]:
    """Return a rule's YAML as a mapping; InvalidInput if it is not one."""
    data = load_text(text, "the rule")
    if not isinstance(data, dict):
        raise InvalidInput("a rule is a YAML mapping with id, title, template and params")
    return data


def form_fields(text: str) -> list[Field]:
    """Return the editable parameters of a rule's YAML, in the file's order."""
    return list(_walk(rule_data(text).get("params") or {}, ""))


def _walk(node: Any, prefix: str) -> Any:
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            yield from _walk(value, path)
        elif isinstance(value, list) and all(_scalar(v) for v in value):
            yield Field(path, "list", f"{LIST_SEPARATOR} ".join(map(str, value)),
                        "values separated by commas")
        elif _scalar(value):
            yield Field(path, _kind(value), "" if value is None else str(value), _hint(value))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "text"


def _hint(value: Any) -> str:
    if isinstance(value, str) and value.startswith("$"):
        return f"the pack's parameter {value[1:]}; type a value (like PT24H) to set it here"
    if isinstance(value, str) and DURATION.match(value):
        return "an ISO 8601 duration: PT24H is 24 hours, P7D is 7 days"
    return ""


def apply_form(text: str, title: str, severity: str, values: dict[str, str],
               next_version: int) -> str:
    """Return the rule's YAML with the form's title, severity and parameters, as next_version.

    Only what changed is rewritten: the version, title and severity lines in place, and
    the `params` block if a parameter changed; description, citations and cases keep
    their text, so the version diff shows the edit and nothing else.
    """
    data = rule_data(text)
    if severity not in {s.value for s in Severity}:
        raise InvalidInput(f"severity {severity!r} is not one of "
                           + ", ".join(s.value for s in Severity))
    params = copy.deepcopy(data.get("params") or {})
    for field in form_fields(text):
        if field.path in values:
            _set(params, field.path.split("."), _typed(field, values[field.path]))
    edited = _set_line(text, "version", str(next_version))
    edited = _set_line(edited, "severity", severity)
    if title.strip() and title.strip() != data.get("title"):
        edited = _set_line(edited, "title", json.dumps(title.strip()))  # JSON is YAML
    if params != (data.get("params") or {}):
        edited = _replace_block(edited, "params", dump_text({"params": params}))
    return edited


def _set_line(text: str, key: str, value: str) -> str:
    """Return text with the top-level `key: ...` line set to value (added if absent)."""
    line = re.compile(rf"^{key}:.*$", re.MULTILINE)
    if line.search(text):
        return line.sub(lambda _: f"{key}: {value}", text, count=1)
    return f"{key}: {value}\n{text}"


def _replace_block(text: str, key: str, block: str) -> str:
    """Return text with the top-level key's block (up to the next top-level key) replaced."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next((i for i in range(start + 1, len(lines)) if TOP_LEVEL.match(lines[i])),
               len(lines))
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _typed(field: Field, raw: str) -> Any:
    """Return the form's text as the parameter's type; InvalidInput naming the field."""
    raw = raw.strip()
    try:
        if field.kind == "list":
            return [v.strip() for v in raw.split(LIST_SEPARATOR) if v.strip()]
        if field.kind == "integer":
            return int(raw)
        if field.kind == "number":
            return float(raw)
        if field.kind == "flag":
            return raw.lower() in ("true", "yes", "on", "1")
    except ValueError:
        raise InvalidInput(f"parameter {field.path}: {raw!r} is not a {field.kind}") from None
    return raw


def _set(node: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
