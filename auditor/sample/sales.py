"""Simulate customers buying at the POS and the store reporting each sale to METRC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalog import (
    BUDTENDERS,
    EACH_SIZE_WEIGHTS,
    EACH_SIZES,
    FLOWER_SIZE_WEIGHTS,
    FLOWER_SIZES,
    GRAMS,
    LINES_PER_RECEIPT,
    LINES_WEIGHTS,
    Product,
)
from .clock import DAY, HOUR
from .inventory import Package, Stock
from .operations import restock_if_low, settle
from .writers import qty_text

if TYPE_CHECKING:
    from .simulation import Sim

LIMIT_NONCON_CG = 2850  # CA 4 CCR §15409: 28.5 g non-concentrate per customer per day
LIMIT_CON_CG = 800  # 8 g concentrate
VOID_RATE = 0.004
OPEN_HOUR = 9
HOUR_WEIGHTS = (3, 4, 5, 6, 6, 6, 7, 8, 10, 11, 10, 7)  # 09:00 .. 20:00, evenings busiest
WEEKDAY_FACTOR = (0.88, 0.86, 0.9, 0.95, 1.18, 1.28, 1.0)  # Monday .. Sunday
_HOURS = tuple(range(len(HOUR_WEIGHTS)))
_FLOWER_CUM = tuple(sum(FLOWER_SIZE_WEIGHTS[: i + 1]) for i in range(len(FLOWER_SIZES)))
_EACH_CUM = tuple(sum(EACH_SIZE_WEIGHTS[: i + 1]) for i in range(len(EACH_SIZES)))
_LINES_CUM = tuple(sum(LINES_WEIGHTS[: i + 1]) for i in range(len(LINES_WEIGHTS)))

# One sale line: the package sold from (None when METRC never knew it), product, tag, quantity.
SaleLine = tuple[Package | None, Product, str, int]


@dataclass(frozen=True)
class Customer:
    """A shopper as the POS knows them."""

    id: str
    type: str
    patient_license: str | None


class Customers:
    """The store's customer base and what each bought today toward the daily limits."""

    def __init__(self, receipts_per_day: int) -> None:
        self.pool = [self._make(n) for n in range(max(300, receipts_per_day * 20))]
        self.today: dict[str, list[int]] = {}
        self._fresh = 0

    @staticmethod
    def _make(n: int) -> Customer:
        if n % 20 == 7:
            return Customer(f"C{n:06d}", "Patient", f"PA-{n:06d}")
        return Customer(f"C{n:06d}", "Consumer", None)

    def fresh(self) -> Customer:
        """Return a consumer who has never shopped here, for planted purchases."""
        self._fresh += 1
        return Customer(f"C9{self._fresh:05d}", "Consumer", None)


def receipt_times(sim: Sim, day: int) -> list[int]:
    """Return the sorted sale times of a day's regular receipts."""
    rng = sim.rng
    factor = WEEKDAY_FACTOR[sim.clock.weekday(day)] * rng.uniform(0.9, 1.1)
    n = max(1, round(sim.spec.receipts_per_day * factor))
    base = day * DAY + OPEN_HOUR * HOUR
    hours = rng.choices(_HOURS, weights=HOUR_WEIGHTS, k=n)
    return sorted(base + h * HOUR + rng.randrange(HOUR) for h in hours)


def _floor_package(stock: Stock) -> Package | None:
    for pkg in stock.floor:
        if pkg.phys > 0 and pkg.sellable:
            return pkg
    return None


def regular_receipt(sim: Sim, t: int) -> None:
    """Ring up one ordinary customer's basket from the sales floor, within the daily limits."""
    rng = sim.rng
    customers = sim.customers
    customer = customers.pool[rng.randrange(len(customers.pool))]
    totals = customers.today.get(customer.id) or [0, 0]
    n = rng.choices(LINES_PER_RECEIPT, cum_weights=_LINES_CUM)[0]
    catalog = sim.catalog
    lines: list[SaleLine] = []
    chosen: list[Product] = []
    for product in rng.choices(catalog.products, cum_weights=catalog.cum_weights, k=n):
        if product in chosen:
            continue
        chosen.append(product)
        pkg = _floor_package(sim.inv.stock[product.sku])
        if pkg is None:
            continue
        if product.uom == GRAMS:
            size = rng.choices(FLOWER_SIZES, cum_weights=_FLOWER_CUM)[0]
        else:
            size = rng.choices(EACH_SIZES, cum_weights=_EACH_CUM)[0]
        qty = min(size, pkg.phys)
        noncon, con = product.limit_weights(qty)
        if totals[0] + noncon > LIMIT_NONCON_CG or totals[1] + con > LIMIT_CON_CG:
            continue
        totals[0] += noncon
        totals[1] += con
        lines.append((pkg, product, pkg.label, qty))
    if lines:
        customers.today[customer.id] = totals
        emit_receipt(sim, t, lines, customer, voided=rng.random() < VOID_RATE)


