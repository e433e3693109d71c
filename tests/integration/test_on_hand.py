"""One on-hand: the rules (SQL), the continuous ledger and the reports' ledger agree.

On-hand is defined once (`rules.language.ON_HAND`); each of the three readers of it is
replayed over every rule case and over a generated store, and must give the same METRC
(and, for the SQL and the reports, POS) quantity of every package at every event.
"""

from datetime import UTC, datetime
from itertools import groupby

import pytest
from sqlalchemy import select

from auditor.bootstrap import open_store
from auditor.continuous.ledger import Ledger as ContinuousLedger
from auditor.domain.events import EventType, StreamEvent
from auditor.sample import StoreSpec, generate_store
from auditor.services.demo import load_sample_store
from auditor.services.ledger import Ledger as ReportLedger
from auditor.store.report_queries import SqlActivityLog
from auditor.store.schema import events, licenses
from auditor.store.sql_fields import Fields
from tests.integration.test_rule_cases import CASES, load_case

END = datetime(2100, 1, 1, tzinfo=UTC)


def sql_on_hand(store, license):
    """Return {event id: (METRC, POS)} as the rules' SQL works it out."""
    e = events.alias("e")
    fields = Fields(e, store.engine.dialect.name, license)
    query = (select(e.c.id, fields.on_hand("metrc"), fields.on_hand("pos"))
             .join(licenses, licenses.c.id == e.c.license_id)
             .where(licenses.c.number == license.number, e.c.package_label.is_not(None)))
    with store.engine.connect() as conn:
        return {row[0]: (float(row[1]), float(row[2])) for row in conn.execute(query)}


def replayed_on_hand(store, license):
    """Return {event id: (continuous METRC, reports' METRC, reports' POS)}.

    Every event of an instant is taken in before any is read: on-hand at an event
    counts the events at or before it.
    """
    logged = SqlActivityLog(store.engine).events(license.number, list(EventType), None, END)
    continuous, reports, found = ContinuousLedger(), ReportLedger(), {}
    for _, instant in groupby(logged, key=lambda event: event.occurred_at):
        group = list(instant)
        for event in group:
            continuous.take(StreamEvent(event.id, event.type.value, event.occurred_at,
                                        event.package_label, event.reference, event.payload))
            reports.apply(event)
        for event in group:
            if event.package_label is not None:
                package = reports.state(event.package_label)
                found[event.id] = (continuous(event.package_label), package.metrc, package.pos)
    return found


def assert_agree(store, license):
    in_sql, replayed = sql_on_hand(store, license), replayed_on_hand(store, license)
    assert in_sql.keys() == replayed.keys()
    for event_id, (metrc, pos) in in_sql.items():
        continuous, report_metrc, report_pos = replayed[event_id]
        assert metrc == pytest.approx(continuous) == pytest.approx(report_metrc), event_id
        assert pos == pytest.approx(report_pos), event_id


@pytest.mark.parametrize(("license", "rule", "case"), CASES,
                         ids=[f"{lic.state} {r.id}: {c.name}" for lic, r, c in CASES])
def test_the_three_on_hands_agree_on_every_rule_case(sql_store, license, rule, case):
    load_case(sql_store, license, case)
    assert_agree(sql_store, license)


def test_the_three_on_hands_agree_on_a_generated_store(sql_settings, tmp_path):
    truth = generate_store(tmp_path / "store", StoreSpec(days=6, receipts_per_day=25, seed=3))
    store = open_store(sql_settings, migrate=True)
    load_sample_store(store, tmp_path / "store")
    assert_agree(store, store.get_license(truth["spec"]["license_number"]))
    store.engine.dispose()
