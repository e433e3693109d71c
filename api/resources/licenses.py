"""Licenses: the ones a token may see; admins add new ones to their organization.

A license number is the state's and names one facility, so it can be held by one
organization only. Adding a number that another organization holds answers a generic
403 (recorded as a denied request), never a 409 naming it: a 409 is kept for numbers
the caller's own organization holds. Reading a license the caller may not see answers
404 exactly as for a number nobody holds.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from api.auth import principal, requires, services, visible
from api.schemas import LicenseSchema
from auditor.domain.errors import Conflict
from auditor.domain.license import License
from auditor.services.access import Permission

blp = Blueprint("licenses", __name__, url_prefix="/licenses", description="Licenses")


def license_json(lic: License) -> dict[str, Any]:
    """Return a license in the API's shape."""
    return {"number": lic.number, "state": lic.state, "timezone": lic.timezone,
            "business_name": lic.business_name,
            "sales_floor_locations": list(lic.sales_floor_locations),
            "vault_locations": list(lic.vault_locations)}


@blp.route("")
class Licenses(MethodView):
    """The licenses collection."""

    @requires(Permission.READ_RUNS)
    @blp.response(200, LicenseSchema(many=True))
    def get(self) -> Any:
        """List the licenses the token may see."""
        return [license_json(lic) for lic in services()["store"].list_licenses()
                if principal().sees(lic.number)]

    @requires(Permission.ADMIN)
    @blp.arguments(LicenseSchema)
    @blp.response(201, LicenseSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a license (admin); give tokens access to it with `auditor token create`."""
        lic = License(body["number"], body["state"], body["timezone"],
                      tuple(body["sales_floor_locations"]), body["business_name"],
                      tuple(body["vault_locations"]), principal().organization)
        store = services()["store"]
        try:
            store.add_license(lic)
        except Conflict:
            if store.get_license(lic.number).organization == lic.organization:
                raise
            abort(403, message=f"license {lic.number!r} cannot be added to your organization")
        return license_json(lic)


@blp.route("/<string:number>")
class OneLicense(MethodView):
    """One license."""

    @requires(Permission.READ_RUNS)
    @blp.response(200, LicenseSchema)
    def get(self, number: str) -> Any:
        """Read a license."""
        return license_json(services()["store"].get_license(visible(number)))
