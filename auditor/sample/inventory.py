"""Hold the live state of the store's packages, physical and as METRC knows it."""

from __future__ import annotations

from .catalog import Product

VAULT = "Vault"
SALES_FLOOR = "Sales Floor"
TEST_PASSED = "TestPassed"


class Package:
    """One tagged package: its METRC state and, separately, what is physically there."""

    __slots__ = (
        "id", "label", "product", "received_c", "phys", "metrc", "metrc_loc", "phys_loc",
        "on_hold", "on_recall", "lab_state", "sellable", "packaged", "expires", "received_at",
        "manifest_no", "shipper", "last_snapshot", "count_block", "special",
    )

    def __init__(self, pid: int, label: str, product: Product, qty_c: int,
                 packaged: str, expires: str | None) -> None:
        self.id = pid
        self.label = label
        self.product = product
        self.received_c = qty_c
        self.phys = qty_c
        self.metrc = qty_c
        self.metrc_loc: str | None = None
        self.phys_loc = VAULT
        self.on_hold = False
        self.on_recall = False
        self.lab_state = TEST_PASSED
        self.sellable = True
        self.packaged = packaged
        self.expires = expires
        self.received_at: int | None = None
        self.manifest_no = ""
        self.shipper = ""
        self.last_snapshot = -10**9
        # (from, until): counts strictly inside this span skip the package, because a planted
        # act left METRC and the shelf apart on purpose and a count would add a finding.
        self.count_block: tuple[int, int] | None = None
        # Set once a package serves a planted or unusual act, so no second act reuses it.
        self.special = False

    def refresh_sellable(self) -> None:
        """Recompute whether a budtender may sell from this package."""
        self.sellable = (not self.on_hold and not self.on_recall
                         and self.lab_state == TEST_PASSED)

    def countable_at(self, t: int) -> bool:
        """Say whether a count at t should include this package."""
        if self.phys <= 0:
            return False
        block = self.count_block
        return block is None or not block[0] < t < block[1]


class Stock:
    """The packages of one product, split by physical location, oldest first."""

    __slots__ = ("floor", "vault", "restocking")

    def __init__(self) -> None:
        self.floor: list[Package] = []
        self.vault: list[Package] = []
        self.restocking = False


class Inventory:
    """Every package the store holds, by tag and by product."""

    def __init__(self, products: list[Product]) -> None:
        self.stock = {p.sku: Stock() for p in products}
        self.active: dict[str, Package] = {}

    def accept(self, pkg: Package, *, to_vault: bool = True) -> None:
        """Take an accepted package into inventory."""
        self.active[pkg.label] = pkg
        if to_vault:
            self.stock[pkg.product.sku].vault.append(pkg)

    def drop(self, pkg: Package) -> None:
        """Forget a finished package."""
        self.active.pop(pkg.label, None)
        stock = self.stock[pkg.product.sku]
        for shelf in (stock.floor, stock.vault):
            if pkg in shelf:
                shelf.remove(pkg)

    def floor_sellable_c(self, product: Product) -> int:
        """Return the sellable quantity of a product on the sales floor."""
        return sum(p.phys for p in self.stock[product.sku].floor if p.sellable and p.phys > 0)

    def on_hand_c(self, product: Product) -> int:
        """Return the physical quantity of a product anywhere in the store."""
        stock = self.stock[product.sku]
        return sum(p.phys for p in stock.floor) + sum(p.phys for p in stock.vault)

    def packages(self) -> list[Package]:
        """Return the active packages in the order they were accepted."""
        return list(self.active.values())
