"""Workers killed mid-job (SIGKILL, not a mock) lose nothing and do nothing twice."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select

from connector.models import Backorder, WebhookEvent
from connector.runtime import Runtime
from tests.conftest import ENCRYPTION_KEY, SECRET_KEY, skip_or_fail
from tests.engine_helpers import events
from tests.processes import free_port, kill, start, stop, wait_for, wait_until_up
from tests.webhooks.support import (
    SHOPIFY_DOMAIN,
    SHOPIFY_SECRET,
    _hmac,
    shopify_order,
    shopify_shop,
)

pytestmark = pytest.mark.server

ORDERS = 300
CLIENTS = 6
VARIANTS = 3  # lines per order
STOCK = 100
TEST_REDIS = "redis://127.0.0.1:6379/15"


def _env(runtime: Runtime, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": runtime.settings.DATABASE_URL,
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def _delivery(number: int) -> tuple[bytes, dict[str, str]]:
    minute = f"{number // 60:02d}:{number % 60:02d}"
    order = shopify_order(
        5000 + number,
        [(variant, 1) for variant in range(1, VARIANTS + 1)],
        created_at=f"2026-11-26T07:{minute}-06:00",
        updated_at=f"2026-11-26T07:{minute}-06:00",
    )
    body = json.dumps(order).encode()
    return body, {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": _hmac(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
        "X-Shopify-Webhook-Id": f"delivery-{number}",
        "Content-Type": "application/json",
    }


def _deliver(url: str, count: int) -> None:
    """`count` orders, every fifth delivered twice (the same webhook id), from several
    connections at once. Like Shopify, a delivery that got no 200 (the server was down) is sent
    again until one does."""

    def send(numbers: range) -> None:
        with requests.Session() as http:
            for number in numbers:
                body, headers = _delivery(number)
                for _ in range(2 if number % 5 == 0 else 1):
                    _until_acknowledged(http, f"{url}/webhooks/shopify", body, headers)

    batches = [range(first, count + 1, CLIENTS) for first in range(1, CLIENTS + 1)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, batches))


def _until_acknowledged(
    http: requests.Session, url: str, body: bytes, headers: dict[str, str]
) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if http.post(url, data=body, headers=headers, timeout=10).status_code == 200:
                return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _states(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)
        ).all()
    return {state: count for state, count in rows}


def _assert_exactly_once(runtime: Runtime) -> None:
    assert _states(runtime) == {"done": ORDERS}
    created = [p for name, p in events(runtime) if name == "BackorderCreated"]
    assert len(created) == (ORDERS - STOCK) * VARIANTS
    assert len({p["line_id"] for p in created}) == (ORDERS - STOCK) * VARIANTS
    with runtime.db.transaction() as session:
        short = session.scalar(select(func.sum(Backorder.quantity))) or 0
    # One unit short per line beyond the shelf, none twice.
    assert short == (ORDERS - STOCK) * VARIANTS


def test_serve_killed_mid_work_then_restarted_processes_every_delivery_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    shopify_shop(runtime, {f"SKU-{n}": STOCK for n in range(1, VARIANTS + 1)})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--no-scheduler"]
    first = start(args, _env(runtime, WORKER_THREADS="2"), tmp_path)
    delivering = threading.Thread(target=_deliver, args=(url, ORDERS))
    try:
        wait_until_up(f"{url}/healthz", first)
        delivering.start()
        wait_for(lambda: _states(runtime).get("done", 0) >= 20, 60, "some deliveries processed")
    finally:
        kill(first)
    # Work was left: deliveries still arriving (SQLite acks wait on the one writer), or stored
    # and unprocessed (PostgreSQL acks outrun the job threads).
    left = delivering.is_alive() or _states(runtime).get("received", 0) > 0
    assert left, "the kill came after all the work; the test proved nothing"

    second = start(args, _env(runtime, WORKER_THREADS="2"), tmp_path)
    try:
        wait_until_up(f"{url}/healthz", second)
        delivering.join(timeout=120)
        wait_for(lambda: _states(runtime).get("done") == ORDERS, 120, "every delivery processed")
    finally:
        stop(second)
    _assert_exactly_once(runtime)


@pytest.fixture
def clean_redis() -> Iterator[str]:
    client = redis.Redis.from_url(TEST_REDIS, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis not reachable at {TEST_REDIS}: {exc}")
    yield TEST_REDIS
    client.flushdb()
    client.close()


def test_two_redis_workers_one_killed_mid_work_process_every_delivery_once(
    runtime: Runtime, tmp_path: Path, clean_redis: str
) -> None:
    shopify_shop(runtime, {f"SKU-{n}": STOCK for n in range(1, VARIANTS + 1)})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(runtime, REDIS_URL=clean_redis)
    web = start(["serve", "--port", str(port), "--no-scheduler"], env, tmp_path)
    workers = []
    try:
        wait_until_up(f"{url}/healthz", web)
        _deliver(url, ORDERS)  # queued in Redis: nothing runs in the web process
        assert _states(runtime) == {"received": ORDERS}
        workers = [start(["worker"], env, tmp_path) for _ in range(2)]
        wait_for(lambda: _states(runtime).get("done", 0) >= 30, 60, "the workers to start")
        kill(workers[0])
        assert _states(runtime).get("received", 0) > 0, "the kill came after all the work"
        workers[0] = start(["worker"], env, tmp_path)  # restarted, as a supervisor would
        wait_for(lambda: _states(runtime).get("done") == ORDERS, 120, "every delivery processed")
    finally:
        for process in [web, *workers]:
            stop(process)
    _assert_exactly_once(runtime)
