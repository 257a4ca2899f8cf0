"""Webhook bodies → common-model changes.

Three sources of bodies: Shopify's documented samples (shared/reference), the sandboxes' own
deliveries captured over HTTP (which must read exactly as the adapter's listing reads the same
resource: a webhook and a sync must never disagree), and hostile bodies, which never crash
`facts` and make `read_webhook` refuse with a ValueError (or a StoreError) that says why.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import (
    AppUninstalled,
    CustomerDataRequest,
    CustomerRedact,
    Ignored,
    InventoryChanged,
    OrderChanged,
    OrderDeleted,
    ProductChanged,
    ProductDeleted,
    ShopRedact,
    StoreError,
    StoreOrder,
    StoreProduct,
    WebhookChange,
    WebhookFacts,
)
from adapters.shopify import ShopifyAdapter
from adapters.shopify import webhooks as shopify_webhooks
from adapters.woocommerce import WooCommerceAdapter
from adapters.woocommerce import webhooks as woo_webhooks
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.server import start as start_shopify
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo

REFERENCE = Path(__file__).parents[2].parent / "shared/reference"
SHOPIFY_SAMPLES = REFERENCE / "shopify/webhooks"
WOO_SAMPLES = REFERENCE / "woocommerce"
SAMPLE_SHOP = "{shop}.myshopify.com"  # the compliance samples' shop_domain, as documented
MOCK_URL = "https://mock-shop.myshopify.com/admin/api/2025-01"
CLOSED = "http://127.0.0.1:9"  # nothing listens: any request fails at once
WOO_SECRET = "Whsec0123456789abcdefXYZ"
UTC_2022 = datetime(2022, 1, 1, tzinfo=UTC)  # the samples' "2021-12-31T19:00:00-05:00"

# Every documented sample, by topic: a new sample without a test fails test_every_sample_...
SAMPLE_TOPICS = {
    "app_uninstalled": "app/uninstalled",
    "bulk_operations_finish": "bulk_operations/finish",
    "customers_data_request": "customers/data_request",
    "customers_redact": "customers/redact",
    "inventory_items_update": "inventory_items/update",
    "inventory_levels_update": "inventory_levels/update",
    "orders_cancelled": "orders/cancelled",
    "orders_create": "orders/create",
    "orders_delete": "orders/delete",
    "orders_updated": "orders/updated",
    "products_update": "products/update",
    "shop_redact": "shop/redact",
    "variants_out_of_stock": "variants/out_of_stock",
}


def sample(name: str) -> dict[str, Any]:
    return json.loads((SHOPIFY_SAMPLES / f"{name}.json").read_text())


def woo_sample(name: str) -> Any:
    return json.loads((WOO_SAMPLES / f"{name}.json").read_text())


def no_sleep(_seconds: float) -> None:
    return None


def offline_shopify(shop: str = SAMPLE_SHOP, url: str = CLOSED) -> ShopifyAdapter:
    return ShopifyAdapter(
        shop, "token", admin_base_url=url, sleep=no_sleep, max_attempts=1, allow_private=True
    )


def offline_woo() -> WooCommerceAdapter:
    return WooCommerceAdapter(
        CLOSED, "ck_x", "cs_x", sleep=no_sleep, max_attempts=1, allow_private=True
    )


# ---------------------------------------------------------------------------- Shopify's samples
def test_every_sample_has_a_topic_here() -> None:
    assert {p.stem for p in SHOPIFY_SAMPLES.glob("*.json")} == set(SAMPLE_TOPICS)


@pytest.mark.parametrize(
    ("name", "resource_id", "updated_at"),
    [
        ("app_uninstalled", "gid://shopify/Shop/548380009", None),  # its updated_at is null
        (
            "bulk_operations_finish",
            "gid://shopify/BulkOperation/147595010",
            datetime(2024, 1, 1, 12, 34, 56, tzinfo=UTC),  # completed_at
        ),
        ("customers_data_request", "gid://shopify/Customer/191167", None),
        ("customers_redact", "gid://shopify/Customer/191167", None),
        ("inventory_items_update", "gid://shopify/InventoryItem/271878346596884015", UTC_2022),
        (
            "inventory_levels_update",
            "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015",
            UTC_2022,
        ),
        ("orders_cancelled", "gid://shopify/Order/820982911946154508", UTC_2022),
        ("orders_create", "gid://shopify/Order/820982911946154508", UTC_2022),
        ("orders_delete", "gid://shopify/Order/820982911946154508", None),
        ("orders_updated", "gid://shopify/Order/820982911946154508", UTC_2022),
        ("products_update", "gid://shopify/Product/788032119674292922", UTC_2022),
        ("shop_redact", "gid://shopify/Shop/954889", None),
        (
            "variants_out_of_stock",
            "gid://shopify/ProductVariant/642667041472713922",
            datetime(2021, 12, 31, tzinfo=UTC),
        ),
    ],
)
def test_facts_of_every_sample(name: str, resource_id: str, updated_at: datetime | None) -> None:
    facts = shopify_webhooks.facts(SAMPLE_TOPICS[name], sample(name))
    assert facts == WebhookFacts(resource_id, updated_at)
    assert facts.updated_at is None or facts.updated_at.tzinfo is UTC


def test_facts_of_an_edit_name_the_order_and_no_time() -> None:
    body = {"order_edit": {"id": 1, "order_id": 450789469, "created_at": "2024-01-01T00:00:00Z"}}
    assert shopify_webhooks.facts("orders/edited", body) == WebhookFacts(
        "gid://shopify/Order/450789469", None
    )


@pytest.mark.parametrize("name", ["orders_create", "orders_updated", "orders_cancelled"])
def test_sample_orders_read_as_the_order(name: str) -> None:
    change = offline_shopify().read_webhook(SAMPLE_TOPICS[name], sample(name))
    assert isinstance(change, OrderChanged)
    order = change.order
    assert order.external_id == "gid://shopify/Order/820982911946154508"
    assert order.name == "#9999" and order.placed_at == order.updated_at == UTC_2022
    assert order.customer_external_id == "gid://shopify/Customer/115310627314723954"
    assert order.customer_email == "john@example.com" and order.customer_name == "John Smith"
    assert order.locale == "en" and order.shipping_method == "Generic Shipping"
    assert order.financial_status == "voided" and order.fulfillment_status == "unfulfilled"
    assert order.cancelled_at == UTC_2022
    assert [line.sku for line in order.lines] == [
        "SKU2006-001",
        "LENS-PROTECT-2YR",
        "CASE-LEATHER-PREM",
        "SKU2006-020",
        "SKU2006-035",
    ]
    first = order.lines[0]
    assert first.external_id == "gid://shopify/LineItem/487817672276298554"
    assert first.variant_external_id is None  # the sample's variant_id is null
    assert (first.quantity, first.fulfilled_quantity, first.price) == (1, 0, Decimal("89.99"))


def test_current_and_fulfillable_quantities_are_what_is_still_ordered_and_to_ship() -> None:
    body = sample("orders_updated")
    line = body["line_items"][0]
    line.update(quantity=5, current_quantity=3, fulfillable_quantity=1, variant_id=2**62 + 1)
    body["line_items"] = [line]
    [read] = offline_shopify().read_webhook("orders/updated", body).order.lines  # type: ignore[union-attr]
    assert (read.quantity, read.fulfilled_quantity, read.refunded_quantity) == (3, 2, 0)
    assert read.variant_external_id == f"gid://shopify/ProductVariant/{2**62 + 1}"
    del line["current_quantity"], line["fulfillable_quantity"]
    line["fulfillment_status"] = "fulfilled"  # an older API version: no current quantities
    [read] = offline_shopify().read_webhook("orders/updated", body).order.lines  # type: ignore[union-attr]
    assert (read.quantity, read.fulfilled_quantity) == (5, 5)


def test_sample_deletions_uninstall_and_bulk_finish() -> None:
    shopify = offline_shopify()
    assert shopify.read_webhook("orders/delete", sample("orders_delete")) == OrderDeleted(
        "gid://shopify/Order/820982911946154508"
    )
    assert shopify.read_webhook("products/delete", {"id": 788032119674292922}) == ProductDeleted(
        "gid://shopify/Product/788032119674292922"
    )
    assert shopify.read_webhook("app/uninstalled", sample("app_uninstalled")) == AppUninstalled()
    assert shopify.read_webhook("shop/redact", sample("shop_redact")) == ShopRedact()
    finished = shopify.read_webhook("bulk_operations/finish", sample("bulk_operations_finish"))
    assert isinstance(finished, Ignored) and "polled" in finished.reason
    assert isinstance(shopify.read_webhook("collections/update", {"id": 1}), Ignored)


def test_sample_compliance_requests_name_the_customer_and_order_gids() -> None:
    shopify = offline_shopify()
    orders = tuple(f"gid://shopify/Order/{n}" for n in (299938, 280263, 220458))
    customer = "gid://shopify/Customer/191167"
    assert shopify.read_webhook(
        "customers/data_request", sample("customers_data_request")
    ) == CustomerDataRequest(customer, "john@example.com", orders)
    assert shopify.read_webhook("customers/redact", sample("customers_redact")) == CustomerRedact(
        customer, "john@example.com", orders
    )


def test_compliance_bodies_of_another_shop_or_of_nobody_are_refused() -> None:
    with pytest.raises(ValueError, match=r"other\.myshopify\.com"):
        offline_shopify("other.myshopify.com").read_webhook("shop/redact", sample("shop_redact"))
    nobody = {"shop_id": 1, "shop_domain": SAMPLE_SHOP, "customer": None, "orders_to_redact": []}
    with pytest.raises(ValueError, match="no customer"):
        offline_shopify().read_webhook("customers/redact", nobody)


def test_sample_product_reads_without_stock() -> None:
    change = offline_shopify().read_webhook("products/update", sample("products_update"))
    assert isinstance(change, ProductChanged) and change.stock_included is False
    product = change.product
    assert product.external_id == "gid://shopify/Product/788032119674292922"
    assert (product.title, product.handle, product.description) == (
        "Example T-Shirt",
        "example-t-shirt",
        "An example T-Shirt",
    )
    assert product.tags == ("example", "mens", "t-shirt") and product.status == "active"
    assert (product.product_type, product.vendor, product.updated_at) == (
        "Shirts",
        "Acme",
        UTC_2022,
    )
    small, medium = product.variants
    assert small.external_id == "gid://shopify/ProductVariant/642667041472713922"
    assert (small.title, small.sku, small.price, small.inventory_policy) == (
        "Small",
        "",
        Decimal("19.99"),
        "deny",
    )
    assert small.updated_at == datetime(2021, 12, 31, tzinfo=UTC)
    assert small.levels == () and small.inventory_item_external_id is None
    assert small.options == {"Option1": "Small"}  # the sample's `options` is empty: no names
    assert medium.options == {"Option1": "Medium"}


def test_product_options_named_by_the_product_and_item_gid_and_html_description() -> None:
    body = sample("products_update")
    body["options"] = [{"name": "Size", "position": 1, "values": ["Small", "Medium"]}]
    body["body_html"] = "<p>Soft <strong>cotton</strong>\n &amp; more</p>"
    body["variants"][0]["inventory_item_id"] = 2**60
    body["variants"][0]["inventory_policy"] = "continue"
    product = offline_shopify().read_webhook("products/update", body).product  # type: ignore[union-attr]
    assert product.description == "Soft cotton & more"
    assert product.variants[0].options == {"Size": "Small"}
    assert product.variants[0].inventory_item_external_id == f"gid://shopify/InventoryItem/{2**60}"
    assert product.variants[0].inventory_policy == "continue"


LEVEL_NODE = {
    "updatedAt": "2022-01-01T00:00:00Z",
    "location": {"id": "gid://shopify/Location/24826418", "name": "Main"},
    "quantities": [
        {"name": "available", "quantity": 10},
        {"name": "on_hand", "quantity": 14},
        {"name": "committed", "quantity": 4},
        {"name": "incoming", "quantity": 6},
    ],
}
NO_MORE = {"hasNextPage": False, "endCursor": None}


def graphql_answer(data: dict[str, Any]) -> dict[str, Any]:
    throttle = {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0}
    cost = {"requestedQueryCost": 10, "actualQueryCost": 5, "throttleStatus": throttle}
    return {"data": data, "extensions": {"cost": cost}}


@responses.activate
def test_sample_level_update_reads_every_level_of_the_items_variant() -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        sent.append(json.loads(request.body))
        item = {
            "id": "gid://shopify/InventoryItem/271878346596884015",
            "variant": {"id": "gid://shopify/ProductVariant/642667041472713922"},
            "inventoryLevels": {"nodes": [LEVEL_NODE], "pageInfo": NO_MORE},
        }
        return 200, {}, json.dumps(graphql_answer({"inventoryItem": item}))

    responses.add_callback(responses.POST, f"{MOCK_URL}/graphql.json", callback=answer)
    change = offline_shopify(url=MOCK_URL).read_webhook(
        "inventory_levels/update", sample("inventory_levels_update")
    )
    assert sent[0]["variables"]["id"] == "gid://shopify/InventoryItem/271878346596884015"
    assert "query InventoryItemLevels" in sent[0]["query"]
    assert isinstance(change, InventoryChanged)
    [level] = change.levels
    assert level.variant_external_id == "gid://shopify/ProductVariant/642667041472713922"
    assert (level.location_external_id, level.location_name) == (
        "gid://shopify/Location/24826418",
        "Main",
    )
    assert (level.available, level.on_hand, level.committed, level.incoming) == (10, 14, 4, 6)
    assert level.updated_at == UTC_2022


@responses.activate
def test_sample_out_of_stock_reads_the_variants_levels() -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        asked = json.loads(request.body)["variables"]["id"]
        item = {"id": "gid://shopify/InventoryItem/1", "inventoryLevels": {"nodes": [LEVEL_NODE]}}
        variant = {"id": asked, "inventoryItem": item}
        return 200, {}, json.dumps(graphql_answer({"productVariant": variant}))

    responses.add_callback(responses.POST, f"{MOCK_URL}/graphql.json", callback=answer)
    change = offline_shopify(url=MOCK_URL).read_webhook(
        "variants/out_of_stock", sample("variants_out_of_stock")
    )
    assert isinstance(change, InventoryChanged)
    assert [lv.variant_external_id for lv in change.levels] == [
        "gid://shopify/ProductVariant/642667041472713922"
    ]


@responses.activate
def test_sample_item_update_reads_the_items_product_with_tracking_and_levels() -> None:
    variant = {
        "id": "gid://shopify/ProductVariant/642667041472713922",
        "sku": "example-sku",
        "title": "Small",
        "price": "19.99",
        "inventoryPolicy": "DENY",
        "updatedAt": "2021-12-31T00:00:00Z",
        "selectedOptions": [{"name": "Size", "value": "Small"}],
        "inventoryItem": {
            "id": "gid://shopify/InventoryItem/271878346596884015",
            "tracked": False,
            "inventoryLevels": {"nodes": [LEVEL_NODE], "pageInfo": NO_MORE},
        },
    }
    product = {
        "id": "gid://shopify/Product/788032119674292922",
        "title": "Example T-Shirt",
        "handle": "example-t-shirt",
        "description": "",
        "productType": "Shirts",
        "vendor": "Acme",
        "tags": [],
        "status": "ACTIVE",
        "updatedAt": "2022-01-01T00:00:00Z",
        "variants": {"nodes": [variant], "pageInfo": NO_MORE},
    }
    data = {"inventoryItem": {"variant": {"product": product}}}
    responses.add(responses.POST, f"{MOCK_URL}/graphql.json", json=graphql_answer(data))
    change = offline_shopify(url=MOCK_URL).read_webhook(
        "inventory_items/update", sample("inventory_items_update")
    )
    assert isinstance(change, ProductChanged) and change.stock_included
    [read] = change.product.variants
    assert read.managed is False and read.sku == "example-sku" and len(read.levels) == 1


@responses.activate
def test_an_item_or_order_the_store_no_longer_has_is_ignored() -> None:
    responses.add(
        responses.POST, f"{MOCK_URL}/graphql.json", json=graphql_answer({"inventoryItem": None})
    )
    responses.add(responses.POST, f"{MOCK_URL}/graphql.json", json=graphql_answer({"order": None}))
    shopify = offline_shopify(url=MOCK_URL)
    gone = shopify.read_webhook("inventory_levels/update", sample("inventory_levels_update"))
    assert isinstance(gone, Ignored) and "271878346596884015" in gone.reason
    edit = {"order_edit": {"order_id": 450789469}}
    assert isinstance(shopify.read_webhook("orders/edited", edit), Ignored)


# ---------------------------------------------------------------------------- WooCommerce samples
def test_woo_facts_of_the_documented_order_and_product() -> None:
    order = woo_sample("wc_v3_order_retrieve")
    assert woo_webhooks.facts("order.updated", order) == WebhookFacts(
        "727", datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    )
    product = woo_sample("wc_v3_product_retrieve")
    assert woo_webhooks.facts("product.updated", product) == WebhookFacts(
        "794", datetime(2017, 3, 23, 20, 1, 14, tzinfo=UTC)
    )
    assert woo_webhooks.facts("order.deleted", {"id": 727}) == WebhookFacts("727", None)


def test_woo_documented_order_and_simple_product_read_without_the_store() -> None:
    woo = offline_woo()
    order = woo.read_webhook("order.updated", woo_sample("wc_v3_order_retrieve"))
    assert isinstance(order, OrderChanged) and order.order.external_id == "727"
    assert order.order.lines and order.order.cancelled_at is None
    product = woo.read_webhook("product.updated", woo_sample("wc_v3_product_retrieve"))
    assert isinstance(product, ProductChanged) and product.stock_included
    assert [v.external_id for v in product.product.variants] == ["794"]
    assert woo.read_webhook("order.deleted", {"id": 727}) == OrderDeleted("727")
    assert woo.read_webhook("product.deleted", {"id": 794}) == ProductDeleted("794")
    for topic in ("customer.updated", "coupon.created", "action.woocommerce_new_order"):
        assert isinstance(woo.read_webhook(topic, {"id": 1}), Ignored)


# ---------------------------------------------------------------------------- hostile bodies
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2021-12-31T19:00:00-05:00", "2017-03-22T19:28:08", "9" * 25, "12", ""])
)
KEYS = st.sampled_from(
    [
        "id",
        "admin_graphql_api_id",
        "updated_at",
        "created_at",
        "cancelled_at",
        "completed_at",
        "date_modified_gmt",
        "order_edit",
        "order_id",
        "customer",
        "email",
        "first_name",
        "inventory_item_id",
        "location_id",
        "line_items",
        "quantity",
        "current_quantity",
        "variant_id",
        "price",
        "price_set",
        "shipping_lines",
        "variants",
        "options",
        "tags",
        "orders_requested",
        "orders_to_redact",
        "shop_domain",
        "parent_id",
        "type",
        "status",
    ]
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(), inner, max_size=6)
    ),
    max_leaves=25,
)
BODIES = st.dictionaries(KEYS, JSON_VALUES, max_size=8) | JSON_VALUES
SHOPIFY_TOPICS = sorted(
    shopify_webhooks.ORDER_TOPICS
    | shopify_webhooks.PRODUCT_TOPICS
    | shopify_webhooks.FETCHED
    | {
        "orders/delete",
        "products/delete",
        "app/uninstalled",
        "shop/redact",
        "bulk_operations/finish",
    }
    | {"customers/data_request", "customers/redact", "unknown/topic"}
)
WOO_TOPICS = sorted(
    woo_webhooks.ORDER_TOPICS
    | woo_webhooks.PRODUCT_TOPICS
    | {"order.deleted", "product.deleted", "customer.created", "coupon.deleted", "x"}
)


def refused_with_a_reason(read: Any, topic: str, body: Any) -> None:
    try:
        change = read(topic, body)
    except (ValueError, StoreError) as exc:
        assert str(exc)
    else:
        assert isinstance(change, WebhookChange)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(SHOPIFY_TOPICS + WOO_TOPICS), body=BODIES)
def test_facts_never_raise(topic: str, body: Any) -> None:
    for facts in (shopify_webhooks.facts, woo_webhooks.facts):
        found = facts(topic, body)
        assert found.resource_id is None or isinstance(found.resource_id, str)
        assert found.updated_at is None or found.updated_at.tzinfo is UTC


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(SHOPIFY_TOPICS), body=BODIES)
def test_shopify_read_webhook_refuses_hostile_bodies_with_a_reason(topic: str, body: Any) -> None:
    refused_with_a_reason(offline_shopify().read_webhook, topic, body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(WOO_TOPICS), body=BODIES)
def test_woo_read_webhook_refuses_hostile_bodies_with_a_reason(topic: str, body: Any) -> None:
    refused_with_a_reason(offline_woo().read_webhook, topic, body)


@settings(max_examples=200, deadline=None)
@given(
    topic=st.sampled_from(sorted(shopify_webhooks.ORDER_TOPICS)),
    path=st.sampled_from(
        [
            ("id",),
            ("updated_at",),
            ("created_at",),
            ("customer",),
            ("customer", "id"),
            ("line_items",),
            ("line_items", 0),
            ("line_items", 0, "id"),
            ("line_items", 0, "quantity"),
            ("line_items", 0, "price_set"),
            ("line_items", 0, "variant_id"),
            ("shipping_lines",),
            ("shipping_lines", 0),
        ]
    ),
    value=JSON_VALUES,
)
def test_a_sample_order_with_any_field_replaced_reads_or_is_refused(
    topic: str, path: tuple[Any, ...], value: Any
) -> None:
    body = sample("orders_create")
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    refused_with_a_reason(offline_shopify().read_webhook, topic, body)


def test_empty_and_non_object_bodies() -> None:
    shopify, woo = offline_shopify(), offline_woo()
    for topic in SHOPIFY_TOPICS:
        assert shopify_webhooks.facts(topic, {}) == WebhookFacts(None, None)
        assert shopify_webhooks.facts(topic, []) == WebhookFacts(None, None)
        with pytest.raises(ValueError, match="not a JSON object"):
            shopify.read_webhook(topic, [])  # type: ignore[arg-type]
    for topic in WOO_TOPICS:
        assert woo_webhooks.facts(topic, {}) == WebhookFacts(None, None)
        with pytest.raises(ValueError, match="not a JSON object"):
            woo.read_webhook(topic, "id=1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="id"):
        shopify.read_webhook("orders/create", {})
    with pytest.raises(ValueError, match="inventory_item_id"):
        shopify.read_webhook("inventory_levels/update", {"inventory_item_id": "x1"})
    with pytest.raises(ValueError, match="order_id"):
        shopify.read_webhook("orders/edited", {})
    with pytest.raises(ValueError, match="id"):
        woo.read_webhook("order.updated", {})
    with pytest.raises(ValueError, match="parent_id"):
        woo.read_webhook("product.updated", {"id": 5, "type": "variation"})
    assert shopify.read_webhook("app/uninstalled", {}) == AppUninstalled()


def test_ids_above_2_53_stay_exact_and_non_ids_are_none() -> None:
    raw = '{"id": 9007199254740993, "updated_at": "2024-02-29T23:59:59+14:00"}'
    body = json.loads(raw)  # json keeps integers exact; a float would have made it ...992
    facts = shopify_webhooks.facts("orders/updated", body)
    assert facts.resource_id == "gid://shopify/Order/9007199254740993"
    assert facts.updated_at == datetime(2024, 2, 29, 9, 59, 59, tzinfo=UTC)
    assert woo_webhooks.facts("order.updated", body).resource_id == "9007199254740993"
    biggest = 2**64 - 1
    assert woo_webhooks.facts("x", {"id": str(biggest)}).resource_id == str(biggest)
    for odd in (2**64, 10**5000, -5, 0, 1.0, 12.5, True, "12abc", "١٢", " 12", None, [1], {"a": 1}):
        assert shopify_webhooks.facts("orders/updated", {"id": odd}).resource_id is None, odd
        assert woo_webhooks.facts("order.updated", {"id": odd}).resource_id is None, odd
    for stamp in ("2021-13-45T00:00:00Z", "yesterday", 1640995200, "9999-12-31T23:59:59-05:00"):
        assert shopify_webhooks.facts("orders/updated", {"updated_at": stamp}).updated_at is None
        assert woo_webhooks.facts("order.updated", {"date_modified_gmt": stamp}).updated_at is None


def test_a_huge_order_id_reads_exactly() -> None:
    body = sample("orders_create")
    body["id"] = 2**63 - 1
    body["line_items"][0]["id"] = 2**63 - 2
    order = offline_shopify().read_webhook("orders/create", body).order  # type: ignore[union-attr]
    assert order.external_id == f"gid://shopify/Order/{2**63 - 1}"
    assert order.lines[0].external_id == f"gid://shopify/LineItem/{2**63 - 2}"
    body["id"] = 2**64
    with pytest.raises(ValueError, match="18446744073709551616 is not an id"):
        offline_shopify().read_webhook("orders/create", body)
    body["id"] = 10**5000  # beyond str()'s 4300 digits: the message must not try to show it
    with pytest.raises(ValueError, match="a huge number is not an id"):
        offline_shopify().read_webhook("orders/create", body)


def test_unicode_survives_and_wrong_types_are_named() -> None:
    body = sample("orders_create")
    body["name"] = "#1234 注文"
    body["customer"].update(first_name="Zoë", last_name="Ñúñez 🚀")
    body["line_items"][0].update(title="Café crème ☕", sku="SKU-ß")
    order = offline_shopify().read_webhook("orders/create", body).order  # type: ignore[union-attr]
    assert order.name == "#1234 注文" and order.customer_name == "Zoë Ñúñez 🚀"
    assert (order.lines[0].title, order.lines[0].sku) == ("Café crème ☕", "SKU-ß")
    cases = [
        ("updated_at", "not a time", "updated_at"),
        ("customer", "John", "customer"),
        ("line_items", {"0": {}}, "line_items"),
        ("shipping_lines", 3, "shipping_lines"),
        ("email", 5, "email"),
    ]
    for key, value, named in cases:
        broken = sample("orders_create")
        broken[key] = value
        with pytest.raises(ValueError, match=named):
            offline_shopify().read_webhook("orders/create", broken)
    for key, value in (("quantity", -1), ("quantity", 2**40), ("price", "abc"), ("id", 1.5)):
        broken = sample("orders_create")
        broken["line_items"][0][key] = value
        broken["line_items"][0].pop("price_set")
        with pytest.raises(ValueError, match=key):
            offline_shopify().read_webhook("orders/create", broken)


# ---------------------------------------------------------------------------- Shopify sandbox
class Receiver:
    """A webhook endpoint that records every raw delivery."""

    def __init__(self, topic_header: str) -> None:
        self.topic_header = topic_header
        self.calls: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = {"poll_interval": 0.05}
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def body(self, topic: str, where: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The latest body delivered on `topic` for which `where(body)` holds (waits for one)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                parsed
                for headers, raw in list(self.calls)
                if headers.get(self.topic_header) == topic
                and isinstance(parsed := json.loads(raw), dict)
                and where(parsed)
            ]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                seen = [h.get(self.topic_header) for h, _ in self.calls]
                raise AssertionError(f"no such delivery on {topic}; seen {seen}")
            time.sleep(0.02)

    def clear(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SHOPIFY_SUBSCRIBED = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/edited",
    "products/update",
    "inventory_levels/update",
    "variants/out_of_stock",
    "variants/in_stock",
)


@pytest.fixture(scope="module")
def shopify_shop() -> Iterator[tuple[RunningShopify, ShopifyAdapter, Receiver]]:
    running = start_shopify(variants=24, seed=5, restore_rate=5000, webhook_base_delay=0.005)
    adapter = ShopifyAdapter(
        running.shop,
        running.access_token,
        admin_base_url=running.admin_base_url,
        sleep=no_sleep,
        allow_private=True,
    )
    receiver = Receiver("X-Shopify-Topic")
    for topic in SHOPIFY_SUBSCRIBED:
        adapter.register_webhook(topic, receiver.url)
    yield running, adapter, receiver
    receiver.close()
    running.stop()


def order_is(gid: str) -> Any:
    return lambda body: body.get("admin_graphql_api_id") == gid


def listed_order(adapter: ShopifyAdapter, external_id: str) -> StoreOrder:
    since = datetime.now(UTC) - timedelta(minutes=5)
    orders = [o for page in adapter.order_pages(updated_since=since) for o in page.items]
    return next(o for o in orders if o.external_id == external_id)


def listed_products(adapter: ShopifyAdapter) -> dict[str, StoreProduct]:
    return {p.external_id: p for page in adapter.product_pages() for p in page.items}


def shopify_variant(running: RunningShopify, policy: str, minimum: int = 0) -> Any:
    store = running.store
    return next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == policy
        and store.available(v) >= minimum
        and store.products[v.product_number].status == "ACTIVE"
    )


def test_shopify_order_deliveries_read_as_the_listing_reads_the_order(
    shopify_shop: tuple[RunningShopify, ShopifyAdapter, Receiver],
) -> None:
    running, adapter, receiver = shopify_shop
    store = running.store
    receiver.clear()
    first = shopify_variant(running, "DENY", minimum=3)
    second = shopify_variant(running, "CONTINUE")
    gid = store.place_order([(first.id, 3), (second.id, 1)], email="zoë@example.com")
    about = order_is(gid)
    created = adapter.read_webhook("orders/create", receiver.body("orders/create", about))
    assert isinstance(created, OrderChanged)
    assert created.order == listed_order(adapter, gid)
    assert created.order.customer_name == "zoë" and len(created.order.lines) == 2

    receiver.clear()
    line = store.orders[int(gid.rsplit("/", 1)[1])].lines[0]
    store.edit_order_quantity(gid, line.id, 1)  # orders/edited (read from the store) + updated
    number = int(gid.rsplit("/", 1)[1])
    edit = receiver.body("orders/edited", lambda b: b["order_edit"]["order_id"] == number)
    edited = adapter.read_webhook("orders/edited", edit)
    updated = adapter.read_webhook("orders/updated", receiver.body("orders/updated", about))
    listed = listed_order(adapter, gid)
    assert edited == updated == OrderChanged(listed)
    assert listed.lines[0].quantity == 1

    receiver.clear()
    store.fulfil_order(gid)
    fulfilled = adapter.read_webhook("orders/fulfilled", receiver.body("orders/fulfilled", about))
    listed = listed_order(adapter, gid)
    assert fulfilled == OrderChanged(listed) and listed.fulfillment_status == "fulfilled"
    assert all(ln.fulfilled_quantity == ln.quantity for ln in listed.lines)

    other = store.place_order([(first.id, 1)])
    receiver.clear()
    store.cancel_order(other)
    body = receiver.body("orders/cancelled", order_is(other))
    cancelled = adapter.read_webhook("orders/cancelled", body)
    listed = listed_order(adapter, other)
    assert cancelled == OrderChanged(listed) and listed.cancelled_at is not None


def test_shopify_order_locale_from_a_sync_is_the_locale_from_its_webhook(
    shopify_shop: tuple[RunningShopify, ShopifyAdapter, Receiver],
) -> None:
    """A listing selects customerLocale: a sync never writes locale=None over the webhook's."""
    running, adapter, receiver = shopify_shop
    store = running.store
    receiver.clear()
    variant = shopify_variant(running, "CONTINUE")
    gid = store.place_order([(variant.id, 1)], locale="sv-SE")
    body = receiver.body("orders/create", order_is(gid))
    assert body["customer_locale"] == "sv-SE"
    created = adapter.read_webhook("orders/create", body)
    assert isinstance(created, OrderChanged) and created.order.locale == "sv-SE"
    assert listed_order(adapter, gid).locale == "sv-SE"
    assert adapter.read_webhook("orders/create", body) == OrderChanged(listed_order(adapter, gid))


