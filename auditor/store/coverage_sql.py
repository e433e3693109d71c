"""The full_count_interval template in SQL: counts recognised as full by what they cover.

The definition is `rules.coverage`'s (the packet's `services.count_coverage` reads the
same): a count (its lines' `reference`) is full when every package METRC had on hand
just before its first line was counted, or sold in METRC between its first and last
line. METRC's on-hand (`rules.language.ON_HAND`) is turned into *holdings*: for each
tag, the spans of time over which its running quantity stays above `coverage.EMPTY`
(window functions, one pass over the tag's events). A count then joins the holdings
that span its start, which is the set of packages it had to cover: no per-package
look-up of on-hand per count. Counts beginning after the cutoff are not considered.

The same query runs on SQLite, PostgreSQL and DuckDB (the analytical copy).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, select

from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.rules.coverage import EMPTY, LISTED
from auditor.rules.language import ON_HAND
from auditor.store.compiled_sql import FOUND, PENDING, Compiled
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, holds, instant


def full_count_interval(rule: Rule, license_id: int, license: License, dialect: str,
                        cutoff: Any) -> Compiled:
    """Select the first lines of full counts not followed by another full count within
    the interval (and those whose interval still runs at the cutoff: pending).

    A finding also carries the first full count that came after all (late, not missing)
    and the count of the interval that came closest to full, with what it left uncounted.
    """
    params = rule.params
    end = instant(cutoff, dialect)
    counts, missed = _per_count(license_id, license, dialect, end)
    full = select(counts).where(counts.c.on_hand_at_start > 0, counts.c.not_counted == 0) \
        .cte("full_counts")
    e = events.alias("e")
    ef = Fields(e, dialect, license)
    deadline = ef.due(params.deadline)
    after = full.alias("next_full")
    followed = exists().where(after.c.started > ef.time(), after.c.started <= deadline,
                              after.c.started <= end)
    came = (select(func.min(after.c.started)).where(after.c.started > ef.time(),
                                                    after.c.started <= end)
            .scalar_subquery().label("derived_follow_up_0"))
    triggers = e.join(full, full.c.first_id == e.c.id)
    closest = _closest(counts, params.hint, ef.time(), deadline)
    remedy = (select(after.c.first_id).where(after.c.started > ef.time(), after.c.started <= end)
              .order_by(after.c.started, after.c.first_id).limit(1).scalar_subquery()
              .label("derived_corrected_by_event"))
    unfollowed = (select(e, came, remedy, closest.label("derived_closest"),
                         case((deadline <= end, FOUND), else_=PENDING).label("outcome"))
                  .select_from(triggers).where(not_(followed)))

    def explained(query: Any) -> Any:
        inner = query.subquery("unfollowed")
        return select(inner, *_explained(counts, missed, inner.c.derived_closest),
                      *_remedied_by(inner.c.derived_corrected_by_event))

    pending = select(e).select_from(triggers).where(deadline > end, not_(followed))
    # The batch audit's one query (Compiled.together): the coverage of every count is
    # worked out once for the findings and the pending alike, not once for each.
    return Compiled(explained(unfollowed.where(deadline <= end)), pending,
                    together=explained(unfollowed))


def _closest(counts: Any, hint: str | None, since: Any, until: Any) -> Any:
    """Return the id of the count of (since, until] closest to full: one that began with
    packages on hand, named by the hint if any is, missing the fewest, the earliest."""
    c = counts.alias("candidate")
    named: ColumnElement[Any] = case((holds(c.c.count_id.regexp_match(hint)), 0), else_=1) \
        if hint else literal(1)
    return (select(c.c.count_id).where(c.c.started > since, c.c.started <= until)
            .order_by(case((c.c.on_hand_at_start > 0, 0), else_=1), named,
                      c.c.not_counted, c.c.started, c.c.count_id)
            .limit(1).scalar_subquery())


def _explained(counts: Any, missed: Any, count_id: Any) -> list[Any]:
    """Return the closest count's coverage as `derived_` columns (`coverage_sentence`)."""
    c = counts.alias("explained")
    of = [c.c.count_id == count_id]
    return [select(c.c.on_hand_at_start).where(*of).scalar_subquery()
            .label("derived_on_hand_at_start"),
            select(c.c.not_counted).where(*of).scalar_subquery().label("derived_not_counted"),
            select(func.aggregate_strings(missed.c.tag, ","))
            .where(missed.c.count_id == count_id, missed.c.rank <= LISTED)
            .scalar_subquery().label("derived_tags")]


def _remedied_by(event_id: Any) -> list[Any]:
    """Return the next full count's first line (type, reference, time) as the finding's
    corrective event (`store.correction_sql.CORRECTION`)."""
    line = events.alias("remedy")
    first = select(line.c.id).where(line.c.id == event_id)
    return [first.with_only_columns(column).scalar_subquery().label(f"derived_{name}")
            for name, column in (("corrected_by_type", line.c.type),
                                 ("corrected_by_reference", line.c.reference),
                                 ("corrected_at", line.c.occurred_at))]


