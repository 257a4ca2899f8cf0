"""A large dispatch asks for each store write once, and records each expedite notice once.

A restock readies thousands of lines of one variant in one command; the bus hands all their
events to the subscribers in one transaction. Whatever the number of events, the store is to be
told once per order and once per variant, and a write still waiting takes later requests too.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connector.models import DomainEvent, Notification, Order, Shop, StoreWrite
from connector.runtime import Runtime
from connector.services import selling, store_writes, storefront
from connector.services.orders import ingest_orders
from tests.engine_helpers import snapshot, stock
from tests.shops import ShopFixture, make_shop

ORDERS = 40
SKU = "SHOE-42"  # out of stock in `make_shop`


@pytest.fixture
def shop(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> ShopFixture:
    """A shop selling on backorder whose every line waits longer than its expedite limit.

    The statements' chunk sizes are made small so that 40 orders span several chunks."""
    for module, name in (
        (store_writes, "_KEYS_AT_ONCE"),
        (storefront, "_IDS_AT_ONCE"),
        (selling, "_IDS_AT_ONCE"),
    ):
        monkeypatch.setattr(module, name, 7)
    fixture = make_shop(runtime)
    with runtime.db.transaction() as session:
        row = session.get_one(Shop, fixture.shop_id)
        row.sell_on_backorder, row.expedite_after_days = True, 2
    return fixture


def _place_orders(runtime: Runtime, shop: ShopFixture) -> None:
    """Many one-line orders for one variant, stored in one command, events not yet handed on."""
    placed = runtime.clock.now() - timedelta(days=10)
    orders = [
        snapshot(str(1001 + i), [("v1", 1)], placed_at=placed, updated_at=placed)
        for i in range(ORDERS)
    ]
    with runtime.db.transaction() as session:
        ingest_orders(session, runtime.clock, session.get_one(Shop, shop.shop_id), orders)


def _writes(runtime: Runtime, shop: ShopFixture) -> Counter[tuple[str, str, str]]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(StoreWrite.kind, StoreWrite.target, StoreWrite.status).where(
                StoreWrite.shop_id == shop.shop_id
            )
        )
        return Counter(tuple(row) for row in rows)


def _expedite_notices(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(Notification.dedupe_key)
                .where(Notification.kind == "expedited")
                .order_by(Notification.dedupe_key)
            )
        )


def test_one_dispatch_of_many_events_asks_for_each_write_once(
    runtime: Runtime, shop: ShopFixture
) -> None:
    _place_orders(runtime, shop)
    assert runtime.bus.dispatch_pending(runtime.db) > 0

    writes = _writes(runtime, shop)
    variant = str(shop.variants[SKU])
    with runtime.db.transaction() as session:
        order_ids = {str(i) for i in session.scalars(select(Order.id))}
    assert len(order_ids) == ORDERS
    assert set(writes.values()) == {1}  # one pending row per (kind, target), nothing else
    assert {(kind, target) for kind, target, _ in writes} == (
        {(storefront.ORDER_STATE, order) for order in order_ids}
        | {(storefront.VARIANT_STATE, variant), (selling.KIND, variant)}
    )
    assert {status for _, _, status in writes} == {"pending"}


def test_a_second_dispatch_joins_the_writes_still_waiting(
    runtime: Runtime, shop: ShopFixture
) -> None:
    _place_orders(runtime, shop)
    runtime.bus.dispatch_pending(runtime.db)
    before = _writes(runtime, shop)

    stock(runtime, shop.shop_id, "v1", ORDERS // 2)  # half the lines ready: new events, dispatched

    assert _writes(runtime, shop) == before  # every write asked for again is still waiting
    ready = _expedite_notices(runtime)
    assert len(ready) == ORDERS // 2  # each ready line waited 10 days, the limit is 2


def test_a_replayed_dispatch_records_no_second_expedite_notice_or_write(
    runtime: Runtime, shop: ShopFixture
) -> None:
    _place_orders(runtime, shop)
    runtime.bus.dispatch_pending(runtime.db)
    stock(runtime, shop.shop_id, "v1", ORDERS)
    notices, writes = _expedite_notices(runtime), _writes(runtime, shop)
    assert len(notices) == ORDERS and len(set(notices)) == ORDERS

    with runtime.db.transaction() as session:  # as after a crash between hand-off and mark
        session.execute(update(DomainEvent).values(dispatched_at=None))
    assert runtime.bus.dispatch_pending(runtime.db) > 0

    assert _expedite_notices(runtime) == notices
    assert _writes(runtime, shop) == writes
