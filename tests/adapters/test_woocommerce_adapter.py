"""The WooCommerce adapter against the running WooCommerce sandbox (and `responses` for faults
the sandbox cannot make: Retry-After dates, dropped connections)."""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses

from adapters.base import NeedsReauthorization, StoreAdapter, StoreError
from adapters.woocommerce import WooCommerceAdapter, WooRequestError
from adapters.woocommerce.retry import Backoff, retry_after_seconds
from adapters.woocommerce.walk import PAGES_PER_VARIATION_READ
from sandbox.woocommerce.server import RunningWoo, start

SECRET = "Whsec0123456789abcdefXYZ"


@pytest.fixture(scope="module")
def woo() -> Iterator[RunningWoo]:
    running = start(variants=300, seed=3)
    yield running
    running.stop()


class Sleeps(list[float]):
    """The injected sleep: records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(woo: RunningWoo, sleeps: Sleeps, **kw: Any) -> WooCommerceAdapter:
    kw.setdefault("consumer_key", woo.consumer_key)
    kw.setdefault("consumer_secret", woo.consumer_secret)
    kw.setdefault("allow_private", True)
    return WooCommerceAdapter(woo.url, sleep=sleeps, webhook_secret=SECRET, **kw)


@pytest.fixture
def adapter(woo: RunningWoo, sleeps: Sleeps) -> Iterator[WooCommerceAdapter]:
    yield make(woo, sleeps)
    woo.store.faults.fail_next.clear()


def variants_of(adapter: WooCommerceAdapter, **kw: Any) -> dict[str, Any]:
    return {
        v.external_id: (p, v)
        for page in adapter.product_pages(**kw)
        for p in page.items
        for v in p.variants
    }


def store_variant_ids(woo: RunningWoo) -> set[str]:
    with woo.store.lock:
        products = woo.store.products
        return {
            str(p.id)
            for p in products.values()
            if (p.type == "simple" and p.status != "trash")
            or (p.type == "variation" and products[p.parent_id].status != "trash")
        }


def in_stock_simple(woo: RunningWoo, skip: int = 0) -> int:
    with woo.store.lock:
        ids = [
            p.id
            for p in woo.store.products.values()
            if p.type == "simple" and p.manage_stock and (p.stock_quantity or 0) >= 5
        ]
    return ids[skip]


class PathsSession(requests.Session):
    """Records the path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.paths.append(urlsplit(url).path)
        return super().request(method, url, *args, **kwargs)