def test_shopify_stock_deliveries_read_as_the_listing_reads_the_levels(
    shopify_shop: tuple[RunningShopify, ShopifyAdapter, Receiver],
) -> None:
    running, adapter, receiver = shopify_shop
    store = running.store
    variant = shopify_variant(running, "DENY", minimum=1)
    receiver.clear()
    store.restock(variant.id, 6)
    change = adapter.read_webhook(
        "inventory_levels/update",
        receiver.body(
            "inventory_levels/update", lambda b: b["inventory_item_id"] == variant.item_number
        ),
    )
    listed = {v.external_id: v for p in listed_products(adapter).values() for v in p.variants}
    assert change == InventoryChanged(listed[variant.id].levels)
    assert {lv.variant_external_id for lv in change.levels} == {variant.id}  # type: ignore[union-attr]

    oversold = shopify_variant(running, "CONTINUE", minimum=1)
    receiver.clear()
    store.place_order([(oversold.id, store.available(oversold) + 2)])
    body = receiver.body("variants/out_of_stock", lambda b: b["id"] == oversold.number)
    out = adapter.read_webhook("variants/out_of_stock", body)
    listed = {v.external_id: v for p in listed_products(adapter).values() for v in p.variants}
    assert out == InventoryChanged(listed[oversold.id].levels)
    assert sum(lv.available for lv in out.levels) == -2  # type: ignore[union-attr]


