"""A realistic, reproducible shop: outdoor apparel, home goods and electronics plus history.

Everything comes from `random.Random(seed)`, so one seed always builds the same catalogue and
order history (times are relative to the store's clock). Some variants oversell (CONTINUE),
some are out of stock, some have stock incoming; orders from the last 30 days are mostly
fulfilled except the newest, a few are cancelled.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sandbox.shopify.store import ShopifyStore

APPAREL = {
    "nouns": [
        "Fleece Jacket",
        "Merino Tee",
        "Rain Shell",
        "Hiking Pants",
        "Down Vest",
        "Flannel Shirt",
        "Wool Beanie",
        "Trail Shorts",
        "Softshell Hoodie",
        "Base Layer",
    ],
    "sizes": ["XS", "S", "M", "L", "XL", "XXL"],
    "colours": ["Black", "Navy", "Olive", "Rust", "Heather Grey", "Glacier Blue", "Sand"],
}
HOME = [
    "Enamel Camp Mug",
    "Cast Iron Skillet",
    "Wool Throw Blanket",
    "Cedar Cutting Board",
    "Ceramic Pour-Over",
    "Canvas Tote",
    "Beeswax Candle",
    "Linen Napkin Set",
]
ELECTRONICS = [
    "Trail Headlamp",
    "Solar Power Bank",
    "Bluetooth Speaker",
    "GPS Watch",
    "Wireless Earbuds",
    "Action Camera",
    "Lantern Charger",
]
ADJECTIVES = [
    "Alpine",
    "Summit",
    "Cascade",
    "Ridge",
    "Timberline",
    "Northwind",
    "Basecamp",
    "Canyon",
    "Harbor",
    "Juniper",
    "Granite",
    "Aurora",
]
VENDORS = ["Sandbox Outfitters", "Northwind Supply", "Ridge & Co", "Granite Goods"]
SHIPPING = ["Standard", "Standard", "Standard", "Express", "Free Shipping", "Overnight"]


def seed(store: ShopifyStore, *, seed: int = 1, variants: int = 1000) -> ShopifyStore:
    """Fill `store` with about `variants` variants and a few hundred past orders."""
    rng = random.Random(seed)
    with store.lock:
        if not store.locations:
            store.add_location("Main warehouse", primary=True)
            store.add_location("East Coast DC")
        _catalogue(store, rng, variants)
        _history(store, rng, orders=min(300, max(20, variants // 3)))
        store.events.clear()
    return store


def _catalogue(store: ShopifyStore, rng: random.Random, target: int) -> None:
    now = store.clock()
    locations = list(store.locations)
    made = 0
    serial = 0
    while made < target:
        serial += 1
        kind = rng.choices(("apparel", "home", "electronics"), weights=(6, 3, 2))[0]
        name = f"{rng.choice(ADJECTIVES)} {_noun(rng, kind)} {serial}"
        created = now - timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1440))
        updated = created + timedelta(days=rng.randint(0, 29))
        product = store.add_product(
            name,
            product_type={"apparel": "Apparel", "home": "Home", "electronics": "Electronics"}[kind],
            vendor=rng.choice(VENDORS),
            tags=sorted(rng.sample(["new", "sale", "bestseller", "outdoor", "gift"], 2)),
            status=rng.choices(("ACTIVE", "DRAFT", "ARCHIVED"), weights=(20, 1, 1))[0],
            description=f"<p>{name}: made to last, from the sandbox catalogue.</p>",
            at=created,
        )
        product.handle = f"{product.handle}-{serial}"
        product.updatedAt = updated
        for position, options in enumerate(_options(rng, kind)):
            if made >= target:
                break
            made += 1
            title = " / ".join(o["value"] for o in options)
            roll = rng.random()
            stock = {} if roll < 0.12 else {loc: rng.randint(0, 40) for loc in locations}
            store.add_variant(
                product,
                title=title,
                sku=f"{kind[:2].upper()}-{serial:05d}-{position + 1:02d}",
                price=f"{rng.randint(8, 240)}.{rng.choice(('00', '50', '95', '99'))}",
                options=options,
                policy="CONTINUE" if rng.random() < 0.15 else "DENY",
                stock=stock,
                incoming=rng.choice((0, 0, 0, 12, 24)),
                at=updated,
            )


def _noun(rng: random.Random, kind: str) -> str:
    if kind == "apparel":
        return rng.choice(APPAREL["nouns"])
    return rng.choice(HOME if kind == "home" else ELECTRONICS)


def _options(rng: random.Random, kind: str) -> list[list[dict[str, str]]]:
    """Option combinations of one product: sizes by colours for apparel, few for the rest."""
    if kind == "apparel":
        sizes = APPAREL["sizes"][rng.randint(0, 1) : rng.randint(4, 6)]
        colours = rng.sample(APPAREL["colours"], rng.randint(1, 3))
        return [
            [{"name": "Size", "value": s}, {"name": "Color", "value": c}]
            for c in colours
            for s in sizes
        ]
    if kind == "home":
        values = rng.sample(["Small", "Large", "Natural", "Charcoal", "12 oz", "16 oz"], 2)
        return [[{"name": "Style", "value": v}] for v in values[: rng.randint(1, 2)]]
    if rng.random() < 0.5:
        return [[{"name": "Title", "value": "Default Title"}]]
    return [[{"name": "Connector", "value": v}] for v in ("USB-C", "Lightning")]


def _history(store: ShopifyStore, rng: random.Random, orders: int) -> None:
    """Past orders placed through the scenario methods under a moved clock."""
    real_clock = store.clock
    now = real_clock()
    sellable = [
        v for v in store.variants.values() if store.products[v.product_number].status == "ACTIVE"
    ]
    times = sorted(now - timedelta(minutes=rng.randint(10, 30 * 24 * 60)) for _ in range(orders))
    try:
        for when in times:
            store.clock = lambda when=when: when
            lines = []
            for variant in rng.sample(sellable, rng.choice((1, 1, 1, 2, 3))):
                qty = rng.choice((1, 1, 1, 2, 3))
                if variant.inventoryPolicy == "CONTINUE" or store.available(variant) >= qty:
                    lines.append((variant.id, qty))
            if not lines:
                continue
            gid = store.place_order(
                lines,
                shipping=rng.choice(SHIPPING),
                email=f"buyer{rng.randint(1, 400)}@example.com",
            )
            age = now - when
            if rng.random() < 0.03:
                store.clock = lambda when=when: when + timedelta(hours=2)
                store.cancel_order(gid)
            elif age > timedelta(days=3) and rng.random() < 0.9:
                store.clock = lambda when=when: when + timedelta(hours=rng.randint(4, 60))
                store.fulfil_order(gid)
    finally:
        store.clock = real_clock
