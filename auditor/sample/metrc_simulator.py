"""A local METRC: serves a sample store's METRC files through METRC's v2 GET endpoints.

For tests and the demo. It answers like METRC does where the connector depends on it:
HTTP Basic auth (vendor key as user, user key as password), `licenseNumber`, the v2
page envelope (`pageNumber`, `pageSize` up to 20), `lastModifiedStart`/`lastModifiedEnd`
windows (400 for a window over 24 hours) and only the current shape of each list. On
demand it answers 429 (with Retry-After), 500, or drops the connection, so retries and
resumption can be tested. Package snapshots and receipts are served by their
`LastModified` (adjustments by `AdjustmentDate`), so a sync over the store's days pulls
every METRC record the store's files hold.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

MAX_PAGE_SIZE = 20
MAX_WINDOW = timedelta(hours=24)


@dataclass
class Faults:
    """Faults to inject: queued ones first, then one every `every` requests, if set."""

    queued: deque[str] = field(default_factory=deque)  # "429", "500" or "drop"
    every: int = 0
    kind: str = "500"
    retry_after: int = 1
    delay: float = 0.0  # seconds added to every answer, to make a sync slow enough to kill
    served: int = 0
    injected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> str | None:
        """Return the fault for this request, if any."""
        with self._lock:
            self.served += 1
            fault = None
            if self.queued:
                fault = self.queued.popleft()
            elif self.every and self.served % self.every == 0:
                fault = self.kind
            self.injected += fault is not None
        return fault


@dataclass
class MetrcData:
    """One facility's METRC lists, read from a sample store."""

    license_number: str
    lists: dict[str, list[dict[str, Any]]]
    window_field: dict[str, str]
    delivery_packages: dict[int, list[dict[str, Any]]]

    @classmethod
    def from_store(cls, store_dir: Path) -> MetrcData:
        """Read the METRC-shaped files of a sample store (`auditor sample`)."""
        info = json.loads((store_dir / "store.json").read_text())
        rows: dict[str, list[dict[str, Any]]] = {}
        for entry in json.loads((store_dir / "files.json").read_text()):
            if entry["format"] in ("metrc-packages", "metrc-receipts", "metrc-transfers",
                                   "metrc-adjustments", "metrc-adjust-reasons"):
                body = json.loads((store_dir / entry["path"]).read_text())
                rows.setdefault(entry["format"], []).extend(body["Data"])
        packages = rows.get("metrc-packages", [])
        receipts = rows.get("metrc-receipts", [])
        transfers = rows.get("metrc-transfers", [])
        locations = [*info["sales_floor_locations"], *info["vault_locations"]]
        lists = {
            "/packages/v2/active": [p for p in packages if _package_list(p) == "active"],
            "/packages/v2/onhold": [p for p in packages if _package_list(p) == "onhold"],
            "/packages/v2/inactive": [p for p in packages if _package_list(p) == "inactive"],
            "/sales/v2/receipts/active": [r for r in receipts if not r.get("ArchivedDate")],
            "/sales/v2/receipts/inactive": [r for r in receipts if r.get("ArchivedDate")],
            "/transfers/v2/incoming": [{k: v for k, v in t.items() if k != "Packages"}
                                       for t in transfers],
            "/packages/v2/adjustments": rows.get("metrc-adjustments", []),
            "/packages/v2/adjust/reasons": rows.get("metrc-adjust-reasons", []),
            "/locations/v2/active": [
                {"Id": n, "Name": name, "LocationTypeId": 1, "LocationTypeName": "Default",
                 "ForPlantBatches": False, "ForPlants": False, "ForHarvests": False,
                 "ForPackages": True} for n, name in enumerate(locations, start=1)],
        }
        window_field = {path: "LastModified" for path in lists}
        window_field["/packages/v2/adjustments"] = "AdjustmentDate"
        for path in ("/packages/v2/adjust/reasons", "/locations/v2/active"):
            del window_field[path]
        deliveries = {t["DeliveryId"]: t.get("Packages", []) for t in transfers}
        return cls(info["license_number"], lists, window_field, deliveries)


