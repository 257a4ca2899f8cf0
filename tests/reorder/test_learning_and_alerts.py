"""Lead times learned from receipts, stock-out periods kept by the engine, and the merchant
told of variants newly at their reorder point (their own signed webhook, the digest)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FrozenClock
from connector.models import Notification, StockOut
from connector.runtime import Runtime
from connector.services.notify.periodic import digest_context
from connector.services.reorder import recompute_shop
from tests.conftest import test_settings
from tests.engine_helpers import backorders, hours, ingest, snapshot, stock
from tests.reorder.helpers import first_seen, sold
from tests.shops import ShopFixture, make_shop


def _receive_after(
    client: FlaskClient, clock: FrozenClock, shop: ShopFixture, sku: str, days: int, ref: str
) -> dict[str, Any]:
    today = clock.now().date()
    made = client.post(
        "/api/v1/incoming",
        headers=shop.auth,
        json={
            "sku": sku,
            "quantity": 10,
            "expected_on": (today + timedelta(days=14)).isoformat(),
            "ordered_on": today.isoformat(),
            "supplier": "Trailworks",
            "reference": ref,
        },
    )
    assert made.status_code == 201, made.json
    clock.advance(timedelta(days=days))
    got = client.post(f"/api/v1/incoming/{made.json['id']}/receive", headers=shop.auth, json={})
    assert got.status_code == 200, got.json
    return got.json


def test_receipts_teach_the_lead_time_that_promises_then_use(
    runtime: Runtime, client: FlaskClient, clock: FrozenClock
) -> None:
    shop = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 0, "JACKET-M": 0})
    first_seen(runtime, shop.shop_id, 60)
    sold(runtime, shop.shop_id, "SHOE-42", [2] * 60)  # then it ran out, and stayed out
    # The supplier says 14 days and takes 20, 21 and 22.
    for days, ref in ((20, "PO-1"), (21, "PO-2"), (22, "PO-3")):
        received = _receive_after(client, clock, shop, "SHOE-42", days, ref)
        assert received["received_at"] is not None and received["supplier"] == "Trailworks"
    now = clock.now()
    ingest(runtime, shop.shop_id, snapshot("9001", [("v1", 1)], placed_at=now, updated_at=now))
    (row,) = backorders(runtime).values()
    placed_on = now.astimezone(ZoneInfo("America/Chicago")).date()
    # 21 days learned (not the shop's 14) + 1 handling day.
    assert (row["eta"] - placed_on).days == 22 and row["eta_source"] == "lead_time"
    # Its sibling of the same vendor has no receipts: it still plans with the shop's 14 days.
    ingest(runtime, shop.shop_id, snapshot("9002", [("v2", 1)], placed_at=now, updated_at=now))
    sibling = backorders(runtime)["9002-v2"]
    assert (sibling["eta"] - placed_on).days == 15

    recompute_shop(runtime, shop.shop_id)
    listed = client.get("/api/v1/reorder", headers=shop.auth, query_string={"sku": "SHOE-42"})
    forecast = listed.json["items"][0]["forecast"]
    assert forecast["lead_time_source"] == "learned"
    assert forecast["lead_time_days"] == pytest.approx(21)
    assert forecast["lead_time_std_days"] == pytest.approx(1.0)
    # An unreliable supplier needs safety stock even for steady demand: z * d * sigma_L.
    assert forecast["safety_stock"] == pytest.approx(1.645 * 2 * 1.0, rel=0.1)


def test_the_engine_keeps_each_stock_out_period(runtime: Runtime, clock: FrozenClock) -> None:
    shop = make_shop(runtime, stock={"SHOE-42": 2, "SHOE-43": 5, "JACKET-M": 2})
    stock(runtime, shop.shop_id, "v1", 2)  # planned once: in stock
    clock.advance(hours(5))
    stock(runtime, shop.shop_id, "v1", 0, clock.now())
    clock.advance(timedelta(days=3))
    stock(runtime, shop.shop_id, "v1", 4, clock.now())
    with runtime.db.transaction() as session:
        periods = session.scalars(
            select(StockOut).where(StockOut.variant_id == shop.variants["SHOE-42"])
        ).all()
        assert len(periods) == 1
        assert periods[0].ended_at - periods[0].started_at == timedelta(days=3)


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    failing = 0  # answer 503 to this many posts first

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).failing > 0:
            type(self).failing -= 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    _Receiver.received, _Receiver.failing = [], 0
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/reorder", _Receiver.received
    server.shutdown()


def test_variants_newly_at_their_reorder_point_are_posted_once_signed_and_digested(
    database_url: str, clock: FrozenClock, clean_db: Any, receiver: Any
) -> None:
    from connector.db import Database
    from connector.runtime import build_runtime
    from connector.web import create_app

    settings = test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)
    runtime = build_runtime(
        settings, clock, Database(settings.DATABASE_URL, clock, engine=clean_db)
    )
    client = create_app(runtime).test_client()
    url, received = receiver
    shop = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 500, "JACKET-M": 1})
    set_up = client.put("/api/v1/reorder/webhook", headers=shop.auth, json={"url": url})
    assert set_up.status_code == 200, set_up.json
    secret = set_up.json["secret"]
    first_seen(runtime, shop.shop_id, 60)
    for sku in ("SHOE-42", "SHOE-43", "JACKET-M"):
        sold(runtime, shop.shop_id, sku, [3] * 60)

    recompute_shop(runtime, shop.shop_id)
    runtime.jobs.drain()
    assert len(received) == 1
    headers, body = received[0]
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["X-Backorder-Hmac-Sha256"], expected)
    posted = json.loads(body)
    assert posted["event"] == "reorder.point_reached" and posted["count"] == 2
    assert {v["sku"] for v in posted["variants"]} == {"SHOE-42", "JACKET-M"}

    # The next run finds them still below: not news, nothing posted again.
    recompute_shop(runtime, shop.shop_id)
    runtime.jobs.drain()
    assert len(received) == 1
    with runtime.db.transaction() as session:
        hooks = session.scalars(
            select(Notification).where(Notification.kind == "reorder_alert")
        ).all()
        assert [n.status for n in hooks] == ["sent"]
        from connector.models import Shop

        context = digest_context(
            runtime, session, session.get_one(Shop, shop.shop_id), clock.now().date()
        )
    assert {r["sku"] for r in context["reorder"]} == {"SHOE-42", "JACKET-M"}


def test_a_webhook_url_on_a_private_address_is_refused(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = make_shop(runtime)
    for url in ("http://127.0.0.1:9/x", "https://10.0.0.5/hook", "ftp://example.com/x"):
        answer = client.put("/api/v1/reorder/webhook", headers=shop.auth, json={"url": url})
        assert answer.status_code == 422, (url, answer.json)
        assert answer.json["error"]["code"]


def test_a_receiver_that_is_down_gets_the_same_post_again_later(
    database_url: str, clock: FrozenClock, clean_db: Any, receiver: Any
) -> None:
    from connector import jobs
    from connector.db import Database
    from connector.runtime import build_runtime
    from connector.web import create_app

    settings = test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)
    database = Database(settings.DATABASE_URL, clock, engine=clean_db)
    runtime = build_runtime(settings, clock, database)
    client = create_app(runtime).test_client()
    url, received = receiver
    _Receiver.failing = 1
    shop = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 500, "JACKET-M": 500})
    client.put("/api/v1/reorder/webhook", headers=shop.auth, json={"url": url + "?token=s3cret"})
    first_seen(runtime, shop.shop_id, 60)
    sold(runtime, shop.shop_id, "SHOE-42", [3] * 60)
    recompute_shop(runtime, shop.shop_id)
    runtime.jobs.drain()
    with runtime.db.transaction() as session:
        (hook,) = session.scalars(select(Notification)).all()
        assert hook.status == "pending" and "503" in (hook.last_error or "")
        assert "s3cret" not in (hook.last_error or "")
    clock.advance(timedelta(minutes=5))
    jobs.requeue(runtime, everything=True)
    runtime.jobs.drain()
    assert len(received) == 2 and received[0][1] == received[1][1]  # the same body again
    with runtime.db.transaction() as session:
        assert session.scalars(select(Notification.status)).all() == ["sent"]
