"""Run the store day by day: a time-ordered agenda of acts merged with the day's sales."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

from . import receiving, routine, sales
from .catalog import TagMaker, build_catalog
from .clock import DAY, Clock, hm
from .inventory import Inventory
from .spec import StoreSpec
from .writers import Outbox

LAST_RESTOCK = hm(20, 30)
Task = Callable[..., Any]


class Ids:
    """Hand out METRC ids and store serial numbers, each series from a seeded start."""

    def __init__(self, rng: random.Random) -> None:
        self._next = {
            "package": rng.randrange(3_000_000, 4_000_000),
            "receipt": rng.randrange(50_000_000, 60_000_000),
            "transfer": rng.randrange(200_000, 300_000),
            "manifest": rng.randrange(1_000_000, 2_000_000) * 100,
            "incident": 1,
            "notice": 1,
        }

    def take(self, series: str) -> int:
        """Return the next number of a series."""
        value = self._next[series]
        self._next[series] = value + 1
        return value


class Sim:
    """The live state of the simulated store and its agenda."""

    def __init__(self, spec: StoreSpec, out: Outbox) -> None:
        self.spec = spec
        self.out = out
        self.rng = random.Random(spec.seed)
        self.clock = Clock(spec.start, spec.timezone)
        self.catalog = build_catalog(self.rng, spec.receipts_per_day)
        self.tags = TagMaker(self.rng)
        self.inv = Inventory(self.catalog.products)
        self.ids = Ids(self.rng)
        self.customers = sales.Customers(spec.receipts_per_day)
        self.delivery_hooks: dict[int, list[Task]] = {}
        self.full_count_days: set[int] = set()
        self.planter: Any = None
        self.day = -1
        self.last_restock_time = 0
        self._violations: list[tuple[int, dict]] = []
        self._heap: list[tuple] = []
        self._future: dict[int, list[tuple]] = {}
        self._seq = 0
        self._receipt_prefix = ""
        self._receipt_seq = 0

    def at(self, t: int, fn: Task, *args: Any) -> None:
        """Run fn(sim, t, *args) at simulation time t (today or later)."""
        day = t // DAY
        if day < self.day:
            raise RuntimeError(f"cannot schedule {fn.__name__} on past day {day}")
        self._seq += 1
        entry = (t, self._seq, fn, args)
        if day == self.day:
            heapq.heappush(self._heap, entry)
        else:
            self._future.setdefault(day, []).append(entry)

    def run_day(self, day: int) -> None:
        """Simulate one day and write its files."""
        self.day = day
        self._heap = self._future.pop(day, [])
        heapq.heapify(self._heap)
        self.last_restock_time = day * DAY + LAST_RESTOCK
        self._receipt_prefix = "R" + self.clock.date(day * DAY)[2:].replace("-", "")
        self._receipt_seq = 0
        self.customers.today.clear()
        receiving.schedule_deliveries(self, day)
        routine.schedule_routine(self, day)
        self.planter.schedule_day(self, day)
        heap = self._heap
        for t in sales.receipt_times(self, day):
            while heap and heap[0][0] <= t:
                self._run_next()
            sales.regular_receipt(self, t)
        while heap:
            self._run_next()
        self.out.flush(day, self.clock.date(day * DAY))

    def _run_next(self) -> None:
        t, _, fn, args = heapq.heappop(self._heap)
        fn(self, t, *args)

    def next_receipt_id(self) -> str:
        """Return the next POS receipt number of the day."""
        self._receipt_seq += 1
        return f"{self._receipt_prefix}-{self._receipt_seq:04d}"

    def violation(self, rule_id: str, label: str | None, subject: str, t: int,
                  note: str) -> None:
        """Record a planted violation in the ground truth, occurring at simulation time t."""
        self.violation_at(rule_id, label, subject, self.clock.epoch(t), note)

    def violation_at(self, rule_id: str, label: str | None, subject: str, epoch: int,
                     note: str) -> None:
        """Record a planted violation occurring at POSIX time epoch."""
        self._violations.append((epoch, {
            "rule_id": rule_id, "package_label": label, "subject": subject,
            "occurred_at": self.clock.offset_of_epoch(epoch), "note": note}))

    def violations(self) -> list[dict]:
        """Return the recorded violations in time order."""
        ordered = sorted(self._violations, key=lambda item: (
            item[0], item[1]["rule_id"], item[1]["package_label"] or "", item[1]["subject"]))
        return [entry for _, entry in ordered]
