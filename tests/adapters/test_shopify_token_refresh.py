"""Expiring Shopify offline tokens: refreshed before they lapse, each new pair stored atomically.

Against the sandbox store, which issues 3600 s tokens when the code exchange asks `expiring=1`
and spends a refresh token on use (a second refresh with it fails), on the product's own
FrozenClock so "an hour later" is one line.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, text

from adapters.base import NeedsReauthorization, StoreError
from adapters.shopify import ShopifyAdapter, oauth
from adapters.shopify.oauth import OfflineToken
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.shops import shop_credentials
from connector.services.sync import run_sync_for
from connector.stores import adapter_for, store_refreshed_token, stored_token
from connector.web import create_app
from sandbox.shopify.server import RunningShopify
from tests.shopify_install import authorize, running_shopify, shopify_app_runtime


@pytest.fixture
def shopify(runtime: Runtime) -> Iterator[RunningShopify]:
    yield from running_shopify(runtime)


@pytest.fixture
def app_runtime(runtime: Runtime, shopify: RunningShopify, database_url: str) -> Runtime:
    return shopify_app_runtime(runtime, database_url, shopify)


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """After invalid_grant the keeper re-reads the stored pair for a while; not in these tests."""
    monkeypatch.setattr(oauth, "RELOAD_WAITS", (0.01,))


def install(runtime: Runtime, shopify: RunningShopify) -> int:
    """The real OAuth install (code grant, expiring token), through our own web routes."""
    client = create_app(runtime).test_client()
    finished = client.get("/shopify/callback", query_string=authorize(client, shopify.shop))
    assert finished.status_code == 302, finished.get_data(as_text=True)
    with runtime.db.transaction() as session:
        return session.scalars(select(Shop.id)).one()


def stored(runtime: Runtime, shop_id: int) -> dict[str, Any]:
    with runtime.db.transaction() as session:
        return shop_credentials(runtime.vault, session.get_one(Shop, shop_id))


def raw_row(runtime: Runtime, shop_id: int) -> str:
    with runtime.db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM shops WHERE id = :id"), {"id": shop_id}).one()
    return " ".join(str(value) for value in row)


def shop_adapter(runtime: Runtime, shop_id: int) -> ShopifyAdapter:
    with runtime.db.transaction() as session:
        adapter = adapter_for(runtime, session.get_one(Shop, shop_id))
    assert isinstance(adapter, ShopifyAdapter)
    return adapter


def live(shopify: RunningShopify, credentials: dict[str, Any], runtime: Runtime) -> bool:
    """Shopify would accept this pair: the access token works and the refresh token is unspent."""
    tokens = shopify.app.extensions["shopify_sandbox"].tokens
    return tokens.valid(credentials["access_token"], runtime.clock.now()) and (
        credentials["refresh_token"] in tokens.refresh
    )


def test_a_token_near_expiry_is_refreshed_before_the_call_and_the_new_pair_stored(
    app_runtime: Runtime, shopify: RunningShopify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop_id = install(app_runtime, shopify)
    first = stored(app_runtime, shop_id)
    assert first["refresh_token"] and first["expires_at"]  # the install asked for expiring=1

    app_runtime.clock.advance(timedelta(minutes=56))  # 4 minutes left: inside the margin
    adapter = shop_adapter(app_runtime, shop_id)
    sent: list[str] = []
    post = adapter.transport.session.post

    def recording(url: str, **kwargs: Any) -> requests.Response:
        sent.append(adapter.transport.session.headers["X-Shopify-Access-Token"])
        return post(url, **kwargs)

    adapter.transport.session.post = recording  # type: ignore[method-assign]
    assert adapter.shop().domain == shopify.shop

    second = stored(app_runtime, shop_id)
    assert adapter.transport.tokens.refreshed == 1
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_at"] == (app_runtime.clock.now() + timedelta(hours=1)).isoformat()
    assert sent == [second["access_token"]]  # refreshed first: the old token was never sent
    assert live(shopify, second, app_runtime)
    assert second["admin_base_url"] == shopify.admin_base_url  # the rest of the row is kept
    flat, logged = raw_row(app_runtime, shop_id), caplog.text
    shown = repr(adapter.transport.tokens.token) + repr(adapter.transport.tokens.refresh)
    for pair in (first, second):
        for secret in (pair["access_token"], pair["refresh_token"]):
            assert secret not in flat and secret not in logged and secret not in shown


def test_a_401_with_a_refresh_token_refreshes_once_and_retries(
    app_runtime: Runtime, shopify: RunningShopify
) -> None:
    """A stored expiry can be wrong (clock skew, revoked early): the 401 itself triggers it."""
    shop_id = install(app_runtime, shopify)
    adapter = shop_adapter(app_runtime, shop_id)
    keeper = adapter.transport.tokens
    keeper.token = dataclasses.replace(
        keeper.token, expires_at=app_runtime.clock.now() + timedelta(days=1)
    )
    app_runtime.clock.advance(timedelta(hours=2))  # Shopify's hour is over; ours is not
    assert adapter.shop().domain == shopify.shop
    assert keeper.refreshed == 1
    assert live(shopify, stored(app_runtime, shop_id), app_runtime)


def test_a_refresh_that_cannot_reach_shopify_keeps_the_valid_token_and_never_asks_to_reinstall(
    app_runtime: Runtime, shopify: RunningShopify
) -> None:
    shop_id = install(app_runtime, shopify)
    app_runtime.clock.advance(timedelta(minutes=56))
    adapter = shop_adapter(app_runtime, shop_id)
    keeper = adapter.transport.tokens
    attempts: list[str] = []

    def unreachable(url: str, **kwargs: Any) -> requests.Response:
        attempts.append(url)
        raise requests.ConnectionError("no route to host")

    keeper.session = requests.Session()
    keeper.session.post = unreachable  # type: ignore[method-assign]
    assert adapter.shop().domain == shopify.shop  # the old token still has 4 minutes
    assert adapter.shop().domain == shopify.shop  # ... and no second attempt right away
    assert len(attempts) == 1 and keeper.refreshed == 0
    app_runtime.clock.advance(timedelta(minutes=5))  # now it has lapsed
    with pytest.raises(StoreError) as refused:
        adapter.shop()
    assert not isinstance(refused.value, NeedsReauthorization)  # a network fault, not a revoke


def test_an_expired_refresh_token_marks_the_shop_needs_reauthorization(
    app_runtime: Runtime, shopify: RunningShopify, no_waiting: None
) -> None:
    shop_id = install(app_runtime, shopify)
    before = stored(app_runtime, shop_id)
    app_runtime.clock.advance(timedelta(days=91))  # refresh tokens live 90 days
    with pytest.raises(NeedsReauthorization):
        run_sync_for(app_runtime, shop_id)
    with app_runtime.db.transaction() as session:
        assert session.get_one(Shop, shop_id).needs_reauthorization
    assert stored(app_runtime, shop_id) == before


def test_two_adapters_racing_to_refresh_both_work_and_the_stored_pair_is_live(
    app_runtime: Runtime, shopify: RunningShopify
) -> None:
    """Free-running: two processes' adapters refresh the same pair at the same moment."""
    shop_id = install(app_runtime, shopify)
    app_runtime.clock.advance(timedelta(minutes=58))
    adapters = [shop_adapter(app_runtime, shop_id) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def call(adapter: ShopifyAdapter) -> None:
        start.wait()
        try:
            adapter.shop()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(a,)) for a in adapters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    now_stored = stored(app_runtime, shop_id)
    assert live(shopify, now_stored, app_runtime)
    assert sum(a.transport.tokens.refreshed for a in adapters) == 1  # one refresh was spent
    for adapter in adapters:
        assert adapter.transport.tokens.token.access_token == now_stored["access_token"]


