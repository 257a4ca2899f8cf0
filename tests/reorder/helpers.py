"""A shop's sales history as a first sync leaves it: orders that shipped, one a day per variant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from connector.models import Order, OrderLine, StockOut, Variant
from connector.runtime import Runtime


def sold(runtime: Runtime, shop_id: int, sku: str, per_day: Sequence[int], tag: str = "") -> None:
    """`per_day[-1]` units were sold yesterday, `per_day[-2]` the day before, and so on (noon,
    shop time roughly), each day's in one order that has shipped."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        variant = session.query(Variant).filter_by(shop_id=shop_id, sku=sku).one()
        for back, units in enumerate(reversed(per_day), start=1):
            if units <= 0:
                continue
            placed = now - timedelta(days=back)
            order = Order(
                shop_id=shop_id,
                external_id=f"h-{sku}-{tag}{back}",
                name=f"#H{back}",
                placed_at=placed,
                platform_updated_at=placed,
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            session.flush()
            session.add(
                OrderLine(
                    shop_id=shop_id,
                    order_id=order.id,
                    external_id=f"h-{sku}-{tag}{back}-1",
                    variant_external_id=variant.external_id,
                    variant_id=variant.id,
                    sku=sku,
                    quantity=units,
                    fulfilled_quantity=units,
                    created_at=now,
                    updated_at=now,
                )
            )


def out_of_stock(runtime: Runtime, shop_id: int, sku: str, days_ago: int, days: int) -> None:
    """The variant had nothing to sell from `days_ago` days ago for `days` days."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        variant = session.query(Variant).filter_by(shop_id=shop_id, sku=sku).one()
        began = now - timedelta(days=days_ago)
        ended = began + timedelta(days=days)
        session.add(
            StockOut(
                shop_id=shop_id,
                variant_id=variant.id,
                started_at=began,
                ended_at=None if ended >= now else ended,
            )
        )


def first_seen(runtime: Runtime, shop_id: int, days_ago: int) -> None:
    """The catalogue was synced `days_ago` days ago."""
    seen = runtime.clock.now() - timedelta(days=days_ago)
    with runtime.db.transaction() as session:
        for variant in session.query(Variant).filter_by(shop_id=shop_id):
            variant.created_at = seen