def test_shopify_product_delivery_reads_as_the_listing_less_the_stock(
    shopify_shop: tuple[RunningShopify, ShopifyAdapter, Receiver],
) -> None:
    running, adapter, receiver = shopify_shop
    product = list(running.store.products.values())[1]
    receiver.clear()
    running.store.update_product(product.id, title="Spëc Jacket", tags=["winter", "sale"])
    body = receiver.body("products/update", lambda b: b["admin_graphql_api_id"] == product.id)
    change = adapter.read_webhook("products/update", body)
    assert isinstance(change, ProductChanged) and not change.stock_included
    listed = listed_products(adapter)[product.id]
    assert change.product.title == "Spëc Jacket" and change.product.tags == ("winter", "sale")

    def without_stock(p: StoreProduct) -> StoreProduct:
        # The sandbox, like Shopify's sample, sends `options: []`: the names are unknown.
        return replace(
            p,
            variants=tuple(
                replace(v, levels=(), managed=True, options=dict(enumerate(v.options.values())))
                for v in p.variants
            ),
        )

    assert without_stock(change.product) == without_stock(listed)


# ---------------------------------------------------------------------------- WooCommerce sandbox
WOO_SUBSCRIBED = ("order.created", "order.updated", "product.updated", "product.deleted")


@pytest.fixture(scope="module")
def woo_shop() -> Iterator[tuple[RunningWoo, WooCommerceAdapter, Receiver]]:
    running = start_woo(variants=40, seed=3)
    adapter = WooCommerceAdapter(
        running.url,
        running.consumer_key,
        running.consumer_secret,
        sleep=no_sleep,
        webhook_secret=WOO_SECRET,
        allow_private=True,
    )
    receiver = Receiver("X-WC-Webhook-Topic")
    for topic in WOO_SUBSCRIBED:
        adapter.register_webhook(topic, receiver.url)
    yield running, adapter, receiver
    receiver.close()
    running.stop()


