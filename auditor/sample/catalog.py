"""Build the products, suppliers, staff and package tags of a sample store.

Quantities are ints in hundredths of the unit ("centi"): 350 is 3.5 g or 3.5 each, so sums never
drift the way float grams do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

GRAMS = "Grams"
EACH = "Each"
FLOWER = "Flower"
PRE_ROLL = "Pre-Roll"
VAPE = "Vape Cartridge"
EDIBLE = "Edible"
CONCENTRATE = "Concentrate"
TINCTURE = "Tincture"
CATEGORIES = (FLOWER, PRE_ROLL, VAPE, EDIBLE, CONCENTRATE, TINCTURE)
LINES_PER_RECEIPT = (1, 2, 3, 4, 5)
LINES_WEIGHTS = (10, 20, 32, 24, 14)
FLOWER_SIZES = (350, 700, 1400, 2800)
FLOWER_SIZE_WEIGHTS = (55, 25, 12, 8)
EACH_SIZES = (100, 200, 300)
EACH_SIZE_WEIGHTS = (85, 12, 3)
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# (category, share of sale lines, uom, unit weight g, THC mg, package size, price, shelf days,
#  counts toward non-concentrate, counts toward concentrate, names)
_LINES = (
    (FLOWER, 0.35, GRAMS, None, None, 44_800, (9.0, 14.0), None, True, False,
     ("Blue Dream", "OG Kush", "Gelato 41", "Wedding Cake", "Sour Diesel", "Zkittlez",
      "Runtz", "Sunset Sherbet", "Purple Punch", "Mac 1")),
    (PRE_ROLL, 0.15, EACH, 1.0, None, 10_000, (10.0, 14.0), None, True, False,
     ("Jack Herer Pre-Roll 1g", "GSC Pre-Roll 1g", "Lemon Haze Pre-Roll 1g",
      "Granddaddy Purple Pre-Roll 1g")),
    (PRE_ROLL, 0.05, EACH, 3.5, None, 4_000, (32.0, 40.0), None, True, False,
     ("Mixed Sativa Pre-Roll 5pk", "Mixed Indica Pre-Roll 5pk")),
    (VAPE, 0.18, EACH, 1.0, 850.0, 5_000, (42.0, 55.0), None, False, True,
     ("Pineapple Express Cart 1g", "Strawberry Cough Cart 1g", "Durban Poison Cart 1g",
      "Northern Lights Cart 1g", "Tangie Cart 1g", "Forbidden Fruit Cart 1g")),
    (VAPE, 0.04, EACH, 0.5, 425.0, 5_000, (26.0, 32.0), None, False, True,
     ("Blue Dream Cart 0.5g", "Gelato Cart 0.5g")),
    (EDIBLE, 0.09, EACH, 2.0, 100.0, 4_000, (18.0, 24.0), 365, True, False,
     ("Watermelon Gummies 10x10mg", "Sour Cherry Gummies 10x10mg", "Mango Gummies 10x10mg",
      "Blackberry Gummies 10x10mg")),
    (EDIBLE, 0.06, EACH, 2.5, 100.0, 3_000, (20.0, 26.0), 365, True, False,
     ("Dark Chocolate Bar 100mg", "Milk Chocolate Bar 100mg", "Mint Chocolate Bar 100mg")),
    (CONCENTRATE, 0.05, EACH, 1.0, 750.0, 3_000, (38.0, 60.0), None, False, True,
     ("Live Resin Badder 1g", "Shatter 1g", "Live Rosin 1g", "Diamonds 1g", "Sugar Wax 1g")),
    # Whether a tincture is concentrate differs by reading; the clean store stays under both
    # limits by counting it in both buckets.
    (TINCTURE, 0.03, EACH, 1.0, 1000.0, 2_000, (45.0, 60.0), 540, True, True,
     ("Daytime Tincture 30ml 1000mg", "Sleep Tincture 30ml 1000mg", "CBD:THC 1:1 Tincture 30ml")),
)
_BRANDS = ("Golden Coast", "Redwood Farms", "Sierra Gold", "Pacific Bloom", "High Desert")
_SUPPLIERS = (
    ("C11-0000417-LIC", "Pacific Roots Distribution LLC"),
    ("C11-0000952-LIC", "Central Valley Logistics Inc."),
    ("C11-0001288-LIC", "Emerald Route Distributors"),
    ("C11-0001630-LIC", "Bay Harbor Supply Co."),
    ("C11-0002075-LIC", "Sierra Trail Distribution"),
)
BUDTENDERS = ("Alex Kim", "Jordan Reyes", "Sam Patel", "Taylor Brooks", "Morgan Lee",
              "Casey Nguyen", "Riley Chen", "Jamie Ortiz")
ASSOCIATES = ("Dana Whitfield", "Chris Moreno", "Pat Alvarez")
MANAGERS = ("Lena Park", "Marcus Hill")


@dataclass(eq=False)
class Product:
    """A sellable item: what METRC calls an Item, plus the store's price and demand."""

    sku: str
    name: str
    category: str
    uom: str
    unit_price: float
    package_c: int
    shelf_days: int | None
    supplier: int
    share: float
    noncon_factor: int
    con_factor: int
    item: dict
    daily_c: int = 0
    floor_target_c: int = 0
    low_mark_c: int = 0

    def limit_weights(self, qty_c: int) -> tuple[int, int]:
        """Return the centigrams a line of qty_c counts toward (non-concentrate, concentrate)."""
        return qty_c * self.noncon_factor // 100, qty_c * self.con_factor // 100


