"""Audit packets of runs, and the inventory associate's reports, as downloadable files."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from api.auth import license_pack, principal, requires, services, visible
from api.resources.audits import _visible_run
from api.schemas import AuditArgs
from auditor.domain.events import canonical_json
from auditor.packets import PacketDocuments
from auditor.services.access import Permission, Role
from auditor.services.packets import current_packet
from auditor.services.reports import REPORTS, build_report, report_tables

blp = Blueprint("packets", __name__, description="Audit packets and the associate's reports")

TYPES = {"pdf": "application/pdf", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _files(formats: list[str], what: str) -> dict[str, Any]:
    """Return the OpenAPI description of a 200 that is a file in one of formats."""
    content = {TYPES[f]: {"schema": {"type": "string", "format": "binary"}} for f in formats}
    return {"responses": {"200": {"description": what, "content": content}}}


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
    """A run's audit packet."""

    @requires(Permission.READ_RUNS)
    @blp.arguments(PacketArgs, location="query", unknown=RAISE)
    @blp.doc(**_files(["pdf", "xlsx", "json"], "the packet; json is the content its SHA-256 "
                                                 "covers (header X-Packet-SHA256)"))
    def get(self, args: dict[str, Any], run_id: str) -> Response:
        """Download the run's packet: its latest final version, or a draft built now.

        A regulator sees only a finalized packet.
        """
        number = _visible_run(run_id)
        sources = services()["packets"]
        versions = sources.records.versions(run_id)
        final = bool(versions) and versions[-1].finalized_at is not None
        if principal().role == Role.REGULATOR and not final:
            abort(404, message=f"the packet of run {run_id!r} is not finalized")
        lic = services()["store"].get_license(number)
        pack = license_pack(lic)
        version = current_packet(sources, run_id, pack, principal().label)
        response = _file(services()["rendered"].render(version, args["format"]),
                         args["format"], f"packet-{run_id}-v{version.version}")
        response.headers["X-Packet-SHA256"] = version.sha256
        return response


@blp.route("/licenses/<string:number>/reports/<string:name>")
class Report(MethodView):
    """One of the inventory associate's reports."""

    @requires(Permission.READ)
    @blp.arguments(ReportArgs, location="query", unknown=RAISE)
    @blp.doc(**_files(["xlsx", "json"], "the report"))
    def get(self, args: dict[str, Any], number: str, name: str) -> Response:
        """Build a report (reconciliation, cycle-counts, velocity, accuracy, ...) for a period."""
        lic = services()["store"].get_license(visible(number))
        if name not in REPORTS:
            abort(404, message=f"no report {name!r}; the reports are {', '.join(REPORTS)}")
        if args["end"] < args["start"]:
            abort(422, message="the period ends before it starts",
                  errors={"query": {"to": ["must not be before from"]}})
        built = build_report(name, services()["activity"], lic, args["start"], args["end"])
        data = (canonical_json(built).encode() if args["format"] == "json"
                else PacketDocuments().xlsx(report_tables(built)))
        return _file(data, args["format"], f"{name}-{number}")
