"""Marshmallow schemas of the API's requests and responses (they document the OpenAPI too)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from auditor.importers.profile import builtin_names
from auditor.importers.registry import FORMATS

MAX_PAGE = 500
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # the calendar the API accepts
IN_RANGE = f"must be between {FIRST_DAY} and {LAST_DAY}"


class Text(fields.String):
    """A string that must be valid Unicode: a lone surrogate cannot be stored or hashed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(f"is not valid Unicode text: a lone surrogate at character "
                                  f"{exc.start}") from None
        return text


def Day(**kwargs: Any) -> fields.Date:  # noqa: N802 - reads as a field class
    """Return a date field limited to the API's calendar (2000..2100)."""
    return fields.Date(validate=validate.Range(FIRST_DAY, LAST_DAY, error=IN_RANGE),
                       metadata={"description": f"a day from {FIRST_DAY} to {LAST_DAY}"},
                       **kwargs)


def Instant(**kwargs: Any) -> fields.AwareDateTime:  # noqa: N802 - reads as a field class
    """Return a zone-aware time field limited to the API's calendar (2000..2100)."""
    bounds = validate.Range(datetime.combine(FIRST_DAY, datetime.min.time(), UTC),
                            datetime.combine(LAST_DAY, datetime.max.time(), UTC),
                            error=IN_RANGE)
    return fields.AwareDateTime(validate=bounds, metadata={
        "description": f"a time with its UTC offset, from {FIRST_DAY} to {LAST_DAY}"}, **kwargs)


class PageArgs(Schema):
    """A page: at most MAX_PAGE items."""

    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))


