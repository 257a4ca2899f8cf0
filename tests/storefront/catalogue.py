"""A small shoe shop for the storefront tests, on either platform, loaded as a sync loads it.

One product title carries a `<script>`: whatever a merchant types must reach the shopper as text.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select

from connector.commands import execute
from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.catalog import apply_products
from connector.services.shops import add_shop
from tests.catalogues import P, V, store_product
from tests.shops import ShopFixture

HOSTILE_TITLE = (
    'Night Runner <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
)

SHOES = [
    P(
        "Trail Runner GTX",
        "Running Shoes",
        "Northwind",
        ("trail", "running", "waterproof"),
        [
            V("TRAIL-BLU-42", {"Colour": "Blue", "Size": "42"}, "129.00", 0),
            V("TRAIL-BLU-43", {"Colour": "Blue", "Size": "43"}, "129.00", 6),
            V("TRAIL-BLA-42", {"Colour": "Black", "Size": "42"}, "129.00", 3),
        ],
        description="Waterproof trail running shoe with a grippy sole.",
    ),
    P(
        HOSTILE_TITLE,
        "Running Shoes",
        "Northwind",
        ("trail", "running"),
        [V("NIGHT-42", {"Colour": "Grey", "Size": "42"}, "119.00", 4)],
        description="Reflective trail running shoe for evening runs.",
    ),
    P(
        "Summit Hiker",
        "Hiking Boots",
        "Northwind",
        ("hiking", "waterproof"),
        [V("SUMMIT-RED-42", {"Colour": "Red", "Size": "42"}, "149.00", 5)],
        description="Waterproof hiking boot.",
    ),
]


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def shoe_shop(
    runtime: Runtime,
    *,
    platform: str = "woocommerce",
    domain: str = "https://shoes.example.com",
    timezone: str = "UTC",
) -> ShopFixture:
    """The shoe shop on `platform`; `variants` maps SKU (= the store's variant id) to our id."""
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform=platform,
            domain=domain,
            credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
            timezone=timezone,
        )
        fixture = ShopFixture(shop_id=shop.id, token="")
    products = [
        replace(store_product(product, index), handle=slug(product.title))
        for index, product in enumerate(SHOES)
    ]
    execute(
        runtime,
        lambda s: apply_products(s, runtime.clock, s.get_one(Shop, fixture.shop_id), products),
    )
    with runtime.db.transaction() as session:
        fixture.variants = dict(
            session.execute(
                select(Variant.sku, Variant.id).where(Variant.shop_id == fixture.shop_id)
            ).all()
        )
    return fixture
