"""Reorder suggestions: whole units in the supplier's packs and minimums, waiting customers
counted unit for unit, the textbook safety stock, the rule of thumb, and reasons that show the
numbers that decided them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from connector.domain.demand import (
    baseline_lead_time_demand,
    order_quantity,
    plan_reorders,
    reason,
    safety_stock,
)


def plan_one(series: np.ndarray, observed: np.ndarray | None = None, **supply: object):
    supply = {"lead_time_days": 10, "review_days": 7, "on_hand": 0, **supply}
    seen = np.ones(len(series), dtype=bool) if observed is None else observed
    return plan_reorders(np.asarray(series, dtype=float)[None], seen[None], **supply)


@pytest.mark.parametrize(
    ("need", "pack", "minimum", "expected"),
    [
        (37, 12, 0, 48),  # rounded up to whole packs
        (36.2, 12, 0, 48),  # a part of a unit is a unit
        (24, 12, 0, 24),  # already whole packs
        (37, 0, 0, 37),  # no pack size: single units
        (37, 1, 0, 37),
        (3, 0, 10, 10),  # the supplier's minimum
        (3, 12, 10, 12),  # the minimum, then whole packs
        (0, 12, 10, 0),  # nothing needed: nothing ordered, whatever the minimum
        (-5, 0, 10, 0),
    ],
)
def test_order_quantity_is_whole_packs_at_least_the_minimum(need, pack, minimum, expected) -> None:
    assert int(order_quantity(need, pack, minimum)) == expected


def test_order_quantities_for_many_variants_at_once() -> None:
    got = order_quantity(np.array([37, 3, -1]), np.array([12, 0, 12]), np.array([0, 10, 10]))
    assert got.tolist() == [48, 10, 0]


def test_a_steady_seller_is_topped_up_to_lead_time_plus_review_demand() -> None:
    # 5 a day, 10-day lead time, weekly review: order up to 85; 20 on hand + 10 incoming = 30.
    plan = plan_one(np.full(200, 5.0), on_hand=20, incoming=10)
    assert plan.reorder_point[0] == pytest.approx(50.0)
    assert plan.at_or_below[0]
    assert plan.suggested_quantity[0] == 55
    assert not plan_one(np.full(200, 5.0), on_hand=51).at_or_below[0]


def test_waiting_backorders_increase_the_order_unit_for_unit() -> None:
    series = 20 + np.random.default_rng(2).normal(0, 3, 365)
    without = plan_one(series, on_hand=40)
    waiting = plan_one(series, on_hand=40, waiting=7)
    assert waiting.suggested_quantity[0] - without.suggested_quantity[0] == 7
    assert waiting.inventory_position[0] == without.inventory_position[0] - 7


def test_safety_stock_is_the_textbook_formula() -> None:
    # d = 20 a day, sigma_d = 3, L = 9 days, sigma_L = 2 days, 95 %: z * sqrt(81 + 1600) = z * 41.
    assert safety_stock(20, 3, 9, 2, 0.95) == pytest.approx(norm.ppf(0.95) * 41)
    assert safety_stock(20, 3, 9) == pytest.approx(1.6449 * 9, rel=1e-4)
    assert safety_stock(20, 3, 9, 0, 0.99) > safety_stock(20, 3, 9, 0, 0.95)


def test_the_baseline_is_thirty_days_average_times_the_lead_time() -> None:
    demand = np.zeros((2, 90))
    demand[0, :60] = 100.0  # older sales do not count
    demand[0, -30:] = np.tile([0.0, 6.0, 3.0], 10)  # 90 in the last 30 days, zeros included
    demand[1, -30:] = 1.0
    assert baseline_lead_time_demand(demand, np.array([10, 7])).tolist() == [30.0, 7.0]


def test_the_reason_shows_the_numbers_that_decided_it() -> None:
    stock = {"on_hand": 20, "incoming": 10, "waiting": 4, "pack_size": 12}
    plan = plan_one(np.full(200, 3.2), lead_time_days=14, **stock)
    words = reason(plan.line(0))
    assert words == (
        "Forecast 3.2 a day, 45 over the 14-day lead time + 0 safety stock = reorder point 45;"
        " 20 on hand + 10 incoming - 4 waiting = 26, below it: order 48 (pack of 12)."
    )


def test_the_reason_owns_up_to_stock_outs_and_says_when_not_to_order() -> None:
    series = 20 + np.random.default_rng(4).normal(0, 3, 365)
    out = np.arange(365) >= 353
    line = plan_one(np.where(out, 0, series), observed=~out, on_hand=1000).line(0)
    words = reason(line)
    assert "12 days out of stock not counted as zero demand" in words
    assert "1000 on hand, above it: no order needed yet" in words
    assert f"reorder point {round(line.reorder_point)}" in words


def test_the_reason_is_honest_about_new_and_occasional_sellers() -> None:
    demand = np.zeros((3, 100))
    observed = np.ones((3, 100), dtype=bool)
    demand[0] = 6.0
    demand[1, ::5] = 4.0
    observed[2, :-2] = False
    plan = plan_reorders(demand, observed, lead_time_days=5, review_days=7, on_hand=0, group=1)
    assert reason(plan.line(1)).startswith("Sells now and then (about 1 day in 5): forecast 0.76")
    assert reason(plan.line(2)).startswith(
        "New variant (2 days on sale): forecast 3.4 a day, the average of 2 established variants"
    )
    alone = plan_reorders(demand[2:], observed[2:], lead_time_days=5, review_days=7, on_hand=0)
    assert reason(alone.line(0)).startswith("New variant, none established in its group")
    assert alone.suggested_quantity[0] == 0


def test_weekly_pattern_and_trend_are_named() -> None:
    days = np.arange(100)
    weekly = np.where(days % 7 >= 5, 20.0, 10.0)
    assert "(weekly pattern)" in reason(plan_one(weekly).line(0))
    assert "(trend up)" in reason(plan_one(10 + 0.5 * days).line(0))
    assert "(trend down)" in reason(plan_one(100 - 0.5 * days).line(0))
