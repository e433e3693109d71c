"""Pick the program that runs a rule's template continuously, or say it cannot."""

from __future__ import annotations

from auditor.continuous.deadlines import RequiresWithin
from auditor.continuous.engine import RulesEngine
from auditor.continuous.programs import FieldCheck, Program, RequiresPrior, Unsupported
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template

PROGRAMS: dict[Template, type[Program]] = {Template.FIELD_CHECK: FieldCheck,
                                           Template.REQUIRES_PRIOR: RequiresPrior,
                                           Template.REQUIRES_WITHIN: RequiresWithin}


def compile_rule(rule: Rule, license: License, engine: RulesEngine) -> Program:
    """Return the running program of a rule, or raise Unsupported."""
    if rule.template not in PROGRAMS:
        raise Unsupported(f"{rule.id}: template {rule.template.value} runs in batch only")
    return PROGRAMS[rule.template](rule, license, engine)
