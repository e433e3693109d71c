"""Plant violations around receiving: manifests, scans, acceptance, and one stray notice."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from .catalog import EACH
from .clock import DAY, MINUTE, hm
from .inventory import SALES_FLOOR, VAULT, Package
from .operations import change_location, move, notify, pick, snapshot
from .receiving import SCAN_GAP, UNLOAD, Manifest, Scan
from .sales import emit_receipt, report_to_metrc

if TYPE_CHECKING:
    from .simulation import Sim

def _hook(sim: Sim, day: int, fn: Callable[..., None], i: int) -> None:
    sim.delivery_hooks.setdefault(day, []).append(partial(fn, i))


def _choose(sim: Sim, manifest: Manifest, min_c: int = 0, uom: str | None = None) -> Package:
    fits = [p for p in manifest.packages
            if p.received_c >= min_c and (uom is None or p.product.uom == uom)]
    return sim.rng.choice(fits or manifest.packages)


def package_unscanned(sim: Sim, day: int, i: int) -> None:
    """Accept a manifest with one package never scanned at receiving."""
    _hook(sim, day, _skip_scan, i)


def _skip_scan(i: int, sim: Sim, manifest: Manifest) -> None:
    pkg = _choose(sim, manifest)
    manifest.scans = [s for s in manifest.scans if s.label != pkg.label]
    manifest.on_accept.append(lambda t: sim.violation(
        "manifest-package-unscanned", pkg.label, manifest.number, t,
        "accepted without a receiving scan"))


def package_unlisted(sim: Sim, day: int, i: int) -> None:
    """Scan, under today's manifest, a package already in the vault from an older one."""
    _hook(sim, day, _stray_scan, i)


def _stray_scan(i: int, sim: Sim, manifest: Manifest) -> None:
    old = pick(sim, location=VAULT, min_c=100)
    if old is None:
        return
    manifest.scans.append(Scan(old.label, old.phys, old.product.uom, lambda t: sim.violation(
        "manifest-package-unlisted", old.label, manifest.number, t,
        "scanned at receiving but not on this manifest")))


def quantity_mismatch(sim: Sim, day: int, i: int) -> None:
    """Receive two units fewer than shipped and never adjust for it."""
    _hook(sim, day, _short_package, i)


def _short_package(i: int, sim: Sim, manifest: Manifest) -> None:
    pkg = _choose(sim, manifest, min_c=1000, uom=EACH)
    received = pkg.received_c - 200
    pkg.received_c = pkg.phys = pkg.metrc = received
    for scan in manifest.scans:
        if scan.label == pkg.label:
            scan.qty_c = received
    manifest.on_accept.append(lambda t: sim.violation(
        "manifest-quantity-mismatch", pkg.label, manifest.number, t,
        f"shipped {manifest.shipped[pkg.label] / 100:g}, received {received / 100:g}"))


def acceptance_late(sim: Sim, day: int, i: int) -> None:
    """Accept a delivered manifest in METRC more than 25 h after the truck arrived."""
    _hook(sim, day, _accept_late, i)


def _accept_late(i: int, sim: Sim, manifest: Manifest) -> None:
    manifest.accept_not_before = (manifest.arrival + DAY + hm(1, 30)
                                  + sim.rng.randrange(30 * MINUTE))
    first_scan = manifest.arrival + UNLOAD + SCAN_GAP
    sim.violation("manifest-acceptance-late", None, manifest.number, first_scan,
                  "accepted in METRC more than 24 h after the delivery was scanned in")


def activity_before_acceptance(sim: Sim, day: int, i: int) -> None:
    """Sell from, or move to the floor, a package before its manifest is accepted."""
    _hook(sim, day, _before_acceptance, i)


def _before_acceptance(i: int, sim: Sim, manifest: Manifest) -> None:
    manifest.accept_not_before = manifest.arrival + hm(2, 30)
    if i % 2:
        pkg = _choose(sim, manifest)
        sim.at(manifest.arrival + 40 * MINUTE, _move_early, pkg)
        manifest.on_accept.append(
            lambda t: sim.at(t + 5 * MINUTE, _change_after_accept, pkg))
        return
    pkg = _choose(sim, manifest, min_c=200, uom=EACH)
    sim.at(manifest.arrival + 50 * MINUTE, _sell_early, pkg, manifest)


def _move_early(sim: Sim, t: int, pkg: Package) -> None:
    move(sim, pkg, t, SALES_FLOOR)
    for rule in ("activity-before-acceptance", "transfer-before-move"):
        sim.violation(rule, pkg.label, pkg.label, t,
                      "moved to Sales Floor before the manifest was accepted")


def _change_after_accept(sim: Sim, t: int, pkg: Package) -> None:
    change_location(sim, pkg, t, SALES_FLOOR)
    sim.at(snapshot(sim, pkg, t + 10), _on_floor, pkg)


def _on_floor(sim: Sim, t: int, pkg: Package) -> None:
    sim.inv.stock[pkg.product.sku].floor.append(pkg)


def _sell_early(sim: Sim, t: int, pkg: Package, manifest: Manifest) -> None:
    # METRC refuses a sale of a package it has not accepted, so the report waits for acceptance.
    line = [(pkg, pkg.product, pkg.label, 100)]
    customer = sim.customers.fresh()
    receipt = emit_receipt(sim, t, line, customer, metrc=False)
    manifest.on_accept.append(lambda accepted: report_to_metrc(
        sim, t, accepted + 4 * MINUTE, receipt, line, customer))
    sim.violation("activity-before-acceptance", pkg.label, receipt, t,
                  "sold before its manifest was accepted")


def tag_invalid(sim: Sim, day: int, i: int) -> None:
    """Write a malformed tag: a misread receiving scan, or a notice with a lower-cased tag."""
    if i % 2 == 0:
        _hook(sim, day, _misread_scan, i)
    else:
        sim.at(day * DAY + hm(10, 30), _bad_notice)


def _misread_scan(i: int, sim: Sim, manifest: Manifest) -> None:
    pkg = _choose(sim, manifest)
    bad = pkg.label[:-1] if i % 4 == 0 else pkg.label[:3] + "-" + pkg.label[4:]
    at = next(n for n, s in enumerate(manifest.scans) if s.label == pkg.label)

    def record(t: int) -> None:
        sim.violation("tag-invalid", bad, manifest.number, t, "misread tag at receiving")
        sim.violation("manifest-package-unlisted", bad, manifest.number, t,
                      "misread tag is not on the manifest")

    manifest.scans.insert(at, Scan(bad, pkg.received_c, pkg.product.uom, record))


def _bad_notice(sim: Sim, t: int) -> None:
    pkg = pick(sim)
    if pkg is None:
        return
    bad = pkg.label.lower()
    reference = f"REQ-{sim.ids.take('notice'):04d}"
    notify(sim, t, "other", "regulator", reference, bad)
    sim.violation("tag-invalid", bad, reference, t, "lower-case tag in a notice")
