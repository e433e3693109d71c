"""Schedule the clean store's daily routine: restocking, counts and the odd loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import CATEGORIES, EACH, GRAMS
from .clock import DAY, MINUTE, hm
from .inventory import SALES_FLOOR, Package
from .operations import adjust, count, notify, pick, set_state, start_restock

if TYPE_CHECKING:
    from .simulation import Sim

MORNING_RESTOCK = hm(7)
FULL_COUNT = hm(21, 30)
CYCLE_COUNT = hm(21, 40)
FULL_COUNT_EVERY = 28
ADJUST_REASONS = (
    ("Drying", False, False),
    ("Entry Error", False, False),
    ("Scale Variance", False, False),
    ("Spoilage", False, False),
    ("Theft", True, False),
    ("Waste (Unusable Product)", True, True),
    ("Mandatory State Destruction", True, False),
    ("Weight Change Due to Moisture", False, False),
)
_SPOILAGE_NOTES = ("Packaging crushed on the shelf; unit destroyed",
                   "Seal broken on display unit; destroyed per SOP",
                   "Customer return, tamper seal open; destroyed")


def reason_rows() -> list[dict]:
    """Return the license's METRC adjustment reasons."""
    return [{"Name": name, "RequiresNote": note, "RequiresWasteWeight": waste}
            for name, note, waste in ADJUST_REASONS]


def schedule_routine(sim: Sim, day: int) -> None:
    """Schedule the day's restock, count and occasional clean adjustments."""
    base = day * DAY
    sim.at(base + MORNING_RESTOCK, morning_restock)
    if day in sim.full_count_days:
        sim.at(base + FULL_COUNT, full_count)
    else:
        sim.at(base + CYCLE_COUNT, cycle_count)
    if day == 0:
        return
    rng = sim.rng
    if rng.random() < 0.10:
        sim.at(base + hm(8, 15), _spoilage)
    if rng.random() < 0.05:
        sim.at(base + hm(21, 55), _trim_waste)
    if rng.random() < 0.025:
        sim.at(base + hm(8, 20), _theft_reported)
    if rng.random() < 0.04 and day + 1 < sim.spec.days:
        sim.at(base + hm(8, 25), _hold_overnight)


def morning_restock(sim: Sim, t: int) -> None:
    """Fill the sales floor for the day before opening: METRC first, then the moves."""
    plan = []
    for product in sim.catalog.products:
        have = sim.inv.floor_sellable_c(product)
        for pkg in sim.inv.stock[product.sku].vault:
            if have >= product.floor_target_c:
                break
            plan.append(pkg)
            have += pkg.phys
    # Every location change lands by t + 20 min and every move after it, however long the plan.
    change_step = min(5, 20 * MINUTE // max(1, len(plan)))
    move_step = min(20, 40 * MINUTE // max(1, len(plan)))
    for n, pkg in enumerate(plan):
        start_restock(sim, pkg, t + n * change_step, t + 20 * MINUTE + n * move_step)


def full_count(sim: Sim, t: int) -> None:
    """Count every active package: the periodic physical reconciliation."""
    count(sim, t, f"FULL-{sim.clock.date(t)}", sim.inv.packages())


def cycle_count(sim: Sim, t: int) -> None:
    """Count today's category."""
    category = cycle_category(t // DAY)
    packages = [p for p in sim.inv.packages() if p.product.category == category]
    count(sim, t, cycle_count_id(sim, t // DAY), packages)


def cycle_category(day: int) -> str:
    """Return the category counted on a day."""
    return CATEGORIES[day % len(CATEGORIES)]


def _spoilage(sim: Sim, t: int) -> None:
    pkg = pick(sim, location=SALES_FLOOR, uom=EACH, min_c=300)
    if pkg:
        adjust(sim, pkg, t, -100, "Spoilage", sim.rng.choice(_SPOILAGE_NOTES))


def _trim_waste(sim: Sim, t: int) -> None:
    pkg = pick(sim, uom=GRAMS, min_c=2000)
    if pkg:
        adjust(sim, pkg, t, -50, "Waste (Unusable Product)",
               "Stems and seeds removed from bulk jar")


def _theft_reported(sim: Sim, t: int) -> None:
    pkg = pick(sim, location=SALES_FLOOR, uom=EACH, min_c=300)
    if pkg:
        incident = f"INC-{sim.ids.take('incident'):04d}"
        adjust(sim, pkg, t, -100, "Theft", f"Unit missing from display case; {incident}")
        notify(sim, t + 70 * MINUTE, "theft", "regulator", incident, pkg.label)
        notify(sim, t + 95 * MINUTE, "theft", "law-enforcement", incident, pkg.label)


def _hold_overnight(sim: Sim, t: int) -> None:
    pkg = pick(sim, location=SALES_FLOOR, min_c=100)
    if pkg:
        set_state(sim, pkg, t, on_hold=True)
        sim.at(t + DAY, _release_hold, pkg)


def _release_hold(sim: Sim, t: int, pkg: Package) -> None:
    set_state(sim, pkg, t, on_hold=False)


def cycle_count_id(sim: Sim, day: int) -> str:
    """Return the id of a day's cycle count."""
    slug = cycle_category(day).upper().replace(" ", "-")
    return f"CYC-{sim.clock.date(day * DAY)}-{slug}"
