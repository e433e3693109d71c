"""Settle a license's standing findings on the batch audit's verdicts, as events arrive.

The batch compilers are the reference: after each batch of new events the worker asks
them, for every rule, about the triggers those events can affect (`Scope`), and makes
the standing findings agree: what they find is raised, what they no longer find is
withdrawn. Arrival order and restarts therefore cannot change where the findings end.

A finding is *pending* (neither raised nor refuted) while a source that could still
refute it is behind: a missing-prior finding while the prior's event types have no
stored event at or after the trigger, a deadline finding while the follow-up's types
have none at or after the deadline. `--until` closes the period: every source is then
taken to have reported up to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor.continuous.evaluator import REFERENCE_TYPES
from auditor.domain.findings import Violation, explain, identity_of
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule, Template
from auditor.services.worker_ports import Marks, Scope, Withdrawal, WorkerStore, Written

# Deadlines may be a local time on a later day; two days cover any DST or day boundary.
REACH_MARGIN = timedelta(days=2)


@dataclass(frozen=True)
class Clock:
    """What the store holds for a license: per event type, the latest event time."""

    latest: dict[str, datetime] = field(default_factory=dict)

    def of(self, types: Sequence[str]) -> datetime | None:
        """Return how far the sources of these event types have reported (None: never)."""
        times = [self.latest[t] for t in types if t in self.latest]
        return max(times) if times else None

    def now(self) -> datetime | None:
        """Return the event-time clock: the latest activity stored (lists excluded)."""
        times = [t for kind, t in self.latest.items() if kind not in REFERENCE_TYPES]
        return max(times) if times else None

    def advanced(self, arrived: Marks) -> Clock:
        """Return the clock after events of these spans were stored."""
        latest = dict(self.latest)
        for kind, span in arrived.items():
            if kind not in latest or span.last > latest[kind]:
                latest[kind] = span.last
        return Clock(latest)


@dataclass
class Settled:
    """What a settle decided: findings to raise and to withdraw, and how many wait."""

    written: list[Written | Withdrawal] = field(default_factory=list)
    pending: int = 0


# Templates of obligations with a deadline, and the event types that meet them.
DEADLINES = (Template.REQUIRES_WITHIN, Template.FULL_COUNT_INTERVAL)


def counterparts(rule: Rule) -> tuple[str, ...]:
    """Return the event types whose later arrival could refute a finding of the rule."""
    if rule.template is Template.REQUIRES_PRIOR:
        return tuple(rule.params.prior.type)
    if rule.template is Template.REQUIRES_WITHIN:
        return tuple(rule.params.follow_up.type)
    if rule.template is Template.FULL_COUNT_INTERVAL:
        return ("count_line",)  # the next full count's lines
    return ()


def reach(rule: Rule) -> timedelta:
    """Return how far back in time a new event can change the rule's verdict on a trigger
    of another key (a follow-up meeting an earlier deadline, a prior within a window)."""
    if rule.template in DEADLINES:
        return rule.params.deadline.after + REACH_MARGIN
    if rule.template is Template.REQUIRES_PRIOR and rule.params.within is not None:
        return rule.params.within + REACH_MARGIN
    return REACH_MARGIN


def due(rule: Rule, occurred_at: datetime) -> datetime:
    """Return when the source of the rule's counterparts must have reported to decide a
    trigger that occurred at this time (a finding dated by its deadline: at that time)."""
    if rule.template in DEADLINES and not getattr(rule.params, "date_by_deadline", False):
        return occurred_at + rule.params.deadline.after
    return occurred_at


def is_pending(rule: Rule, occurred_at: datetime, clock: Clock) -> bool:
    """Return whether a source that could refute a finding of this trigger is behind."""
    types = counterparts(rule)
    if not types:
        return False
    reported = clock.of(types)
    return reported is None or reported < due(rule, occurred_at)


def judged_at(rule: Rule, clock: Clock) -> datetime | None:
    """Return the cutoff a deadline rule is judged at: the clock, or the follow-up's
    source if it is behind (None: that source never reported, nothing is decidable)."""
    now = clock.now()
    if rule.template not in DEADLINES or now is None:
        return now
    reported = clock.of(counterparts(rule))
    return None if reported is None else min(now, reported)


def unaffected(rule: Rule, reads: frozenset[str] | None, arrived: Marks,
               before: Clock) -> bool:
    """Return whether the new events cannot change any verdict of the rule: it reads none
    of their types, and (a deadline rule) the cutoff it is judged at did not move."""
    if reads is None or any(t in reads or t in counterparts(rule) for t in arrived):
        return False
    if rule.template not in DEADLINES:
        return True
    return judged_at(rule, before) == judged_at(rule, before.advanced(arrived))


def counts_unaffected(rule: Rule, arrived: Marks, before: Clock) -> bool:
    """Return whether new events cannot change a full count rule's verdicts: no count
    line among them, so its cutoff (how far the counts have reported) stands still and
    no count is added, and every one later than every stored count line, since a count's
    coverage reads only what happened up to its last line. A day's sales after the
    night's count then cost no re-judge of the whole history's coverage."""
    if rule.template is not Template.FULL_COUNT_INTERVAL:
        return False
    counted = before.of(counterparts(rule))
    if counted is None or any(kind in arrived for kind in counterparts(rule)):
        return False
    return all(span.first > counted for kind, span in arrived.items()
               if kind not in REFERENCE_TYPES)


def scope_of(rule: Rule, after: int, upto: int, arrived: Marks, before: Clock,
             closing: datetime | None, whole: bool,
             triggers: frozenset[int] = frozenset(),
             reads: frozenset[str] | None = None) -> Scope | None:
    """Return the triggers of the rule that events with ids in (after, upto] can affect.

    Everything, when nothing was stored before them (a first catch-up), when asked, or
    when a reference list the rule reads arrived; None when they cannot change any of
    its verdicts (`reads`: the event types its verdicts depend on, None for any).
    """
    reads_lists = any(t in REFERENCE_TYPES for t in counterparts(rule))
    if whole or not before.latest or (reads_lists and any(t in REFERENCE_TYPES for t in arrived)):
        return Scope(after, upto, None, True)
    if closing is None and not triggers and (unaffected(rule, reads, arrived, before)
                                             or counts_unaffected(rule, arrived, before)):
        return None
    starts = [span.first for kind, span in arrived.items() if kind not in REFERENCE_TYPES]
    moved = [t for t in counterparts(rule) if t in arrived] if closing is None \
        else list(counterparts(rule))
    for kind in moved:  # its pending findings from its old mark on may now be decidable
        if kind not in before.latest:
            return Scope(after, upto, None, True)
        starts.append(before.latest[kind])
    now = before.now()
    if now is not None and (arrived or closing is not None):
        starts.append(now)  # the clock moved: deadlines it passed fall due
    since = min(starts) - reach(rule) if starts else None
    if since is None:
        return Scope(after, upto, None, False, triggers)
    by_time, keys, forward = admits(rule, arrived)
    keys_from = min(span.first for span in arrived.values()) if forward and arrived else None
    return Scope(after, upto, since if by_time else None, False, triggers, keys, keys_from)


def admits(rule: Rule, arrived: Marks) -> tuple[bool, tuple[str, ...], bool]:
    """Return which triggers new events can change beyond themselves: those in time
    (from `since` on), those sharing a key (package tag, reference: the keys named) with
    them, and whether those of a key can change only from the earliest new event on.

    A state rule judges a trigger by its package's evidence up to it: only triggers of
    the new events' tags, from the earliest of them on, can change. An aggregate's
    running total at a trigger sums its group's events up to it (each amount reading
    the package's state up to it), but `from_start` sources count whatever their time:
    grouped by package tag, the new events' tags cover every change (from the earliest
    new event on unless a `from_start` source arrived; a group of no tag is no group);
    otherwise, without `from_start` sources, the triggers after the new events, which
    `since` admits. A full count's verdict reads what the store held and sold from its
    own start to its deadline's next count, whatever the tags: an event changes those of
    counts begun up to the reach before it and later, which `since` admits; a shared tag
    adds nothing (and each key query recomputed the year's coverage). Other templates
    read across time (a prior within a window, a deadline the clock passed) and across
    the keys `shared_keys` names.
    """
    if rule.template is Template.STATE_AT_TIME:
        return False, (PACKAGE,), True
    if rule.template is Template.FULL_COUNT_INTERVAL:
        return True, (), False
    if rule.template is not Template.AGGREGATE:
        # A reference list's own events may lie before `since` (it is taken from the
        # activity alone): with one among the new events, both keys admit it, as before.
        listed = any(kind in REFERENCE_TYPES for kind in arrived)
        return True, KEYS if listed else shared_keys(rule, arrived), False
    early = any(source.from_start and source.type in arrived for source in rule.params.sources)
    if PACKAGE in rule.params.group_by:
        return False, (PACKAGE,), not early
    return True, KEYS if any(source.from_start for source in rule.params.sources) else (), False


PACKAGE, REFERENCE = "package_label", "reference"
KEYS = (PACKAGE, REFERENCE)  # the keys a scope can admit triggers by (indexed columns)


def shared_keys(rule: Rule, arrived: Marks) -> tuple[str, ...]:
    """Return the keys through which a new event can change the verdict on a trigger other
    than itself (field_check, requires_prior, requires_within, reconcile).

    Such a verdict reads other events in two ways only. Through `match`: a counterpart
    counts only if every match field equals the trigger's, so a new counterpart changes
    only triggers sharing its reference when the reference is matched (its package tag
    otherwise); the same for the rule's corrective event (`corrected_by`) when one
    arrived, which remedies the finding. Through facts of the trigger's package
    (`on_hand`, `only_known_packages`, the first event per tag): those read the
    package's own events. A field_check without
    package facts reads the trigger alone, which `since` admits. Anything else (a match
    on other fields, none at all, the first per another field): both keys, as before.
    """
    named = list(_walk(rule.params))
    first = {value for name, value in named if name == "first_per" and value}
    if first - set(KEYS):
        return KEYS
    keys = set(first)
    if any((name == "only_known_packages" and value is True) or value == "on_hand"
           for name, value in named):  # on_hand in a condition, a comparison, anywhere
        keys.add(PACKAGE)
    matches = [rule.params.match] if rule.template is not Template.FIELD_CHECK else []
    if any(kind in arrived for kind in remedy_types(rule)):  # a corrective event came
        matches.append(rule.corrected_by.match)
    for match in matches:
        key = _matched_key(match)
        if key is None:
            return KEYS
        keys.add(key)
    return tuple(k for k in KEYS if k in keys)


def _matched_key(match: Any) -> str | None:
    """Return the key a counterpart must share with its trigger under these match pairs
    (the reference when matched, else the package tag), or None when neither is."""
    pairs = [set(astuple(m)) for m in match]
    if {REFERENCE} in pairs:
        return REFERENCE
    return PACKAGE if {PACKAGE} in pairs else None


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield every (attribute, value) pair of a rule's parameters, nested ones too."""
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            inner = getattr(value, f.name)
            yield f.name, inner
            yield from _walk(inner)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _walk(item)


def settle(store: WorkerStore, license_id: int, license: License, pack: Pack,
           pack_hash: str, scopes: dict[str, Scope | None], clock: Clock,
           closing: datetime | None = None) -> Settled:
    """Re-judge each rule's scope from the store and diff with the standing findings."""
    settled = Settled()
    now = clock.now()
    if now is None:
        return settled
    zone = license.zone()
    for rule in pack.rules:
        scope = scopes.get(rule.id)
        if scope is None:
            continue
        cutoff = closing or judged_at(rule, clock)
        if cutoff is None:
            continue  # no follow-up source yet: every obligation is pending
        violations, waiting = store.judge(license_id, license, rule, cutoff, scope)
        found = {identity_of(rule, v): v for v in violations}
        standing = store.standing(license_id, rule.id, scope)
        for identity, violation in found.items():
            remedied = remedied_at(violation)
            held = standing.get(identity)
            if held is not None and (remedied is None or held.status == "remedied"):
                continue
            if held is None and closing is None and is_pending(rule, violation.occurred_at,
                                                                 clock):
                settled.pending += 1
                continue
            settled.written.append(Written(
                license_id, "open" if remedied is None else "remedied",
                explain(rule, violation, zone), pack.id, pack_hash, remedied))
        settled.written += [Withdrawal(license_id, identity)
                            for identity, held in standing.items()
                            if identity not in found and held.trigger not in waiting]
    return settled


def remedy_types(rule: Rule) -> frozenset[str]:
    """Return the event types of the rule's corrective event (none without one)."""
    return frozenset(rule.corrected_by.event.type) if rule.corrected_by is not None \
        else frozenset()


def remedied_at(violation: Violation) -> datetime | None:
    """Return when the batch verdict's remedy came (`corrected_at`: the rule's corrective
    event, a late follow-up or prior), or None: a finding with one is remedied, as the
    audit and the packet name it, not open."""
    at = violation.fields.get("corrected_at")
    if isinstance(at, str):
        return datetime.fromisoformat(at)
    return at if isinstance(at, datetime) else None
