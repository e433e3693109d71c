"""The template registry: each rule template declared once, with what every part needs.

A template is its name, the schema a rule file's `params` must satisfy, the typed
parameters those params become, and its cost rank (the batch audit starts the costly
ones first, so its threads finish together). The evaluation backends implement each
registered template under the same name: the SQL compiler in `store.rules_sql.COMPILERS`,
the continuous program in `continuous.compiler.PROGRAMS`; `tests/unit/test_templates.py`
fails when a registered template lacks either, or a backend implements an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from auditor.domain.errors import InvalidInput
from auditor.domain.rules import Template
from auditor.rules import coverage, params, schema


@dataclass(frozen=True)
class TemplateSpec:
    """One template: its schema, its typed parameters and its cost rank (higher: costlier)."""

    template: Template
    schema: type[Schema]
    params: type
    cost: int


TEMPLATES: dict[Template, TemplateSpec] = {spec.template: spec for spec in (
    TemplateSpec(Template.FIELD_CHECK, schema.FieldCheckParams, params.FieldCheckParams, 1),
    TemplateSpec(Template.REQUIRES_PRIOR, schema.RequiresPriorParams,
                 params.RequiresPriorParams, 2),
    TemplateSpec(Template.REQUIRES_WITHIN, schema.RequiresWithinParams,
                 params.RequiresWithinParams, 3),
    TemplateSpec(Template.RECONCILE, schema.ReconcileParams, params.ReconcileParams, 4),
    TemplateSpec(Template.STATE_AT_TIME, schema.StateAtTimeParams,
                 params.StateAtTimeParams, 5),
    TemplateSpec(Template.AGGREGATE, schema.AggregateParams, params.AggregateParams, 6),
    TemplateSpec(Template.FULL_COUNT_INTERVAL, schema.FullCountIntervalParams,
                 coverage.FullCountIntervalParams, 7),
)}


def template_spec(template: Template) -> TemplateSpec:
    """Return a template's declaration, or say which templates exist."""
    try:
        return TEMPLATES[template]
    except KeyError:
        raise InvalidInput(f"template {template} is not registered; registered: "
                           f"{', '.join(sorted(TEMPLATES))}") from None
