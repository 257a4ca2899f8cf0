"""The stores' own webhooks, end to end: a sandbox store signs and posts to the served product,
and the backorder appears, then is covered by a restock, with no sync in between."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from connector.demo import Stack, install_shops, wait_for_first_sync
from connector.models import Backorder, Order, OrderLine, WebhookEvent
from tests.processes import wait_for


def _line_backorders(stack: Stack, order_external_id: str) -> list[tuple[int, int, str]]:
    """(short quantity, allocated, status) of the order's backorders."""
    with stack.runtime.db.transaction() as session:
        rows = session.execute(
            select(Backorder.quantity, Backorder.allocated_quantity, Backorder.status)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.external_id == order_external_id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _processed(stack: Stack, topic: str, resource_id: str | None = None) -> bool:
    with stack.runtime.db.transaction() as session:
        statement = select(WebhookEvent.state).where(WebhookEvent.topic == topic)
        if resource_id is not None:
            statement = statement.where(WebhookEvent.resource_id == resource_id)
        states = set(session.scalars(statement))
    return bool(states) and states <= {"done", "ignored"}


def _installed(stack: Stack) -> Any:
    shops, _ = install_shops(stack)
    for shop_id in (shops.shopify_id, shops.woocommerce_id):
        wait_for_first_sync(stack.runtime, shop_id)
    return shops


def test_shopify_order_and_restock_webhooks_drive_the_queue(stack: Stack) -> None:
    _installed(stack)
    store = stack.sandboxes.shopify.store
    from sandbox.shopify.ids import gid

    variant = next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    )
    target = gid("ProductVariant", variant.number)
    order = store.place_order([(target, store.available(variant) + 2)])
    order_gid = order if isinstance(order, str) else gid("Order", order.number)

    wait_for(lambda: _processed(stack, "orders/create", order_gid), 20, "orders/create")
    assert _line_backorders(stack, order_gid) == [(2, 0, "waiting")]

    store.restock(target, 2)  # → inventory_levels/update; the adapter reads the level's quantities
    covered = [(2, 2, "ready")]
    wait_for(lambda: _line_backorders(stack, order_gid) == covered, 20, "the restock to cover it")


def test_woocommerce_order_and_restock_webhooks_drive_the_queue(stack: Stack) -> None:
    _installed(stack)
    store = stack.sandboxes.woocommerce.store
    product = next(
        p
        for p in store.products.values()
        if p.type == "simple"
        and p.manage_stock
        and p.backorders in ("notify", "yes")
        and (p.stock_quantity or 0) >= 0
    )
    order = store.place_order([(product.id, 0, (product.stock_quantity or 0) + 2)])
    order_id = str(order if isinstance(order, int) else order.id)

    wait_for(lambda: _processed(stack, "order.created", order_id), 20, "order.created")
    assert _line_backorders(stack, order_id) == [(2, 0, "waiting")]

    store.restock(product.id, 0, 2)  # → product.updated with the new stock_quantity
    covered = [(2, 2, "ready")]
    wait_for(lambda: _line_backorders(stack, order_id) == covered, 20, "the restock to cover it")
