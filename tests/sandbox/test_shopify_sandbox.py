"""The emulated Shopify store, driven over HTTP as the product's adapter will drive it."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import graphql
import pytest
import requests

from sandbox.shopify import RunningShopify, ShopifyStore, seed, start
from sandbox.shopify.oauth import callback_hmac

SCHEMA = (
    Path(__file__).resolve().parents[2].parent
    / "shared/reference/shopify/admin_schema_2025-01.json.gz"
)


@pytest.fixture(scope="module")
def shopify() -> Iterator[RunningShopify]:
    running = start(variants=400, seed=7, schema_path=str(SCHEMA), webhook_base_delay=0.005)
    yield running
    running.stop()


def gql(
    shop: RunningShopify,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    response = requests.post(
        f"{shop.admin_base_url}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token or shop.access_token},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def data(
    shop: RunningShopify, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = gql(shop, query, variables)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


class Receiver:
    """A tiny webhook endpoint that records raw deliveries and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = {"poll_interval": 0.05}  # so close() returns at once
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def wait(
        self, count: int, timeout: float = 5.0, topic: str | None = None
    ) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = [c for c in self.calls if topic is None or c[0]["X-Shopify-Topic"] == topic]
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        topics = [c[0].get("X-Shopify-Topic") for c in self.calls]
        raise AssertionError(f"only {len(self.calls)} deliveries: {topics}")

    def close(self) -> None:
        self.server.shutdown()


def subscribe(shop: RunningShopify, topic: str, url: str) -> str:
    result = data(
        shop,
        """mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
          webhookSubscriptionCreate(
            topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}
          ) {
            webhookSubscription { id topic endpoint { ... on WebhookHttpEndpoint { callbackUrl } } }
            userErrors { field message }
          }
        }""",
        {"topic": topic, "url": url},
    )["webhookSubscriptionCreate"]
    assert result["userErrors"] == []
    return result["webhookSubscription"]["id"]


def variant_with(store: ShopifyStore, policy: str, minimum: int = 0) -> Any:
    return next(
        v
        for v in store.variants.values()
        if v.inventoryPolicy == policy
        and store.available(v) >= minimum
        and store.products[v.product_number].status == "ACTIVE"
    )


def quantities(shop: RunningShopify, variant_gid: str) -> dict[str, int]:
    item = data(
        shop,
        """query($id: ID!) { productVariant(id: $id) { inventoryItem { inventoryLevels(first: 5) {
             nodes { quantities(names: ["available", "committed", "on_hand", "incoming"]) {
               name quantity } } } } } }""",
        {"id": variant_gid},
    )["productVariant"]["inventoryItem"]
    totals: dict[str, int] = {}
    for level in item["inventoryLevels"]["nodes"]:
        for q in level["quantities"]:
            totals[q["name"]] = totals.get(q["name"], 0) + q["quantity"]
    return totals


# ------------------------------------------------------------------ seed
def test_seed_is_fast_and_deterministic() -> None:
    clock = lambda: datetime(2025, 3, 1, 12, tzinfo=UTC)  # noqa: E731
    began = time.perf_counter()
    first = seed(ShopifyStore(clock=clock), seed=3, variants=1000)
    assert time.perf_counter() - began < 1.0
    second = seed(ShopifyStore(clock=clock), seed=3, variants=1000)
    assert len(first.variants) == 1000

    def snapshot(s: ShopifyStore) -> list[Any]:
        return [(v.id, v.sku, v.inventoryPolicy, s.available(v)) for v in s.variants.values()]

    assert snapshot(first) == snapshot(second)
    assert [o.name for o in first.orders.values()] == [o.name for o in second.orders.values()]
    assert 100 <= len(first.orders) <= 400
    policies = {v.inventoryPolicy for v in first.variants.values()}
    assert policies == {"DENY", "CONTINUE"}
    assert any(first.available(v) <= 0 for v in first.variants.values())
    assert int(next(iter(first.variants.values())).id.rsplit("/", 1)[1]) >= 8_000_000_000_000


# ------------------------------------------------------------------ documents and errors
def test_documents_validate_against_the_real_schema_and_invalid_ones_get_shopify_errors(
    shopify: RunningShopify,
) -> None:
    with gzip.open(SCHEMA) as handle:
        schema = graphql.build_client_schema(json.load(handle)["data"])
    schema._validation_errors = []  # graphql-core 3.3 rejects the published schema; see schema.py
    query = "{ shop { id name myshopifyDomain ianaTimezone currencyCode } }"
    assert graphql.validate(schema, graphql.parse(query)) == []
    shop = data(shopify, query)["shop"]
    assert shop["myshopifyDomain"] == "sandbox-outfitters.myshopify.com"
    assert shop["currencyCode"] == "USD" and shop["ianaTimezone"] == "America/New_York"

    answer = gql(shopify, "{ shop { nope } }")
    error = answer["errors"][0]
    assert "nope" in error["message"] and error["locations"] == [{"line": 1, "column": 10}]
    assert error["extensions"]["code"] == "undefinedField"
    assert gql(shopify, "{ shop {")["errors"][0]["extensions"]["code"] == "PARSE_ERROR"


