"""`GET /storefront/v1/shops/<id>/variants/<id>`: WooCommerce product pages ask it directly."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import date

import redis
from flask.testing import FlaskClient

from connector.models import Shop
from connector.runtime import Runtime
from connector.services.availability import quote
from connector.web import create_app
from tests.conftest import skip_or_fail, test_settings
from tests.engine_helpers import expect_stock, hours, ingest, snapshot
from tests.storefront.catalogue import shoe_shop, slug

STORE = "https://shoes.example.com"


def _url(shop_id: int, variant: str, query: str = "") -> str:
    return f"/storefront/v1/shops/{shop_id}/variants/{variant}{query}"


def test_a_short_variant_answers_its_date_and_alternatives(
    runtime: Runtime, client: FlaskClient
) -> None:
    shop = shoe_shop(runtime)
    placed = runtime.clock.now() - hours(2)
    ingest(  # one customer already waits for two pairs
        runtime,
        shop.shop_id,
        snapshot("501", [("TRAIL-BLU-42", 2)], placed_at=placed, updated_at=placed),
    )
    response = client.get(_url(shop.shop_id, "TRAIL-BLU-42", "?quantity=1"))
    assert response.status_code == 200, response.get_data(as_text=True)
    got = response.get_json()
    assert list(got) == [
        "variant_id",
        "sku",
        "quantity",
        "in_stock",
        "available",
        "eta",
        "eta_source",
        "message",
        "waiting",
        "alternatives",
    ]
    # 2026-11-26 (UTC shop) + 14 days lead time + 1 handling day.
    assert got["eta"] == "2026-12-11" and got["message"] == "Ships by 11 Dec"
    assert (got["in_stock"], got["available"], got["waiting"]) == (False, 0, 2)
    assert (got["variant_id"], got["sku"], got["eta_source"]) == (
        "TRAIL-BLU-42",
        "TRAIL-BLU-42",
        "lead_time",
    )
    with runtime.db.transaction() as session:
        service = quote(session, runtime.clock, shop.variants["TRAIL-BLU-42"], 1)
    assert got["eta"] == service.eta.isoformat()  # type: ignore[union-attr]
    alternatives = got["alternatives"]
    assert 1 <= len(alternatives) <= 3
    assert alternatives[0] == {
        "variant_id": "TRAIL-BLA-42",
        "title": "Trail Runner GTX - Black / 42",
        "sku": "TRAIL-BLA-42",
        "price": "129.00",
        "available": 3,
        "url": f"{STORE}/?product={slug('Trail Runner GTX')}",
    }
    assert all(a["available"] >= 1 for a in alternatives)
    text = response.get_data(as_text=True)
    assert "buyer501@example.com" not in text and "501" not in text  # nothing about customers
    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_incoming_stock_is_named_by_kind_not_by_purchase_order(
    runtime: Runtime, client: FlaskClient
) -> None:
    shop = shoe_shop(runtime)
    expect_stock(runtime, shop.variants["TRAIL-BLU-42"], 10, date(2026, 12, 3), "PO-SECRET-9")
    got = client.get(_url(shop.shop_id, "TRAIL-BLU-42")).get_json()
    assert (got["eta"], got["eta_source"], got["message"]) == (
        "2026-12-04",
        "incoming",
        "Ships by 4 Dec",
    )
    assert "PO-SECRET-9" not in str(got)


def test_an_in_stock_variant_says_so(runtime: Runtime, client: FlaskClient) -> None:
    shop = shoe_shop(runtime)
    got = client.get(_url(shop.shop_id, "TRAIL-BLU-43", "?quantity=2")).get_json()
    assert (got["in_stock"], got["available"], got["message"]) == (True, 6, "In stock")
    assert got["alternatives"] == []
    short = client.get(_url(shop.shop_id, "TRAIL-BLU-43", "?quantity=7")).get_json()
    assert (short["in_stock"], short["message"]) == (False, "Ships by 11 Dec")


def test_cors_allows_only_the_shops_own_origin(runtime: Runtime, client: FlaskClient) -> None:
    shop = shoe_shop(runtime)
    url = _url(shop.shop_id, "TRAIL-BLU-42")
    own = client.get(url, headers={"Origin": STORE})
    assert own.headers["Access-Control-Allow-Origin"] == STORE
    assert "Origin" in own.headers["Vary"]
    for stranger in ("https://evil.example.com", "http://shoes.example.com", "null"):
        other = client.get(url, headers={"Origin": stranger})
        assert other.status_code == 200
        assert "Access-Control-Allow-Origin" not in other.headers, stranger
    assert "Access-Control-Allow-Origin" not in client.get(url).headers


def test_unknown_variant_shop_or_bad_quantity(runtime: Runtime, client: FlaskClient) -> None:
    shop = shoe_shop(runtime)
    missing = client.get(_url(shop.shop_id, "NO-SUCH-SKU"))
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert client.get(_url(shop.shop_id + 1000, "TRAIL-BLU-42")).status_code == 404
    for bad in ("?quantity=0", "?quantity=-1", "?quantity=x", "?quantity=10001"):
        answer = client.get(_url(shop.shop_id, "TRAIL-BLU-42", bad))
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["field"] == "quantity"
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).status = "uninstalled"
    assert client.get(_url(shop.shop_id, "TRAIL-BLU-42")).status_code == 404


def test_a_shopify_shop_is_not_served_here(runtime: Runtime, client: FlaskClient) -> None:
    shop = shoe_shop(runtime, platform="shopify", domain="shoes.myshopify.com")
    assert client.get(_url(shop.shop_id, "TRAIL-BLU-42")).status_code == 404


def test_each_client_is_rate_limited(runtime: Runtime, database_url: str) -> None:
    shop = shoe_shop(runtime)
    settings = test_settings(database_url, STOREFRONT_RATE_LIMIT="3/minute")
    client = create_app(dataclasses.replace(runtime, settings=settings)).test_client()
    url = _url(shop.shop_id, "TRAIL-BLU-42")
    one = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        assert client.get(url, environ_base=one).status_code == 200
    refused = client.get(url, environ_base=one)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in refused.headers
    assert client.get(url, environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 200
    # Only the storefront is counted: the rest of the app still answers this client.
    assert client.get("/healthz", environ_base=one).status_code == 200


def _limited_client(runtime: Runtime, database_url: str, redis_url: str) -> FlaskClient:
    settings = test_settings(database_url, STOREFRONT_RATE_LIMIT="2/minute", REDIS_URL=redis_url)
    return create_app(dataclasses.replace(runtime, settings=settings)).test_client()


def test_with_redis_every_process_shares_one_count(runtime: Runtime, database_url: str) -> None:
    redis_url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis not reachable at {redis_url}: {exc}")
    shop = shoe_shop(runtime)
    url = _url(shop.shop_id, "TRAIL-BLU-42")
    # Two apps stand for two web processes; a fresh address keeps reruns within a minute apart.
    one = {"REMOTE_ADDR": f"198.51.100.{secrets.randbelow(250) + 1}"}
    first, second = (_limited_client(runtime, database_url, redis_url) for _ in range(2))
    assert first.get(url, environ_base=one).status_code == 200
    assert second.get(url, environ_base=one).status_code == 200
    refused = first.get(url, environ_base=one)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"


def test_with_redis_down_the_storefront_still_answers_and_counts_locally(
    runtime: Runtime, database_url: str
) -> None:
    shop = shoe_shop(runtime)
    client = _limited_client(runtime, database_url, "redis://127.0.0.1:1/0")  # nothing listens
    url = _url(shop.shop_id, "TRAIL-BLU-42")
    one = {"REMOTE_ADDR": "203.0.113.9"}
    assert [client.get(url, environ_base=one).status_code for _ in range(3)] == [200, 200, 429]


def test_the_widget_is_served_as_javascript(runtime: Runtime, client: FlaskClient) -> None:
    response = client.get("/storefront/v1/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    script = response.get_data(as_text=True)
    assert "textContent" in script and "innerHTML" not in script