def emit_receipt(sim: Sim, t: int, lines: Sequence[SaleLine], customer: Customer, *,
                 pos: bool = True, metrc: bool = True, metrc_at: int | None = None,
                 metrc_qty: list[int] | None = None, voided: bool = False) -> str:
    """Record a sale at the POS and in METRC and take it off the shelf; return the receipt id.

    metrc_at reports it to METRC at that time instead of a few minutes later; metrc_qty
    overrides the quantities METRC is told. A voided receipt is never reported.
    """
    receipt_id = sim.next_receipt_id()
    if pos:
        _write_pos_lines(sim, t, receipt_id, lines, customer, voided)
    if voided:
        return receipt_id
    for pkg, _product, _label, qty in lines:
        if pkg is not None:
            pkg.phys -= qty
    if metrc:
        report_to_metrc(sim, t, metrc_at or t + sim.rng.randrange(20, 241), receipt_id, lines,
                        customer, metrc_qty)
    for pkg, _product, _label, _qty in lines:
        if pkg is not None:
            restock_if_low(sim, pkg, t)
    return receipt_id


def report_to_metrc(sim: Sim, t: int, report_at: int, receipt_id: str,
                    lines: Sequence[SaleLine], customer: Customer,
                    metrc_qty: list[int] | None = None) -> None:
    """Report a sale made at t to METRC at report_at (now, or scheduled for later)."""
    quantities = metrc_qty or [line[3] for line in lines]
    receipt = _metrc_receipt(sim, t, receipt_id, lines, quantities, customer)
    # A report due within minutes is written at once: nothing before it reads this METRC state,
    # and skipping the agenda keeps the busiest path cheap.
    if report_at // DAY == t // DAY and report_at < t + 600:
        _record(sim, report_at, receipt, lines, quantities)
    else:
        sim.at(report_at, _record, receipt, lines, quantities)


def _write_pos_lines(sim: Sim, t: int, receipt_id: str, lines: Sequence[SaleLine],
                     customer: Customer, voided: bool) -> None:
    sold_at = sim.clock.offset(t)
    employee = sim.rng.choice(BUDTENDERS)
    flag = "true" if voided else "false"
    add = sim.out.add
    for n, (_pkg, product, label, qty) in enumerate(lines, 1):
        total = round(product.unit_price * qty / 100, 2)
        add("pos-sales", t, [
            receipt_id, f"{receipt_id}-{n}", sold_at, label, product.sku, product.name,
            product.category, qty_text(qty), product.uom, f"{product.unit_price:.2f}",
            f"{total:.2f}", customer.type, customer.id, employee, flag])


def _metrc_receipt(sim: Sim, t: int, receipt_id: str, lines: Sequence[SaleLine],
                   quantities: list[int], customer: Customer) -> dict:
    transactions = [
        {"PackageLabel": label, "QuantitySold": qty / 100, "UnitOfMeasureName": product.uom,
         "TotalPrice": round(product.unit_price * pos_qty / 100, 2)}
        for (_pkg, product, label, pos_qty), qty in zip(lines, quantities, strict=True)]
    return {
        "Id": sim.ids.take("receipt"), "ReceiptNumber": None,
        "ExternalReceiptNumber": receipt_id, "SalesDateTime": sim.clock.naive(t),
        "SalesCustomerType": customer.type, "PatientLicenseNumber": customer.patient_license,
        "CaregiverLicenseNumber": None, "IsFinal": False, "ArchivedDate": None,
        "RecordedDateTime": None, "LastModified": None, "Transactions": transactions}


def _record(sim: Sim, t: int, receipt: dict, lines: Sequence[SaleLine],
            quantities: list[int]) -> None:
    receipt["RecordedDateTime"] = receipt["LastModified"] = sim.clock.offset(t)
    sim.out.add("metrc-receipts", t, receipt)
    for (pkg, _product, _label, _qty), qty in zip(lines, quantities, strict=True):
        if pkg is not None:
            pkg.metrc -= qty
            settle(sim, pkg, t + 60)
