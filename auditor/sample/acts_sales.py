"""Plant violations that happen at the till: sales and how they reach METRC."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .catalog import CONCENTRATE, EACH, FLOWER, GRAMS, PRE_ROLL, VAPE
from .clock import DAY, MINUTE, hm
from .inventory import SALES_FLOOR, VAULT, Package
from .operations import adjust, pick, retry, set_state
from .sales import Customer, SaleLine, emit_receipt

if TYPE_CHECKING:
    from .simulation import Sim


def _one(pkg: Package, qty_c: int | None = None) -> list[SaleLine]:
    unit = 100 if pkg.product.uom == EACH else 350
    return [(pkg, pkg.product, pkg.label, qty_c or min(unit, pkg.phys))]


def _at(sim: Sim, day: int, hours: int, minutes: int = 0) -> int:
    return day * DAY + hm(hours, minutes) + sim.rng.randrange(20 * MINUTE)


def _floor_each(sim: Sim, min_c: int = 300) -> Package | None:
    return pick(sim, location=SALES_FLOOR, uom=EACH, min_c=min_c)


def pos_sale_unreported(sim: Sim, day: int, i: int) -> None:
    """Report a one-line sale to METRC 26-27 h after it happened."""
    sim.at(_at(sim, day, 15), retry, _unreported, "pos-sale-unreported", i)


def _unreported(sim: Sim, t: int, i: int) -> bool:
    pkg = _floor_each(sim)
    if pkg is None:
        return False
    late = t + DAY + hm(2) + sim.rng.randrange(60 * MINUTE)
    pkg.count_block = (t, late + 1)
    receipt = emit_receipt(sim, t, _one(pkg), sim.customers.fresh(), metrc_at=late)
    sim.violation("pos-sale-unreported", pkg.label, receipt, t,
                  "POS line reached METRC more than 24 h after the sale")
    return True


def metrc_sale_without_pos(sim: Sim, day: int, i: int) -> None:
    """Report a sale to METRC that the POS never rang up (product handed over at the counter)."""
    sim.at(_at(sim, day, 16), retry, _without_pos, "metrc-sale-without-pos", i)


def _without_pos(sim: Sim, t: int, i: int) -> bool:
    pkg = _floor_each(sim)
    if pkg is None:
        return False
    receipt = emit_receipt(sim, t, _one(pkg), sim.customers.fresh(), pos=False)
    sim.violation("metrc-sale-without-pos", pkg.label, receipt, t,
                  "METRC receipt line with no POS line")
    return True


def sale_quantity_mismatch(sim: Sim, day: int, i: int) -> None:
    """Sell 2 units but tell METRC 1; an Entry Error adjustment fixes METRC next morning."""
    sim.at(_at(sim, day, 13), retry, _quantity_mismatch, "sale-quantity-mismatch", i)


def _quantity_mismatch(sim: Sim, t: int, i: int) -> bool:
    pkg = _floor_each(sim, 400)
    if pkg is None:
        return False
    fix_at = (t // DAY + 1) * DAY + hm(8, 5)
    pkg.count_block = (t, fix_at + 1)
    receipt = emit_receipt(sim, t, _one(pkg, 200), sim.customers.fresh(), metrc_qty=[100])
    sim.at(fix_at, _fix_quantity, pkg, receipt)
    for rule in ("sale-quantity-mismatch", "pos-sale-unreported"):
        sim.violation(rule, pkg.label, receipt, t, "POS sold 2, METRC was told 1")
    return True


def _fix_quantity(sim: Sim, t: int, pkg: Package, receipt: str) -> None:
    adjust(sim, pkg, t, -100, "Entry Error",
           f"Receipt {receipt} reported 1 unit to METRC instead of 2; corrected", physical=False)


_UNSELLABLE = (("on hold", {"on_hold": True}), ("lab TestFailed", {"lab_state": "TestFailed"}),
               ("on recall", {"on_recall": True}))


def sale_unsellable_package(sim: Sim, day: int, i: int) -> None:
    """Put a floor package on hold, fail its lab test or recall it, then sell from it anyway."""
    sim.at(day * DAY + hm(8, 30), retry, _make_unsellable, "sale-unsellable-package", i)


def _make_unsellable(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=SALES_FLOOR, min_c=200)
    if pkg is None:
        return False
    what, changes = _UNSELLABLE[i % len(_UNSELLABLE)]
    set_state(sim, pkg, t, **changes)
    sim.at(_at(sim, t // DAY, 12), _sell_unsellable, pkg, what)
    sim.at((t // DAY + 1) * DAY + hm(8, 20), _resolve_unsellable, pkg)
    return True


def _sell_unsellable(sim: Sim, t: int, pkg: Package, what: str) -> None:
    receipt = emit_receipt(sim, t, _one(pkg), sim.customers.fresh())
    sim.violation("sale-unsellable-package", pkg.label, receipt, t, f"sold while {what}")


def _resolve_unsellable(sim: Sim, t: int, pkg: Package) -> None:
    if pkg.on_hold:
        set_state(sim, pkg, t, on_hold=False)
    elif pkg.phys > 0:
        adjust(sim, pkg, t, -pkg.phys, "Mandatory State Destruction",
               "Destroyed after failed retest / recall notice")


def sale_outside_sales_floor(sim: Sim, day: int, i: int) -> None:
    """Sell a unit straight out of the vault."""
    sim.at(_at(sim, day, 13, 30), retry, _from_vault, "sale-outside-sales-floor", i)


def _from_vault(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=VAULT, uom=EACH, min_c=200)
    if pkg is None:
        return False
    receipt = emit_receipt(sim, t, _one(pkg), sim.customers.fresh())
    sim.violation("sale-outside-sales-floor", pkg.label, receipt, t, "sold from the Vault")
    return True


def untracked_package(sim: Sim, day: int, i: int) -> None:
    """Sell a pre-roll whose tag METRC never knew here, at the POS and in METRC."""
    sim.at(_at(sim, day, 14, 30), _untracked)


def _untracked(sim: Sim, t: int) -> None:
    product = sim.catalog.by_category(PRE_ROLL)[0]
    label = sim.tags.next(sim.tags.foreign_prefix)
    receipt = emit_receipt(sim, t, [(None, product, label, 100)], sim.customers.fresh())
    sim.violation("untracked-package", label, receipt, t, "tag never known to this license")
    sim.violation("package-oversold", label, receipt, t,
                  "untracked tag: sold more than the 0 received")


def package_oversold(sim: Sim, day: int, i: int) -> None:
    """Sell more than a nearly empty package holds, or destroy a package twice."""
    if i % 2:
        sim.at(day * DAY + hm(8, 12), retry, _double_waste, "package-oversold", i)
    else:
        sim.at(_at(sim, day, 15, 30), retry, _sell_past_empty, "package-oversold", i)


def _sell_past_empty(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=SALES_FLOOR, min_c=1, test=lambda p: p.phys <= (
        300 if p.product.uom == EACH else 2450))
    if pkg is None:
        return False
    held = pkg.phys
    qty = held + (100 if pkg.product.uom == EACH else 350)
    receipt = emit_receipt(sim, t, _one(pkg, qty), sim.customers.fresh())
    sim.violation("package-oversold", pkg.label, receipt, t,
                  f"sold {qty / 100:g} from a package holding {held / 100:g}")
    return True


def _double_waste(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=VAULT, min_c=100)
    if pkg is None:
        return False
    qty = pkg.phys
    note = "Package soaked by a roof leak; destroyed"
    adjust(sim, pkg, t, -qty, "Waste (Unusable Product)", note)
    adjust(sim, pkg, t + 2 * MINUTE, -qty, "Waste (Unusable Product)", note, physical=False)
    sim.violation("package-oversold", pkg.label, pkg.label, t + 2 * MINUTE,
                  "the same destruction was entered twice")
    return True


# What one visit buys: category, quantity, and which packages qualify.
_Want = tuple[str, int, Callable[[Package], bool] | None]


def purchase_limit_exceeded(sim: Sim, day: int, i: int) -> None:
    """Let one customer buy past a daily limit over two visits."""
    customer = sim.customers.fresh()
    first: _Want
    second: _Want
    if i % 2:
        first = (VAPE, 400, lambda p: p.product.con_factor == 100)
        second = (CONCENTRATE, 500, None)
        times = (_at(sim, day, 11), _at(sim, day, 16))
    else:
        first = (FLOWER, 2800, None)
        second = (FLOWER, 350, None)
        times = (_at(sim, day, 12), _at(sim, day, 17, 30))
    visits: list[str] = []
    sim.at(times[0], _limit_visit, customer, first, visits)
    sim.at(times[1], _limit_visit, customer, second, visits)


def _limit_visit(sim: Sim, t: int, customer: Customer, want: _Want, visits: list[str]) -> None:
    category, qty, test = want
    pkg = pick(sim, location=SALES_FLOOR, category=category, min_c=qty, test=test)
    if pkg is None:
        return
    receipt = emit_receipt(sim, t, _one(pkg, qty), customer)
    visits.append(receipt)
    if len(visits) == 2:
        unit = "non-concentrate" if pkg.product.uom == GRAMS else "concentrate"
        sim.violation("purchase-limit-exceeded", None, customer.id, t,
                      f"daily {unit} limit passed on receipt {receipt}")
