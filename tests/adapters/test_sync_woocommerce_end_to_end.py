"""A WooCommerce store, end to end: the sandbox store, the real adapter, the sync, the engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.models import InventoryLevel, Variant
from connector.runtime import Runtime
from connector.services.sync import run_sync_for
from sandbox.woocommerce.server import RunningWoo, start
from sandbox.woocommerce.store import WooStore
from tests.conftest import test_settings
from tests.engine_helpers import backorders
from tests.shops import add_sandbox_woocommerce


@pytest.fixture
def runtime(runtime: Runtime, database_url: str) -> Runtime:
    """The sandbox lives on localhost: private store addresses allowed, as in development."""
    settings = test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    running = start(store=WooStore(clock=runtime.clock.now), variants=40, seed=5)
    yield running
    running.stop()


def test_a_backordered_checkout_becomes_a_backorder_and_a_restock_makes_it_ready(
    runtime: Runtime, woo: RunningWoo
) -> None:
    shop_id = add_sandbox_woocommerce(runtime, woo)
    run_sync_for(runtime, shop_id, full=True)

    product = next(
        p
        for p in woo.store.products.values()
        if p.type == "simple"
        and p.manage_stock
        and p.backorders == "notify"
        and (p.stock_quantity or 0) >= 0
    )
    stock = product.stock_quantity or 0
    runtime.clock.advance(timedelta(minutes=5))
    woo.store.place_order([(product.id, 0, stock + 2)])
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    run_sync_for(runtime, shop_id, full=True)  # the product's stock_quantity changed with the order
    with runtime.db.transaction() as session:
        level = session.scalar(
            select(InventoryLevel).join(Variant).where(Variant.external_id == str(product.id))
        )
        assert (level.on_hand, level.available) == (None, -2)  # on-hand is derived
    waiting = [r for r in backorders(runtime).values() if r["status"] == "waiting"]
    assert len(waiting) == 1, backorders(runtime)
    assert waiting[0]["quantity"] - waiting[0]["allocated"] == 2

    woo.store.restock(product.id, 0, 2)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id, full=True)
    assert backorders(runtime)[next(iter(backorders(runtime)))]["status"] == "ready"
