"""Merchant tasks and customers' order changes in the JSON API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from adapters.base import NotSupported
from connector.runtime import Runtime
from connector.services import self_service
from connector.services.tokens import create_token
from tests.status_page.support import (
    FakeStore,
    Waiting,
    changes,
    csrf_of,
    use_store,
    waiting_order,
)


def _bearer(runtime: Runtime, shop_id: int) -> dict[str, str]:
    with runtime.db.transaction() as session:
        return {"Authorization": f"Bearer {create_token(session, shop_id, 'dashboard')}"}


@pytest.fixture
def refused(runtime: Runtime, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> Waiting:
    """An order whose customer asked to cancel a line the platform would not edit."""
    order = waiting_order(runtime)
    use_store(monkeypatch, FakeStore(order.order, refuse=NotSupported("the order is archived")))
    csrf = csrf_of(client, order.path)
    assert client.post(order.line_path("cancel"), data={"csrf": csrf}).status_code == 303
    (change,) = changes(runtime)
    assert self_service.run(runtime, change.id) == "merchant"
    return order


def test_open_tasks_are_listed_and_marked_done_once(
    runtime: Runtime, client: FlaskClient, refused: Waiting
) -> None:
    auth = _bearer(runtime, refused.shop_id)
    listed = client.get("/api/v1/tasks?status=open", headers=auth)
    assert listed.status_code == 200
    (task,) = listed.get_json()["items"]
    assert (task["kind"], task["status"], task["order_name"]) == ("cancel_line", "open", "#1001")
    assert task["order_external_id"] == "1001" and task["done_at"] is None
    assert "the order is archived" in task["summary"]

    done = client.post(
        f"/api/v1/tasks/{task['id']}/done", headers=auth, json={"note": "removed by hand"}
    )
    assert done.status_code == 200
    assert done.get_json()["status"] == "done" and done.get_json()["done_at"] is not None
    assert done.get_json()["details"]["done_note"] == "removed by hand"
    again = client.post(f"/api/v1/tasks/{task['id']}/done", headers=auth, json={})
    assert again.get_json()["done_at"] == done.get_json()["done_at"]
    assert client.get("/api/v1/tasks?status=open", headers=auth).get_json()["items"] == []
    assert len(client.get("/api/v1/tasks?status=done", headers=auth).get_json()["items"]) == 1

    listed = client.get("/api/v1/order-changes?order=%231001", headers=auth).get_json()["items"]
    assert [(c["action"], c["status"], c["quantity"]) for c in listed] == [
        ("cancel", "merchant", 2)
    ]


def test_another_shops_token_sees_no_task_and_cannot_close_one(
    runtime: Runtime, client: FlaskClient, refused: Waiting
) -> None:
    other = waiting_order(runtime, domain="elsewhere.myshopify.com", order="2002")
    auth = _bearer(runtime, other.shop_id)
    assert client.get("/api/v1/tasks", headers=auth).get_json()["items"] == []
    assert client.get("/api/v1/order-changes", headers=auth).get_json()["items"] == []
    mine = client.get("/api/v1/tasks", headers=_bearer(runtime, refused.shop_id)).get_json()
    task_id = mine["items"][0]["id"]
    answer = client.post(f"/api/v1/tasks/{task_id}/done", headers=auth, json={})
    assert answer.status_code == 404


def test_the_openapi_document_lists_the_new_routes(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/tasks"]
    assert "post" in paths["/api/v1/tasks/{task_id}/done"]
    assert "get" in paths["/api/v1/order-changes"]
