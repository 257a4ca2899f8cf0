"""The WooCommerce sandbox behaves as WooCommerce does, seen through the official client."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from woocommerce import API

from sandbox.woocommerce import RunningWoo, Settings, WooStore, seed, start
from sandbox.woocommerce.auth import sign, signature_base
from sandbox.woocommerce.models import Product

REFERENCE = Path(__file__).parents[3] / "shared" / "reference" / "woocommerce"


@pytest.fixture(scope="module")
def woo() -> Iterator[RunningWoo]:
    running = start(variants=1000, seed=1)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(woo: RunningWoo) -> API:
    return API(woo.url, woo.consumer_key, woo.consumer_secret, version="wc/v3", timeout=10)


class Receiver:
    """A tiny HTTP server that records requests and answers a programmable status."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"headers": dict(self.headers), "body": raw})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        serve = {"poll_interval": 0.05}  # so close() returns at once
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _new_simple(woo: RunningWoo, backorders: str, stock: int) -> Product:
    return woo.store.new_product(
        name=f"Test {backorders}",
        regular_price="10.00",
        manage_stock=True,
        stock_quantity=stock,
        backorders=backorders,
    )


# ------------------------------------------------------------------ the official client
def test_official_client_lists_and_paginates_with_headers(woo: RunningWoo, api: API) -> None:
    first = api.get("products", params={"per_page": 5, "page": 1})
    second = api.get("products", params={"per_page": 5, "page": 2})
    assert first.status_code == second.status_code == 200
    total = int(first.headers["X-WP-Total"])
    assert total == woo.store.state()["products"]
    assert int(first.headers["X-WP-TotalPages"]) == -(-total // 5)
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    assert 'rel="prev"' in second.headers["Link"] and "page=3" in second.headers["Link"]
    ids = [p["id"] for p in first.json()] + [p["id"] for p in second.json()]
    assert len(set(ids)) == 10
    expected = set(json.loads((REFERENCE / "wc_v3_product_retrieve.json").read_text()))
    assert expected <= set(first.json()[0])


def test_page_past_the_end_is_empty_and_per_page_above_100_is_400(api: API) -> None:
    past = api.get("products", params={"per_page": 100, "page": 999})
    assert past.status_code == 200 and past.json() == []
    too_many = api.get("products", params={"per_page": 101})
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "rest_invalid_param"


def test_variation_with_parent_managed_stock(woo: RunningWoo, api: API) -> None:
    s = woo.store
    parent = next(p for p in s.products.values() if p.type == "variable" and p.manage_stock)
    vid = parent.variations[0]
    answer = api.get(f"products/{parent.id}/variations/{vid}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["manage_stock"] == "parent"
    assert body["stock_quantity"] == parent.stock_quantity
    expected = set(json.loads((REFERENCE / "wc_v3_product_variation_retrieve.json").read_text()))
    assert expected <= set(body)
    everywhere = api.get("variations", params={"per_page": 1})
    assert int(everywhere.headers["X-WP-Total"]) == woo.store.state()["variations"]


def test_variations_collection_carries_parent_ids_and_filters_by_parent(
    woo: RunningWoo, api: API
) -> None:
    """`GET /variations` (WooCommerce 10.3+): a variation's own answer plus `parent_id`."""
    s = woo.store
    with s.lock:
        parents = [p for p in s.products.values() if p.type == "variable"][:3]
        wanted = {v for p in parents for v in p.variations}
    answer = api.get(
        "variations", params={"parent": ",".join(str(p.id) for p in parents), "per_page": 100}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert {v["id"] for v in body} == wanted
    assert int(answer.headers["X-WP-Total"]) == len(wanted)
    expected = set(json.loads((REFERENCE / "wc_v3_product_variation_retrieve.json").read_text()))
    for variation in body:
        assert expected | {"parent_id"} <= set(variation)
        assert variation["id"] in s.products[variation["parent_id"]].variations
        own = api.get(f"products/{variation['parent_id']}/variations/{variation['id']}").json()
        assert variation == {**own, "parent_id": variation["parent_id"]}
    with s.lock:
        s.settings.wc_version = "10.2.0"  # before the collection existed
    try:
        missing = api.get("variations")
    finally:
        with s.lock:
            s.settings.wc_version = "10.3.1"
    assert missing.status_code == 404 and missing.json()["code"] == "rest_no_route"


def test_create_order_and_note_with_the_official_client(woo: RunningWoo, api: API) -> None:
    product = _new_simple(woo, "no", 20)
    created = api.post(
        "orders", {"line_items": [{"product_id": product.id, "quantity": 2}], "set_paid": True}
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "processing"
    expected = set(json.loads((REFERENCE / "wc_v3_order_retrieve.json").read_text()))
    assert expected <= set(order)
    assert woo.store.products[product.id].stock_quantity == 18
    note = api.post(
        f"orders/{order['id']}/notes", {"note": "Backorder ETA: 3 May", "customer_note": True}
    )
    assert note.status_code == 201 and note.json()["customer_note"] is True
    notes = api.get(f"orders/{order['id']}/notes").json()
    assert any(n["note"] == "Backorder ETA: 3 May" for n in notes)


# ------------------------------------------------------------------ authentication
def _signed(
    woo: RunningWoo,
    path: str,
    *,
    secret: str | None = None,
    nonce: str = "n",
    timestamp: int | None = None,
    method: str = "HMAC-SHA1",
) -> requests.Response:
    params = {
        "oauth_consumer_key": woo.consumer_key,
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_nonce": nonce,
        "oauth_signature_method": method,
    }
    url = woo.url + path
    base = signature_base("GET", url, params)
    params["oauth_signature"] = sign(secret or woo.consumer_secret, base, method)
    return requests.get(url, params=params, timeout=10)


def test_oauth_signatures_are_verified(woo: RunningWoo) -> None:
    path = "/wp-json/wc/v3/products"
    stamp = int(time.time()) - 100
    assert _signed(woo, path, nonce="sha1-ok", timestamp=stamp).status_code == 200
    replay = _signed(woo, path, nonce="sha1-ok", timestamp=stamp)
    assert replay.status_code == 401
    assert replay.json()["message"] == "Invalid nonce - nonce has already been used."
    assert _signed(woo, path, nonce="sha256-ok", method="HMAC-SHA256").status_code == 200
    wrong = _signed(woo, path, nonce="wrong", secret="cs_wrong")
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Invalid signature - provided signature does not match."
    stale = _signed(woo, path, nonce="stale", timestamp=int(time.time()) - 16 * 60)
    assert stale.status_code == 401 and stale.json()["message"] == "Invalid timestamp."


def test_basic_auth_only_over_https_and_anonymous_gets_cannot_view(woo: RunningWoo) -> None:
    url = woo.url + "/wp-json/wc/v3/products"
    auth = (woo.consumer_key, woo.consumer_secret)
    assert requests.get(url, auth=auth, timeout=10).status_code == 401
    https = {"X-Forwarded-Proto": "https"}
    assert requests.get(url, auth=auth, headers=https, timeout=10).status_code == 200
    query = {"consumer_key": woo.consumer_key, "consumer_secret": woo.consumer_secret}
    assert requests.get(url, params=query, headers=https, timeout=10).status_code == 200
    bad = requests.get(url, auth=(woo.consumer_key, "cs_nope"), headers=https, timeout=10)
    assert bad.json()["code"] == "woocommerce_rest_authentication_error"
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "woocommerce_rest_cannot_view"


def test_read_key_cannot_write(woo: RunningWoo) -> None:
    key = woo.store.create_key("read")
    reader = API(woo.url, key.consumer_key, key.consumer_secret, version="wc/v3", timeout=10)
    assert reader.get("orders").status_code == 200
    denied = reader.post("products", {"name": "Nope"})
    assert denied.status_code == 401
    assert denied.json()["message"] == "The API key provided does not have write permissions."


def test_error_shape_matches_the_documented_examples(api: API) -> None:
    documented = json.loads((REFERENCE / "wc_v3_error_example_1.json").read_text())
    assert api.get("nowhere").json() == documented
    missing = api.get("products/99999999").json()
    assert set(missing) == set(documented) and set(missing["data"]) == {"status"}
    assert missing["code"] == "woocommerce_rest_product_invalid_id"


# ------------------------------------------------------------------ filters
def test_modified_after_in_gmt_and_in_site_local_time() -> None:
    clock_now = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    store = WooStore(clock=lambda: clock_now[0], settings=Settings(timezone="America/New_York"))
    running = start(store=store)
    try:
        seed(store, variants=50)
        clock_now[0] += timedelta(hours=1)
        touched = store.new_product(name="Fresh", regular_price="5.00")
        api = API(
            running.url, running.consumer_key, running.consumer_secret, version="wc/v3", timeout=10
        )
        gmt = {"modified_after": "2026-03-01T12:30:00", "dates_are_gmt": "true"}
        assert [p["id"] for p in api.get("products", params=gmt).json()] == [touched.id]
        # The same instant in New York local time (UTC-5) is 07:30; 12:30 local is 17:30 UTC.
        local = api.get("products", params={"modified_after": "2026-03-01T07:30:00"}).json()
        assert [p["id"] for p in local] == [touched.id]
        assert api.get("products", params={"modified_after": "2026-03-01T12:30:00"}).json() == []
        assert local[0]["date_modified"] == "2026-03-01T08:00:00"
        assert local[0]["date_modified_gmt"] == "2026-03-01T13:00:00"
    finally:
        running.stop()


# ------------------------------------------------------------------ stock and backorders
def test_notify_backorder_goes_negative_and_writes_translated_meta() -> None:
    store = WooStore(settings=Settings(language="de_DE"))
    p = store.new_product(
        name="Mug", regular_price="9.00", manage_stock=True, stock_quantity=2, backorders="notify"
    )
    oid = store.place_order([(p.id, 0, 5)])
    assert store.products[p.id].stock_quantity == -3
    assert store.products[p.id].stock_status == "onbackorder"
    meta = store.orders[oid].line_items[0].meta_data
    assert [(m.key, m.value) for m in meta] == [("Nachbestellt", 3)]
    store.cancel_order(oid)
    assert store.products[p.id].stock_quantity == 2


def test_backorders_yes_writes_no_meta_and_no_refuses(woo: RunningWoo) -> None:
    yes = _new_simple(woo, "yes", 1)
    oid = woo.store.place_order([(yes.id, 0, 4)])
    assert woo.store.products[yes.id].stock_quantity == -3
    assert woo.store.orders[oid].line_items[0].meta_data == []
    no = _new_simple(woo, "no", 1)
    with pytest.raises(Exception, match="not enough stock"):
        woo.store.place_order([(no.id, 0, 2)])
    woo.store.place_order([(no.id, 0, 1)])
    assert woo.store.products[no.id].stock_status == "outofstock"
    with pytest.raises(Exception, match="out of stock"):
        woo.store.place_order([(no.id, 0, 1)])


def test_notify_meta_on_a_parent_managed_variation_and_rest_view(woo: RunningWoo, api: API) -> None:
    s = woo.store
    parent = next(p for p in s.products.values() if p.type == "variable" and p.manage_stock)
    s.update_product(parent.id, stock_quantity=1, backorders="notify")
    oid = s.place_order([(parent.id, parent.variations[0], 3)])
    line = api.get(f"orders/{oid}").json()["line_items"][0]
    assert {"key": "Backordered", "value": 2}.items() <= next(
        m for m in line["meta_data"] if m["key"] == "Backordered"
    ).items()
    variation = api.get(f"products/{parent.id}/variations/{parent.variations[1]}").json()
    assert variation["stock_quantity"] == -2 and variation["backordered"] is True


def test_edit_and_complete_follow_stock(woo: RunningWoo) -> None:
    s = woo.store
    p = _new_simple(woo, "no", 10)
    oid = s.place_order([(p.id, 0, 4)])
    s.edit_order_quantity(oid, s.orders[oid].line_items[0].id, 1)
    assert s.products[p.id].stock_quantity == 9
    s.complete_order(oid)
    assert s.orders[oid].status == "completed" and s.products[p.id].stock_quantity == 9
    s.restock(p.id, 0, 5)
    assert s.products[p.id].stock_quantity == 14


def test_batch_over_100_objects_is_413(api: API) -> None:
    answer = api.post(
        "products/batch",
        {"create": [{"name": f"P{i}"} for i in range(60)], "delete": list(range(1, 42))},
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "woocommerce_rest_request_entity_too_large"
    small = api.post("products/batch", {"create": [{"name": "Batch one"}]})
    assert small.status_code == 200 and small.json()["create"][0]["name"] == "Batch one"


# ------------------------------------------------------------------ key flow
def test_key_flow_keeps_key_on_200_and_deletes_it_otherwise(
    woo: RunningWoo, receiver: Receiver
) -> None:
    def authorize(user_id: str) -> requests.Response:
        return requests.get(
            woo.url + "/wc-auth/v1/authorize",
            params={
                "app_name": "Backorder",
                "scope": "read_write",
                "user_id": user_id,
                "return_url": "https://app.example/return",
                "callback_url": receiver.url,
            },
            allow_redirects=False,
            timeout=10,
        )

    answer = authorize("shop-7")
    assert answer.status_code == 302
    assert parse_qs(urlparse(answer.headers["Location"]).query) == {
        "success": ["1"],
        "user_id": ["shop-7"],
    }
    posted = json.loads(receiver.requests[-1]["body"])
    assert set(posted) == {
        "key_id",
        "user_id",
        "consumer_key",
        "consumer_secret",
        "key_permissions",
    }
    assert posted["key_id"] in woo.store.keys and posted["user_id"] == "shop-7"
    receiver.status = 201
    refused = authorize("shop-8")
    assert refused.status_code == 401
    assert json.loads(receiver.requests[-1]["body"])["key_id"] not in woo.store.keys
    denied = requests.get(
        woo.url + "/wc-auth/v1/authorize",
        params={
            "app_name": "B",
            "scope": "read",
            "user_id": "9",
            "return_url": "https://a.example/r",
            "callback_url": receiver.url,
            "deny": "1",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert "success=0" in denied.headers["Location"]


# ------------------------------------------------------------------ webhooks
def test_webhook_ping_delivery_signature_and_delivery_time_payload(
    woo: RunningWoo, api: API, receiver: Receiver
) -> None:
    s = woo.store
    created = api.post(
        "webhooks", {"topic": "product.updated", "delivery_url": receiver.url, "secret": "s3cret"}
    )
    assert created.status_code == 201
    wid = created.json()["id"]
    ping = receiver.requests[0]
    assert ping["body"] == f"webhook_id={wid}".encode()
    assert not any(h.lower().startswith("x-wc-") for h in ping["headers"])
    p = _new_simple(woo, "no", 10)
    s.slow_answers(0)
    with s.lock:  # two changes queued before the worker can read: one delivery, final state
        s.update_product(p.id, stock_quantity=7)
        s.update_product(p.id, stock_quantity=3)
    assert woo.dispatcher.wait_idle()
    hooks = [r for r in receiver.requests[1:] if r["headers"].get("X-WC-Webhook-ID") == str(wid)]
    mine = [r for r in hooks if json.loads(r["body"])["id"] == p.id]
    assert len(mine) == 1
    delivery = mine[0]
    expected = base64.b64encode(
        hmac.new(b"s3cret", delivery["body"], hashlib.sha256).digest()
    ).decode()
    h = delivery["headers"]
    assert h["X-WC-Webhook-Signature"] == expected
    assert h["X-WC-Webhook-Topic"] == "product.updated" and h["X-WC-Webhook-Event"] == "updated"
    assert h["X-WC-Webhook-Source"] == woo.url + "/"
    assert h["User-Agent"].startswith("WooCommerce/") and "Hookshot (WordPress/" in h["User-Agent"]
    assert json.loads(delivery["body"])["stock_quantity"] == 3
    assert api.delete(f"webhooks/{wid}").status_code == 501
    assert api.delete(f"webhooks/{wid}", params={"force": "true"}).status_code == 200


def test_failing_receiver_gets_no_retries_and_is_disabled_after_5(
    woo: RunningWoo, receiver: Receiver
) -> None:
    s = woo.store
    receiver.status = 500
    w = s.add_webhook("order.created", receiver.url, secret="x")
    p = _new_simple(woo, "yes", 100)
    for _ in range(6):
        s.place_order([(p.id, 0, 1)])
        assert woo.dispatcher.wait_idle()
    assert len(receiver.requests) == 5  # one attempt per order, none after disabling
    assert s.webhooks[w.id].status == "disabled"


# ------------------------------------------------------------------ seed and control surface
def test_seed_is_fast_and_deterministic() -> None:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    a = WooStore(clock=lambda: fixed)
    seed(a, seed=7, variants=1000)
    assert time.perf_counter() - started < 1.0
    b = WooStore(clock=lambda: fixed)
    seed(b, seed=7, variants=1000)
    assert a.state() == b.state() and a.state()["variations"] > 0
    for pid in list(a.products)[::37]:
        assert a.products[pid] == b.products[pid]
    kinds = {(p.type, p.backorders, p.stock_status) for p in a.products.values()}
    assert {("simple", "notify"), ("simple", "yes")} <= {k[:2] for k in kinds}
    assert any(k[2] == "outofstock" for k in kinds)


def test_control_surface_and_failure_injection(woo: RunningWoo, api: API) -> None:
    p = _new_simple(woo, "notify", 0)
    placed = requests.post(
        woo.url + "/_sandbox/place-order", json={"lines": [[p.id, 0, 2]]}, timeout=10
    )
    assert placed.status_code == 201
    assert requests.post(woo.url + "/_sandbox/fail", json={"n": 1, "status": 503}, timeout=10).ok
    assert api.get("products").status_code == 503
    assert api.get("products").status_code == 200
    state = requests.get(woo.url + "/_sandbox/state", timeout=10).json()
    assert state["orders"] >= 300


# ------------------------------------------------------------------ failure modes
def test_slow_answers_delays_every_rest_answer_until_reset(woo: RunningWoo, api: API) -> None:
    woo.store.slow_answers(0.3)
    try:
        began = time.perf_counter()
        assert api.get("products", params={"per_page": 1}).status_code == 200
        assert time.perf_counter() - began >= 0.3
    finally:
        woo.store.slow_answers(0)
    began = time.perf_counter()
    assert api.get("products", params={"per_page": 1}).status_code == 200
    assert time.perf_counter() - began < 0.3


def test_fail_next_answers_n_host_errors_then_recovers(woo: RunningWoo, api: API) -> None:
    """Like a host or firewall refusing: n answers of `status` (with Retry-After), then normal."""
    woo.store.fail_next(2, status=503)
    answers = [api.get("products", params={"per_page": 1}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert all(a.headers["Retry-After"] == "2" for a in answers[:2])
    assert woo.store.state()["faults"]["fail_next"] == 0


# ------------------------------------------------------------------ webhooks per scenario
@contextlib.contextmanager
def hooked(woo: RunningWoo, receiver: Receiver, *topics: str) -> Iterator[None]:
    """Active webhooks on `topics` to `receiver` for the block; disabled afterwards."""
    ids = [woo.store.add_webhook(topic, receiver.url, secret="spec").id for topic in topics]
    try:
        yield
    finally:
        for wid in ids:
            woo.store.update_webhook(wid, status="disabled")


def delivered(woo: RunningWoo, receiver: Receiver, topic: str, rid: int) -> list[dict[str, Any]]:
    """Bodies delivered so far on `topic` about resource `rid`, once the queue is idle."""
    assert woo.dispatcher.wait_idle()
    bodies = [
        json.loads(r["body"])
        for r in receiver.requests
        if r["headers"].get("X-WC-Webhook-Topic") == topic
    ]
    return [b for b in bodies if b["id"] == rid]


def test_edit_order_quantity_announces_the_order_and_the_stock_change(
    woo: RunningWoo, receiver: Receiver
) -> None:
    s = woo.store
    p = _new_simple(woo, "no", 10)
    oid = s.place_order([(p.id, 0, 4)])
    with hooked(woo, receiver, "order.updated", "product.updated"):
        s.edit_order_quantity(oid, s.orders[oid].line_items[0].id, 1)
        [order] = delivered(woo, receiver, "order.updated", oid)
        [product] = delivered(woo, receiver, "product.updated", p.id)
    assert order["line_items"][0]["quantity"] == 1
    assert product["stock_quantity"] == 9


def test_cancel_announces_the_order_and_the_returned_stock(
    woo: RunningWoo, receiver: Receiver
) -> None:
    s = woo.store
    p = _new_simple(woo, "no", 5)
    oid = s.place_order([(p.id, 0, 2)])
    with hooked(woo, receiver, "order.updated", "product.updated"):
        s.cancel_order(oid)
        [order] = delivered(woo, receiver, "order.updated", oid)
        [product] = delivered(woo, receiver, "product.updated", p.id)
    assert order["status"] == "cancelled"
    assert product["stock_quantity"] == 5 and product["stock_status"] == "instock"


def test_complete_announces_the_order_and_leaves_reduced_stock_alone(
    woo: RunningWoo, receiver: Receiver
) -> None:
    s = woo.store
    p = _new_simple(woo, "no", 5)
    oid = s.place_order([(p.id, 0, 2)])  # processing: stock already reduced
    with hooked(woo, receiver, "order.updated", "product.updated"):
        s.complete_order(oid)
        [order] = delivered(woo, receiver, "order.updated", oid)
        assert delivered(woo, receiver, "product.updated", p.id) == []
    assert order["status"] == "completed" and order["date_completed"]
    assert s.products[p.id].stock_quantity == 3


def test_restocking_a_variation_announces_product_updated_on_its_parent(
    woo: RunningWoo, receiver: Receiver
) -> None:
    s = woo.store
    parent = next(
        p
        for p in s.products.values()
        if p.type == "variable" and not p.manage_stock and s.products[p.variations[0]].manage_stock
    )
    variation = s.products[parent.variations[0]]
    before = variation.stock_quantity or 0
    with hooked(woo, receiver, "product.updated"):
        s.restock(parent.id, variation.id, 7)
        [body] = delivered(woo, receiver, "product.updated", parent.id)
        assert delivered(woo, receiver, "product.updated", variation.id) == []
    assert body["type"] == "variable" and variation.id in body["variations"]
    assert s.products[variation.id].stock_quantity == before + 7


def test_update_product_announces_product_updated_with_the_new_state(
    woo: RunningWoo, receiver: Receiver
) -> None:
    p = _new_simple(woo, "no", 3)
    with hooked(woo, receiver, "product.updated"):
        woo.store.update_product(p.id, name="Renamed Mug", backorders="notify")
        [body] = delivered(woo, receiver, "product.updated", p.id)
    assert body["name"] == "Renamed Mug" and body["backorders"] == "notify"


# ------------------------------------------------------------------ control surface, every door
def test_every_control_endpoint_plays_its_scenario(
    woo: RunningWoo, api: API, receiver: Receiver
) -> None:
    s = woo.store

    def post(action: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = requests.post(f"{woo.url}/_sandbox/{action}", json=body or {}, timeout=10)
        assert response.status_code == status, (action, response.text)
        return response.json()

    key = post("create-key", {"permissions": "read"}, status=201)
    reader = API(woo.url, key["consumer_key"], key["consumer_secret"], version="wc/v3")
    assert key["permissions"] == "read" and reader.get("orders").status_code == 200

    p = _new_simple(woo, "no", 10)
    oid = post("place-order", {"lines": [[p.id, 0, 4]]}, status=201)["id"]
    assert s.orders[oid].status == "processing" and s.products[p.id].stock_quantity == 6
    refused = post("place-order", {"lines": [[p.id, 0, 99]]}, status=400)
    assert refused["code"] == "woocommerce_rest_product_out_of_stock"
    post("edit", {"order_id": oid, "line_item_id": s.orders[oid].line_items[0].id, "quantity": 2})
    assert s.products[p.id].stock_quantity == 8
    post("restock", {"product_id": p.id, "quantity": 5})
    assert s.products[p.id].stock_quantity == 13
    post("complete", {"order_id": oid})
    assert s.orders[oid].status == "completed"
    refund = post("refund", {"order_id": oid}, status=201)
    assert s.orders[oid].status == "refunded" and refund["id"] in s.orders[oid].refunds
    second = post("place-order", {"lines": [[p.id, 0, 1]]}, status=201)["id"]
    post("cancel", {"order_id": second})
    assert s.orders[second].status == "cancelled" and s.products[p.id].stock_quantity == 13
    assert post("cancel", {"order_id": 99999999}, status=404)["code"] == (
        "woocommerce_rest_shop_order_invalid_id"
    )

    with hooked(woo, receiver, "product.updated"):
        post("drop-webhook")
        post("update-product", {"id": p.id, "name": "Lost"})
        assert post("wait-webhooks", {"timeout": 5}) == {"idle": True}
        post("update-product", {"id": p.id, "name": "Heard"})
        assert post("wait-webhooks") == {"idle": True}
    assert [json.loads(r["body"])["name"] for r in receiver.requests] == ["Heard"]
    assert s.products[p.id].name == "Heard"

    post("slow", {"seconds": 0.2})
    began = time.perf_counter()
    assert api.get("products", params={"per_page": 1}).status_code == 200
    assert time.perf_counter() - began >= 0.2
    post("slow", {"seconds": 0})
    post("fail", {"n": 1, "status": 429})
    assert requests.get(f"{woo.url}/_sandbox/state", timeout=10).json()["faults"] == {
        "fail_next": 1,
        "delay": 0.0,
        "drop_webhooks": 0,
    }  # the control surface itself is never slowed or failed
    assert api.get("products").status_code == 429
    state = requests.get(f"{woo.url}/_sandbox/state", timeout=10).json()
    assert state["orders"] == len(s.orders) and state["keys"] == len(s.keys)
    assert state["faults"]["fail_next"] == 0


# ------------------------------------------------------------------ seed at full size
def test_seed_builds_exactly_the_purchasable_items_asked_and_each_seed_its_own() -> None:
    """`variants` counts what a shopper can buy: variations plus simple products."""
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    big = WooStore(clock=lambda: fixed)
    seed(big, seed=5, variants=100_000)
    kinds = [p.type for p in big.products.values()]
    assert kinds.count("simple") + kinds.count("variation") == 100_000
    assert big.state()["variations"] == kinds.count("variation") > 0
    assert big.state()["products"] == kinds.count("simple") + kinds.count("variable")
    assert all(
        big.products[p.parent_id].type == "variable"
        for p in big.products.values()
        if p.type == "variation"
    )
    assert all(p.variations for p in big.products.values() if p.type == "variable")

    def catalogue(seed_value: int) -> list[Any]:
        store = WooStore(clock=lambda: fixed)
        seed(store, seed=seed_value, variants=300, orders=20)
        return [
            (p.sku, p.regular_price, p.stock_quantity, p.backorders)
            for p in store.products.values()
        ]

    assert catalogue(8) == catalogue(8)
    assert catalogue(8) != catalogue(9)
