"""Audit runs and their packets: start an audit, list runs, download, finalize, amend."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Redirect

from api.auth import license_pack, services
from api.console.core import bp, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.services.access import Permission, Role
from auditor.services.long_work import packet_file, start_audit
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
    lic = visible_license(number)
    started = start_audit(services()["store"], license_pack(lic), number, _day("from"),
                          _day("to"))
    flash("The audit ran." if started.done else "The audit started.")
    return redirect(url_for("console.run", run_id=started.ref))


@bp.route("/audits/<run_id>")
@requires(Permission.READ_RUNS)
def run(run_id: str) -> str:
    """Show a run: its score and counts, packet versions, downloads, finalize and amend."""
    lic = visible_license(_run_license(run_id))
    report = services()["store"].runs.get(run_id)
    versions = services()["packets"].records.versions(run_id)
    return render_template("console/run.html", license=lic, run_id=run_id, report=report,
                           versions=versions)


@bp.route("/audits/<run_id>/packet.<fmt>")
@requires(Permission.READ_RUNS)
def packet(run_id: str, fmt: str) -> Response:
    """Download the run's packet as PDF or XLSX (a regulator: finalized packets only)."""
    if fmt not in TYPES:
        abort(404, f"A packet comes as {' or '.join(TYPES)}, not {fmt}.")
    lic = visible_license(_run_license(run_id))
    versions = services()["packets"].records.versions(run_id)
    if me().role == Role.REGULATOR and not (versions and versions[-1].finalized_at):
        abort(404, f"The packet of run {run_id} is not finalized yet.")
    version, data = packet_file(services()["packets"], services()["rendered"], run_id,
                                license_pack(lic), me().label, fmt)
    name = f"packet-{run_id}-v{version.version}.{fmt}"
    return Response(data, mimetype=TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Packet-SHA256": version.sha256})


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
