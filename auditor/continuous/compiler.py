"""Pick the program that runs a rule's template continuously, or say it cannot.

`PROGRAMS` holds each registered template's program (`rules.templates`); a rule that
reads a package's history (on-hand, or only tags METRC knows) or judges by a list in
force runs in the program that keeps that history.
"""

from __future__ import annotations

from collections.abc import Callable

from auditor.continuous.aggregates import Aggregate
from auditor.continuous.deadlines import RequiresWithin
from auditor.continuous.engine import RulesEngine
from auditor.continuous.full_counts import FullCountInterval
from auditor.continuous.ledger import ledger_program, reads_on_hand
from auditor.continuous.programs import FieldCheck, Program, RequiresPrior, Unsupported
from auditor.continuous.reconcile import Reconcile
from auditor.continuous.reference_lists import InForceBy
from auditor.continuous.states import StateAtTime
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import message_fields

Build = Callable[[Rule, License, RulesEngine], Program]
PROGRAMS: dict[Template, Build] = {Template.FIELD_CHECK: FieldCheck,
                                   Template.REQUIRES_PRIOR: RequiresPrior,
                                   Template.REQUIRES_WITHIN: RequiresWithin,
                                   Template.STATE_AT_TIME: StateAtTime,
                                   Template.RECONCILE: Reconcile,
                                   Template.AGGREGATE: Aggregate,
                                   Template.FULL_COUNT_INTERVAL: FullCountInterval}


def needs_history(rule: Rule) -> bool:
    """Return whether a rule reads on-hand (in a condition or its message), or
    (field_check, requires_within) only tags METRC knows."""
    known = rule.template in (Template.FIELD_CHECK, Template.REQUIRES_WITHIN) and \
        rule.params.event.only_known_packages
    return known or reads_on_hand(rule.spec) or "on_hand" in message_fields(rule.params.message)


def compile_rule(rule: Rule, license: License, engine: RulesEngine) -> Program:
    """Return the running program of a rule, or raise Unsupported."""
    if rule.template not in PROGRAMS:
        raise Unsupported(f"{rule.id}: template {rule.template.value} runs in batch only")
    if needs_history(rule):
        return ledger_program(rule, license, engine)
    if rule.template == Template.REQUIRES_PRIOR and rule.params.in_force_by:
        if rule.params.within is not None:
            raise Unsupported(f"{rule.id}: in_force_by with a within window")
        return InForceBy(rule, license, engine)
    return PROGRAMS[rule.template](rule, license, engine)