def woo_delivered(running: RunningWoo, receiver: Receiver, topic: str, rid: int) -> dict[str, Any]:
    assert running.dispatcher.wait_idle()
    return receiver.body(topic, lambda b: b.get("id") == rid)


def woo_listed_order(adapter: WooCommerceAdapter, external_id: str) -> StoreOrder:
    since = datetime.now(UTC) - timedelta(minutes=1)
    orders = [o for page in adapter.order_pages(updated_since=since) for o in page.items]
    return next(o for o in orders if o.external_id == external_id)


def woo_listed_product(adapter: WooCommerceAdapter, external_id: str) -> StoreProduct:
    return next(
        p for page in adapter.product_pages() for p in page.items if p.external_id == external_id
    )


def test_woo_order_deliveries_read_as_the_listing_reads_the_order(
    woo_shop: tuple[RunningWoo, WooCommerceAdapter, Receiver],
) -> None:
    running, adapter, receiver = woo_shop
    store = running.store
    product = store.new_product(
        name="Mug ☕", regular_price="12.50", manage_stock=True, stock_quantity=9, backorders="no"
    )
    receiver.clear()
    oid = store.place_order([(product.id, 0, 4)], email="zoë@example.com")
    created = adapter.read_webhook(
        "order.created", woo_delivered(running, receiver, "order.created", oid)
    )
    assert created == OrderChanged(woo_listed_order(adapter, str(oid)))

    receiver.clear()
    line = store.orders[oid].line_items[0]
    store.refund_order(oid, lines={line.id: 1})  # order.updated; the refunds are read too
    refunded = adapter.read_webhook(
        "order.updated", woo_delivered(running, receiver, "order.updated", oid)
    )
    listed = woo_listed_order(adapter, str(oid))
    assert refunded == OrderChanged(listed)

    receiver.clear()
    store.complete_order(oid)
    completed = adapter.read_webhook(
        "order.updated", woo_delivered(running, receiver, "order.updated", oid)
    )
    listed = woo_listed_order(adapter, str(oid))
    assert completed == OrderChanged(listed) and listed.fulfillment_status == "fulfilled"

    receiver.clear()
    store.set_status(oid, "trash")  # a trashed order: an update with status trash
    trashed = adapter.read_webhook(
        "order.updated", woo_delivered(running, receiver, "order.updated", oid)
    )
    assert isinstance(trashed, OrderChanged) and trashed.order.cancelled_at is not None
    assert adapter.read_webhook("order.deleted", {"id": oid}) == OrderDeleted(str(oid))


