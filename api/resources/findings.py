"""Findings: read one, change its status (ETag-guarded), read its history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from api.auth import principal, requires, services
from api.schemas import ChangeSchema, FindingSchema, StatusChangeSchema
from auditor.services.access import Permission
from auditor.services.lifecycle import change_status, get_finding

MAX_ID = 2**62  # ids are 64-bit in the database: a larger one cannot exist
blp = Blueprint("findings", __name__, url_prefix="/findings", description="Findings")


def _visible_finding(finding_id: int) -> dict[str, Any]:
    """Return the finding if the caller may see its license; 404 otherwise."""
    api = services()["api"]
    row = api.finding(finding_id) if finding_id < MAX_ID else None
    if row is None or not principal().sees(row["license"]):
        abort(404, message=f"no finding {finding_id}")
    return get_finding(api, finding_id)


@blp.route("/<int:finding_id>")
class OneFinding(MethodView):
    """One finding."""

    @requires(Permission.READ_RUNS)
    @blp.etag
    @blp.response(200, FindingSchema)
    def get(self, finding_id: int) -> Any:
        """Read a finding with its current status and ETag."""
        return _visible_finding(finding_id)

    @requires(Permission.ACKNOWLEDGE)
    @blp.etag
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, FindingSchema)
    def patch(self, body: dict[str, Any], finding_id: int) -> Any:
        """Change the status (If-Match required: 428 without, 412 if stale).

        Associates may acknowledge; compliance officers may also resolve, waive, reopen.
        """
        finding = _visible_finding(finding_id)
        blp.check_etag(finding, FindingSchema)
        change_status(services()["api"], principal(), finding, body["status"], body["note"],
                      body["waiver"])
        return get_finding(services()["api"], finding_id)


@blp.route("/<int:finding_id>/history")
class FindingHistory(MethodView):
    """A finding's status changes."""

    @requires(Permission.READ_RUNS)
    @blp.response(200, ChangeSchema(many=True))
    def get(self, finding_id: int) -> Any:
        """List who changed the status, when, from what to what, and why."""
        finding = _visible_finding(finding_id)
        return services()["api"].finding_history(finding["license"], finding["identity"])
