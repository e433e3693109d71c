"""Rules: the pack in force, rule versions, validate, backtest, publish and diff."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE

from api.auth import (
    license_pack,
    pack_in_force,
    principal,
    requires,
    rule_versions,
    rules_root,
    services,
    visible,
)
from api.resources.jobs import JobSchema, accepted, submit
from api.schemas import (
    BacktestArgs,
    DiffArgs,
    DiffSchema,
    DraftSchema,
    RuleArgs,
    RuleDetailSchema,
    RuleSchema,
)
from auditor.domain.rules import Pack, Rule
from auditor.services.access import Permission
from auditor.services.rule_versions import (
    diff,
    parse_draft,
    publish,
    version_text,
)

blp = Blueprint("rules", __name__, description="Rules")


def _pack(state: str | None = None) -> Pack:
    if state is not None and not (rules_root() / "states" / state.lower()).is_dir():
        abort(404, message=f"no rule pack for state {state!r}")
    return pack_in_force(state)


def _summary(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "title": rule.title, "version": rule.version,
            "severity": rule.severity.value, "template": rule.template.value}


def _detail(rule_id: str) -> dict[str, Any] | None:
    """Return the rule in force (core pack) with its YAML, or None if there is none."""
    rule = next((r for r in _pack().rules if r.id == rule_id), None)
    if rule is None:
        return None
    return {**_summary(rule),
            "yaml": version_text(rules_root(), rule_versions(), rule.id, rule.version)}


@blp.route("/rules")
class Rules(MethodView):
    """The rule pack in force."""

    @requires(Permission.READ)
    @blp.arguments(RuleArgs, location="query", unknown=RAISE)
    @blp.response(200, RuleSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List the rules in force: the core pack, or a state's pack."""
        return [_summary(r) for r in _pack(args.get("state")).rules]


@blp.route("/rule-validations")
class ValidateRule(MethodView):
    """Validation of a draft."""

    @requires(Permission.AUDIT)
    @blp.arguments(DraftSchema)
    @blp.response(200, RuleSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Check a draft; 422 names the rule and the field at fault."""
        return _summary(parse_draft(body["yaml"], dict(_pack().parameters)))


@blp.route("/rules/<string:rule_id>")
class OneRule(MethodView):
    """A rule's version in force; publishing a draft makes the next one."""

    @requires(Permission.READ)
    @blp.etag
    @blp.response(200, RuleDetailSchema)
    def get(self, rule_id: str) -> Any:
        """Read the version in force, with its YAML and ETag."""
        detail = _detail(rule_id)
        if detail is None:
            abort(404, message=f"no rule {rule_id!r}")
        return detail

    @requires(Permission.AUDIT)
    @blp.etag
    @blp.arguments(DraftSchema)
    @blp.response(200, RuleDetailSchema)
    def put(self, body: dict[str, Any], rule_id: str) -> Any:
        """Publish a draft as the next version (If-Match: the rule's ETag, or * for a new rule).

        The draft's `id` must be the one in the path and its `version` the current one
        plus one; audits already run keep naming the version they used.
        """
        current = _detail(rule_id)
        blp.check_etag(current if current is not None else {}, RuleDetailSchema)
        pack = _pack()
        draft = parse_draft(body["yaml"], dict(pack.parameters))
        if draft.id != rule_id:
            abort(422, message=f"the draft is rule {draft.id!r}, not {rule_id!r}",
                  errors={"json": {"yaml": ["id must match the path"]}})
        publish(rule_versions(), pack, body["yaml"], principal().actor,
                services()["store"].list_licenses())
        return _detail(rule_id)


@blp.route("/rules/<string:rule_id>/versions/<int:version>")
class RuleVersion(MethodView):
    """One version of a rule, shipped or published."""

    @requires(Permission.READ)
    @blp.response(200, RuleDetailSchema)
    def get(self, rule_id: str, version: int) -> Any:
        """Read a version of a rule, old ones included."""
        text = version_text(rules_root(), rule_versions(), rule_id, min(version, 10**6))
        return {**_summary(parse_draft(text, dict(_pack().parameters))), "yaml": text}


@blp.route("/rules/<string:rule_id>/diff")
class RuleDiff(MethodView):
    """Two versions of a rule compared."""

    @requires(Permission.READ)
    @blp.arguments(DiffArgs, location="query", unknown=RAISE)
    @blp.response(200, DiffSchema)
    def get(self, args: dict[str, Any], rule_id: str) -> Any:
        """Return a unified diff of two versions' YAML."""
        return {"diff": diff(rules_root(), rule_versions(), rule_id, args["old"], args["new"])}


@blp.route("/licenses/<string:number>/backtests")
class Backtests(MethodView):
    """Backtests of drafts over a license's history."""

    @requires(Permission.AUDIT)
    @blp.arguments(BacktestArgs)
    @blp.response(202, JobSchema)
    def post(self, body: dict[str, Any], number: str) -> Any:
        """Start a backtest job: the findings a draft would add, remove and change.

        The draft is checked now (422 if it is not a valid rule); the job's result
        (`BacktestResult` in the schemas) lists the differences and stores nothing.
        """
        lic = services()["store"].get_license(visible(number))
        parse_draft(body["yaml"], dict(license_pack(lic).parameters))
        params = {"yaml": body["yaml"], "start": body["start"].isoformat(),
                  "end": body["end"].isoformat()}
        return accepted(submit("backtest", number, f"{number} {uuid.uuid4().hex}", params))
