"""Backorder state pushed back to the stores: the order's tags, data and holds, the variant's ETA.

Two store writes (`connector.services.store_writes`): "order_state" (target: our order id) and
"variant_state" (target: our variant id). The engine's events only *ask* for them, in the
transaction that marks the event dispatched; the job reads what the store should say from the
database when it runs, so a burst of events for one variant is one write, and a replayed
webhook that changes nothing sends nothing. (A line that waited too long is tagged "expedite"
here; telling its customer is `connector.services.notify`'s: one recorder of messages.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import OrderPush, StoreAdapter, StoreError, push_one
from connector.bus import PublishedEvent, event_transaction
from connector.domain.storefront import (
    LineBackorder,
    OrderLineFacts,
    QueuedLine,
    describe_changes,
    order_state,
    variant_state,
)
from connector.models import Backorder, Order, OrderLine, Shop, Variant
from connector.models.backorders import QUEUED_STATUSES
from connector.services import store_writes

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

ORDER_STATE = "order_state"
VARIANT_STATE = "variant_state"
DATA_KEY = "state"  # Shopify: metafield $app:backorder.state; WooCommerce: meta _backorder_state
HOLD_NOTE = "Backordered: waiting for stock (Backorder Connector)"
BACKORDER_EVENTS = (
    "BackorderCreated",
    "EtaChanged",
    "BackorderReady",
    "BackorderCancelled",
    "BackorderFulfilled",
)
STOCK_EVENTS = ("VariantOutOfStock", "VariantBackInStock")
_IDS_AT_ONCE = 500  # ids per IN (...): well under every bound-parameter limit


def _owned(session: Session, model: Any, shop: Shop, target: str) -> Any:
    row = session.get(model, int(target)) if target.isdigit() else None
    return row if row is not None and row.shop_id == shop.id else None


# ---- order state -------------------------------------------------------------------------------


class OrderStateWriter:
    """Tags, per-line data and holds of one order; a private note where the store keeps them."""

    def desired(self, session: Session, shop: Shop, target: str) -> dict[str, Any] | None:
        order = _owned(session, Order, shop, target)
        if order is None:
            return None
        lines = session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id == order.id, OrderLine.removed_at.is_(None))
            .order_by(OrderLine.id)
        ).all()
        backorders = {
            b.order_line_id: b
            for b in session.scalars(
                select(Backorder).where(Backorder.order_line_id.in_([line.id for line in lines]))
            )
        }
        facts = [
            OrderLineFacts(line.external_id, line.sku, _line_backorder(backorders.get(line.id)))
            for line in lines
        ]
        state = order_state(facts, expedite_after_days=shop.expedite_after_days)
        return {"order": order.external_id, **state}

    def send(
        self,
        adapter: StoreAdapter,
        target: str,
        value: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        push_one(adapter, _push(value, previous))

    def batch_size(self, adapter: StoreAdapter) -> int:
        return getattr(adapter, "order_push_batch", 1)

    def send_many(
        self,
        adapter: StoreAdapter,
        items: Sequence[tuple[str, dict[str, Any], dict[str, Any] | None]],
    ) -> dict[str, Exception | None]:
        """Many orders of one shop at once (a restock readying a thousand lines): the adapter
        applies them as the platform allows it cheapest (Shopify: bulk mutations)."""
        pushes = {target: _push(value, previous) for target, value, previous in items}
        done = adapter.push_orders(list(pushes.values()))
        missing = StoreError("the adapter gave no outcome for this order")
        return {t: done.get(p.order_external_id, missing) for t, p in pushes.items()}


def _push(value: dict[str, Any], previous: dict[str, Any] | None) -> OrderPush:
    """Only what differs from the last write: tags added or removed one by one (the merchant's
    own tags are never touched), the data, the holds, and a note saying what changed."""
    before = previous or {"tags": [], "hold": [], "data": None}
    changed_hold = set(value["hold"]) != set(before["hold"])
    said = describe_changes(previous, value)
    return OrderPush(
        value["order"],
        add_tags=tuple(t for t in value["tags"] if t not in before["tags"]),
        remove_tags=tuple(t for t in before["tags"] if t not in value["tags"]),
        data_key=DATA_KEY,
        data=value["data"] if value["data"] != before["data"] else None,
        release_holds=changed_hold and bool(before["hold"]),
        hold_lines=tuple(value["hold"]) if changed_hold else (),
        hold_note=HOLD_NOTE,
        note="Backorder update: " + " ".join(said) if said else "",
    )


def _line_backorder(b: Backorder | None) -> LineBackorder | None:
    if b is None:
        return None
    return LineBackorder(
        status=b.status,
        quantity=b.quantity,
        allocated=b.allocated_quantity,
        eta=b.eta,
        eta_source=b.eta_source,
        placed_at=b.placed_at,
        ready_at=b.ready_at,
    )


# ---- variant state -----------------------------------------------------------------------------


class VariantStateWriter:
    """A variant's current ETA, queue depth and top alternatives, for the theme."""

    def desired(self, session: Session, shop: Shop, target: str) -> dict[str, Any] | None:
        variant = _owned(session, Variant, shop, target)
        if variant is None:
            return None
        waiting = session.scalars(
            select(Backorder).where(
                Backorder.variant_id == variant.id, Backorder.status.in_(QUEUED_STATUSES)
            )
        ).all()
        queue = [
            QueuedLine(
                b.priority,
                b.placed_at,
                b.order_sort_key,
                b.quantity,
                b.allocated_quantity,
                b.eta,
                b.eta_source,
            )
            for b in waiting
        ]
        needs_alternatives = bool(waiting) or variant.in_stock is False
        ranked = _alternatives(session, shop, variant, waiting) if needs_alternatives else []
        state = variant_state(queue, _external_ids(session, shop, ranked))
        return {"variant": variant.external_id, "data": state}

    def send(
        self,
        adapter: StoreAdapter,
        target: str,
        value: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        data = value["data"]
        adapter.set_variant_data(
            value["variant"], DATA_KEY, data, references={"alternatives": data["alternatives"]}
        )


def _alternatives(session: Session, shop: Shop, variant: Variant, waiting: Any) -> list[int]:
    """The ranking stored with the newest waiting backorder, else ranked now."""
    stored = [b.alternatives for b in sorted(waiting, key=lambda b: b.id) if b.alternatives]
    if stored:
        return [int(item["variant_id"]) for item in stored[-1].get("items", ())]
    from connector.services.alternatives import alternatives_for
    from connector.services.errors import NotFound

    try:
        return [s.variant_id for s in alternatives_for(session, shop.id, variant.id, limit=5)]
    except NotFound:
        return []


def _external_ids(session: Session, shop: Shop, ids: list[int]) -> list[str]:
    if not ids:
        return []
    found = dict(
        session.execute(
            select(Variant.id, Variant.external_id).where(
                Variant.id.in_(ids), Variant.shop_id == shop.id
            )
        ).all()
    )
    return [found[i] for i in ids if i in found]


# ---- subscriptions -----------------------------------------------------------------------------


def on_backorder_events(runtime: Runtime, events: list[PublishedEvent]) -> None:
    """Ask for each line's order and variant to be brought up to date in the store.

    One dispatch hands over thousands of these (a restock readying 10,000 lines), all in one
    transaction: the lines, the shops and the waiting writes are read a few statements at a
    time, never per event.
    """
    with event_transaction(runtime.db, events[0]) as session:
        shops = _active_shops(session, {event.shop_id for event in events})
        ours = [event for event in events if event.shop_id in shops]
        lines = _lines(session, {event.payload.get("line_id") or 0 for event in ours})
        wanted: list[store_writes.Wanted] = []
        for event in ours:
            line_id = event.payload.get("line_id") or 0
            if line_id not in lines:
                continue
            order_id, variant_id = lines[line_id]
            wanted.append((event.shop_id, ORDER_STATE, str(order_id), order_id))
            wanted.append((event.shop_id, VARIANT_STATE, str(variant_id), None))
        store_writes.request_many(runtime, session, wanted)


def on_stock_events(runtime: Runtime, events: list[PublishedEvent]) -> None:
    """A variant went out of or back into stock: its ETA and alternatives may read differently."""
    with event_transaction(runtime.db, events[0]) as session:
        shops = _active_shops(session, {event.shop_id for event in events})
        store_writes.request_many(
            runtime,
            session,
            [
                (event.shop_id, VARIANT_STATE, str(event.payload["variant_id"]), None)
                for event in events
                if event.shop_id in shops and event.payload.get("variant_id") is not None
            ],
        )


def _active_shops(session: Session, shop_ids: set[int]) -> set[int]:
    """Installed shops among `shop_ids`."""
    return set(
        session.scalars(
            select(Shop.id).where(Shop.id.in_(sorted(shop_ids)), Shop.status == "active")
        )
    )


def _lines(session: Session, line_ids: set[int]) -> dict[int, tuple[int, int]]:
    """(order id, variant id) by line id."""
    ids = sorted(line_ids - {0})
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), _IDS_AT_ONCE):
        rows = session.execute(
            select(OrderLine.id, OrderLine.order_id, OrderLine.variant_id).where(
                OrderLine.id.in_(ids[start : start + _IDS_AT_ONCE])
            )
        )
        found.update((line_id, (order_id, variant_id)) for line_id, order_id, variant_id in rows)
    return found


def register() -> None:
    store_writes.register()  # whoever requests a write can also run it
    store_writes.register_writer(ORDER_STATE, OrderStateWriter())
    store_writes.register_writer(VARIANT_STATE, VariantStateWriter())


def subscribe(runtime: Runtime) -> None:
    """Writers registered and the engine's events wired to them (from `connector.tasks`)."""
    register()
    runtime.bus.subscribe_batch(
        BACKORDER_EVENTS, lambda events: on_backorder_events(runtime, events)
    )
    runtime.bus.subscribe_batch(STOCK_EVENTS, lambda events: on_stock_events(runtime, events))
