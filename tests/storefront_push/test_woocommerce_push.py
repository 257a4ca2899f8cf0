"""Backorder state pushed to a WooCommerce store (the sandbox), end to end through sync and jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.models import Notification, Shop
from connector.services import store_writes
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.store import WooStore
from tests.storefront_push.conftest import Harness, install_woo, without_waits


def _meta(record: Any, key: str) -> Any:
    return next((m.value for m in record.meta_data if m.key == key), None)


def _notes(store: WooStore, order_id: int) -> list[str]:
    notes = sorted((n for n in store.notes.values() if n.order_id == order_id), key=lambda n: n.id)
    assert not any(n.customer_note for n in notes)  # private: WooCommerce e-mails customer notes
    return [n.note for n in notes]


@pytest.fixture
def products(woo: RunningWoo) -> tuple[int, int]:
    """A kettle with one in stock that may be sold on backorder, and mugs aplenty."""
    store = woo.store
    kettle = store.new_product(
        name="Kettle",
        sku="KETTLE",
        regular_price="39.00",
        manage_stock=True,
        stock_quantity=1,
        backorders="notify",
    )
    mug = store.new_product(
        name="Mug", sku="MUG", regular_price="9.00", manage_stock=True, stock_quantity=10
    )
    return kettle.id, mug.id


@pytest.fixture
def shop(runtime: Any, woo: RunningWoo, products: tuple[int, int]) -> Harness:
    return install_woo(runtime, woo)


def _order_with_merchant_tag(store: WooStore, kettle: int, mug: int, kettles: int = 3) -> int:
    order_id = store.place_order([(kettle, 0, kettles), (mug, 0, 1)])
    store.order(order_id).meta_data.append(store.meta("backorder_tags", ["gift"]))
    return order_id


def test_a_backorder_holds_the_order_with_meta_and_notes_and_a_restock_releases_it(
    shop: Harness, woo: RunningWoo, products: tuple[int, int]
) -> None:
    store = woo.store
    kettle, mug = products
    order_id = _order_with_merchant_tag(store, kettle, mug)
    shop.sync()

    order = store.order(order_id)
    assert order.status == "on-hold"
    assert _meta(order, "backorder_tags") == ["gift", "backordered"]
    state = _meta(order, "_backorder_state")
    by_sku = {line["sku"]: line for line in state["lines"]}
    assert (by_sku["KETTLE"]["state"], by_sku["KETTLE"]["short"]) == ("waiting", 2)
    assert by_sku["MUG"]["state"] == "in_stock"
    assert state["backordered"] is True
    notes = _notes(store, order_id)
    kettle_line = str(order.line_items[0].id)
    assert any(f"(lines {kettle_line})" in n for n in notes)  # the hold names the held line only
    assert any("KETTLE: 2 short, backordered, expected" in n for n in notes)
    shown = _meta(store.products[kettle], "_backorder_state")
    assert (shown["waiting_lines"], shown["waiting_units"]) == (1, 2)
    assert _meta(store.products[kettle], "_backorder_alternatives") == shown["alternatives"]

    store.restock(kettle, 0, 2)
    shop.sync(full=True)
    order = store.order(order_id)
    assert order.status == "processing"
    assert _meta(order, "backorder_tags") == ["gift"]
    assert {line["state"] for line in _meta(order, "_backorder_state")["lines"]} == {
        "ready",
        "in_stock",
    }
    latest = _notes(store, order_id)[-1]
    assert "KETTLE: stock arrived, ready to ship." in latest and "Hold released" in latest
    assert _meta(store.products[kettle], "_backorder_state")["eta"] is None


def test_a_line_that_waited_too_long_is_expedited_and_the_customer_is_queued_a_notice(
    runtime: Any, shop: Harness, woo: RunningWoo, products: tuple[int, int]
) -> None:
    store = woo.store
    kettle, mug = products
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).expedite_after_days = 2
    order_id = _order_with_merchant_tag(store, kettle, mug)
    shop.sync()
    runtime.clock.advance(timedelta(days=3))
    store.restock(kettle, 0, 2)
    shop.sync(full=True)

    order = store.order(order_id)
    assert _meta(order, "backorder_tags") == ["gift", "expedite"]
    assert _meta(order, "_backorder_state")["expedite"] is True
    assert "waited longer than the shop's limit, ship expedited" in _notes(store, order_id)[-1]
    with runtime.db.transaction() as session:
        expedited = select(Notification).where(Notification.kind == "expedited")
        notices = session.scalars(expedited).all()
        assert [(n.kind, n.status, n.payload["sku"]) for n in notices] == [
            ("expedited", "pending", "KETTLE")
        ]
        # The line waited past the limit: "expedited" says it is ready, so no "ready" as well.
        assert session.scalars(select(Notification.kind)).all() == ["placed", "expedited"]
    shop.sync(full=True)  # a replay records no second notice
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(Notification)).all()) == 2


def test_a_store_answering_500_is_retried_and_the_write_ends_sent(
    runtime: Any,
    shop: Harness,
    woo: RunningWoo,
    products: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_waits(monkeypatch)
    store = woo.store
    kettle, mug = products
    order_id = _order_with_merchant_tag(store, kettle, mug)
    shop.sync(send=False)
    # Every attempt the client makes within one try fails: the write itself must retry.
    store.fail_next(store_writes.ATTEMPTS_PER_TRY, 500)
    shop.drain()
    (failed,) = [w for w in shop.writes() if w.status == "pending"]  # the first one sent
    assert failed.attempts == 1 and "500" in (failed.last_error or "")

    runtime.clock.advance(timedelta(minutes=1))  # past the first backoff (30 s ± 20 %)
    store_writes.sweep(runtime)
    shop.drain()
    assert [(w.status, w.last_error) for w in shop.writes()] == [("sent", None)] * 2
    assert [w.attempts for w in shop.writes() if w.id == failed.id] == [2]
    assert _meta(store.order(order_id), "backorder_tags") == ["gift", "backordered"]


def test_refused_keys_fail_the_write_and_mark_the_shop(
    runtime: Any, shop: Harness, woo: RunningWoo, products: tuple[int, int]
) -> None:
    store = woo.store
    kettle, mug = products
    order_id = _order_with_merchant_tag(store, kettle, mug)
    shop.sync(send=False)
    for key_id in list(store.keys):
        store.delete_key(key_id)  # the merchant revoked our keys
    shop.drain()
    assert {w.status for w in shop.writes()} == {"failed"}
    with runtime.db.transaction() as session:
        assert session.get_one(Shop, shop.shop_id).needs_reauthorization is True
    assert _meta(store.order(order_id), "backorder_tags") == ["gift"]
