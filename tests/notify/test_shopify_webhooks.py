"""The same order webhook delivered five times sends one e-mail (Shopify sandbox, real SMTP)."""

from __future__ import annotations

from typing import Any

from connector.runtime import Runtime
from connector.web import create_app
from sandbox.shopify.ids import gid
from sandbox.shopify.server import RunningShopify
from tests.mail.smtp_server import SmtpTestServer
from tests.notify.conftest import notifications
from tests.storefront_push.conftest import SHOPIFY_SECRET, install_shopify
from tests.storefront_push.conftest import shopify as shopify
from tests.webhooks.support import post_shopify


def test_five_deliveries_of_one_order_send_one_placed_mail(
    runtime: Runtime, shopify: RunningShopify, smtp: SmtpTestServer
) -> None:
    shop = install_shopify(runtime, shopify)
    store = shopify.store
    short: Any = next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    )
    store.place_order([(gid("ProductVariant", short.number), store.available(short) + 1)])
    created = next(e for e in reversed(store.events) if e.topic == "orders/create")
    client = create_app(runtime).test_client()
    for _ in range(5):
        answer = post_shopify(
            client,
            "orders/create",
            created.body,
            secret=SHOPIFY_SECRET,
            domain=store.shop.myshopifyDomain,
        )
        assert answer.status_code == 200
        shop.drain()
    assert [(n.kind, n.status) for n in notifications(runtime)] == [("placed", "sent")]
    assert len(smtp.received) == 1
