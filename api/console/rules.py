"""Rule editing for a compliance officer: the form and YAML side by side, then Validate,
Backtest over a period, and Publish the next version; version history and diffs."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api.auth import license_pack, rules_root, services
from api.console.core import bp, me, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.domain.rules import Rule, Severity
from auditor.services.access import Permission
from auditor.services.api_ports import RuleVersions
from auditor.services.rule_forms import Field, apply_form, form_fields, rule_data
from auditor.services.rule_versions import backtest, diff, parse_draft, publish, version_text


def _versions(lic: License) -> RuleVersions:
    return services()["rules"].of(lic.organization)


def _rule(lic: License, rule_id: str) -> Rule:
    """Return the license's rule in force; 404 if it has none by that id."""
    rule = next((r for r in license_pack(lic).rules if r.id == rule_id), None)
    if rule is None:
        abort(404, f"License {lic.number} has no rule {rule_id}.")
    return rule


@bp.route("/licenses/<number>/rules")
@requires(Permission.READ)
def rules(number: str) -> str:
    """List the license's rules in force."""
    lic = visible_license(number)
    return render_template("console/rules.html", license=lic, pack=license_pack(lic))


@functools.lru_cache(maxsize=64)
def _form(text: str) -> tuple[list[Field], str | None, str | None]:
    """Return a rule YAML's form fields, title and severity, parsed once per text.

    Pages show the same few versions again and again, and the YAML is parsed in pure
    Python: parsing each text once keeps a rule's page a few milliseconds of work.
    """
    data = rule_data(text)
    return form_fields(text), data.get("title"), data.get("severity")


def _page(lic: License, rule: Rule, draft: str, **results: Any) -> str:
    """Render the rule's page with a draft in both editors, and any results."""
    try:
        fields, title, severity = _form(draft)
    except InvalidInput:  # YAML too broken to fill the form: the form shows the rule in force
        fields, title, severity = _form(
            version_text(rules_root(), _versions(lic), rule.id, rule.version))
    return render_template("console/rule.html", license=lic, rule=rule, draft=draft,
                           fields=list(fields), title=rule.title if title is None else title,
                           severity=rule.severity.value if severity is None else severity,
                           severities=[s.value for s in Severity],
                           history=range(rule.version, 0, -1), **results)


@bp.route("/licenses/<number>/rules/<rule_id>")
@requires(Permission.READ)
def rule(number: str, rule_id: str) -> str:
    """Show a rule's metadata, citations, parameters as a form and its YAML."""
    lic = visible_license(number)
    current = _rule(lic, rule_id)
    text = version_text(rules_root(), _versions(lic), rule_id, current.version)
    return _page(lic, current, text)


def _draft(current: Rule, text: str) -> str:
    """Return the draft the request carries: the YAML editor's text, or the form applied."""
    if request.form.get("editor") == "yaml":
        return request.form.get("yaml", "")
    values = {k[len("param:"):]: v for k, v in request.form.items() if k.startswith("param:")}
    return apply_form(text, request.form.get("title", ""), request.form.get("severity", ""),
                      values, current.version + 1)


@bp.route("/licenses/<number>/rules/<rule_id>", methods=["POST"])
@requires(Permission.AUDIT)
def edit_rule(number: str, rule_id: str) -> str | Response | tuple[str, int]:
    """Validate, backtest or publish the draft from the form or the YAML editor."""
    lic = visible_license(number)
    current = _rule(lic, rule_id)
    based_on = request.form.get("based_on", "")
    if based_on != str(current.version):
        flash(f"Rule {rule_id} was published as version {current.version} after you opened "
              "it; your edit was not used. Here is the version in force.")
        return redirect(url_for("console.rule", number=number, rule_id=rule_id))
    text = version_text(rules_root(), _versions(lic), rule_id, current.version)
    draft = _draft(current, text)
    pack = license_pack(lic)
    try:
        parsed = parse_draft(draft, dict(pack.parameters))
        if parsed.id != rule_id:
            raise InvalidInput(f"the draft is rule {parsed.id!r}, not {rule_id!r}")
    except InvalidInput as invalid:
        return _page(lic, current, draft, invalid=str(invalid)), 422
    action = request.form.get("action")
    if action == "backtest":
        start, end = _period()
        result = backtest(services()["store"], pack, parsed, number, start, end)
        return _page(lic, current, draft, valid=parsed, backtest=result, start=start, end=end)
    if action == "publish":
        published = publish(_versions(lic), pack, draft, me().actor,
                            services()["store"].list_licenses())
        flash(f"Published {rule_id} version {published.version}.")
        return redirect(url_for("console.rule", number=number, rule_id=rule_id))
    return _page(lic, current, draft, valid=parsed)


def _period() -> tuple[date, date]:
    try:
        start = date.fromisoformat(request.form.get("from", ""))
        end = date.fromisoformat(request.form.get("to", ""))
    except ValueError:
        raise InvalidInput("a backtest needs a period: from and to as dates") from None
    if not date(2000, 1, 1) <= start <= end <= date(2100, 12, 31):
        raise InvalidInput("the backtest period must run forward, within 2000 to 2100")
    return start, end


@bp.route("/licenses/<number>/rules/<rule_id>/diff")
@requires(Permission.READ)
def rule_diff(number: str, rule_id: str) -> str:
    """Show the unified diff between two versions of a rule."""
    lic = visible_license(number)
    current = _rule(lic, rule_id)
    try:
        old = int(request.args.get("old", current.version - 1))
        new = int(request.args.get("new", current.version))
    except ValueError:
        raise InvalidInput("old and new are version numbers") from None
    if not (1 <= old <= current.version and 1 <= new <= current.version):
        raise InvalidInput(f"versions run from 1 to {current.version}")
    text = diff(rules_root(), _versions(lic), rule_id, old, new)
    return render_template("console/rule_diff.html", license=lic, rule=current, old=old,
                           new=new, lines=text.splitlines())
