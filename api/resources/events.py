"""A license's events, filtered by type, package tag and time."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import requires, services, visible
from api.schemas import EventArgs, EventPageSchema
from auditor.services.access import Permission
from auditor.services.api_ports import EventQuery

blp = Blueprint("events", __name__, url_prefix="/licenses", description="Events")


@blp.route("/<string:number>/events")
class Events(MethodView):
    """A license's events."""

    @requires(Permission.READ)
    @blp.arguments(EventArgs, location="query", unknown=RAISE)
    @blp.response(200, EventPageSchema)
    def get(self, args: dict[str, Any], number: str) -> Any:
        """List events by id; `from` is inclusive, `to` exclusive."""
        services()["store"].get_license(visible(number))
        rows = services()["api"].events(EventQuery(
            number, args.get("type"), args.get("tag"), args.get("start"), args.get("end"),
            args["after_id"], args["limit"]))
        full = len(rows) == args["limit"]
        return {"items": rows, "next_after_id": rows[-1]["id"] if full else None}
