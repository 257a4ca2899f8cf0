"""Shopify GraphQL nodes → the common model in `adapters.base` (pure functions, no I/O).

GIDs stay whole strings everywhere (`gid://shopify/ProductVariant/…`): they are the ids the
webhooks, mutations and our database all agree on, and they never pass through a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.base import (
    StoreInventoryLevel,
    StoreOrder,
    StoreOrderLine,
    StoreProduct,
    StoreShop,
    StoreVariant,
    StoreWebhook,
)


def parse_time(raw: str) -> datetime:
    """Shopify's DateTime (ISO 8601, `Z` or offset) → aware UTC."""
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # Shopify always sends an offset; be safe rather than local
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def search_time(moment: datetime) -> str:
    """A bound for `updated_at:` searches, to the second (floored: a window never loses rows)."""
    if moment.tzinfo is None:
        raise ValueError("search bounds must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_query(since: datetime | None, before: datetime | None) -> str | None:
    terms = []
    if since is not None:
        terms.append(f"updated_at:>='{search_time(since)}'")
    if before is not None:
        terms.append(f"updated_at:<'{search_time(before)}'")
    return " AND ".join(terms) or None


def shop(node: dict[str, Any]) -> StoreShop:
    return StoreShop(
        domain=node["myshopifyDomain"],
        name=node["name"],
        timezone=node["ianaTimezone"],
        currency=node["currencyCode"],
    )


def level(variant_id: str, node: dict[str, Any]) -> StoreInventoryLevel:
    quantities = {q["name"]: int(q["quantity"]) for q in node.get("quantities") or ()}
    location = node.get("location") or {}
    return StoreInventoryLevel(
        variant_external_id=variant_id,
        location_external_id=location["id"],
        location_name=location.get("name") or "",
        on_hand=quantities.get("on_hand"),
        available=quantities.get("available", 0),
        committed=quantities.get("committed", 0),
        incoming=quantities.get("incoming", 0),
        updated_at=parse_time(node["updatedAt"]),
    )


def variant(node: dict[str, Any], levels: Sequence[dict[str, Any]]) -> StoreVariant:
    item = node.get("inventoryItem") or {}
    return StoreVariant(
        external_id=node["id"],
        sku=node.get("sku") or "",
        title=node.get("title") or "",
        price=Decimal(str(node.get("price") or "0")),
        options={o["name"]: o["value"] for o in node.get("selectedOptions") or ()},
        inventory_policy=str(node.get("inventoryPolicy") or "DENY").lower(),
        updated_at=parse_time(node["updatedAt"]),
        inventory_item_external_id=item.get("id"),
        managed=bool(item.get("tracked", True)),
        levels=tuple(level(node["id"], lv) for lv in levels),
    )


def product(node: dict[str, Any], variants: Sequence[StoreVariant]) -> StoreProduct:
    return StoreProduct(
        external_id=node["id"],
        title=node.get("title") or "",
        updated_at=parse_time(node["updatedAt"]),
        handle=node.get("handle") or "",
        description=node.get("description") or "",
        product_type=node.get("productType") or "",
        vendor=node.get("vendor") or "",
        tags=tuple(node.get("tags") or ()),
        status=str(node.get("status") or "ACTIVE").lower(),
        variants=tuple(variants),
    )


def order_line(node: dict[str, Any]) -> StoreOrderLine:
    """`quantity` is `currentQuantity`: what is still ordered after edits and refunds.

    Shopify takes removed and refunded units out of `currentQuantity`, so `refunded_quantity`
    stays 0 and the core's need (ordered - fulfilled - refunded) is still right.
    """
    current = int(node.get("currentQuantity", node.get("quantity", 0)))
    unfulfilled = int(node.get("unfulfilledQuantity", current))
    price = ((node.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount")
    return StoreOrderLine(
        external_id=node["id"],
        variant_external_id=(node.get("variant") or {}).get("id"),
        quantity=current,
        sku=node.get("sku") or "",
        title=node.get("title") or "",
        price=Decimal(str(price or "0")),
        fulfilled_quantity=max(current - unfulfilled, 0),
        refunded_quantity=0,
    )


def order(node: dict[str, Any], lines: Sequence[dict[str, Any]]) -> StoreOrder:
    customer = node.get("customer") or {}
    cancelled = node.get("cancelledAt")
    return StoreOrder(
        external_id=node["id"],
        name=node.get("name") or "",
        placed_at=parse_time(node["createdAt"]),
        updated_at=parse_time(node["updatedAt"]),
        lines=tuple(order_line(line) for line in lines),
        customer_external_id=customer.get("id"),
        customer_email=customer.get("email") or node.get("email"),
        customer_name=customer.get("displayName") or "",
        locale=node.get("customerLocale"),
        shipping_method=(node.get("shippingLine") or {}).get("title") or "",
        financial_status=str(node.get("displayFinancialStatus") or "").lower(),
        fulfillment_status=str(node.get("displayFulfillmentStatus") or "").lower(),
        cancelled_at=parse_time(cancelled) if cancelled else None,
    )


def topic_enum(topic: str) -> str:
    """`orders/create` → `ORDERS_CREATE` (an enum passes through)."""
    return topic.replace("/", "_").upper()


KNOWN_TOPICS = (
    "app/uninstalled",
    "bulk_operations/finish",
    "inventory_items/update",
    "inventory_levels/update",
    "orders/cancelled",
    "orders/create",
    "orders/edited",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/updated",
    "products/create",
    "products/delete",
    "products/update",
    "variants/in_stock",
    "variants/out_of_stock",
)
_TOPIC_PATHS = {topic_enum(t): t for t in KNOWN_TOPICS}


def webhook(node: dict[str, Any]) -> StoreWebhook:
    """The topic comes back in path form for known topics (the enum is ambiguous to split)."""
    endpoint = node.get("endpoint") or {}
    return StoreWebhook(
        external_id=node["id"],
        topic=_TOPIC_PATHS.get(node["topic"], node["topic"]),
        address=endpoint.get("callbackUrl") or "",
    )
