"""Backorder state pushed to a Shopify store (the sandbox), end to end through sync and jobs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.commands import execute
from connector.models import Backorder, Shop
from connector.services import store_writes
from connector.services.backorders import change_backorder
from connector.services.shops import uninstall_shop
from connector.services.storefront import ORDER_STATE, VARIANT_STATE
from connector.web import create_app
from sandbox.shopify.ids import gid
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.store import ShopifyStore
from tests.storefront_push.conftest import (
    SHOPIFY_SECRET,
    Harness,
    counting,
    install_shopify,
    without_waits,
)
from tests.webhooks.support import post_shopify

NAMESPACE = "$app:backorder"


def _variants(store: ShopifyStore) -> tuple[Any, Any]:
    """A sellable-when-out variant (short by 2 once ordered) and an in-stock one."""
    short = next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    )
    stocked = next(
        v for v in store.variants.values() if v.number != short.number and store.available(v) >= 3
    )
    return short, stocked


def _order(store: ShopifyStore, lines: list[tuple[Any, int]], tags: tuple[str, ...] = ()) -> str:
    return store.place_order([(gid("ProductVariant", v.number), q) for v, q in lines], tags=tags)


def _metafield(store: ShopifyStore, owner: str, key: str) -> Any:
    found = [m for m in store.metafields_of(owner) if (m.namespace, m.key) == (NAMESPACE, key)]
    return found[0] if found else None


def _held_lines(store: ShopifyStore, order_gid: str) -> set[str]:
    """The order's line GIDs on fulfillment orders held by us."""
    order = store.order_of(order_gid)
    held = set()
    for fo in store._fos(order):
        if fo.status == "ON_HOLD" and any(h.handle == "backorder-connector" for h in fo.holds):
            assert {h.reason for h in fo.holds} == {"INVENTORY_OUT_OF_STOCK"}
            held |= {gid("LineItem", line.line_number) for line in fo.lines}
    return held


@pytest.fixture
def shop(runtime: Any, shopify: RunningShopify) -> Harness:
    return install_shopify(runtime, shopify)


def test_a_backorder_tags_the_order_holds_its_line_and_a_restock_undoes_both(
    shop: Harness, shopify: RunningShopify
) -> None:
    store = shopify.store
    short, stocked = _variants(store)
    order_gid = _order(store, [(short, store.available(short) + 2), (stocked, 1)], tags=("vip",))
    short_line = gid("LineItem", store.order_of(order_gid).lines[0].number)
    shop.sync()

    assert store.order_of(order_gid).tags == ["vip", "backordered"]  # the merchant's tag stays
    assert _held_lines(store, order_gid) == {short_line}  # the in-stock line stays fulfillable
    data = json.loads(_metafield(store, order_gid, "state").value)
    states = {line["line"]: (line["state"], line["short"]) for line in data["lines"]}
    assert states[short_line] == ("waiting", 2)
    assert sorted(s for s, _ in states.values()) == ["in_stock", "waiting"]
    assert data["backordered"] is True and data["lines"][0]["eta"] is not None

    variant_gid = gid("ProductVariant", short.number)
    shown = json.loads(_metafield(store, variant_gid, "state").value)
    assert (shown["waiting_lines"], shown["waiting_units"]) == (1, 2)
    assert shown["eta"] == data["lines"][0]["eta"]
    references = _metafield(store, variant_gid, "alternatives")
    assert references.type == "list.variant_reference"
    assert json.loads(references.value) == shown["alternatives"]

    store.restock(variant_gid, 2)
    shop.sync(full=True)  # stock changes do not touch a product's updated_at
    assert store.order_of(order_gid).tags == ["vip"]
    assert _held_lines(store, order_gid) == set()
    data = json.loads(_metafield(store, order_gid, "state").value)
    assert data["backordered"] is False
    assert {line["state"] for line in data["lines"]} == {"ready", "in_stock"}
    shown = json.loads(_metafield(store, variant_gid, "state").value)
    assert (shown["eta"], shown["waiting_lines"]) == (None, 0)
    assert {w.status for w in shop.writes()} <= {"sent", "suppressed"}