def test_woo_product_deliveries_read_as_the_listing_reads_the_product(
    woo_shop: tuple[RunningWoo, WooCommerceAdapter, Receiver],
) -> None:
    running, adapter, receiver = woo_shop
    store = running.store
    simple = store.new_product(
        name="Tée", regular_price="10.00", manage_stock=True, stock_quantity=2, backorders="notify"
    )
    receiver.clear()
    store.restock(simple.id, 0, 5)
    change = adapter.read_webhook(
        "product.updated", woo_delivered(running, receiver, "product.updated", simple.id)
    )
    assert change == ProductChanged(woo_listed_product(adapter, str(simple.id)))
    assert change.product.variants[0].levels[0].available == 7  # type: ignore[union-attr]

    parent = next(
        p
        for p in store.products.values()
        if p.type == "variable"
        and p.status == "publish"
        and p.variations
        and store.products[p.variations[0]].manage_stock
    )
    variation = store.products[parent.variations[0]]
    receiver.clear()
    store.restock(parent.id, variation.id, 3)  # announced on the parent, as the sandbox does
    change = adapter.read_webhook(
        "product.updated", woo_delivered(running, receiver, "product.updated", parent.id)
    )
    listed = woo_listed_product(adapter, str(parent.id))
    assert change == ProductChanged(listed) and len(listed.variants) == len(parent.variations)

    # WooCommerce itself may deliver the variation's own body (with parent_id): same product.
    own = adapter.client.get(f"products/{parent.id}/variations/{variation.id}")
    assert own["parent_id"] == parent.id
    assert adapter.read_webhook("product.updated", own) == ProductChanged(listed)
    assert adapter.read_webhook("product.updated", {**own, "type": "variation"}) == (
        ProductChanged(listed)
    )

    receiver.clear()
    store.delete_product(simple.id, force=True)
    deleted = woo_delivered(running, receiver, "product.deleted", simple.id)
    assert deleted == {"id": simple.id}
    assert adapter.read_webhook("product.deleted", deleted) == ProductDeleted(str(simple.id))
    gone = {**own, "parent_id": simple.id, "id": variation.id}
    assert isinstance(adapter.read_webhook("product.updated", gone), Ignored)


def test_both_adapters_offer_read_webhook_as_the_protocol_says() -> None:
    for adapter in (offline_shopify(), offline_woo()):
        change: WebhookChange = adapter.read_webhook("no/such.topic", {"id": 1})
        assert isinstance(change, Ignored) and "no/such.topic" in change.reason
