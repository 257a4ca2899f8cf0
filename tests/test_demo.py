"""The demo as a merchant meets it: the app installed into both sandbox stores through the
install flows (not with the stores' pre-issued credentials), synced, and the scenario's orders
waiting in the backorder queue. Runs in-process on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import requests

from connector.demo import (
    Stack,
    check_api,
    check_mail,
    check_storefront,
    install_shops,
    play_scenario,
)
from connector.models import Shop
from connector.services.install import SHOPIFY_TOPICS, WOOCOMMERCE_TOPICS
from sandbox.mailbox import RunningMailbox


def _credentials(stack: Stack, shop_id: int) -> tuple[Shop, dict[str, Any]]:
    runtime = stack.runtime
    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, shop_id)
        return shop, runtime.vault.open(shop.credentials)


def test_the_demo_installs_both_stores_through_the_install_flows(stack: Stack) -> None:
    shops, story = install_shops(stack)
    shopify, woo = stack.sandboxes.shopify, stack.sandboxes.woocommerce

    # Shopify: a token the store issued in the code exchange, not the custom-app token.
    shop, credentials = _credentials(stack, shops.shopify_id)
    assert (shop.platform, shop.domain, shop.status) == ("shopify", shopify.shop, "active")
    token = credentials["access_token"]
    assert token != shopify.access_token
    assert token in shopify.app.extensions["shopify_sandbox"].tokens.access
    hooks = {(s.topic, s.callbackUrl) for s in shopify.store.subscriptions.values()}
    address = f"{stack.app_url}/webhooks/shopify"
    assert hooks == {(t.upper().replace("/", "_"), address) for t in SHOPIFY_TOPICS}

    # WooCommerce: the key the store created for our app and posted to our callback.
    shop, credentials = _credentials(stack, shops.woocommerce_id)
    assert (shop.platform, shop.domain, shop.status) == ("woocommerce", woo.url, "active")
    assert credentials["consumer_key"] != woo.consumer_key
    key = woo.store.key_by_consumer_key(credentials["consumer_key"])
    assert key is not None and key.permissions == "read_write"
    assert key.description.startswith("Backorder Connector - API")
    address = f"{stack.app_url}/webhooks/woocommerce/{shops.woocommerce_id}"
    assert {(w.topic, w.delivery_url, w.secret) for w in woo.store.webhooks.values()} == {
        (topic, address, credentials["webhook_secret"]) for topic in WOOCOMMERCE_TOPICS
    }

    # Each store's catalogue and order history arrived with the first sync.
    assert story["first_sync"]["shopify"]["variants"] == len(shopify.store.variants)
    assert story["first_sync"]["woocommerce"]["variants"] > 0
    for platform in ("shopify", "woocommerce"):
        assert story["first_sync"][platform]["orders"] > 0
        assert story["first_sync"][platform]["run_by"] in ("install", "demo")
    assert story["installed"]["shopify"]["webhooks"] == sorted(SHOPIFY_TOPICS)
    assert story["installed"]["woocommerce"]["webhooks"] == sorted(WOOCOMMERCE_TOPICS)


def test_the_demo_scenario_leaves_the_oversold_orders_waiting(stack: Stack) -> None:
    shops, _ = install_shops(stack)
    story = play_scenario(stack, shops)
    found = check_api(stack, shops)

    assert found["healthz"] == 200
    queues: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in found["queue"]:
        queues[row["platform"]][row["sku"]].append(row)
    for platform in ("shopify", "woocommerce"):
        first, second = story["scenario"][platform]["oversold"]
        # Both orders beyond the first item's stock wait, in order; of the second item's two
        # orders, the cancelled one has left the queue.
        assert set(queues[platform]) == {first, second}
        assert [r["queue_position"] for r in queues[platform][first]] == [1, 2]
        assert [r["queue_position"] for r in queues[platform][second]] == [1]
        for rows in queues[platform].values():
            assert all(r["quantity"] > 0 and r["eta"] and r["eta_source"] for r in rows)
    # The purchase order the merchant recorded is what that item's queue now waits for.
    po_rows = queues["shopify"][story["purchase_order_for"]]
    assert po_rows and all(r["eta_source"] == "incoming:PO-DEMO-1" for r in po_rows)


def test_the_demo_pushes_the_backorders_to_the_stores_and_the_product_page(stack: Stack) -> None:
    shops, _ = install_shops(stack)
    story = play_scenario(stack, shops)
    found = check_api(stack, shops)
    shown = check_storefront(stack, shops, found)

    # Each waiting order was told, in the store itself, that it waits.
    shopify = stack.sandboxes.shopify.store
    waiting_orders = {r["order_name"] for r in found["queue"] if r["platform"] == "shopify"}
    tagged = {o.name for o in shopify.orders.values() if "backordered" in o.tags}
    assert tagged == waiting_orders
    # One write per change: each waiting order at least once (more where its ETA moved since).
    assert shown["store_writes_sent"]["shopify"]["order_state"] >= len(waiting_orders)
    assert shown["store_writes_sent"]["woocommerce"]["order_state"] >= 1
    # The product page of an oversold WooCommerce item promises what its queue's end would get.
    page = shown["product_page"]
    assert page["sku"] in story["scenario"]["woocommerce"]["oversold"]
    assert page["in_stock"] is False and page["message"].startswith("Ships by ")


def test_the_demo_emails_each_waiting_customer_a_working_status_page(
    stack: Stack, demo_mailbox: RunningMailbox
) -> None:
    shops, _ = install_shops(stack)
    play_scenario(stack, shops)
    found = check_api(stack, shops)
    told = check_mail(stack, demo_mailbox.mailbox)

    # One "placed" e-mail per backorder ever opened (the cancelled one was told too), no more.
    received = demo_mailbox.mailbox.messages()
    placed = [m for m in received if m.header("X-Backorder-Kind") == "placed"]
    assert len(placed) == told["emails"]["placed"] >= len(found["queue"])
    assert len({(m.recipients, m.message["Subject"]) for m in placed}) == len(placed)
    page = requests.get(told["status_page"], timeout=10)
    assert page.status_code == 200 and "Expected to ship by" in page.text
