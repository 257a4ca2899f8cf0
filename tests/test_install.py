"""Install flows against the sandbox stores: Shopify OAuth and the WooCommerce key flow."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from werkzeug.serving import make_server

from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.install import (
    SHOPIFY_TOPICS,
    WOOCOMMERCE_TOPICS,
    callback_hmac,
    callback_hmac_ok,
    verify_session_token,
)
from connector.services.shops import uninstall_shop
from connector.web import create_app
from sandbox.shopify.server import RunningShopify
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo
from sandbox.woocommerce.store import WooStore
from tests.conftest import test_settings
from tests.shopify_install import APP_URL, authorize, running_shopify, shopify_app_runtime
from tests.webhooks.support import post_woocommerce, woocommerce_order


def test_shopify_callback_hmac_matches_the_documented_vector() -> None:
    params = {
        "code": "a94a110d86d2452eb3e2af4cfb8a3828",
        "shop": "some-shop.myshopify.com",
        "timestamp": "1337178173",
    }
    digest = "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"
    assert callback_hmac(params, "hush") == digest
    assert callback_hmac_ok({**params, "hmac": digest}, "hush")
    assert not callback_hmac_ok({**params, "hmac": digest[:-1] + "0"}, "hush")


# ---------------------------------------------------------------------------- Shopify


@pytest.fixture
def shopify(runtime: Runtime) -> Iterator[RunningShopify]:
    yield from running_shopify(runtime)


@pytest.fixture
def shopify_runtime(runtime: Runtime, shopify: RunningShopify, database_url: str) -> Runtime:
    return shopify_app_runtime(runtime, database_url, shopify)


@pytest.fixture
def shopify_client(shopify_runtime: Runtime) -> FlaskClient:
    return create_app(shopify_runtime).test_client()


def _shop_count(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Shop)) or 0


def test_shopify_install_redirects_to_the_authorize_page_with_a_state(
    shopify_client: FlaskClient, shopify: RunningShopify
) -> None:
    answer = shopify_client.get("/shopify/install", query_string={"shop": shopify.shop})
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == shopify.base_url
    assert location.path == "/admin/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [shopify.api_key]
    assert query["redirect_uri"] == [f"{APP_URL}/shopify/callback"]
    assert len(query["state"][0]) >= 32


def test_shopify_install_refuses_a_bad_shop_domain(shopify_client: FlaskClient) -> None:
    answer = shopify_client.get("/shopify/install", query_string={"shop": "evil.example.com"})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "shop"


def test_shopify_install_end_to_end(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    params = authorize(shopify_client, shopify.shop)
    answer = shopify_client.get("/shopify/callback", query_string=params)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"].startswith(f"{APP_URL}/app/")
    with shopify_runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == 0
    # The first sync, queued, not run by the callback; then the reorder points it made possible.
    assert shopify_runtime.jobs.drain() == 2

    with shopify_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        assert (shop.platform, shop.domain, shop.status) == ("shopify", shopify.shop, "active")
        raw = session.execute(text("SELECT credentials FROM shops")).scalar_one()
        token = shopify_runtime.vault.open(shop.credentials)["access_token"]
        assert token and token not in raw
        assert session.scalar(select(func.count()).select_from(Variant)) == len(
            shopify.store.variants
        )
    topics = {(s.topic, s.callbackUrl) for s in shopify.store.subscriptions.values()}
    for topic in ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED", "APP_UNINSTALLED"):
        assert (topic, f"{APP_URL}/webhooks/shopify") in topics
    assert len(topics) == len(SHOPIFY_TOPICS)

    replay = shopify_client.get("/shopify/callback", query_string=params)
    assert replay.status_code == 400
    assert replay.get_json()["error"]["field"] == "state"
    assert _shop_count(shopify_runtime) == 1


def test_shopify_callback_with_a_tampered_hmac_is_refused(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    params = authorize(shopify_client, shopify.shop)
    params["hmac"] = "0" * 64
    answer = shopify_client.get("/shopify/callback", query_string=params)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "hmac"
    assert _shop_count(shopify_runtime) == 0


def test_shopify_callback_with_a_stale_timestamp_is_refused(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    params = authorize(shopify_client, shopify.shop)
    shopify_runtime.clock.advance(timedelta(minutes=6))  # type: ignore[attr-defined]
    answer = shopify_client.get("/shopify/callback", query_string=params)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "timestamp"
    assert _shop_count(shopify_runtime) == 0


def test_shopify_callback_with_an_unknown_state_is_refused(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    params = authorize(shopify_client, shopify.shop)
    params["state"] = "not-ours"
    params["hmac"] = callback_hmac(params, shopify.api_secret)
    answer = shopify_client.get("/shopify/callback", query_string=params)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "state"
    assert _shop_count(shopify_runtime) == 0


def test_shopify_callback_with_an_expired_state_is_refused(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    shopify_runtime.clock.advance(timedelta(minutes=-11))  # type: ignore[attr-defined]
    started = shopify_client.get("/shopify/install", query_string={"shop": shopify.shop})
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    shopify_runtime.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
    now = int(shopify_runtime.clock.now().timestamp())
    params = {"code": "x", "shop": shopify.shop, "state": state, "timestamp": str(now)}
    params["hmac"] = callback_hmac(params, shopify.api_secret)
    answer = shopify_client.get("/shopify/callback", query_string=params)
    assert answer.status_code == 400
    assert "expired" in answer.get_json()["error"]["message"]
    assert _shop_count(shopify_runtime) == 0


# ---------------------------------------------------------------------------- token exchange


def _session_token(runtime: Runtime, shopify: RunningShopify, **overrides: object) -> str:
    """A session token as App Bridge hands one to the app: HS256 with the app secret, 1 minute."""
    now = int(runtime.clock.now().timestamp())
    claims: dict[str, object] = {
        "iss": f"https://{shopify.shop}/admin",
        "dest": f"https://{shopify.shop}",
        "aud": shopify.api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "00000000-0000-0000-0000-000000000001",
        "sid": "session-1",
    }
    secret = str(overrides.pop("secret", shopify.api_secret))
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


def test_shopify_session_token_exchange_installs_the_shop(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    id_token = _session_token(shopify_runtime, shopify)
    query = {"id_token": id_token, "shop": shopify.shop, "host": "YWRtaW4uc2hvcGlmeS5jb20"}
    answer = shopify_client.get("/shopify/session", query_string=query)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with shopify_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        shop_id = shop.id
        assert (shop.platform, shop.domain, shop.status) == ("shopify", shopify.shop, "active")
        credentials = shopify_runtime.vault.open(shop.credentials)
    assert answer.headers["Location"] == f"{APP_URL}/app/?shop_id={shop_id}"
    tokens = shopify.app.extensions["shopify_sandbox"].tokens
    assert credentials["access_token"] in tokens.access  # issued by the sandbox's exchange
    assert credentials["access_token"] != shopify.access_token
    assert credentials["refresh_token"] in tokens.refresh  # an expiring offline token
    expected_expiry = shopify_runtime.clock.now() + timedelta(hours=1)
    assert credentials["expires_at"] == expected_expiry.isoformat()
    topics = {(s.topic, s.callbackUrl) for s in shopify.store.subscriptions.values()}
    assert ("APP_UNINSTALLED", f"{APP_URL}/webhooks/shopify") in topics
    assert len(topics) == len(SHOPIFY_TOPICS)

    assert shopify_runtime.jobs.drain() == 2  # the first sync, queued; then its reorder points
    with shopify_runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == len(
            shopify.store.variants
        )

    again = shopify_client.get("/shopify/session", query_string=query)  # the next app load
    assert again.headers["Location"] == f"{APP_URL}/app/?shop_id={shop_id}"
    with shopify_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        assert shopify_runtime.vault.open(shop.credentials) == credentials  # no new exchange
        shop.needs_reauthorization = True  # the refresh token died: the next load re-exchanges
    assert shopify_runtime.jobs.drain() == 0
    shopify_client.get("/shopify/session", query_string=query)
    with shopify_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        assert not shop.needs_reauthorization
        renewed = shopify_runtime.vault.open(shop.credentials)["access_token"]
        assert renewed != credentials["access_token"] and renewed in tokens.access


def test_shopify_session_token_signed_with_the_previous_secret_is_accepted(
    shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    settings = shopify_runtime.settings.model_copy(
        update={
            "SHOPIFY_API_SECRET": "shpss_" + "0" * 32,
            "SHOPIFY_API_SECRET_PREVIOUS": shopify.api_secret,
        }
    )
    runtime = dataclasses.replace(shopify_runtime, settings=settings)
    claims = verify_session_token(runtime, _session_token(runtime, shopify), shopify.shop)
    assert claims["dest"] == f"https://{shopify.shop}"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("expired", 401),
        ("wrong audience", 401),
        ("another shop", 401),
        ("wrong secret", 401),
        ("not a token", 401),
        ("missing id_token", 400),
        ("missing shop", 400),
        ("bad shop", 400),
    ],
)
def test_shopify_session_token_refusals_store_nothing(
    shopify_client: FlaskClient,
    shopify_runtime: Runtime,
    shopify: RunningShopify,
    case: str,
    status: int,
) -> None:
    now = int(shopify_runtime.clock.now().timestamp())
    query = {"id_token": _session_token(shopify_runtime, shopify), "shop": shopify.shop}
    if case == "expired":  # a minute old, past the 10 s leeway
        query["id_token"] = _session_token(shopify_runtime, shopify, exp=now - 11)
    elif case == "wrong audience":
        query["id_token"] = _session_token(shopify_runtime, shopify, aud="another-app")
    elif case == "another shop":
        query["id_token"] = _session_token(
            shopify_runtime,
            shopify,
            iss="https://other.myshopify.com/admin",
            dest="https://other.myshopify.com",
        )
    elif case == "wrong secret":
        query["id_token"] = _session_token(shopify_runtime, shopify, secret="x" * 38)
    elif case == "not a token":
        query["id_token"] = "not.a.jwt"
    elif case == "missing id_token":
        del query["id_token"]
    elif case == "missing shop":
        del query["shop"]
    else:
        query["shop"] = "evil.example.com"
    answer = shopify_client.get("/shopify/session", query_string=query)
    assert answer.status_code == status, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    expected = "invalid_session_token" if status == 401 else "install_refused"
    assert error["code"] == expected
    assert _shop_count(shopify_runtime) == 0
    assert not shopify.store.subscriptions
    assert shopify_runtime.jobs.drain() == 0


def test_shopify_session_token_within_the_leeway_is_accepted(
    shopify_client: FlaskClient, shopify_runtime: Runtime, shopify: RunningShopify
) -> None:
    now = int(shopify_runtime.clock.now().timestamp())
    id_token = _session_token(shopify_runtime, shopify, exp=now - 5)
    answer = shopify_client.get(
        "/shopify/session", query_string={"id_token": id_token, "shop": shopify.shop}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert _shop_count(shopify_runtime) == 1


# ---------------------------------------------------------------------------- WooCommerce


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    running = start_woo(store=WooStore(clock=runtime.clock.now), variants=10, seed=5)
    yield running
    running.stop()


@pytest.fixture
def woo_runtime(runtime: Runtime, database_url: str) -> Runtime:
    settings = test_settings(database_url, APP_URL=APP_URL, ALLOW_PRIVATE_STORE_URLS=True)
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
def woo_client(woo_runtime: Runtime) -> FlaskClient:
    return create_app(woo_runtime).test_client()


def _start_woo(client: FlaskClient, woo: RunningWoo) -> dict[str, str]:
    answer = client.get("/woocommerce/install", query_string={"store_url": woo.url})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{woo.url}/wc-auth/v1/authorize"
    )
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _key_post(woo: RunningWoo, user_id: str, permissions: str = "read_write") -> dict[str, str]:
    key = woo.store.create_key(permissions, 1)
    return {
        "key_id": key.key_id,
        "user_id": user_id,
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions,
    }


def test_woocommerce_install_redirects_with_the_key_flow_parameters(
    woo_client: FlaskClient, woo: RunningWoo
) -> None:
    query = _start_woo(woo_client, woo)
    assert query["app_name"] == "Backorder Connector"
    assert query["scope"] == "read_write"
    assert query["return_url"] == f"{APP_URL}/woocommerce/return"
    assert query["callback_url"] == f"{APP_URL}/woocommerce/callback"
    assert len(query["user_id"]) >= 32


def test_woocommerce_install_refuses_a_private_url_unless_allowed(client: FlaskClient) -> None:
    answer = client.get("/woocommerce/install", query_string={"store_url": "http://10.0.0.1"})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "store_url"


def test_woocommerce_key_flow_end_to_end(
    woo_client: FlaskClient, woo_runtime: Runtime, woo: RunningWoo
) -> None:
    user_id = _start_woo(woo_client, woo)["user_id"]
    answer = woo_client.post("/woocommerce/callback", json=_key_post(woo, user_id))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {}
    with woo_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        assert (shop.platform, shop.domain) == ("woocommerce", woo.url)
        secret = woo_runtime.vault.open(shop.credentials)["webhook_secret"]
    hooks = {(w.topic, w.delivery_url, w.secret) for w in woo.store.webhooks.values()}
    address = f"{APP_URL}/webhooks/woocommerce/{shop.id}"
    assert hooks == {(t, address, secret) for t in WOOCOMMERCE_TOPICS}
    assert woo_runtime.jobs.drain() == 2  # the first sync, queued; then its reorder points
    with woo_runtime.db.transaction() as session:
        sellable = [p for p in woo.store.products.values() if p.type in ("simple", "variation")]
        assert session.scalar(select(func.count()).select_from(Variant)) == len(sellable)
    back = woo_client.get("/woocommerce/return", query_string={"success": 1, "user_id": user_id})
    assert "is installed" in back.get_data(as_text=True)
    denied = woo_client.get("/woocommerce/return", query_string={"success": 0, "user_id": "x"})
    assert "denied" in denied.get_data(as_text=True)
    again = woo_client.post("/woocommerce/callback", json=_key_post(woo, user_id))
    assert again.status_code == 400


def test_woocommerce_reinstall_with_a_new_secret_re_signs_the_stores_webhooks(
    woo_client: FlaskClient, woo_runtime: Runtime, woo: RunningWoo
) -> None:
    """The uninstall destroyed the old secret: webhooks left on the store must sign with the new."""
    user_id = _start_woo(woo_client, woo)["user_id"]
    assert woo_client.post("/woocommerce/callback", json=_key_post(woo, user_id)).status_code == 200
    with woo_runtime.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        old = woo_runtime.vault.open(shop.credentials)["webhook_secret"]
        uninstall_shop(session, woo_runtime.clock, shop.id)
    address = f"{APP_URL}/webhooks/woocommerce/{shop.id}"
    next(iter(woo.store.webhooks.values())).status = "disabled"  # failed deliveries meanwhile

    user_id = _start_woo(woo_client, woo)["user_id"]
    answer = woo_client.post("/woocommerce/callback", json=_key_post(woo, user_id))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with woo_runtime.db.transaction() as session:
        again = session.scalars(select(Shop)).one()
        assert (again.id, again.status) == (shop.id, "active")
        secret = woo_runtime.vault.open(again.credentials)["webhook_secret"]
    assert secret != old
    ours = [w for w in woo.store.webhooks.values() if w.delivery_url == address]
    assert sorted(w.topic for w in ours) == sorted(WOOCOMMERCE_TOPICS)  # updated, not doubled
    assert {(w.secret, w.status) for w in ours} == {(secret, "active")}

    payload = woocommerce_order(501, [(101, 1)], modified_gmt="2026-11-26T14:05:00")
    stale = post_woocommerce(woo_client, shop.id, "order.created", payload, secret=old)
    assert stale.status_code == 401
    fresh = post_woocommerce(woo_client, shop.id, "order.created", payload, secret=secret)
    assert fresh.status_code == 200, fresh.get_data(as_text=True)


@pytest.mark.parametrize("case", ["unknown user_id", "read-only key", "bad keys"])
def test_woocommerce_callback_refusals_store_nothing(
    case: str, woo_client: FlaskClient, woo_runtime: Runtime, woo: RunningWoo
) -> None:
    user_id = _start_woo(woo_client, woo)["user_id"]
    if case == "unknown user_id":
        body = _key_post(woo, "someone-else")
    elif case == "read-only key":
        body = _key_post(woo, user_id, "read")
    else:
        body = {**_key_post(woo, user_id), "consumer_secret": "cs_" + "0" * 40}
    answer = woo_client.post("/woocommerce/callback", json=body)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "install_refused"
    assert _shop_count(woo_runtime) == 0
    assert woo.store.webhooks == {}


def test_woocommerce_key_flow_driven_by_the_sandbox_store(
    runtime: Runtime, database_url: str, woo: RunningWoo
) -> None:
    """The sandbox's own /wc-auth/v1/authorize posts the keys to our served callback."""
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    settings = test_settings(database_url, APP_URL=app_url, ALLOW_PRIVATE_STORE_URLS=True)
    served = dataclasses.replace(runtime, settings=settings)
    server.app = create_app(served)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        started = requests.get(
            f"{app_url}/woocommerce/install",
            params={"store_url": woo.url},
            allow_redirects=False,
            timeout=10,
        )
        approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=30)
        assert approved.status_code == 302, approved.text
        back = requests.get(approved.headers["Location"], timeout=10)
        assert "is installed" in back.text
    finally:
        server.shutdown()
        server.server_close()
    with served.db.transaction() as session:
        shop = session.scalars(select(Shop)).one()
        key = served.vault.open(shop.credentials)["consumer_key"]
    assert woo.store.key_by_consumer_key(key) is not None  # our 200 made the store keep it
