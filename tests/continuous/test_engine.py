"""The hardened durable-rules host: each hazard of docs/durable-rules.md it can provoke, handled."""

import threading

import pytest

from auditor.continuous import engine as engine_module
from auditor.continuous.engine import EngineError, RulesEngine

JOIN = {"joined": {"all": [{"e": {"k": "trig"}},
                           {"p": {"$and": [{"k": "prior"}, {"key": {"e": "key"}}]}}]}}


def test_a_ruleset_name_cannot_be_registered_twice():
    engine = RulesEngine()
    engine.register("dup.v1", JOIN)
    with pytest.raises(EngineError, match="version the name"):
        engine.register("dup.v1", JOIN)


def test_the_host_leaves_no_background_thread_running():
    before = threading.active_count()
    engine = RulesEngine()
    engine.register("threads.v1", JOIN)
    engine.post("threads.v1", "L1", {"k": "trig", "key": "a"})
    assert threading.active_count() == before


def test_matches_are_returned_only_when_drained():
    engine = RulesEngine()
    engine.register("drain.v1", JOIN)
    engine.assert_fact("drain.v1", "L1", {"k": "prior", "key": "a", "t": 1.0})
    engine.post("drain.v1", "L1", {"k": "trig", "key": "a", "eid": 7})
    engine.post("drain.v1", "L1", {"k": "trig", "key": "b", "eid": 8})
    found = engine.drain()
    assert [m.messages["e"]["eid"] for m in found] == [7]
    assert engine.drain() == []


def test_a_message_the_engine_cannot_take_fails_loudly():
    engine = RulesEngine()
    engine.register("untyped.v1", JOIN)
    with pytest.raises(EngineError, match="post on untyped.v1 failed"):
        engine.post("untyped.v1", "L1", {"k": "trig", "key": object()})


def test_every_match_a_message_completes_is_returned_with_that_call():
    engine = RulesEngine()
    engine.register("many.v1", JOIN)
    for t in range(3):
        engine.assert_fact("many.v1", "L1", {"k": "prior", "key": "a", "t": float(t)})
    engine.post("many.v1", "L1", {"k": "trig", "key": "a", "eid": 1})
    assert len(engine.drain("many.v1")) == 1  # an event is consumed by its first join
    engine.assert_fact("many.v1", "L1", {"k": "prior", "key": "b", "t": 0.0})
    engine.post("many.v1", "L1", {"k": "trig", "key": "b", "eid": 2})
    engine.post("many.v1", "L1", {"k": "trig", "key": "b", "eid": 3})
    assert [m.messages["e"]["eid"] for m in engine.drain()] == [2, 3]


def test_an_id_the_engine_claims_to_have_seen_is_retried_under_a_new_id(monkeypatch):
    engine = RulesEngine()
    engine.register("observed.v1", JOIN)
    real, calls = engine._submit, []

    def once_observed(ruleset, method, message):
        calls.append(message["id"])
        if len(calls) == 2:  # the first fact after the session-open message
            raise engine_module.MessageObservedException(message)
        return real(ruleset, method, message)
    monkeypatch.setattr(engine, "_submit", once_observed)
    stored = engine.assert_fact("observed.v1", "L1", {"k": "prior", "key": "a"})
    assert stored["id"] == calls[-1] != calls[-2]
    assert engine.working_memory() == 1


def test_sessions_are_opened_first_so_deleting_them_is_safe():
    engine = RulesEngine()
    engine.register("delete.v1", JOIN)
    engine.assert_fact("delete.v1", "L1", {"k": "prior", "key": "a"})
    engine.delete_sessions("delete.v1")
    engine.post("delete.v1", "L1", {"k": "trig", "key": "a", "eid": 1})
    assert engine.drain() == []  # the prior went with the session
    assert engine.working_memory() == 0


def test_retracted_facts_leave_working_memory():
    engine = RulesEngine()
    engine.register("retract.v1", JOIN)
    facts = [engine.assert_fact("retract.v1", "L1", {"k": "prior", "key": str(i)})
             for i in range(50)]
    assert engine.working_memory() == 50
    for fact in facts:
        engine.retract_fact("retract.v1", fact)
    assert engine.working_memory() == 0
    engine.post("retract.v1", "L1", {"k": "trig", "key": "3", "eid": 1})
    assert engine.drain() == []
