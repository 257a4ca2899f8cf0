"""The support dashboard through the test client: sign-in, finding an order, acting on it."""

from __future__ import annotations

from datetime import date, timedelta

from flask.testing import FlaskClient

from connector.models import Backorder, Variant
from connector.runtime import Runtime
from tests.dashboard.support import csrf_of, desk, sign_in


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    for path in ("/app/", "/app/backorders", "/app/orders/1"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/app/login" in answer.headers["Location"]


def test_sign_in_with_a_wrong_password_fails_and_the_right_one_opens_the_overview(
    runtime: Runtime, client: FlaskClient
) -> None:
    d = desk(runtime)
    wrong = sign_in(client, d.owner, "not the password")
    assert wrong.status_code == 200 and "do not match" in wrong.get_data(as_text=True)
    right = sign_in(client, d.owner)
    assert right.status_code == 302 and right.headers["Location"].endswith("/app/")
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/app/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "lines waiting" in text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "<svg" in text  # the opened / resolved chart


def test_a_form_without_its_token_is_refused(runtime: Runtime, client: FlaskClient) -> None:
    d = desk(runtime)
    sign_in(client, d.owner)
    with runtime.db.transaction() as session:
        backorder_id = session.query(Backorder.id).scalar()
    answer = client.post(f"/app/backorders/{backorder_id}", data={"eta": "2026-12-20"})
    assert answer.status_code == 400
    refused = client.post("/app/login", data={"email": d.owner, "password": "x"})
    assert refused.status_code == 400


def test_an_agent_finds_the_customers_order_and_sees_when_it_ships(
    runtime: Runtime, client: FlaskClient
) -> None:
    d = desk(runtime)
    sign_in(client, d.agent)
    for query in ("ada@example.com", "#1001", "Lovelace", "SHOE-42"):
        found = client.get("/app/backorders", query_string={"q": query, "status": ""})
        assert f"/app/orders/{d.order_id}" in found.get_data(as_text=True), query
    page = client.get(f"/app/orders/{d.order_id}").get_data(as_text=True)
    # Placed 2026-11-26 (Chicago) + 14 days lead time + 1 handling day.
    assert "2026-12-11" in page and "lead_time" in page and "#1" in page
    assert "placed" in page or "None yet." in page  # the messages section is there
    assert "Set ETA" not in page  # an agent reads; the actions are the owner's


def test_an_owner_sets_an_eta_and_the_queue_follows_but_an_agent_may_not(
    runtime: Runtime, client: FlaskClient
) -> None:
    d = desk(runtime)
    with runtime.db.transaction() as session:
        backorder_id = session.query(Backorder.id).scalar()
    sign_in(client, d.agent)
    refused = client.post(
        f"/app/backorders/{backorder_id}", data={"eta": "2026-12-20", "csrf": csrf_of(client)}
    )
    assert refused.status_code == 403
    client.post("/app/logout", data={"csrf": csrf_of(client)})

    sign_in(client, d.owner)
    when = date(2026, 12, 20)
    saved = client.post(
        f"/app/backorders/{backorder_id}",
        data={"eta": when.isoformat(), "csrf": csrf_of(client)},
        follow_redirects=True,
    )
    assert "Saved." in saved.get_data(as_text=True)
    with runtime.db.transaction() as session:
        backorder = session.get_one(Backorder, backorder_id)
        assert (backorder.eta, backorder.eta_source) == (when, "manual")
    past = client.post(
        f"/app/backorders/{backorder_id}",
        data={"eta": (date(2026, 11, 26) - timedelta(days=3)).isoformat(), "csrf": csrf_of(client)},
        follow_redirects=True,
    )
    assert "Not saved" in past.get_data(as_text=True)


def test_a_user_sees_only_their_own_shops_orders(runtime: Runtime, client: FlaskClient) -> None:
    mine = desk(runtime)
    theirs = desk(runtime, domain="other-shop.myshopify.com", tag="x")
    sign_in(client, mine.agent)
    assert client.get(f"/app/orders/{theirs.order_id}").status_code == 404
    listed = client.get("/app/backorders", query_string={"q": "adax@example.com", "status": ""})
    assert f"/app/orders/{theirs.order_id}" not in listed.get_data(as_text=True)


def test_a_script_in_a_product_title_renders_as_text(runtime: Runtime, client: FlaskClient) -> None:
    d = desk(runtime)
    from connector.models import OrderLine

    with runtime.db.transaction() as session:
        session.query(OrderLine).update({"title": "<script>alert(1)</script>"})
        session.query(Variant).update({"title": "<script>alert(1)</script>"})
    sign_in(client, d.agent)
    page = client.get(f"/app/orders/{d.order_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_sign_in_never_redirects_off_site(runtime: Runtime, client: FlaskClient) -> None:
    d = desk(runtime)
    client.get("/app/login")
    answer = client.post(
        "/app/login?next=https://evil.example/app/",
        data={"email": d.owner, "password": "correct horse battery", "csrf": csrf_of(client)},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/app/")


def test_the_reorder_page_lists_what_to_order_and_charts_a_variants_demand(
    runtime: Runtime, client: FlaskClient
) -> None:
    from connector.services.reorder import recompute_shop
    from tests.reorder.helpers import first_seen, out_of_stock, sold

    d = desk(runtime)
    first_seen(runtime, d.shop.shop_id, 90)
    sold(runtime, d.shop.shop_id, "JACKET-M", [3] * 90)
    out_of_stock(runtime, d.shop.shop_id, "JACKET-M", days_ago=10, days=5)
    recompute_shop(runtime, d.shop.shop_id)
    sign_in(client, d.agent)
    listed = client.get("/app/reorder").get_data(as_text=True)
    jacket = d.shop.variants["JACKET-M"]
    assert f"/app/reorder/{jacket}" in listed and "reorder point" in listed
    page = client.get(f"/app/reorder/{jacket}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in text
    assert text.count("out of stock</title>") >= 5  # the stock-out days, shown as such
    assert text.count("forecast</title>") == 28
    other = desk(runtime, domain="other-shop.myshopify.com", tag="x")
    assert client.get(f"/app/reorder/{other.shop.variants['JACKET-M']}").status_code == 404


def _failed_delivery(runtime: Runtime, shop_id: int, key: str) -> int:
    from connector.models import WebhookEvent

    with runtime.db.transaction() as session:
        row = WebhookEvent(
            shop_id=shop_id,
            platform="shopify",
            topic="orders/updated",
            dedupe_key=key,
            body="{}",
            received_at=runtime.clock.now(),
            state="failed",
            attempts=5,
            error="KeyError: 'line_items'",
        )
        session.add(row)
        session.flush()
        return row.id


def test_a_failed_webhook_is_shown_with_its_error_and_the_owner_replays_it(
    runtime: Runtime, client: FlaskClient
) -> None:
    from connector.models import WebhookEvent

    d = desk(runtime)
    other = desk(runtime, domain="other-shop.myshopify.com", tag="x")
    mine = _failed_delivery(runtime, d.shop.shop_id, "a")
    theirs = _failed_delivery(runtime, other.shop.shop_id, "b")
    sign_in(client, d.owner)
    page = client.get("/app/inbox").get_data(as_text=True)
    assert "KeyError: &#39;line_items&#39;" in page and "Replay" in page
    client.post(f"/app/inbox/{theirs}/replay", data={"csrf": csrf_of(client)})
    replayed = client.post(
        f"/app/inbox/{mine}/replay", data={"csrf": csrf_of(client)}, follow_redirects=True
    )
    assert "queued again" in replayed.get_data(as_text=True)
    with runtime.db.transaction() as session:
        assert session.get_one(WebhookEvent, mine).state == "received"
        assert session.get_one(WebhookEvent, theirs).state == "failed"  # another shop's
    assert runtime.jobs.depth() >= 1
