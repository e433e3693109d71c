"""The durable-rules adapter: the only module that imports durable-rules.

A hardened host around durable-rules 2.0.28 (DESIGN §4). It runs no background
threads: actions only append the match to a buffer and the caller drains it. Every
call is checked for the exceptions durable-rules swallows into the returned state.
Every message gets a fresh id, and an id the engine claims to have seen (its
duplicate check compares a 32-bit hash) is retried under a new id, never treated as a
duplicate. Each session is opened with a message a rule completes, so deleting its
state later cannot hit the uninitialised-pointer crash. Ruleset names are process
global, so callers version them and this adapter refuses a name twice.

Exception tree::

    EngineError         an action failed, or the engine refused a message
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine  # the C core shipped with durable-rules
from durable.engine import (
    Host,
    MessageNotHandledException,
    MessageObservedException,
    Ruleset,
)

OPEN = "$open"  # the session-open message every ruleset completes first
ID_RETRIES = 8


class EngineError(RuntimeError):
    """An action failed inside durable-rules, or it refused a message."""


@dataclass(frozen=True, slots=True)
class Match:
    """One rule firing: the ruleset, the rule and the matched messages by alias."""

    ruleset: str
    rule: str
    messages: Mapping[str, Mapping[str, Any]]


class _QuietHost(Host):
    """A Host that starts no dispatch or timer threads: the worker drains explicitly."""

    def _run(self) -> None:
        # Start the stock dispatch timers as the stock host does, then stop them at once:
        # actions run only when the worker drains. (Measured here: `$not` patterns and
        # `$lte`/`$gt` comparisons against another alias's float segfault the C core at
        # random, so the rulesets built on this host correlate on key equality only.)
        super()._run()
        for timer in (self._d_timer, self._t_timer):
            timer.cancel()
            timer.join()


class RulesEngine:
    """Registers rulesets and feeds them typed facts and events, one thread, no timers."""

    def __init__(self) -> None:
        """Start an empty host."""
        self._host = _QuietHost()
        self._matches: list[Match] = []
        self._seq = 0
        self._live: dict[str, int] = {}
        self._opened: set[tuple[str, str]] = set()

    def register(self, name: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
        """Register ruleset `name` (a versioned, never reused name) with its rules."""
        if name in self._live:
            raise EngineError(f"ruleset {name!r} is already registered: version the name")
        definition = {rule: {**spec, "run": self._action(name, rule)}
                      for rule, spec in rules.items()}
        definition["r_open"] = {"all": [{"m": {"k": OPEN}}], "run": lambda c: None}
        self._host.register_rulesets({name: definition})
        self._live[name] = 0

    def _action(self, ruleset: str, rule: str) -> Any:
        matches = self._matches

        def action(c: Any) -> None:
            # Only append: an action running long wedges its session.
            matches.append(Match(ruleset, rule, dict(c._m)))
        return action

    def assert_fact(self, ruleset: str, sid: str, fact: dict[str, Any]) -> dict[str, Any]:
        """Assert a typed fact in a session; return it as stored (with its id), for retraction."""
        self._open(ruleset, sid)
        stored = self._call(ruleset, "assert_fact", {**fact, "sid": sid})
        self._live[ruleset] += 1
        return stored

    def retract_fact(self, ruleset: str, fact: dict[str, Any]) -> None:
        """Retract a fact exactly as assert_fact returned it."""
        self._submit(ruleset, "retract_fact", fact)
        self._live[ruleset] -= 1

    def post(self, ruleset: str, sid: str, event: dict[str, Any]) -> None:
        """Post a typed event in a session."""
        self._open(ruleset, sid)
        self._call(ruleset, "post", {**event, "sid": sid})

    def drain(self) -> list[Match]:
        """Run every queued action, then return and clear the matches found so far."""
        for name in self._live:
            self._run_queued(self._host.get_ruleset(name))
        found, self._matches[:] = list(self._matches), []
        return found

    def delete_sessions(self, ruleset: str) -> None:
        """Delete every session of a ruleset (each was opened, so this cannot crash)."""
        for name, sid in sorted(self._opened):
            if name == ruleset:
                self._host.delete_state(ruleset, sid)
                self._opened.discard((name, sid))
        self._live[ruleset] = 0

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
            message = {**message, "id": f"m{self._seq}"}
            try:
                self._submit(ruleset, method, message)
                return message
            except MessageObservedException:
                continue  # a 32-bit hash collision of a new id: try another id
        raise EngineError(f"durable-rules refused {ID_RETRIES} fresh ids for {message!r}")

    def _submit(self, ruleset: str, method: str, message: dict[str, Any]) -> None:
        try:
            state = getattr(self._host, method)(ruleset, message)
        except MessageNotHandledException:
            return  # no rule reads this message: nothing to keep
        except MessageObservedException:
            raise
        except Exception as error:
            raise EngineError(f"{method} on {ruleset} failed: {error}") from error
        _check(state, ruleset)

    def _run_queued(self, rules: Ruleset) -> None:
        while True:
            result = durable_rules_engine.start_action(rules._handle)
            if not result:
                return
            errors: list[Any] = []

            def complete(error: Any, state: Any, errors: list[Any] = errors) -> None:
                if error:
                    errors.append(error)
                _check(state, rules._name)
            rules._flush_actions(json.loads(result[0]), {"message": json.loads(result[1])},
                                 result[2], complete)
            if errors:
                raise EngineError(f"action in {rules._name} failed: {errors[0]}")


def _check(state: Any, ruleset: str) -> None:
    """Fail loudly on an exception durable-rules swallowed into the session state."""
    if isinstance(state, dict) and state.get("exception"):
        raise EngineError(f"action in {ruleset} failed: {state['exception']}")
