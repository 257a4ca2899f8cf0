"""10,000 lines readied in one dispatch are recorded in a few set-based statements."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, insert, select

from connector.bus import PublishedEvent
from connector.models import Backorder, Notification, Order, OrderLine
from connector.runtime import Runtime
from connector.services.notify.record import on_events
from tests.shops import make_shop

LINES = 10_000


def _many_backorders(runtime: Runtime, shop_id: int, variant_id: int) -> list[int]:
    now = runtime.clock.now()
    stamp = {"shop_id": shop_id, "created_at": now, "updated_at": now}
    with runtime.db.transaction() as session:
        session.execute(
            insert(Order),
            [
                {
                    **stamp,
                    "external_id": f"o{i}",
                    "name": f"#{i}",
                    "placed_at": now,
                    "customer_email": f"c{i}@example.com",
                }
                for i in range(LINES)
            ],
        )
        orders = dict(session.execute(select(Order.external_id, Order.id)).all())
        session.execute(
            insert(OrderLine),
            [
                {
                    **stamp,
                    "order_id": orders[f"o{i}"],
                    "external_id": "1",
                    "variant_id": variant_id,
                    "sku": "SHOE-42",
                    "quantity": 1,
                }
                for i in range(LINES)
            ],
        )
        lines = session.execute(select(OrderLine.id)).scalars().all()
        session.execute(
            insert(Backorder),
            [
                {
                    **stamp,
                    "order_line_id": line,
                    "variant_id": variant_id,
                    "quantity": 1,
                    "status": "ready",
                    "placed_at": now - timedelta(days=1),
                    "ready_at": now,
                    "order_sort_key": f"{line:012d}",
                }
                for line in lines
            ],
        )
        return list(session.scalars(select(Backorder.id).order_by(Backorder.id)))


def test_ten_thousand_ready_lines_make_ten_thousand_rows_in_few_statements(
    runtime: Runtime,
) -> None:
    shop = make_shop(runtime)
    ids = _many_backorders(runtime, shop.shop_id, shop.variants["SHOE-42"])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = runtime.db.engine
    with runtime.db.transaction() as session:
        events = [
            PublishedEvent(
                1,
                i,
                shop.shop_id,
                "BackorderReady",
                {"backorder_id": b, "line_id": 0, "variant_id": 0, "quantity": 1},
                session,
            )
            for i, b in enumerate(ids)
        ]
        event.listen(engine, "before_cursor_execute", count)
        try:
            on_events(runtime, events)
            on_events(runtime, events)  # the same events again: a replay records nothing more
        finally:
            event.remove(engine, "before_cursor_execute", count)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == LINES
        kinds = set(session.scalars(select(Notification.kind).distinct()))
    assert kinds == {"ready"}
    # per call: the shop, ~5 chunks of loads, told, keys, one insert, ids; far from 10,000
    assert len(statements) < 80, len(statements)
