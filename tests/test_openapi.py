"""The OpenAPI document describes every API route, and real responses match it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema
from flask import Flask
from flask.testing import FlaskClient

from connector.runtime import Runtime
from tests.shops import add_backorder, make_shop


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def _flask_to_openapi(rule: str) -> str:
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    document = _document(client)
    routes = {
        (_flask_to_openapi(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented
    assert document["openapi"].startswith("3.1")


def test_every_operation_documents_auth_and_errors(client: FlaskClient) -> None:
    document = _document(client)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)
            if method == "post":
                assert {"400", "413", "422"} <= set(operation["responses"]), path


def _validate(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    schema = document["paths"][path][method]["responses"][str(status)]["content"][
        "application/json"
    ]["schema"]
    jsonschema.validate(body, {**schema, "components": document["components"]})


def test_responses_match_the_document(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        add_backorder(
            session,
            shop,
            sku="SHOE-42",
            order_external_id="1001",
            placed_at=runtime.clock.now() - timedelta(hours=2),
        )
    document = _document(client)
    samples = [
        ("/api/v1/shops", "/api/v1/shops", "get", 200, None),
        ("/api/v1/variants", "/api/v1/variants", "get", 200, None),
        (
            f"/api/v1/variants/{shop.variants['SHOE-42']}",
            "/api/v1/variants/{variant_id}",
            "get",
            200,
            None,
        ),
        ("/api/v1/backorders", "/api/v1/backorders", "get", 200, None),
        ("/api/v1/backorders/999999", "/api/v1/backorders/{backorder_id}", "get", 404, None),
        (
            "/api/v1/incoming",
            "/api/v1/incoming",
            "post",
            201,
            {"sku": "SHOE-42", "quantity": 3, "expected_on": "2026-12-20"},
        ),
        (
            "/api/v1/incoming",
            "/api/v1/incoming",
            "post",
            422,
            {"sku": "SHOE-42", "quantity": -3, "expected_on": "2026-12-20"},
        ),
        ("/api/v1/incoming", "/api/v1/incoming", "get", 200, None),
        ("/api/v1/notifications", "/api/v1/notifications", "get", 200, None),
        ("/api/v1/backorders?limit=0", "/api/v1/backorders", "get", 400, None),
    ]
    for url, path, method, status, body in samples:
        response = client.open(url, method=method.upper(), headers=shop.auth, json=body)
        assert response.status_code == status, (url, response.json)
        _validate(document, path, method, status, response.json)
    unauthorized = client.get("/api/v1/shops")
    _validate(document, "/api/v1/shops", "get", 401, unauthorized.json)
