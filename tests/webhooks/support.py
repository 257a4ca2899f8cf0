"""Signed deliveries as the stores send them, and shops whose ids match the payloads."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.models import InventoryLevel, Product, Variant
from connector.runtime import Runtime
from connector.services.shops import add_shop

REFERENCE = Path(__file__).parents[2].parent / "shared" / "reference"
SHOPIFY_SECRET = "shpss_" + "c0ffee" * 6
SHOPIFY_PREVIOUS_SECRET = "shpss_" + "0ld5ec" * 6
SHOPIFY_DOMAIN = "northwind-trail.myshopify.com"
WOO_SECRET = "wcsecret" + "7" * 24


def reference(path: str) -> dict[str, Any]:
    return json.loads((REFERENCE / path).read_text())  # type: ignore[no-any-return]


def _hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode(payload: dict[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_shopify(
    client: FlaskClient,
    topic: str,
    payload: dict[str, Any] | bytes,
    *,
    webhook_id: str | None = None,
    secret: str = SHOPIFY_SECRET,
    domain: str = SHOPIFY_DOMAIN,
    signature: str | None = None,
) -> TestResponse:
    body = encode(payload)
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else _hmac(secret, body),
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/shopify", data=body, headers=headers)


def post_woocommerce(
    client: FlaskClient,
    shop_id: int,
    topic: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = WOO_SECRET,
    signature: str | None = None,
) -> TestResponse:
    body = encode(payload)
    resource, event = topic.split(".", 1)
    headers = {
        "X-WC-Webhook-Source": "https://homeware.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature if signature is not None else _hmac(secret, body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": str(uuid.uuid4()),  # differs on every delivery, as in WC
        "Content-Type": "application/json",
    }
    return client.post(f"/webhooks/woocommerce/{shop_id}", data=body, headers=headers)


# ---- shops whose external ids match the payloads ---------------------------------------------


def _catalogue(runtime: Runtime, shop_id: int, stock: dict[str, int], ids: Any) -> dict[str, int]:
    """One product and variant per SKU; `ids(n)` gives (product, variant, item) external ids."""
    variants = {}
    with runtime.db.transaction() as session:
        for number, (sku, available) in enumerate(stock.items(), start=1):
            product_id, variant_id, item_id = ids(number)
            product = Product(shop_id=shop_id, external_id=product_id, title=f"Product {sku}")
            session.add(product)
            session.flush()
            variant = Variant(
                shop_id=shop_id,
                product_id=product.id,
                external_id=variant_id,
                inventory_item_external_id=item_id,
                sku=sku,
                title=sku,
                price=Decimal("49.90"),
                inventory_policy="continue",
            )
            session.add(variant)
            session.flush()
            session.add(
                InventoryLevel(
                    shop_id=shop_id,
                    variant_id=variant.id,
                    location_external_id="gid://shopify/Location/1",
                    on_hand=available,
                    available=available,
                )
            )
            variants[sku] = variant.id
    return variants


def shopify_shop(runtime: Runtime, stock: dict[str, int]) -> tuple[int, dict[str, int]]:
    """SKU n has variant gid://shopify/ProductVariant/n (n from 1, in `stock` order)."""
    with runtime.db.transaction() as session:
        shop_id = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=SHOPIFY_DOMAIN,
            credentials={"access_token": "shpat_testtoken0123456789"},
            timezone="America/Chicago",
        ).id
    return shop_id, _catalogue(
        runtime,
        shop_id,
        stock,
        lambda n: (
            f"gid://shopify/Product/{n}",
            f"gid://shopify/ProductVariant/{n}",
            f"gid://shopify/InventoryItem/{n}",
        ),
    )


def woocommerce_shop(runtime: Runtime, stock: dict[str, int]) -> tuple[int, dict[str, int]]:
    """SKU n is simple product 100+n, whose variant id is the product's own id."""
    with runtime.db.transaction() as session:
        shop_id = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="woocommerce",
            domain="https://homeware.example",
            credentials={
                "consumer_key": "ck_" + "1" * 40,
                "consumer_secret": "cs_" + "2" * 40,
                "webhook_secret": WOO_SECRET,
            },
        ).id
    return shop_id, _catalogue(
        runtime, shop_id, stock, lambda n: (str(100 + n), str(100 + n), str(100 + n))
    )


# ---- payloads --------------------------------------------------------------------------------


def shopify_order(
    number: int,
    lines: list[tuple[int, int]],
    *,
    updated_at: str,
    created_at: str = "2026-11-26T08:00:00-06:00",
    cancelled_at: str | None = None,
    email: str = "jon@example.com",
) -> dict[str, Any]:
    """Shopify's orders/create sample with our ids: `lines` are (variant number, quantity)."""
    order = reference("shopify/webhooks/orders_create.json")
    template = order["line_items"][0]
    order.update(
        id=number,
        admin_graphql_api_id=f"gid://shopify/Order/{number}",
        name=f"#{number}",
        created_at=created_at,
        processed_at=created_at,
        updated_at=updated_at,
        cancelled_at=cancelled_at,
        cancel_reason="customer" if cancelled_at else None,
        email=email,
        contact_email=email,
        financial_status="paid",
        fulfillment_status=None,
        refunds=[],
        fulfillments=[],
    )
    if isinstance(order.get("customer"), dict):
        order["customer"]["email"] = email
    items = []
    for index, (variant, quantity) in enumerate(lines, start=1):
        item = copy.deepcopy(template)
        line_id = number * 100 + index
        item.update(
            id=line_id,
            admin_graphql_api_id=f"gid://shopify/LineItem/{line_id}",
            variant_id=variant,
            product_id=variant,
            quantity=quantity,
            current_quantity=quantity,
            fulfillable_quantity=quantity,
            fulfillment_status=None,
            sku=f"SKU-{variant}",
        )
        items.append(item)
    order["line_items"] = items
    return order


def woocommerce_order(
    number: int,
    lines: list[tuple[int, int]],
    *,
    modified_gmt: str,
    status: str = "processing",
    email: str = "ann@example.com",
) -> dict[str, Any]:
    """WooCommerce's documented order with our ids: `lines` are (product id, quantity)."""
    order = reference("woocommerce/wc_v3_order_retrieve.json")
    template = order["line_items"][0]
    order.update(
        id=number,
        number=str(number),
        status=status,
        date_created_gmt="2026-11-26T14:00:00",
        date_modified_gmt=modified_gmt,
        refunds=[],
    )
    order["billing"]["email"] = email
    order["line_items"] = []
    for index, (product, quantity) in enumerate(lines, start=1):
        item = copy.deepcopy(template)
        item.update(
            id=number * 100 + index,
            product_id=product,
            variation_id=0,
            quantity=quantity,
            sku=f"SKU-{product}",
        )
        order["line_items"].append(item)
    return order
