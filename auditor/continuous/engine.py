"""The durable-rules adapter: the only module that imports durable-rules.

A hardened host around durable-rules 2.0.28 (docs/durable-rules.md). It runs no background
threads. Rulesets are registered through the stock Host (which validates them), but
messages go straight to the C core and the matches a message completes are collected
right after it, in the same call: the stock Python action machinery (promises,
closures, a state round trip per match) cost more than the engine itself and is where
durable-rules swallows exceptions; here nothing runs inside the engine that could fail.
Every message gets a fresh id, and an id the engine claims to have seen (its
duplicate check compares a 32-bit hash) is retried under a new id, never treated as a
duplicate. Each session is opened with a message a rule completes, so deleting its
state later cannot hit the uninitialised-pointer crash. Ruleset names are process
global, so callers version them and this adapter refuses a name twice.

Exception tree::

    EngineError         the engine refused a message or failed on it
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine  # the C core shipped with durable-rules
from durable.engine import (
    Host,
    MessageObservedException,
)

OPEN = "$open"  # the session-open message every ruleset completes first
ID_RETRIES = 8
# The C core's answer codes (durable.engine.Ruleset._handle_result).
HANDLED, NOT_HANDLED, OBSERVED, QUEUED = 0, 1, 2, 3
_encode = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode
CORE_CALLS = {"post": durable_rules_engine.assert_event,
              "assert_fact": durable_rules_engine.assert_fact,
              "retract_fact": durable_rules_engine.retract_fact}


class EngineError(RuntimeError):
    """The engine refused a message or failed on it."""


@dataclass(frozen=True, slots=True)
class Match:
    """One rule firing: the ruleset, the rule and the matched messages by alias."""

    ruleset: str
    rule: str
    messages: Mapping[str, Mapping[str, Any]]


class _QuietHost(Host):
    """A Host that starts no dispatch or timer threads: matches are collected per call."""

    def _run(self) -> None:
        # Start the stock dispatch timers as the stock host does, then stop them at once.
        # (Measured here: `$not` patterns and `$lte`/`$gt` comparisons against another
        # alias's float segfault the C core at random, so the rulesets built on this
        # host correlate on key equality only.)
        super()._run()
        for timer in (self._d_timer, self._t_timer):
            timer.cancel()
            timer.join()


class RulesEngine:
    """Registers rulesets and feeds them typed facts and events, one thread, no timers."""

    def __init__(self) -> None:
        """Start an empty host."""
        self._host = _QuietHost()
        self._handles: dict[str, int] = {}
        self._matches: list[Match] = []
        self._seq = 0
        self._live: dict[str, int] = {}
        self._opened: set[tuple[str, str]] = set()

    def register(self, name: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
        """Register ruleset `name` (a versioned, never reused name) with its rules."""
        if name in self._live:
            raise EngineError(f"ruleset {name!r} is already registered: version the name")
        definition = {rule: {**spec, "run": _never_called} for rule, spec in rules.items()}
        definition["r_open"] = {"all": [{"m": {"k": OPEN}}], "run": _never_called}
        self._host.register_rulesets({name: definition})
        self._handles[name] = self._host.get_ruleset(name)._handle
        self._live[name] = 0

    def assert_fact(self, ruleset: str, sid: str, fact: dict[str, Any]) -> dict[str, Any]:
        """Assert a typed fact in a session; return it as stored (with its id), for retraction."""
        self._open(ruleset, sid)
        fact["sid"] = sid  # callers build each fact for this call alone
        stored = self._call(ruleset, "assert_fact", fact)
        self._live[ruleset] += 1
        return stored

    def retract_fact(self, ruleset: str, fact: dict[str, Any]) -> None:
        """Retract a fact exactly as assert_fact returned it."""
        self._submit(ruleset, "retract_fact", fact)
        self._live[ruleset] -= 1

    def post(self, ruleset: str, sid: str, event: dict[str, Any]) -> None:
        """Post a typed event in a session."""
        self._open(ruleset, sid)
        event["sid"] = sid  # callers build each event for this call alone
        self._call(ruleset, "post", event)

    def drain(self, ruleset: str | None = None) -> list[Match]:
        """Return and forget the matches found so far (of one ruleset, or all)."""
        if ruleset is None:
            found, self._matches = self._matches, []
            return found
        found = [m for m in self._matches if m.ruleset == ruleset]
        if found:
            self._matches = [m for m in self._matches if m.ruleset != ruleset]
        return found

    def delete_sessions(self, ruleset: str) -> None:
        """Delete every session of a ruleset (each was opened, so this cannot crash)."""
        for name, sid in sorted(self._opened):
            if name == ruleset:
                self._host.delete_state(ruleset, sid)
                self._opened.discard((name, sid))
        self._live[ruleset] = 0

    def facts(self, ruleset: str) -> int:
        """Return the number of facts a ruleset holds."""
        return self._live[ruleset]

    def working_memory(self) -> int:
        """Return the number of facts held across all rulesets."""
        return sum(self._live.values())

    def _open(self, ruleset: str, sid: str) -> None:
        if (ruleset, sid) not in self._opened:
            self._opened.add((ruleset, sid))
            self._call(ruleset, "post", {"k": OPEN, "sid": sid})

    def _call(self, ruleset: str, method: str, message: dict[str, Any]) -> dict[str, Any]:
        for _ in range(ID_RETRIES):
            self._seq += 1
            message["id"] = f"m{self._seq}"
            try:
                self._submit(ruleset, method, message)
                return message
            except MessageObservedException:
                continue  # a 32-bit hash collision of a new id: try another id
        raise EngineError(f"durable-rules refused {ID_RETRIES} fresh ids for {message!r}")

    def _submit(self, ruleset: str, method: str, message: dict[str, Any]) -> None:
        handle = self._handles[ruleset]
        try:
            code, state = CORE_CALLS[method](handle, _encode(message))
        except Exception as error:
            raise EngineError(f"{method} on {ruleset} failed: {error}") from error
        if code == OBSERVED:
            raise MessageObservedException(message)
        # A retraction completes no rule here (no `$not` patterns): nothing to collect.
        if code == HANDLED and method != "retract_fact":
            self._collect(ruleset, handle, state)

    def _collect(self, ruleset: str, handle: int, state: int) -> None:
        """Take every match the message completed, completing each action as it goes."""
        try:
            started = durable_rules_engine.start_action_for_state(handle, state)
            if not started:
                return
            pending = started[1]
            while pending:
                for rule, messages in json.loads(pending).items():
                    if rule != "r_open":
                        self._matches.append(Match(ruleset, rule, messages))
                # No action changes the session state, so it is not written back.
                pending = durable_rules_engine.complete_and_start_action(handle, state)
        except Exception as error:
            durable_rules_engine.abandon_action(handle, state)
            raise EngineError(f"completing a match in {ruleset} failed: {error}") from error


def _never_called(c: Any) -> None:
    """The action durable-rules requires per rule: matches are collected, not run."""
    raise AssertionError("durable-rules actions are collected by RulesEngine, never run")
