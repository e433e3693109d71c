"""Audit packets of runs, and the inventory associate's reports, as downloadable files."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from api.auth import principal, requires, services, visible
from api.resources.audits import _visible_run
from api.resources.jobs import JobSchema, accepted, submit
from api.schemas import AuditArgs
from auditor.services.access import Permission, Role
from auditor.services.job_kinds import MEDIA
from auditor.services.job_ports import PacketFile
from auditor.services.reports import REPORTS

blp = Blueprint("packets", __name__, description="Audit packets and the associate's reports")

TYPES = MEDIA


def _files(formats: list[str], what: str) -> dict[str, Any]:
    """Return the OpenAPI description of a 200 that is a file in one of formats."""
    content = {TYPES[f]: {"schema": {"type": "string", "format": "binary"}} for f in formats}
    return {"responses": {"200": {"description": what, "content": content},
                          "202": {"description": "not rendered yet: the job rendering it"}}}


class PacketArgs(Schema):
    """Which rendering of the packet to download."""

    format = fields.String(load_default="pdf", validate=validate.OneOf(["pdf", "xlsx", "json"]))


class ReportArgs(AuditArgs):
    """The period of a report, in the license's calendar, and its file format."""

    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx", "json"]))


def _file(data: bytes, fmt: str, name: str) -> Response:
    return Response(data, mimetype=TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@blp.route("/audits/<string:run_id>/packet")
class Packet(MethodView):
    """A run's audit packet, rendered once per version and served from storage."""

    @requires(Permission.READ_RUNS)
    @blp.arguments(PacketArgs, location="query", unknown=RAISE)
    @blp.doc(**_files(["pdf", "xlsx", "json"], "the packet; json is the content its SHA-256 "
                                                 "covers (header X-Packet-SHA256)"))
    def get(self, args: dict[str, Any], run_id: str) -> Response | tuple[Any, ...]:
        """Download the run's packet as stored: its newest version, final or draft.

        Nothing is rendered on the request: a packet not stored yet in this format
        answers 202 with the job that renders it (`Location: /jobs/{id}`), and the same
        GET serves the file once the job is over. A draft is stored as it was when
        rendered (`X-Packet-Generated-At`); POST renders it afresh. A regulator sees
        only a finalized packet.
        """
        number = _visible_run(run_id)
        regulator = principal().role == Role.REGULATOR
        stored = services()["packet_files"].newest(run_id, args["format"])
        if stored is not None and (stored.final or not regulator):
            return _packet_file(stored)
        if regulator and not _finalized(run_id):
            abort(404, message=f"the packet of run {run_id!r} is not finalized")
        return accepted(submit("packet", number, f"{run_id} {args['format']}",
                               {"run_id": run_id, "format": args["format"]}))

    @requires(Permission.AUDIT)
    @blp.arguments(PacketArgs, location="query", unknown=RAISE)
    @blp.response(202, JobSchema)
    def post(self, args: dict[str, Any], run_id: str) -> Any:
        """Render the packet afresh as a job (a draft picks up late imports and waivers)."""
        number = _visible_run(run_id)
        return accepted(submit("packet", number, f"{run_id} {args['format']}",
                               {"run_id": run_id, "format": args["format"]}))


def _finalized(run_id: str) -> bool:
    versions = services()["packets"].records.versions(run_id)
    return bool(versions) and versions[-1].finalized_at is not None


def _packet_file(stored: PacketFile) -> Response:
    response = _file(stored.data, stored.format, f"packet-{stored.run_id}-v{stored.version}")
    response.headers["X-Packet-SHA256"] = stored.packet_sha256
    response.headers["X-Packet-Version"] = str(stored.version)
    response.headers["X-Packet-Status"] = "final" if stored.final else "draft"
    response.headers["X-Packet-Generated-At"] = stored.created_at.isoformat()
    response.headers["ETag"] = f'"{stored.sha256}"'
    return response


@blp.route("/licenses/<string:number>/reports/<string:name>")
class Report(MethodView):
    """One of the inventory associate's reports."""

    @requires(Permission.READ)
    @blp.arguments(ReportArgs, location="query", unknown=RAISE)
    @blp.response(202, JobSchema)
    def get(self, args: dict[str, Any], number: str, name: str) -> Any:
        """Start building a report (reconciliation, cycle-counts, velocity, ...) as a job.

        The job's `result_url` (`/jobs/{id}/result`) serves the file once it is over.
        """
        services()["store"].get_license(visible(number))
        if name not in REPORTS:
            abort(404, message=f"no report {name!r}; the reports are {', '.join(REPORTS)}")
        if args["end"] < args["start"]:
            abort(422, message="the period ends before it starts",
                  errors={"query": {"to": ["must not be before from"]}})
        start, end = args["start"].isoformat(), args["end"].isoformat()
        return accepted(submit("report", number, f"{name} {start} {end} {args['format']}",
                               {"name": name, "start": start, "end": end,
                                "format": args["format"]}))
