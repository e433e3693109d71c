"""The HTTP API: a Flask app factory wiring flask-smorest blueprints to the services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from api.auth import init_auth
from api.console import init_console
from api.errors import AuditorApi
from api.resources import BLUEPRINTS
from api.timing import init_timing
from auditor.bootstrap import metrc_source, open_jobs, open_store
from auditor.config import Settings
from auditor.services.auth_failures import FailedAuthentications
from auditor.services.packets import PacketSources
from auditor.services.report_ports import StatusWaivers
from auditor.store.api_sql import SqlApiStore
from auditor.store.engine import open_pool
from auditor.store.packet_files_sql import SqlPacketFiles
from auditor.store.packet_records import SqlPacketRecords
from auditor.store.report_queries import SqlActivityLog
from auditor.store.rule_versions_sql import SqlRuleVersions
from auditor.store.trail_sql import SqlTrail

DEFAULTS: dict[str, Any] = {
    "API_TITLE": "auditor", "API_VERSION": "1", "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/", "OPENAPI_JSON_PATH": "openapi.json",
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # Flask's default is unlimited
    "ETAG_DISABLED": False,
}


def serving_app() -> Flask:
    """Return create_app() with its database pool's connections open, about to serve.

    Opening them here keeps their cost (a PostgreSQL backend started and a login each)
    out of the first requests, already a benchmark run's slowest.
    """
    app = create_app()
    extensions = app.extensions["auditor"]
    open_pool(extensions["store"].engine, extensions["settings"].database_pool)
    return app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app; config may carry AUDITOR_SETTINGS (else the environment's)."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    settings = app.config.get("AUDITOR_SETTINGS") or Settings.from_env()
    store = open_store(settings)
    api_store = SqlApiStore(store.engine)
    activity, trail = SqlActivityLog(store.engine), SqlTrail(store.engine)
    metrc: Any = app.config.get("METRC_SOURCE") or metrc_source
    app.extensions["auditor"] = {
        "settings": settings, "store": store, "api": api_store,
        # A callable license -> MetrcSource; tests may pass METRC_SOURCE in config.
        # Jobs look the METRC source up when they run, so a test may swap it afterwards.
        "metrc": metrc,
        "jobs": open_jobs(settings, store, lambda lic: app.extensions["auditor"]["metrc"](lic)),
        "rules": SqlRuleVersions(store.engine), "activity": activity, "trail": trail,
        "auth_failures": FailedAuthentications(settings.auth_failures_per_minute),
        "packet_files": SqlPacketFiles(store.engine),
        "packets": PacketSources(store, activity, SqlPacketRecords(store.engine),
                                 StatusWaivers(api_store), trail)}
    api = AuditorApi(app, spec_kwargs={"security": [{"bearer": []}]})
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "an `auditor token`"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    init_auth(app)
    init_console(app, settings, store.engine)
    init_timing(app, store.engine, settings.request_timings)
    return app
