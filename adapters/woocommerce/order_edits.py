"""Changing what a customer ordered on WooCommerce, through `PUT /orders/<id>` (REST v3).

What WooCommerce does by itself, and what this module adds (class-wc-rest-orders-controller.php
and class-wc-rest-orders-v2-controller.php):
- `{"id": <item>, "quantity": 0}` (exactly the integer 0) removes the item, and since
  WooCommerce 9.3 gives back the stock it took (`wc_maybe_adjust_line_item_product_stock($item,
  0)` while the order is processing, completed or on-hold);
- `{"id": <item>, "quantity": n}` changes the quantity only: WooCommerce neither recomputes the
  item's `subtotal`/`total` (order totals are recalculated from item totals) nor adjusts stock.
  So we send the totals, scaled from the item's own per-unit amounts (discounts kept), and
  return the units to stock ourselves, recording the new `_reduced_stock` on the item so a later
  cancellation does not give them back twice;
- a new item `{product_id, variation_id, quantity}` gets total = price x quantity from
  WooCommerce, but its stock is not taken (the order's stock was reduced once, at payment): we
  take it and record `_reduced_stock`, as checkout would have;
- an order left with no line is cancelled instead (`status: cancelled`: WooCommerce gives back
  every line's stock and keeps the lines on record).
Stock is changed by reading the stock owner and writing `stock_quantity` back (wc/v3 has no
relative stock change): a sale landing between the two requests is not seen by that write.
Each adjustment is recorded as a private order note, as WooCommerce's own order screen does.
Completed (shipped) and no-longer-open orders cannot be changed: NotSupported.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.base import NotSupported, StoreError
from adapters.woocommerce.client import WooClient
from adapters.woocommerce.orders import NOT_HOLDING_STOCK

HOLDING = frozenset({"processing", "completed", "on-hold"})  # stock was reduced for the order
REDUCED_STOCK = "_reduced_stock"
CENT = Decimal("0.01")

ParentOf = Callable[[str], str | None]


class OrderEdits:
    """One store's order edits, over the adapter's client (its retries and timeouts)."""

    def __init__(self, client: WooClient, parent_of: ParentOf) -> None:
        self.client = client
        self.parent_of = parent_of

    def change(
        self,
        order: dict[str, Any],
        line_external_id: str,
        *,
        keep_quantity: int,
        add_variant_external_id: str | None,
        add_quantity: int,
        staff_note: str,
    ) -> dict[str, Any] | None:
        """The order JSON after the change, or None when nothing had to change."""
        item = _item(order, line_external_id)
        quantity = int(item.get("quantity") or 0)
        _check(order, quantity, keep_quantity, add_variant_external_id, add_quantity)
        adding = add_variant_external_id is not None and not _has_variant(
            order, add_variant_external_id
        )
        if keep_quantity == quantity and not adding:
            return None
        path = f"orders/{order['id']}"
        holding = str(order.get("status")) in HOLDING
        if _empties(order, item, keep_quantity, adding):
            updated = self.client.put(path, {"status": "cancelled"})
            self._note(order, staff_note)
            return dict(updated)
        lines = [self._kept(item, keep_quantity, holding)]
        added: tuple[str, str] | None = None
        if adding and add_variant_external_id is not None:
            added = self._product_of(add_variant_external_id)
            lines.append(_new_line(added, add_quantity, holding))
        updated = self.client.put(path, {"line_items": lines})
        if holding and 0 < keep_quantity < quantity:
            self._adjust(order, item, _ids(item), quantity - keep_quantity)
        if holding and added is not None:
            self._adjust(order, None, added, -add_quantity)
        self._note(order, staff_note)
        return dict(updated)

    def _kept(self, item: dict[str, Any], keep: int, holding: bool) -> dict[str, Any]:
        if keep == 0:
            return {"id": item["id"], "quantity": 0}
        quantity = int(item["quantity"])
        line: dict[str, Any] = {
            "id": item["id"],
            "quantity": keep,
            "subtotal": _scaled(item.get("subtotal"), quantity, keep),
            "total": _scaled(item.get("total"), quantity, keep),
        }
        if holding:
            line["meta_data"] = [{"key": REDUCED_STOCK, "value": keep}]
        return line

    def _product_of(self, variant_external_id: str) -> tuple[str, str]:
        """(product id, variation id or "0") of a variant: a simple product is its own."""
        parent = self.parent_of(variant_external_id)
        return (parent, variant_external_id) if parent else (variant_external_id, "0")

    def _adjust(
        self, order: dict[str, Any], item: dict[str, Any] | None, ids: tuple[str, str], delta: int
    ) -> None:
        """Stock of the product (or the variation, or its managing parent) moved by `delta`."""
        product_id, variation_id = ids
        path = f"products/{product_id}"
        if variation_id != "0":
            path = f"products/{product_id}/variations/{variation_id}"
        record = self.client.get(path)
        if record.get("manage_stock") == "parent":
            path = f"products/{product_id}"
            record = self.client.get(path)
        if record.get("manage_stock") is not True:
            return
        before = int(record.get("stock_quantity") or 0)
        self.client.put(path, {"stock_quantity": before + delta})
        name = (item or {}).get("name") or record.get("name") or path
        note = f"Adjusted stock: {name} ({before}&rarr;{before + delta})"
        self.client.post(f"orders/{order['id']}/notes", {"note": note, "customer_note": False})

    def _note(self, order: dict[str, Any], staff_note: str) -> None:
        if staff_note:
            body = {"note": staff_note, "customer_note": False}
            self.client.post(f"orders/{order['id']}/notes", body)


def _item(order: dict[str, Any], line_external_id: str) -> dict[str, Any]:
    for item in order.get("line_items") or []:
        if str(item.get("id")) == str(line_external_id):
            return dict(item)
    raise StoreError(f"order {order.get('id')} has no line {line_external_id}")


def _check(
    order: dict[str, Any], quantity: int, keep: int, add_variant: str | None, add_quantity: int
) -> None:
    if keep < 0 or keep > quantity:
        raise ValueError(f"keep_quantity {keep} is outside 0..{quantity}")
    if add_variant is not None and add_quantity <= 0:
        raise ValueError("add_quantity must be positive when a variant is added")
    status = str(order.get("status", ""))
    number = order.get("number") or order.get("id")
    if status == "completed":
        raise NotSupported(f"Order {number} is completed: shipped lines cannot be changed")
    if status in NOT_HOLDING_STOCK - {"pending"}:
        raise NotSupported(f"Order {number} is {status}: it can no longer be changed")


def _ids(item: dict[str, Any]) -> tuple[str, str]:
    return str(item.get("product_id") or 0), str(item.get("variation_id") or 0)


def _has_variant(order: dict[str, Any], variant_external_id: str) -> bool:
    return any(
        str(i.get("variation_id") or i.get("product_id")) == variant_external_id
        and int(i.get("quantity") or 0) > 0
        for i in order.get("line_items") or []
    )


def _empties(order: dict[str, Any], item: dict[str, Any], keep: int, adding: bool) -> bool:
    if keep > 0 or adding:
        return False
    others = [i for i in order.get("line_items") or [] if str(i.get("id")) != str(item["id"])]
    return all(int(i.get("quantity") or 0) == 0 for i in others)


def _new_line(ids: tuple[str, str], quantity: int, holding: bool) -> dict[str, Any]:
    product_id, variation_id = ids
    line: dict[str, Any] = {
        "product_id": int(product_id),
        "variation_id": int(variation_id),
        "quantity": quantity,
    }
    if holding:
        line["meta_data"] = [{"key": REDUCED_STOCK, "value": quantity}]
    return line


def _scaled(amount: Any, quantity: int, keep: int) -> str:
    """The item's amount for `keep` units at its own per-unit amount (discounts included)."""
    value = Decimal(str(amount or "0")) * keep / quantity
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))
