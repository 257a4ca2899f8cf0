"""Full walks of a large Shopify store through a bulk export (adapters/shopify/bulk.py).

Against the sandbox store: the export yields what the paged walk yields, resumes inside its file,
survives a failed, a vanished and an already running operation. Against `responses`: the file is
fetched without the Admin token, a broken download is read again without doubling a record, and
a file that is not grouped is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from sqlalchemy import func, select

from adapters.base import StoreError, StoreOrder, StoreProduct
from adapters.shopify import ShopifyAdapter, queries
from adapters.shopify.bulk import BulkCursor, groups
from connector.models import Order, Product, Variant
from connector.runtime import Runtime
from connector.services.shops import add_shop
from connector.services.sync import run_sync
from sandbox.shopify.seed import seed
from sandbox.shopify.server import RunningShopify, start
from sandbox.shopify.store import ShopifyStore

THRESHOLD = 20  # the sandbox store below has about 50 products and 100 orders: "large"


class Sleeper:
    """Really sleeps (the sandbox works in a thread of its own); `then` runs at the first call."""

    def __init__(self, then: Any = None) -> None:
        self.calls: list[float] = []
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.then is not None:
            self.then, then = None, self.then
            then()
        time.sleep(min(seconds, 0.2))


@pytest.fixture
def shop() -> Iterator[RunningShopify]:
    running = start(variants=300, seed=7, restore_rate=5000)
    yield running
    running.stop()


def adapter_for(shop: RunningShopify, sleeper: Sleeper | None = None, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"bulk_threshold": THRESHOLD, "bulk_poll": 0.01, **kwargs}
    return ShopifyAdapter(
        shop.shop,
        shop.access_token,
        admin_base_url=shop.admin_base_url,
        api_version="2025-01",
        sleep=sleeper or Sleeper(),
        allow_private=True,
        **options,
    )


def window(shop: RunningShopify) -> datetime:
    """The `updated_before` of a sync started now (the store's clock is the real one)."""
    return shop.store.clock() + timedelta(seconds=1)


def products(pages: Iterator[Any]) -> dict[str, StoreProduct]:
    found: dict[str, StoreProduct] = {}
    for page in pages:
        for product in page.items:
            assert product.external_id not in found, "a product came twice"
            found[product.external_id] = product
    return found


def orders(pages: Iterator[Any]) -> dict[str, StoreOrder]:
    found: dict[str, StoreOrder] = {}
    for page in pages:
        for order in page.items:
            assert order.external_id not in found, "an order came twice"
            found[order.external_id] = order
    return found


def bulk_runner(shop: RunningShopify) -> Any:
    return shop.app.extensions["shopify_sandbox"].bulk


# ---------------------------------------------------------------------------- documents
def leaf_paths(document: str) -> set[str]:
    """Every selected leaf as a dotted path, connections' `edges.node`/`nodes` and fragments
    flattened and `pageInfo` left out: what a document reads, whatever its paging."""
    doc = parse(document)
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    paths: set[str] = set()

    def walk(selections: SelectionSetNode, prefix: str) -> None:
        for selection in selections.selections:
            if isinstance(selection, FragmentSpreadNode):
                walk(fragments[selection.name.value].selection_set, prefix)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, prefix)
            elif isinstance(selection, FieldNode) and selection.name.value != "pageInfo":
                name = selection.name.value
                if name in ("edges", "node", "nodes"):
                    walk(selection.selection_set, prefix)  # type: ignore[arg-type]
                    continue
                path = f"{prefix}.{name}" if prefix else name
                if selection.selection_set is None:
                    paths.add(path)
                else:
                    walk(selection.selection_set, path)

    walk(operation.selection_set, "")
    return paths


def test_bulk_documents_read_exactly_what_the_paged_documents_read() -> None:
    """One set of `parse` functions reads both: a field added to one must be added to both."""
    assert leaf_paths(queries.bulk_products(None)) == leaf_paths(queries.PRODUCTS)
    assert leaf_paths(queries.bulk_orders(None)) == leaf_paths(queries.ORDERS)
    search = "updated_at:<'2026-11-26T15:00:00Z'"
    assert """products(query: "updated_at:<'2026-11-26T15:00:00Z'")""" in queries.bulk_products(
        search
    )


