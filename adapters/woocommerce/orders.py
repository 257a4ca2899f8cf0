"""WooCommerce order JSON → `StoreOrder`.

Statuses are open-ended (plugins register their own), so only the core statuses that do *not*
hold stock are listed; anything else, including an unknown custom status, is treated as an open
order that holds stock (WooCommerce reduces stock on processing/completed/on-hold and restores it
on cancelled/pending). In the common model `cancelled_at` means "no longer demand", so the
non-holding statuses set it to `date_modified_gmt`; a later status change back (pending → paid)
arrives as a newer snapshot without it.

Refunds: the order JSON lists refunds as `{id, reason, total}` only, without per-line
quantities, so `refunded_quantity` is 0; a fully refunded order has status `refunded` and is
cancelled as above. Partial line refunds would need `GET /orders/<id>/refunds` (not done).
"""

from __future__ import annotations

from typing import Any

from adapters.base import StoreOrder, StoreOrderLine
from adapters.woocommerce.dates import modified_at, parse_gmt
from adapters.woocommerce.products import price_of

NOT_HOLDING_STOCK = frozenset(
    {"pending", "failed", "cancelled", "refunded", "trash", "checkout-draft", "auto-draft"}
)


def _line(item: dict[str, Any], fulfilled: bool) -> StoreOrderLine:
    variant = item.get("variation_id") or item.get("product_id") or None
    quantity = int(item.get("quantity") or 0)
    return StoreOrderLine(
        external_id=str(item["id"]),
        variant_external_id=str(variant) if variant else None,
        quantity=quantity,
        sku=str(item.get("sku") or ""),
        title=str(item.get("name") or ""),
        price=price_of(item.get("price")),
        fulfilled_quantity=quantity if fulfilled else 0,
    )


def _financial(order: dict[str, Any]) -> str:
    if order.get("status") == "refunded":
        return "refunded"
    if order.get("refunds"):
        return "partially_refunded"
    return "paid" if order.get("date_paid_gmt") else "pending"


def store_order(order: dict[str, Any]) -> StoreOrder:
    """One order; line variant ids are the variation id, else the product id."""
    status = str(order.get("status", ""))
    updated = modified_at(order)
    billing = order.get("billing") or {}
    name = " ".join(x for x in (billing.get("first_name"), billing.get("last_name")) if x)
    completed = status == "completed"
    return StoreOrder(
        external_id=str(order["id"]),
        name=str(order.get("number") or order["id"]),
        placed_at=parse_gmt(order.get("date_created_gmt")) or updated,
        updated_at=updated,
        lines=tuple(_line(i, completed) for i in order.get("line_items") or []),
        customer_external_id=str(order["customer_id"]) if order.get("customer_id") else None,
        customer_email=billing.get("email") or None,
        customer_name=name,
        shipping_method=", ".join(
            str(s.get("method_title", "")) for s in order.get("shipping_lines") or []
        ),
        financial_status=_financial(order),
        fulfillment_status="fulfilled" if completed else "unfulfilled",
        cancelled_at=updated if status in NOT_HOLDING_STOCK else None,
    )
