"""Orders from the store into the model, then through the engine.

Webhooks and reconciliation syncs both end in `ingest_order`, so a missed webhook is repaired
by the next sync with no special code. A snapshot older than the one we hold changes nothing;
the same snapshot twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.base import StoreOrder, StoreOrderLine
from connector.clock import Clock
from connector.domain.events import Event
from connector.models import Backorder, Order, OrderLine, Shop, Variant
from connector.services.backorders import lock_variants, reconcile

EXPEDITED_TIER = 1


@dataclass(frozen=True)
class IngestResult:
    order_id: int | None
    stale: bool
    events: list[Event]


def expedite_tier(shop: Shop, shipping_method: str) -> int:
    words = [w.strip().lower() for w in shop.expedite_keywords.split(",") if w.strip()]
    method = shipping_method.lower()
    return EXPEDITED_TIER if any(word in method for word in words) else 0


def _variant_ids(
    session: Session, shop_id: int, lines: tuple[StoreOrderLine, ...]
) -> dict[str, int]:
    external = {line.variant_external_id for line in lines if line.variant_external_id}
    if not external:
        return {}
    rows = session.execute(
        select(Variant.external_id, Variant.id).where(
            Variant.shop_id == shop_id, Variant.external_id.in_(external)
        )
    )
    return {external_id: variant_id for external_id, variant_id in rows}


def _existing(session: Session, shop_id: int, external_id: str) -> Order | None:
    return session.scalar(
        select(Order).where(Order.shop_id == shop_id, Order.external_id == external_id)
    )


def ingest_order(session: Session, clock: Clock, shop: Shop, snapshot: StoreOrder) -> IngestResult:
    order = _existing(session, shop.id, snapshot.external_id)
    if (
        order is not None
        and order.platform_updated_at
        and (snapshot.updated_at < order.platform_updated_at)
    ):
        return IngestResult(order.id, stale=True, events=[])
    variants = _variant_ids(session, shop.id, snapshot.lines)
    touched = set(variants.values())
    if order is not None:
        touched |= {line.variant_id for line in order.lines if line.variant_id is not None}
    # Lock first: the same order or variant handled by two workers at once takes turns.
    lock_variants(session, touched)
    session.expire_all()
    order = _existing(session, shop.id, snapshot.external_id)
    if order is None:
        order = Order(shop_id=shop.id, external_id=snapshot.external_id)
        session.add(order)
    elif order.platform_updated_at and snapshot.updated_at < order.platform_updated_at:
        return IngestResult(order.id, stale=True, events=[])
    _copy_order(order, snapshot)
    _copy_lines(session, clock, shop, order, snapshot, variants)
    session.flush()
    return IngestResult(order.id, stale=False, events=reconcile(session, clock, touched))


def _copy_order(order: Order, snapshot: StoreOrder) -> None:
    order.name = snapshot.name
    order.placed_at = snapshot.placed_at
    order.platform_updated_at = snapshot.updated_at
    if order.redacted_at is None:  # an erased customer stays erased, whatever the store says
        order.customer_external_id = snapshot.customer_external_id
        order.customer_email = snapshot.customer_email
        order.customer_name = snapshot.customer_name
        order.locale = snapshot.locale
    order.shipping_method = snapshot.shipping_method
    order.financial_status = snapshot.financial_status
    order.fulfillment_status = snapshot.fulfillment_status
    order.cancelled_at = snapshot.cancelled_at


def _copy_lines(
    session: Session,
    clock: Clock,
    shop: Shop,
    order: Order,
    snapshot: StoreOrder,
    variants: dict[str, int],
) -> None:
    tier = expedite_tier(shop, snapshot.shipping_method)
    current = {line.external_id: line for line in order.lines}
    for incoming in snapshot.lines:
        line = current.pop(incoming.external_id, None)
        if line is None:
            line = OrderLine(shop_id=shop.id, external_id=incoming.external_id, priority=tier)
            order.lines.append(line)
        else:
            # A merchant's own priority survives order updates; expedited shipping only raises.
            line.priority = max(line.priority, tier)
        line.variant_external_id = incoming.variant_external_id
        variant_id = variants.get(incoming.variant_external_id or "")
        if line.id is not None and variant_id is not None and variant_id != line.variant_id:
            # An edit swapped the line's variant: its backorder joins the new variant's queue.
            session.execute(
                update(Backorder)
                .where(Backorder.order_line_id == line.id)
                .values(variant_id=variant_id)
            )
        line.variant_id = variant_id
        line.sku = incoming.sku
        line.title = incoming.title
        line.quantity = incoming.quantity
        line.price = incoming.price
        line.fulfilled_quantity = incoming.fulfilled_quantity
        line.refunded_quantity = incoming.refunded_quantity
        line.removed_at = None
    for gone in current.values():
        if gone.removed_at is None:
            gone.removed_at = clock.now()


def forget_order(session: Session, clock: Clock, shop: Shop, external_id: str) -> list[Event]:
    """The store deleted an order: it leaves every queue as a cancellation would.

    The row stays (its history and messages still explain what happened); a later snapshot of
    the same order, if the merchant restores it, is ingested as usual.
    """
    order = _existing(session, shop.id, external_id)
    if order is None or order.cancelled_at is not None:
        return []
    touched = {line.variant_id for line in order.lines if line.variant_id is not None}
    lock_variants(session, touched)
    order.cancelled_at = clock.now()
    session.flush()
    return reconcile(session, clock, touched)