def test_bulk_cursor_round_trips_and_refuses_garbage() -> None:
    cursor = BulkCursor("gid://shopify/BulkOperation/42", 250)
    assert BulkCursor.load(cursor.dump()) == cursor
    assert BulkCursor.load("eyJsYXN0IjoxfQ") is None  # a page cursor is not ours
    with pytest.raises(StoreError):
        BulkCursor.load("bulk:gid://shopify/BulkOperation/42:many")


# ---------------------------------------------------------------------------- sandbox
def test_a_large_store_is_walked_in_bulk_and_yields_what_the_pages_yield(
    shop: RunningShopify,
) -> None:
    before = window(shop)
    paged = adapter_for(shop, bulk_threshold=None)
    by_pages = products(paged.product_pages(updated_before=before))
    orders_by_pages = orders(paged.order_pages(updated_before=before))
    assert shop.store.bulk_operations == {}

    bulk = adapter_for(shop, bulk_page_size=7)
    pages = list(bulk.product_pages(updated_before=before))
    assert all(p.next_cursor.startswith("bulk:") for p in pages[:-1]) and len(pages) > 2
    assert pages[-1].next_cursor is None
    in_bulk = products(iter(pages))
    assert in_bulk == by_pages
    assert sum(len(p.variants) for p in in_bulk.values()) == len(shop.store.variants)
    assert sum(len(v.levels) for p in in_bulk.values() for v in p.variants) == len(
        shop.store.levels
    )
    assert orders(bulk.order_pages(updated_before=before)) == orders_by_pages
    assert all(o.locale == "en" for o in orders_by_pages.values())  # customerLocale selected
    assert len(orders_by_pages) == len(shop.store.orders) >= THRESHOLD
    assert [op.status for op in shop.store.bulk_operations.values()] == ["COMPLETED"] * 2


def test_small_stores_and_incremental_walks_keep_the_pages(shop: RunningShopify) -> None:
    before = window(shop)
    small = adapter_for(shop, bulk_threshold=10_000)
    assert len(products(small.product_pages(updated_before=before))) == len(shop.store.products)
    since = before - timedelta(days=3)
    large = adapter_for(shop)
    list(large.order_pages(updated_since=since, updated_before=before))
    assert shop.store.bulk_operations == {}


def test_a_walk_resumed_from_a_mid_file_cursor_yields_the_rest_once(
    shop: RunningShopify,
) -> None:
    before = window(shop)
    everything = products(
        adapter_for(shop, bulk_threshold=None).product_pages(updated_before=before)
    )
    first = adapter_for(shop, bulk_page_size=7)
    walk = first.product_pages(updated_before=before)
    head = [next(walk), next(walk)]  # the sync committed two pages, then the process died
    cursor = head[-1].next_cursor
    assert cursor == f"bulk:{next(iter(shop.store.bulk_operations.values())).id}:14"

    resumed = adapter_for(shop, bulk_page_size=7)
    rest = products(resumed.product_pages(updated_before=before, cursor=cursor))
    seen = products(iter(head))
    assert not set(seen) & set(rest), "a product was read twice"
    assert {**seen, **rest} == everything
    assert len(shop.store.bulk_operations) == 1  # the same file, downloaded again


def test_a_resumed_walk_whose_file_is_gone_starts_over(shop: RunningShopify) -> None:
    before = window(shop)
    first = adapter_for(shop, bulk_page_size=7)
    cursor = next(first.product_pages(updated_before=before)).next_cursor
    operation = next(iter(shop.store.bulk_operations.values()))
    operation.status, operation.url = "EXPIRED", None  # seven days later
    again = products(adapter_for(shop).product_pages(updated_before=before, cursor=cursor))
    assert len(again) == len(shop.store.products)
    assert len(shop.store.bulk_operations) == 2


def test_a_failed_export_falls_back_to_the_pages(
    shop: RunningShopify, caplog: pytest.LogCaptureFixture
) -> None:
    before = window(shop)
    bulk_runner(shop).fail_next("TIMEOUT")
    with caplog.at_level(logging.WARNING, logger="adapters.shopify"):
        pages = list(adapter_for(shop).product_pages(updated_before=before))
    assert not any((p.next_cursor or "").startswith("bulk:") for p in pages)
    assert len(products(iter(pages))) == len(shop.store.products)
    assert "FAILED (TIMEOUT): walking the pages instead" in caplog.text


