"""What a support agent sees and does through the API once the engine runs."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.runtime import Runtime
from tests.engine_helpers import hours, ingest, snapshot
from tests.shops import make_shop


def _two_waiting(runtime: Runtime):  # type: ignore[no-untyped-def]
    shop = make_shop(runtime)
    now = runtime.clock.now()
    for order_id, ago in (("1001", 30), ("1002", 20)):
        ingest(
            runtime,
            shop.shop_id,
            snapshot(
                order_id, [("v1", 1)], placed_at=now - hours(ago), updated_at=now - hours(ago)
            ),
        )
    return shop


def _by_order(client: FlaskClient, shop) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    items = client.get("/api/v1/backorders", headers=shop.auth).json["items"]
    return {row["order_name"]: row for row in items}


def test_every_waiting_customer_has_a_date_and_a_reason(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = _two_waiting(runtime)
    rows = _by_order(client, shop)
    assert [rows[n]["queue_position"] for n in ("#1001", "#1002")] == [1, 2]
    for row in rows.values():
        assert row["status"] == "waiting"
        # Placed on Nov 25 in Chicago: + 14 days lead time + 1 handling day.
        assert row["eta"] == "2026-12-10" and row["eta_source"] == "lead_time"
        assert row["eta_history"][0]["eta"] == "2026-12-10"


def test_incoming_stock_posted_moves_the_etas_at_once(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = _two_waiting(runtime)
    response = client.post(
        "/api/v1/incoming",
        headers=shop.auth,
        json={"sku": "SHOE-42", "quantity": 1, "expected_on": "2026-12-01", "reference": "PO-55"},
    )
    assert response.status_code == 201
    rows = _by_order(client, shop)
    assert (rows["#1001"]["eta"], rows["#1001"]["eta_source"]) == ("2026-12-02", "incoming:PO-55")
    assert rows["#1002"]["eta_source"] == "lead_time"
    assert [h["eta_source"] for h in rows["#1001"]["eta_history"]] == [
        "lead_time",
        "incoming:PO-55",
    ]


def test_patch_sets_a_manual_eta_and_clears_it(client: FlaskClient, runtime: Runtime) -> None:
    shop = _two_waiting(runtime)
    target = _by_order(client, shop)["#1002"]["id"]
    response = client.patch(
        f"/api/v1/backorders/{target}", headers=shop.auth, json={"eta": "2026-12-05"}
    )
    assert response.status_code == 200, response.json
    assert (response.json["eta"], response.json["eta_source"]) == ("2026-12-05", "manual")
    cleared = client.patch(f"/api/v1/backorders/{target}", headers=shop.auth, json={"eta": None})
    assert (cleared.json["eta"], cleared.json["eta_source"]) == ("2026-12-10", "lead_time")


def test_patch_priority_moves_a_line_to_the_head_of_the_queue(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = _two_waiting(runtime)
    target = _by_order(client, shop)["#1002"]["id"]
    response = client.patch(f"/api/v1/backorders/{target}", headers=shop.auth, json={"priority": 3})
    assert response.json["priority"] == 3 and response.json["queue_position"] == 1
    assert _by_order(client, shop)["#1001"]["queue_position"] == 2


def test_patch_refuses_bad_input_and_other_shops(client: FlaskClient, runtime: Runtime) -> None:
    shop = _two_waiting(runtime)
    other = make_shop(runtime, domain="other.myshopify.com")
    target = _by_order(client, shop)["#1001"]["id"]
    cases = [
        ({"eta": "2026-01-01"}, 422, "eta"),
        ({"eta": "soon"}, 422, "eta"),
        ({"priority": 10}, 422, "priority"),
        ({"priority": -1}, 422, "priority"),
        ({}, 422, None),
        ({"status": "ready"}, 422, "status"),
    ]
    for body, status, field in cases:
        response = client.patch(f"/api/v1/backorders/{target}", headers=shop.auth, json=body)
        assert response.status_code == status, (body, response.json)
        assert response.json["error"].get("field") == field, body
    foreign = client.patch(f"/api/v1/backorders/{target}", headers=other.auth, json={"priority": 1})
    assert foreign.status_code == 404
    assert _by_order(client, shop)["#1001"]["priority"] == 0
