"""Driving the engine as the webhooks and syncs will: order snapshots and stock levels."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel, StoreOrder, StoreOrderLine
from connector.commands import execute
from connector.models import Backorder, DomainEvent, OrderLine, Shop, Variant
from connector.runtime import Runtime
from connector.services.orders import ingest_order
from connector.services.stock import add_incoming, record_level


def snapshot(
    order_id: str,
    lines: list[tuple[str, int]],
    *,
    placed_at: datetime,
    updated_at: datetime,
    cancelled_at: datetime | None = None,
    shipping: str = "Standard",
    fulfilled: dict[str, int] | None = None,
    refunded: dict[str, int] | None = None,
) -> StoreOrder:
    """An order as an adapter would return it; `lines` are (variant external id, quantity)."""
    fulfilled = fulfilled or {}
    refunded = refunded or {}
    return StoreOrder(
        external_id=order_id,
        name=f"#{order_id}",
        placed_at=placed_at,
        updated_at=updated_at,
        customer_email=f"buyer{order_id}@example.com",
        shipping_method=shipping,
        cancelled_at=cancelled_at,
        lines=tuple(
            StoreOrderLine(
                external_id=f"{order_id}-{variant}",
                variant_external_id=variant,
                quantity=qty,
                fulfilled_quantity=fulfilled.get(variant, 0),
                refunded_quantity=refunded.get(variant, 0),
            )
            for variant, qty in lines
        ),
    )


def ingest(runtime: Runtime, shop_id: int, order: StoreOrder) -> Any:
    return execute(
        runtime, lambda s: ingest_order(s, runtime.clock, s.get_one(Shop, shop_id), order)
    )


def stock(
    runtime: Runtime, shop_id: int, variant: str, on_hand: int, at: datetime | None = None
) -> Any:
    level = StoreInventoryLevel(
        variant_external_id=variant,
        location_external_id="1",
        on_hand=on_hand,
        available=on_hand,
        updated_at=at or runtime.clock.now(),
    )
    return execute(
        runtime, lambda s: record_level(s, runtime.clock, s.get_one(Shop, shop_id), level)
    )


def expect_stock(
    runtime: Runtime, variant_id: int, quantity: int, expected_on: date, reference: str
) -> Any:
    """Incoming stock recorded as a merchant does (API, dashboard): the queue is re-planned."""

    def add(session: Session) -> Any:
        variant = session.get_one(Variant, variant_id)
        return add_incoming(
            session,
            runtime.clock,
            variant,
            quantity=quantity,
            expected_on=expected_on,
            reference=reference,
        )

    return execute(runtime, add)


def backorders(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Backorders keyed by the order line's external id."""
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(OrderLine.external_id, Backorder).join(
                OrderLine, OrderLine.id == Backorder.order_line_id
            )
        ).all()
        return {
            ext: {
                "quantity": b.quantity,
                "allocated": b.allocated_quantity,
                "status": b.status,
                "eta": b.eta,
                "eta_source": b.eta_source,
                "priority": b.priority,
                "id": b.id,
                "first_promised_eta": b.first_promised_eta,
            }
            for ext, b in rows
        }


def events(runtime: Runtime) -> list[tuple[str, dict[str, Any]]]:
    """Every recorded event, in the order raised, as (name, payload)."""
    with runtime.db.transaction() as session:
        return [
            (record.name, payload)
            for record in session.scalars(select(DomainEvent).order_by(DomainEvent.id))
            for payload in record.payload["events"]
        ]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
