"""WooCommerce partial refunds: which units of which line a refund took back.

The order JSON lists refunds as `{id, reason, total}` only. `GET /orders/<id>/refunds` has the
lines: each a copy of the refunded order line with a negative `quantity` and the item meta
`_refunded_item_id` naming it. The adapter reads them for orders that list refunds, so the
engine stops waiting for units the customer no longer wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select
from woocommerce import API

from adapters.woocommerce import WooCommerceAdapter
from adapters.woocommerce.orders import refunds_needed, store_order
from connector.config import Settings
from connector.models import OrderLine
from connector.runtime import Runtime
from connector.services.sync import run_sync_for
from sandbox.woocommerce.models import Product
from sandbox.woocommerce.server import RunningWoo, start
from sandbox.woocommerce.store import WooStore
from tests.conftest import test_settings
from tests.engine_helpers import backorders, events
from tests.shops import add_sandbox_woocommerce

# ---------------------------------------------------------------------------------------------
# The mapping, on the JSON WooCommerce sends
# ---------------------------------------------------------------------------------------------


def _order(status: str = "processing", refunds: int = 1) -> dict[str, Any]:
    return {
        "id": 727,
        "number": "727",
        "status": status,
        "date_created_gmt": "2026-11-20T10:00:00",
        "date_modified_gmt": "2026-11-25T10:00:00",
        "line_items": [
            {"id": 315, "product_id": 93, "variation_id": 0, "quantity": 3, "price": 3},
            {"id": 316, "product_id": 22, "variation_id": 23, "quantity": 2, "price": 5},
            {"id": 317, "product_id": 22, "variation_id": 24, "quantity": 1, "price": 5},
        ],
        "refunds": [{"id": 800 + n, "reason": "", "total": "-3.00"} for n in range(refunds)],
    }


def _item(line: int | None, product: int, variation: int, quantity: int) -> dict[str, Any]:
    meta = [{"id": 9, "key": "pa_size", "value": "m", "display_key": "Size", "display_value": "M"}]
    if line is not None:
        meta.append(
            {
                "id": 10,
                "key": "_refunded_item_id",
                "value": str(line),
                "display_key": "_refunded_item_id",
                "display_value": str(line),
            }
        )
    return {
        "id": 900 + quantity,
        "product_id": product,
        "variation_id": variation,
        "quantity": -quantity,
        "total": f"{-3 * quantity:.2f}",
        "meta_data": meta,
    }


def _refunded(order: dict[str, Any], refunds: list[dict[str, Any]]) -> dict[str, int]:
    mapped = store_order(order, refunds)
    return {line.external_id: line.refunded_quantity for line in mapped.lines}


def test_refund_lines_are_summed_per_order_line() -> None:
    refunds = [
        {"id": 801, "line_items": [_item(315, 93, 0, 1), _item(316, 22, 23, 1)]},
        {"id": 802, "line_items": [_item(315, 93, 0, 1)]},
        {"id": 803, "amount": "5.00", "line_items": []},  # an amount, no units
    ]
    assert _refunded(_order(), refunds) == {"315": 2, "316": 1, "317": 0}


def test_without_the_meta_a_refund_line_is_matched_by_product_and_variation() -> None:
    refunds = [{"id": 801, "line_items": [_item(None, 22, 24, 1), _item(None, 93, 0, 2)]}]
    assert _refunded(_order(), refunds) == {"315": 2, "316": 0, "317": 1}


def test_a_refund_line_that_cannot_be_placed_is_left_alone() -> None:
    order = _order()
    order["line_items"].append(
        {"id": 318, "product_id": 93, "variation_id": 0, "quantity": 1, "price": 3}
    )
    refunds = [{"id": 801, "line_items": [_item(None, 93, 0, 1), _item(999, 93, 0, 1)]}]
    # Two lines of product 93 and no meta: which one? Line 999 is not this order's.
    assert _refunded(order, refunds) == {"315": 0, "316": 0, "317": 0, "318": 0}


def test_refunds_never_exceed_the_line_and_a_completed_order_shipped_the_rest() -> None:
    refunds = [{"id": 801, "line_items": [_item(317, 22, 24, 1), _item(317, 22, 24, 1)]}]
    completed = store_order(_order("completed"), refunds)
    line = next(x for x in completed.lines if x.external_id == "317")
    assert (line.quantity, line.refunded_quantity, line.fulfilled_quantity) == (1, 1, 0)
    shipped = next(x for x in completed.lines if x.external_id == "315")
    assert (shipped.refunded_quantity, shipped.fulfilled_quantity) == (0, 3)


def test_refunds_are_read_only_for_orders_that_list_them_and_hold_stock() -> None:
    assert refunds_needed(_order())
    assert refunds_needed(_order("completed"))
    assert not refunds_needed(_order(refunds=0))
    assert not refunds_needed(_order("refunded"))  # cancelled as a whole anyway
    assert not refunds_needed(_order("cancelled"))


# ---------------------------------------------------------------------------------------------
# The sandbox store and the adapter
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    running = start(store=WooStore(clock=runtime.clock.now), variants=10, seed=5)
    yield running
    running.stop()


@pytest.fixture(name="settings")
def sandbox_settings(database_url: str) -> Settings:
    """The sandbox store is on a private address, served over plain http."""
    return test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)


class CountingSession(requests.Session):
    """Counts the GETs per path: how many requests did the walk cost?"""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kw: Any) -> Any:
        self.paths.append(str(url).split("?")[0].split("/wc/v3/")[-1])
        return super().request(method, url, *args, **kw)


def _mug(store: WooStore, stock: int, name: str = "Stoneware mug") -> Product:
    return store.new_product(
        name=name,
        regular_price="18.00",
        manage_stock=True,
        stock_quantity=stock,
        backorders="notify",
    )


def _api(woo: RunningWoo) -> API:
    return API(woo.url, woo.consumer_key, woo.consumer_secret, version="wc/v3", timeout=10)


def _refund(woo: RunningWoo, order_id: int, body: dict[str, Any]) -> requests.Response:
    return _api(woo).post(f"orders/{order_id}/refunds", body)


def test_the_sandbox_refunds_lines_as_woocommerce_does(woo: RunningWoo) -> None:
    store = woo.store
    mug = _mug(store, 1)
    order_id = store.place_order([(mug.id, 0, 3)])
    line = store.orders[order_id].line_items[0].id
    assert store.products[mug.id].stock_quantity == -2

    refused = _refund(woo, order_id, {"line_items": [{"id": line, "quantity": 1}]})
    assert refused.status_code == 500  # bank transfer cannot refund through the gateway
    assert "automatic refunds" in refused.json()["message"]

    created = _refund(
        woo,
        order_id,
        {"api_refund": False, "line_items": [{"id": line, "quantity": 1, "refund_total": 18}]},
    )
    assert created.status_code == 201, created.text
    (item,) = created.json()["line_items"]
    assert (item["quantity"], item["total"], created.json()["amount"]) == (-1, "-18.00", "18.00")
    assert {m["key"]: m["value"] for m in item["meta_data"]}["_refunded_item_id"] == str(line)
    assert store.products[mug.id].stock_quantity == -1  # api_restock defaults to true
    assert store.orders[order_id].status == "processing"  # partly refunded
    assert store.orders[order_id].line_items[0].quantity == 3  # the line itself is unchanged

    listed = _api(woo).get(f"orders/{order_id}/refunds").json()
    assert [r["id"] for r in listed] == [created.json()["id"]]

    kept = _refund(
        woo,
        order_id,
        {"api_refund": False, "api_restock": False, "line_items": [{"id": line, "quantity": 1}]},
    )
    assert kept.status_code == 201 and kept.json()["amount"] == "0.00"
    assert store.products[mug.id].stock_quantity == -1  # not put back


def test_a_refund_on_a_parent_managed_variation_restocks_the_parent(woo: RunningWoo) -> None:
    store = woo.store
    apron = store.new_product(
        name="Linen apron", type="variable", manage_stock=True, stock_quantity=4
    )
    size = store.new_variation(
        apron.id, regular_price="24.00", attributes=[{"name": "Size", "option": "M"}]
    )
    order_id = store.place_order([(apron.id, size.id, 2)])
    assert store.products[apron.id].stock_quantity == 2
    line = store.orders[order_id].line_items[0].id
    store.refund_order(order_id, reason="one too many", restock=True, lines={line: 1})
    assert store.products[apron.id].stock_quantity == 3
    assert store.products[size.id].stock_quantity is None  # the variation has no stock of its own


def test_the_adapter_reads_refunds_only_for_orders_that_list_them(woo: RunningWoo) -> None:
    store = woo.store
    since = store.now()
    mug = _mug(store, 10)
    refunded = store.place_order([(mug.id, 0, 3)])
    plain = store.place_order([(mug.id, 0, 1)])
    line = store.orders[refunded].line_items[0].id
    store.refund_order(refunded, restock=True, lines={line: 1})
    session = CountingSession()
    adapter = WooCommerceAdapter(
        woo.url,
        woo.consumer_key,
        woo.consumer_secret,
        session=session,
        sleep=lambda _: None,
        allow_private=True,
    )
    orders = {
        o.external_id: o for page in adapter.order_pages(updated_since=since) for o in page.items
    }
    assert orders[str(refunded)].lines[0].refunded_quantity == 1
    assert orders[str(refunded)].financial_status == "partially_refunded"
    assert orders[str(plain)].lines[0].refunded_quantity == 0
    refund_reads = [p for p in session.paths if p.endswith("/refunds")]
    assert refund_reads == [f"orders/{refunded}/refunds"]


# ---------------------------------------------------------------------------------------------
# End to end: the sandbox, the adapter, the sync, the engine
# ---------------------------------------------------------------------------------------------


def test_a_line_of_three_with_one_refunded_waits_for_two_at_most(
    runtime: Runtime, woo: RunningWoo
) -> None:
    store = woo.store
    mug, jug = _mug(store, 0), _mug(store, 0, "Stoneware jug")
    shop_id = add_sandbox_woocommerce(runtime, woo)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id, full=True)
    orders = [store.place_order([(product.id, 0, 3)]) for product in (mug, jug)]
    mug_line, jug_line = (str(store.orders[o].line_items[0].id) for o in orders)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    assert {line: short(runtime, line) for line in (mug_line, jug_line)} == {
        mug_line: (3, 3),
        jug_line: (3, 3),
    }

    # One unit of each line refunded: the mug's put back in stock, the jug's not.
    store.refund_order(orders[0], restock=True, lines={int(mug_line): 1})
    store.refund_order(orders[1], restock=False, lines={int(jug_line): 1})
    assert (store.products[mug.id].stock_quantity, store.products[jug.id].stock_quantity) == (
        -2,
        -3,
    )
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    # (units backordered, units still short) per line: never more than the two still wanted.
    assert short(runtime, mug_line) == (2, 2)
    assert short(runtime, jug_line) == (2, 2)
    with runtime.db.transaction() as session:
        stored = session.scalar(select(OrderLine).where(OrderLine.external_id == mug_line))
        assert (stored.quantity, stored.refunded_quantity) == (3, 1)

    store.restock(mug.id, 0, 2)  # two arrive: the line is complete without the refunded one
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    assert backorders(runtime)[mug_line]["status"] == "ready"
    ready = [p for name, p in events(runtime) if name == "BackorderReady"]
    assert [p["quantity"] for p in ready] == [2]  # the customer hears of two units, not three


def short(runtime: Runtime, line: str) -> tuple[int, int]:
    row = backorders(runtime)[line]
    assert row["status"] == "waiting"
    return row["quantity"], row["quantity"] - row["allocated"]
