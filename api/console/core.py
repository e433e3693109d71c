"""The console's blueprint and what every page shares: the signed-in user, CSRF, errors.

Sessions live in Flask's signed cookie and hold only the user's id and a CSRF token;
the user is read again on every request, so disabling a user ends their sessions at
once. CSRF uses a synchronizer token: a random value kept in the session and echoed by
every form (a hidden `csrf_token` field) or htmx request (the `X-CSRF-Token` header),
compared in constant time. That is the whole of what Flask-WTF's CSRFProtect would do
for us here, and CSRFProtect guards every POST of the app by default, so each of the
JSON API's blueprints (bearer tokens, which a browser never sends by itself) would
have to be exempted one by one; a check scoped to this blueprint cannot miss one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from api.auth import services
from auditor.domain.errors import AuditorError, Conflict, InvalidInput, NotFound
from auditor.domain.license import License
from auditor.domain.trail import acting_as
from auditor.services.access import Forbidden, Permission, Principal
from auditor.services.users import signed_in

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_ENDPOINTS = frozenset({"console.sign_in", "console.static"})
F = TypeVar("F", bound=Callable[..., Any])

PREFIX = "/console"
bp = Blueprint("console", __name__, url_prefix=PREFIX, template_folder=str(TEMPLATES),
               static_folder="static")


def local_time(moment: datetime | str | None, zone: str) -> str:
    """Return a time in a license's zone with the zone's abbreviation (2026-01-05 10:00 PST)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def amount(value: float | int | None) -> str:
    """Return a quantity as a person reads it: 2 items, not 2.0; fractions to 3 places."""
    if value is None:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def me() -> Principal:
    """Return the signed-in user of this request."""
    return g.principal


def csrf_token() -> str:
    """Return this session's CSRF token, making one on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


UPLOAD_ENDPOINT = "console.upload_file"


def _sent_csrf_field() -> str:
    """Read the form's CSRF field (an upload under the console's own limit); 413 naming the fix.

    An upload streams into storage, so the console takes bodies far past the API's
    16 MiB (AUDITOR_CONSOLE_UPLOAD_MB); every other form keeps the API's limit.
    """
    if request.endpoint != UPLOAD_ENDPOINT:
        return str(request.form.get("csrf_token", ""))
    limit_mb = services()["settings"].console_upload_mb
    request.max_content_length = limit_mb * 1024 * 1024
    try:
        return str(request.form.get("csrf_token", ""))
    except RequestEntityTooLarge:
        raise RequestEntityTooLarge(
            f"The file is larger than the console's upload limit of {limit_mb} MB. Split it "
            "by date and upload the parts, import it on the server with `auditor import`, "
            "or have the administrator raise AUDITOR_CONSOLE_UPLOAD_MB.") from None


@bp.before_request
def _load_user() -> Response | None:
    """Refuse a forged form; send a visitor without a live session to the sign-in page."""
    if request.method in UNSAFE:
        sent = _sent_csrf_field() or request.headers.get("X-CSRF-Token") or ""
        if not secrets.compare_digest(sent.encode(), csrf_token().encode()):
            abort(400, "This form has expired or did not come from this console. Reload the "
                       "page and submit it again.")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user_id = session.get("user_id")
    principal = signed_in(services()["users"], int(user_id)) if user_id else None
    if principal is None:
        session.pop("user_id", None)
        if request.headers.get("HX-Request"):  # a poll: send the whole page to sign-in,
            page = request.headers.get("HX-Current-URL", "")  # not into the polled part
            target = url_for("console.sign_in", next=urlsplit(page).path or None)
            return Response(status=204, headers={"HX-Redirect": target})
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
    g.principal = principal
    g.acting = acting_as(principal.actor)  # api.auth's teardown ends it
    g.acting.__enter__()
    return None


def console_path(target: str | None, default: str) -> str:
    """Return target if it is a page of this console (never another site), else default."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return default


def visible_license(number: str) -> License:
    """Return a license the user may see; 404 (as if absent) for any other number."""
    if not me().sees(number):
        abort(404, f"There is no license {number} among yours.")
    return services()["store"].get_license(number)


def my_licenses() -> list[License]:
    """Return the licenses the signed-in user may see, by number."""
    return sorted((lic for lic in services()["store"].list_licenses() if me().sees(lic.number)),
                  key=lambda lic: lic.number)


def requires(permission: Permission) -> Callable[[F], F]:
    """Refuse with 403 a user whose role lacks the permission (the page says which role).

    A license the user cannot see is refused first, with 404: whatever the role, a
    license of another organization looks exactly like one that does not exist.
    """

    def decorate(view: F) -> F:
        def checked(*args: Any, **kwargs: Any) -> Any:
            if "number" in kwargs and not me().sees(kwargs["number"]):
                abort(404, f"There is no license {kwargs['number']} among yours.")
            if not me().may(permission):
                abort(403, f"The {me().role.value} role may not do this.")
            return view(*args, **kwargs)

        checked.__name__ = view.__name__
        checked.__doc__ = view.__doc__
        return checked  # type: ignore[return-value]

    return decorate


STATUS_OF: list[tuple[type[AuditorError], int]] = [
    (NotFound, 404), (InvalidInput, 422), (Conflict, 409), (Forbidden, 403)]


@bp.errorhandler(AuditorError)
def _domain_error(error: AuditorError) -> tuple[str, int]:
    """Show a domain error's own message on a page, with its status."""
    code = next((status for kind, status in STATUS_OF if isinstance(error, kind)), 400)
    return render_template("console/error.html", code=code, message=str(error)), code


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    """Show an HTTP error as a page (redirects pass through)."""
    if error.code is not None and error.code < 400:
        return error
    code = error.code or 500
    return render_template("console/error.html", code=code,
                           message=error.description or error.name), code
