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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read AUDITOR_DATABASE_URL, AUDITOR_DATABASE_SCHEMA and AUDITOR_IMPORT_CHUNK."""
        env = os.environ if environ is None else environ
        chunk = env.get("AUDITOR_IMPORT_CHUNK", "2000")
        if not chunk.isdigit() or int(chunk) < 1:
            raise InvalidInput(f"AUDITOR_IMPORT_CHUNK must be a positive whole number, "
                               f"got {chunk!r}")
        return cls(database_url=env.get("AUDITOR_DATABASE_URL", DEFAULT_DATABASE_URL),
                   import_chunk=int(chunk),
                   database_schema=env.get("AUDITOR_DATABASE_SCHEMA") or None,
                   rules_dir=Path(env["AUDITOR_RULES_DIR"]) if env.get("AUDITOR_RULES_DIR")
                   else None,
                   trail_key_file=Path(env["AUDITOR_TRAIL_KEY_FILE"])
                   if env.get("AUDITOR_TRAIL_KEY_FILE") else None)
