"""WooCommerce order JSON → `StoreOrder`.

Statuses are open-ended (plugins register their own), so only the core statuses that do *not*
hold stock are listed; anything else, including an unknown custom status, is treated as an open
order that holds stock (WooCommerce reduces stock on processing/completed/on-hold and restores it
on cancelled/pending). In the common model `cancelled_at` means "no longer demand", so the
non-holding statuses set it to `date_modified_gmt`; a later status change back (pending → paid)
arrives as a newer snapshot without it.

Refunds: the order JSON lists refunds as `{id, reason, total}` only, without per-line
quantities. Those are in `GET /orders/<id>/refunds`: each refund's `line_items` carry a negative
`quantity`, and the order line they refund in the item meta `_refunded_item_id` (WooCommerce
copies the refunded line into the refund and adds that meta; `wc_create_refund`). The adapter
fetches them for orders that list refunds and still hold stock (`refunds_needed`), and
`store_order` sums them per line into `refunded_quantity`. A refund item without the meta is
matched by product and variation when exactly one line of the order has them. A fully refunded
order has status `refunded` and is cancelled as above, so its refunds are not fetched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.base import StoreOrder, StoreOrderLine
from adapters.woocommerce.dates import modified_at, parse_gmt
from adapters.woocommerce.products import price_of

NOT_HOLDING_STOCK = frozenset(
    {"pending", "failed", "cancelled", "refunded", "trash", "checkout-draft", "auto-draft"}
)


REFUNDED_ITEM_KEY = "_refunded_item_id"


def refunds_needed(order: dict[str, Any]) -> bool:
    """Whether the order's per-line refunds matter: it lists refunds and still holds stock."""
    return bool(order.get("refunds")) and str(order.get("status", "")) not in NOT_HOLDING_STOCK


def _refunded_line(item: dict[str, Any], lines: list[dict[str, Any]]) -> str | None:
    """The id of the order line a refund's line item refunds, if it can be told."""
    for meta in item.get("meta_data") or []:
        if meta.get("key") == REFUNDED_ITEM_KEY and str(meta.get("value", "")).strip():
            return str(meta["value"]).strip()
    product = (item.get("product_id"), item.get("variation_id") or 0)
    same = [li for li in lines if (li.get("product_id"), li.get("variation_id") or 0) == product]
    return str(same[0]["id"]) if len(same) == 1 else None


def refunded_quantities(order: dict[str, Any], refunds: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Units refunded per order line id, from `GET /orders/<id>/refunds`, at most the line's."""
    lines = list(order.get("line_items") or [])
    ordered = {str(li["id"]): int(li.get("quantity") or 0) for li in lines}
    refunded: dict[str, int] = {}
    for refund in refunds:
        for item in refund.get("line_items") or []:
            units = abs(int(item.get("quantity") or 0))  # negative in a refund
            line_id = _refunded_line(item, lines)
            if units and line_id in ordered:
                refunded[line_id] = refunded.get(line_id, 0) + units
    return {line_id: min(units, ordered[line_id]) for line_id, units in refunded.items()}


def _line(item: dict[str, Any], fulfilled: bool, refunded: int) -> StoreOrderLine:
    variant = item.get("variation_id") or item.get("product_id") or None
    quantity = int(item.get("quantity") or 0)
    return StoreOrderLine(
        external_id=str(item["id"]),
        variant_external_id=str(variant) if variant else None,
        quantity=quantity,
        sku=str(item.get("sku") or ""),
        title=str(item.get("name") or ""),
        price=price_of(item.get("price")),
        # A completed order shipped what was not refunded.
        fulfilled_quantity=max(quantity - refunded, 0) if fulfilled else 0,
        refunded_quantity=refunded,
    )


def _financial(order: dict[str, Any]) -> str:
    if order.get("status") == "refunded":
        return "refunded"
    if order.get("refunds"):
        return "partially_refunded"
    return "paid" if order.get("date_paid_gmt") else "pending"


def store_order(order: dict[str, Any], refunds: Iterable[dict[str, Any]] = ()) -> StoreOrder:
    """One order; line variant ids are the variation id, else the product id.

    `refunds` is the order's `GET /orders/<id>/refunds` answer, where it was fetched.
    """
    status = str(order.get("status", ""))
    refunded = refunded_quantities(order, refunds)
    updated = modified_at(order)
    billing = order.get("billing") or {}
    name = " ".join(x for x in (billing.get("first_name"), billing.get("last_name")) if x)
    completed = status == "completed"
    return StoreOrder(
        external_id=str(order["id"]),
        name=str(order.get("number") or order["id"]),
        placed_at=parse_gmt(order.get("date_created_gmt")) or updated,
        updated_at=updated,
        lines=tuple(
            _line(i, completed, refunded.get(str(i["id"]), 0))
            for i in order.get("line_items") or []
        ),
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
