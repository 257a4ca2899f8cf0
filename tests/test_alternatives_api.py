"""`GET /api/v1/variants/<id>/alternatives`, merchants' rules, and backorders carrying theirs."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.models import Backorder, Variant
from connector.runtime import Runtime
from tests.catalogues import APPAREL, GROCERY, load_shop
from tests.conftest import ADMIN_TOKEN
from tests.engine_helpers import ingest, snapshot


def test_alternatives_in_the_contracts_shape(runtime: Runtime, client: FlaskClient) -> None:
    shop = load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", APPAREL)
    url = f"/api/v1/variants/{shop.variants['TRAIL-BLU-42']}/alternatives"
    response = client.get(url + "?limit=2&quantity=1", headers=shop.auth)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 2
    assert list(items[0]) == [
        "variant_id",
        "sku",
        "title",
        "available",
        "price",
        "score",
        "reasons",
    ]
    assert items[0]["sku"] == "TRAIL-BLA-42"
    assert items[0]["title"] == "Trail Runner GTX - Black / 42"
    assert items[0]["available"] == 3
    assert items[0]["reasons"][0] == "same style, colour Black"
    assert client.get(url + "?quantity=4", headers=shop.auth).get_json()["items"][0]["sku"] == (
        "SUMMIT-RED-42"
    )
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get(url, headers=admin).status_code == 200


def test_auth_and_validation(runtime: Runtime, client: FlaskClient) -> None:
    shop = load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", APPAREL)
    other = load_shop(runtime, "Green Basket", "green-basket.myshopify.com", GROCERY)
    url = f"/api/v1/variants/{shop.variants['TRAIL-BLU-42']}/alternatives"
    assert client.get(url).status_code == 401
    for query in ("?limit=0", "?limit=51", "?quantity=0", "?quantity=x", "?colour=red"):
        response = client.get(url + query, headers=shop.auth)
        assert response.status_code == 400, query
        assert response.get_json()["error"]["code"] == "invalid_parameter"
    response = client.get(url, headers=other.auth)  # another shop's variant
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(url + f"?shop_id={shop.shop_id}", headers=other.auth).status_code == 403
    assert client.get("/api/v1/variants/999999/alternatives", headers=shop.auth).status_code == 404


def test_merchant_pins_and_excludes_through_the_api(runtime: Runtime, client: FlaskClient) -> None:
    shop = load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", APPAREL)
    v = shop.variants
    with runtime.db.transaction() as session:
        product_id = session.get_one(Variant, v["TRAIL-BLU-42"]).product_id
    rules = f"/api/v1/products/{product_id}/alternatives"
    body = {"pinned": [v["SOCKS-M"]], "excluded": [v["TRAIL-BLA-42"]]}
    response = client.put(rules, json=body, headers=shop.auth)
    assert response.status_code == 200
    assert response.get_json() == {"product_id": product_id, **body}
    found = client.get(f"/api/v1/variants/{v['TRAIL-BLU-42']}/alternatives", headers=shop.auth)
    found_skus = [i["sku"] for i in found.get_json()["items"]]
    assert found_skus[0] == "SOCKS-M" and "TRAIL-BLA-42" not in found_skus
    bad = client.put(rules, json={"pinned": [999999]}, headers=shop.auth)
    assert bad.status_code == 422
    assert client.put(rules, json={"pins": []}, headers=shop.auth).status_code == 422
    assert (
        client.put("/api/v1/products/999999/alternatives", json={}, headers=shop.auth).status_code
        == 404
    )


def test_a_backorder_shows_its_stored_alternatives(
    runtime: Runtime, client: FlaskClient, clock
) -> None:
    shop = load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", APPAREL)
    ingest(
        runtime,
        shop.shop_id,
        snapshot("7001", [("TRAIL-BLU-42", 2)], placed_at=clock.now(), updated_at=clock.now()),
    )
    with runtime.db.transaction() as session:
        backorder_id = session.scalars(select(Backorder.id)).one()
    before = client.get(f"/api/v1/backorders/{backorder_id}", headers=shop.auth).get_json()
    assert before["alternatives"] is None and before["quantity"] == 2
    runtime.jobs.drain()
    body = client.get(f"/api/v1/backorders/{backorder_id}", headers=shop.auth).get_json()
    stored = body["alternatives"]
    assert stored["quantity"] == 2
    assert stored["items"][0]["sku"] == "TRAIL-BLA-42"  # 3 in stock covers the 2 needed
    assert set(stored["items"][0]) == {"variant_id", "sku", "title", "price", "score", "reasons"}
    assert body["eta_history"] and body["status"] == "waiting"  # the fixed fields stay
