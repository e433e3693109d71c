"""The rules in force: the pack of a state."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE

from api.auth import requires, services
from api.schemas import RuleArgs, RuleSchema
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.access import Permission

blp = Blueprint("rules", __name__, url_prefix="/rules", description="Rules")


@blp.route("")
class Rules(MethodView):
    """The rule pack."""

    @requires(Permission.READ)
    @blp.arguments(RuleArgs, location="query", unknown=RAISE)
    @blp.response(200, RuleSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List the rules of the core pack, or of a state's pack."""
        root = services()["settings"].rules_dir or default_rules_dir()
        state = args.get("state")
        if state is not None and not (root / "states" / state.lower()).is_dir():
            abort(404, message=f"no rule pack for state {state!r}")
        pack = load_pack(root, state)
        return [{"id": r.id, "title": r.title, "version": r.version,
                 "severity": r.severity.value, "template": r.template.value}
                for r in pack.rules]
