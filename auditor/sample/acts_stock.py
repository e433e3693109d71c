"""Plant violations in the back office: moves, adjustments, counts and loss notices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import EACH, GRAMS
from .clock import DAY, MINUTE, hm
from .inventory import SALES_FLOOR, VAULT, Package
from .operations import adjust, change_location, move, notify, pick, retry, snapshot
from .routine import CYCLE_COUNT, cycle_category, cycle_count_id

if TYPE_CHECKING:
    from .simulation import Sim

_BAD_REASONS = ("Damaged", "Inventory Correction", "Display Sample")
_LONG_NOTE = ("Unit found damaged during the morning walk-through of the sales floor; the "
              "outer packaging was crushed and the inner seal was compromised, so the unit was "
              "removed from sale, photographed, logged in the destruction binder and destroyed "
              "according to the store's standard operating procedure.")
_BAD_NOTES = (("Spoilage", ""), ("Waste (Unusable Product)", None), ("Spoilage", "dmg"),
              ("Drying", _LONG_NOTE))


def transfer_before_move(sim: Sim, day: int, i: int) -> None:
    """Move a vault package to the floor and record the METRC location change 25 min later."""
    sim.at(day * DAY + hm(8, 5), retry, _move_first, "transfer-before-move", i)


def _move_first(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=VAULT, min_c=100)
    if pkg is None:
        return False
    sim.inv.stock[pkg.product.sku].vault.remove(pkg)
    move(sim, pkg, t, SALES_FLOOR)
    sim.at(t + 25 * MINUTE, _late_change, pkg)
    sim.violation("transfer-before-move", pkg.label, pkg.label, t,
                  "moved to Sales Floor before the METRC location change")
    return True


def _late_change(sim: Sim, t: int, pkg: Package) -> None:
    change_location(sim, pkg, t, SALES_FLOOR)
    sim.at(snapshot(sim, pkg, t + 10), _to_floor, pkg)


def _to_floor(sim: Sim, t: int, pkg: Package) -> None:
    sim.inv.stock[pkg.product.sku].floor.append(pkg)


def adjustment_reason_valid(sim: Sim, day: int, i: int) -> None:
    """Adjust a package with a reason that is not in the license's list."""
    sim.at(day * DAY + hm(8, 10), retry, _bad_reason, "adjustment-reason-valid", i)


def _bad_reason(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, uom=EACH, min_c=300)
    if pkg is None:
        return False
    reason = _BAD_REASONS[i % len(_BAD_REASONS)]
    adjust(sim, pkg, t, -100, reason, "Unit damaged on the shelf and destroyed")
    sim.violation("adjustment-reason-valid", pkg.label, pkg.label, t,
                  f"reason {reason!r} is not a METRC reason for this license")
    return True


def adjustment_note_required(sim: Sim, day: int, i: int) -> None:
    """Record a negative adjustment whose note is empty, missing, too short or too long."""
    sim.at(day * DAY + hm(8, 10), retry, _bad_note, "adjustment-note-required", i)


def _bad_note(sim: Sim, t: int, i: int) -> bool:
    reason, note = _BAD_NOTES[i % len(_BAD_NOTES)]
    grams = reason == "Drying"
    pkg = pick(sim, uom=GRAMS if grams else EACH, min_c=2000 if grams else 300)
    if pkg is None:
        return False
    adjust(sim, pkg, t, -50 if grams else -100, reason, note)
    what = "missing" if note is None else f"{len(note)} characters long"
    sim.violation("adjustment-note-required", pkg.label, pkg.label, t,
                  f"{reason} adjustment note is {what}")
    return True


def count_variance(sim: Sim, day: int, i: int) -> None:
    """Lose a little from a package before tonight's cycle count; adjust METRC next morning."""
    sim.at(day * DAY + CYCLE_COUNT - 5 * MINUTE, retry, _variance_fixed, "count-variance", i)


def count_variance_unadjusted(sim: Sim, day: int, i: int) -> None:
    """As count_variance, but the adjustment comes only about 34 h after the count."""
    sim.at(day * DAY + CYCLE_COUNT - 5 * MINUTE, retry, _variance_late,
           "count-variance-unadjusted", i)


def _variance_fixed(sim: Sim, t: int, i: int) -> bool:
    return _variance(sim, t, days_to_fix=1)


def _variance_late(sim: Sim, t: int, i: int) -> bool:
    return _variance(sim, t, days_to_fix=2)


def _variance(sim: Sim, t: int, days_to_fix: int) -> bool:
    day = t // DAY
    pkg = pick(sim, category=cycle_category(day), min_c=300)
    if pkg is None:
        return False
    shrink = 150 if pkg.product.uom == GRAMS else 100
    pkg.phys -= shrink
    counted_at = day * DAY + CYCLE_COUNT
    fix_at = (day + days_to_fix) * DAY + hm(8, 5)
    pkg.count_block = (counted_at, fix_at + 1)
    count_id = cycle_count_id(sim, day)
    sim.at(fix_at, _fix_variance, pkg, count_id, shrink)
    rules = ["count-variance"] + (["count-variance-unadjusted"] if days_to_fix > 1 else [])
    for rule in rules:
        sim.violation(rule, pkg.label, count_id, counted_at,
                      f"counted {shrink / 100:g} {pkg.product.uom} less than METRC on hand")
    return True


def _fix_variance(sim: Sim, t: int, pkg: Package, count_id: str, shrink: int) -> None:
    reason = "Scale Variance" if pkg.product.uom == GRAMS else "Entry Error"
    adjust(sim, pkg, t, -shrink, reason, f"Count {count_id} came up short; METRC corrected",
           physical=False)


def loss_not_notified(sim: Sim, day: int, i: int) -> None:
    """Report a theft in METRC without telling both regulator and police within 24 h."""
    sim.at(day * DAY + hm(8, 10), retry, _theft_unnotified, "loss-not-notified", i)


def _theft_unnotified(sim: Sim, t: int, i: int) -> bool:
    pkg = pick(sim, location=SALES_FLOOR, uom=EACH, min_c=300)
    if pkg is None:
        return False
    incident = f"INC-{sim.ids.take('incident'):04d}"
    adjust(sim, pkg, t, -100, "Theft", f"Unit missing from display case; {incident}")
    variant = i % 3
    if variant >= 1:
        notify(sim, t + 70 * MINUTE, "theft", "regulator", incident, pkg.label)
    if variant == 2:
        notify(sim, t + DAY + hm(6), "theft", "law-enforcement", incident, pkg.label)
    told = ("nobody", "the regulator only", "police only after 30 h")[variant]
    sim.violation("loss-not-notified", pkg.label, pkg.label, t, f"theft; told {told}")
    return True
