"""The status page end to end: a customer's click changes the sandbox store and moves the queue."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.models import Backorder, OrderChange, OrderLine, Shop, Variant
from connector.runtime import Runtime
from connector.services.alternatives import set_rules
from connector.services.reads import get_backorder
from connector.services.status_links import status_url
from connector.web import create_app
from sandbox.shopify.ids import gid
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.store import ShopifyStore
from sandbox.woocommerce.server import RunningWoo
from tests.status_page.support import CSRF, notifications, tasks
from tests.storefront_push.conftest import (
    Harness,
    counting,
    install_shopify,
    install_woo,
    without_waits,
)

MERCHANT = "help@shop.test"


def _page_path(runtime: Runtime, shop: Harness, order_external_id: str) -> str:
    url = status_url(
        runtime.settings, shop.shop_id, shop.order_id(order_external_id), clock=runtime.clock
    )
    return url.removeprefix(runtime.settings.APP_URL)


def _csrf(client: FlaskClient, page: str) -> str:
    shown = client.get(page)
    assert shown.status_code == 200, shown.get_data(as_text=True)
    found = CSRF.search(shown.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _post(
    client: FlaskClient,
    page: str,
    backorder_id: int,
    action: str,
    csrf: str | None = None,
    **form: Any,
) -> int:
    """A click on the page (`csrf`: the value of a page loaded earlier, as a stale tab has)."""
    value = csrf or _csrf(client, page)
    answer = client.post(f"{page}/lines/{backorder_id}/{action}", data={"csrf": value, **form})
    return answer.status_code


def _backorders(runtime: Runtime, shop: Harness) -> dict[str, Any]:
    """By order external id: (backorder id, status, queue position, eta)."""
    with runtime.db.transaction() as session:
        rows = session.scalars(select(Backorder).where(Backorder.shop_id == shop.shop_id)).all()
        found = {}
        for backorder in rows:
            row = get_backorder(session, shop.shop_id, backorder.id)
            assert row is not None
            found[row.order_external_id] = (
                backorder.id,
                backorder.status,
                row.queue_position,
                backorder.eta,
            )
        return found


def _merchant_reads_mail(runtime: Runtime, shop: Harness) -> None:
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).support_email = MERCHANT


# ---- Shopify -----------------------------------------------------------------------------------


@pytest.fixture
def shop(runtime: Runtime, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch) -> Harness:
    without_waits(monkeypatch)
    harness = install_shopify(runtime, shopify)
    _merchant_reads_mail(runtime, harness)
    return harness


def _short_and_stocked(store: ShopifyStore) -> tuple[Any, Any]:
    """A variant sold when out of stock, with nothing left (someone bought the rest), and one
    in stock."""
    short = next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    )
    stocked = next(
        v for v in store.variants.values() if v.number != short.number and store.available(v) >= 3
    )
    if store.available(short) > 0:
        store.place_order([(gid("ProductVariant", short.number), store.available(short))])
    return short, stocked


def _line_quantity(store: ShopifyStore, order_gid: str, variant: Any) -> int:
    order = store.order_of(order_gid)
    return sum(li.currentQuantity for li in order.lines if li.variant_number == variant.number)


def test_a_cancel_on_shopify_edits_the_order_and_the_next_customer_moves_up(
    runtime: Runtime, shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shopify.store
    short, stocked = _short_and_stocked(store)
    variant = gid("ProductVariant", short.number)
    first = store.place_order([(variant, 2), (gid("ProductVariant", stocked.number), 1)])
    second = store.place_order([(variant, 1)])
    shop.sync()
    first_id, second_id = first, second  # Shopify orders are known by their GIDs
    before = _backorders(runtime, shop)
    assert before[first_id][1:3] == ("waiting", 1)
    assert before[second_id][1:3] == ("waiting", 2)

    client = create_app(runtime).test_client()
    page = _page_path(runtime, shop, first_id)
    html = client.get(page).get_data(as_text=True)
    assert "Expected to ship by" in html and "Cancel this item" in html
    edits = counting(monkeypatch, store, "commit_order_edit")
    backorder_id = before[first_id][0]
    csrf = _csrf(client, page)
    assert _post(client, page, backorder_id, "cancel", csrf) == 303
    assert _post(client, page, backorder_id, "cancel", csrf) == 303  # a second click
    shop.drain()
    assert _post(client, page, backorder_id, "cancel", csrf) == 303  # and one after it was done
    shop.drain()

    assert len(edits) == 1
    assert _line_quantity(store, first, short) == 0
    assert _line_quantity(store, first, stocked) == 1  # the in-stock line stays
    after = _backorders(runtime, shop)
    assert after[first_id][1] == "cancelled"
    assert after[second_id][1:3] == ("waiting", 1)  # moved up
    with runtime.db.transaction() as session:
        (change,) = session.scalars(select(OrderChange)).all()
        assert change.status == "done"
    (refund,) = tasks(runtime)
    assert refund.kind == "refund" and refund.status == "open"
    told = notifications(runtime)
    assert any(kind == "cancel_confirmed" for kind, _ in told)
    assert ("merchant_change", MERCHANT) in told
    assert "Cancelled" in client.get(page).get_data(as_text=True)


def test_an_edit_shopify_refuses_is_left_to_the_merchant_and_the_customer_told(
    runtime: Runtime, shop: Harness, shopify: RunningShopify
) -> None:
    store = shopify.store
    short, _ = _short_and_stocked(store)
    order = store.place_order([(gid("ProductVariant", short.number), 2)])
    shop.sync(send=False)  # no hold on the line yet
    store.restock(gid("ProductVariant", short.number), 2)
    store.fulfil_order(order)  # shipped at the store before we heard of it
    order_id = order
    client = create_app(runtime).test_client()
    page = _page_path(runtime, shop, order_id)
    backorder_id = _backorders(runtime, shop)[order_id][0]
    assert _post(client, page, backorder_id, "cancel") == 303
    shop.drain()

    with runtime.db.transaction() as session:
        (change,) = session.scalars(select(OrderChange)).all()
        assert change.status == "merchant"
        assert "already fulfilled" in (change.last_error or "")
    (task,) = tasks(runtime)
    assert task.kind == "cancel_line" and "already fulfilled" in task.summary
    told = notifications(runtime)
    assert any(kind == "change_needs_merchant" for kind, _ in told)
    assert ("merchant_change", MERCHANT) in told
    assert "The shop will finish this by hand" in client.get(page).get_data(as_text=True)


# ---- WooCommerce -------------------------------------------------------------------------------


@pytest.fixture
def kettles(woo: RunningWoo) -> tuple[int, int]:
    """A kettle sold on backorder with none left, and the steel one with stock."""
    store = woo.store
    kettle = store.new_product(
        name="Kettle",
        sku="KETTLE",
        regular_price="39.00",
        manage_stock=True,
        stock_quantity=0,
        backorders="notify",
    )
    steel = store.new_product(
        name="Steel kettle",
        sku="KETTLE-STEEL",
        regular_price="39.00",
        manage_stock=True,
        stock_quantity=5,
    )
    return kettle.id, steel.id


@pytest.fixture
def woo_shop(
    runtime: Runtime, woo: RunningWoo, kettles: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> Harness:
    without_waits(monkeypatch)
    harness = install_woo(runtime, woo)
    _merchant_reads_mail(runtime, harness)
    kettle, steel = kettles
    with runtime.db.transaction() as session:  # the merchant offers the steel one first
        ids = dict(
            session.execute(
                select(Variant.external_id, Variant.id).where(Variant.shop_id == harness.shop_id)
            ).all()
        )
        product_id = session.get_one(Variant, ids[str(kettle)]).product_id
        set_rules(session, harness.shop_id, product_id, pinned=[ids[str(steel)]], excluded=[])
    return harness


def test_a_switch_on_woocommerce_swaps_the_line_and_takes_the_alternatives_stock(
    runtime: Runtime, woo_shop: Harness, woo: RunningWoo, kettles: tuple[int, int]
) -> None:
    store = woo.store
    kettle, steel = kettles
    order_id = store.place_order([(kettle, 0, 2)])
    woo_shop.sync()
    client = create_app(runtime).test_client()
    page = _page_path(runtime, woo_shop, str(order_id))
    assert "Switch to Steel kettle" in client.get(page).get_data(as_text=True)
    backorder_id = _backorders(runtime, woo_shop)[str(order_id)][0]
    with runtime.db.transaction() as session:
        steel_id = session.scalars(
            select(Variant.id).where(
                Variant.shop_id == woo_shop.shop_id, Variant.external_id == str(steel)
            )
        ).one()
    assert _post(client, page, backorder_id, "switch", variant_id=steel_id) == 303
    woo_shop.drain()

    lines = {(item.product_id, item.quantity) for item in store.order(order_id).line_items}
    assert lines == {(steel, 2)}  # the kettle line removed, the steel one added
    assert store.products[steel].stock_quantity == 3
    assert _backorders(runtime, woo_shop)[str(order_id)][1] == "cancelled"
    with runtime.db.transaction() as session:
        (change,) = session.scalars(select(OrderChange)).all()
        assert change.status == "done"
        held = session.scalars(
            select(OrderLine.variant_id).where(
                OrderLine.shop_id == woo_shop.shop_id, OrderLine.removed_at.is_(None)
            )
        ).all()
        assert steel_id in held
    told = notifications(runtime)
    assert any(kind == "switch_confirmed" for kind, _ in told)
    assert ("merchant_change", MERCHANT) in told
    assert "Switched to Steel kettle" in client.get(page).get_data(as_text=True)
