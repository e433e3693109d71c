"""The schemas rule and pack files must satisfy; every error names the rule and the field.

Unknown fields are refused at every level, so a typo never passes silently.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from auditor.domain.events import EVENT_FIELDS, EventType
from auditor.domain.rules import Severity, Template
from auditor.rules.language import COLUMNS as STORED
from auditor.rules.language import (
    COMPARISONS,
    DERIVED,
    NO_VALUE,
    OPERATORS,
    STATE_EVIDENCE,
    state_fields_given,
)

ID = validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", error="must be lower-case words joined by -")
EVENT_TYPES = [t.value for t in EventType]
# Stored beside the payload, or derived: local_date (the event's date in the license's
# zone) and on_hand (METRC's quantity of the package at the event's time).
COLUMNS = set(STORED) | set(DERIVED)


class Strict(Schema):
    """A schema that refuses unknown fields."""

    class Meta:  # noqa: D106 - marshmallow's options class
        unknown = RAISE


class ConditionSchema(Strict):
    """`field op value`; `field op other` compares two fields; `any: [...]` is an OR.

    A value of the form "@license.NAME" is taken from the license being audited
    (sales_floor_locations, vault_locations, state, timezone).
    """

    field = fields.String()
    op = fields.String(validate=validate.OneOf(OPERATORS))
    value = fields.Raw(allow_none=True)
    other = fields.String()
    tolerance = fields.Float(validate=validate.Range(min=0))
    shift = fields.String()  # an ISO 8601 duration added to `other` (a time field)
    any = fields.List(fields.Nested(lambda: ConditionSchema()), validate=validate.Length(min=2))
    label = fields.String(validate=validate.Length(min=1))  # a failure, in words

    @validates_schema
    def _value_fits_op(self, data: dict[str, Any], **_: Any) -> None:
        if "any" in data:
            if set(data) - {"label"} != {"any"}:
                raise ValidationError("any stands alone: a list of conditions", "any")
            return
        for name in ("field", "op"):
            if name not in data:
                raise ValidationError("Missing data for required field.", name)
        op, value = data["op"], data.get("value")
        if "shift" in data and "other" not in data:
            raise ValidationError("shift moves another field: give other", "shift")
        if "tolerance" in data and not ("other" in data and op in {"eq", "ne"}):
            raise ValidationError("tolerance goes with eq or ne and another field", "tolerance")
        if "other" in data:
            if op not in COMPARISONS or "value" in data:
                raise ValidationError(f"other works with {', '.join(COMPARISONS)} and no value",
                                      "other")
            return
        if op in NO_VALUE and "value" in data:
            raise ValidationError(f"{op} takes no value", "value")
        if op not in NO_VALUE and "value" not in data:
            raise ValidationError(f"{op} needs a value", "value")
        if op in {"in", "not_in"} and not isinstance(value, list | str):
            raise ValidationError(f"{op} needs a list (or a $parameter)", "value")
        if op == "length_between" and not (isinstance(value, list) and len(value) == 2):
            raise ValidationError("length_between needs [min, max]", "value")


class EventRefSchema(Strict):
    """Which events a rule looks at: types, narrowed by all `where` and any `where_any`."""

    type = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES + ["*"])),
                       required=True, validate=validate.Length(min=1))
    where = fields.List(fields.Nested(ConditionSchema), load_default=list)
    where_any = fields.List(fields.Nested(ConditionSchema), load_default=list)
    only_known_packages = fields.Boolean(load_default=False)  # skip tags METRC never listed
    first_per = fields.String(load_default=None, allow_none=True)  # one event per value


class MatchSchema(Strict):
    """A pair of fields that must be equal between the event and its counterpart."""

    event = fields.String(required=True)
    prior = fields.String(required=True)


class FieldCheckParams(Strict):
    """Every matching event must satisfy every `require` condition on its own fields.

    `finding_time` names the time field a finding is dated by (default: the event's).
    """

    event = fields.Nested(EventRefSchema, required=True)
    require = fields.List(fields.Nested(ConditionSchema), required=True,
                          validate=validate.Length(min=1))
    finding_time = fields.String(load_default=None, allow_none=True)
    message = fields.String(required=True)


class RequiresPriorParams(Strict):
    """Every matching event needs a counterpart with equal `match` fields.

    `when: before` wants the counterpart at or before the event (within `within`, if
    given); `when: ever` accepts one at any time, for "is known at all" rules.
    `in_force_by: F` wants it from the version in force: the counterparts sharing F's
    value with the latest one at or before the event (the earliest, if none is yet).
    """

    event = fields.Nested(EventRefSchema, required=True)
    prior = fields.Nested(EventRefSchema, required=True)
    match = fields.List(fields.Nested(MatchSchema), required=True,
                        validate=validate.Length(min=1))
    when = fields.String(load_default="before", validate=validate.OneOf(["before", "ever"]))
    within = fields.String(load_default=None, allow_none=True)
    in_force_by = fields.String(load_default=None, allow_none=True)
    message = fields.String(required=True)


class FollowUpMatchSchema(Strict):
    """A pair of fields that must be equal between the event and its follow-up."""

    event = fields.String(required=True)
    follow_up = fields.String(required=True)


class RequiresWithinParams(Strict):
    """Every matching event needs a later follow-up with equal `match` fields by a deadline.

    The follow-up's time is `follow_up_time` (a time field; the event time by default).
    With `each_of`, every group of conditions needs its own follow-up.
    """  # noqa: D205 - the schema's field comments say the rest

    event = fields.Nested(EventRefSchema, required=True)
    follow_up = fields.Nested(EventRefSchema, required=True)
    match = fields.List(fields.Nested(FollowUpMatchSchema), load_default=list)
    deadline = fields.String(required=True)
    follow_up_time = fields.String(load_default="occurred_at")
    strictly_after = fields.Boolean(load_default=False)  # the follow-up must be later
    date_by_deadline = fields.Boolean(load_default=False)  # date findings by the deadline
    license_level = fields.Boolean(load_default=False)  # findings concern no one package
    each_of = fields.List(fields.List(fields.Nested(ConditionSchema)), load_default=list)
    message = fields.String(required=True)
    # The message when every follow-up came, but after the deadline: late, not missing.
    late_message = fields.String(load_default=None)


class CompareSchema(Strict):
    """Two fields that must agree, numbers within a tolerance."""

    left = fields.String(required=True)
    right = fields.String(required=True)
    tolerance = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))


class SidesMatchSchema(Strict):
    """A pair of fields that identify the same thing on both sides."""

    left = fields.String(required=True)
    right = fields.String(required=True)


class ReconcileParams(Strict):
    """Where both sides record the same thing (equal `match` fields), `compare` must agree."""

    left = fields.Nested(EventRefSchema, required=True)
    right = fields.Nested(EventRefSchema, required=True)
    match = fields.List(fields.Nested(SidesMatchSchema), required=True,
                        validate=validate.Length(min=1))
    compare = fields.List(fields.Nested(CompareSchema), required=True,
                          validate=validate.Length(min=1))
    message = fields.String(required=True)


class StateAtTimeParams(Strict):
    """Each matching event must satisfy `require`, where `state.X` is what the latest
    evidence (of the `state_from` types) giving X said of the package at or before it
    (`rules.language.STATE_EVIDENCE`). An event of a package with no evidence at all is
    not judged: the audit counts it as undetermined."""

    event = fields.Nested(EventRefSchema, required=True)
    state_from = fields.List(fields.String(validate=validate.OneOf(sorted(STATE_EVIDENCE))),
                             load_default=lambda: ["package_snapshot"])
    require = fields.List(fields.Nested(ConditionSchema), required=True,
                          validate=validate.Length(min=1))
    message = fields.String(required=True)


class SourceSchema(Strict):
    """Events that add to (or take from) a running total; `from_start` ones count first."""

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    where = fields.List(fields.Nested(ConditionSchema), load_default=list)
    add = fields.String()
    subtract = fields.String()
    multiply_by = fields.String()  # e.g. state.unit_weight; a missing value counts as 1
    from_start = fields.Boolean(load_default=False)

    @validates_schema
    def _one_measure(self, data: dict[str, Any], **_: Any) -> None:
        if ("add" in data) == ("subtract" in data):
            raise ValidationError("give exactly one of add or subtract", "add")


class EquivalentSchema(Strict):
    """How much of a limit one kind of product uses: its measure divided by `per`.

    E.g. concentrate grams per 8, so 8 g of concentrate uses one whole ounce-equivalent.
    """

    where = fields.List(fields.Nested(ConditionSchema), load_default=list)
    multiply_by = fields.String()  # overrides the source's, e.g. state.unit_thc_content
    per = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))


class LimitSchema(Strict):
    """One running total: the sources' events narrowed by `where`, and its bound.

    With `equivalents`, each event counts by the equivalent its product matches (keep
    their `where`s disjoint), so unlike products share one limit.
    """

    name = fields.String(load_default="total")
    where = fields.List(fields.Nested(ConditionSchema), load_default=list)
    equivalents = fields.List(fields.Nested(EquivalentSchema), load_default=list)
    minimum = fields.Float(load_default=None, allow_none=True)
    maximum = fields.Float(load_default=None, allow_none=True)

    @validates_schema
    def _one_bound(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("minimum") is None) == (data.get("maximum") is None):
            raise ValidationError("give exactly one of minimum or maximum", "minimum")


class AggregateParams(Strict):
    """Running totals per group (e.g. per package, or per customer and day) stay in bounds.

    Each of `limits` is one running total over the sources' events that match its
    `where`; the event whose contribution takes it out of bounds is the finding, if its
    type is in `report`. `from_start` sources (e.g. the accepted quantity) count before
    all others; `state.X` in a source reads the package's latest snapshot.
    """

    sources = fields.List(fields.Nested(SourceSchema), required=True,
                          validate=validate.Length(min=1))
    group_by = fields.List(fields.String(), load_default=lambda: ["package_label"],
                           validate=validate.Length(min=1))
    limits = fields.List(fields.Nested(LimitSchema), required=True,
                         validate=validate.Length(min=1))
    report = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True)
    subject = fields.String(load_default=None, allow_none=True)  # field naming the subject
    license_level = fields.Boolean(load_default=False)  # findings concern no one package
    message = fields.String(required=True)


class FullCountIntervalParams(Strict):
    """After each full count the next by `deadline`; `hint`: see `rules.coverage`."""

    deadline = fields.String(required=True)
    hint = fields.String(load_default=None, allow_none=True)
    message = fields.String(required=True)
    late_message = fields.String(load_default=None)  # a full count came, after the deadline


class CitationSchema(Strict):
    """A regulation and where to read it."""

    regulation = fields.String(required=True)
    url = fields.Url(load_default=None, allow_none=True)


class CaseSchema(Strict):
    """A worked example: the events given and the findings expected."""

    name = fields.String(required=True)
    events = fields.List(fields.Dict(), required=True)
    expect = fields.List(fields.Dict(), required=True)


class RuleSchema(Strict):
    """A rule file."""

    id = fields.String(required=True, validate=ID)
    title = fields.String(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    severity = fields.String(required=True, validate=validate.OneOf([s.value for s in Severity]))
    # METRC's own requirements only: a state's citations are in its citation table.
    citations = fields.List(fields.Nested(CitationSchema), required=True)
    jurisdictions = fields.List(fields.String(), load_default=lambda: ["*"])
    effective_from = fields.Date(load_default=None, allow_none=True)
    effective_to = fields.Date(load_default=None, allow_none=True)
    description = fields.String(required=True)
    remediation = fields.String(required=True)
    template = fields.String(required=True, validate=validate.OneOf([t.value for t in Template]))
    params = fields.Dict(required=True)
    corrected_by = fields.Nested(lambda: CorrectionSchema(), load_default=None)  # see params
    cases = fields.List(fields.Nested(CaseSchema), load_default=list)


class CorrectionSchema(EventRefSchema):
    """What remedies a finding: the first such event after it, `match` fields equal."""
    match = fields.List(fields.Nested(FollowUpMatchSchema), load_default=list)


class UncitedSchema(Strict):
    """A citation table's entry for a rule the state has no provision for: why."""

    none = fields.String(required=True, validate=validate.Length(min=1))


class CitationTableSchema(Strict):
    """A state's citation table: for every rule in force, its citations or why none."""

    state = fields.String(required=True)
    source = fields.Url(required=True)
    rules = fields.Dict(keys=fields.String(validate=ID), values=fields.Raw(), required=True)


class PackSchema(Strict):
    """A pack file (pack.yaml): identity, what it extends, and its parameters."""

    id = fields.String(required=True, validate=ID)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = fields.String(required=True)
    state = fields.String(load_default=None, allow_none=True)
    timezone = fields.String(load_default=None, allow_none=True)  # the state's own zone
    extends = fields.String(load_default=None, allow_none=True)
    parameters = fields.Dict(load_default=dict)
    # Rules of the extended pack not in force here, each with the reason why.
    excluded = fields.Dict(keys=fields.String(validate=ID),
                           values=fields.String(validate=validate.Length(min=10)),
                           load_default=dict, data_key="exclude")


def _flat(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [leaf for c in conditions for leaf in (_flat(c["any"]) if "any" in c else [c])]


def _check_sources(params: dict[str, Any]) -> list[str]:
    problems = []
    for source in params.get("sources", []):
        known = COLUMNS | EVENT_FIELDS[EventType(source["type"])]
        names = [c["field"] for c in _flat(source["where"])]
        for limit in params["limits"]:
            conditions = limit["where"] + [c for e in limit["equivalents"] for c in e["where"]]
            names += [c["field"] for c in _flat(conditions)]
            names += [e["multiply_by"] for e in limit["equivalents"] if "multiply_by" in e]
        names += [source[k] for k in ("add", "subtract", "multiply_by") if k in source]
        names += params["group_by"]
        state = EVENT_FIELDS[EventType.PACKAGE_SNAPSHOT]
        problems += [f"sources: {source['type']} events have no field {n!r}"
                     for n in names if n not in known
                     and not (n.startswith("state.") and n[6:] in state)]
    return problems


def check_fields(params: dict[str, Any]) -> list[str]:
    """Return problems with field names that no event of the referenced types carries."""
    problems = _check_sources(params)
    for ref_name in ("event", "prior", "follow_up", "left", "right"):
        ref = params.get(ref_name)
        if not ref:
            continue
        types = ref["type"]
        known = COLUMNS | (set().union(*EVENT_FIELDS.values()) if "*" in types else
                           set().union(*(EVENT_FIELDS[EventType(t)] for t in types)))
        conditions = ref["where"] + ref["where_any"]
        conditions += params.get("require", []) if ref_name == "event" else []
        if ref_name == "follow_up":
            conditions += [c for group in params.get("each_of", []) for c in group]
        conditions = _flat(conditions)
        names = [c["field"] for c in conditions] + [c["other"] for c in conditions if "other" in c]
        if params.get("state_from") and ref_name == "event":
            given = state_fields_given(params["state_from"])
            problems += [f"state: {params['state_from']} evidence gives no field {n[6:]!r}"
                         for n in names if n.startswith("state.") and n[6:] not in given]
            names = [n for n in names if not n.startswith("state.")]
        names += [m[ref_name] for m in params.get("match", [])]
        names += [c[ref_name] for c in params.get("compare", [])]
        if ref_name == "follow_up":
            names.append(params["follow_up_time"])
        if ref_name == "event" and params.get("finding_time"):
            names.append(params["finding_time"])
        problems += [f"{ref_name}: {types} events have no field {name!r}"
                     for name in names if name not in known]
    return problems
