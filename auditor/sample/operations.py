"""Record the METRC and store-floor acts shared by the clean store and planted violations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .catalog import ASSOCIATES, MANAGERS
from .clock import DAY
from .inventory import SALES_FLOOR, Package
from .writers import qty_text

if TYPE_CHECKING:
    from .simulation import Sim

RESTOCK_MOVE_DELAY = 240


def snapshot(sim: Sim, pkg: Package, t: int) -> int:
    """Write METRC's view of a package at t (nudged so its LastModified is unique); return t."""
    if pkg.received_at is None:
        raise RuntimeError(f"snapshot of {pkg.label} before it was accepted")
    t = max(t, pkg.last_snapshot + 1)
    pkg.last_snapshot = t
    clock = sim.clock
    sim.out.add("metrc-packages", t, {
        "Id": pkg.id, "Label": pkg.label, "PackageType": "Product", "Item": pkg.product.item,
        "Quantity": pkg.metrc / 100, "UnitOfMeasureName": pkg.product.uom,
        "LocationName": pkg.metrc_loc, "SublocationName": None, "PackagedDate": pkg.packaged,
        "ExpirationDate": pkg.expires, "SellByDate": None, "UseByDate": None,
        "LabTestingState": pkg.lab_state, "IsOnHold": pkg.on_hold, "IsOnRecall": pkg.on_recall,
        "IsTradeSample": False, "IsDonation": False, "IsTestingSample": False,
        "IsFinished": False, "FinishedDate": None,
        "ReceivedDateTime": clock.offset(pkg.received_at),
        "ReceivedFromManifestNumber": pkg.manifest_no,
        "ReceivedFromFacilityLicenseNumber": pkg.shipper, "LastModified": clock.offset(t),
    })
    return t


def finish(sim: Sim, pkg: Package, t: int) -> None:
    """Mark an empty package finished in METRC and forget it."""
    sim.out.add("metrc-finished-packages", t, {
        "Label": pkg.label, "ActualDate": sim.clock.date(t),
        "RecordedDateTime": sim.clock.offset(t)})
    sim.inv.drop(pkg)


def settle(sim: Sim, pkg: Package, t: int) -> None:
    """Finish a package once both the shelf and METRC say it is empty."""
    if pkg.phys <= 0 and pkg.metrc <= 0 and pkg.label in sim.inv.active:
        finish(sim, pkg, t)


def adjust(sim: Sim, pkg: Package, t: int, delta_c: int, reason: str, note: str | None,
           *, physical: bool = True) -> None:
    """Record a METRC adjustment; physical=False when the shelf already changed earlier."""
    product = pkg.product
    sim.out.add("metrc-adjustments", t, {
        "PackageId": pkg.id, "PackageLabel": pkg.label, "ItemName": product.name,
        "ItemCategoryName": product.category, "AdjustmentQuantity": delta_c / 100,
        "AdjustmentUnitOfMeasureName": product.uom, "AdjustmentReasonName": reason,
        "AdjustmentNote": note, "AdjustmentDate": sim.clock.utc(t),
        "AdjustedByUserName": sim.rng.choice(MANAGERS)})
    pkg.metrc += delta_c
    if physical:
        pkg.phys += delta_c
    settle(sim, pkg, t + 60)


def change_location(sim: Sim, pkg: Package, t: int, location: str) -> None:
    """Record a METRC location change."""
    pkg.metrc_loc = location
    sim.out.add("metrc-location-changes", t, {
        "Label": pkg.label, "Location": location, "Sublocation": None,
        "MoveDate": sim.clock.date(t), "RecordedDateTime": sim.clock.offset(t)})


def move(sim: Sim, pkg: Package, t: int, location: str) -> None:
    """Record a physical move of a package between store locations."""
    sim.out.add("moves", t, [sim.clock.offset(t), pkg.label, pkg.phys_loc, location,
                             qty_text(pkg.phys), pkg.product.uom, sim.rng.choice(ASSOCIATES)])
    pkg.phys_loc = location


def start_restock(sim: Sim, pkg: Package, t_change: int, t_move: int) -> None:
    """Move a vault package to the floor: METRC location change first, then the move."""
    stock = sim.inv.stock[pkg.product.sku]
    stock.vault.remove(pkg)
    stock.restocking = True
    change_location(sim, pkg, t_change, SALES_FLOOR)
    sim.at(t_move, _complete_restock, pkg)


def _complete_restock(sim: Sim, t: int, pkg: Package) -> None:
    move(sim, pkg, t, SALES_FLOOR)
    sim.inv.stock[pkg.product.sku].restocking = False
    sim.at(snapshot(sim, pkg, t + 10), _reach_floor, pkg)


def _reach_floor(sim: Sim, t: int, pkg: Package) -> None:
    # Sellable only once METRC's snapshot shows it on the floor.
    sim.inv.stock[pkg.product.sku].floor.append(pkg)


def restock_if_low(sim: Sim, pkg: Package, t: int) -> None:
    """Bring the next vault package of a product forward when its floor stock runs low."""
    product = pkg.product
    stock = sim.inv.stock[product.sku]
    if stock.restocking or not stock.vault or t > sim.last_restock_time:
        return
    if sim.inv.floor_sellable_c(product) < product.low_mark_c:
        start_restock(sim, stock.vault[0], t + 60, t + 60 + RESTOCK_MOVE_DELAY)


def set_state(sim: Sim, pkg: Package, t: int, **changes: object) -> int:
    """Change hold, recall or lab state in METRC and write the snapshot; return its time."""
    for name, value in changes.items():
        setattr(pkg, name, value)
    pkg.refresh_sellable()
    return snapshot(sim, pkg, t)


def notify(sim: Sim, t: int, kind: str, recipient: str, reference: str, label: str) -> None:
    """Record a notice sent to the regulator or to law enforcement."""
    sim.out.add("notifications", t, [sim.clock.offset(t), kind, recipient, reference, label,
                                     sim.rng.choice(MANAGERS)])


def count(sim: Sim, t: int, count_id: str, packages: list[Package]) -> None:
    """Record one count sheet: every listed package that is countable at t, one timestamp."""
    when = sim.clock.offset(t)
    employee = sim.rng.choice(ASSOCIATES)
    for pkg in packages:
        if pkg.countable_at(t):
            sim.out.add("counts", t, [when, count_id, pkg.phys_loc, pkg.label,
                                      qty_text(pkg.phys), pkg.product.uom, employee])


def pick(sim: Sim, *, location: str | None = None, uom: str | None = None,
         category: str | None = None, min_c: int = 0,
         test: Callable[[Package], bool] | None = None) -> Package | None:
    """Choose an ordinary sellable package at random, or None when nothing fits."""
    found = [p for p in sim.inv.active.values()
             if not p.special and p.sellable and p.phys >= min_c and p.phys == p.metrc
             and p.phys_loc == p.metrc_loc
             and (location is None or p.phys_loc == location)
             and (uom is None or p.product.uom == uom)
             and (category is None or p.product.category == category)
             and (test is None or test(p))]
    if not found:
        return None
    pkg = sim.rng.choice(found)
    pkg.special = True
    return pkg


def retry(sim: Sim, t: int, task: Callable[[Sim, int, int], bool], rule: str, i: int,
          tries: int = 0) -> None:
    """Run a planted task; if it finds nothing to act on, try again the next day."""
    if task(sim, t, i) or tries >= 3:
        return
    if sim.planter.fits(rule, i, t // DAY + 1):
        sim.at(t + DAY, retry, task, rule, i, tries + 1)
