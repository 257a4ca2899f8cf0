"""Realistic catalogues for the alternatives: apparel with sizes and colours, electronics with
plugs and wattages, a grocery shop. Loaded through the same service a sync uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from adapters.base import StoreInventoryLevel, StoreProduct, StoreVariant
from connector.commands import execute
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.catalog import apply_products
from connector.services.shops import add_shop
from connector.services.tokens import create_token
from tests.shops import ShopFixture

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class V:
    sku: str
    options: dict[str, str]
    price: str
    stock: int
    pool: str | None = None  # shared stock (a WooCommerce parent's); default: its own


@dataclass
class P:
    title: str
    product_type: str
    vendor: str
    tags: tuple[str, ...]
    variants: list[V]
    description: str = ""
    status: str = "active"
    external_id: str = field(default="")


def store_product(product: P, index: int, at: datetime = AT) -> StoreProduct:
    external = product.external_id or f"p-{index}"
    return StoreProduct(
        external_id=external,
        title=product.title,
        updated_at=at,
        description=product.description,
        product_type=product.product_type,
        vendor=product.vendor,
        tags=product.tags,
        status=product.status,
        variants=tuple(
            StoreVariant(
                external_id=v.sku,
                sku=v.sku,
                title=" / ".join(v.options.values()),
                price=Decimal(v.price),
                options=v.options,
                inventory_policy="continue",
                updated_at=at,
                inventory_item_external_id=v.pool or f"ii-{v.sku}",
                levels=(StoreInventoryLevel(v.sku, "1", v.stock, v.stock, at),),
            )
            for v in product.variants
        ),
    )


def load_shop(runtime: Runtime, name: str, domain: str, products: list[P]) -> ShopFixture:
    """A shop holding `products`; `variants` maps SKU to variant id."""
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=domain,
            credentials={"access_token": "shpat_testtoken0123456789"},
            timezone="Europe/Berlin",
        )
        shop.name = name
        fixture = ShopFixture(shop_id=shop.id, token=create_token(session, shop.id, "test"))
    execute(
        runtime,
        lambda s: apply_products(
            s,
            runtime.clock,
            s.get_one(Shop, fixture.shop_id),
            [store_product(p, i) for i, p in enumerate(products)],
        ),
    )
    from sqlalchemy import select

    from connector.models import Variant

    with runtime.db.transaction() as session:
        fixture.variants = dict(
            session.execute(
                select(Variant.sku, Variant.id).where(Variant.shop_id == fixture.shop_id)
            ).all()
        )
    return fixture


def sizes(prefix: str, colour: str, price: str, stock: dict[str, int]) -> list[V]:
    return [
        V(f"{prefix}-{colour[:3].upper()}-{size}", {"Colour": colour, "Size": size}, price, units)
        for size, units in stock.items()
    ]


APPAREL = [
    P(
        "Trail Runner GTX",
        "Running Shoes",
        "Northwind",
        ("trail", "running", "waterproof"),
        sizes("TRAIL", "Blue", "129.00", {"42": 0, "43": 6})
        + sizes("TRAIL", "Black", "129.00", {"42": 3, "43": 0}),
        "A waterproof trail running shoe with a grippy outsole for muddy mountain paths.",
    ),
    P(
        "Summit Trail Shoe",
        "Running Shoes",
        "Ridgeline",
        ("trail", "running"),
        sizes("SUMMIT", "Red", "119.00", {"42": 4, "43": 2}),
        "Light trail running shoe for mountain paths, with a rock plate.",
    ),
    P(
        "Road Racer",
        "Running Shoes",
        "Ridgeline",
        ("road", "running"),
        sizes("ROAD", "White", "99.00", {"42": 8}),
        "Fast road running shoe with a carbon plate.",
    ),
    P(
        "Storm Shell Jacket",
        "Jackets",
        "Northwind",
        ("waterproof", "hiking"),
        sizes("STORM", "Green", "189.00", {"M": 2, "L": 1}),
        "A waterproof hiking jacket for mountain storms.",
    ),
    P(
        "Merino Hiking Socks",
        "Socks",
        "Northwind",
        ("hiking", "wool"),
        [V("SOCKS-M", {"Size": "M"}, "19.00", 40)],
        "Warm merino wool socks for long hikes.",
    ),
    P(
        "Trail Runner GTX (last season)",
        "Running Shoes",
        "Northwind",
        ("trail", "running", "waterproof"),
        sizes("OLD", "Blue", "99.00", {"42": 9}),
        "A waterproof trail running shoe with a grippy outsole for muddy mountain paths.",
        status="archived",
    ),
    P(
        "Trail Runner GTX Kids",
        "Running Shoes",
        "Northwind",
        ("trail", "running", "waterproof"),
        sizes("KIDS", "Blue", "79.00", {"42": 9}),
        "A waterproof trail running shoe for young hikers.",
        status="draft",
    ),
]

ELECTRONICS = [
    P(
        "Anker Nano 65W GaN Charger",
        "Chargers",
        "Anker",
        ("usb-c", "gan", "charger"),
        [
            V("ANK65-US", {"Plug": "US"}, "49.00", 0),
            V("ANK65-EU", {"Plug": "EU"}, "49.00", 12),
        ],
        "Compact 65W USB-C GaN charger for laptops and phones.",
    ),
    P(
        "Anker Prime 100W GaN Charger",
        "Chargers",
        "Anker",
        ("usb-c", "gan", "charger"),
        [V("ANK100-US", {"Plug": "US"}, "89.00", 7)],
        "Powerful 100W USB-C GaN charger for laptops and phones.",
    ),
    P(
        "Belkin BoostCharge 65W GaN Charger",
        "Chargers",
        "Belkin",
        ("usb-c", "gan", "charger"),
        [V("BEL65-US", {"Plug": "US"}, "45.00", 5)],
        "Compact 65W USB-C GaN charger for laptops, tablets and phones.",
    ),
    P(
        "USB-C Cable 2m",
        "Cables",
        "Anker",
        ("usb-c", "cable"),
        [V("CABLE-2M", {}, "15.00", 50)],
        "Braided USB-C to USB-C cable, 100W.",
    ),
    P(
        "Laptop Sleeve 14in",
        "Bags",
        "Tomtoc",
        ("laptop",),
        [V("SLEEVE-14", {"Size": "14in"}, "35.00", 6)],
        "Padded sleeve for 14 inch laptops.",
    ),
]

GROCERY = [
    P(
        "Organic Whole Milk 1L",
        "Dairy",
        "Meadow Farm",
        ("organic", "milk", "fresh"),
        [V("MILK-WHOLE", {}, "1.89", 0)],
        "Green Basket favourite: fresh organic whole milk from grass-fed cows.",
    ),
    P(
        "Organic Semi-Skimmed Milk 1L",
        "Dairy",
        "Meadow Farm",
        ("organic", "milk", "fresh"),
        [V("MILK-SEMI", {}, "1.79", 30)],
        "Green Basket favourite: fresh organic semi-skimmed milk from grass-fed cows.",
    ),
    P(
        "Barista Oat Drink 1L",
        "Plant Drinks",
        "Oatly",
        ("vegan", "oat"),
        [V("OAT-1L", {}, "2.49", 25)],
        "Green Basket favourite: creamy oat drink that foams like milk.",
    ),
    P(
        "Mature Cheddar 400g",
        "Dairy",
        "Meadow Farm",
        ("cheese",),
        [V("CHEDDAR", {}, "4.99", 10)],
        "Green Basket favourite: mature cheddar aged twelve months.",
    ),
    P(
        "Sourdough Loaf",
        "Bakery",
        "Green Basket",
        ("bread", "fresh"),
        [V("SOURDOUGH", {}, "3.50", 8)],
        "Green Basket favourite: slow-fermented sourdough baked every morning.",
    ),
]