def test_the_loser_of_a_refresh_race_takes_the_winners_pair(
    app_runtime: Runtime, shopify: RunningShopify
) -> None:
    """Staged: B refreshes with the refresh token A has just spent but not stored yet."""
    shop_id = install(app_runtime, shopify)
    app_runtime.clock.advance(timedelta(minutes=58))
    a, b = shop_adapter(app_runtime, shop_id), shop_adapter(app_runtime, shop_id)
    a_keeper, b_keeper = a.transport.tokens, b.transport.tokens
    assert a_keeper.refresh is not None and b_keeper.session is not None
    b_refused = threading.Event()
    b_post = b_keeper.session.post

    def b_refresh(url: str, **kwargs: Any) -> requests.Response:
        answer = b_post(url, **kwargs)
        if answer.status_code == 400:
            b_refused.set()
        return answer

    b_keeper.session.post = b_refresh  # type: ignore[method-assign]
    b_result: list[Any] = []
    b_thread = threading.Thread(target=lambda: b_result.append(b.shop()))
    store_a = a_keeper.refresh.on_refresh

    def store_after_b_was_refused(fresh: OfflineToken) -> OfflineToken:
        b_thread.start()  # A holds the new pair; the stored one is still the spent one
        assert b_refused.wait(10), "B never tried the spent refresh token"
        return store_a(fresh)

    a_keeper.refresh = dataclasses.replace(a_keeper.refresh, on_refresh=store_after_b_was_refused)
    assert a.shop().domain == shopify.shop
    b_thread.join(timeout=30)
    assert b_result and b_result[0].domain == shopify.shop
    now_stored = stored(app_runtime, shop_id)
    assert (a_keeper.refreshed, b_keeper.refreshed) == (1, 0)
    assert b_keeper.token.access_token == a_keeper.token.access_token == now_stored["access_token"]
    assert live(shopify, now_stored, app_runtime)

    # An hour on, either adapter refreshes from the stored pair; the other follows it.
    app_runtime.clock.advance(timedelta(minutes=58))
    assert b.shop().domain == a.shop().domain == shopify.shop
    assert b_keeper.refreshed == 1 and a_keeper.refreshed == 1
    assert live(shopify, stored(app_runtime, shop_id), app_runtime)


def test_a_later_pair_already_stored_is_kept_and_returned(
    app_runtime: Runtime, shopify: RunningShopify
) -> None:
    shop_id = install(app_runtime, shopify)
    now = app_runtime.clock.now()
    later = OfflineToken("shpat_later", "shprt_later", now + timedelta(minutes=61))
    earlier = OfflineToken("shpat_earlier", "shprt_earlier", now + timedelta(minutes=60))
    assert store_refreshed_token(app_runtime, shop_id, later) == later
    assert store_refreshed_token(app_runtime, shop_id, earlier) == later
    assert stored_token(app_runtime, shop_id) == later
