"""The audit trail: verify the whole chain, and read its entries page by page.

Admins and regulators may read it. Verification covers the whole chain and reveals only
its length and head; a page holds only the entries of the caller's licenses (a rule
change counts for every license it affects), and an admin's also those naming its
organization, so one tenant's or store's trail never shows another's changes.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import principal, requires, services
from auditor.domain.errors import InvalidInput
from auditor.domain.trail import Head, load_key
from auditor.services.access import Permission, Role
from auditor.services.trail import MAX_PAGE, page, verify_trail

blp = Blueprint("trail", __name__, url_prefix="/trail", description="Audit trail")


class TrailArgs(Schema):
    """Where the page starts (after which seq) and how long it is."""

    after = fields.Integer(load_default=0, validate=validate.Range(0, 2**62))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))


class VerifyArgs(Schema):
    """A head published earlier (a packet's), as SEQ:SHA256, to check it is still there."""

    head = fields.String(validate=validate.Length(66, 90))


class EntrySchema(Schema):
    """One entry: who did what, when, to which entity, its old and new values, its hashes."""

    seq = fields.Integer()
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    license = fields.String(allow_none=True)
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()
    mac = fields.String(allow_none=True)


class TrailPageSchema(Schema):
    """A page of entries and the seq to continue after (null at the end)."""

    items = fields.List(fields.Nested(EntrySchema))
    next_after = fields.Integer(allow_none=True)


class VerdictSchema(Schema):
    """The outcome of verification: ok, or the first broken entry and why."""

    ok = fields.Boolean()
    entries = fields.Integer()
    head_seq = fields.Integer(allow_none=True)
    head_sha256 = fields.String(allow_none=True)
    broken_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    macs_checked = fields.Boolean()
    message = fields.String()


@blp.route("")
class Trail(MethodView):
    """The trail's entries."""

    @requires(Permission.TRAIL)
    @blp.arguments(TrailArgs, location="query", unknown=RAISE)
    @blp.response(200, TrailPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List entries in seq order after `after`: those of the caller's licenses only."""
        entries, next_after = page(services()["trail"], args["after"], args["limit"])
        return {"items": [e for e in entries if _shown(e)], "next_after": next_after}


def _shown(entry: dict[str, Any]) -> bool:
    """Return whether the caller may read an entry (its licenses', or its organization's)."""
    caller = principal()
    if caller.sees_entry(entry):
        return True
    new = entry["new"] if isinstance(entry["new"], dict) else {}
    return (caller.role is Role.ADMIN and entry["license"] is None
            and new.get("organization") == caller.organization)


@blp.route("/verify")
class Verify(MethodView):
    """Verification of the whole trail."""

    @requires(Permission.TRAIL)
    @blp.arguments(VerifyArgs, location="query", unknown=RAISE)
    @blp.response(200, VerdictSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Verify every entry (and MACs with the server's key); name the first broken one."""
        try:
            published = Head.parse(args["head"]) if "head" in args else None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        key_file = services()["settings"].trail_key_file
        verdict = verify_trail(services()["trail"], load_key(str(key_file)) if key_file
                               else None, published)
        return {"ok": verdict.ok, "entries": verdict.entries,
                "head_seq": verdict.head.seq if verdict.head else None,
                "head_sha256": verdict.head.hash if verdict.head else None,
                "broken_seq": verdict.broken_seq, "reason": verdict.reason,
                "macs_checked": verdict.macs_checked, "message": str(verdict)}
