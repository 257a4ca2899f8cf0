"""The merchant's mail settings, own templates and the notification list over the JSON API."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.models import Notification
from connector.runtime import Runtime
from tests.shops import make_shop


def test_mail_settings_are_validated_and_returned(runtime: Runtime, client: FlaskClient) -> None:
    shop = make_shop(runtime)  # a Shopify shop: no customer notes
    url = f"/api/v1/shops/{shop.shop_id}"
    refused = client.patch(url, json={"mail_kinds": {"ready": "platform"}}, headers=shop.auth)
    assert refused.status_code == 422 and "customer note" in refused.json["error"]["message"]
    assert (
        client.patch(url, json={"mail_kinds": {"nope": "off"}}, headers=shop.auth).status_code
        == 422
    )
    answer = client.patch(
        url,
        json={
            "mail_kinds": {"eta_earlier": "off"},
            "support_email": "help@northwind.example",
            "brand_color": "#aa3300",
            "digest_recipients": "a@northwind.example, b@northwind.example",
            "digest_wait_days": 10,
        },
        headers=shop.auth,
    )
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["mail_kinds"] == {"eta_earlier": "off"}
    assert body["support_email"] == "help@northwind.example"
    assert body["digest_recipients"] == "a@northwind.example,b@northwind.example"
    assert body["digest_wait_days"] == 10


def test_own_templates_are_checked_saved_previewed_and_removed(
    runtime: Runtime, client: FlaskClient
) -> None:
    shop = make_shop(runtime)
    url = "/api/v1/mail-templates/placed/en"
    broken = client.put(url, json={"subject": "Hi {{ order_name"}, headers=shop.auth)
    assert broken.status_code == 422
    saved = client.put(
        url, json={"subject": "Your order {{ order_name }} waits"}, headers=shop.auth
    )
    assert saved.status_code == 200 and saved.json["subject"] == "Your order {{ order_name }} waits"
    assert client.get(url, headers=shop.auth).json["text"] is None
    preview = client.get(url + "/preview", headers=shop.auth)
    assert preview.status_code == 200 and preview.json["subject"] == "Your order #1001 waits"
    assert client.delete(url, headers=shop.auth).status_code == 204
    assert client.get(url, headers=shop.auth).status_code == 404
    assert client.get("/api/v1/mail-templates/nope/en", headers=shop.auth).status_code == 404


def test_notifications_filter_by_status_and_mask_the_recipient(
    runtime: Runtime, client: FlaskClient
) -> None:
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        for status in ("sent", "failed"):
            session.add(
                Notification(
                    shop_id=shop.shop_id,
                    kind="placed",
                    recipient="jane.doe@example.com",
                    dedupe_key=f"k-{status}",
                    status=status,
                    payload={},
                )
            )
    answer = client.get("/api/v1/notifications?status=failed", headers=shop.auth)
    assert answer.status_code == 200
    (item,) = answer.json["items"]
    assert (item["status"], item["recipient"]) == ("failed", "j***@e***.com")
    assert set(item) >= {"id", "kind", "channel", "recipient", "status", "created_at", "sent_at"}