# ---------------------------------------------------------------------- protocol
def test_adapter_has_every_protocol_method_with_its_signature() -> None:
    for name, member in inspect.getmembers(StoreAdapter, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = getattr(WooCommerceAdapter, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(member).parameters
        ), name
    assert WooCommerceAdapter.platform == "woocommerce"


# ---------------------------------------------------------------------- products
def test_full_product_walk_returns_every_variant_exactly_once(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    pages = list(adapter.product_pages())
    ids = [v.external_id for page in pages for p in page.items for v in p.variants]
    assert len(ids) == len(set(ids))
    assert set(ids) == store_variant_ids(woo)
    assert pages[-1].next_cursor is None
    assert all(len(page.items) <= 100 for page in pages)


def _walk_requests(woo: RunningWoo, sleeps: Sleeps) -> tuple[list[Any], list[str]]:
    """A full product walk by a fresh adapter: (its pages, the path of every request)."""
    session = PathsSession()
    pages = list(make(woo, sleeps, session=session).product_pages())
    return pages, session.paths


def test_variations_come_from_the_collection_a_few_pages_of_products_at_a_time(
    woo: RunningWoo, sleeps: Sleeps
) -> None:
    """WooCommerce 10.3+: `GET /variations?parent=…` reads the variations of a few pages of
    products together, 100 a request."""
    pages, paths = _walk_requests(woo, sleeps)
    ids = [v.external_id for page in pages for p in page.items for v in p.variants]
    assert sorted(ids) == sorted(store_variant_ids(woo))
    products = paths.count("/wp-json/wc/v3/products")
    collection = paths.count("/wp-json/wc/v3/variations")
    assert products == len(pages) and len(paths) == products + collection
    with woo.store.lock:
        items = woo.store.products
        variations = sum(1 for p in items.values() if p.type == "variation")
    # At most one part-filled page of variations per read (a few pages of products).
    reads = math.ceil(products / PAGES_PER_VARIATION_READ)
    assert math.ceil(variations / 100) <= collection <= math.ceil(variations / 100) + reads
    # What the walk learnt still serves writes to a variation (no look-up needed).
    adapter = make(woo, sleeps, session=PathsSession())
    variants_of(adapter)
    parent = next(p for p in pages[0].items if len(p.variants) > 1)
    assert adapter._parent_of(parent.variants[0].external_id) == parent.external_id


def test_a_store_before_10_3_has_its_variations_read_product_by_product(
    woo: RunningWoo, sleeps: Sleeps
) -> None:
    expected, _ = _walk_requests(woo, sleeps)
    with woo.store.lock:
        woo.store.settings.wc_version = "9.8.5"
    try:
        pages, paths = _walk_requests(woo, sleeps)
    finally:
        with woo.store.lock:
            woo.store.settings.wc_version = "10.3.1"
    assert pages == expected  # the same products, variants and levels
    assert paths.count("/wp-json/wc/v3/variations") == 1  # learnt once: 404 rest_no_route
    per_product = [p for p in paths if p.endswith("/variations") and "/products/" in p]
    variable = sum(1 for page in pages for p in page.items if len(p.variants) > 1)
    assert len(per_product) >= variable > 0


@responses.activate
def test_a_collection_answer_without_parent_ids_falls_back_to_product_by_product(
    sleeps: Sleeps,
) -> None:
    product = {
        "id": 7,
        "type": "variable",
        "name": "Tee",
        "date_modified_gmt": "2026-11-01T10:00:00",
    }
    variation = {
        "id": 8,
        "date_modified_gmt": "2026-11-01T10:00:00",
        "manage_stock": False,
        "attributes": [{"name": "Size", "option": "M"}],
    }
    one = {"headers": {"X-WP-TotalPages": "1"}}
    responses.add(responses.GET, f"{SHOP}/wp-json/wc/v3/products", json=[product], **one)
    responses.add(responses.GET, f"{SHOP}/wp-json/wc/v3/variations", json=[variation], **one)
    responses.add(
        responses.GET, f"{SHOP}/wp-json/wc/v3/products/7/variations", json=[variation], **one
    )
    adapter = WooCommerceAdapter(SHOP, "ck_x", "cs_y", sleep=sleeps)
    (page,) = adapter.product_pages()
    assert [v.external_id for v in page.items[0].variants] == ["8"]
    assert adapter._variations.collection is False


def test_stock_policy_status_and_catalogue_fields_are_mapped(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    store = woo.store
    seen = variants_of(adapter)
    with store.lock:
        checked = {"managed": 0, "unmanaged": 0, "continue": 0}
        for vid, (product, variant) in seen.items():
            record = store.products[int(vid)]
            owner = record if record.manage_stock else store.products.get(record.parent_id)
            if record.type == "variation" and not record.manage_stock:
                owner = owner if owner is not None and owner.manage_stock else None
            if record.type == "simple" and not record.manage_stock:
                owner = None
            if owner is None:
                assert not variant.managed and variant.levels == ()
                checked["unmanaged"] += 1
            else:
                (level,) = variant.levels
                assert (level.available, level.on_hand) == (owner.stock_quantity, None)
                assert level.location_external_id == "default"
                assert variant.inventory_item_external_id == str(owner.id)
                checked["managed"] += 1
            allowing = (owner or record).backorders in ("notify", "yes")
            assert variant.inventory_policy == ("continue" if allowing else "deny")
            checked["continue"] += allowing
            assert variant.sku == record.sku
            assert variant.price == Decimal(record.sale_price or record.regular_price)
            parent = store.products[record.parent_id] if record.parent_id else record
            assert product.external_id == str(parent.id)
            assert product.product_type == parent.categories[0]["name"]
            if record.type == "variation":
                assert variant.options == {a["name"]: a["option"] for a in record.attributes}
    assert all(checked.values()), checked


def test_parent_managed_variations_get_the_parents_stock(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    store = woo.store
    with store.lock:
        parent = next(p for p in store.products.values() if p.type == "variable" and p.manage_stock)
        assert all(not store.products[v].manage_stock for v in parent.variations)
    store.restock(parent.id, 0, 7)
    seen = variants_of(adapter)
    with store.lock:
        expected = store.products[parent.id].stock_quantity
    for vid in parent.variations:
        _, variant = seen[str(vid)]
        assert variant.levels[0].available == expected
        assert variant.inventory_item_external_id == str(parent.id)


def test_incremental_walk_returns_the_changed_product_and_not_the_untouched(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    store = woo.store
    since = store.now()
    changed = in_stock_simple(woo, skip=3)
    store.update_product(changed, regular_price="12.34", status="draft")
    products = {
        p.external_id: p for page in adapter.product_pages(updated_since=since) for p in page.items
    }
    assert str(changed) in products
    assert products[str(changed)].status == "draft"
    assert products[str(changed)].variants[0].price == Decimal("12.34")
    with store.lock:
        untouched = [
            str(p.id)
            for p in store.products.values()
            if p.type != "variation" and p.date_modified < since - timedelta(minutes=5)
        ]
    assert untouched
    assert not set(untouched) & set(products)
    # changed 2 minutes "before" the window start: still read, thanks to the 5-minute overlap
    skewed = adapter.product_pages(updated_since=store.now() + timedelta(minutes=2))
    assert str(changed) in {p.external_id for page in skewed for p in page.items}
    before = adapter.product_pages(updated_since=since, updated_before=since)
    assert str(changed) not in {p.external_id for page in before for p in page.items}


# ---------------------------------------------------------------------- orders
def test_orders_walk_maps_placed_cancelled_and_completed_orders(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    store = woo.store
    since = store.now()
    pid = in_stock_simple(woo)
    with store.lock:
        parent = next(p for p in store.products.values() if p.type == "variable")
        vid = parent.variations[0]
    store.restock(parent.id, vid, 5)
    placed = store.place_order([(pid, 0, 2), (parent.id, vid, 1)], email="ann.lee@example.com")
    cancelled = store.place_order([(pid, 0, 1)])
    store.cancel_order(cancelled)
    completed = store.place_order([(pid, 0, 1)])
    store.complete_order(completed)

    orders = {
        o.external_id: o for page in adapter.order_pages(updated_since=since) for o in page.items
    }
    o = orders[str(placed)]
    assert o.cancelled_at is None and o.name == str(placed)
    assert o.customer_email == "ann.lee@example.com" and o.customer_name == "Ann Lee"
    assert o.shipping_method == "Flat rate"
    assert [(li.variant_external_id, li.quantity, li.fulfilled_quantity) for li in o.lines] == [
        (str(pid), 2, 0),
        (str(vid), 1, 0),
    ]
    with store.lock:
        raw = store.orders[placed]
        assert o.placed_at == raw.date_created.replace(microsecond=0)
        assert o.lines[0].price == Decimal(str(raw.line_items[0].price))
        assert o.lines[0].sku == raw.line_items[0].sku
    c = orders[str(cancelled)]
    assert c.cancelled_at is not None and c.cancelled_at == c.updated_at
    done = orders[str(completed)]
    assert done.cancelled_at is None
    assert [li.fulfilled_quantity for li in done.lines] == [1]
    assert done.fulfillment_status == "fulfilled"


def test_order_walk_resumes_from_a_cursor_and_never_skips_records_edited_mid_walk(
    sleeps: Sleeps,
) -> None:
    running = start(variants=20, seed=5)
    try:
        adapter = make(running, sleeps)
        store = running.store
        with store.lock:
            total = {str(o) for o, rec in store.orders.items() if rec.status != "trash"}
        seen: list[str] = []
        first_cursor = None
        for page in adapter.order_pages():
            if first_cursor is None:
                first_cursor = page.next_cursor
                # edit an already-seen order: with page numbers the next record would be skipped
                store.set_status(int(page.items[0].external_id), "completed")
                store.set_status(int(page.items[1].external_id), "on-hold")
            seen.extend(o.external_id for o in page.items)
        assert set(seen) == total
        assert first_cursor is not None
        resumed = {
            o.external_id for page in adapter.order_pages(cursor=first_cursor) for o in page.items
        }
        assert total - set(seen[:100]) <= resumed
        with pytest.raises(StoreError):
            list(adapter.order_pages(cursor="nonsense"))
    finally:
        running.stop()


def test_walk_survives_more_than_a_page_of_records_with_the_same_modified_time(
    sleeps: Sleeps,
) -> None:
    running = start(variants=20, seed=7)
    try:
        store = running.store
        instant = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with store.lock:
            for rec in store.orders.values():
                rec.date_modified = instant
            expected = {str(o) for o in store.orders}
        pages = list(make(running, sleeps).order_pages())
        ids = [o.external_id for page in pages for o in page.items]
        assert len(ids) == len(set(ids)) and set(ids) == expected
        assert len(pages) >= 3
    finally:
        running.stop()


# ---------------------------------------------------------------------- write-backs
def test_order_write_backs_are_visible_in_the_store(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    store = woo.store
    oid = store.place_order([(in_stock_simple(woo, skip=1), 0, 1)])
    adapter.add_order_note(str(oid), "Backordered: ships 2026-12-01")
    with store.lock:
        (note,) = [n for n in store.notes.values() if n.order_id == oid and "ships" in n.note]
        assert note.customer_note is False

    adapter.set_order_data(str(oid), "eta", {"date": "2026-12-01"})
    adapter.add_order_tags(str(oid), ["backorder", "eta-set"])
    adapter.add_order_tags(str(oid), ["eta-set", "late"])
    adapter.remove_order_tags(str(oid), ["late", "unknown"])
    with store.lock:
        meta = {m.key: m.value for m in store.orders[oid].meta_data}
    assert meta["_backorder_eta"] == {"date": "2026-12-01"}
    assert meta["backorder_tags"] == ["backorder", "eta-set"]

    adapter.hold_lines(str(oid), ["1"], "Waiting for stock")
    assert store.orders[oid].status == "on-hold"
    adapter.release_holds(str(oid))
    assert store.orders[oid].status == "processing"

    merchant_hold = store.place_order([(in_stock_simple(woo, skip=1), 0, 1)], status="on-hold")
    adapter.release_holds(str(merchant_hold))
    assert store.orders[merchant_hold].status == "on-hold"


def test_variant_data_lands_on_the_variation_and_the_simple_product(
    woo: RunningWoo, sleeps: Sleeps
) -> None:
    store = woo.store
    adapter = make(woo, sleeps)  # fresh: the parent is looked up, not taken from a walk
    with store.lock:
        variation = next(p for p in store.products.values() if p.type == "variation")
    simple = in_stock_simple(woo, skip=2)
    adapter.set_variant_data(str(variation.id), "eta", {"d": 1})
    adapter.set_variant_data(str(simple), "eta", {"d": 2})
    with store.lock:
        assert {m.key: m.value for m in store.products[variation.id].meta_data} == {
            "_backorder_eta": {"d": 1}
        }
        assert {m.key: m.value for m in store.products[simple].meta_data} == {
            "_backorder_eta": {"d": 2}
        }


def test_webhook_is_registered_with_our_secret_and_listed(
    woo: RunningWoo, adapter: WooCommerceAdapter
) -> None:
    hook = adapter.register_webhook("order.updated", "http://127.0.0.1:9/webhooks/woo")
    with woo.store.lock:
        stored = woo.store.webhooks[int(hook.external_id)]
        assert (stored.secret, stored.topic, stored.status) == (SECRET, "order.updated", "active")
    assert hook in adapter.list_webhooks()
    no_secret = WooCommerceAdapter(
        woo.url, woo.consumer_key, woo.consumer_secret, allow_private=True
    )
    with pytest.raises(StoreError):
        no_secret.register_webhook("order.updated", "http://127.0.0.1:9/x")


def test_shop_falls_back_to_host_utc_and_order_currency(adapter: WooCommerceAdapter) -> None:
    shop = adapter.shop()
    assert (shop.domain, shop.timezone, shop.currency) == ("127.0.0.1", "UTC", "USD")


# ---------------------------------------------------------------------- failures
def test_503s_are_retried_transparently_with_the_injected_sleep(
    woo: RunningWoo, adapter: WooCommerceAdapter, sleeps: Sleeps
) -> None:
    woo.store.fail_next(2, 503)
    pages = list(adapter.product_pages(updated_since=woo.store.now()))
    assert pages[-1].next_cursor is None
    assert sleeps == [2.0, 2.0]  # the sandbox's Retry-After: 2 is a floor over the jitter


def test_retries_stop_at_max_attempts(woo: RunningWoo, sleeps: Sleeps) -> None:
    adapter = make(woo, sleeps, max_attempts=3)
    woo.store.fail_next(5, 500)
    try:
        with pytest.raises(WooRequestError) as err:
            adapter.shop()
    finally:
        woo.store.faults.fail_next.clear()
    assert err.value.status == 500
    assert len(sleeps) == 2


def test_wrong_secret_needs_reauthorization_without_retry(woo: RunningWoo, sleeps: Sleeps) -> None:
    adapter = make(woo, sleeps, consumer_secret="cs_" + "0" * 40)
    with pytest.raises(NeedsReauthorization):
        next(adapter.product_pages())
    assert sleeps == []


def test_read_only_key_cannot_write(woo: RunningWoo, sleeps: Sleeps) -> None:
    key = woo.store.create_key("read")
    adapter = make(woo, sleeps, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret)
    assert next(adapter.order_pages()).items
    with pytest.raises(NeedsReauthorization):
        adapter.add_order_note(str(next(iter(woo.store.orders))), "x")
    assert sleeps == []


def test_other_4xx_is_a_store_error_with_woocommerce_code(
    adapter: WooCommerceAdapter, sleeps: Sleeps
) -> None:
    with pytest.raises(WooRequestError) as err:
        adapter.add_order_note("99999999", "x")
    assert not isinstance(err.value, NeedsReauthorization)
    assert (err.value.status, err.value.code) == (404, "woocommerce_rest_order_invalid_id")
    assert sleeps == []


# ---------------------------------------------------------------------- responses-based
SHOP = "https://shop.example"
ORDERS = f"{SHOP}/wp-json/wc/v3/orders"
EMPTY = {"json": [], "headers": {"X-WP-TotalPages": "0", "X-WP-Total": "0"}}


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append({"method": method, **kwargs})
        return super().request(method, url, *args, **kwargs)


@responses.activate
def test_429_retry_after_is_honoured_and_one_session_is_reused(sleeps: Sleeps) -> None:
    responses.add(responses.GET, ORDERS, status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, ORDERS, status=200, **EMPTY)
    session = CountingSession()
    adapter = WooCommerceAdapter(SHOP, "ck_x", "cs_y", session=session, sleep=sleeps)
    pages = list(adapter.order_pages())
    assert pages[0].items == () and pages[0].next_cursor is None
    assert sleeps == [7.0]
    assert len(session.sent) == 2
    assert all(s["timeout"] == (5.0, 30.0) for s in session.sent)
    assert responses.calls[0].request.headers["user-agent"] == "backorder-connector/0.1"
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_connection_error_then_success(sleeps: Sleeps) -> None:
    responses.add(responses.GET, ORDERS, body=requests.ConnectionError("reset by peer"))
    responses.add(responses.GET, ORDERS, status=200, **EMPTY)
    adapter = WooCommerceAdapter(SHOP, "ck_x", "cs_y", sleep=sleeps)
    assert next(iter(adapter.order_pages())).items == ()
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


@responses.activate
def test_a_post_is_not_retried_after_a_500(sleeps: Sleeps) -> None:
    responses.add(
        responses.POST, f"{ORDERS}/5/notes", status=500, json={"code": "x", "message": "m"}
    )
    adapter = WooCommerceAdapter(SHOP, "ck_x", "cs_y", sleep=sleeps)
    with pytest.raises(WooRequestError):
        adapter.add_order_note("5", "hello")
    assert len(responses.calls) == 1 and sleeps == []


def test_backoff_grows_is_capped_and_retry_after_dates_are_read() -> None:
    backoff = Backoff(base=1.0, cap=10.0, rng=random.Random(4))
    for attempt in range(1, 10):
        assert 0 <= backoff.delay(attempt) <= min(10.0, 2 ** (attempt - 1))
    assert max(backoff.delay(8) for _ in range(50)) > 5  # grows beyond the first ceiling
    assert backoff.delay(1, retry_after=30) == 30
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 26 Nov 2026 12:00:09 GMT", lambda: now) == 9
    assert retry_after_seconds("120", lambda: now) == 120
    assert retry_after_seconds("soon", lambda: now) is None
