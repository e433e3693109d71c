"""Settings from AUDITOR_* environment variables; nothing is read at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from auditor.domain.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///var/auditor.db"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how imports are batched."""

    database_url: str = DEFAULT_DATABASE_URL
    import_chunk: int = 2000
    database_schema: str | None = None  # PostgreSQL schema (search_path) to keep tables in
    rules_dir: Path | None = None  # rule packs; None means this checkout's rules/
    trail_key_file: Path | None = None  # HMAC key of the audit trail, kept out of the database
    auth_failures_per_minute: int = 30  # failed authentications from one address, then 429

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the AUDITOR_* settings (the README lists them)."""
        env = os.environ if environ is None else environ
        return cls(database_url=env.get("AUDITOR_DATABASE_URL", DEFAULT_DATABASE_URL),
                   import_chunk=positive(env, "AUDITOR_IMPORT_CHUNK", 2000),
                   auth_failures_per_minute=positive(env, "AUDITOR_AUTH_FAILURES_PER_MINUTE", 30),
                   database_schema=env.get("AUDITOR_DATABASE_SCHEMA") or None,
                   rules_dir=Path(env["AUDITOR_RULES_DIR"]) if env.get("AUDITOR_RULES_DIR")
                   else None,
                   trail_key_file=Path(env["AUDITOR_TRAIL_KEY_FILE"])
                   if env.get("AUDITOR_TRAIL_KEY_FILE") else None)


def positive(env: Mapping[str, str], name: str, default: int) -> int:
    """Return a positive whole number from env[name] (default when unset); InvalidInput else."""
    value = env.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{name} must be a positive whole number, got {value!r}")
    return int(value)
