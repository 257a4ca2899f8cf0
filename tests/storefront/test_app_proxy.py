"""`GET /proxy/...`: Shopify's App Proxy, signed as platform-notes.md describes.

The signature is computed here from the documented algorithm (not from the package the app
uses), and checked against Shopify's published test vector first.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FrozenClock, SystemClock
from connector.config import Settings
from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.availability import quote
from tests.conftest import test_settings
from tests.storefront.catalogue import shoe_shop

SECRET = "proxy-secret-now"
PREVIOUS = "proxy-secret-before"
SHOP = "northwind-shoes.myshopify.com"


@pytest.fixture
def clock() -> FrozenClock:
    # Shopify's package also compares the timestamp with the machine's clock: start there.
    return FrozenClock(SystemClock().now())


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(
        database_url,
        SHOPIFY_API_KEY="proxy-test-key",
        SHOPIFY_API_SECRET=SECRET,
        SHOPIFY_API_SECRET_PREVIOUS=PREVIOUS,
    )


def sign(params: dict[str, str | list[str]], secret: str) -> str:
    """platform-notes: sort by key, `key=value` with no separator, repeats joined by commas."""
    message = "".join(
        f"{key}={','.join(value) if isinstance(value, list) else value}"
        for key, value in sorted(params.items())
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_the_signer_matches_shopifys_test_vector() -> None:
    params: dict[str, str | list[str]] = {
        "extra": ["1", "2"],
        "logged_in_customer_id": "1",
        "path_prefix": "/apps/awesome_reviews",
        "shop": "shop-name.myshopify.com",
        "timestamp": "1317327555",
    }
    assert sign(params, "hush") == (
        "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
    )


def _proxied(
    path: str,
    *,
    shop: str = SHOP,
    secret: str = SECRET,
    timestamp: int | None = None,
    extra: dict[str, str | list[str]] | None = None,
) -> str:
    """The URL Shopify's proxy calls for `/apps/backorder/<path>`, signed."""
    params: dict[str, str | list[str]] = {
        "shop": shop,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/backorder",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        **(extra or {}),
    }
    params["signature"] = sign(params, secret)
    return f"/proxy/{path}?{urlencode(params, doseq=True)}"


@pytest.fixture
def shop(runtime: Runtime) -> int:
    return shoe_shop(runtime, platform="shopify", domain=SHOP).shop_id


def test_a_signed_request_gets_the_quote(runtime: Runtime, client: FlaskClient, shop: int) -> None:
    response = client.get(_proxied("variants/TRAIL-BLU-42", extra={"quantity": "2"}))
    assert response.status_code == 200, response.get_data(as_text=True)
    got = response.get_json()
    variant_id = _variant_id(runtime, shop, "TRAIL-BLU-42")
    with runtime.db.transaction() as session:
        expected = quote(session, runtime.clock, variant_id, 2)
    assert expected.eta is not None
    assert got["eta"] == expected.eta.isoformat()
    assert got["message"] == f"Ships by {expected.eta.day} {expected.eta:%b}"
    assert (got["in_stock"], got["quantity"], got["eta_source"]) == (False, 2, "lead_time")
    first = got["alternatives"][0]
    assert first["variant_id"] == "TRAIL-BLA-42"
    assert first["url"] == "/products/trail-runner-gtx?variant=TRAIL-BLA-42"
    assert response.headers["Cache-Control"] == "public, max-age=60"


def _variant_id(runtime: Runtime, shop: int, sku: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalars(
            select(Variant.id).where(Variant.shop_id == shop, Variant.sku == sku)
        ).one()


def test_repeated_parameters_and_the_previous_secret_are_accepted(
    client: FlaskClient, shop: int
) -> None:
    repeated = _proxied("variants/TRAIL-BLU-42", extra={"tag": ["a", "b"]})
    assert client.get(repeated).status_code == 200
    rotated = _proxied("variants/TRAIL-BLU-42", secret=PREVIOUS)
    assert client.get(rotated).status_code == 200


@pytest.mark.parametrize(
    "case", ["wrong secret", "tampered", "no signature", "no timestamp", "two shops"]
)
def test_forged_requests_are_refused(client: FlaskClient, shop: int, case: str) -> None:
    url = _proxied("variants/TRAIL-BLU-42", extra={"quantity": "1"})
    if case == "wrong secret":
        url = _proxied("variants/TRAIL-BLU-42", secret="guessed")
    elif case == "tampered":
        url = url.replace("quantity=1", "quantity=5")
    elif case == "no signature":
        url = url.split("&signature=")[0]
    elif case == "no timestamp":
        url = "/proxy/variants/TRAIL-BLU-42?" + urlencode({"shop": SHOP, "signature": "0" * 64})
    else:
        url += "&shop=other-shop.myshopify.com"
    response = client.get(url)
    assert response.status_code == 401, case
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_stale_requests_are_refused_by_the_runtime_clock(
    clock: FrozenClock, client: FlaskClient, shop: int
) -> None:
    now = int(clock.now().timestamp())
    assert client.get(_proxied("variants/TRAIL-BLU-42", timestamp=now - 60)).status_code == 200
    assert client.get(_proxied("variants/TRAIL-BLU-42", timestamp=now - 120)).status_code == 401
    assert client.get(_proxied("variants/TRAIL-BLU-42", timestamp=now + 120)).status_code == 401
    # Signed this very second by the machine's clock, but the product's clock moved on.
    clock.advance(timedelta(seconds=120))
    assert client.get(_proxied("variants/TRAIL-BLU-42")).status_code == 401


def test_a_shop_that_is_not_installed_is_refused(
    runtime: Runtime, client: FlaskClient, shop: int
) -> None:
    stranger = _proxied("variants/TRAIL-BLU-42", shop="stranger.myshopify.com")
    assert client.get(stranger).status_code == 401
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop).status = "uninstalled"
    assert client.get(_proxied("variants/TRAIL-BLU-42")).status_code == 401


def test_unknown_variant_is_404(client: FlaskClient, shop: int) -> None:
    response = client.get(_proxied("variants/NO-SUCH-SKU"))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_widget_through_the_proxy(client: FlaskClient, shop: int) -> None:
    assert client.get(_proxied("widget.js")).mimetype == "text/javascript"
    assert client.get("/proxy/widget.js").status_code == 401