def test_a_sync_that_finds_nothing_new_writes_nothing(
    shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shopify.store
    short, _ = _variants(store)
    _order(store, [(short, store.available(short) + 1)])
    shop.sync()
    sent = len([w for w in shop.writes() if w.status == "sent"])
    calls = counting(monkeypatch, store, "metafields_set")
    for _ in range(3):
        shop.sync(full=True)
    assert calls == []
    assert len([w for w in shop.writes() if w.status == "sent"]) == sent


def test_the_same_order_webhook_five_times_writes_once(
    runtime: Any, shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shopify.store
    short, _ = _variants(store)
    tags_added = counting(monkeypatch, store, "tags_add")
    metafields = counting(monkeypatch, store, "metafields_set")
    order_gid = _order(store, [(short, store.available(short) + 1)])
    created = next(e for e in reversed(store.events) if e.topic == "orders/create")
    client = create_app(runtime).test_client()
    for _ in range(5):  # five deliveries (distinct ids, as retries after a lost 200 may have)
        answer = post_shopify(
            client,
            "orders/create",
            created.body,
            secret=SHOPIFY_SECRET,
            domain=store.shop.myshopifyDomain,
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        shop.drain()
    assert len(tags_added) == 1
    order_writes = [m for (inputs,) in metafields for m in inputs if m["ownerId"] == order_gid]
    assert len(order_writes) == 1
    assert [w.status for w in shop.writes(ORDER_STATE)] == ["sent"]
    assert store.order_of(order_gid).tags == ["backordered"]


def test_ten_quick_eta_changes_make_one_metafield_write(
    runtime: Any, shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shopify.store
    short, _ = _variants(store)
    _order(store, [(short, store.available(short) + 1)])
    shop.sync()
    variant_gid = gid("ProductVariant", short.number)
    with runtime.db.transaction() as session:
        backorder_id = session.scalars(select(Backorder.id)).one()
    metafields = counting(monkeypatch, store, "metafields_set")
    today = runtime.clock.now().date()
    for day in range(10):  # a merchant trying dates: ten commits, each raising EtaChanged
        eta = today + timedelta(days=20 + day)
        execute(
            runtime,
            lambda s, e=eta: change_backorder(s, runtime.clock, None, backorder_id, manual_eta=e),
        )
    shop.drain()
    variant_writes = [m for (inputs,) in metafields for m in inputs if m["ownerId"] == variant_gid]
    assert [m["key"] for m in variant_writes] == ["state", "alternatives"]  # one call, both
    assert len(metafields) == 2  # that call, and one for the order
    shown = json.loads(_metafield(store, variant_gid, "state").value)
    assert shown["eta"] == (today + timedelta(days=29)).isoformat()
    assert shown["eta_source"] == "manual"
    assert len([w for w in shop.writes(VARIANT_STATE) if w.status == "sent"]) == 2


def test_a_store_answering_500_is_retried_and_the_write_ends_sent(
    runtime: Any, shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_waits(monkeypatch)
    store = shopify.store
    short, _ = _variants(store)
    order_gid = _order(store, [(short, store.available(short) + 1)])
    shop.sync(send=False)
    # Every attempt the transport makes within one try fails: the write itself must retry.
    store.fail_next(store_writes.ATTEMPTS_PER_TRY)
    shop.drain()
    (write,) = shop.writes(ORDER_STATE)
    assert (write.status, write.attempts) == ("pending", 1)
    assert "500" in (write.last_error or "")
    assert store.order_of(order_gid).tags == []

    runtime.clock.advance(timedelta(minutes=1))  # past the first backoff (30 s ± 20 %)
    assert store_writes.sweep(runtime) >= 1
    shop.drain()
    (write,) = shop.writes(ORDER_STATE)
    assert (write.status, write.attempts, write.last_error) == ("sent", 2, None)
    assert store.order_of(order_gid).tags == ["backordered"]


def test_refused_credentials_fail_the_write_and_mark_the_shop(
    runtime: Any, shop: Harness, shopify: RunningShopify
) -> None:
    store = shopify.store
    short, _ = _variants(store)
    _order(store, [(short, store.available(short) + 1)])
    shop.sync(send=False)
    store.uninstall()  # the merchant removed the app: its token stops working
    shop.drain()
    assert {w.status for w in shop.writes()} == {"failed"}
    assert all("credentials" in (w.last_error or "") for w in shop.writes())
    with runtime.db.transaction() as session:
        assert session.get_one(Shop, shop.shop_id).needs_reauthorization is True


def test_an_uninstalled_shop_gets_nothing(
    runtime: Any, shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shopify.store
    short, _ = _variants(store)
    order_gid = _order(store, [(short, store.available(short) + 1)])
    shop.sync(send=False)
    with runtime.db.transaction() as session:
        uninstall_shop(session, runtime.clock, shop.shop_id)
    calls = [counting(monkeypatch, store, m) for m in ("tags_add", "metafields_set")]
    shop.drain()
    assert calls == [[], []]
    assert store.order_of(order_gid).tags == []
    assert {w.status for w in shop.writes()} == {"cancelled"}


def test_a_restock_readying_many_orders_releases_their_holds_in_a_few_requests(
    shop: Harness, shopify: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty orders each wait for one unit; one by one their tags, data and holds would cost
    some 120 requests (about 40 points an order). Batched: bulk mutations and one read of the
    holds per 25 orders, whatever the number of orders."""
    store = shopify.store
    short, _ = _variants(store)
    variant_gid = gid("ProductVariant", short.number)
    if store.available(short) > 0:
        _order(store, [(short, store.available(short))])  # the shelf emptied first
    orders = [_order(store, [(short, 1)]) for _ in range(30)]
    shop.sync()
    assert all(_held_lines(store, o) for o in orders)
    assert all(store.order_of(o).tags == ["backordered"] for o in orders)

    requests_made: list[str] = []
    post = requests.Session.post

    def counted(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> Any:
        requests_made.append(url)
        return post(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", counted)
    store.restock(variant_gid, 30)
    shop.sync(full=True)

    assert all(_held_lines(store, o) == set() for o in orders)
    assert all(store.order_of(o).tags == [] for o in orders)
    data = [json.loads(_metafield(store, o, "state").value) for o in orders]
    assert {d["backordered"] for d in data} == {False}
    assert {w.status for w in shop.writes(ORDER_STATE)} <= {"sent", "suppressed"}
    graphql = [u for u in requests_made if u.endswith("/graphql.json")]
    assert len(graphql) < 60, len(graphql)  # the sync's reads included
