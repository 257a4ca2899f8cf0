"""Syncing through the adapter interface: pages, watermarks, resumption, deletions.

The store here is an in-memory StoreAdapter with pages of two, so the walk's edges are easy to
see; the end-to-end syncs against the sandbox stores live with the adapters' tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from adapters.base import (
    Page,
    StoreInventoryLevel,
    StoreOrder,
    StoreOrderLine,
    StoreProduct,
    StoreShop,
    StoreVariant,
)
from connector.models import InventoryLevel, Order, Product, Shop, SyncCursor, Variant
from connector.runtime import Runtime
from connector.services.shops import add_shop
from connector.services.sync import FULL_WALK_EVERY, sync_shop
from tests.engine_helpers import backorders


@dataclass
class MemoryStore:
    """A store that pages by two and can be told to fail once after N pages."""

    products: list[StoreProduct] = field(default_factory=list)
    orders: list[StoreOrder] = field(default_factory=list)
    fail_after_pages: int | None = None
    requested: list[tuple[str, str | None]] = field(default_factory=list)
    platform: str = "memory"

    def shop(self) -> StoreShop:
        return StoreShop(
            domain="memory.myshopify.com",
            name="Memory Goods",
            timezone="Europe/Vienna",
            currency="EUR",
        )

    def _pages(
        self,
        kind: str,
        items: list,
        since: datetime | None,
        before: datetime | None,
        cursor: str | None,
    ) -> Iterator[Page]:
        chosen = sorted(
            (
                i
                for i in items
                if (since is None or i.updated_at >= since)
                and (before is None or i.updated_at < before)
            ),
            key=lambda i: (i.updated_at, i.external_id),
        )
        start = int(cursor or 0)
        while start < len(chosen):
            self.requested.append((kind, str(start)))
            if self.fail_after_pages is not None and len(self.requested) > self.fail_after_pages:
                self.fail_after_pages = None
                raise ConnectionError("the store went away mid-sync")
            end = start + 2
            yield Page(tuple(chosen[start:end]), str(end) if end < len(chosen) else None)
            start = end

    def product_pages(self, *, updated_since=None, updated_before=None, cursor=None):  # type: ignore[no-untyped-def]
        return self._pages("products", self.products, updated_since, updated_before, cursor)

    def order_pages(self, *, updated_since=None, updated_before=None, cursor=None):  # type: ignore[no-untyped-def]
        return self._pages("orders", self.orders, updated_since, updated_before, cursor)


def product(n: int, at: datetime, available: int = 0) -> StoreProduct:
    variant = StoreVariant(
        external_id=f"v{n}",
        sku=f"SKU-{n}",
        title=f"Size {n}",
        price=Decimal("19.90"),
        options={"Size": str(n)},
        inventory_policy="continue",
        updated_at=at,
        levels=(
            StoreInventoryLevel(
                f"v{n}", "loc-1", on_hand=available, available=available, updated_at=at
            ),
        ),
    )
    return StoreProduct(external_id=f"p{n}", title=f"Tee {n}", updated_at=at, variants=(variant,))


def order(n: int, variant: str, quantity: int, at: datetime) -> StoreOrder:
    return StoreOrder(
        external_id=str(n),
        name=f"#{n}",
        placed_at=at,
        updated_at=at,
        lines=(StoreOrderLine(f"{n}-1", variant, quantity),),
    )


@pytest.fixture
def shop_id(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain="memory.myshopify.com",
            credentials={},
        ).id


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_full_sync_brings_catalogue_stock_and_orders_through_the_engine(
    runtime: Runtime, shop_id: int
) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(
        products=[product(n, at, available=1) for n in range(5)],
        orders=[order(100 + n, "v0", 1, at + timedelta(minutes=n)) for n in range(3)],
    )
    summary = sync_shop(runtime, store, shop_id, full=True)
    assert summary.records == {"products": 5, "orders": 3}
    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, shop_id)
        assert (shop.name, shop.timezone, shop.currency) == ("Memory Goods", "Europe/Vienna", "EUR")
    assert (count(runtime, Product), count(runtime, Variant), count(runtime, Order)) == (5, 5, 3)
    # One unit of v0 on hand, three orders of one: the two later orders wait.
    assert sorted(backorders(runtime)) == ["101-1", "102-1"]


def test_a_crash_mid_sync_resumes_after_the_last_saved_page(runtime: Runtime, shop_id: int) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[product(n, at) for n in range(7)], fail_after_pages=2)
    with pytest.raises(ConnectionError):
        sync_shop(runtime, store, shop_id, full=True)
    assert count(runtime, Product) == 4  # two pages committed
    store.requested.clear()
    sync_shop(runtime, store, shop_id, full=True)
    assert store.requested[0] == ("products", "4")  # not from the start
    assert count(runtime, Product) == 7


def test_incremental_reads_only_what_changed_and_catches_changes_made_during_a_sync(
    runtime: Runtime, shop_id: int
) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[product(n, at) for n in range(4)])
    sync_shop(runtime, store, shop_id, full=True)
    # A change stamped after the sync started is outside its window...
    late = runtime.clock.now() + timedelta(seconds=1)
    store.products[1] = replace(store.products[1], title="Tee 1 (renamed)", updated_at=late)
    runtime.clock.advance(timedelta(minutes=5))
    store.requested.clear()
    sync_shop(runtime, store, shop_id)
    assert store.requested == [("products", "0")]  # one page: only the changed product
    with runtime.db.transaction() as session:
        assert session.scalar(select(Product.title).where(Product.external_id == "p1")) == (
            "Tee 1 (renamed)"
        )
        watermark = session.scalar(
            select(SyncCursor.watermark).where(SyncCursor.resource == "products")
        )
    assert watermark == runtime.clock.now()


def test_stock_changed_by_a_sale_is_caught_by_the_daily_full_walk_of_the_catalogue(
    runtime: Runtime, shop_id: int
) -> None:
    """A sale moves stock but not the product's `updated_at`, so incremental walks miss it."""
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[product(1, at, available=5)])
    sync_shop(runtime, store, shop_id, full=True)
    sold = runtime.clock.now() + timedelta(minutes=1)
    level = replace(
        store.products[0].variants[0].levels[0], available=2, on_hand=2, updated_at=sold
    )
    variant = replace(store.products[0].variants[0], levels=(level,))
    store.products[0] = replace(store.products[0], variants=(variant,))  # same updated_at

    def available() -> int:
        with runtime.db.transaction() as session:
            return session.scalar(select(InventoryLevel.available)) or 0

    runtime.clock.advance(timedelta(hours=1))
    sync_shop(runtime, store, shop_id)
    assert available() == 5  # an hour later, the incremental walk could not see the sale
    runtime.clock.advance(FULL_WALK_EVERY["products"])
    sync_shop(runtime, store, shop_id)
    assert available() == 2  # the day's full walk did