@dataclass(frozen=True)
class Supplier:
    """A licensed distributor that delivers on one weekday."""

    index: int
    license: str
    name: str
    weekday: int
    tag_prefix: str


@dataclass
class Catalog:
    """The store's products and suppliers, in a fixed order."""

    products: list[Product]
    suppliers: list[Supplier]
    cum_weights: list[float] = field(default_factory=list)

    def by_category(self, category: str) -> list[Product]:
        """Return the products of one category."""
        return [p for p in self.products if p.category == category]


def _item(name: str, category: str, uom: str, unit_weight: float | None,
          thc: float | None) -> dict:
    count_based = uom == EACH
    return {
        "Name": name,
        "ProductCategoryName": category,
        "QuantityType": "CountBased" if count_based else "WeightBased",
        "UnitWeight": unit_weight if count_based else None,
        "UnitWeightUnitOfMeasureName": "Grams" if count_based else None,
        "UnitThcContent": thc,
        "UnitThcContentUnitOfMeasureName": "Milligrams" if thc is not None else None,
    }


def _products_of_line(rng: random.Random, line: tuple, first_sku: int) -> list[Product]:
    category, share, uom, weight, thc, size, (low, high), shelf, noncon, con, names = line
    order = list(names)
    rng.shuffle(order)
    popularity = [1.0 / (rank + 1) ** 0.8 for rank in range(len(order))]
    total = sum(popularity)
    products = []
    for rank, base in enumerate(order):
        brand = _BRANDS[(first_sku + rank) % len(_BRANDS)]
        name = f"{brand} {base} Flower" if category == FLOWER else f"{brand} {base}"
        factor = 100 if uom == GRAMS else round(weight * 100)
        package = size // 2 if category == FLOWER and rank >= len(order) // 2 else size
        products.append(Product(
            sku=f"SKU-{first_sku + rank:04d}", name=name, category=category, uom=uom,
            unit_price=round(rng.uniform(low, high) * 4) / 4, package_c=package,
            shelf_days=shelf, supplier=(first_sku + rank) % len(_SUPPLIERS),
            share=share * popularity[rank] / total,
            noncon_factor=factor if noncon else 0, con_factor=factor if con else 0,
            item=_item(name, category, uom, weight, thc)))
    return products


def _mean_line_c(product: Product) -> float:
    sizes, weights = ((FLOWER_SIZES, FLOWER_SIZE_WEIGHTS) if product.uom == GRAMS
                      else (EACH_SIZES, EACH_SIZE_WEIGHTS))
    return sum(s * w for s, w in zip(sizes, weights, strict=True)) / sum(weights)


def build_catalog(rng: random.Random, receipts_per_day: int) -> Catalog:
    """Build the catalog and each product's expected daily demand."""
    products: list[Product] = []
    for line in _LINES:
        products.extend(_products_of_line(rng, line, 1 + len(products)))
    lines_per_day = receipts_per_day * (
        sum(n * w for n, w in zip(LINES_PER_RECEIPT, LINES_WEIGHTS, strict=True))
        / sum(LINES_WEIGHTS))
    for product in products:
        product.daily_c = max(100, round(lines_per_day * product.share * _mean_line_c(product)))
        product.floor_target_c = product.daily_c * 3 // 2
        product.low_mark_c = product.daily_c // 4
    suppliers = [Supplier(i, lic, name, i, "".join(rng.choice(_ALNUM) for _ in range(9)))
                 for i, (lic, name) in enumerate(_SUPPLIERS)]
    cum, running = [], 0.0
    for product in products:
        running += product.share
        cum.append(running)
    return Catalog(products, suppliers, cum)


class TagMaker:
    """Issue unique production tags: 1A4, a 9-character facility prefix, a 12-digit serial."""

    def __init__(self, rng: random.Random) -> None:
        self._serial = rng.randrange(10**6, 10**7)
        self.foreign_prefix = "".join(rng.choice(_ALNUM) for _ in range(9))

    def next(self, prefix: str) -> str:
        """Return a new tag under a facility prefix."""
        self._serial += 1
        return f"1A4{prefix}{self._serial:012d}"
