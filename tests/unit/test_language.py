"""The rule language declares every field's kind, and its shared definitions hold."""

from auditor.domain.events import EVENT_FIELDS, EventType
from auditor.rules.language import (
    COLUMNS,
    DERIVED,
    ON_HAND,
    PAYLOAD_KINDS,
    Kind,
    kind_of,
    message_fields,
    on_hand_delta,
)


def test_every_event_field_has_a_declared_kind():
    fields = set().union(*EVENT_FIELDS.values())
    assert fields - PAYLOAD_KINDS.keys() == set(), "declare these fields' kinds"
    assert PAYLOAD_KINDS.keys() - fields == set(), "these declared fields no event carries"


def test_kinds_are_declared_not_guessed_from_names():
    assert kind_of("is_on_hold") is Kind.BOOLEAN
    assert kind_of("voided") is Kind.BOOLEAN
    assert kind_of("state.unit_weight") is Kind.NUMBER
    assert kind_of("expiration_date") is Kind.DATE
    assert kind_of("sold_at") is Kind.TIME
    assert kind_of("local_date") is Kind.DATE and kind_of("on_hand") is Kind.NUMBER
    assert kind_of("occurred_at") is Kind.TIME and kind_of("reference") is Kind.TEXT
    assert not set(COLUMNS) & set(DERIVED)


def test_on_hand_terms_name_real_fields():
    for terms in ON_HAND.values():
        for term in terms:
            assert term.field in EVENT_FIELDS[EventType(term.type)]
            assert kind_of(term.field) is Kind.NUMBER


def test_on_hand_delta_counts_accepted_receipts_adjustments_and_each_sides_sales():
    accepted = {"shipment_state": "Accepted", "received_quantity": 10}
    assert on_hand_delta("metrc", "manifest_package", accepted) == 10
    assert on_hand_delta("metrc", "manifest_package", {**accepted, "shipment_state": "Rejected"}) \
        is None
    assert on_hand_delta("pos", "adjustment", {"quantity": -2}) == -2
    assert on_hand_delta("metrc", "metrc_sale_line", {"quantity": 3}) == -3
    assert on_hand_delta("metrc", "pos_sale_line", {"quantity": 3}) is None
    assert on_hand_delta("pos", "pos_sale_line", {"quantity": 3}) == -3
    assert on_hand_delta("pos", "pos_sale_line", {"quantity": 3, "voided": True}) is None
    assert on_hand_delta("metrc", "adjustment", {"quantity": "three"}) is None


def test_message_fields_are_read_from_the_template():
    assert message_fields("{package_label} at {occurred_at} ({reason!r}), {on_hand}") == {
        "package_label", "occurred_at", "reason", "on_hand"}
