"""The Shopify sandbox as an app's store: the app's settings for it, and the code-grant dance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient

from connector.runtime import Runtime
from sandbox.shopify.seed import seed
from sandbox.shopify.server import RunningShopify, start
from sandbox.shopify.store import ShopifyStore
from tests.conftest import test_settings

APP_URL = "http://127.0.0.1:9"  # nothing listens: sandbox webhook deliveries fail fast


def running_shopify(runtime: Runtime) -> Iterator[RunningShopify]:
    """A small sandbox store on the product's clock (use with `yield from` in a fixture)."""
    store = seed(ShopifyStore(clock=runtime.clock.now), seed=5, variants=20)
    running = start(store=store, restore_rate=5000)
    yield running
    running.stop()


def shopify_app_runtime(runtime: Runtime, database_url: str, shopify: RunningShopify) -> Runtime:
    """The runtime of an app whose key, secret and admin URL are the sandbox's."""
    settings = test_settings(
        database_url,
        APP_URL=APP_URL,
        SHOPIFY_ADMIN_BASE_URL=shopify.admin_base_url,
        SHOPIFY_API_KEY=shopify.api_key,
        SHOPIFY_API_SECRET=shopify.api_secret,
        ALLOW_PRIVATE_STORE_URLS=True,  # the sandbox listens on localhost
    )
    return dataclasses.replace(runtime, settings=settings)


def authorize(client: FlaskClient, shop: str) -> dict[str, str]:
    """Start the install, let the sandbox approve it, return the signed callback's params."""
    started = client.get("/shopify/install", query_string={"shop": shop})
    assert started.status_code == 302, started.get_data(as_text=True)
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    callback = urlsplit(approved.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{APP_URL}/shopify/callback"
    return {k: v[0] for k, v in parse_qs(callback.query).items()}
