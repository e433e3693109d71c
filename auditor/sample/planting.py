"""Plan where planted violations go and plant them; every act records its ground truth.

Each rule gets max(1, days // 30) instances spread over the run. Acts that leave METRC and the
shelf apart for a while avoid days near a full count, and acts on a manifest each get their own
weekday delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import acts_receiving, acts_sales, acts_stock
from .clock import DAY
from .routine import FULL_COUNT, FULL_COUNT_EVERY

if TYPE_CHECKING:
    from .simulation import Sim

RULE_IDS = (
    "transfer-before-move", "adjustment-reason-valid", "adjustment-note-required",
    "manifest-package-unscanned", "manifest-package-unlisted", "manifest-quantity-mismatch",
    "manifest-acceptance-late", "pos-sale-unreported", "metrc-sale-without-pos",
    "sale-quantity-mismatch", "count-variance", "count-variance-unadjusted", "loss-not-notified",
    "sale-unsellable-package", "sale-outside-sales-floor", "activity-before-acceptance",
    "untracked-package", "package-oversold", "purchase-limit-exceeded", "reconciliation-overdue",
    "tag-invalid",
)
RECONCILE_DAYS = 30
PLANTED_GAPS = (31, 31, 28)  # two overdue reconciliations in every three cycles
# Acts that leave METRC and the shelf apart until a later day; no full count may fall inside.
_APART = {"pos-sale-unreported", "sale-quantity-mismatch", "count-variance",
          "count-variance-unadjusted"}
Act = Callable[["Sim", int, int], None]
_ACTS: dict[str, tuple[Act, bool]] = {
    "transfer-before-move": (acts_stock.transfer_before_move, False),
    "adjustment-reason-valid": (acts_stock.adjustment_reason_valid, False),
    "adjustment-note-required": (acts_stock.adjustment_note_required, False),
    "manifest-package-unscanned": (acts_receiving.package_unscanned, True),
    "manifest-package-unlisted": (acts_receiving.package_unlisted, True),
    "manifest-quantity-mismatch": (acts_receiving.quantity_mismatch, True),
    "manifest-acceptance-late": (acts_receiving.acceptance_late, True),
    "pos-sale-unreported": (acts_sales.pos_sale_unreported, False),
    "metrc-sale-without-pos": (acts_sales.metrc_sale_without_pos, False),
    "sale-quantity-mismatch": (acts_sales.sale_quantity_mismatch, False),
    "count-variance": (acts_stock.count_variance, False),
    "count-variance-unadjusted": (acts_stock.count_variance_unadjusted, False),
    "loss-not-notified": (acts_stock.loss_not_notified, False),
    "sale-unsellable-package": (acts_sales.sale_unsellable_package, False),
    "sale-outside-sales-floor": (acts_sales.sale_outside_sales_floor, False),
    "activity-before-acceptance": (acts_receiving.activity_before_acceptance, True),
    "untracked-package": (acts_sales.untracked_package, False),
    "package-oversold": (acts_sales.package_oversold, False),
    "purchase-limit-exceeded": (acts_sales.purchase_limit_exceeded, False),
    "tag-invalid": (acts_receiving.tag_invalid, False),
}


def full_count_days(days: int, plant: bool) -> list[int]:
    """Return the days with a full count: every 28 days, or stretched past 30 when planting."""
    gaps = PLANTED_GAPS if plant else (FULL_COUNT_EVERY,)
    result = [0]
    while result[-1] + gaps[(len(result) - 1) % len(gaps)] < days:
        result.append(result[-1] + gaps[(len(result) - 1) % len(gaps)])
    return result


class NoPlanter:
    """Plant nothing: the clean store."""

    def schedule_day(self, sim: Sim, day: int) -> None:
        """Do nothing."""


class Planter:
    """Decide the day of every planted act and set each one going on its day."""

    def __init__(self, sim: Sim) -> None:
        self.days = sim.spec.days
        self.full_days = sim.full_count_days
        self._deliveries_taken: set[int] = set()
        self._weekday = sim.clock.weekday
        self.plan: dict[int, list[tuple[str, int]]] = {}
        self._make_plan()
        self._record_overdue(sim)

    def _make_plan(self) -> None:
        per_rule = max(1, self.days // 30)
        planted = [rule for rule in RULE_IDS if rule in _ACTS]
        for k, rule in enumerate(planted):
            for i in range(per_rule):
                want = int((i + (k + 1) / (len(planted) + 1)) * self.days / per_rule)
                day = self._find_day(rule, i, want)
                if day is not None:
                    self.plan.setdefault(day, []).append((rule, i))

    def _find_day(self, rule: str, i: int, want: int) -> int | None:
        for step in range(2 * self.days):
            day = want + (step + 1) // 2 * (1 if step % 2 else -1)
            if self.fits(rule, i, day):
                if self._needs_delivery(rule, i):
                    self._deliveries_taken.add(day)
                return day
        return None

    @staticmethod
    def _needs_delivery(rule: str, i: int) -> bool:
        return _ACTS[rule][1] or (rule == "tag-invalid" and i % 2 == 0)

    def fits(self, rule: str, i: int, day: int) -> bool:
        """Say whether an act of a rule can go on a day."""
        if not 1 <= day <= self.days - 3:
            return False
        if rule in _APART and any(d in self.full_days for d in range(day - 1, day + 3)):
            return False
        if self._needs_delivery(rule, i):
            return self._weekday(day) < 5 and day not in self._deliveries_taken
        return True

    def _record_overdue(self, sim: Sim) -> None:
        ends = sorted(self.full_days) + [self.days]
        for start, end in zip(ends, ends[1:], strict=False):
            due = sim.clock.epoch(start * DAY + FULL_COUNT) + RECONCILE_DAYS * DAY
            if due < sim.clock.epoch(end * DAY + (FULL_COUNT if end < self.days else 0)):
                sim.violation_at("reconciliation-overdue", None, "license", due,
                                 f"no full count in the {RECONCILE_DAYS} days after "
                                 f"FULL-{sim.clock.date(start * DAY)}")

    def schedule_day(self, sim: Sim, day: int) -> None:
        """Start the acts planned for a day."""
        for rule, i in self.plan.get(day, []):
            _ACTS[rule][0](sim, day, i)

