"""Group commit: the inbox writer stores waiting deliveries together, and 200 still means stored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import delete, exc, func, select
from werkzeug.serving import make_server

from connector.clock import FrozenClock
from connector.config import Settings
from connector.db import Database, background
from connector.migrate import upgrade
from connector.models import Shop, WebhookEvent
from connector.runtime import Runtime, build_runtime
from tests.webhooks.support import (
    SHOPIFY_DOMAIN,
    SHOPIFY_SECRET,
    _hmac,
    post_woocommerce,
    shopify_order,
    shopify_shop,
    woocommerce_order,
    woocommerce_shop,
)
from webhooks import inbox_writer
from webhooks.inbox_writer import DUPLICATE, UNKNOWN_SHOP, Entry, InboxWriter, StoreFailed

LATER = "2026-11-26T09:00:00-06:00"


def inbox_keys(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(WebhookEvent.dedupe_key).order_by(WebhookEvent.id)))


def row(key: str, **values: Any) -> dict[str, Any]:
    """An inbox row as the intake hands it to the writer (everything but the shop)."""
    return {
        "platform": "shopify",
        "topic": "orders/create",
        "dedupe_key": key,
        "event_id": None,
        "resource_id": None,
        "resource_updated_at": None,
        "headers": {"X-Shopify-Webhook-Id": key},
        "body": "{}",
        "received_at": datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        "state": "received",
        "attempts": 0,
        "error": None,
        **values,
    }


def shopify_entry(key: str, domain: str = SHOPIFY_DOMAIN, **values: Any) -> Entry:
    return Entry("shopify", None, domain, row(key, **values))


def write(writer: InboxWriter, batch: list[Entry]) -> list[int | str]:
    """One batch written as the writer thread does; each entry's result, or "failed"."""
    try:
        writer._write(batch)
    finally:
        writer._close()  # what the thread does when it ends
    outcomes: list[int | str] = []
    for entry in batch:
        try:
            outcomes.append(entry.wait(timeout=0))
        except StoreFailed:
            outcomes.append("failed")
    return outcomes


# ---- the writer on its own -----------------------------------------------------------------


def test_one_batch_stores_each_new_delivery_once_and_answers_each_in_order(
    runtime: Runtime,
) -> None:
    shop_id, _ = shopify_shop(runtime, {"X": 1})
    woo_id, _ = woocommerce_shop(runtime, {"Y": 1})
    writer = InboxWriter(runtime.db)
    assert write(writer, [shopify_entry("shopify:seen-before")])[0] > 0
    woo_row = row("order.updated:501:2026-11-26T14:05:00+00:00:ab12", platform="woocommerce")
    batch = [
        shopify_entry("shopify:a"),
        shopify_entry("shopify:seen-before"),  # already in the inbox
        shopify_entry("shopify:a"),  # the same delivery twice in one batch
        shopify_entry("shopify:b", domain="nobody.myshopify.com"),  # unknown shop
        Entry("woocommerce", woo_id, "", woo_row),
        Entry("woocommerce", woo_id, "", dict(woo_row)),  # a Woo redelivery in the same batch
        shopify_entry("rejected:ffff", state="rejected", error="body is not JSON"),
        shopify_entry("shopify:c"),
    ]
    results = write(writer, batch)

    new = [r for r in results if isinstance(r, int) and r > 0]
    assert len(new) == len(set(new)) == 4  # a, the Woo one, the rejected one, c
    assert results[1] == results[2] == results[5] == DUPLICATE
    assert results[3] == UNKNOWN_SHOP
    assert inbox_keys(runtime) == [
        "shopify:seen-before",
        "shopify:a",
        woo_row["dedupe_key"],
        "rejected:ffff",
        "shopify:c",
    ]
    with runtime.db.transaction() as session:
        stored = dict(session.execute(select(WebhookEvent.dedupe_key, WebhookEvent.id)).all())
        shops = dict(session.execute(select(WebhookEvent.dedupe_key, WebhookEvent.shop_id)).all())
    assert results[0] == stored["shopify:a"] and results[7] == stored["shopify:c"]
    assert results[4] == stored[woo_row["dedupe_key"]]
    assert shops["shopify:a"] == shop_id and shops[woo_row["dedupe_key"]] == woo_id


@pytest.fixture
def sqlite_runtime(settings: Settings, clock: FrozenClock, tmp_path: Path) -> Iterator[Runtime]:
    """A SQLite database of its own, whichever database the suite runs on: a batch there is a
    real transaction (BEGIN IMMEDIATE … COMMIT) under the database's turn."""
    db = Database(f"sqlite:///{tmp_path / 'own.db'}", clock)
    upgrade(db.engine)
    try:
        yield build_runtime(settings, clock, db)
    finally:
        db.dispose()


