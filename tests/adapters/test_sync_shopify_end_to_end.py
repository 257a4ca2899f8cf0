"""A Shopify store, end to end: the sandbox store, the real adapter, the sync, the engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.sync import run_sync_for
from sandbox.shopify.ids import gid
from sandbox.shopify.seed import seed
from sandbox.shopify.server import RunningShopify, start
from sandbox.shopify.store import ShopifyStore
from tests.conftest import test_settings
from tests.engine_helpers import backorders
from tests.shops import add_sandbox_shopify


@pytest.fixture
def runtime(runtime: Runtime, database_url: str) -> Runtime:
    """The sandbox lives on localhost: private store addresses allowed, as in development."""
    settings = test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
def shopify(runtime: Runtime) -> Iterator[RunningShopify]:
    """A sandbox store on the product's own clock, with a fast-restoring bucket for speed."""
    store = seed(ShopifyStore(clock=runtime.clock.now), seed=5, variants=40)
    running = start(store=store, restore_rate=5000)
    yield running
    running.stop()


def row_key(runtime: Runtime, order_gid: str) -> str:
    """The external id of the (single) line of the order the sandbox placed."""
    from sqlalchemy import select

    from connector.models import Order, OrderLine

    with runtime.db.transaction() as session:
        return session.scalar(
            select(OrderLine.external_id).join(Order).where(Order.external_id == order_gid)
        )


def test_an_oversold_order_becomes_a_backorder_and_a_restock_makes_it_ready(
    runtime: Runtime, shopify: RunningShopify
) -> None:
    shop_id = add_sandbox_shopify(runtime, shopify)
    first = run_sync_for(runtime, shop_id, full=True)
    assert first.records["products"] == len(shopify.store.products)
    with runtime.db.transaction() as session:
        assert session.query(Variant).count() == len(shopify.store.variants)
        shop = session.get_one(Shop, shop_id)
        # ETAs are dated in the store's own time zone, as the store reports it.
        assert (shop.timezone, shop.currency) == ("America/New_York", "USD")

    variant = next(
        v
        for v in shopify.store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and shopify.store.available(v) >= 0
    )
    short_by = 2
    runtime.clock.advance(timedelta(minutes=5))
    order_gid = shopify.store.place_order(
        [(gid("ProductVariant", variant.number), shopify.store.available(variant) + short_by)]
    )
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    waiting = [r for r in backorders(runtime).values() if r["status"] == "waiting"]
    assert len(waiting) == 1, backorders(runtime)
    row = waiting[0]
    assert row["quantity"] - row["allocated"] == short_by
    assert row["eta_source"] == "lead_time"

    shopify.store.restock(gid("ProductVariant", variant.number), short_by)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id, full=True)  # stock changes do not touch a product's updated_at
    assert backorders(runtime)[row_key(runtime, order_gid)]["status"] == "ready"
