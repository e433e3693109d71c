"""Uploads: one file of any import format, idempotent with an Idempotency-Key header."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE

from api.auth import requires, services, visible
from api.schemas import ImportArgs, ImportResultSchema, UploadSchema
from auditor.services.access import Permission
from auditor.services.uploads import upload

blp = Blueprint("imports", __name__, url_prefix="/licenses", description="Uploads")


@blp.route("/<string:number>/imports")
class Imports(MethodView):
    """A license's uploads."""

    @requires(Permission.INGEST)
    @blp.arguments(ImportArgs, location="query", unknown=RAISE)
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, ImportResultSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                          "schema": {"type": "string", "maxLength": 200}}])
    def post(self, args: dict[str, Any], files: dict[str, Any], number: str) -> Any:
        """Import a file; a retried Idempotency-Key replays the first answer, writes nothing."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 200:
            abort(422, message="Idempotency-Key must be 1-200 characters",
                  errors={"headers": {"Idempotency-Key": ["1-200 characters"]}})
        store, settings = services()["store"], services()["settings"]
        store.get_license(visible(number))
        upload_file = files["file"]
        return upload(store, services()["api"], number, args["format"],
                      upload_file.filename or "upload", upload_file.read(), key,
                      settings.import_chunk, args.get("profile"),
                      lease=timedelta(seconds=settings.idempotency_lease_seconds))
