"""Audit runs and their packets: start an audit, list runs, download, finalize, amend."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Redirect

from api.auth import license_pack, services
from api.console.core import bp, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.rules import Severity
from auditor.services.access import Permission, Role
from auditor.services.job_ports import Job
from auditor.services.long_work import render_packet_job, start_audit, stored_packet
from auditor.services.packets import amend_packet, finalize_packet

TYPES = {"pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def _day(name: str) -> date:
    """Return a date field of the form; InvalidInput naming it if absent or out of range."""
    value = request.form.get(name, "")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{name} must fall between {FIRST_DAY} and {LAST_DAY}")
    return day


def _run_license(run_id: str) -> str:
    """Return the license of a run the user may see; 404 for any other run."""
    number = services()["api"].run_license(run_id)
    if number is None or not me().sees(number):
        abort(404, f"There is no audit run {run_id} among your licenses.")
    return str(number)


@bp.route("/licenses/<number>/audits")
@requires(Permission.READ_RUNS)
def runs(number: str) -> str:
    """List a license's runs, newest first, with the form that starts one."""
    lic = visible_license(number)
    return render_template("console/runs.html", license=lic,
                           runs=services()["store"].runs.list(number))


@bp.route("/licenses/<number>/audits", methods=["POST"])
@requires(Permission.AUDIT)
def start_run(number: str) -> Redirect:
    """Start a readiness audit over the period in the form."""
    visible_license(number)
    job = start_audit(services()["jobs"], services()["store"], number, _day("from"), _day("to"),
                      me().actor)
    return redirect(url_for("console.job", job_id=job.id))


@bp.route("/audits/<run_id>")
@requires(Permission.READ_RUNS)
def run(run_id: str) -> str:
    """Show a run: its score and counts, packet versions, downloads, finalize and amend."""
    lic = visible_license(_run_license(run_id))
    report = services()["store"].runs.get(run_id)
    versions = services()["packets"].records.versions(run_id)
    counts = report["counts"]["by_severity"] if report else {}
    by_severity = [(s.value, counts[s.value]) for s in Severity if s.value in counts]
    return render_template("console/run.html", license=lic, run_id=run_id, report=report,
                           versions=versions, by_severity=by_severity)


@bp.route("/audits/<run_id>/packet.<fmt>")
@requires(Permission.READ_RUNS)
def packet(run_id: str, fmt: str) -> Response | Redirect:
    """Download the run's packet as PDF or XLSX (a regulator: finalized packets only).

    A packet not rendered yet in that format is rendered by a job: this sends the browser
    to the job's page, which comes back here for the file when the job is over.
    """
    if fmt not in TYPES:
        abort(404, f"A packet comes as {' or '.join(TYPES)}, not {fmt}.")
    number = visible_license(_run_license(run_id)).number
    regulator = me().role == Role.REGULATOR
    versions = services()["packets"].records.versions(run_id)
    if regulator and not (versions and versions[-1].finalized_at):
        abort(404, f"The packet of run {run_id} is not finalized yet.")
    stored = stored_packet(services()["packet_files"], run_id, fmt, final_only=regulator)
    if stored is None:  # not rendered yet: the job page waits for it, then comes back here
        job = render_packet_job(services()["jobs"], number, run_id, fmt, me().actor)
        return redirect(url_for("console.job", job_id=job.id))
    name = f"packet-{run_id}-v{stored.version}.{fmt}"
    return Response(stored.data, mimetype=TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Packet-SHA256": stored.packet_sha256})


def visible_job(job_id: str) -> Job:
    """Return a job the user may see (a regulator: only its own); 404 for any other."""
    job = services()["jobs"].get(job_id)
    if job is None or not me().sees(job.license_number) or (
            me().role == Role.REGULATOR and job.actor != me().actor):
        abort(404, f"There is no job {job_id} among your licenses.")
    return job


def _job_done_url(job: Job) -> str | None:
    """Return where a finished job's result is read in the console, if it has a page."""
    result = job.result or {}
    if job.status != "succeeded":
        return None
    if job.kind == "audit":
        return url_for("console.run", run_id=result["run_id"])
    if job.kind == "packet":
        return url_for("console.packet", run_id=result["run_id"], fmt=result["format"])
    return None


@bp.route("/jobs/<job_id>")
@requires(Permission.READ_RUNS)
def job(job_id: str) -> Response | Redirect:
    """Show a job's progress until it is over, then go to what it made.

    The page polls itself (htmx) while the job is queued or running; without script it
    reloads itself. An audit's page then becomes its run; a packet downloads.
    """
    found = visible_job(job_id)
    lic = visible_license(found.license_number)
    done = _job_done_url(found)
    polled = bool(request.headers.get("HX-Request"))
    if done and (polled or found.kind == "audit"):
        if found.kind == "audit":
            flash("The audit ran.")
        if not polled:
            return redirect(done)
        answer = make_response("")
        answer.headers["HX-Redirect"] = done  # htmx navigates the whole page there
        return answer
    page = render_template("console/job_status.html" if polled else "console/job.html",
                           license=lic, job=found, done_url=done)
    # 286 tells htmx to stop polling: a failed job will not change any more.
    return make_response(page, 286 if polled and found.finished else 200)


@bp.route("/audits/<run_id>/finalize", methods=["POST"])
@requires(Permission.AUDIT)
def finalize(run_id: str) -> Redirect:
    """Make the run's packet final."""
    lic = visible_license(_run_license(run_id))
    done = finalize_packet(services()["packets"], run_id, license_pack(lic), me().label)
    flash(f"Packet version {done.version} is final (SHA-256 {done.sha256[:12]}…).")
    return redirect(url_for("console.run", run_id=run_id))


@bp.route("/audits/<run_id>/amend", methods=["POST"])
@requires(Permission.AUDIT)
def amend(run_id: str) -> Redirect:
    """Add an amended final version of the packet, with the reason given."""
    lic = visible_license(_run_license(run_id))
    done = amend_packet(services()["packets"], run_id, license_pack(lic), me().label,
                        request.form.get("reason", ""))
    flash(f"Packet version {done.version} amends the last: {'; '.join(done.changes)}")
    return redirect(url_for("console.run", run_id=run_id))
