"""Load rule packs from YAML: validate every file, resolve $parameters, merge state packs.

Layout: `rules/core/` holds the core pack (`pack.yaml` plus one file per rule);
`rules/states/<xx>/` holds a state pack that `extends` it, overriding parameters and
adding or replacing rules. Any problem raises RuleInvalid naming the file, the rule,
the field and what is wrong, and nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from auditor.domain.errors import InvalidInput
from auditor.domain.rules import (
    METRC,
    Citation,
    Pack,
    Rule,
    RuleCase,
    Severity,
    Template,
    parse_deadline,
    parse_duration,
)
from auditor.rules.params import Correction, EventRef, FollowUpMatch, build, correction_of
from auditor.rules.schema import (
    CitationSchema,
    CitationTableSchema,
    PackSchema,
    RuleSchema,
    UncitedSchema,
    check_fields,
)
from auditor.rules.templates import template_spec

TIME_PARAMS = {"within": parse_duration, "deadline": parse_deadline}
PACK_FILE = "pack.yaml"  # the pack's own file in a folder; every other file is a rule
CITATIONS_FILE = "citations.yaml"  # a state's citation table, beside its pack.yaml


class RuleInvalid(InvalidInput):
    """A rule or pack file is not valid; the message says where and why."""


def _read_yaml(path: Path) -> Any:
    return _parse_yaml(path.read_text(encoding="utf-8"), str(path))


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleInvalid(f"{source}: not valid YAML: {exc}") from None


def load_text(text: str, source: str) -> Any:
    """Return the data of a YAML text; RuleInvalid naming the source if it is not YAML."""
    return _parse_yaml(text, source)


def dump_text(data: Any) -> str:
    """Return data as YAML text in the order given (the rule editor's form writes it)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)  # leaf lists inline, as the files write them


def declared_jurisdictions(text: str) -> tuple[str, ...]:
    """Return the jurisdictions a rule's YAML declares ("*" when it names none)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ("*",)
    found = data.get("jurisdictions") if isinstance(data, dict) else None
    return tuple(found) if isinstance(found, list) and found else ("*",)


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [line for key, value in messages.items()
                for line in _flatten(value, f"{prefix}{key}.")]
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix.rstrip('.')}: {' '.join(messages)}"]
    return [line for i, value in enumerate(messages) for line in _flatten(value, f"{prefix}{i}.")]


def _validate(schema: Any, data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RuleInvalid(f"{where}: expected a mapping at the top level")
    try:
        return dict(schema.load(data))
    except ValidationError as exc:
        raise RuleInvalid(f"{where}: " + "; ".join(_flatten(exc.messages))) from None


def _resolve(value: Any, parameters: Mapping[str, Any], where: str) -> Any:
    """Replace "$name" strings with the pack parameter of that name, recursively."""
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in parameters:
            raise RuleInvalid(f"{where}: unknown parameter ${name}; the pack defines "
                              f"{', '.join(sorted(parameters)) or 'none'}")
        return parameters[name]
    if isinstance(value, dict):
        return {k: _resolve(v, parameters, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters, f"{where}.{i}") for i, v in enumerate(value)]
    return value


def _check_shifts(params: dict[str, Any]) -> list[str]:
    """Return problems with `shift` durations anywhere in the params."""
    problems: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if "shift" in value:
                try:
                    parse_duration(value["shift"])
                except InvalidInput as exc:
                    problems.append(f"shift: {exc}")
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(params)
    return problems


def load_rule(path: Path, parameters: Mapping[str, Any]) -> Rule:
    """Load and validate one rule file against its template and the pack's parameters."""
    return parse_rule(path.read_text(encoding="utf-8"), parameters, str(path))


def parse_rule(text: str, parameters: Mapping[str, Any], source: str) -> Rule:
    """Validate one rule's YAML text; errors name `source` (a file, or "draft")."""
    data = _validate(RuleSchema(), _parse_yaml(text, source), source)
    where = f"{source}: rule {data['id']}"
    template = Template(data["template"])
    spec = template_spec(template)
    resolved = _resolve(data["params"], parameters, f"{where}: params")
    params = _validate(spec.schema(), resolved, f"{where}: params")
    problems = check_fields(params)
    if data["corrected_by"]:
        problems += check_fields({"follow_up": data["corrected_by"], "follow_up_time":
                                  "occurred_at", "match": data["corrected_by"]["match"]})
    problems += _check_shifts(params)
    for name, parse in TIME_PARAMS.items():
        if params.get(name) is not None:
            try:
                parse(params[name])
            except InvalidInput as exc:
                problems.append(f"{name}: {exc}")
    if problems:
        raise RuleInvalid(f"{where}: params." + "; params.".join(problems))
    typed = build(spec.params, params)
    return Rule(
        id=data["id"], title=data["title"], version=data["version"],
        severity=Severity(data["severity"]), template=template,
        params=typed, spec=params, corrected_by=_correction(template, typed, data["corrected_by"]),
        citations=tuple(Citation(**c) for c in data["citations"]),
        description=data["description"].strip(), remediation=data["remediation"].strip(),
        jurisdictions=tuple(data["jurisdictions"]), effective_from=data["effective_from"],
        effective_to=data["effective_to"],
        cases=tuple(RuleCase(c["name"], tuple(c["events"]), tuple(c["expect"]))
                    for c in data["cases"]))


def _correction(template: Template, params: Any, declared: Any) -> Correction | None:
    """Return what remedies a rule's findings: as the file declares it, or by default."""
    built = None if declared is None else Correction(
        build(EventRef, {k: v for k, v in declared.items() if k != "match"}),
        tuple(FollowUpMatch(**m) for m in declared["match"]))
    return correction_of(template.value, params, built)


def _pack_file(folder: Path) -> dict[str, Any]:
    path = folder / PACK_FILE
    if not path.exists():
        raise RuleInvalid(f"{folder}: no pack.yaml")
    return _validate(PackSchema(), _read_yaml(path), str(path))


def _rules(folder: Path, parameters: Mapping[str, Any]) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name in (PACK_FILE, CITATIONS_FILE):
            continue
        rule = load_rule(path, parameters)
        if rule.id in rules:
            raise RuleInvalid(f"{path}: a second rule with id {rule.id}")
        if path.stem != rule.id:
            raise RuleInvalid(f"{path}: rule {rule.id} must live in {rule.id}.yaml")
        rules[rule.id] = rule
    return rules


def load_pack(root: Path, state: str | None = None) -> Pack:
    """Load the core pack under root, merged with the state's pack when there is one."""
    core = _pack_file(root / "core")
    if state is None:
        return Pack(core["id"], core["version"], core["title"],
                    tuple(_rules(root / "core", core["parameters"]).values()),
                    core["parameters"])
    folder = root / "states" / state.lower()
    if not folder.is_dir():
        raise RuleInvalid(f"no rule pack for state {state}: expected {folder}/pack.yaml")
    pack = _pack_file(folder)
    if pack["extends"] != core["id"]:
        raise RuleInvalid(f"{folder}/pack.yaml: must extend {core['id']}")
    parameters = {**core["parameters"], **pack["parameters"]}
    rules = {**_rules(root / "core", parameters), **_rules(folder, parameters)}
    unknown = sorted(set(pack["excluded"]) - set(rules))
    if unknown:
        raise RuleInvalid(f"{folder}/pack.yaml: exclude: no rule {', '.join(unknown)}")
    in_force = tuple(r for r in rules.values()
                     if r.applies_to(state) and r.id not in pack["excluded"])
    in_force = state_citations(folder, state, in_force)
    return Pack(pack["id"], pack["version"], pack["title"], in_force, parameters, state,
                pack["excluded"], pack["timezone"])


def state_citations(folder: Path, state: str, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """Return the rules citing METRC's requirement and the state's table, nobody else's.

    The table (`citations.yaml`) must name every rule in force: with its citations, or
    with `none` and why, which the packet prints instead of borrowing another state's.
    """
    path = folder / CITATIONS_FILE
    if not path.exists():
        raise RuleInvalid(f"{folder}: no {CITATIONS_FILE}: every state pack needs its "
                          "citation table (rule id: citations, or none: why)")
    table = _validate(CitationTableSchema(), _read_yaml(path), str(path))
    if table["state"] != state:
        raise RuleInvalid(f"{path}: state {table['state']} where the pack is {state}")
    entries = table["rules"]
    missing = sorted({r.id for r in rules} - set(entries))
    if missing:
        raise RuleInvalid(f"{path}: no entry for {', '.join(missing)}: list its citations, "
                          "or write `none:` and why the state has none")
    cited = []
    for rule in rules:
        own = tuple(c for c in rule.citations if c.jurisdiction == METRC)
        found, why = _table_entry(entries[rule.id], state, table["source"],
                                  f"{path}: {rule.id}")
        cited.append(replace(rule, citations=own + found, uncited=why))
    return tuple(cited)


def cited_as(rule: Rule, seed: Rule | None, state: str) -> Rule:
    """Return a published version of a rule citing what the state's table gives the
    shipped one (its own file's citations are METRC's, as every rule file's)."""
    if seed is None:
        return replace(rule, uncited=f"the organization's own rule: {state}'s citation "
                                     "table has no entry for it")
    return replace(rule, citations=tuple(c for c in rule.citations if c.jurisdiction == METRC)
                   + tuple(c for c in seed.citations if c.jurisdiction == state),
                   uncited=seed.uncited)


def _table_entry(entry: Any, state: str, source: str,
                 where: str) -> tuple[tuple[Citation, ...], str | None]:
    """Return a table entry's citations (of `state`; where to read them: their own URL,
    else the table's `source`), or none and why."""
    if isinstance(entry, dict):
        return (), _validate(UncitedSchema(), entry, where)["none"]
    if not isinstance(entry, list) or not entry:
        raise RuleInvalid(f"{where}: expected a list of citations, or `none: why`")
    cited = [_validate(CitationSchema(), c, f"{where}.{i}") for i, c in enumerate(entry)]
    return tuple(Citation(c["regulation"], c["url"] or source, state) for c in cited), None


def state_packs(root: Path) -> list[str]:
    """Return the states that have a pack under root (from the folders, upper-case)."""
    return sorted(folder.name.upper() for folder in (root / "states").iterdir()
                  if (folder / PACK_FILE).exists())


def default_rules_dir() -> Path:
    """Return the rules folder of this checkout (AUDITOR_RULES_DIR overrides it)."""
    return Path(__file__).resolve().parents[2] / "rules"
