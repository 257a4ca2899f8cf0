"""`backorder demo`: the product on a throw-away SQLite file with a realistic seeded shop.

Until the sandbox stores exist, the demo seeds one Shopify-style outdoor shop directly: a
catalogue with sizes and colours, stock, a purchase order on its way and a few customers
waiting for what ran out.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from connector.clock import shop_today
from connector.migrate import upgrade
from connector.models import (
    Backorder,
    EtaChange,
    IncomingStock,
    InventoryLevel,
    Notification,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)
from connector.runtime import Runtime
from connector.services.shops import add_shop
from connector.services.tokens import create_token

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

# (order name, customer, e-mail, hours ago, priority, [(sku, ordered, short)])
ORDERS: list[tuple[str, str, str, int, int, list[tuple[str, int, int]]]] = [
    ("#1001", "Ada Lovelace", "ada@example.com", 50, 0, [("TR2-BLU-42", 2, 2)]),
    (
        "#1002",
        "Grace Hopper",
        "grace@example.com",
        30,
        0,
        [("TR2-BLU-42", 1, 1), ("SMS-3P-M", 2, 0)],
    ),
    ("#1003", "Alan Turing", "alan@example.com", 20, 0, [("RRJ-M", 1, 1)]),
    ("#1004", "Katherine Johnson", "katherine@example.com", 4, 1, [("TR2-BLU-42", 1, 1)]),
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


def seed(session: Session, runtime: Runtime) -> Shop:
    now = runtime.clock.now()
    shop = add_shop(
        session,
        runtime.clock,
        runtime.vault,
        platform="shopify",
        domain="northwind-trail.myshopify.com",
        name="Northwind Trail Co.",
        credentials={"access_token": "shpat_" + secrets.token_hex(16)},
        timezone="America/Chicago",
    )
    shop.currency = "USD"
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
        for sku, options, price, available, policy in rows:
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
            session.add(
                InventoryLevel(
                    shop_id=shop.id,
                    variant_id=variant.id,
                    location_external_id="1",
                    location_name="Main warehouse",
                    on_hand=available,
                    available=available,
                )
            )
            variants[sku] = variant

    today = shop_today(runtime.clock, shop.timezone)
    purchase = IncomingStock(
        shop_id=shop.id,
        variant_id=variants["TR2-BLU-42"].id,
        quantity=6,
        expected_on=today + timedelta(days=9),
        reference="PO-1042",
        source="manual",
    )
    session.add(purchase)

    for o_index, (name, customer, email, hours, priority, lines) in enumerate(ORDERS, start=1):
        placed = now - timedelta(hours=hours)
        order = Order(
            shop_id=shop.id,
            external_id=str(5_000_000_000 + o_index),
            name=name,
            customer_name=customer,
            customer_email=email,
            placed_at=placed,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            shipping_method="Express" if priority else "Standard",
        )
        session.add(order)
        session.flush()
        for l_index, (sku, ordered, short) in enumerate(lines, start=1):
            variant = variants[sku]
            line = OrderLine(
                shop_id=shop.id,
                order_id=order.id,
                external_id=f"{order.external_id}{l_index}",
                variant_id=variant.id,
                sku=sku,
                title=variant.title,
                quantity=ordered,
                price=variant.price,
            )
            session.add(line)
            session.flush()
            if short:
                _seed_backorder(session, shop, order, line, short, priority, purchase, today, now)
    return shop


def _seed_backorder(
    session: Session,
    shop: Shop,
    order: Order,
    line: OrderLine,
    short: int,
    priority: int,
    purchase: IncomingStock,
    today: Any,
    now: datetime,
) -> None:
    if line.variant_id == purchase.variant_id:
        eta, source = purchase.expected_on, f"incoming:{purchase.reference}"
    else:
        eta, source = today + timedelta(days=21), "lead_time"
    eta += timedelta(days=shop.handling_days)
    backorder = Backorder(
        shop_id=shop.id,
        order_line_id=line.id,
        variant_id=line.variant_id,
        quantity=short,
        status="waiting",
        priority=priority,
        placed_at=order.placed_at,
        order_sort_key=order.external_id.zfill(20),
        eta=eta,
        eta_source=source,
        first_promised_eta=eta,
    )
    session.add(backorder)
    session.flush()
    session.add(
        EtaChange(
            shop_id=shop.id,
            backorder_id=backorder.id,
            eta=eta,
            eta_source=source,
            at=order.placed_at,
        )
    )
    session.add(
        Notification(
            shop_id=shop.id,
            order_id=order.id,
            backorder_id=backorder.id,
            kind="backorder_placed",
            channel="email",
            recipient=order.customer_email or "",
            status="sent",
            dedupe_key=f"line:{line.id}:backorder_placed:1",
            sent_at=order.placed_at,
        )
    )


def _check_api(runtime: Runtime, token: str) -> dict[str, Any]:
    from connector.web import create_app

    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    health = client.get("/healthz")
    backorders = client.get("/api/v1/backorders?status=waiting", headers=auth)
    return {
        "healthz": health.status_code,
        "backorders": backorders.status_code,
        "waiting_backorders": len(backorders.get_json()["items"]),
    }


def run_demo(
    runtime: Runtime,
    *,
    once: bool,
    host: str,
    port: int,
    serve: Callable[[Runtime, str, int, int], None],
) -> None:
    upgrade(runtime.db.engine)
    with runtime.db.transaction() as session:
        shop = seed(session, runtime)
        token = create_token(session, shop.id, "demo")
        shop_id, domain = shop.id, shop.domain
    if once:
        found = _check_api(runtime, token)
        ok = found["healthz"] == 200 and found["backorders"] == 200
        click.echo(
            json.dumps(
                {
                    "scenario": "seeded demo shop",
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
    serve(runtime, host, port, 8)
