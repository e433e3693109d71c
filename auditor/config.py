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
    # Connections a process keeps open; `auditor serve` raises it to its threads + 2, so
    # a busy process reuses its connections instead of opening and closing them.
    database_pool: int = 5
    rules_dir: Path | None = None  # rule packs; None means this checkout's rules/
    trail_key_file: Path | None = None  # HMAC key of the audit trail, kept out of the database
    auth_failures_per_minute: int = 30  # failed authentications from one address, then 429
    # Who runs jobs: "local" (threads of the process) or "queue" (`auditor jobs worker`
    # processes through PostgreSQL). From the environment, PostgreSQL means "queue".
    job_runner: str = "local"
    job_threads: int = 2  # jobs run at once by a local runner (or by one worker)
    import_lease_seconds: int = 600  # a running import silent this long was interrupted
    idempotency_lease_seconds: int = 600  # a key pending this long: its request died
    alert_webhook_url: str | None = None  # the worker posts new critical/high findings here
    # The console's session cookie: signed with this key (None: a random key per process,
    # so sessions end when the server restarts), and sent over HTTPS only unless told.
    console_secret_key: str | None = None
    console_cookie_secure: bool = True
    signin_failures_per_account: int = 10  # failed sign-ins to one account a minute
    request_timings: str | None = None  # a folder: each API request's phases (api/timing.py)
    # The console streams an upload into staged_uploads, so it may take far more than the
    # API's 16 MiB request bodies: a month of a store's POS export is tens of MB.
    console_upload_mb: int = 512

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the AUDITOR_* settings (the README lists them)."""
        env = os.environ if environ is None else environ
        return cls(database_url=env.get("AUDITOR_DATABASE_URL", DEFAULT_DATABASE_URL),
                   import_chunk=positive(env, "AUDITOR_IMPORT_CHUNK", 2000),
                   auth_failures_per_minute=positive(env, "AUDITOR_AUTH_FAILURES_PER_MINUTE", 30),
                   database_schema=env.get("AUDITOR_DATABASE_SCHEMA") or None,
                   database_pool=positive(env, "AUDITOR_DATABASE_POOL", 5),
                   rules_dir=Path(env["AUDITOR_RULES_DIR"]) if env.get("AUDITOR_RULES_DIR")
                   else None,
                   trail_key_file=Path(env["AUDITOR_TRAIL_KEY_FILE"])
                   if env.get("AUDITOR_TRAIL_KEY_FILE") else None,
                   job_runner=job_runner(env),
                   job_threads=positive(env, "AUDITOR_JOB_THREADS", 2),
                   import_lease_seconds=positive(env, "AUDITOR_IMPORT_LEASE_SECONDS", 600),
                   idempotency_lease_seconds=positive(env, "AUDITOR_IDEMPOTENCY_LEASE_SECONDS",
                                                      600),
                   alert_webhook_url=env.get("AUDITOR_ALERT_WEBHOOK_URL") or None,
                   console_secret_key=env.get("AUDITOR_CONSOLE_SECRET_KEY") or None,
                   console_cookie_secure=env.get("AUDITOR_CONSOLE_COOKIE_SECURE", "1") != "0",
                   signin_failures_per_account=positive(
                       env, "AUDITOR_SIGNIN_FAILURES_PER_ACCOUNT", 10),
                   request_timings=env.get("AUDITOR_REQUEST_TIMINGS") or None,
                   console_upload_mb=positive(env, "AUDITOR_CONSOLE_UPLOAD_MB", 512))


def job_runner(env: Mapping[str, str]) -> str:
    """Return AUDITOR_JOB_RUNNER, by default "queue" on PostgreSQL and "local" on SQLite."""
    url = env.get("AUDITOR_DATABASE_URL", DEFAULT_DATABASE_URL)
    default = "queue" if url.startswith(("postgres://", "postgresql")) else "local"
    runner = env.get("AUDITOR_JOB_RUNNER", default)
    if runner not in ("local", "queue"):
        raise InvalidInput(f"AUDITOR_JOB_RUNNER must be local or queue, got {runner!r}")
    if runner == "queue" and not url.startswith(("postgres://", "postgresql")):
        raise InvalidInput("AUDITOR_JOB_RUNNER=queue needs PostgreSQL (AUDITOR_DATABASE_URL); "
                           "SQLite runs jobs in the process (local)")
    return runner


def positive(env: Mapping[str, str], name: str, default: int) -> int:
    """Return a positive whole number from env[name] (default when unset); InvalidInput else."""
    value = env.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ServerSettings:
    """How `auditor serve` (waitress) treats connections: limits, timeouts, proxies.

    waitress's defaults stop accepting at 100 connections and keep an idle one for
    120 s, so 100 idle sockets shut everyone else out. These defaults hold 1,000 and
    close a connection idle for 30 s, checked every 5 s.
    """

    threads: int = 8
    processes: int = 1  # waitress processes sharing the port (auditor.serving)
    connection_limit: int = 1000
    channel_timeout: int = 30  # seconds a connection may stay idle (no bytes either way)
    cleanup_interval: int = 5  # how often idle connections are looked for, in seconds
    backlog: int = 1024  # connections the kernel queues before waitress accepts them
    trusted_proxy: str | None = None  # the reverse proxy's address ("*": any, e.g. a socket)
    trusted_proxy_count: int = 1
    trusted_proxy_headers: str = "x-forwarded-for x-forwarded-proto x-forwarded-host"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read the AUDITOR_SERVE_* and AUDITOR_TRUSTED_PROXY* settings."""
        env = os.environ if environ is None else environ
        return cls(
            threads=positive(env, "AUDITOR_SERVE_THREADS", cls.threads),
            processes=positive(env, "AUDITOR_SERVE_PROCESSES", cls.processes),
            connection_limit=positive(env, "AUDITOR_SERVE_CONNECTION_LIMIT",
                                      cls.connection_limit),
            channel_timeout=positive(env, "AUDITOR_SERVE_CHANNEL_TIMEOUT", cls.channel_timeout),
            cleanup_interval=positive(env, "AUDITOR_SERVE_CLEANUP_INTERVAL",
                                      cls.cleanup_interval),
            backlog=positive(env, "AUDITOR_SERVE_BACKLOG", cls.backlog),
            trusted_proxy=env.get("AUDITOR_TRUSTED_PROXY") or None,
            trusted_proxy_count=positive(env, "AUDITOR_TRUSTED_PROXY_COUNT",
                                         cls.trusted_proxy_count),
            trusted_proxy_headers=env.get("AUDITOR_TRUSTED_PROXY_HEADERS",
                                          cls.trusted_proxy_headers))

    def waitress_options(self) -> dict[str, object]:
        """Return the settings as waitress.serve's keyword arguments."""
        options: dict[str, object] = {
            "threads": self.threads, "connection_limit": self.connection_limit,
            "channel_timeout": self.channel_timeout, "cleanup_interval": self.cleanup_interval,
            "backlog": self.backlog}
        if self.trusted_proxy:
            options.update(trusted_proxy=self.trusted_proxy,
                           trusted_proxy_count=self.trusted_proxy_count,
                           trusted_proxy_headers=self.trusted_proxy_headers,
                           clear_untrusted_proxy_headers=True)
        return options
