"""`GET /api/v1/store-writes`: what support sees of the writes to a store, per order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from connector.models import Order, StoreWrite
from connector.runtime import Runtime
from connector.web import create_app
from tests.shops import make_shop


def _order(session: Any, shop_id: int, external_id: str, runtime: Runtime) -> int:
    order = Order(
        shop_id=shop_id,
        external_id=external_id,
        name=f"#{external_id}",
        placed_at=runtime.clock.now(),
    )
    session.add(order)
    session.flush()
    return order.id


def _write(session: Any, shop_id: int, order_id: int | None, kind: str, status: str) -> None:
    target = str(order_id) if order_id else "7"
    session.add(
        StoreWrite(
            shop_id=shop_id,
            order_id=order_id,
            kind=kind,
            target=target,
            coalesce_key=f"{kind}:{target}",
            status=status,
            attempts=1,
            last_error="StoreError: 500" if status == "pending" else None,
            payload={"tags": ["backordered"]},
        )
    )


def test_writes_of_one_order_with_their_outcome_paged(runtime: Runtime) -> None:
    shop = make_shop(runtime)
    other = make_shop(runtime, domain="someone-else.myshopify.com")
    with runtime.db.transaction() as session:
        first = _order(session, shop.shop_id, "1001", runtime)
        second = _order(session, shop.shop_id, "1002", runtime)
        for status in ("sent", "pending", "failed"):
            _write(session, shop.shop_id, first, "order_state", status)
        _write(session, shop.shop_id, second, "order_state", "sent")
        _write(session, shop.shop_id, None, "variant_state", "sent")
        theirs = _order(session, other.shop_id, "1001", runtime)
        _write(session, other.shop_id, theirs, "order_state", "sent")
    runtime.clock.advance(timedelta(seconds=1))
    client: FlaskClient = create_app(runtime).test_client()

    answer = client.get("/api/v1/store-writes?order=%231001&limit=2", headers=shop.auth)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [(w["kind"], w["status"]) for w in body["items"]] == [
        ("order_state", "sent"),
        ("order_state", "pending"),
    ]
    assert body["items"][0]["target"] == str(first)
    assert body["items"][0]["value"] == {"tags": ["backordered"]}
    assert body["items"][1]["last_error"] == "StoreError: 500"
    assert set(body["items"][0]) == {
        "id",
        "kind",
        "target",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "done_at",
        "value",
    }
    rest = client.get(
        "/api/v1/store-writes",
        query_string={"order": "1001", "cursor": body["next_cursor"]},
        headers=shop.auth,
    ).get_json()
    assert [w["status"] for w in rest["items"]] == ["failed"] and rest["next_cursor"] is None

    failed = client.get("/api/v1/store-writes?status=failed", headers=shop.auth).get_json()
    assert [w["status"] for w in failed["items"]] == ["failed"]
    everything = client.get("/api/v1/store-writes", headers=shop.auth).get_json()
    assert len(everything["items"]) == 5  # the other shop's write is not ours to see

    assert client.get("/api/v1/store-writes").status_code == 401
    assert client.get("/api/v1/store-writes?status=lost", headers=shop.auth).status_code == 400
