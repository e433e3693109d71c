"""The officer's pages: the dashboard, the findings table, one finding, and its evidence."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api.auth import license_pack, services
from api.console.charts import score_chart
from api.console.core import bp, console_path, local_time, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.services.access import Permission
from auditor.services.lifecycle import STATUSES, get_finding
from auditor.services.oversight import (
    SEVERITIES,
    Filters,
    acknowledge_many,
    change_from_form,
    evidence_events,
    findings_page,
    latest_run,
    needing_action,
    open_counts,
    readiness_trend,
    run_findings,
    waiver_from_form,
)

MAX_ID = 2**62


@bp.route("/licenses/<number>/dashboard")
@requires(Permission.READ_RUNS)
def dashboard(number: str) -> str:
    """Show readiness across runs and the latest run's open findings by severity and rule."""
    lic = visible_license(number)
    runs = readiness_trend(services()["store"].runs, number)
    chart = score_chart([local_time(r["created_at"], lic.timezone)[5:16] for r in runs],
                        [int(r["readiness_score"]) for r in runs]) if runs else None
    latest = runs[-1] if runs else None
    found = run_findings(services()["api"], latest["id"]) if latest else []
    return render_template("console/dashboard.html", license=lic, runs=runs, chart=chart,
                           latest=latest, counts=open_counts(found),
                           urgent=needing_action(found))


def _filters() -> Filters:
    """Return the findings table's filters from the query string (blank means any)."""
    def text(name: str) -> str | None:
        return request.args.get(name, "").strip() or None

    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        raise InvalidInput("page must be a whole number") from None
    return Filters(text("rule"), text("severity"), text("status"), text("package"), page)


@bp.route("/licenses/<number>/findings")
@requires(Permission.READ_RUNS)
def findings(number: str) -> str:
    """Show the latest run's findings, filtered and paged, with bulk acknowledge."""
    lic = visible_license(number)
    latest = latest_run(services()["store"].runs, number)
    filters = _filters()
    rows, more = findings_page(services()["api"], latest["id"], filters) if latest else ([],
                                                                                        False)
    rules = sorted(r.id for r in license_pack(lic).rules)
    return render_template("console/findings.html", license=lic, latest=latest, rows=rows,
                           more=more, filters=filters, severities=SEVERITIES,
                           statuses=STATUSES, rules=rules)


@bp.route("/licenses/<number>/findings/acknowledge", methods=["POST"])
@requires(Permission.ACKNOWLEDGE)
def acknowledge_selected(number: str) -> Response:
    """Acknowledge the ticked findings, each only if unchanged since the page was drawn."""
    visible_license(number)
    seen: dict[int, int] = {}
    for value in request.form.getlist("finding"):
        finding_id, _, revision = value.partition(":")
        if finding_id.isdigit() and revision.isdigit():
            row = services()["api"].finding(int(finding_id)) if int(finding_id) < MAX_ID \
                else None
            if row is None or row["license"] != number:
                abort(404, f"There is no finding {finding_id} on license {number}.")
            seen[int(finding_id)] = int(revision)
    if not seen:
        raise InvalidInput("tick at least one finding to acknowledge")
    result = acknowledge_many(services()["api"], me(), seen,
                              request.form.get("note", "").strip() or "acknowledged in bulk")
    flash(f"Acknowledged {len(result.done)} finding(s).")
    if result.stale:
        flash("Not changed, because someone changed them after you opened the page: "
              + ", ".join(map(str, result.stale)) + ". Review them and try again.")
    for refused_id, why in result.refused.items():
        flash(f"Finding {refused_id} not changed: {why}")
    return redirect(console_path(request.form.get("back"),
                                 url_for("console.findings", number=number)))


def _visible_finding(finding_id: int) -> dict[str, Any]:
    """Return a finding of one of the user's licenses; 404 for any other."""
    row = services()["api"].finding(finding_id) if finding_id < MAX_ID else None
    if row is None or not me().sees(row["license"]):
        abort(404, f"There is no finding {finding_id} among your licenses.")
    return get_finding(services()["api"], finding_id)


@bp.route("/findings/<int:finding_id>")
@requires(Permission.READ_RUNS)
def finding(finding_id: int) -> str:
    """Show a finding with its evidence, history and the forms that change its status."""
    found = _visible_finding(finding_id)
    lic = visible_license(found["license"])
    history = services()["api"].finding_history(found["license"], found["identity"])
    evidence = evidence_events(services()["api"], found["license"], list(found["evidence"]))
    return render_template("console/finding.html", license=lic, f=found, history=history,
                           evidence=evidence)


@bp.route("/findings/<int:finding_id>/status", methods=["POST"])
@requires(Permission.ACKNOWLEDGE)
def change_status(finding_id: int) -> Response:
    """Acknowledge, resolve, waive or reopen a finding from its page's form."""
    found = _visible_finding(finding_id)
    form = request.form
    status = form.get("status", "")
    waiver = None
    if status == "waived":
        waiver = waiver_from_form(form.get("justification", ""), form.get("expires_on", ""),
                                  visible_license(found["license"]).zone())
    try:
        revision = int(form.get("revision", ""))
    except ValueError:
        raise InvalidInput("the form lacks the finding's revision; reload the page") from None
    change_from_form(services()["api"], me(), finding_id, revision, status,
                     form.get("note", ""), waiver)
    flash(f"Finding {finding_id} is now {status}.")
    return redirect(url_for("console.finding", finding_id=finding_id))


@bp.route("/licenses/<number>/events/<int:event_id>")
@requires(Permission.READ)
def event(number: str, event_id: int) -> str:
    """Show one event of a license: the evidence a finding or a today line points at."""
    lic = visible_license(number)
    found = evidence_events(services()["api"], number, [event_id]) if event_id < MAX_ID else []
    if not found:
        abort(404, f"There is no event {event_id} on license {number}.")
    return render_template("console/event.html", license=lic, event=found[0])
