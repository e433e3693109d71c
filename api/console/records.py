"""Imports (upload a file, see each rejected row), METRC sync status, and the trail."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from api.auth import services
from api.console.core import bp, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.trail import load_key
from auditor.importers.profile import builtin_names
from auditor.importers.registry import FORMATS
from auditor.services.access import Permission
from auditor.services.trail import MAX_PAGE, page, verify_trail
from auditor.services.uploads import upload


def _imports_page(number: str, **shown: Any) -> str:
    lic = visible_license(number)
    return render_template("console/imports.html", license=lic, formats=sorted(FORMATS),
                           profiles=builtin_names(),
                           syncs=services()["sync_state"].status(number), **shown)


@bp.route("/licenses/<number>/imports")
@requires(Permission.READ)
def imports(number: str) -> str:
    """Show the upload form and each METRC endpoint's sync state."""
    return _imports_page(number)


@bp.route("/licenses/<number>/imports", methods=["POST"])
@requires(Permission.INGEST)
def upload_file(number: str) -> tuple[str, int]:
    """Import the uploaded file; show what was accepted and every rejected row."""
    visible_license(number)
    fmt, profile = request.form.get("format", ""), request.form.get("profile") or None
    if fmt not in FORMATS:
        raise InvalidInput(f"choose a format: {', '.join(sorted(FORMATS))}")
    if profile is not None and profile not in builtin_names():
        raise InvalidInput(f"choose a profile: {', '.join(builtin_names())}")
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise InvalidInput("choose a file to upload")
    # The form's CSRF token is fresh per page, so a double submit of one page is one import.
    key = f"console-{request.form.get('upload_id', '')}"[:200] \
        if request.form.get("upload_id") else None
    result = upload(services()["store"], services()["api"], number, fmt, sent.filename,
                    sent.read(), key, services()["settings"].import_chunk, profile)
    return _imports_page(number, result=result), 201


@bp.route("/licenses/<number>/trail")
@requires(Permission.TRAIL)
def trail(number: str) -> str:
    """Show the license's trail entries, filtered by action and actor, and the verdict."""
    lic = visible_license(number)
    try:
        after = max(0, min(int(request.args.get("after", "0")), 2**62))
    except ValueError:
        raise InvalidInput("after is an entry number") from None
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip().lower()
    entries, next_after = page(services()["trail"], after, MAX_PAGE)
    shown = [e for e in entries if (e["license"] == number or (
        e["license"] is None and me().sees_entry(e) and number in e["new"].get("licenses", [])))
        and (not action or e["action"].startswith(action))
        and (not actor or actor in e["actor"].lower())]
    key_file = services()["settings"].trail_key_file
    verdict = verify_trail(services()["trail"], load_key(str(key_file)) if key_file else None)
    return render_template("console/trail.html", license=lic, entries=shown,
                           next_after=next_after, verdict=verdict, action=action,
                           actor=request.args.get("actor", ""))
