"""The API as a support agent and an integration use it: fields, filters, queue, pages."""

from __future__ import annotations

from datetime import date, timedelta

from flask.testing import FlaskClient

from connector.clock import shop_today
from connector.models import Notification
from connector.runtime import Runtime
from tests.shops import add_backorder, add_incoming, make_shop

BACKORDER_FIELDS = {
    "id",
    "shop_id",
    "order_external_id",
    "order_name",
    "line_external_id",
    "variant_id",
    "sku",
    "quantity",
    "status",
    "queue_position",
    "priority",
    "eta",
    "eta_source",
    "created_at",
    "eta_history",
}
VARIANT_FIELDS = {
    "id",
    "shop_id",
    "external_id",
    "product_external_id",
    "sku",
    "title",
    "price",
    "available",
    "incoming",
    "inventory_policy",
    "lead_time_days",
    "selling_on_backorder",
}


def test_shop_fields(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    body = client.get("/api/v1/shops", headers=shop.auth).json
    assert body["next_cursor"] is None
    (row,) = body["items"]
    assert row["platform"] == "shopify" and row["status"] == "active"
    assert row["domain"] == "northwind-trail.myshopify.com"
    assert row["installed_at"].startswith("2026-11-26T15:00:00")
    assert "credentials" not in row


def test_variant_by_sku_shows_stock_incoming_and_lead_time(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 5})
    today = shop_today(runtime.clock, "America/Chicago")
    with runtime.db.transaction() as session:
        add_incoming(session, shop, "SHOE-42", 6, 9, today)
        add_incoming(session, shop, "SHOE-42", 4, 20, today)
    items = client.get("/api/v1/variants?sku=SHOE-42", headers=shop.auth).json["items"]
    (variant,) = items
    assert set(variant) == VARIANT_FIELDS
    assert variant["available"] == 0 and variant["incoming"] == 10
    assert variant["inventory_policy"] == "continue"
    assert variant["lead_time_days"] == 14  # the shop's default; the variant sets none
    assert variant["price"] == "49.90"
    one = client.get(f"/api/v1/variants/{variant['id']}", headers=shop.auth).json
    assert one == variant


def test_backorders_show_queue_position_eta_and_history(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = make_shop(runtime)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        first = add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="1001",
            placed_at=now - timedelta(days=2),
            eta=date(2026, 12, 8),
        ).id
        second = add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="1002",
            placed_at=now - timedelta(days=1),
            eta=date(2026, 12, 8),
        ).id
        expedited = add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="1003",
            placed_at=now - timedelta(hours=1),
            priority=1,
        ).id
        other = add_backorder(
            session,
            shop,
            sku="JACKET-M",
            order_external_id="1004",
            placed_at=now - timedelta(hours=3),
        ).id
        done = add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="999",
            placed_at=now - timedelta(days=5),
            status="fulfilled",
        ).id
    rows = {
        row["id"]: row for row in client.get("/api/v1/backorders", headers=shop.auth).json["items"]
    }
    assert set(rows[first]) - {"alternatives"} == BACKORDER_FIELDS  # an extra field
    assert [rows[i]["queue_position"] for i in (expedited, first, second)] == [1, 2, 3]
    assert rows[other]["queue_position"] == 1
    assert rows[done]["queue_position"] is None
    assert rows[first]["eta"] == "2026-12-08" and rows[first]["eta_source"] == "lead_time"
    assert rows[first]["eta_history"] == [
        {"eta": "2026-12-08", "eta_source": "lead_time", "at": rows[first]["eta_history"][0]["at"]}
    ]
    assert rows[first]["order_name"] == "#1001" and rows[first]["sku"] == "SHOE-42"


def test_backorder_filters(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        waiting = add_backorder(
            session, shop, sku="SHOE-42", order_external_id="1001", placed_at=now
        ).id
        jacket = add_backorder(
            session, shop, sku="JACKET-M", order_external_id="1002", placed_at=now
        ).id
        cancelled = add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="1003",
            placed_at=now,
            status="cancelled",
        ).id

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/backorders?{query}", headers=shop.auth)
        assert response.status_code == 200, response.json
        return [row["id"] for row in response.json["items"]]

    assert ids("status=waiting") == [waiting, jacket]
    assert ids("status=cancelled") == [cancelled]
    assert ids("sku=JACKET-M") == [jacket]
    assert ids("order=%231003") == [cancelled]  # "#1003"
    assert ids("order=1003") == [cancelled]
    assert ids("status=waiting&sku=SHOE-42") == [waiting]
    assert ids("sku=NOPE") == []


def test_pages_walk_every_row_once(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        created = [
            add_backorder(
                session,
                shop,
                sku="SHOE-42",
                order_external_id=str(1000 + i),
                placed_at=runtime.clock.now() - timedelta(minutes=i),
            ).id
            for i in range(7)
        ]
    seen: list[int] = []
    url = "/api/v1/backorders?limit=3"
    pages = 0
    while True:
        body = client.get(url, headers=shop.auth).json
        seen += [row["id"] for row in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/backorders?limit=3&cursor={body['next_cursor']}"
    assert seen == sorted(created) and pages == 3


def test_notifications_mask_the_recipient(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        backorder = add_backorder(
            session, shop, sku="SHOE-42", order_external_id="1001", placed_at=runtime.clock.now()
        )
        session.add(
            Notification(
                shop_id=shop.shop_id,
                order_id=backorder.line.order_id,
                backorder_id=backorder.id,
                kind="backorder_placed",
                recipient="jane.doe@example.com",
                dedupe_key="k1",
                status="sent",
                sent_at=runtime.clock.now(),
            )
        )
    body = client.get("/api/v1/notifications?order=%231001", headers=shop.auth).json
    (row,) = body["items"]
    assert row["recipient"] == "j***@e***.com"
    assert "jane" not in str(body)
    assert row["kind"] == "backorder_placed" and row["status"] == "sent"
    assert client.get("/api/v1/notifications?order=%239999", headers=shop.auth).json["items"] == []


def test_incoming_create_then_list(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    response = client.post(
        "/api/v1/incoming",
        headers=shop.auth,
        json={
            "sku": "SHOE-42",
            "quantity": 12,
            "expected_on": "2026-12-10",
            "reference": "PO-77",
        },
    )
    assert response.status_code == 201, response.json
    created = response.json
    assert created["id"] > 0 and created["variant_id"] == shop.variants["SHOE-42"]
    assert created["source"] == "manual" and created["received_at"] is None
    listed = client.get("/api/v1/incoming", headers=shop.auth).json["items"]
    assert listed == [created]
    by_id = client.post(
        "/api/v1/incoming",
        headers=shop.auth,
        json={
            "variant_id": shop.variants["JACKET-M"],
            "quantity": 1,
            "expected_on": "2026-11-26",
        },
    )
    assert by_id.status_code == 201  # today, in the shop's time zone, is allowed
    variant = client.get(f"/api/v1/variants/{shop.variants['SHOE-42']}", headers=shop.auth).json
    assert variant["incoming"] == 12


def test_incoming_cannot_target_another_shops_variant(
    client: FlaskClient, runtime: Runtime
) -> None:
    a = make_shop(runtime, domain="shop-a.myshopify.com")
    b = make_shop(runtime, domain="shop-b.myshopify.com")
    response = client.post(
        "/api/v1/incoming",
        headers=a.auth,
        json={
            "variant_id": b.variants["SHOE-42"],
            "quantity": 1,
            "expected_on": "2026-12-10",
        },
    )
    assert response.status_code == 404
    assert client.get("/api/v1/incoming", headers=b.auth).json["items"] == []
