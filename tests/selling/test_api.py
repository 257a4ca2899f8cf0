"""The API for selling on backorder: the shop's settings, the variant's state, handing back; and
the write's decision as the store-write job takes it (no store is called here)."""

from __future__ import annotations

from datetime import date, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.models import Shop, StoreWrite, Variant
from connector.runtime import Runtime
from connector.services.selling import KIND, PolicyWriter
from tests.shops import ShopFixture, add_incoming, make_shop

TODAY = date(2026, 11, 26)  # the test clock, in Chicago


def _requested(runtime: Runtime) -> set[str]:
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(StoreWrite.target).where(StoreWrite.kind == KIND, StoreWrite.status == "pending")
        )
        return set(rows)


def _desired(runtime: Runtime, shop: ShopFixture, sku: str) -> dict[str, object] | None:
    with runtime.db.transaction() as session:
        writer = PolicyWriter(runtime.clock)
        return writer.desired(session, session.get_one(Shop, shop.shop_id), str(shop.variants[sku]))


def test_shop_settings_are_off_by_default_and_patched(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = make_shop(runtime)
    before = client.get(f"/api/v1/shops/{shop.shop_id}", headers=shop.auth).json
    assert (before["sell_on_backorder"], before["max_promise_days"], before["backorder_cap"]) == (
        False,
        30,
        None,
    )
    assert _requested(runtime) == set()

    body = {"sell_on_backorder": True, "max_promise_days": 21, "backorder_cap": 5}
    answer = client.patch(f"/api/v1/shops/{shop.shop_id}", json=body, headers=shop.auth)
    assert answer.status_code == 200, answer.json
    assert {k: answer.json[k] for k in body} == body
    # Every tracked variant is re-decided in a job. The fixture's variants already sell when out
    # of stock, and the 15-day lead time is within 21 days: the store is right, nothing is
    # written, and the app manages them from now on (a merchant's change would be theirs).
    assert _requested(runtime) == set()
    runtime.jobs.drain()
    assert _requested(runtime) == set()
    with runtime.db.transaction() as session:
        managed = session.scalars(
            select(Variant.policy_by_app).where(Variant.shop_id == shop.shop_id)
        )
        assert set(managed) == {"continue"}

    cleared = client.patch(
        f"/api/v1/shops/{shop.shop_id}", json={"backorder_cap": None}, headers=shop.auth
    )
    assert cleared.json["backorder_cap"] is None and cleared.json["max_promise_days"] == 21


def test_bad_settings_are_refused(client: FlaskClient, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    url = f"/api/v1/shops/{shop.shop_id}"
    for body in (
        {"max_promise_days": -1},
        {"max_promise_days": 400},
        {"backorder_cap": -3},
        {"sell_on_backorder": None},
        {"sell_on_backorder": "sometimes"},
        {"colour": "blue"},
        {},
    ):
        answer = client.patch(url, json=body, headers=shop.auth)
        assert answer.status_code == 422, body
    other = make_shop(runtime, domain="other-shop.myshopify.com")
    assert (
        client.patch(url, json={"sell_on_backorder": True}, headers=other.auth).status_code == 404
    )


def test_the_write_sends_only_what_the_store_lacks(client: FlaskClient, runtime: Runtime) -> None:
    # The fixture's variants sell when out of stock ("continue"); lead time 14 + 1 handling days.
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).lead_time_days = 60
    assert _desired(runtime, shop, "SHOE-42") is None  # not opted in: hands off
    client.patch(
        f"/api/v1/shops/{shop.shop_id}", json={"sell_on_backorder": True}, headers=shop.auth
    )

    value = _desired(runtime, shop, "SHOE-42")  # out of stock, nothing within 30 days
    assert value is not None and value["policy"] == "deny" and value["variant"] == "v1"
    with runtime.db.transaction() as session:
        add_incoming(session, shop, "SHOE-42", 4, 9, TODAY)
    assert _desired(runtime, shop, "SHOE-42") is None  # the store already says "continue"
    out = client.get(f"/api/v1/variants/{shop.variants['SHOE-42']}", headers=shop.auth).json
    assert out["selling_on_backorder"]["policy_by_app"] == "continue"
    assert "incoming stock PO-9" in out["selling_on_backorder"]["reason"]


def test_a_manual_change_is_flagged_left_alone_and_handed_back(
    client: FlaskClient, runtime: Runtime
) -> None:
    shop = make_shop(runtime)
    client.patch(
        f"/api/v1/shops/{shop.shop_id}", json={"sell_on_backorder": True}, headers=shop.auth
    )
    variant_id = shop.variants["SHOE-42"]
    with runtime.db.transaction() as session:
        add_incoming(session, shop, "SHOE-42", 4, 9, TODAY)
        variant = session.get_one(Variant, variant_id)
        variant.policy_by_app = "continue"  # the app switched it on yesterday
        variant.policy_written_at = runtime.clock.now() - timedelta(days=1)
        variant.inventory_policy = "deny"  # and a sync brought the merchant's change since
        variant.platform_updated_at = runtime.clock.now() - timedelta(hours=2)
    assert _desired(runtime, shop, "SHOE-42") is None
    out = client.get(f"/api/v1/variants/{variant_id}", headers=shop.auth).json
    assert out["selling_on_backorder"]["override"] is True
    assert out["inventory_policy"] == "deny"

    answer = client.patch(
        f"/api/v1/variants/{variant_id}", json={"policy_override": False}, headers=shop.auth
    )
    assert answer.status_code == 200 and answer.json["selling_on_backorder"]["override"] is False
    assert str(variant_id) in _requested(runtime)
    value = _desired(runtime, shop, "SHOE-42")
    assert value is not None and value["policy"] == "continue"
    bad = client.patch(
        f"/api/v1/variants/{variant_id}", json={"policy_override": True}, headers=shop.auth
    )
    assert bad.status_code == 422


def test_a_late_reading_from_before_our_write_is_no_override(runtime: Runtime) -> None:
    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).sell_on_backorder = True
        add_incoming(session, shop, "SHOE-42", 4, 9, TODAY)
        variant = session.get_one(Variant, shop.variants["SHOE-42"])
        variant.policy_by_app = "continue"
        variant.policy_written_at = runtime.clock.now()
        variant.inventory_policy = "deny"  # a webhook of the state before our write
        variant.platform_updated_at = runtime.clock.now() - timedelta(minutes=5)
    value = _desired(runtime, shop, "SHOE-42")
    assert value is not None and value["policy"] == "continue"  # written again, not flagged
    with runtime.db.transaction() as session:
        assert session.get_one(Variant, shop.variants["SHOE-42"]).policy_override is False
