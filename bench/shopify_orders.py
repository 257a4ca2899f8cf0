"""Signed Shopify `orders/create` deliveries for bench.webhooks, and a shop whose ids match them.

Bodies are Shopify's own `orders/create` sample (the reference copy in ../shared/reference) with
our ids, 1 to 3 lines each: 7.4 to 9.4 KB, as a real order of a few items is. Every order is
distinct (its own id, line ids, times and customer); a duplicate is the same delivery re-sent:
the same bytes, the same X-Shopify-Webhook-Id, as Shopify re-sends one it thinks was lost.

The shop sells VARIANTS variants; those with an even number have stock for everything, those
with an odd number have none and let customers order anyway (Shopify's `continue` policy). So
each line on an odd variant, one unit each, must end as exactly one backorder, whatever order
the deliveries are processed in: that is what lets the benchmark count effects exactly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.models import InventoryLevel, Product, Variant
from connector.runtime import Runtime
from connector.services.shops import add_shop

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
SAMPLE = REFERENCE / "shopify" / "webhooks" / "orders_create.json"
SECRET = "shpss_" + "be9c4" * 8
DOMAIN = "bench-outfitters.myshopify.com"
VARIANTS = 200
IN_STOCK = 1_000_000  # units on each even variant: never short during a run
SHOP_OFFSET = timezone(timedelta(hours=-6))
FIRST_ORDER = datetime(2026, 11, 26, 6, 0, tzinfo=SHOP_OFFSET)


def short(variant: int) -> bool:
    """Whether a line on this variant is backordered: odd variants have no stock."""
    return variant % 2 == 1


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    order_id: int
    variants: tuple[int, ...]  # one unit of each
    body: bytes
    headers: bytes  # the signed Shopify headers, CRLF-terminated lines

    def request(self, path: str, host: str) -> bytes:
        """The whole HTTP/1.1 request, ready to send on a keep-alive connection."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Shopify-Captain-Hook\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
        )
        return head.encode() + self.headers + b"\r\n" + self.body


@dataclass(frozen=True)
class Batch:
    """One phase's deliveries in sending order: distinct ones plus re-sent duplicates."""

    deliveries: list[Delivery]
    distinct: list[Delivery]

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - len(self.distinct)


def _sample() -> dict[str, Any]:
    if not SAMPLE.exists():
        raise SystemExit(f"Shopify's orders/create sample is missing: {SAMPLE}")
    return json.loads(SAMPLE.read_text())  # type: ignore[no-any-return]


def _order(
    template: dict[str, Any], order_id: int, variants: tuple[int, ...], at: datetime
) -> dict[str, Any]:
    when = at.isoformat()
    email = f"customer{order_id}@example.com"
    order = dict(template)
    order.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#{order_id}",
        order_number=order_id,
        created_at=when,
        processed_at=when,
        updated_at=when,
        cancelled_at=None,
        cancel_reason=None,
        email=email,
        contact_email=email,
        financial_status="paid",
        fulfillment_status=None,
        refunds=[],
        fulfillments=[],
    )
    if isinstance(order.get("customer"), dict):
        order["customer"] = {**order["customer"], "id": order_id, "email": email}
    item = template["line_items"][0]
    order["line_items"] = [
        {
            **item,
            "id": order_id * 100 + index,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{order_id * 100 + index}",
            "variant_id": variant,
            "product_id": variant,
            "quantity": 1,
            "current_quantity": 1,
            "fulfillable_quantity": 1,
            "fulfillment_status": None,
            "sku": f"SKU-{variant}",
        }
        for index, variant in enumerate(variants, start=1)
    ]
    return order


def _signed(body: bytes, webhook_id: str, event_id: str, at: datetime) -> bytes:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    triggered = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f"X-Shopify-Topic: orders/create\r\nX-Shopify-Hmac-Sha256: {signature.decode()}\r\n"
        f"X-Shopify-Shop-Domain: {DOMAIN}\r\nX-Shopify-API-Version: 2026-07\r\n"
        f"X-Shopify-Webhook-Id: {webhook_id}\r\nX-Shopify-Event-Id: {event_id}\r\n"
        f"X-Shopify-Triggered-At: {triggered}\r\n"
    ).encode()


def batch(first_order_id: int, count: int, duplicate_share: float, seed: int) -> Batch:
    """`count` deliveries of which `duplicate_share` re-send an earlier one of the batch."""
    rng = random.Random(seed)
    template = _sample()
    duplicates = round(count * duplicate_share)
    distinct: list[Delivery] = []
    for number in range(count - duplicates):
        order_id = first_order_id + number
        at = FIRST_ORDER + timedelta(seconds=order_id % 1_000_000)
        variants = tuple(rng.sample(range(1, VARIANTS + 1), rng.randint(1, 3)))
        body = json.dumps(_order(template, order_id, variants, at)).encode()
        webhook_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        headers = _signed(body, webhook_id, event_id, at)
        distinct.append(Delivery(webhook_id, order_id, variants, body, headers))
    # Duplicates go to random places after the first; each re-sends one sent before it.
    again = set(rng.sample(range(1, count), duplicates))
    sent: list[Delivery] = []
    originals = iter(distinct)
    for position in range(count):
        sent.append(sent[rng.randrange(position)] if position in again else next(originals))
    return Batch(sent, distinct)


def seed_shop(runtime: Runtime) -> int:
    """The shop the deliveries come from: variant n is gid://shopify/ProductVariant/n."""
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=DOMAIN,
            credentials={"access_token": "shpat_benchmark0123456789"},
            timezone="America/Chicago",
        )
        for n in range(1, VARIANTS + 1):
            product = Product(
                shop_id=shop.id, external_id=f"gid://shopify/Product/{n}", title=f"Product {n}"
            )
            session.add(product)
            session.flush()
            variant = Variant(
                shop_id=shop.id,
                product_id=product.id,
                external_id=f"gid://shopify/ProductVariant/{n}",
                inventory_item_external_id=f"gid://shopify/InventoryItem/{n}",
                sku=f"SKU-{n}",
                title=f"SKU-{n}",
                price=Decimal("49.90"),
                inventory_policy="continue",
            )
            session.add(variant)
            session.flush()
            stock = 0 if short(n) else IN_STOCK
            session.add(
                InventoryLevel(
                    shop_id=shop.id,
                    variant_id=variant.id,
                    location_external_id="gid://shopify/Location/1",
                    on_hand=stock,
                    available=stock,
                )
            )
        return shop.id
