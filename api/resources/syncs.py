"""METRC syncs: pull a license's data from METRC now, and read each endpoint's sync state."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import requires, services, visible
from auditor.services.access import Permission
from auditor.services.sync import ENDPOINT_NAMES, sync_license
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
    @blp.response(201, SyncResultSchema)
    @blp.alt_response(502, response="DEFAULT_ERROR",
                      description="METRC refused the keys, or stayed down after every retry")
    def post(self, args: dict[str, Any], number: str) -> Any:
        """Pull from METRC now (synchronously); 502 if METRC refuses the keys or stays down."""
        store = services()["store"]
        license = store.get_license(visible(number))
        source = services()["metrc"](license)
        try:
            result = sync_license(store, SqlSyncState(store.engine), source, number,
                                  since=args["since"], until=args["until"],
                                  only=args["endpoints"],
                                  chunk_size=services()["settings"].import_chunk)
        finally:
            source.close()
        return result.as_json()

    @requires(Permission.READ)
    @blp.response(200, SyncStateSchema)
    def get(self, number: str) -> Any:
        """Return each endpoint's checkpoint and last outcome."""
        store = services()["store"]
        store.get_license(visible(number))
        return {"license": number, "endpoints": SqlSyncState(store.engine).status(number)}
