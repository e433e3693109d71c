"""Simulate inbound manifests: the truck arrives, every package is scanned, METRC accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .catalog import ASSOCIATES, Product, Supplier
from .clock import DAY, MINUTE, hm
from .inventory import VAULT, Package
from .operations import snapshot
from .writers import qty_text

if TYPE_CHECKING:
    from .simulation import Sim

STOCK_DAYS = 12  # weekly deliveries top each product up to this many days of demand
OPENING_DAYS = 10
SCAN_GAP = 12
UNLOAD = 5 * MINUTE  # from the truck's arrival to the first scan
REJECT_RATE = 0.03


@dataclass(eq=False)
class Scan:
    """One receiving scan to write; on_time learns when it happened."""

    label: str
    qty_c: int
    uom: str
    on_time: Callable[[int], None] | None = None


@dataclass(eq=False)
class Manifest:
    """One incoming transfer while it is being received."""

    number: str
    supplier: Supplier
    arrival: int
    packages: list[Package]
    shipped: dict[str, int]
    scans: list[Scan]
    rejected: list[str] = field(default_factory=list)
    accept_not_before: int = 0
    on_accept: list[Callable[[int], None]] = field(default_factory=list)


def schedule_deliveries(sim: Sim, day: int) -> None:
    """Schedule today's trucks: every supplier on opening day, then each on its weekday."""
    base = day * DAY
    for supplier in sim.catalog.suppliers:
        if day == 0:
            sim.at(base + hm(5) + supplier.index * 3 * MINUTE, arrive, supplier, True)
        elif sim.clock.weekday(day) == supplier.weekday:
            sim.at(base + hm(10) + sim.rng.randrange(2 * 3600), arrive, supplier, False)


def _order(sim: Sim, supplier: Supplier, opening: bool) -> list[tuple[Product, int]]:
    days = OPENING_DAYS if opening else STOCK_DAYS
    wanted = []
    for product in sim.catalog.products:
        if product.supplier != supplier.index:
            continue
        gap = product.daily_c * days - sim.inv.on_hand_c(product)
        while gap > 0:
            wanted.append((product, product.package_c))
            gap -= product.package_c
    return wanted


def _package(sim: Sim, supplier: Supplier, product: Product, qty_c: int, t: int) -> Package:
    clock = sim.clock
    packaged_at = t - sim.rng.randrange(5, 46) * DAY
    expires = None
    if product.shelf_days:
        expires = clock.date(packaged_at + product.shelf_days * DAY)
    pkg = Package(sim.ids.take("package"), sim.tags.next(supplier.tag_prefix), product, qty_c,
                  clock.date(packaged_at), expires)
    pkg.shipper = supplier.license
    return pkg


def arrive(sim: Sim, t: int, supplier: Supplier, opening: bool) -> None:
    """Unload a truck: build its manifest, let planted acts alter it, scan, schedule acceptance."""
    hooks = sim.delivery_hooks.pop(t // DAY, [])
    order = _order(sim, supplier, opening)
    if hooks:
        # A planted act waits on this truck, so it comes even if nothing is short.
        mine = [p for p in sim.catalog.products if p.supplier == supplier.index]
        order += [(p, p.package_c) for p in mine[: max(0, 4 - len(order))]]
    if not order:
        return
    packages = [_package(sim, supplier, product, qty, t) for product, qty in order]
    manifest = Manifest(
        number=f"{sim.ids.take('manifest'):010d}", supplier=supplier, arrival=t,
        packages=packages, shipped={p.label: p.received_c for p in packages},
        scans=[Scan(p.label, p.received_c, p.product.uom) for p in packages])
    for hook in hooks:
        hook(sim, manifest)
    if not (opening or hooks) and len(packages) > 3 and sim.rng.random() < REJECT_RATE:
        manifest.rejected.append(packages[-1].label)  # damaged in transit, refused at the door
    employee = sim.rng.choice(ASSOCIATES)
    scan_t = t + UNLOAD
    for scan in manifest.scans:
        scan_t += SCAN_GAP
        sim.out.add("receiving-scans", scan_t, [
            sim.clock.offset(scan_t), manifest.number, scan.label, qty_text(scan.qty_c),
            scan.uom, employee])
        if scan.on_time:
            scan.on_time(scan_t)
    accept_at = max(scan_t + sim.rng.randrange(10, 40) * MINUTE, manifest.accept_not_before)
    sim.at(accept_at, accept, manifest)


def accept(sim: Sim, t: int, manifest: Manifest) -> None:
    """Accept the manifest in METRC: packages join inventory in the vault."""
    clock = sim.clock
    rows = []
    for pkg in manifest.packages:
        rejected = pkg.label in manifest.rejected
        if not rejected:
            pkg.received_at = t
            pkg.manifest_no = manifest.number
            pkg.metrc_loc = VAULT
            sim.inv.accept(pkg, to_vault=pkg.phys_loc == VAULT)
            snapshot(sim, pkg, t)
        product = pkg.product
        rows.append({
            "PackageId": pkg.id, "PackageLabel": pkg.label, "ItemName": product.name,
            "ItemCategoryName": product.category,
            "ShipmentPackageState": "Rejected" if rejected else "Accepted",
            "ShippedQuantity": manifest.shipped[pkg.label] / 100,
            "ShippedUnitOfMeasureName": product.uom,
            "ReceivedQuantity": 0.0 if rejected else pkg.received_c / 100,
            "ReceivedUnitOfMeasureName": product.uom, "LabTestingState": "TestPassed"})
    transfer_id = sim.ids.take("transfer")
    arrival = manifest.arrival
    sim.out.add("metrc-transfers", t, {
        "Id": transfer_id, "ManifestNumber": manifest.number,
        "ShipperFacilityLicenseNumber": manifest.supplier.license,
        "ShipperFacilityName": manifest.supplier.name,
        "RecipientFacilityLicenseNumber": sim.spec.license_number,
        "DeliveryId": transfer_id + 500_000, "PackageCount": len(rows),
        "ReceivedPackageCount": len(rows) - len(manifest.rejected), "IsVoided": False,
        "CreatedDateTime": clock.offset(arrival - arrival % DAY - DAY + hm(15) + arrival % 3600),
        "EstimatedArrivalDateTime": clock.naive(arrival - arrival % 900 - 15 * MINUTE),
        "ActualArrivalDateTime": clock.naive(arrival), "ReceivedDateTime": clock.offset(t),
        "LastModified": clock.offset(t), "Packages": rows})
    for callback in manifest.on_accept:
        callback(t)
