"""The status page as a customer meets it: the link, what it shows, and who may post to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from connector.clock import FrozenClock
from connector.runtime import Runtime
from connector.services.status_links import (
    LINK_LIFETIME,
    LinkExpired,
    LinkRefused,
    read_status_token,
    status_url,
)
from tests.status_page.support import Waiting, changes, csrf_of, waiting_order


@pytest.fixture
def order(runtime: Runtime) -> Waiting:
    return waiting_order(runtime)


def test_a_link_names_its_shop_and_order_and_nothing_else_reads_it(runtime: Runtime) -> None:
    url = status_url(runtime.settings, 7, 4242, clock=runtime.clock)
    assert url.startswith(f"{runtime.settings.APP_URL}/status/")
    token = url.rsplit("/", 1)[1]
    assert read_status_token(runtime.settings, token, clock=runtime.clock) == (7, 4242)
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    with pytest.raises(LinkRefused):
        read_status_token(runtime.settings, forged, clock=runtime.clock)
    other_key = runtime.settings.model_copy(update={"SECRET_KEY": "k" * 48})
    with pytest.raises(LinkRefused):
        read_status_token(other_key, token, clock=runtime.clock)


def test_a_link_lives_sixty_days_on_the_product_clock(runtime: Runtime, clock: FrozenClock) -> None:
    token = status_url(runtime.settings, 7, 42, clock=clock).rsplit("/", 1)[1]
    clock.advance(LINK_LIFETIME - timedelta(minutes=1))
    assert read_status_token(runtime.settings, token, clock=clock) == (7, 42)
    clock.advance(timedelta(minutes=2))
    with pytest.raises(LinkExpired) as expired:
        read_status_token(runtime.settings, token, clock=clock)
    assert (expired.value.shop_id, expired.value.order_id) == (7, 42)


def test_the_page_shows_the_waiting_line_its_date_basis_place_and_choices(
    client: FlaskClient, order: Waiting
) -> None:
    answer = client.get(order.path)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Order #1001" in html and "Northwind Trail" in html and "#aa3300" in html
    assert "Trail shoe 42" in html and "2 waiting for stock" in html
    assert "Expected to ship by" in html and "the supplier&#39;s usual delivery time" in html
    assert "Your order is first in line for this item." in html
    assert "Cancel this item" in html
    assert "Switch to Trail shoe 43" in html and "Switch to Jacket M" not in html  # only 2 jackets
    assert "Jacket M" not in html.split("Trail shoe 42", 1)[0]  # the in-stock line is not listed
    assert "buyer1001@example.com" not in html
    headers = answer.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_tampered_link_is_a_page_that_does_not_exist(client: FlaskClient, order: Waiting) -> None:
    answer = client.get(order.path[:-4] + "AAAA")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert "#1001" not in html and "Northwind" not in html
    assert client.get("/status/not-a-token").status_code == 404


def test_an_expired_link_is_gone_and_says_whom_to_ask(
    client: FlaskClient, order: Waiting, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=61))
    answer = client.get(order.path)
    assert answer.status_code == 410
    html = answer.get_data(as_text=True)
    assert "expired" in html and "help@northwind.test" in html and "Northwind Trail" in html
    assert "#1001" not in html
    posted = client.post(order.line_path("cancel"), data={"csrf": "x"})
    assert posted.status_code == 410
    assert changes(order_runtime(client)) == []


def order_runtime(client: FlaskClient) -> Runtime:
    runtime: Runtime = client.application.extensions["backorder"]
    return runtime


def test_lines_of_another_order_or_shop_are_not_found(
    runtime: Runtime, client: FlaskClient, order: Waiting
) -> None:
    other_shop = waiting_order(runtime, domain="elsewhere.myshopify.com", order="2002")
    csrf = csrf_of(client, order.path)
    answer = client.post(order.line_path("cancel", other_shop.backorder_id), data={"csrf": csrf})
    assert answer.status_code == 404
    # The other shop's own link does not reach this order's line either.
    csrf = csrf_of(client, other_shop.path)
    answer = client.post(other_shop.line_path("cancel", order.backorder_id), data={"csrf": csrf})
    assert answer.status_code == 404
    csrf = csrf_of(client, order.path)
    assert client.post(order.line_path("cancel", 999_999), data={"csrf": csrf}).status_code == 404
    assert changes(runtime) == []


def test_a_post_without_the_pages_form_value_or_from_another_site_changes_nothing(
    runtime: Runtime, client: FlaskClient, order: Waiting
) -> None:
    assert client.post(order.line_path("cancel")).status_code == 400
    assert client.post(order.line_path("cancel"), data={"csrf": "0" * 64}).status_code == 400
    other = waiting_order(runtime, domain="elsewhere.myshopify.com", order="2002")
    borrowed = csrf_of(client, other.path)  # valid, but bound to another link
    assert client.post(order.line_path("cancel"), data={"csrf": borrowed}).status_code == 400
    csrf = csrf_of(client, order.path)
    answer = client.post(
        order.line_path("cancel"),
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert changes(runtime) == []


def test_a_cancel_is_recorded_once_however_often_it_is_clicked(
    runtime: Runtime, client: FlaskClient, order: Waiting
) -> None:
    csrf = csrf_of(client, order.path)
    for _ in range(3):
        answer = client.post(order.line_path("cancel"), data={"csrf": csrf})
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith(order.path)
    (change,) = changes(runtime)
    assert (change.action, change.status, change.quantity, change.line_quantity) == (
        "cancel",
        "pending",
        2,
        2,
    )
    html = client.get(order.path).get_data(as_text=True)
    assert "Being cancelled…" in html and "Cancel this item" not in html


def test_a_switch_only_to_an_offered_item_still_in_stock(
    runtime: Runtime, client: FlaskClient, order: Waiting
) -> None:
    csrf = csrf_of(client, order.path)
    path = order.line_path("switch")
    not_offered = order.variants["SHOE-42"]
    assert client.post(path, data={"csrf": csrf, "variant_id": not_offered}).status_code == 422
    jackets = order.variants["JACKET-M"]  # offered, but 2 in stock and 1 held for this order
    answer = client.post(path, data={"csrf": csrf, "variant_id": jackets})
    assert answer.status_code == 409
    assert "no longer in stock" in answer.get_data(as_text=True)
    assert client.post(path, data={"csrf": csrf, "variant_id": "x"}).status_code == 400
    assert changes(runtime) == []
    shoes = order.variants["SHOE-43"]
    assert client.post(path, data={"csrf": csrf, "variant_id": shoes}).status_code == 303
    (change,) = changes(runtime)
    assert (change.action, change.variant_id, change.quantity) == ("switch", shoes, 2)
    html = client.get(order.path).get_data(as_text=True)
    assert "Being switched to Trail shoe 43…" in html


def test_posts_from_one_address_are_rate_limited(
    runtime: Runtime, client: FlaskClient, order: Waiting
) -> None:
    from connector.web.status.guard import POST_LIMIT

    allowed = int(POST_LIMIT.split("/", 1)[0])
    for _ in range(allowed):
        assert client.post(order.line_path("cancel")).status_code == 400  # no form value
    refused = client.post(order.line_path("cancel"), data={"csrf": csrf_of(client, order.path)})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert changes(runtime) == []
    assert client.get(order.path).status_code == 200  # reading the page is not limited
