"""METRC syncs: pull a license's data from METRC now, and read each endpoint's sync state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from api.auth import requires, services, visible
from api.resources.jobs import JobSchema, accepted, submit
from auditor.services.access import Permission
from auditor.services.sync import ENDPOINT_NAMES
from auditor.store.sync_sql import SqlSyncState

blp = Blueprint("syncs", __name__, url_prefix="/licenses", description="METRC syncs")


class SyncArgs(Schema):
    """What to pull: by default every endpoint from its checkpoint up to now."""

    since = fields.AwareDateTime(load_default=None,
                                 metadata={"description": "pull from here, not the checkpoint"})
    until = fields.AwareDateTime(load_default=None)
    endpoints = fields.List(fields.String(validate=validate.OneOf(ENDPOINT_NAMES)),
                            load_default=None, validate=validate.Length(max=len(ENDPOINT_NAMES)))


class EndpointRunSchema(Schema):
    """What one sync did for one endpoint."""

    endpoint = fields.String()
    status = fields.String(metadata={"description": "ok, failed or skipped"})
    synced_through = fields.String(allow_none=True)
    windows = fields.Integer()
    pulled = fields.Integer()
    accepted = fields.Integer()
    duplicates = fields.Integer()
    rejected = fields.Integer()
    rejections = fields.List(fields.String())
    notes = fields.List(fields.String())
    error = fields.String(allow_none=True)


class SyncResultSchema(Schema):
    """A finished sync."""

    license = fields.String()
    until = fields.String()
    endpoints = fields.List(fields.Nested(EndpointRunSchema))


class EndpointStateSchema(Schema):
    """An endpoint's stored sync state."""

    endpoint = fields.String()
    status = fields.String()
    error = fields.String(allow_none=True)
    synced_through = fields.String(allow_none=True)
    updated_at = fields.String()
    last_run = fields.Nested(EndpointRunSchema)


class SyncStateSchema(Schema):
    """Every endpoint's sync state for a license."""

    license = fields.String()
    endpoints = fields.List(fields.Nested(EndpointStateSchema))


@blp.route("/<string:number>/syncs")
class Syncs(MethodView):
    """A license's METRC syncs."""

    @requires(Permission.SYNC)
    @blp.arguments(SyncArgs)
    @blp.response(202, JobSchema)
    def post(self, args: dict[str, Any], number: str) -> Any:
        """Start a pull from METRC as a job; its result is a SyncResult.

        One sync of a license runs at a time: a second request while one is queued or
        running gets that job. If METRC refuses the keys or stays down the job fails
        with the reason.
        """
        services()["store"].get_license(visible(number))
        if args["since"] and args["since"] >= (args["until"] or datetime.now(UTC)):
            abort(422, message="since must be before until (by default, now)",
                  errors={"json": {"since": ["must be before until"]}})
        params = {"since": args["since"].isoformat() if args["since"] else None,
                  "until": args["until"].isoformat() if args["until"] else None,
                  "endpoints": args["endpoints"]}
        return accepted(submit("sync", number, number, params))

    @requires(Permission.READ)
    @blp.response(200, SyncStateSchema)
    def get(self, number: str) -> Any:
        """Return each endpoint's checkpoint and last outcome."""
        store = services()["store"]
        store.get_license(visible(number))
        return {"license": number, "endpoints": SqlSyncState(store.engine).status(number)}
