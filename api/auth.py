"""Bearer-token authentication, role checks and license scoping for every request."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_smorest import abort

from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.domain.trail import Change, acting_as
from auditor.rules.loader import default_rules_dir
from auditor.services.access import Permission, Principal, authenticate
from auditor.services.api_ports import RuleVersions
from auditor.services.auth_failures import FailureReport
from auditor.services.rule_versions import published_pack

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_PATHS = ("/openapi.json",)
CONSOLE_PREFIX = "/console"  # the web console signs people in with its own session cookie


def services() -> dict[str, Any]:
    """Return the store, the API store and the settings wired in by the factory."""
    return current_app.extensions["auditor"]


def rules_root() -> Path:
    """Return the folder of the shipped rule packs (the seed of the published ones)."""
    return services()["settings"].rules_dir or default_rules_dir()


def rule_versions() -> RuleVersions:
    """Return the published rule versions of the caller's organization."""
    return services()["rules"].of(principal().organization)


def pack_in_force(state: str | None) -> Pack:
    """Return a state's pack in force for the caller's organization: seed plus its versions."""
    return published_pack(rules_root(), state, rule_versions())


def license_pack(lic: License) -> Pack:
    """Return a license's pack in force: its organization's versions over its state pack."""
    return published_pack(rules_root(), lic.state, services()["rules"].of(lic.organization))


def init_auth(app: Flask) -> None:
    """Authenticate every request but the OpenAPI document; 401 without a live token."""

    @app.before_request
    def _authenticate() -> None:
        if request.path in PUBLIC_PATHS or request.path.startswith(CONSOLE_PREFIX):
            return
        if request.path == "/" and browser_without_token():
            return  # the console's front door (api/console) redirects it to sign-in
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        principal = None
        if scheme.lower() == "bearer" and secret:
            principal = authenticate(services()["api"].tokens, secret.strip())
        if principal is None:
            _refuse_unauthenticated()
        g.principal = principal
        g.acting = acting_as(g.principal.actor)  # the trail attributes changes to the token
        g.acting.__enter__()

    @app.teardown_request
    def _stop_acting(_error: BaseException | None) -> None:
        acting = g.pop("acting", None)  # set once the caller is known
        if acting is not None:
            acting.__exit__(None, None, None)

    @app.after_request
    def _record_denied(response: Response) -> Response:
        who: Principal | None = g.get("principal")
        if response.status_code == 403 and who is not None:  # 401s are counted instead
            with acting_as(who.actor):
                services()["trail"].record(Change(
                    "request.denied", "request", f"{request.method} {request.path}", None,
                    None, {"status": 403, "method": request.method, "path": request.path}))
        return response


def browser_without_token() -> bool:
    """Return whether the request is a browser's (it prefers HTML) carrying no bearer token."""
    wants_html = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return wants_html == "text/html" and "Authorization" not in request.headers


def _refuse_unauthenticated() -> None:
    """Abort with 401, or 429 past the address's limit; trail only what the counter reports."""
    verdict = services()["auth_failures"].failed(request.remote_addr or "unknown")
    for report in verdict.reports:
        with acting_as(f"anonymous ({report.address})"):
            services()["trail"].record(_failure_change(report))
    if verdict.limited:
        abort(429, message="too many failed authentications from this address; retry later",
              headers={"Retry-After": str(verdict.retry_after)})
    abort(401, message="a valid bearer token is required",
          headers={"WWW-Authenticate": "Bearer"})


def _failure_change(report: FailureReport) -> Change:
    """Return the trail entry of a failure report."""
    counted = {"address": report.address, "window_start": report.window_start,
               "failures": report.failures}
    if report.kind == "first":
        return Change("request.denied", "request", f"{request.method} {request.path}", None,
                      None, {"status": 401, "method": request.method, "path": request.path,
                             **counted})
    action = "auth.limited" if report.kind == "limited" else "auth.failures"
    return Change(action, "address", report.address, None, None, counted)


def principal() -> Principal:
    """Return the caller of this request."""
    return g.principal


def requires(permission: Permission) -> Callable[[F], F]:
    """Refuse with 403, before the body is read, a caller whose role lacks the permission."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not principal().may(permission):
                abort(403, message=f"the {principal().role.value} role may not do this")
            return view(*args, **kwargs)

        checked.permission = permission  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


def visible(license_number: str) -> str:
    """Return the license number if the caller may see it; 404 otherwise, as if absent."""
    if not principal().sees(license_number):
        abort(404, message=f"unknown license {license_number!r}")
    return license_number
