"""Intake: verify on the raw bytes, store before the 200, refuse clearly, never store twice."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.models import Order, WebhookEvent
from connector.runtime import Runtime
from tests.engine_helpers import backorders, events
from tests.webhooks.support import (
    SHOPIFY_PREVIOUS_SECRET,
    post_shopify,
    post_woocommerce,
    shopify_order,
    shopify_shop,
    woocommerce_order,
    woocommerce_shop,
)

LATER = "2026-11-26T09:00:00-06:00"


def inbox(runtime: Runtime) -> list[WebhookEvent]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        session.expunge_all()
        return list(rows)


def orders_held(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.fixture
def shop(runtime: Runtime) -> dict[str, int]:
    _, variants = shopify_shop(runtime, {"SHOE-42": 1, "JACKET-M": 5})
    return variants


def test_a_signed_order_is_stored_acknowledged_then_processed_into_a_backorder(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    answer = post_shopify(client, "orders/create", shopify_order(1001, [(1, 3)], updated_at=LATER))
    assert answer.status_code == 200
    assert answer.get_data() == b""
    [row] = inbox(runtime)
    assert (row.topic, row.state, row.resource_id) == (
        "orders/create",
        "received",
        "gid://shopify/Order/1001",
    )
    assert orders_held(runtime) == 0  # the answer did not wait for the work

    # The delivery, then the backorder's alternatives, its order's and variant's store writes
    # and the customer's "placed" e-mail.
    assert runtime.jobs.drain() == 5
    [row] = inbox(runtime)
    assert row.state == "done" and row.attempts == 1
    [line] = backorders(runtime).values()
    assert (line["quantity"], line["status"]) == (2, "waiting")  # 3 ordered, 1 on the shelf


@pytest.mark.parametrize(
    ("signature", "why"),
    [("", "missing"), ("AAAA", "garbage"), (None, "signed with another secret")],
)
def test_a_bad_signature_is_401_and_nothing_is_stored(
    client: FlaskClient,
    runtime: Runtime,
    shop: dict[str, int],
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
    why: str,
) -> None:
    payload = shopify_order(1002, [(1, 1)], updated_at=LATER, email="secret.buyer@example.com")
    with caplog.at_level(logging.INFO):
        answer = post_shopify(
            client, "orders/create", payload, signature=signature, secret="shpss_wrong" * 3
        )
    assert answer.status_code == 401, why
    assert answer.get_json()["error"]["code"] == "signature"
    assert inbox(runtime) == []
    assert "secret.buyer" not in caplog.text  # one line, never the body


def test_the_previous_secret_still_verifies_during_a_rotation(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    payload = shopify_order(1003, [(2, 1)], updated_at=LATER)
    answer = post_shopify(client, "orders/create", payload, secret=SHOPIFY_PREVIOUS_SECRET)
    assert answer.status_code == 200
    assert len(inbox(runtime)) == 1


def test_an_unknown_shop_is_401(client: FlaskClient, runtime: Runtime) -> None:
    answer = post_shopify(
        client,
        "orders/create",
        shopify_order(1, [(1, 1)], updated_at=LATER),
        domain="x.myshopify.com",
    )
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unknown_shop"
    assert inbox(runtime) == []


def test_a_body_over_2_mib_is_413(client: FlaskClient, runtime: Runtime, shop: Any) -> None:
    answer = post_shopify(client, "orders/create", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert answer.status_code == 413
    assert inbox(runtime) == []


def test_a_body_between_the_api_limit_and_2_mib_is_accepted(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    payload = shopify_order(1004, [(1, 1)], updated_at=LATER)
    payload["note"] = "n" * (1536 * 1024)  # 1.5 MiB: an order with a very long note
    assert post_shopify(client, "orders/create", payload).status_code == 200


def test_signed_invalid_json_is_400_with_a_reason_and_kept_as_rejected(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    answer = post_shopify(client, "orders/create", b'{"id": 1, "line_items": [')
    assert answer.status_code == 400
    assert "JSON" in answer.get_json()["error"]["message"]
    [row] = inbox(runtime)
    assert row.state == "rejected" and "not JSON" in (row.error or "")
    runtime.jobs.drain()
    assert inbox(runtime)[0].state == "rejected"  # never processed
    assert post_shopify(client, "orders/create", b"[1, 2]").status_code == 400


def test_an_unknown_topic_is_acknowledged_recorded_and_ignored(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    answer = post_shopify(client, "carts/update", {"id": 5, "token": "abc"})
    assert answer.status_code == 200
    runtime.jobs.drain()
    [row] = inbox(runtime)
    assert (row.topic, row.state) == ("carts/update", "ignored")


def test_the_same_delivery_five_times_has_one_effect(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    payload = shopify_order(1005, [(1, 4)], updated_at=LATER)
    for _ in range(5):
        answer = post_shopify(client, "orders/create", payload, webhook_id="same-delivery")
        assert answer.status_code == 200
    runtime.jobs.drain()
    assert len(inbox(runtime)) == 1
    created = [e for e in events(runtime) if e[0] == "BackorderCreated"]
    assert len(created) == 1


def test_a_redelivery_with_a_new_id_is_stored_but_changes_nothing(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    payload = shopify_order(1006, [(1, 4)], updated_at=LATER)
    post_shopify(client, "orders/create", payload)
    post_shopify(client, "orders/updated", payload)  # Shopify: the same snapshot, a new delivery
    runtime.jobs.drain()
    assert [row.state for row in inbox(runtime)] == ["done", "done"]
    assert len([e for e in events(runtime) if e[0] == "BackorderCreated"]) == 1
    assert backorders(runtime)["gid://shopify/LineItem/100601"]["quantity"] == 3


def test_an_older_snapshot_arriving_late_does_not_overwrite_newer_state(
    client: FlaskClient, runtime: Runtime, shop: dict[str, int]
) -> None:
    cancelled = shopify_order(
        1007, [(1, 4)], updated_at="2026-11-26T10:00:00-06:00", cancelled_at=LATER
    )
    created = shopify_order(1007, [(1, 4)], updated_at="2026-11-26T08:00:05-06:00")
    post_shopify(client, "orders/cancelled", cancelled)
    post_shopify(client, "orders/create", created)  # delivered after, but older
    runtime.jobs.drain()
    assert [row.state for row in inbox(runtime)] == ["done", "ignored"]
    assert all(b["status"] != "waiting" for b in backorders(runtime).values())


# ---- WooCommerce ------------------------------------------------------------------------------


@pytest.fixture
def woo(runtime: Runtime) -> int:
    shop_id, _ = woocommerce_shop(runtime, {"MUG-BLUE": 1})
    return shop_id


def test_woocommerce_ping_gets_exactly_200_and_nothing_else(
    client: FlaskClient, runtime: Runtime, woo: int
) -> None:
    answer = client.post(
        f"/webhooks/woocommerce/{woo}",
        data=b"webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )
    assert (answer.status_code, answer.get_data()) == (200, b"")
    assert inbox(runtime) == []


def test_woocommerce_order_is_verified_with_the_webhooks_secret_and_processed(
    client: FlaskClient, runtime: Runtime, woo: int
) -> None:
    payload = woocommerce_order(501, [(101, 3)], modified_gmt="2026-11-26T14:05:00")
    assert post_woocommerce(client, woo, "order.created", payload, secret="nope").status_code == 401
    assert inbox(runtime) == []
    assert post_woocommerce(client, woo, "order.created", payload).status_code == 200
    runtime.jobs.drain()
    [row] = inbox(runtime)
    assert row.state == "done", row.error
    [line] = backorders(runtime).values()
    assert line["status"] == "waiting"


def test_woocommerce_redeliveries_of_one_modification_are_one_delivery(
    client: FlaskClient, runtime: Runtime, woo: int
) -> None:
    payload = woocommerce_order(502, [(101, 3)], modified_gmt="2026-11-26T14:05:00")
    for _ in range(5):  # each carries a new X-WC-Webhook-Delivery-ID, as WooCommerce's do
        assert post_woocommerce(client, woo, "order.updated", payload).status_code == 200
    assert len(inbox(runtime)) == 1
    payload["date_modified_gmt"] = "2026-11-26T14:06:00"
    post_woocommerce(client, woo, "order.updated", payload)
    assert len(inbox(runtime)) == 2  # a new modification is a new delivery


def test_woocommerce_unknown_shop_or_another_platforms_shop_is_401(
    client: FlaskClient, runtime: Runtime, woo: int
) -> None:
    payload = woocommerce_order(503, [(101, 1)], modified_gmt="2026-11-26T14:05:00")
    assert post_woocommerce(client, woo + 99, "order.created", payload).status_code == 401
    shopify_id, _ = shopify_shop(runtime, {"X": 1})
    assert post_woocommerce(client, shopify_id, "order.created", payload).status_code == 401
    assert inbox(runtime) == []