def _per_count(license_id: int, license: License, dialect: str, end: Any) -> tuple[Any, Any]:
    """Return a CTE of every count begun by `end` (count_id, first_id: its first line,
    started, ended, on_hand_at_start, not_counted) and one of the packages each did not
    cover (count_id, tag, rank by tag)."""
    line = events.alias("line")
    lf = Fields(line, dialect, license)
    order = (lf.time(), line.c.id)
    lines = (select(line.c.id, line.c.reference.label("count_id"),
                    line.c.package_label.label("tag"), lf.time().label("t"),
                    func.row_number().over(partition_by=line.c.reference, order_by=order)
                    .label("rank"),
                    func.min(lf.time()).over(partition_by=line.c.reference).label("started"),
                    func.max(lf.time()).over(partition_by=line.c.reference).label("ended"),
                    # The same bounds as stored, which an index range on a tag's sale
                    # lines can use (SQLite's Julian days cannot: see _sold).
                    *(bound(line.c.occurred_at).over(partition_by=line.c.reference)
                      .label(name) for bound, name in ((func.min, "first_at"),
                                                      (func.max, "last_at"))))
             .where(line.c.license_id == license_id, line.c.type == "count_line",
                    line.c.reference.is_not(None))
             .cte("count_lines").prefix_with("MATERIALIZED"))
    begun = (select(lines.c.count_id, lines.c.id.label("first_id"), lines.c.started,
                    lines.c.ended, lines.c.first_at, lines.c.last_at)
             .where(lines.c.rank == 1, lines.c.started <= end)
             .cte("counts").prefix_with("MATERIALIZED"))
    held = _holdings(license_id, license, dialect)
    pairs = (select(begun.c.count_id, held.c.tag,
                    case((or_(_counted(lines, begun, held.c.tag),
                              _sold(license_id, license, dialect, begun, held.c.tag)), 0),
                         else_=1).label("missed"))
             .select_from(begun.join(held, and_(
                 held.c.held_from < begun.c.started,
                 or_(held.c.held_to.is_(None), held.c.held_to >= begun.c.started))))
             .cte("held_at_start").prefix_with("MATERIALIZED"))
    missed = (select(pairs.c.count_id, pairs.c.tag,
                     func.row_number().over(partition_by=pairs.c.count_id,
                                            order_by=pairs.c.tag).label("rank"))
              .where(pairs.c.missed == 1).cte("not_counted"))
    tally = (select(pairs.c.count_id, func.count().label("on_hand"),
                    func.sum(pairs.c.missed).label("missed"))
             .group_by(pairs.c.count_id).subquery("tally"))
    counts = (select(begun, func.coalesce(tally.c.on_hand, 0).label("on_hand_at_start"),
                     func.coalesce(tally.c.missed, 0).label("not_counted"))
              .select_from(begun.outerjoin(tally, tally.c.count_id == begun.c.count_id))
              .cte("coverage").prefix_with("MATERIALIZED"))
    return counts, missed


def _counted(lines: Any, begun: Any, tag: Any) -> ColumnElement[bool]:
    """Return whether the count has a line of the tag."""
    return exists().where(lines.c.count_id == begun.c.count_id, lines.c.tag == tag)


def _sold(license_id: int, license: License, dialect: str, begun: Any,
          tag: Any) -> ColumnElement[bool]:
    """Return whether METRC sold of the tag between the count's first and last line."""
    # Stored times against stored times: the index on (tag, type, time) then reads
    # only the sale lines within the count, not each of the tag's lines through
    # julianday() once per package the count had to cover.
    sale = events.alias("sold")
    return exists().where(sale.c.license_id == license_id, sale.c.type == "metrc_sale_line",
                          sale.c.package_label == tag,
                          sale.c.occurred_at >= begun.c.first_at,
                          sale.c.occurred_at <= begun.c.last_at)


def _holdings(license_id: int, license: License, dialect: str) -> Any:
    """Return a CTE of (tag, held_from, held_to): the spans over which METRC's running
    quantity of the tag stays above EMPTY; held_to is NULL for a span still open.

    The quantity just before an instant s is the balance after the tag's last event
    before s, so the tag is on hand at s when a span has held_from < s <= held_to. One
    pass over the tag's events gives each one's balance before and after it; the events
    where the package comes on hand or goes off it (few) bound the spans.
    """
    move = events.alias("move")
    mf = Fields(move, dialect, license)
    delta = case(*((and_(move.c.type == term.type, *_only(mf, term)),
                    term.sign * func.coalesce(mf[term.field], 0.0))
                   for term in ON_HAND["metrc"]), else_=0.0)
    moves = (select(move.c.package_label.label("tag"), move.c.id, mf.time().label("t"),
                    delta.label("delta"))
             .where(move.c.license_id == license_id, move.c.package_label.is_not(None),
                    move.c.type.in_(sorted({term.type for term in ON_HAND["metrc"]})))
             .subquery("moves"))
    ledger = select(moves, func.sum(moves.c.delta).over(
        partition_by=moves.c.tag, order_by=(moves.c.t, moves.c.id), rows=(None, 0))
        .label("after")).subquery("ledger")
    held = ledger.c.after > EMPTY
    was_held = ledger.c.after - ledger.c.delta > EMPTY  # the balance before the event
    turns = (select(ledger.c.tag, ledger.c.t, ledger.c.id, case((held, 1), else_=0)
                    .label("held")).where(or_(and_(held, not_(was_held)),
                                              and_(was_held, not_(held))))
             .subquery("turns"))
    spans = select(turns, func.lead(turns.c.t).over(
        partition_by=turns.c.tag, order_by=(turns.c.t, turns.c.id)).label("next_turn")) \
        .subquery("spans")
    return (select(spans.c.tag, spans.c.t.label("held_from"),
                   spans.c.next_turn.label("held_to")).where(spans.c.held == 1)
            .cte("holdings").prefix_with("MATERIALIZED"))


def _only(fields: Fields, term: Any) -> list[ColumnElement[bool]]:
    """Return the conditions an event must meet to count in an on-hand term."""
    clauses: list[ColumnElement[bool]] = []
    if term.only_if is not None:
        clauses.append(fields[term.only_if[0]] == term.only_if[1])
    if term.unless is not None:
        clauses.append(not_(holds(fields[term.unless] == True)))  # noqa: E712 - SQL
    return clauses
