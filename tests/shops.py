"""Realistic small shops for tests: an outdoor store on Shopify, a homeware store on WooCommerce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from connector.models import (
    Backorder,
    EtaChange,
    IncomingStock,
    InventoryLevel,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)
from connector.runtime import Runtime
from connector.services.shops import add_shop
from connector.services.tokens import create_token


@dataclass
class ShopFixture:
    shop_id: int
    token: str
    variants: dict[str, int] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_shop(
    runtime: Runtime,
    *,
    platform: str = "shopify",
    domain: str = "northwind-trail.myshopify.com",
    timezone: str = "America/Chicago",
    stock: dict[str, int] | None = None,
) -> ShopFixture:
    """A shop with a shoe in two sizes and a jacket; `stock` maps SKU to available units."""
    stock = stock or {"SHOE-42": 0, "SHOE-43": 5, "JACKET-M": 2}
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform=platform,
            domain=domain,
            credentials={"access_token": "shpat_testtoken0123456789"},
            timezone=timezone,
        )
        fixture = ShopFixture(shop_id=shop.id, token=create_token(session, shop.id, "test"))
        for index, (sku, available) in enumerate(stock.items(), start=1):
            product = Product(shop_id=shop.id, external_id=f"p{index}", title=f"Product {sku}")
            session.add(product)
            session.flush()
            variant = Variant(
                shop_id=shop.id,
                product_id=product.id,
                external_id=f"v{index}",
                sku=sku,
                title=sku,
                price=Decimal("49.90"),
                inventory_policy="continue",
            )
            session.add(variant)
            session.flush()
            session.add(
                InventoryLevel(
                    shop_id=shop.id,
                    variant_id=variant.id,
                    location_external_id="1",
                    on_hand=available,
                    available=available,
                )
            )
            fixture.variants[sku] = variant.id
    return fixture


def add_backorder(
    session: Session,
    shop: ShopFixture,
    *,
    sku: str,
    order_external_id: str,
    placed_at: datetime,
    short: int = 1,
    priority: int = 0,
    eta: date | None = None,
    status: str = "waiting",
) -> Backorder:
    order = Order(
        shop_id=shop.shop_id,
        external_id=order_external_id,
        name=f"#{order_external_id}",
        customer_email=f"customer{order_external_id}@example.com",
        placed_at=placed_at,
    )
    session.add(order)
    session.flush()
    line = OrderLine(
        shop_id=shop.shop_id,
        order_id=order.id,
        external_id=f"{order_external_id}-1",
        variant_id=shop.variants[sku],
        sku=sku,
        quantity=short,
    )
    session.add(line)
    session.flush()
    backorder = Backorder(
        shop_id=shop.shop_id,
        order_line_id=line.id,
        variant_id=shop.variants[sku],
        quantity=short,
        status=status,
        priority=priority,
        placed_at=placed_at,
        order_sort_key=order_external_id.zfill(20),
        eta=eta,
        eta_source="lead_time" if eta else None,
    )
    session.add(backorder)
    session.flush()
    if eta:
        session.add(
            EtaChange(
                shop_id=shop.shop_id,
                backorder_id=backorder.id,
                eta=eta,
                eta_source="lead_time",
                at=placed_at,
            )
        )
    return backorder


def add_incoming(
    session: Session, shop: ShopFixture, sku: str, quantity: int, days_out: int, today: date
) -> IncomingStock:
    row = IncomingStock(
        shop_id=shop.shop_id,
        variant_id=shop.variants[sku],
        quantity=quantity,
        expected_on=today + timedelta(days=days_out),
        reference=f"PO-{days_out}",
    )
    session.add(row)
    return row


__all__ = ["Shop", "ShopFixture", "add_backorder", "add_incoming", "make_shop"]


def add_sandbox_woocommerce(runtime: Runtime, woo: Any) -> int:
    """The WooCommerce sandbox as a shop, by its pre-issued keys (the custom-app path)."""
    with runtime.db.transaction() as session:
        return add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="woocommerce",
            domain=woo.url,
            credentials={
                "consumer_key": woo.consumer_key,
                "consumer_secret": woo.consumer_secret,
                "webhook_secret": "Sandbox0Webhook0Secret0123456789",
            },
        ).id


def add_sandbox_shopify(runtime: Runtime, running: Any) -> int:
    """The Shopify sandbox as a shop, by its pre-issued token (a merchant's custom app)."""
    with runtime.db.transaction() as session:
        return add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=running.shop,
            credentials={
                "access_token": running.access_token,
                "admin_base_url": running.admin_base_url,
            },
        ).id
