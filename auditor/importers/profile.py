"""Export profiles: TOML files that map a POS or scanner export's columns onto one of our formats.

A profile names the format it feeds (`pos-sales`, `counts`, `receiving-scans`, ...), which
export column holds each of our fields, how its times are written, and how it marks voids
and returns. The profiles shipped for common POS systems live in `profiles/`; a store can
copy one and pass its own file. Every problem names the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.domain.errors import InvalidInput

PROFILES_DIR = Path(__file__).parent / "profiles"
RETURN_SIGNS = ("positive", "negative")
_KEYS = {"name", "format", "description", "layout", "columns", "time_formats", "units",
         "values", "defaults", "void", "return", "return_quantity_sign"}
_REQUIRED = ("name", "format", "columns")


@dataclass(frozen=True)
class Flag:
    """A column whose listed values mark a line (as voided, or as a return)."""

    column: str
    values: frozenset[str]

    def is_set(self, row: dict[str, Any]) -> bool:
        """Say whether the row's column holds one of the values (case and spaces ignored)."""
        return str(row.get(self.column) or "").strip().lower() in self.values


@dataclass(frozen=True)
class Profile:
    """One export layout: which column is which field, and how values are written."""

    name: str
    format: str
    columns: dict[str, str]
    origin: str
    description: str = ""
    layout: str = ""
    time_formats: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    void: Flag | None = None
    returns: Flag | None = None
    return_quantity_sign: str = "positive"

    def export_columns(self) -> tuple[str, ...]:
        """Return every export column the profile reads."""
        flags = [flag.column for flag in (self.void, self.returns) if flag]
        return tuple(dict.fromkeys([*self.columns.values(), *flags]))


def builtin_names() -> list[str]:
    """Return the names of the profiles shipped with the auditor."""
    return sorted(path.stem for path in PROFILES_DIR.glob("*.toml"))


def load_profile(name_or_path: str, *, allow_files: bool = True) -> Profile:
    """Return a shipped profile by name, or (when allowed) a store's own profile file."""
    if name_or_path in builtin_names():
        return read_profile(PROFILES_DIR / f"{name_or_path}.toml")
    path = Path(name_or_path)
    if allow_files and (path.suffix == ".toml" or path.exists()):
        return read_profile(path)
    raise InvalidInput(f"unknown profile {name_or_path!r}; use one of: "
                       f"{', '.join(builtin_names())}"
                       + (" or the path of a profile file (.toml)" if allow_files else ""))


def read_profile(path: Path) -> Profile:
    """Read and check a profile file; any problem names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the profile: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not a valid TOML file: {exc}") from None
    return _profile(data, str(path))


def _profile(data: dict[str, Any], origin: str) -> Profile:
    def problem(key: str, message: str) -> InvalidInput:
        return InvalidInput(f"{origin}: {key}: {message}")

    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise problem(unknown[0], f"unknown key (allowed: {', '.join(sorted(_KEYS))})")
    for key in _REQUIRED:
        if key not in data:
            raise problem(key, "is required")
    sign = data.get("return_quantity_sign", "positive")
    if sign not in RETURN_SIGNS:
        raise problem("return_quantity_sign", f"must be one of {', '.join(RETURN_SIGNS)}")
    return Profile(
        name=_text(data, "name", problem), format=_text(data, "format", problem),
        columns=_table(data, "columns", problem), origin=origin,
        description=_text(data, "description", problem, required=False),
        layout=_text(data, "layout", problem, required=False),
        time_formats=_texts(data, "time_formats", problem),
        units={k.lower(): v for k, v in _table(data, "units", problem).items()},
        values={k: {a.lower(): b for a, b in _table(data["values"], k, problem,
                                                   f"values.{k}").items()}
                for k in data.get("values", {})} if _is_table(data, "values", problem) else {},
        defaults=_table(data, "defaults", problem),
        void=_flag(data, "void", problem), returns=_flag(data, "return", problem),
        return_quantity_sign=sign)


def _is_table(data: dict[str, Any], key: str, problem: Any) -> bool:
    if key not in data:
        return False
    if not isinstance(data[key], dict):
        raise problem(key, "must be a table")
    return True


def _text(data: dict[str, Any], key: str, problem: Any, *, required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise problem(key, "must be text")
    return value


def _texts(data: dict[str, Any], key: str, problem: Any) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise problem(key, "must be a list of text")
    return tuple(value)


def _table(data: dict[str, Any], key: str, problem: Any, label: str | None = None
           ) -> dict[str, str]:
    label = label or key
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise problem(label, "must be a table")
    for name, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise problem(f"{label}.{name}", "must be text")
    return dict(value)


def _flag(data: dict[str, Any], key: str, problem: Any) -> Flag | None:
    if not _is_table(data, key, problem):
        return None
    table = data[key]
    extra = sorted(set(table) - {"column", "values"})
    if extra:
        raise problem(f"{key}.{extra[0]}", "unknown key (allowed: column, values)")
    column = _text(table, "column", lambda k, m: problem(f"{key}.{k}", m))
    values = _texts(table, "values", lambda k, m: problem(f"{key}.{k}", m))
    if not values:
        raise problem(f"{key}.values", "must list at least one value")
    return Flag(column, frozenset(v.strip().lower() for v in values))
