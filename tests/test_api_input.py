"""Bad input gets a clear error naming the field, and nothing is half-written."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.models import IncomingStock
from connector.runtime import Runtime
from tests.shops import ShopFixture, make_shop


@pytest.fixture
def shop(runtime: Runtime) -> ShopFixture:
    return make_shop(runtime)


def _incoming_rows(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(IncomingStock)) or 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sku": "SHOE-42", "quantity": "ten", "expected_on": "2026-12-10"}, 422, "quantity"),
        ({"sku": "SHOE-42", "quantity": -3, "expected_on": "2026-12-10"}, 422, "quantity"),
        ({"sku": "SHOE-42", "quantity": 0, "expected_on": "2026-12-10"}, 422, "quantity"),
        ({"sku": "SHOE-42", "quantity": 10**9, "expected_on": "2026-12-10"}, 422, "quantity"),
        ({"sku": "SHOE-42", "quantity": 1.5, "expected_on": "2026-12-10"}, 422, "quantity"),
        ({"sku": "SHOE-42", "quantity": 1, "expected_on": "next week"}, 422, "expected_on"),
        ({"sku": "SHOE-42", "quantity": 1, "expected_on": "2026-11-01"}, 422, "expected_on"),
        ({"sku": "SHOE-42", "quantity": 1}, 422, "expected_on"),
        (
            {"sku": "SHOE-42", "quantity": 1, "expected_on": "2026-12-10", "colour": "red"},
            422,
            "colour",
        ),
        ({"quantity": 1, "expected_on": "2026-12-10"}, 422, None),
        ({"sku": "NO-SUCH-SKU", "quantity": 1, "expected_on": "2026-12-10"}, 422, "sku"),
        ({"variant_id": 999999, "quantity": 1, "expected_on": "2026-12-10"}, 404, "variant_id"),
        (
            {"sku": "SHOE-42", "quantity": 1, "expected_on": "2026-12-10", "reference": "x" * 300},
            422,
            "reference",
        ),
    ],
)
def test_invalid_incoming_is_refused_with_the_field_named(
    client: FlaskClient,
    runtime: Runtime,
    shop: ShopFixture,
    body: dict,
    status: int,
    field: str | None,
) -> None:
    response = client.post("/api/v1/incoming", headers=shop.auth, json=body)
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert error["message"]
    assert error.get("field") == field
    assert _incoming_rows(runtime) == 0


def test_both_sku_and_variant_id_is_ambiguous(client: FlaskClient, shop: ShopFixture) -> None:
    response = client.post(
        "/api/v1/incoming",
        headers=shop.auth,
        json={
            "sku": "SHOE-42",
            "variant_id": shop.variants["SHOE-42"],
            "quantity": 1,
            "expected_on": "2026-12-10",
        },
    )
    assert response.status_code == 422
    assert "exactly one of sku and variant_id" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        ('{"sku": "SHOE-42", "quantity": 1,', "application/json", "not valid JSON"),
        ('["SHOE-42", 1]', "application/json", "must be a JSON object"),
        ("sku=SHOE-42&quantity=1", "application/x-www-form-urlencoded", "Content-Type"),
        ("", "application/json", "not valid JSON"),
    ],
)
def test_malformed_body_is_400_with_a_reason(
    client: FlaskClient,
    runtime: Runtime,
    shop: ShopFixture,
    data: str,
    content_type: str,
    reason: str,
) -> None:
    response = client.post(
        "/api/v1/incoming", headers=shop.auth, data=data, content_type=content_type
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_body"
    assert reason in response.json["error"]["message"]
    assert _incoming_rows(runtime) == 0


def test_oversized_body_is_413(client: FlaskClient, runtime: Runtime, shop: ShopFixture) -> None:
    body = (
        '{"sku": "SHOE-42", "quantity": 1, "expected_on": "2026-12-10", "reference": "'
        + ("x" * (1024 * 1024))
        + '"}'
    )
    response = client.post(
        "/api/v1/incoming", headers=shop.auth, data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"
    assert _incoming_rows(runtime) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("shop_id=-1", "shop_id"),
        ("colour=red", "colour"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(
    client: FlaskClient, shop: ShopFixture, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/backorders?{query}", headers=shop.auth)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field


def test_a_cursor_from_another_list_is_refused(client: FlaskClient, runtime: Runtime) -> None:
    from connector.web.api.pagination import Cursors

    shop = make_shop(runtime, stock={f"SKU-{i}": 1 for i in range(3)})
    cursor = client.get("/api/v1/variants?limit=1", headers=shop.auth).json["next_cursor"]
    assert cursor
    response = client.get(f"/api/v1/backorders?cursor={cursor}", headers=shop.auth)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_cursor"
    forged = Cursors("another-secret-key-of-enough-length-000").encode("variants", 0)
    assert client.get(f"/api/v1/variants?cursor={forged}", headers=shop.auth).status_code == 400


def test_unknown_routes_and_methods_answer_json(client: FlaskClient, shop: ShopFixture) -> None:
    missing = client.get("/api/v1/nothing-here", headers=shop.auth)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong_method = client.delete("/api/v1/incoming", headers=shop.auth)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