def test_an_internal_error_is_tried_once_more_in_bulk(shop: RunningShopify) -> None:
    before = window(shop)
    bulk_runner(shop).fail_next("INTERNAL_SERVER_ERROR")
    found = orders(adapter_for(shop).order_pages(updated_before=before))
    assert len(found) == len(shop.store.orders)
    statuses = [(op.status, op.errorCode) for op in shop.store.bulk_operations.values()]
    assert statuses == [("FAILED", "INTERNAL_SERVER_ERROR"), ("COMPLETED", None)]


def test_access_denied_is_a_store_error_that_names_the_scopes(shop: RunningShopify) -> None:
    bulk_runner(shop).fail_next("ACCESS_DENIED")
    with pytest.raises(StoreError, match="read_products"):
        list(adapter_for(shop).product_pages(updated_before=window(shop)))


def test_our_own_export_already_running_is_adopted(shop: RunningShopify) -> None:
    """A sync that died while waiting left its export running: the resumed one reads it."""
    before = window(shop)
    runner = bulk_runner(shop)
    runner.hold()
    search = f"updated_at:<'{before.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}'"
    crashed = adapter_for(shop)
    crashed.bulk._start(queries.bulk_products(search))  # started, never waited for
    sleeper = Sleeper(then=runner.release)
    found = products(adapter_for(shop, sleeper).product_pages(updated_before=before))
    assert len(found) == len(shop.store.products)
    assert len(shop.store.bulk_operations) == 1
    assert sleeper.calls  # it waited by sleeping between polls, never spinning


def test_another_export_running_is_waited_for_not_cancelled(shop: RunningShopify) -> None:
    before = window(shop)
    runner = bulk_runner(shop)
    runner.hold()
    other = adapter_for(shop).bulk._start(queries.bulk_orders(None))  # someone else's export
    sleeper = Sleeper(then=runner.release)
    found = products(adapter_for(shop, sleeper).product_pages(updated_before=before))
    assert len(found) == len(shop.store.products)
    operations = list(shop.store.bulk_operations.values())
    assert operations[0].id == other.id
    assert [op.status for op in operations] == ["COMPLETED", "COMPLETED"]


def test_the_store_refuses_bulk_documents_beyond_shopifys_limits(shop: RunningShopify) -> None:
    """Ours pass (the tests above); three nested connections do not, as on Shopify."""
    too_deep = """{ products { edges { node { variants { edges { node { inventoryItem {
      inventoryLevels { edges { node { location { metafields { edges { node { id } } } } } } }
    } } } } } } } }"""
    with pytest.raises(StoreError, match="nested at most 2"):
        adapter_for(shop).bulk._start(too_deep)
    assert shop.store.bulk_operations == {}


# ---------------------------------------------------------------------------- through the sync
def test_a_sync_that_crashes_inside_a_bulk_file_resumes_with_nothing_lost_or_doubled(
    runtime: Runtime,
) -> None:
    store = seed(ShopifyStore(clock=runtime.clock.now), seed=9, variants=300)
    running = start(store=store, restore_rate=5000)
    try:
        with runtime.db.transaction() as session:
            shop_id = add_shop(
                session,
                runtime.clock,
                runtime.vault,
                platform="shopify",
                domain=running.shop,
                credentials={"access_token": running.access_token},
            ).id
        adapter = adapter_for(running, bulk_page_size=7)

        class Crashing:
            """The adapter, dying after three committed pages of products."""

            def __getattr__(self, name: str) -> Any:
                return getattr(adapter, name)

            def product_pages(self, **kwargs: Any) -> Iterator[Any]:
                for number, page in enumerate(adapter.product_pages(**kwargs)):
                    if number == 3:
                        raise RuntimeError("the worker was killed")
                    yield page

        with pytest.raises(RuntimeError):
            run_sync(runtime, Crashing(), shop_id, full=True)  # type: ignore[arg-type]
        runtime.clock.advance(timedelta(minutes=1))
        summary = run_sync(runtime, adapter_for(running, bulk_page_size=7), shop_id, full=True)
        assert summary.records["products"] == len(store.products) - 3 * 7
        with runtime.db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Product)) == len(store.products)
            assert session.scalar(select(func.count()).select_from(Variant)) == len(store.variants)
            assert session.scalar(select(func.count()).select_from(Order)) == len(store.orders)
        exports = [op.query for op in store.bulk_operations.values()]
        assert sum("products" in q for q in exports) == 1  # resumed inside the same file
    finally:
        running.stop()


