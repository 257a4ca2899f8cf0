"""Both sandbox stores on the product's clock, installed as shops, synced, with writes drained.

The runtime is built here rather than replaced from the shared one, so the bus subscriptions
wake the queue this runtime drains (`dataclasses.replace` would subscribe a second runtime).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connector.clock import FrozenClock
from connector.db import Database
from connector.models import Order, StoreWrite
from connector.runtime import Runtime, build_runtime
from connector.services.sync import run_sync_for
from sandbox.shopify.seed import seed
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.server import start as start_shopify
from sandbox.shopify.store import ShopifyStore
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo
from sandbox.woocommerce.store import WooStore
from tests.conftest import test_settings
from tests.shops import add_sandbox_shopify, add_sandbox_woocommerce

SHOPIFY_SECRET = (
    "shpss_" + "5eed" * 8
)  # the app's secret: deliveries a test posts are signed with it


@pytest.fixture
def runtime(database_url: str, clock: FrozenClock, clean_db: Engine) -> Runtime:
    """The sandboxes listen on localhost: private store addresses allowed, as in development."""
    settings = test_settings(
        database_url, ALLOW_PRIVATE_STORE_URLS=True, SHOPIFY_API_SECRET=SHOPIFY_SECRET
    )
    return build_runtime(settings, clock, Database(settings.DATABASE_URL, clock, engine=clean_db))


@pytest.fixture
def shopify(runtime: Runtime) -> Iterator[RunningShopify]:
    store = seed(ShopifyStore(clock=runtime.clock.now), seed=5, variants=20)
    running = start_shopify(store=store, restore_rate=5000)
    yield running
    running.stop()


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    """An empty WooCommerce store; each test stocks the products it needs."""
    store = WooStore(clock=runtime.clock.now)
    store.new_product(name="Placeholder", regular_price="1.00", manage_stock=False)
    running = start_woo(store=store)
    yield running
    running.stop()


@dataclass
class Harness:
    """A shop on a sandbox store, and the moves a test makes on it."""

    runtime: Runtime
    shop_id: int

    def sync(self, full: bool = False, *, send: bool = True) -> None:
        """What a reconciliation does: the store read, the engine run (its writes asked for,
        in the same commit as the events' hand-off), and unless `send=False` the writes sent."""
        self.runtime.clock.advance(timedelta(minutes=5))
        run_sync_for(self.runtime, self.shop_id, full=full)
        if send:
            self.drain()

    def drain(self) -> None:
        self.runtime.bus.dispatch_pending(self.runtime.db)
        self.runtime.jobs.drain()  # type: ignore[attr-defined]

    def order_id(self, external_id: str) -> int:
        with self.runtime.db.transaction() as session:
            return session.scalars(
                select(Order.id).where(
                    Order.shop_id == self.shop_id, Order.external_id == external_id
                )
            ).one()

    def writes(self, kind: str | None = None) -> list[StoreWrite]:
        with self.runtime.db.transaction() as session:
            statement = select(StoreWrite).where(StoreWrite.shop_id == self.shop_id)
            if kind is not None:
                statement = statement.where(StoreWrite.kind == kind)
            return list(session.scalars(statement.order_by(StoreWrite.id)))


def install_shopify(runtime: Runtime, running: RunningShopify) -> Harness:
    shop_id = add_sandbox_shopify(runtime, running)
    harness = Harness(runtime, shop_id)
    harness.sync(full=True)
    return harness


def install_woo(runtime: Runtime, running: RunningWoo) -> Harness:
    harness = Harness(runtime, add_sandbox_woocommerce(runtime, running))
    harness.sync(full=True)
    return harness


def counting(monkeypatch: pytest.MonkeyPatch, target: Any, method: str) -> list[Any]:
    """Record every call the sandbox receives to `target.method` (the store's side)."""
    calls: list[Any] = []
    original = getattr(target, method)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, method, recorded)
    return calls


def without_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adapters that retry a failing store at once: the sandbox's 500s are real, the seconds
    a transport would sleep between its own attempts are not worth waiting in a test."""
    from connector import stores

    original = stores.adapter_for

    def quick(runtime: Runtime, shop: Any, **options: Any) -> Any:
        adapter = original(runtime, shop, **options)
        for part in (getattr(adapter, "transport", None), getattr(adapter, "client", None)):
            if part is not None and hasattr(part, "sleep"):
                part.sleep = lambda _seconds: None
        return adapter

    monkeypatch.setattr(stores, "adapter_for", quick)