def _package_list(row: dict[str, Any]) -> str:
    if row.get("IsOnHold"):
        return "onhold"
    if row.get("IsFinished") or row.get("FinishedDate") or row.get("Quantity") == 0:
        return "inactive"
    return "active"


def create_simulator(data: MetrcData, vendor_key: str, user_key: str,
                     faults: Faults | None = None) -> Flask:
    """Return the simulator app serving data to callers holding the two keys."""
    app = Flask(__name__)
    app.config["faults"] = faults or Faults()
    app.config["requests"] = []  # (path, query) of every request, for tests

    @app.before_request
    def _check() -> Response | None:
        app.config["requests"].append((request.path, dict(request.args)))
        fault = app.config["faults"].next()
        if app.config["faults"].delay:
            time.sleep(app.config["faults"].delay)
        if fault:
            return _fault(fault, app.config["faults"].retry_after)
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (vendor_key, user_key):
            return _error(401, "Authorization has been denied for this request.")
        if request.args.get("licenseNumber") != data.license_number:
            return _error(403, "No facility access for this license number.")
        return None

    @app.get("/transfers/v2/deliveries/<int:delivery_id>/packages")
    def _delivery(delivery_id: int) -> Response:
        return _page(data.delivery_packages.get(delivery_id, []), None)

    @app.get("/<path:path>")
    def _list(path: str) -> Response:
        rows = data.lists.get("/" + path)
        if rows is None:
            return _error(404, f"no such endpoint: /{path}")
        return _page(rows, data.window_field.get("/" + path))

    return app


def _fault(kind: str, retry_after: int) -> Response:
    if kind == "drop":
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection dropped
    if kind == "429":
        response = _error(429, "Too many requests.")
        response.headers["Retry-After"] = str(retry_after)
        return response
    return _error(500, "An error has occurred.")


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"Message": message}), status=status,
                    mimetype="application/json")


def _page(rows: list[dict[str, Any]], window_field: str | None) -> Response:
    try:
        number = int(request.args.get("pageNumber", "1"))
        size = int(request.args.get("pageSize", str(MAX_PAGE_SIZE)))
    except ValueError:
        return _error(400, "pageNumber and pageSize must be whole numbers.")
    if number < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        return _error(400, f"pageSize must be between 1 and {MAX_PAGE_SIZE}.")
    if window_field is not None:
        selected = _in_window(rows, window_field)
        if isinstance(selected, Response):
            return selected
        rows = selected
    chosen = rows[(number - 1) * size: number * size]
    total = len(rows)
    body = {"Data": chosen, "Total": total, "TotalRecords": total, "PageSize": size,
            "RecordsOnPage": len(chosen), "Page": number, "CurrentPage": number,
            "TotalPages": max(1, math.ceil(total / size))}
    return Response(json.dumps(body), mimetype="application/json")


def _in_window(rows: list[dict[str, Any]], field_name: str) -> list[dict[str, Any]] | Response:
    start, end = request.args.get("lastModifiedStart"), request.args.get("lastModifiedEnd")
    if start is None and end is None:
        return rows
    try:
        begin, stop = datetime.fromisoformat(start or ""), datetime.fromisoformat(end or "")
    except ValueError:
        return _error(400, "lastModifiedStart and lastModifiedEnd must both be ISO 8601 times.")
    if begin.tzinfo is None or stop.tzinfo is None:
        return _error(400, "lastModifiedStart and lastModifiedEnd need a UTC offset.")
    if stop <= begin or stop - begin > MAX_WINDOW:
        return _error(400, "The time span between lastModifiedStart and lastModifiedEnd "
                           "must be positive and cannot exceed 24 hours.")
    return [r for r in rows if begin <= datetime.fromisoformat(r[field_name]) < stop]


class SimulatorServer:
    """Serve the simulator on a loopback port in a thread, as a context manager."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0, *,
                 log_requests: bool = False) -> None:
        self.app = app
        # werkzeug logs every request at INFO; a sync makes hundreds.
        logging.getLogger("werkzeug").setLevel(logging.INFO if log_requests else logging.WARNING)
        self._server = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL the simulator answers on."""
        return f"http://{self._server.host}:{self._server.port}"

    def __enter__(self) -> SimulatorServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._thread.join()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()