def test_a_full_sync_archives_products_gone_from_the_store(runtime: Runtime, shop_id: int) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[product(n, at) for n in range(3)])
    sync_shop(runtime, store, shop_id, full=True)
    store.products.pop(0)
    runtime.clock.advance(timedelta(minutes=1))
    sync_shop(runtime, store, shop_id, full=True)
    with runtime.db.transaction() as session:
        statuses = dict(session.execute(select(Product.external_id, Product.status)).all())
    assert statuses == {"p0": "archived", "p1": "active", "p2": "active"}


def test_an_older_page_does_not_overwrite_a_newer_webhook(runtime: Runtime, shop_id: int) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[replace(product(1, at + timedelta(hours=2)), title="New")])
    sync_shop(runtime, store, shop_id, full=True)
    store.products = [replace(product(1, at), title="Old")]
    sync_shop(runtime, store, shop_id, full=True)
    with runtime.db.transaction() as session:
        assert session.scalar(select(Product.title)) == "New"


def test_a_malformed_record_is_skipped_with_a_reason_and_the_rest_is_stored(
    runtime: Runtime, shop_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    at = runtime.clock.now() - timedelta(days=1)
    no_date = replace(order(7, "v1", 1, at), placed_at=None)  # type: ignore[arg-type]
    negative = order(6, "v1", -2, at)
    odd_policy = replace(
        product(3, at),
        variants=(replace(product(3, at).variants[0], inventory_policy="sometimes"),),
    )
    store = MemoryStore(
        products=[product(1, at), odd_policy], orders=[no_date, negative, order(8, "v1", 1, at)]
    )
    summary = sync_shop(runtime, store, shop_id, full=True)
    assert summary.records == {"products": 1, "orders": 1}
    assert summary.skipped == {"products": 1, "orders": 2}
    assert "skipped order 7" in caplog.text and "placed_at is missing" in caplog.text
    assert "skipped product p3" in caplog.text
    assert (count(runtime, Product), count(runtime, Order)) == (1, 1)


def test_one_sync_per_shop_at_a_time_and_a_refusing_store_stops_syncs(
    runtime: Runtime, shop_id: int
) -> None:
    from adapters.base import NeedsReauthorization
    from connector.commands import execute
    from connector.models import Shop
    from connector.services.sync import SyncBusy, _claim, run_sync

    at = runtime.clock.now() - timedelta(days=1)
    store = MemoryStore(products=[product(1, at)])
    assert execute(runtime, lambda s: _claim(s, shop_id, runtime.clock.now()))  # another process
    with pytest.raises(SyncBusy):
        run_sync(runtime, store, shop_id)
    runtime.clock.advance(timedelta(hours=1))  # that process died; its lease ran out
    assert run_sync(runtime, store, shop_id).records == {"products": 1}

    class Refusing(MemoryStore):
        def product_pages(self, **kwargs):  # type: ignore[no-untyped-def]
            raise NeedsReauthorization("401 from the store")

    with pytest.raises(NeedsReauthorization):
        run_sync(runtime, Refusing(), shop_id)
    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, shop_id)
        assert shop.needs_reauthorization is True and shop.sync_lease_until is None