def test_valid_but_not_emulated_field_is_a_clear_error(shopify: RunningShopify) -> None:
    answer = gql(shopify, "{ shop { id shopOwnerName } }")
    assert "not emulated by the sandbox" in answer["errors"][0]["message"]
    assert "shopOwnerName" in answer["errors"][0]["message"]


def test_wrong_or_missing_token_is_401(shopify: RunningShopify) -> None:
    for headers in ({"X-Shopify-Access-Token": "shpat_wrong"}, {}):
        response = requests.post(
            f"{shopify.admin_base_url}/graphql.json",
            json={"query": "{ shop { id } }"},
            headers=headers,
            timeout=5,
        )
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }


# ------------------------------------------------------------------ pagination and filters
def test_products_pagination_with_cursors_and_the_250_cap(shopify: RunningShopify) -> None:
    seen: list[str] = []
    after = None
    boundary = 0
    while True:
        boundary = len(seen)
        page = data(
            shopify,
            (
                "query($after: String) { products(first: 50, after: $after) { edges { cursor "
                "node { "
                "id } } pageInfo { hasNextPage endCursor hasPreviousPage startCursor } } }"
            ),
            {"after": after},
        )["products"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == len(shopify.store.products)

    back = data(
        shopify,
        "query($b: String) { products(last: 3, before: $b) { nodes { id } } }",
        {"b": after},
    )["products"]
    assert [n["id"] for n in back["nodes"]] == seen[
        boundary - 4 : boundary - 1
    ]  # before the cursor row itself

    capped = gql(shopify, "{ products(first: 251) { nodes { id } } }")
    assert "250" in capped["errors"][0]["message"]
    assert "first or last" in gql(shopify, "{ products { nodes { id } } }")["errors"][0]["message"]


def test_orders_updated_at_window_sorted_by_updated_at(shopify: RunningShopify) -> None:
    store = shopify.store
    stamps = sorted(o.updatedAt for o in store.orders.values())
    low, high = stamps[len(stamps) // 4], stamps[len(stamps) // 2]
    query = f"updated_at:>='{low.isoformat()}' updated_at:<'{high.isoformat()}'"
    got: list[str] = []
    after = None
    while True:
        page = data(
            shopify,
            (
                "query($q: String, $after: String) { orders(first: 40, after: $after, query: $q, "
                "sortKey: UPDATED_AT) { nodes { id updatedAt } "
                "pageInfo { hasNextPage endCursor } } }"
            ),
            {"q": query, "after": after},
        )["orders"]
        got += [n["updatedAt"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = [o for o in store.orders.values() if low <= o.updatedAt < high]
    assert len(got) == len(expected) > 0
    assert got == sorted(got)


# ------------------------------------------------------------------ inventory scenarios
def test_order_commits_stock_restock_and_fulfil_move_the_named_quantities(
    shopify: RunningShopify,
) -> None:
    store = shopify.store
    variant = variant_with(store, "DENY", minimum=3)
    before = quantities(shopify, variant.id)
    order_gid = store.place_order([(variant.id, 2)], shipping="Express", email="ann@example.com")
    after_order = quantities(shopify, variant.id)
    assert after_order["available"] == before["available"] - 2
    assert after_order["committed"] == before["committed"] + 2
    assert after_order["on_hand"] == before["on_hand"]

    store.restock(variant.id, 5)
    assert quantities(shopify, variant.id)["available"] == after_order["available"] + 5

    order = data(
        shopify,
        (
            "query($id: ID!) { order(id: $id) { name email displayFulfillmentStatus shippingLine { "
            "title } lineItems(first: 5) { nodes { sku quantity currentQuantity "
            "fulfillableQuantity } "
            "} } }"
        ),
        {"id": order_gid},
    )["order"]
    assert order["name"].startswith("#") and order["shippingLine"]["title"] == "Express"
    assert order["lineItems"]["nodes"][0]["fulfillableQuantity"] == 2

    store.fulfil_order(order_gid)
    done = quantities(shopify, variant.id)
    assert done["committed"] == before["committed"]
    assert done["on_hand"] == before["on_hand"] + 5 - 2
    status = data(
        shopify,
        "query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }",
        {"id": order_gid},
    )
    assert status["order"]["displayFulfillmentStatus"] == "FULFILLED"


def test_continue_oversells_below_zero_and_deny_refuses(shopify: RunningShopify) -> None:
    store = shopify.store
    keep = variant_with(store, "CONTINUE")
    available = store.available(keep)
    store.place_order([(keep.id, available + 4)])
    assert quantities(shopify, keep.id)["available"] == -4

    deny = variant_with(store, "DENY")
    response = requests.post(
        f"{shopify.base_url}/_sandbox/place-order",
        json={"lines": [[deny.id, store.available(deny) + 1]]},
        timeout=5,
    )
    assert response.status_code == 422 and response.json()["code"] == "OUT_OF_STOCK"


def test_cancel_and_edit_return_stock(shopify: RunningShopify) -> None:
    store = shopify.store
    variant = variant_with(store, "DENY", minimum=4)
    start_available = store.available(variant)
    gid = store.place_order([(variant.id, 3)])
    line = store.orders[int(gid.rsplit("/", 1)[1])].lines[0]
    store.edit_order_quantity(gid, line.id, 1)
    assert store.available(variant) == start_available - 1
    store.cancel_order(gid)
    assert store.available(variant) == start_available
    order = data(
        shopify,
        "query($id: ID!) { order(id: $id) { cancelledAt displayFinancialStatus } }",
        {"id": gid},
    )["order"]
    assert order["cancelledAt"] and order["displayFinancialStatus"] == "REFUNDED"


# ------------------------------------------------------------------ writing back
def test_tags_add_and_remove_keep_other_tags(shopify: RunningShopify) -> None:
    store = shopify.store
    gid = store.place_order([(variant_with(store, "CONTINUE").id, 1)], tags=["vip", "gift"])
    mutation = (
        "mutation($id: ID!, $tags: [String!]!) { %s(id: $id, tags: $tags) { "
        "node { ... on Order { tags } } userErrors { field message } } }"
    )
    added = data(shopify, mutation % "tagsAdd", {"id": gid, "tags": ["backorder", "vip"]})[
        "tagsAdd"
    ]
    assert added["node"]["tags"] == ["vip", "gift", "backorder"]
    removed = data(shopify, mutation % "tagsRemove", {"id": gid, "tags": ["gift"]})["tagsRemove"]
    assert removed["node"]["tags"] == ["vip", "backorder"]


def test_metafields_set_is_atomic_digest_checked_and_capped_at_25(shopify: RunningShopify) -> None:
    store = shopify.store
    gid = store.place_order([(variant_with(store, "CONTINUE").id, 1)])
    mutation = (
        "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { "
        "metafields { key namespace value type compareDigest } "
        "userErrors { field message code elementIndex } } }"
    )
    entry = {
        "ownerId": gid,
        "namespace": "$app",
        "key": "eta",
        "type": "date",
        "value": "2025-04-01",
    }
    written = data(shopify, mutation, {"m": [entry]})["metafieldsSet"]
    assert written["userErrors"] == [] and written["metafields"][0]["value"] == "2025-04-01"
    digest = written["metafields"][0]["compareDigest"]

    bad = [dict(entry, key="other", value="2025-01-01"), dict(entry, value="not a date")]
    refused = data(shopify, mutation, {"m": bad})["metafieldsSet"]
    assert refused["userErrors"][0]["elementIndex"] == 1
    assert (gid, "$app", "other") not in store.metafields  # atomic: nothing written

    stale = data(
        shopify, mutation, {"m": [dict(entry, value="2025-05-01", compareDigest="0" * 64)]}
    )["metafieldsSet"]
    assert stale["userErrors"][0]["code"] == "STALE_OBJECT"
    fresh = data(shopify, mutation, {"m": [dict(entry, value="2025-05-01", compareDigest=digest)]})[
        "metafieldsSet"
    ]
    assert fresh["userErrors"] == []

    too_many = [dict(entry, key=f"k{i}") for i in range(26)]
    answer = gql(shopify, mutation, {"m": too_many})
    assert answer["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    read = data(
        shopify,
        'query($id: ID!) { order(id: $id) { metafield(namespace: "$app", key: "eta") { value } } }',
        {"id": gid},
    )
    assert read["order"]["metafield"]["value"] == "2025-05-01"


def test_hold_out_of_stock_lines_splits_the_fulfillment_order_and_release_reopens(
    shopify: RunningShopify,
) -> None:
    store = shopify.store
    a = variant_with(store, "CONTINUE")
    b = next(v for v in store.variants.values() if v.inventoryPolicy == "CONTINUE" and v is not a)
    gid = store.place_order([(a.id, 2), (b.id, 1)])
    fos = data(
        shopify,
        (
            "query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id status "
            "lineItems(first: 5) { nodes { id totalQuantity lineItem { sku } } } } } } }"
        ),
        {"id": gid},
    )
    fo = next(
        f
        for f in fos["order"]["fulfillmentOrders"]["nodes"]
        if any(li["lineItem"]["sku"] == a.sku for li in f["lineItems"]["nodes"])
    )
    line_a = next(li for li in fo["lineItems"]["nodes"] if li["lineItem"]["sku"] == a.sku)
    held = data(
        shopify,
        """mutation($id: ID!, $hold: FulfillmentOrderHoldInput!) {
             fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
               fulfillmentHold { id reason }
               fulfillmentOrder { id status
                 lineItems(first: 5) { nodes { totalQuantity lineItem { sku } } } }
               remainingFulfillmentOrder { id status
                 lineItems(first: 5) { nodes { totalQuantity lineItem { sku } } } }
               userErrors { field message } } }""",
        {
            "id": fo["id"],
            "hold": {
                "reason": "INVENTORY_OUT_OF_STOCK",
                "reasonNotes": "backorder",
                "fulfillmentOrderLineItems": [{"id": line_a["id"], "quantity": 2}],
            },
        },
    )["fulfillmentOrderHold"]
    assert (
        held["userErrors"] == [] and held["fulfillmentHold"]["reason"] == "INVENTORY_OUT_OF_STOCK"
    )
    assert held["fulfillmentOrder"]["status"] == "ON_HOLD"
    assert [li["lineItem"]["sku"] for li in held["fulfillmentOrder"]["lineItems"]["nodes"]] == [
        a.sku
    ]
    if len(fo["lineItems"]["nodes"]) > 1:
        remaining = held["remainingFulfillmentOrder"]
        assert remaining["status"] == "OPEN"
        assert [li["lineItem"]["sku"] for li in remaining["lineItems"]["nodes"]] == [b.sku]
    released = data(
        shopify,
        (
            "mutation($id: ID!) { fulfillmentOrderReleaseHold(id: $id) { fulfillmentOrder { status "
            "fulfillmentHolds { id } } userErrors { message } } }"
        ),
        {"id": fo["id"]},
    )["fulfillmentOrderReleaseHold"]
    assert released["fulfillmentOrder"] == {"status": "OPEN", "fulfillmentHolds": []}


# ------------------------------------------------------------------ throttling
def test_cost_extension_and_throttling_with_restore() -> None:
    store = seed(ShopifyStore(), seed=2, variants=300)
    small = start(store=store, schema_path=str(SCHEMA), bucket_size=100, restore_rate=100)
    try:
        query = "{ products(first: 20) { nodes { id title } } }"  # requested 2 + 20 x 1 = 22
        first = gql(small, query)
        cost = first["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 22 and cost["actualQueryCost"] == 22
        assert cost["throttleStatus"]["maximumAvailable"] == 100
        throttled = None
        for _ in range(10):
            answer = gql(small, query)
            if "errors" in answer:
                throttled = answer
                break
        assert throttled is not None
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 22
        time.sleep(0.3)  # 22 points at 100/s
        assert "errors" not in gql(small, query)
        small.store.throttle_storm()
        assert gql(small, "{ shop { id } }")["errors"][0]["extensions"]["code"] == "THROTTLED"
    finally:
        small.stop()


def test_failure_modes_answer_5xx_then_recover(shopify: RunningShopify) -> None:
    shopify.store.fail_next(2, status=503)
    codes = [
        requests.post(
            f"{shopify.admin_base_url}/graphql.json",
            json={"query": "{ shop { id } }"},
            headers={"X-Shopify-Access-Token": shopify.access_token},
            timeout=5,
        ).status_code
        for _ in range(3)
    ]
    assert codes == [503, 503, 200]


# ------------------------------------------------------------------ OAuth
def test_oauth_hmac_matches_the_documented_vector() -> None:
    params = {
        "code": "a94a110d86d2452eb3e2af4cfb8a3828",
        "shop": "some-shop.myshopify.com",
        "timestamp": "1337178173",
    }
    assert (
        callback_hmac(params, "hush")
        == "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"
    )


def test_oauth_authorize_code_exchange_and_refresh(shopify: RunningShopify) -> None:
    response = requests.get(
        f"{shopify.base_url}/admin/oauth/authorize",
        params={
            "client_id": shopify.api_key,
            "scope": "read_orders",
            "redirect_uri": "https://app.example/cb",
            "state": "n0nce",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    params = dict(parse_qsl(urlparse(response.headers["Location"]).query))
    assert params["state"] == "n0nce" and params["shop"] == shopify.shop
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    expected = hmac.new(shopify.api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, params["hmac"])

    creds = {"client_id": shopify.api_key, "client_secret": shopify.api_secret}
    token = requests.post(
        f"{shopify.base_url}/admin/oauth/access_token",
        json={**creds, "code": params["code"], "expiring": "1"},
        timeout=5,
    ).json()
    assert token["scope"] == "read_orders" and token["expires_in"] == 3600
    assert "errors" not in gql(shopify, "{ shop { id } }", token=token["access_token"])
    reused = requests.post(
        f"{shopify.base_url}/admin/oauth/access_token",
        json={**creds, "code": params["code"]},
        timeout=5,
    )
    assert reused.status_code == 400

    refreshed = requests.post(
        f"{shopify.base_url}/admin/oauth/access_token",
        data={**creds, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        timeout=5,
    ).json()
    assert refreshed["access_token"] != token["access_token"] and refreshed["refresh_token"]
    assert "errors" not in gql(shopify, "{ shop { id } }", token=refreshed["access_token"])
    again = requests.post(
        f"{shopify.base_url}/admin/oauth/access_token",
        data={**creds, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        timeout=5,
    )
    assert again.status_code == 400


def test_token_exchange_accepts_a_session_token(shopify: RunningShopify) -> None:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    now = datetime.now(UTC)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "aud": shopify.api_key,
        "dest": f"https://{shopify.shop}",
        "exp": (now + timedelta(minutes=1)).timestamp(),
    }
    payload = b64(json.dumps(claims).encode())
    signature = b64(
        hmac.new(
            shopify.api_secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256
        ).digest()
    )
    answer = requests.post(
        f"{shopify.base_url}/admin/oauth/access_token",
        json={
            "client_id": shopify.api_key,
            "client_secret": shopify.api_secret,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": f"{header}.{payload}.{signature}",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        },
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["access_token"].startswith("shpat_")


# ------------------------------------------------------------------ webhooks
def test_webhooks_are_signed_and_shaped_like_shopify(shopify: RunningShopify) -> None:
    receiver = Receiver()
    try:
        sub = subscribe(shopify, "ORDERS_CREATE", receiver.url)
        subscribe(shopify, "INVENTORY_LEVELS_UPDATE", receiver.url)
        listed = data(shopify, "{ webhookSubscriptions(first: 10) { nodes { id topic } } }")
        assert sub in [n["id"] for n in listed["webhookSubscriptions"]["nodes"]]
        variant = variant_with(shopify.store, "CONTINUE")
        gid = shopify.store.place_order([(variant.id, 1)], email="hook@example.com")
        headers, body = receiver.wait(1, topic="orders/create")[0]
        assert headers["X-Shopify-Shop-Domain"] == shopify.shop
        assert headers["X-Shopify-API-Version"] == "2025-01"
        assert headers["X-Shopify-Webhook-Id"] and headers["X-Shopify-Event-Id"]
        expected = base64.b64encode(
            hmac.new(shopify.api_secret.encode(), body, hashlib.sha256).digest()
        ).decode()
        assert hmac.compare_digest(expected, headers["X-Shopify-Hmac-Sha256"])
        assert b", " not in body[:50]  # compact JSON
        order = json.loads(body)
        assert order["admin_graphql_api_id"] == gid and order["id"] == int(gid.rsplit("/", 1)[1])
        assert order["email"] == "hook@example.com" and order["line_items"][0]["sku"] == variant.sku
        _, level_body = receiver.wait(1, topic="inventory_levels/update")[0]
        level = json.loads(level_body)
        assert set(level) == {
            "inventory_item_id",
            "location_id",
            "available",
            "updated_at",
            "admin_graphql_api_id",
        }
        data(
            shopify,
            (
                "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { "
                "deletedWebhookSubscriptionId userErrors { message } } }"
            ),
            {"id": sub},
        )
    finally:
        for s in list(shopify.store.subscriptions.values()):
            shopify.store.drop_subscription(s.number)
        receiver.close()


def test_failing_receiver_gets_one_plus_eight_attempts_then_loses_its_subscription(
    shopify: RunningShopify,
) -> None:
    receiver = Receiver(status=500)
    try:
        subscribe(shopify, "PRODUCTS_UPDATE", receiver.url)
        product = next(iter(shopify.store.products.values()))
        shopify.store.update_product(product.id, title="Renamed Jacket")
        calls = receiver.wait(9, timeout=8)
        deadline = time.monotonic() + 3
        while shopify.store.subscriptions and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        assert len(receiver.calls) == 9
        assert len({c[0]["X-Shopify-Webhook-Id"] for c in calls}) == 1  # same id on retries
        assert not any(s.callbackUrl == receiver.url for s in shopify.store.subscriptions.values())
    finally:
        receiver.close()


def test_dropped_webhook_is_never_delivered(shopify: RunningShopify) -> None:
    receiver = Receiver()
    try:
        subscribe(shopify, "PRODUCTS_UPDATE", receiver.url)
        product = list(shopify.store.products.values())[1]
        shopify.store.drop_next_webhook()
        shopify.store.update_product(product.id, vendor="Lost")
        shopify.store.update_product(product.id, vendor="Found")
        _, body = receiver.wait(1)[0]
        time.sleep(0.1)
        assert len(receiver.calls) == 1 and json.loads(body)["vendor"] == "Found"
    finally:
        for s in list(shopify.store.subscriptions.values()):
            shopify.store.drop_subscription(s.number)
        receiver.close()


# ------------------------------------------------------------------ bulk
def test_bulk_operation_writes_jsonl_with_parent_ids_and_announces_finish(
    shopify: RunningShopify,
) -> None:
    receiver = Receiver()
    try:
        subscribe(shopify, "BULK_OPERATIONS_FINISH", receiver.url)
        bulk_query = (
            "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }"
        )
        started = data(
            shopify,
            (
                "mutation($q: String!) { bulkOperationRunQuery(query: $q) { "
                "bulkOperation { id status "
                "} userErrors { field message } } }"
            ),
            {"q": bulk_query},
        )["bulkOperationRunQuery"]
        assert started["userErrors"] == [] and started["bulkOperation"]["status"] in (
            "CREATED",
            "RUNNING",
            "COMPLETED",
        )
        _, body = receiver.wait(1, topic="bulk_operations/finish")[0]
        finish = json.loads(body)
        assert (
            finish["admin_graphql_api_id"] == started["bulkOperation"]["id"]
            and finish["status"] == "completed"
        )
        current = data(
            shopify, "{ currentBulkOperation { id status url objectCount rootObjectCount } }"
        )["currentBulkOperation"]
        assert current["status"] == "COMPLETED"
        rows = [
            json.loads(line) for line in requests.get(current["url"], timeout=10).text.splitlines()
        ]
        store = shopify.store
        assert int(current["objectCount"]) == len(rows) == len(store.products) + len(store.variants)
        parents = {r["id"] for r in rows if "__parentId" not in r}
        children = [r for r in rows if "__parentId" in r]
        assert len(children) == len(store.variants) and all(
            c["__parentId"] in parents for c in children
        )
        node = data(
            shopify,
            "query($id: ID!) { node(id: $id) { ... on BulkOperation { status } } }",
            {"id": current["id"]},
        )
        assert node["node"]["status"] == "COMPLETED"
    finally:
        for s in list(shopify.store.subscriptions.values()):
            shopify.store.drop_subscription(s.number)
        receiver.close()


def test_control_surface_state_and_compliance(shopify: RunningShopify) -> None:
    state = requests.get(f"{shopify.base_url}/_sandbox/state", timeout=5).json()
    assert state["shop"] == shopify.shop and state["variants"] == 400
    receiver = Receiver()
    try:
        shopify.store.trigger_compliance("customers/redact", receiver.url)
        headers, body = receiver.wait(1)[0]
        assert headers["X-Shopify-Topic"] == "customers/redact"
        assert set(json.loads(body)) == {"shop_id", "shop_domain", "customer", "orders_to_redact"}
    finally:
        receiver.close()


# ------------------------------------------------------------------ failure modes, continued
WEBHOOK_SAMPLES = SCHEMA.parent / "webhooks"


def sample_keys(name: str) -> set[str]:
    return set(json.loads((WEBHOOK_SAMPLES / f"{name}.json").read_text()))


@pytest.fixture
def small_shop() -> Iterator[RunningShopify]:
    """A fresh shop of its own, for scenarios that would disturb the shared one."""
    running = start(
        store=seed(ShopifyStore(), seed=11, variants=60),
        schema_path=str(SCHEMA),
        webhook_base_delay=0.005,
    )
    yield running
    running.stop()


def timed_shop_query(shop: RunningShopify) -> float:
    began = time.perf_counter()
    assert "errors" not in gql(shop, "{ shop { id } }")
    return time.perf_counter() - began


def test_slow_answers_delays_every_graphql_answer_until_reset(shopify: RunningShopify) -> None:
    shopify.store.slow_answers(0.3)
    try:
        assert timed_shop_query(shopify) >= 0.3
    finally:
        shopify.store.slow_answers(0)
    assert timed_shop_query(shopify) < 0.3


def test_throttle_storm_throttles_the_next_query_even_a_first_one_then_restores(
    small_shop: RunningShopify,
) -> None:
    """The storm empties the bucket of every token, including one that has not queried yet."""
    small_shop.store.throttle_storm()
    throttled = gql(small_shop, "{ shop { id } }")  # HTTP 200 is asserted by gql()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    status = throttled["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] < 1 and status["restoreRate"] == 100
    deadline = time.monotonic() + 3
    while "errors" in (answer := gql(small_shop, "{ shop { id } }")):
        assert time.monotonic() < deadline, "the bucket never refilled"
        time.sleep(0.02)
    assert answer["data"]["shop"]["id"]
    assert "errors" not in gql(small_shop, "{ shop { id } }")  # a storm happens once


# ------------------------------------------------------------------ webhooks per scenario
class Hooks:
    """A receiver subscribed to some topics; `bodies(topic)` waits for and parses deliveries."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def bodies(self, topic: str, count: int = 1) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.receiver.wait(count, topic=topic)]

    def headers(self, topic: str, count: int = 1) -> list[dict[str, str]]:
        return [headers for headers, _ in self.receiver.wait(count, topic=topic)]


@contextlib.contextmanager
def hooks(shop: RunningShopify, *topics: str) -> Iterator[Hooks]:
    receiver = Receiver()
    try:
        for topic in topics:
            subscribe(shop, topic, receiver.url)
        yield Hooks(receiver)
    finally:
        for s in list(shop.store.subscriptions.values()):
            if s.callbackUrl == receiver.url:
                shop.store.drop_subscription(s.number)
        receiver.close()


def line_of(store: ShopifyStore, order_gid: str) -> Any:
    return store.orders[int(order_gid.rsplit("/", 1)[1])].lines[0]


def test_cancel_announces_orders_cancelled_and_orders_updated_as_one_event(
    shopify: RunningShopify,
) -> None:
    store = shopify.store
    gid = store.place_order([(variant_with(store, "DENY", minimum=2).id, 2)])
    with hooks(shopify, "ORDERS_CANCELLED", "ORDERS_UPDATED") as h:
        store.cancel_order(gid, reason="INVENTORY")
        cancelled = h.bodies("orders/cancelled")[0]
        updated = h.bodies("orders/updated")[0]
        assert set(cancelled) <= sample_keys("orders_cancelled")
        assert set(updated) <= sample_keys("orders_updated")
        for body in (cancelled, updated):
            assert body["admin_graphql_api_id"] == gid
            assert body["cancelled_at"] and body["cancel_reason"] == "inventory"
            assert body["line_items"][0]["current_quantity"] == 0
        events = {
            h.headers(t)[0]["X-Shopify-Event-Id"] for t in ("orders/cancelled", "orders/updated")
        }
        assert len(events) == 1


def test_edit_announces_orders_edited_with_the_change_and_orders_updated(
    shopify: RunningShopify,
) -> None:
    """Shopify sends orders/edited (the edit's additions/removals) plus orders/updated."""
    store = shopify.store
    gid = store.place_order([(variant_with(store, "DENY", minimum=3).id, 3)])
    line = line_of(store, gid)
    with hooks(shopify, "ORDERS_EDITED", "ORDERS_UPDATED") as h:
        store.edit_order_quantity(gid, line.id, 1)
        edit = h.bodies("orders/edited")[0]["order_edit"]
        assert edit["order_id"] == int(gid.rsplit("/", 1)[1])
        assert edit["line_items"] == {
            "additions": [],
            "removals": [{"id": line.number, "delta": 2}],
        }
        updated = h.bodies("orders/updated")[0]
        assert set(updated) <= sample_keys("orders_updated")
        assert updated["line_items"][0]["current_quantity"] == 1
        store.edit_order_quantity(gid, line.id, 2)
        grown = [b["order_edit"]["line_items"] for b in h.bodies("orders/edited", 2)][1]
        assert grown == {"additions": [{"id": line.number, "delta": 1}], "removals": []}


def test_fulfil_announces_orders_fulfilled_and_orders_updated(shopify: RunningShopify) -> None:
    store = shopify.store
    gid = store.place_order([(variant_with(store, "CONTINUE").id, 1)])
    with hooks(shopify, "ORDERS_FULFILLED", "ORDERS_UPDATED") as h:
        store.fulfil_order(gid)
        fulfilled = h.bodies("orders/fulfilled")[0]
        assert fulfilled["admin_graphql_api_id"] == gid
        assert fulfilled["fulfillment_status"] == "fulfilled"
        assert h.bodies("orders/updated")[0]["fulfillment_status"] == "fulfilled"


def test_update_product_announces_products_update_shaped_like_the_sample(
    shopify: RunningShopify,
) -> None:
    product = list(shopify.store.products.values())[2]
    with hooks(shopify, "PRODUCTS_UPDATE") as h:
        shopify.store.update_product(product.id, title="Spec Jacket", tags=["a", "b"])
        body = h.bodies("products/update")[0]
    assert set(body) == sample_keys("products_update")
    sample_variant = set(
        json.loads((WEBHOOK_SAMPLES / "products_update.json").read_text())["variants"][0]
    )
    assert all(set(v) == sample_variant for v in body["variants"])
    assert body["admin_graphql_api_id"] == product.id and body["title"] == "Spec Jacket"
    assert body["tags"] == "a, b" and len(body["variants"]) == len(product.variant_numbers)


def test_restock_announces_the_level_it_changed(shopify: RunningShopify) -> None:
    store = shopify.store
    variant = variant_with(store, "DENY", minimum=1)
    primary = store.primary_location()
    with hooks(shopify, "INVENTORY_LEVELS_UPDATE") as h:
        level = store.restock(variant.id, 6)
        body = h.bodies("inventory_levels/update")[0]
    assert set(body) == sample_keys("inventory_levels_update")
    assert body["inventory_item_id"] == variant.item_number
    assert body["location_id"] == primary.number and body["available"] == level.available
    assert body["admin_graphql_api_id"] == level.id
    stamp = datetime.fromisoformat(body["updated_at"])  # shop-local, like "…-05:00"
    assert stamp.utcoffset() is not None and stamp == level.updatedAt.replace(microsecond=0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", body["updated_at"])


def test_overselling_announces_out_of_stock_and_restocking_announces_in_stock(
    shopify: RunningShopify,
) -> None:
    """A CONTINUE variant sold from above 0 to ≤ 0 → variants/out_of_stock; back → in_stock."""
    store = shopify.store
    variant = variant_with(store, "CONTINUE", minimum=1)
    with hooks(shopify, "VARIANTS_OUT_OF_STOCK", "VARIANTS_IN_STOCK") as h:
        store.place_order([(variant.id, store.available(variant) + 2)])
        out = h.bodies("variants/out_of_stock")[0]
        assert sample_keys("variants_out_of_stock") <= set(out)
        assert out["admin_graphql_api_id"] == variant.id and out["inventory_quantity"] == -2
        assert out["inventory_policy"] == "continue"
        store.place_order([(variant.id, 1)])  # already out: no second announcement
        store.restock(variant.id, 6)
        back = h.bodies("variants/in_stock")[0]
        assert back["id"] == variant.number and back["inventory_quantity"] == 3
    announced = [e.topic for e in store.events if e.body.get("id") == variant.number]
    assert announced == ["variants/out_of_stock", "variants/in_stock"]


# ------------------------------------------------------------------ control surface, every door
def test_every_control_endpoint_plays_its_scenario(small_shop: RunningShopify) -> None:
    store = small_shop.store

    def post(action: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = requests.post(f"{small_shop.base_url}/_sandbox/{action}", json=body, timeout=5)
        assert response.status_code == status, (action, response.text)
        return response.json()

    variant = variant_with(store, "DENY", minimum=3)
    before = store.available(variant)
    placed = post("place-order", {"lines": [{"variant_id": variant.id, "quantity": 3}]})
    order = placed["order_id"]
    assert placed["ok"] and store.available(variant) == before - 3
    restocked = post("restock", {"variant_id": variant.id, "quantity": 4})
    assert store.available(variant) == before + 1
    assert (
        restocked["available"]
        == store.levels[(variant.item_number, store.primary_location().number)].available
    )
    line = line_of(store, order)
    post("edit", {"order_id": order, "line_item_id": line.id, "quantity": 2})
    assert line.currentQuantity == 2 and store.available(variant) == before + 2
    post("fulfil", {"order_id": order})
    assert store.display_fulfillment_status(store.order_of(order)) == "FULFILLED"
    second = post("place-order", {"lines": [[variant.id, 1]], "email": "b@example.com"})
    post("cancel", {"order_id": second["order_id"]})
    assert store.order_of(second["order_id"]).cancelledAt is not None
    post("cancel", {"order_id": second["order_id"]}, status=422)  # refused: already cancelled
    product = next(iter(store.products.values()))
    post("update-product", {"product_id": product.id, "fields": {"vendor": "Control"}})
    assert product.vendor == "Control"
    post("update-product", {"product_id": "gid://shopify/Product/1"}, status=404)
    post("restock", {"variant_id": variant.id}, status=400)  # quantity missing
    unknown = requests.post(f"{small_shop.base_url}/_sandbox/nonsense", json={}, timeout=5)
    assert unknown.status_code == 404

    post("fail", {"n": 1, "status": 502})
    assert (
        requests.post(
            f"{small_shop.admin_base_url}/graphql.json",
            json={"query": "{ shop { id } }"},
            headers={"X-Shopify-Access-Token": small_shop.access_token},
            timeout=5,
        ).status_code
        == 502
    )
    post("slow", {"seconds": 0.2})
    assert timed_shop_query(small_shop) >= 0.2
    post("slow", {"seconds": 0})
    post("throttle-storm")
    assert gql(small_shop, "{ shop { id } }")["errors"][0]["extensions"]["code"] == "THROTTLED"

    dropped = store.summary()["webhooks_dropped"]
    post("drop-webhook")
    store.update_product(product.id, vendor="Unheard")
    receiver = Receiver()
    try:
        event = post("compliance", {"topic": "shop/redact", "url": receiver.url})["event_id"]
        assert receiver.wait(1)[0][0]["X-Shopify-Event-Id"] == event
    finally:
        receiver.close()
    state = requests.get(f"{small_shop.base_url}/_sandbox/state", timeout=5).json()
    assert state["webhooks_dropped"] == dropped + 1
    assert state["variants"] == 60 and state["installed"] is True
    assert state["orders"] == len(store.orders) and state["webhook_deliveries"] >= 1

    post("uninstall")
    assert (
        requests.get(f"{small_shop.base_url}/_sandbox/state", timeout=5).json()["installed"]
        is False
    )
    gone = requests.post(
        f"{small_shop.admin_base_url}/graphql.json",
        json={"query": "{ shop { id } }"},
        headers={"X-Shopify-Access-Token": small_shop.access_token},
        timeout=5,
    )
    assert gone.status_code == 401


# ------------------------------------------------------------------ seed at full size
def test_seed_builds_exactly_the_variants_asked_and_each_seed_its_own_catalogue() -> None:
    clock = lambda: datetime(2025, 3, 1, 12, tzinfo=UTC)  # noqa: E731
    big = seed(ShopifyStore(clock=clock), seed=5, variants=100_000)
    assert len(big.variants) == 100_000 == big.summary()["variants"]
    assert sum(len(p.variant_numbers) for p in big.products.values()) == 100_000
    assert len({v.sku for v in big.variants.values()}) == 100_000

    def catalogue(seed_value: int) -> list[Any]:
        s = seed(ShopifyStore(clock=clock), seed=seed_value, variants=300)
        return [(v.sku, v.price, v.inventoryPolicy, s.available(v)) for v in s.variants.values()]

    assert catalogue(8) == catalogue(8)
    assert catalogue(8) != catalogue(9)
