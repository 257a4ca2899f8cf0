"""`PUT /orders/<id>` with `line_items`, as WooCommerce's REST v3 orders controller does it.

Source: class-wc-rest-orders-controller.php (`prepare_object_for_database`, `remove_item`, 9.3+)
and class-wc-rest-orders-v2-controller.php (`set_item`, `prepare_line_items`):
- an item with `quantity` exactly 0 (or a null `product_id`) is removed; a removed line item gives
  back the stock it took (`wc_maybe_adjust_line_item_product_stock($item, 0)`: its
  `_reduced_stock`, only while the order is processing, completed or on-hold);
- an item with an `id` is updated: only the props sent change (`name`, `quantity`, `subtotal`,
  `total`), so a new quantity without totals keeps the old totals; stock is NOT adjusted;
- an item without an `id` is created from `product_id`/`variation_id` with total = price x
  quantity; stock is NOT reduced (the order's stock was reduced once, at payment);
- item `meta_data` is written as sent, `_reduced_stock` included (it is what a later
  cancellation or removal gives back).
"""

from __future__ import annotations

from typing import Any

from .errors import WooError
from .models import LineItem, Order
from .stock import stock_owner
from .store import WooStore

HOLDING = ("processing", "completed", "on-hold")
REDUCED_STOCK = "_reduced_stock"


def update_lines(s: WooStore, order: Order, items: list[dict[str, Any]]) -> None:
    """Apply a request's `line_items` to `order` (under the store lock)."""
    for posted in items:
        if not isinstance(posted, dict):
            continue
        if _removes(posted):
            _remove(s, order, int(posted.get("id") or 0))
        elif posted.get("id"):
            _update(s, order, posted)
        else:
            order.line_items.append(_create(s, posted))


def _removes(posted: dict[str, Any]) -> bool:
    quantity = posted.get("quantity")
    zero = isinstance(quantity, int) and not isinstance(quantity, bool) and quantity == 0
    return zero or ("product_id" in posted and posted["product_id"] is None)


def _item(order: Order, item_id: int) -> LineItem:
    item = next((i for i in order.line_items if i.id == item_id), None)
    if item is None:
        raise WooError(
            "woocommerce_rest_invalid_item_id",
            "Order item ID provided is not associated with order.",
            400,
        )
    return item


def _remove(s: WooStore, order: Order, item_id: int) -> None:
    item = _item(order, item_id)
    if order.status in HOLDING and item.reduced_stock > 0:
        target = s.products.get(item.variation_id or item.product_id)
        owner = stock_owner(target, s.products) if target else None
        if owner is not None:
            owner.stock_quantity = (owner.stock_quantity or 0) + item.reduced_stock
            item.reduced_stock = 0
            s._stock_changed(owner)
    order.line_items.remove(item)


def _update(s: WooStore, order: Order, posted: dict[str, Any]) -> None:
    item = _item(order, int(posted["id"]))
    if posted.get("name") is not None:
        item.name = str(posted["name"])
    if posted.get("quantity") is not None:
        item.quantity = int(posted["quantity"])
    if posted.get("subtotal") is not None:
        item.subtotal = float(posted["subtotal"])
    if posted.get("total") is not None:
        item.total = float(posted["total"])
    _set_meta(s, item, posted.get("meta_data"))


def _create(s: WooStore, posted: dict[str, Any]) -> LineItem:
    product_id = int(posted.get("product_id") or 0)
    variation_id = int(posted.get("variation_id") or 0)
    target = s.products.get(variation_id or product_id)
    if target is None or (variation_id and target.parent_id != product_id):
        raise WooError(
            "woocommerce_rest_invalid_product_id", "Product ID provided is invalid.", 400
        )
    item = s._line(target, product_id, variation_id, int(posted.get("quantity") or 1))
    item.subtotal = item.total = item.price * item.quantity
    for prop in ("subtotal", "total"):
        if posted.get(prop) is not None:
            setattr(item, prop, float(posted[prop]))
    _set_meta(s, item, posted.get("meta_data"))
    return item


def _set_meta(s: WooStore, item: LineItem, rows: Any) -> None:
    """Item meta as sent; `_reduced_stock` is the store's own record of what the line took."""
    if not isinstance(rows, list):
        return
    rest = []
    for row in rows:
        if isinstance(row, dict) and row.get("key") == REDUCED_STOCK:
            item.reduced_stock = int(row.get("value") or 0)
        else:
            rest.append(row)
    s._upsert_meta(item.meta_data, rest)
