"""One JSON error shape for every failure: {code, status, message, errors?}."""

from __future__ import annotations

import logging
from typing import Any

from flask_smorest import Api
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from auditor.domain.errors import AuditorError, Conflict, InvalidInput, NotFound, StoreNotReady
from auditor.services.access import Forbidden
from auditor.services.sync_ports import MetrcError

STATUS_OF: list[tuple[type[AuditorError], int]] = [
    (NotFound, 404), (InvalidInput, 422), (Conflict, 409), (Forbidden, 403),
    (StoreNotReady, 503), (MetrcError, 502)]
log = logging.getLogger(__name__)


class AuditorApi(Api):
    """flask-smorest's Api with a message in every error and domain errors mapped."""

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(AuditorError, self.handle_auditor_error)
        self._app.register_error_handler(RecursionError, self.handle_too_deep)
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Return the error shape, with werkzeug's description as the message by default."""
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        # Keep werkzeug's own headers (Allow on a 405) under the JSON body's.
        kept = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return payload, code, {**kept, **(headers or {})}

    def handle_auditor_error(self, error: AuditorError) -> Any:
        """Map a domain error to its status, with its own message."""
        code = next((status for kind, status in STATUS_OF if isinstance(error, kind)), 400)
        status = {404: "Not Found", 422: "Unprocessable Entity", 409: "Conflict",
                  403: "Forbidden", 502: "Bad Gateway",
                  503: "Service Unavailable"}.get(code, "Bad Request")
        return {"code": code, "status": status, "message": str(error)}, code

    def handle_too_deep(self, error: RecursionError) -> Any:
        """Answer 400 for a body nested too deeply to decode (webargs lets json's error out)."""
        log.warning("request refused: %s", error)
        return self.handle_http_exception(BadRequest("the request body is nested too deeply"))

    def handle_unexpected(self, error: Exception) -> Any:
        """Log an unexpected error and answer a generic 500 that reveals nothing."""
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        log.exception("unexpected error", exc_info=error)
        return self.handle_http_exception(InternalServerError())
