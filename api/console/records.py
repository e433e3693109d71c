"""Imports (upload a file, follow its import, see each rejected row), METRC sync status,
and the trail."""

from __future__ import annotations

import csv
import io

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api.auth import services
from api.console.audits import visible_job
from api.console.core import bp, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.trail import load_key
from auditor.importers.profile import builtin_names
from auditor.importers.registry import FORMATS
from auditor.services.access import Permission
from auditor.services.trail import MAX_PAGE, page, verify_trail
from auditor.services.uploads import start_upload


@bp.route("/licenses/<number>/imports")
@requires(Permission.READ)
def imports(number: str) -> str:
    """Show the upload form and each METRC endpoint's sync state."""
    lic = visible_license(number)
    return render_template("console/imports.html", license=lic, formats=sorted(FORMATS),
                           profiles=builtin_names(),
                           syncs=services()["sync_state"].status(number))


@bp.route("/licenses/<number>/imports", methods=["POST"])
@requires(Permission.INGEST)
def upload_file(number: str) -> Response:
    """Hand the uploaded file to an import job and show the job's page.

    Werkzeug keeps a large upload in a temporary file while it parses the form; the
    file is passed on from there in pieces, never read whole into memory.
    """
    visible_license(number)
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise InvalidInput("choose a file to upload")
    job = start_upload(services()["jobs"], services()["staged_uploads"], number,
                       request.form.get("format", ""), sent.filename, sent.stream, me().actor,
                       request.form.get("profile") or None,
                       request.form.get("upload_id") or None)
    return redirect(url_for("console.job", job_id=job.id), code=303)


@bp.route("/jobs/<job_id>/rejections.csv")
@requires(Permission.READ_RUNS)
def rejections(job_id: str) -> Response:
    """Download every row an import rejected, as CSV (file, line, reason)."""
    job = visible_job(job_id)
    if job.kind != "import" or job.result is None:
        abort(404, f"Job {job_id} is not a finished import.")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["file", "line", "reason"])
    for row in job.result.get("rejections", []):
        writer.writerow([_cell(job.result["source"]), row["line"], _cell(row["reason"])])
    name = f"rejected-{job_id[:8]}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(text: str) -> str:
    """Return text a spreadsheet shows as text: a leading = + - or @ would be a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


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
