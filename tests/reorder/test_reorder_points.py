"""Reorder points through the database and the API, as a merchant reads them."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import numpy as np
import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.reorder import recompute_shop
from tests.reorder.helpers import first_seen, out_of_stock, sold
from tests.shops import ShopFixture, make_shop


@pytest.fixture
def shop(runtime: Runtime) -> ShopFixture:
    """Three variants with 90 days of history: SHOE-42 sells 4 a day and is out of stock (0
    on hand); SHOE-43 sells 1 a day with 200 on hand; JACKET-M sells 2 a day, 5 on hand."""
    fixture = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 200, "JACKET-M": 5})
    first_seen(runtime, fixture.shop_id, 90)
    sold(runtime, fixture.shop_id, "SHOE-42", [4] * 90)
    sold(runtime, fixture.shop_id, "SHOE-43", [1] * 90)
    sold(runtime, fixture.shop_id, "JACKET-M", [2] * 90)
    return fixture


def _rows(client: FlaskClient, shop: ShopFixture, **params: str) -> list[dict]:
    answer = client.get("/api/v1/reorder", headers=shop.auth, query_string=params)
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def test_the_reorder_list_says_what_to_order_first(
    runtime: Runtime, client: FlaskClient, shop: ShopFixture
) -> None:
    run = recompute_shop(runtime, shop.shop_id)
    assert (run.variants, run.at_or_below) == (3, 2)
    rows = _rows(client, shop)
    by_sku = {row["sku"]: row for row in rows}
    # Highest revenue at risk first: the empty shoe, then the jacket; the stocked size last.
    assert [row["sku"] for row in rows] == ["SHOE-42", "JACKET-M", "SHOE-43"]
    shoe = by_sku["SHOE-42"]
    assert shoe["daily_demand"] == pytest.approx(4, rel=0.05)
    # Constant demand: no safety stock needed; 14 days' lead time (the shop's) x 4 a day.
    assert shoe["reorder_point"] == pytest.approx(56, rel=0.05)
    assert shoe["forecast"]["lead_time_source"] == "shop"
    # Nothing on hand: order what covers the lead time and the 7-day review period.
    assert shoe["suggested_quantity"] == pytest.approx(4 * 21, abs=2)
    assert shoe["at_or_below"] is True and shoe["reached_at"] is not None
    assert "reorder point" in shoe["reason"]
    assert Decimal(shoe["revenue_at_risk"]) == pytest.approx(
        Decimal("49.90") * 56, rel=Decimal("0.05")
    )
    stocked = by_sku["SHOE-43"]
    assert stocked["at_or_below"] is False and stocked["suggested_quantity"] == 0
    only = _rows(client, shop, at_or_below="true")
    assert {row["sku"] for row in only} == {"SHOE-42", "JACKET-M"}


def test_the_csv_export_and_the_list_agree(
    runtime: Runtime, client: FlaskClient, shop: ShopFixture
) -> None:
    recompute_shop(runtime, shop.shop_id)
    first = _rows(client, shop, limit="2")
    answer = client.get("/api/v1/reorder", headers=shop.auth, query_string={"limit": "2"})
    rest = _rows(client, shop, limit="2", cursor=answer.json["next_cursor"])
    listed = first + rest
    exported = client.get("/api/v1/reorder.csv", headers=shop.auth)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [int(r["variant_id"]) for r in rows] == [row["variant_id"] for row in listed]
    for line, row in zip(rows, listed, strict=True):
        assert line["sku"] == row["sku"]
        assert int(line["suggested_quantity"]) == row["suggested_quantity"]
        assert float(line["reorder_point"]) == pytest.approx(row["reorder_point"])
        assert line["reason"] == row["reason"]


def test_out_of_stock_days_are_not_counted_as_zero_demand(
    runtime: Runtime, client: FlaskClient
) -> None:
    """Two variants that sell alike; one was out of stock for the last 20 of 90 days and so
    sold nothing then. Its forecast must still be the demand, not demand diluted by zeros."""
    shop = make_shop(runtime, stock={"SHOE-42": 30, "SHOE-43": 30, "JACKET-M": 0})
    first_seen(runtime, shop.shop_id, 90)
    rng = np.random.default_rng(7)
    series = rng.poisson(5, 90).tolist()
    sold(runtime, shop.shop_id, "SHOE-42", series)
    sold(runtime, shop.shop_id, "SHOE-43", [*series[:70], *([0] * 20)])
    out_of_stock(runtime, shop.shop_id, "SHOE-43", days_ago=20, days=19)
    recompute_shop(runtime, shop.shop_id)
    by_sku = {row["sku"]: row for row in _rows(client, shop)}
    always, stocked_out = by_sku["SHOE-42"], by_sku["SHOE-43"]
    assert stocked_out["forecast"]["censored_days"] >= 19
    assert stocked_out["daily_demand"] == pytest.approx(always["daily_demand"], rel=0.2)
    assert stocked_out["daily_demand"] > 3.5  # zeros counted would pull it toward 5 x 70/90


def test_waiting_backorders_and_pack_sizes_shape_the_order(
    runtime: Runtime, client: FlaskClient, shop: ShopFixture
) -> None:
    from connector.models import Variant

    with runtime.db.transaction() as session:
        jacket = session.get_one(Variant, shop.variants["JACKET-M"])
        jacket.pack_size = 12
    recompute_shop(runtime, shop.shop_id)
    jacket_row = next(r for r in _rows(client, shop) if r["sku"] == "JACKET-M")
    assert jacket_row["suggested_quantity"] % 12 == 0
    # Two a day over lead time and review (21 days), less the 5 on hand: 37, in packs of 12.
    assert jacket_row["suggested_quantity"] == 48


def test_a_token_sees_only_its_own_shop(runtime: Runtime, client: FlaskClient) -> None:
    mine = make_shop(runtime)
    theirs = make_shop(runtime, domain="other-shop.myshopify.com")
    first_seen(runtime, theirs.shop_id, 60)
    sold(runtime, theirs.shop_id, "SHOE-42", [3] * 30)
    recompute_shop(runtime, theirs.shop_id)
    assert _rows(client, mine) == []
    assert (
        client.get(
            "/api/v1/reorder", headers=mine.auth, query_string={"shop_id": theirs.shop_id}
        ).status_code
        == 403
    )
