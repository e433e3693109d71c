"""Rule editing: validate a draft, backtest it against history, publish it as a new version.

The YAML files under rules/ are the shipped seed. A published edit is stored in the
database as the rule's next version for one organization; an organization's pack in
force is the seed with each rule's newest version published by that organization in its
place (a rule new to the seed joins the pack of every state it applies to). Other
organizations' edits never apply. Old versions stay readable, and stored audit runs keep naming
the version they ran.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from auditor.domain.errors import Conflict, InvalidInput, NotFound
from auditor.domain.findings import Finding, explain
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule
from auditor.rules.loader import (
    PACK_FILE,
    cited_as,
    declared_jurisdictions,
    load_pack,
    parse_rule,
)
from auditor.services.api_ports import RuleVersions
from auditor.services.audit import local_bounds
from auditor.services.ports import EventStore


def parse_draft(text: str, parameters: dict[str, Any]) -> Rule:
    """Return the rule a YAML draft describes; RuleInvalid naming the rule and field."""
    rule = parse_rule(text, parameters, "draft")
    if rule.id == Path(PACK_FILE).stem:  # rules/<pack>/pack.yaml is the pack, not a rule
        raise InvalidInput(f"draft: a rule may not be called {rule.id!r}: the name is the "
                           "pack file's")
    return rule


def published_pack(root: Path, state: str | None, versions: RuleVersions) -> Pack:
    """Return the seed pack with the organization's newest published versions in force.

    Built once per content: the cache key is the seed files' names, sizes and change
    times and the published versions' text, so a new version or an edited seed file
    builds afresh and nothing else re-reads or re-parses a rule.
    """
    published = tuple(sorted((r.rule_id, r.yaml) for r in versions.latest().values()))
    return _merged(root, state, _seed_signature(root), published)


def _seed_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Return what identifies the shipped seed's content cheaply: each file's stat."""
    files = sorted(root.rglob("*.yaml"))
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=64)
def _merged(root: Path, state: str | None, _seed: tuple[tuple[str, int, int], ...],
            published: tuple[tuple[str, str], ...]) -> Pack:
    """Return the seed pack of a state with the published versions (rule id, YAML) merged."""
    seed = load_pack(root, state)
    rules = {r.id: r for r in seed.rules}
    for rule_id, text in published:
        # Only the same variant: a state's own version of a rule (e.g. CO's purchase
        # limit, with CO's parameters) must not replace the core rule elsewhere, nor the
        # reverse.
        if rule_id in rules and rules[rule_id].jurisdictions != declared_jurisdictions(text):
            continue
        rule = parse_draft(text, dict(seed.parameters))
        if state is not None:
            rule = cited_as(rule, rules.get(rule_id), state)
        in_state = state is None or rule.applies_to(state)
        if rule_id in rules or (in_state and rule_id not in seed.excluded):
            rules[rule_id] = rule
    return dataclasses.replace(seed, rules=tuple(rules[k] for k in sorted(rules)))


def seed_text(root: Path, rule_id: str, state: str | None = None) -> str | None:
    """Return the shipped YAML of a rule (the state's own version first), if there is one."""
    folders = ([root / "states" / state.lower()] if state else []) + [root / "core"]
    for folder in folders:
        path = folder / f"{rule_id}.yaml"
        if path.name != PACK_FILE and path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def version_text(root: Path, versions: RuleVersions, rule_id: str, version: int) -> str:
    """Return the YAML of one version of a rule, shipped or published."""
    stored = versions.get(rule_id, version)
    if stored is not None:
        return stored.yaml
    seed = _seed_rule(root, _seed_signature(root), rule_id)
    if seed is not None and seed[1] == version:
        return seed[0]
    raise NotFound(f"no version {version} of rule {rule_id!r}")


@functools.lru_cache(maxsize=256)
def _seed_rule(root: Path, _seed: tuple[tuple[str, int, int], ...],
               rule_id: str) -> tuple[str, int] | None:
    """Return a shipped rule's YAML and version, parsed once per seed content (as `_merged`).

    Reading the version takes the pack's parameters, so without this every rule page
    parsed the whole pack (about a second of YAML) to learn one number.
    """
    text = seed_text(root, rule_id)
    if text is None:
        return None
    return text, parse_draft(text, dict(load_pack(root).parameters)).version


def diff(root: Path, versions: RuleVersions, rule_id: str, old: int, new: int) -> str:
    """Return a unified diff between two versions of a rule's YAML."""
    before = version_text(root, versions, rule_id, old).splitlines(keepends=True)
    after = version_text(root, versions, rule_id, new).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"{rule_id} v{old}", f"{rule_id} v{new}"))


def _key(finding: Finding) -> str:
    """Return what makes a finding the same across rule versions (identity less version)."""
    return "\x1f".join([finding.subject or "", finding.package_label or "",
                        str(finding.evidence[0] if finding.evidence else "")])


def backtest(store: EventStore, pack: Pack, draft: Rule, license_number: str, start: date,
             end: date) -> dict[str, Any]:
    """Return the findings a draft adds, removes and changes against the rule in force."""
    license = store.get_license(license_number)
    opens, closes = local_bounds(license, start, end)
    current = next((r for r in pack.rules if r.id == draft.id), None)

    def run(rule: Rule | None) -> dict[str, Finding]:
        if rule is None:
            return {}
        evaluation = store.evaluate(license_number, rule, opens, closes)
        found = [explain(rule, v, license.zone()) for v in evaluation.violations]
        return {_key(f): f for f in found}

    before, after = run(current), run(draft)
    changed = [{"before": _json(before[k]), "after": _json(after[k])}
               for k in sorted(before.keys() & after.keys())
               if (before[k].message, before[k].severity) != (after[k].message, after[k].severity)]
    return {"rule_id": draft.id, "published_version": current.version if current else None,
            "draft_version": draft.version,
            "added": [_json(after[k]) for k in sorted(after.keys() - before.keys())],
            "removed": [_json(before[k]) for k in sorted(before.keys() - after.keys())],
            "changed": changed, "unchanged": len(before.keys() & after.keys()) - len(changed)}


def _json(finding: Finding) -> dict[str, Any]:
    return {"rule_id": finding.rule_id, "rule_version": finding.rule_version,
            "severity": finding.severity.value, "occurred_at": finding.occurred_at,
            "package_label": finding.package_label, "subject": finding.subject,
            "message": finding.message, "evidence": list(finding.evidence)}


def publish(versions: RuleVersions, pack: Pack, text: str, actor: str,
            licenses: Iterable[License] = ()) -> Rule:
    """Publish a draft as its organization's next version of the rule (current + 1).

    Of `licenses`, those of the organization in a state the rule applies to are the
    ones the change affects; the trail entry names them.
    """
    draft = parse_draft(text, dict(pack.parameters))
    current = next((r.version for r in pack.rules if r.id == draft.id), 0)
    if draft.version != current + 1:
        raise Conflict(f"rule {draft.id} is at version {current}: a new version must be "
                       f"numbered {current + 1}, got {draft.version}")
    affected = [lic.number for lic in licenses
                if lic.organization == versions.organization and draft.applies_to(lic.state)]
    versions.add(draft.id, draft.version, text, datetime.now(UTC), actor, affected)
    return draft