class LicenseSchema(Schema):
    """A licensed facility."""

    number = Text(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"))
    state = Text(required=True, validate=validate.Length(equal=2))
    timezone = Text(required=True, validate=validate.Length(1, 64))
    business_name = Text(load_default="", validate=validate.Length(max=200))
    sales_floor_locations = fields.List(Text(validate=validate.Length(1, 200)),
                                        load_default=["Sales Floor"],
                                        validate=validate.Length(1, 50))
    vault_locations = fields.List(Text(validate=validate.Length(1, 200)),
                                  load_default=["Vault"], validate=validate.Length(0, 50))


class ImportArgs(Schema):
    """Which importer reads the upload."""

    format = Text(required=True, validate=validate.OneOf(sorted(FORMATS)))
    profile = Text(validate=validate.OneOf(builtin_names()),
                   metadata={"description": "read a POS export through a shipped profile"})


class UploadSchema(Schema):
    """The uploaded file (multipart field `file`)."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class RejectionSchema(Schema):
    """A record that was not imported."""

    line = fields.Integer(allow_none=True)
    reason = Text()


class ImportResultSchema(Schema):
    """What an upload did; `replayed` when an Idempotency-Key repeated an earlier upload."""

    import_id = fields.Integer(allow_none=True)
    source = Text()
    format = Text()
    license = Text()
    rows_read = fields.Integer()
    accepted = fields.Integer()
    duplicates = fields.Integer()
    rejected = fields.Integer()
    events_added = fields.Integer()
    rejections = fields.List(fields.Nested(RejectionSchema))
    ignored_fields = fields.List(Text())
    replayed = fields.Boolean()
    resumed_after = fields.List(fields.Integer(), metadata={
        "description": "imports of this key interrupted by a crash, now marked failed"})


class EventArgs(Schema):
    """Event filters and a page after an event id."""

    type = Text(validate=validate.Length(1, 40))
    tag = Text(validate=validate.Length(1, 64))
    start = Instant(data_key="from")
    end = Instant(data_key="to")
    after_id = fields.Integer(load_default=0, validate=validate.Range(0, 2**62))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))


class EventSchema(Schema):
    """A stored event."""

    id = fields.Integer()
    type = Text()
    occurred_at = fields.AwareDateTime()
    package_label = Text(allow_none=True)
    reference = Text(allow_none=True)
    source = Text()
    import_id = fields.Integer()
    payload = fields.Dict()


class EventPageSchema(Schema):
    """A page of events; pass next_after_id as after_id for the next one."""

    items = fields.List(fields.Nested(EventSchema))
    next_after_id = fields.Integer(allow_none=True)


class AuditArgs(Schema):
    """The period of a readiness audit, in the license's calendar (`to` inclusive)."""

    start = Day(required=True, data_key="from")
    end = Day(required=True, data_key="to")


class RunSummarySchema(Schema):
    """An audit run in a list."""

    id = Text()
    created_at = fields.AwareDateTime()
    period_start = fields.Date()
    period_end = fields.Date()
    pack_id = Text()
    pack_version = fields.Integer()
    readiness_score = fields.Integer()


class PreviousRunSchema(Schema):
    """The run a finding rate is compared with: the license's run before."""

    run_id = Text()
    readiness_score = fields.Integer()
    findings_per_1000_events = fields.Float(allow_none=True)


class ActivitySchema(Schema):
    """A run's finding rate: findings per 1,000 events of the period, in all and per rule,
    and its change since the previous run (None: no previous run, or no events)."""

    events = fields.Integer()
    findings_per_1000_events = fields.Float(allow_none=True)
    per_rule_per_1000_events = fields.Dict(keys=Text(), values=fields.Float(allow_none=True))
    previous = fields.Nested(PreviousRunSchema, allow_none=True)
    change = fields.Float(allow_none=True)


class RunSchema(Schema):
    """An audit run's report as produced (findings are read page by page).

    `activity` is absent from runs stored before the finding rate was recorded.
    """

    run_id = Text()
    license = Text()
    period = fields.Dict(keys=Text(), values=Text())
    pack = fields.Dict()
    readiness_score = fields.Integer()
    activity = fields.Nested(ActivitySchema)
    counts = fields.Dict()
    undetermined = fields.List(fields.Dict())  # events a rule could not judge


class FindingArgs(PageArgs):
    """Finding filters."""

    status = Text(validate=validate.OneOf(["open", "acknowledged", "resolved", "waived"]))
    rule = Text(validate=validate.Length(1, 64))
    severity = Text(validate=validate.OneOf(["critical", "high", "medium", "low", "info"]))
    tag = Text(validate=validate.Length(1, 64))
    start = Instant(data_key="from")
    end = Instant(data_key="to")


class WaiverSchema(Schema):
    """A waiver: why, and until when."""

    justification = Text(required=True, validate=validate.Length(1, 2000))
    expires_at = Instant(required=True)


class FindingFactsSchema(Schema):
    """What a rule found: the rule, when, what it concerns, why, and the evidence."""

    rule_id = Text()
    rule_version = fields.Integer()
    severity = Text()
    occurred_at = fields.AwareDateTime()
    package_label = Text(allow_none=True)
    subject = Text(allow_none=True)
    message = Text()
    evidence = fields.List(fields.Integer())


class FindingSchema(FindingFactsSchema):
    """A finding with its current status (an expired waiver reads as open)."""

    id = fields.Integer()
    run_id = Text()
    license = Text()
    identity = Text()
    status = Text()
    revision = fields.Integer()
    waiver = fields.Nested(WaiverSchema, allow_none=True)
    waiver_expired = fields.Boolean()
    note = Text()
    actor = Text()
    changed_at = fields.AwareDateTime()


class FindingPageSchema(Schema):
    """A page of findings; pass next_offset as offset for the next one."""

    items = fields.List(fields.Nested(FindingSchema))
    next_offset = fields.Integer(allow_none=True)


class StatusChangeSchema(Schema):
    """A status change: the new status, a note, and a waiver when waiving."""

    status = Text(required=True,
                  validate=validate.OneOf(["open", "acknowledged", "resolved", "waived"]))
    note = Text(required=True, validate=validate.Length(1, 2000))
    waiver = fields.Nested(WaiverSchema, load_default=None)


class ChangeSchema(Schema):
    """One recorded status change."""

    old_status = Text()
    new_status = Text()
    note = Text()
    actor = Text()
    changed_at = fields.AwareDateTime()
    waiver_justification = Text(allow_none=True)
    waiver_expires_at = fields.AwareDateTime(allow_none=True)


class RuleArgs(Schema):
    """Which state's pack."""

    state = Text(validate=validate.Regexp(r"^[A-Za-z]{2}$", error="must be a two-letter state"))


class RuleSchema(Schema):
    """A rule of the pack in force."""

    id = Text()
    title = Text()
    version = fields.Integer()
    severity = Text()
    template = Text()


class RuleDetailSchema(RuleSchema):
    """A rule version with its YAML."""

    yaml = Text()


class DraftSchema(Schema):
    """A rule draft: one rule file's YAML, as in rules/ (see rules/README.md)."""

    yaml = Text(required=True, validate=validate.Length(1, 100_000))


class BacktestArgs(DraftSchema, AuditArgs):
    """A draft and the period to backtest it over, in the license's calendar."""


class BacktestFindingSchema(FindingFactsSchema):
    """A finding as a backtest reports it."""


class ChangedFindingSchema(Schema):
    """A finding both versions report, differently."""

    before = fields.Nested(BacktestFindingSchema)
    after = fields.Nested(BacktestFindingSchema)


class BacktestSchema(Schema):
    """What a draft would add, remove and change against the published version."""

    rule_id = Text()
    published_version = fields.Integer(allow_none=True)
    draft_version = fields.Integer()
    added = fields.List(fields.Nested(BacktestFindingSchema))
    removed = fields.List(fields.Nested(BacktestFindingSchema))
    changed = fields.List(fields.Nested(ChangedFindingSchema))
    unchanged = fields.Integer()


class DiffArgs(Schema):
    """Two versions to compare."""

    old = fields.Integer(required=True, data_key="from", validate=validate.Range(1, 10**6))
    new = fields.Integer(required=True, data_key="to", validate=validate.Range(1, 10**6))


class DiffSchema(Schema):
    """A unified diff of two versions' YAML."""

    diff = Text()
