"""The web console: server-rendered pages for the associate and the compliance officer.

A Flask blueprint in the API's app, under /console, with Jinja templates in
`templates/console/`, htmx (vendored in `static/`) for partial refreshes and no build
step. Pages call the services with the ports the app factory wired, like the JSON API.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from api.auth import browser_without_token

# Each page module registers its routes on bp when imported.
from api.console import audits, oversight, records, rules, signin, today  # noqa: F401
from api.console.core import amount, bp, csrf_token, local_time
from auditor.config import Settings
from auditor.domain.errors import NotFound
from auditor.services.auth_failures import FailedAuthentications
from auditor.services.today import Recent
from auditor.services.users import SignInLimits
from auditor.store.sync_sql import SqlSyncState
from auditor.store.uploads_sql import SqlStagedUploads
from auditor.store.users_sql import SqlUsers

log = logging.getLogger(__name__)
SESSION_HOURS = 12  # a working day at the store; then sign in again


def init_console(app: Flask, settings: Settings, engine: Any) -> None:
    """Register the console: its blueprint, cookie settings, user store and front door."""
    key = app.config.get("SECRET_KEY") or settings.console_secret_key
    if not key:
        log.warning("AUDITOR_CONSOLE_SECRET_KEY is not set: console sessions end when the "
                    "server restarts")
        key = secrets.token_urlsafe(32)
    app.config.update(SECRET_KEY=key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SECURE=settings.console_cookie_secure,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="auditor_session",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    app.extensions["auditor"].update({
        "users": SqlUsers(engine), "sync_state": SqlSyncState(engine), "recent": Recent(),
        "staged_uploads": SqlStagedUploads(engine),
        "signin_limits": SignInLimits(
            FailedAuthentications(settings.auth_failures_per_minute),
            FailedAuthentications(settings.signin_failures_per_account))})
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["amount"] = amount
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp)

    @app.route("/")
    def front_door() -> Response:
        """Send a browser to the console; API clients keep their JSON answers."""
        if browser_without_token():
            return redirect(url_for("console.home"))
        raise NotFound("no resource at /: the API is described at /openapi.json")
