"""`backorder demo`: the product on a throw-away SQLite file with a realistic seeded shop.

Until the sandbox stores exist, the demo seeds one Shopify-style outdoor shop: the catalogue
directly, then stock levels, a purchase order and customers' orders through the same services the
webhooks use, so every backorder, queue position and ETA the API shows is the engine's own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel, StoreOrder, StoreOrderLine
from connector.clock import shop_today
from connector.migrate import upgrade
from connector.models import Product, Shop, Variant
from connector.runtime import Runtime
from connector.services.orders import ingest_order
from connector.services.shops import add_shop
from connector.services.stock import add_incoming, record_level
from connector.services.tokens import create_token

DEMO_DIR = Path(".demo")

DEMO_DIR = Path(".demo")

# (title, type, vendor, tags, [(sku, options, price, available, policy)])
CATALOGUE: list[
    tuple[str, str, str, list[str], list[tuple[str, dict[str, str], str, int, str]]]
] = [
    (
        "Trailrunner 2 Running Shoe",
        "Shoes",
        "Northwind",
        ["running", "trail", "men"],
        [
            ("TR2-BLU-41", {"Color": "Blue", "Size": "41"}, "129.00", 4, "continue"),
            ("TR2-BLU-42", {"Color": "Blue", "Size": "42"}, "129.00", 0, "continue"),
            ("TR2-BLU-43", {"Color": "Blue", "Size": "43"}, "129.00", 3, "continue"),
            ("TR2-BLK-42", {"Color": "Black", "Size": "42"}, "129.00", 6, "continue"),
        ],
    ),
    (
        "Ridgeline Rain Jacket",
        "Jackets",
        "Northwind",
        ["rain", "hiking", "waterproof"],
        [
            ("RRJ-S", {"Size": "S"}, "189.00", 2, "continue"),
            ("RRJ-M", {"Size": "M"}, "189.00", 0, "continue"),
            ("RRJ-L", {"Size": "L"}, "189.00", 5, "continue"),
        ],
    ),
    (
        "Summit Merino Socks (3-pack)",
        "Socks",
        "Alpaca & Co",
        ["merino", "hiking"],
        [
            ("SMS-3P-M", {"Size": "M"}, "24.50", 40, "deny"),
        ],
    ),
    (
        "Canyon Daypack 24L",
        "Bags",
        "Northwind",
        ["hiking", "daypack"],
        [
            ("CDP-24-OLV", {"Color": "Olive"}, "89.00", 0, "deny"),
        ],
    ),
]


# (order name, customer, e-mail, hours ago, shipping, [(sku, ordered, short when placed)])
ORDERS: list[tuple[str, str, str, int, str, list[tuple[str, int, int]]]] = [
    ("#1001", "Ada Lovelace", "ada@example.com", 50, "Standard", [("TR2-BLU-42", 2, 2)]),
    (
        "#1002",
        "Grace Hopper",
        "grace@example.com",
        30,
        "Standard",
        [("TR2-BLU-42", 1, 1), ("SMS-3P-M", 2, 0)],
    ),
    ("#1003", "Alan Turing", "alan@example.com", 20, "Standard", [("RRJ-M", 1, 1)]),
    (
        "#1004",
        "Katherine Johnson",
        "katherine@example.com",
        4,
        "UPS Express",
        [("TR2-BLU-42", 1, 1)],
    ),
]


def demo_settings() -> dict[str, Any]:
    """A fresh database and throw-away keys, whatever the operator's .env says."""
    DEMO_DIR.mkdir(exist_ok=True)
    for leftover in DEMO_DIR.glob("backorder.db*"):
        leftover.unlink()
    return {
        "DATABASE_URL": f"sqlite:///{DEMO_DIR / 'backorder.db'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def _catalogue(session: Session, shop: Shop) -> dict[str, Variant]:
    variants: dict[str, Variant] = {}
    for p_index, (title, ptype, vendor, tags, rows) in enumerate(CATALOGUE, start=1):
        product = Product(
            shop_id=shop.id,
            external_id=str(8_000_000_000 + p_index),
            title=title,
            product_type=ptype,
            vendor=vendor,
            tags=tags,
            status="active",
            handle=title.lower().replace(" ", "-"),
        )
        session.add(product)
        session.flush()
        for sku, options, price, _available, policy in rows:
            variant = Variant(
                shop_id=shop.id,
                product_id=product.id,
                external_id=str(40_000_000_000 + len(variants) + 1),
                sku=sku,
                title=" / ".join(options.values()),
                price=Decimal(price),
                options=options,
                inventory_policy=policy,
                lead_time_days=21 if sku.startswith("RRJ") else None,
            )
            session.add(variant)
            session.flush()
            variants[sku] = variant
    return variants


def seed(session: Session, runtime: Runtime) -> Shop:
    clock = runtime.clock
    now = clock.now()
    shop = add_shop(
        session,
        clock,
        runtime.vault,
        platform="shopify",
        domain="northwind-trail.myshopify.com",
        name="Northwind Trail Co.",
        credentials={"access_token": "shpat_" + secrets.token_hex(16)},
        timezone="America/Chicago",
    )
    shop.expedite_keywords = "express,overnight"
    variants = _catalogue(session, shop)
    # On-hand counts units not yet shipped, so it includes what the orders below take.
    taken: dict[str, int] = {}
    for *_, lines in ORDERS:
        for sku, quantity, short in lines:
            taken[sku] = taken.get(sku, 0) + quantity - short
    for *_, rows in CATALOGUE:
        for sku, _options, _price, available, _policy in rows:
            record_level(
                session,
                clock,
                shop,
                StoreInventoryLevel(
                    variant_external_id=variants[sku].external_id,
                    location_external_id="1",
                    location_name="Main warehouse",
                    on_hand=available + taken.get(sku, 0),
                    available=available,
                    updated_at=now - timedelta(days=3),
                ),
            )
    add_incoming(
        session,
        clock,
        variants["TR2-BLU-42"],
        quantity=3,
        expected_on=shop_today(clock, shop.timezone) + timedelta(days=9),
        reference="PO-1042",
    )
    for index, (name, customer, email, hours, shipping, lines) in enumerate(ORDERS, start=1):
        placed = now - timedelta(hours=hours)
        order_id = str(5_000_000_000 + index)
        ingest_order(
            session,
            clock,
            shop,
            StoreOrder(
                external_id=order_id,
                name=name,
                placed_at=placed,
                updated_at=placed,
                customer_name=customer,
                customer_email=email,
                financial_status="paid",
                fulfillment_status="unfulfilled",
                shipping_method=shipping,
                lines=tuple(
                    StoreOrderLine(
                        external_id=f"{order_id}{n}",
                        variant_external_id=variants[sku].external_id,
                        sku=sku,
                        title=variants[sku].title,
                        quantity=quantity,
                        price=variants[sku].price,
                    )
                    for n, (sku, quantity, _short) in enumerate(lines, start=1)
                ),
            ),
        )
    return shop


def _check_api(runtime: Runtime, token: str) -> dict[str, Any]:
    from connector.web import create_app

    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    health = client.get("/healthz")
    backorders = client.get("/api/v1/backorders?status=waiting", headers=auth)
    items = backorders.get_json()["items"]
    return {
        "healthz": health.status_code,
        "backorders": backorders.status_code,
        "waiting_backorders": len(items),
        "queue": [
            {
                key: row[key]
                for key in ("order_name", "sku", "quantity", "queue_position", "eta", "eta_source")
            }
            for row in sorted(items, key=lambda r: (r["sku"], r["queue_position"]))
        ],
    }


def run_demo(
    runtime: Runtime,
    *,
    once: bool,
    host: str,
    port: int,
    serve: Callable[[Runtime, str, int, int, bool, bool], None],
) -> None:
    upgrade(runtime.db.engine)
    with runtime.db.transaction() as session:
        shop = seed(session, runtime)
        token = create_token(session, shop.id, "demo")
        shop_id, domain = shop.id, shop.domain
    runtime.bus.dispatch_pending(runtime.db)
    if once:
        found = _check_api(runtime, token)
        ok = found["healthz"] == 200 and found["backorders"] == 200
        click.echo(
            json.dumps(
                {
                    "scenario": "seeded demo shop: stock, a purchase order, four orders",
                    "shop_id": shop_id,
                    "shop": domain,
                    "variants": sum(len(rows) for *_, rows in CATALOGUE),
                    "orders": len(ORDERS),
                    "found": found,
                    "ok": ok,
                }
            )
        )
        raise SystemExit(0 if ok else 1)
    url = f"http://{host}:{port}"
    click.echo(
        f"\nBackorder Connector demo — shop {shop_id} ({domain})\n"
        f"  health:     {url}/healthz\n"
        f"  API:        {url}/api/v1/backorders\n"
        f"  OpenAPI:    {url}/api/v1/openapi.json\n"
        f"  API token:  {token}\n"
        f"  try:        curl -H 'Authorization: Bearer {token}' {url}/api/v1/backorders\n"
        f"Press Ctrl-C to stop.\n"
    )
    # The seeded shop is not a real store: re-plan hourly, but do not try to sync it.
    serve(runtime, host, port, 8, True, False)