# ---------------------------------------------------------------------------- wire level
URL = "https://mock-shop.myshopify.com/admin/api/2025-01/graphql.json"
FILE = "https://storage.googleapis.com/shopify-tiers-assets-prod-us-east1/bulk-1.jsonl"
OPERATION = {
    "id": "gid://shopify/BulkOperation/1",
    "status": "CREATED",
    "errorCode": None,
    "objectCount": "0",
    "rootObjectCount": "0",
    "fileSize": None,
    "url": None,
    "query": "",
    "createdAt": "2026-01-01T00:00:00Z",
    "completedAt": None,
}
ORDER = {
    "id": "gid://shopify/Order/{n}",
    "name": "#{n}",
    "email": "a@example.com",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
    "cancelledAt": None,
    "displayFinancialStatus": "PAID",
    "displayFulfillmentStatus": "UNFULFILLED",
    "customer": None,
    "shippingLine": None,
}
LINE = (
    '{{"id":"gid://shopify/LineItem/{n}{k}","sku":"S","title":"T","quantity":1,'
    '"currentQuantity":1,"unfulfilledQuantity":1,"variant":{{"id":"gid://shopify/ProductVariant/1"}},'
    '"originalUnitPriceSet":{{"shopMoney":{{"amount":"5.00"}}}},'
    '"__parentId":"gid://shopify/Order/{n}"}}'
)


def order_lines(count: int) -> str:
    import json

    rows = []
    for n in range(1, count + 1):
        rows.append(
            json.dumps({k: v.format(n=n) if isinstance(v, str) else v for k, v in ORDER.items()})
        )
        rows += [LINE.format(n=n, k=k) for k in range(2)]
    return "\n".join(rows) + "\n"


def mock_export(url: str | None = FILE) -> None:
    responses.post(URL, json={"data": {"ordersCount": {"count": 500, "precision": "AT_LEAST"}}})
    responses.post(
        URL,
        json={"data": {"bulkOperationRunQuery": {"bulkOperation": OPERATION, "userErrors": []}}},
    )
    done = {**OPERATION, "status": "COMPLETED", "objectCount": "9" if url else "0", "url": url}
    responses.post(URL, json={"data": {"node": done}})


def mocked(sleeper: Sleeper) -> ShopifyAdapter:
    return ShopifyAdapter(
        "mock-shop.myshopify.com",
        "shpat_secret",
        api_version="2025-01",
        sleep=sleeper,
        bulk_threshold=500,
        bulk_page_size=2,
    )


@responses.activate
def test_the_file_is_read_without_the_token_and_a_broken_download_doubles_nothing() -> None:
    mock_export()
    responses.get(FILE, body=requests.ConnectionError("reset by peer"))
    responses.get(FILE, body=order_lines(3))
    sleeper = Sleeper()
    pages = list(mocked(sleeper).order_pages())
    names = [o.name for p in pages for o in p.items]
    assert names == ["#1", "#2", "#3"]
    assert [len(o.lines) for p in pages for o in p.items] == [2, 2, 2]
    assert [p.next_cursor for p in pages] == ["bulk:gid://shopify/BulkOperation/1:2", None]
    downloads = [c.request for c in responses.calls if c.request.method == "GET"]
    assert len(downloads) == 2
    assert all("X-Shopify-Access-Token" not in r.headers for r in downloads)
    posts = [c.request for c in responses.calls if c.request.method == "POST"]
    assert all(r.headers["X-Shopify-Access-Token"] == "shpat_secret" for r in posts)


@responses.activate
def test_an_export_with_nothing_in_it_is_one_empty_page() -> None:
    mock_export(url=None)
    pages = list(mocked(Sleeper()).order_pages())
    assert [(p.items, p.next_cursor) for p in pages] == [((), None)]


def test_a_file_that_is_not_grouped_is_refused() -> None:
    rows = [
        {"id": "gid://shopify/Order/1"},
        {"id": "gid://shopify/Order/2"},
        {"id": "gid://shopify/LineItem/1", "__parentId": "gid://shopify/Order/1"},
    ]
    with pytest.raises(StoreError, match="not grouped"):
        list(groups(iter(rows)))