def test_a_batch_whose_transaction_fails_stores_nothing_and_fails_every_delivery(
    sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = sqlite_runtime
    shopify_shop(runtime, {"X": 1})
    real = inbox_writer.store_batch

    def insert_then_lose_the_database(connection: Any, batch: list[Entry], *known: Any) -> Any:
        real(connection, batch, *known)  # the rows are written, then the commit cannot happen
        raise exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(inbox_writer, "store_batch", insert_then_lose_the_database)
    batch = [shopify_entry(f"shopify:{n}") for n in range(5)]
    assert write(InboxWriter(runtime.db), batch) == ["failed"] * 5
    assert inbox_keys(runtime) == []  # rolled back


@pytest.mark.parametrize(
    "bad",
    [
        {"topic": None},  # refused by the database (NOT NULL): the whole INSERT fails
        {"headers": {"X-Shopify-Webhook-Id": object()}},  # cannot even be sent (not JSON)
    ],
)
def test_one_delivery_the_database_refuses_fails_alone(
    runtime: Runtime, bad: dict[str, Any]
) -> None:
    shopify_shop(runtime, {"X": 1})
    batch = [shopify_entry("shopify:1"), shopify_entry("shopify:2", **bad)]
    batch.append(shopify_entry("shopify:3"))
    results = write(InboxWriter(runtime.db), batch)
    assert results[1] == "failed"
    # Written again one by one, the others are new rows: the failed INSERT stored none of them.
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert results[0] > 0 and results[2] > 0
    assert inbox_keys(runtime) == ["shopify:1", "shopify:3"]


def test_a_shop_removed_after_it_was_remembered_is_looked_up_again(runtime: Runtime) -> None:
    shop_id, _ = shopify_shop(runtime, {"X": 1})
    writer = InboxWriter(runtime.db)
    assert write(writer, [shopify_entry("shopify:1")])[0] > 0
    assert writer._known == {("shopify", SHOPIFY_DOMAIN): shop_id}
    with runtime.db.transaction() as session:
        session.execute(delete(Shop).where(Shop.id == shop_id))  # shop/redact does this
    assert write(writer, [shopify_entry("shopify:2"), shopify_entry("shopify:3")]) == [
        UNKNOWN_SHOP,
        UNKNOWN_SHOP,
    ]
    new_id, _ = shopify_shop(runtime, {"X": 1})  # installed again: a new row, a new id
    assert write(writer, [shopify_entry("shopify:4")])[0] > 0
    assert writer._known == {("shopify", SHOPIFY_DOMAIN): new_id}


@pytest.mark.parametrize(
    ("limits", "sizes"),
    [
        ({}, [1, 11]),  # everything that waited, in one batch
        ({"max_batch": 4}, [1, 4, 4, 3]),
        ({"max_batch_bytes": 5}, [1, 2, 2, 2, 2, 2, 1]),  # bodies of 2 characters each
    ],
)
def test_the_writer_thread_takes_everything_waiting_and_ends_when_idle(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, limits: dict[str, int], sizes: list[int]
) -> None:
    shopify_shop(runtime, {"X": 1})
    writer = InboxWriter(runtime.db, idle_seconds=0.2, **limits)
    real = inbox_writer.store_batch
    first_batch_open = threading.Event()
    go_on = threading.Event()
    written: list[int] = []

    def gated(connection: Any, batch: list[Entry], *known: Any) -> list[int]:
        written.append(len(batch))
        if len(written) == 1:
            first_batch_open.set()
            assert go_on.wait(10)  # meanwhile the others queue up behind this batch
        return real(connection, batch, *known)

    monkeypatch.setattr(inbox_writer, "store_batch", gated)
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(writer.store, shopify_entry("shopify:first"))
        assert first_batch_open.wait(10)
        rest = [pool.submit(writer.store, shopify_entry(f"shopify:{n}")) for n in range(11)]
        deadline = time.monotonic() + 10
        while writer._queue.qsize() < 11 and time.monotonic() < deadline:
            time.sleep(0.01)
        go_on.set()
        results = [first.result(10)] + [future.result(10) for future in rest]
    assert written == sizes  # a lone delivery went at once; then the 11 that waited behind it
    assert len(set(results)) == 12 and min(results) > 0
    deadline = time.monotonic() + 5
    while writer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer._thread is None  # idle: the thread ended
    assert writer.store(shopify_entry("shopify:later")) > 0  # and the next delivery starts one


def test_the_writer_takes_its_sqlite_turn_ahead_of_job_threads(tmp_path: Path) -> None:
    """On SQLite the writer waits for the database's turn as a request thread does: before
    any job thread that was waiting longer."""
    clock = FrozenClock(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    db = Database(f"sqlite:///{tmp_path / 'turns.db'}", clock)
    try:
        upgrade(db.engine)
        order: list[str] = []

        class Recording(InboxWriter):
            def _write(self, batch: list[Entry]) -> None:
                with db.transaction():  # what the real batch does first: take the turn
                    order.append("writer")
                super()._write(batch)

        writer = Recording(db)
        holding = threading.Event()
        release = threading.Event()

        def hold_the_turn() -> None:
            with db.transaction():
                holding.set()
                assert release.wait(10)

        def job() -> None:
            background.active = True
            with db.transaction():
                order.append("job")

        holder = threading.Thread(target=hold_the_turn)
        holder.start()
        assert holding.wait(10)
        job_thread = threading.Thread(target=job)
        job_thread.start()
        time.sleep(0.1)  # the job thread is queued for the turn first
        entry = shopify_entry("shopify:k", domain="nobody.myshopify.com")
        writer.submit(entry)
        time.sleep(0.1)  # the writer is queued for the turn after the job thread
        release.set()
        assert entry.wait(10) == UNKNOWN_SHOP
        holder.join(10)
        job_thread.join(10)
        assert order == ["writer", "job"]
    finally:
        db.dispose()


# ---- through the served app ----------------------------------------------------------------


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app behind a real threaded HTTP server: each request in its own thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _send(url: str) -> Callable[[bytes, str], int]:
    local = threading.local()

    def send(body: bytes, webhook_id: str) -> int:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": _hmac(SHOPIFY_SECRET, body),
            "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
            "X-Shopify-Webhook-Id": webhook_id,
            "Content-Type": "application/json",
        }
        answer = local.http.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=30)
        return int(answer.status_code)

    return send


def test_many_concurrent_deliveries_are_all_acknowledged_and_each_stored_once(
    app: Flask, runtime: Runtime, served: str
) -> None:
    shopify_shop(runtime, {"X": 1000})
    deliveries = [
        (json.dumps(shopify_order(7000 + n, [(1, 1)], updated_at=LATER)).encode(), f"id-{n}")
        for n in range(150)
    ]
    sent = deliveries + deliveries[::3]  # every third one twice, often while the first waits
    send = _send(served)
    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(lambda d: send(*d), sent))

    assert statuses == [200] * len(sent)
    keys = inbox_keys(runtime)
    assert sorted(keys) == sorted(f"shopify:id-{n}" for n in range(150))
    assert runtime.jobs.depth() == 150  # each stored delivery queued for processing once
    runtime.jobs.drain()
    with runtime.db.transaction() as session:
        states = dict(
            session.execute(
                select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)
            ).all()
        )
    assert states == {"done": 150}


def test_a_failing_batch_answers_5xx_to_each_delivery_and_stores_nothing(
    runtime: Runtime, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shopify_shop(runtime, {"X": 1000})

    def unavailable(connection: Any, batch: list[Entry], *known: Any) -> list[int]:
        raise exc.OperationalError("INSERT", {}, Exception("the database went away"))

    monkeypatch.setattr(inbox_writer, "store_batch", unavailable)
    body = json.dumps(shopify_order(7500, [(1, 1)], updated_at=LATER)).encode()
    send = _send(served)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: send(body, f"down-{n}"), range(16)))
    assert statuses == [503] * 16
    assert inbox_keys(runtime) == []
    assert runtime.jobs.depth() == 0

    monkeypatch.undo()  # the database is back: Shopify's retries are stored
    assert send(body, "down-0") == 200
    assert inbox_keys(runtime) == ["shopify:down-0"]


def test_woocommerce_redeliveries_sent_together_are_one_delivery(
    runtime: Runtime, app: Flask
) -> None:
    shop_id, _ = woocommerce_shop(runtime, {"MUG-BLUE": 1})
    payload = woocommerce_order(601, [(101, 2)], modified_gmt="2026-11-26T14:05:00")

    def post(_: int) -> int:
        return post_woocommerce(app.test_client(), shop_id, "order.updated", payload).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(8)))
    assert statuses == [200] * 8
    assert len(inbox_keys(runtime)) == 1
