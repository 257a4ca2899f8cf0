"""Demand forecasts: textbook answers on series whose truth we know, censored days that are not
zero demand, new variants that learn from their group, and a batch that equals its rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from connector.domain.demand import plan_reorders
from connector.domain.forecast import fit_demand, forecast_path

Z95 = norm.ppf(0.95)
DAYS = np.arange(365)


def plan_one(series: np.ndarray, observed: np.ndarray | None = None, **supply: object):
    """Plan a single variant; supply defaults: 10-day lead time, weekly review, nothing on hand."""
    supply = {"lead_time_days": 10, "review_days": 7, "on_hand": 0, **supply}
    seen = np.ones(len(series), dtype=bool) if observed is None else observed
    return plan_reorders(np.asarray(series, dtype=float)[None], seen[None], **supply)


def noisy(mean: float, sigma: float, days: int = 365, seed: int = 7) -> np.ndarray:
    return mean + np.random.default_rng(seed).normal(0.0, sigma, days)


def test_a_steady_seller_is_forecast_at_its_rate_with_no_safety_stock() -> None:
    plan = plan_one(np.full(200, 5.0), lead_time_days=10)
    assert plan.daily_demand[0] == pytest.approx(5.0, rel=0.02)
    assert plan.sigma_daily[0] < 1e-6
    assert plan.safety_stock[0] < 1e-5
    assert plan.reorder_point[0] == pytest.approx(5.0 * 10, rel=0.02)


def test_noise_sets_sigma_and_the_safety_stock_follows_the_textbook_formula() -> None:
    plan = plan_one(noisy(20.0, 3.0), lead_time_days=9)
    # One-step errors of a fitted model carry the noise plus a little estimation error: +-15 %.
    assert plan.sigma_daily[0] == pytest.approx(3.0, rel=0.15)
    assert plan.safety_stock[0] == pytest.approx(Z95 * 3.0 * np.sqrt(9), rel=0.15)


def test_an_uncertain_lead_time_adds_d_squared_sigma_l_squared() -> None:
    plan = plan_one(noisy(20.0, 3.0), lead_time_days=9, lead_time_std_days=2)
    d, sigma = plan.daily_demand[0], plan.sigma_daily[0]
    assert plan.safety_stock[0] == pytest.approx(Z95 * np.sqrt(9 * sigma**2 + d**2 * 2**2))
    assert plan.safety_stock[0] == pytest.approx(
        Z95 * np.sqrt(9 * 3.0**2 + 20.0**2 * 2**2), rel=0.05
    )


def test_a_linear_trend_is_continued_a_little_damped() -> None:
    t = np.arange(200)
    plan = plan_one(10 + 0.5 * t, lead_time_days=14)
    future = 10 + 0.5 * np.arange(200, 214)
    # A damped trend (phi up to 0.98) bends the line down: at most 10 % under, never far over.
    assert 0.90 * future.sum() <= plan.forecast_lead_time[0] <= 1.01 * future.sum()
    assert plan.method[0] == "holt_winters"


def weekends_double(weeks: int, seed: int = 3) -> np.ndarray:
    """Day 0 is a Monday: 10 a day on weekdays, 20 on Saturday and Sunday, a little noise."""
    days = np.arange(7 * weeks)
    base = np.where(days % 7 >= 5, 20.0, 10.0)
    return base + np.random.default_rng(seed).normal(0.0, 1.0, days.size)


def test_eight_weeks_of_busy_weekends_give_a_weekly_pattern() -> None:
    history = weekends_double(weeks=12)
    fit = fit_demand(history[None], np.ones((1, history.size), dtype=bool))
    path = fit.path(14)[0]
    weekday = (history.size + np.arange(14)) % 7  # the weekday of each forecast day
    saturday, tuesday = path[weekday == 5][0], path[weekday == 1][0]
    assert fit.method_names[0] == "holt_winters"
    assert saturday / tuesday == pytest.approx(2.0, rel=0.15)


def test_under_eight_weeks_there_is_no_weekly_pattern() -> None:
    history = weekends_double(weeks=6)
    fit = fit_demand(history[None], np.ones((1, history.size), dtype=bool))
    assert fit.method_names[0] == "holt"
    assert not fit.seasonal.any()


def test_short_history_is_simply_smoothed() -> None:
    assert plan_one(np.full(20, 4.0)).method[0] == "ses"
    assert plan_one(np.full(20, 4.0)).daily_demand[0] == pytest.approx(4.0, rel=0.02)


def test_a_sale_every_fifth_day_is_croston_with_the_sba_correction() -> None:
    every_fifth = np.where(DAYS % 5 == 4, 4.0, 0.0)
    plan = plan_one(every_fifth)
    assert plan.method[0] == "croston"
    # Size 4, interval 5: 0.8 a day, times (1 - 0.1 / 2) for the Syntetos-Boylan correction.
    assert plan.daily_demand[0] == pytest.approx(0.8 * 0.95, rel=1e-9)


def test_random_intermittent_demand_is_forecast_without_crostons_bias() -> None:
    rng = np.random.default_rng(11)
    sales = np.where(rng.random((500, 365)) < 0.2, 4.0, 0.0)  # 4 units on about 1 day in 5
    fit = fit_demand(sales, np.ones(sales.shape, dtype=bool))
    assert set(fit.method_names) == {"croston"}
    # One series' forecast smooths only its last couple of dozen sales, so forecasts scatter
    # around the true 0.8 a day by about a fifth (standard deviation); 500 of them average to
    # within 5 %, and closer to 0.8 than plain Croston (without the 1 - alpha/2) would be.
    assert np.std(fit.level / 0.8) < 0.25
    assert fit.level.mean() == pytest.approx(0.8, rel=0.05)
    assert abs(fit.level.mean() - 0.8) < abs(fit.level.mean() / 0.95 - 0.8)


@pytest.mark.parametrize("first_day", [335, 150], ids=["last 30 days", "mid-history"])
def test_days_out_of_stock_are_not_counted_as_zero_demand(first_day: int) -> None:
    truth = noisy(20.0, 3.0)
    out = (first_day <= DAYS) & (first_day + 30 > DAYS)
    recorded = np.where(out, 0.0, truth)
    uncensored = plan_one(truth).daily_demand[0]
    censored = plan_one(recorded, observed=~out)
    as_zeros = plan_one(recorded, observed=np.ones(365, dtype=bool)).daily_demand[0]
    assert censored.daily_demand[0] == pytest.approx(uncensored, rel=0.05)
    assert censored.censored_days[0] == 30
    # Recent zeros taken for demand drag the forecast down; mid-history ones are mostly smoothed
    # away by the end, so only the recent stock-out shows the difference clearly.
    if first_day == 335:
        assert as_zeros < 0.5 * uncensored


def test_a_new_variant_takes_its_groups_average_and_a_lone_one_zero() -> None:
    demand = np.zeros((4, 200))
    observed = np.ones((4, 200), dtype=bool)
    demand[0], demand[1] = 10.0, 20.0
    observed[2:, :-3] = False  # two variants on sale for three days
    demand[2:, -3:] = 50.0  # a flying start is not yet a forecast
    supply = {"lead_time_days": 10, "review_days": 7, "on_hand": 0}
    plan = plan_reorders(demand, observed, group=[1, 1, 1, 2], **supply)
    assert list(plan.method) == ["holt_winters", "holt_winters", "new", "new"]
    assert plan.daily_demand[2] == pytest.approx(15.0, rel=0.02)
    assert plan.daily_demand[3] == 0.0
    assert plan.suggested_quantity[3] == 0


def test_a_new_variant_borrows_its_groups_variability() -> None:
    demand = np.stack([noisy(20.0, 4.0), np.zeros(365)])
    observed = np.ones(demand.shape, dtype=bool)
    observed[1, :-2] = False
    fit = fit_demand(demand, observed, group=[5, 5])
    assert fit.sigma[1] / fit.level[1] == pytest.approx(fit.sigma[0] / 20.0, rel=0.05)


def mixed_batch() -> tuple[np.ndarray, np.ndarray]:
    """Every kind of established variant, and stock-outs and late starts, in one batch."""
    rng = np.random.default_rng(5)
    rows = [
        np.full(365, 5.0),
        noisy(20.0, 3.0),
        10 + 0.5 * DAYS,
        np.tile(weekends_double(weeks=1), 53)[:365],
        np.where(rng.random(365) < 0.2, 4.0, 0.0),
        rng.poisson(3.0, 365).astype(float),
    ]
    demand = np.stack(rows * 2)
    observed = np.ones(demand.shape, dtype=bool)
    observed[6:, :320] = False  # the second copies start late: 45 days, a trend but no pattern
    observed[[1, 8], 200:230] = False  # stock-outs
    observed[9, :345] = False  # 20 days of history: simple smoothing
    demand[~observed] = 0.0
    return demand, observed


def test_a_batch_gives_each_variant_what_it_gets_alone() -> None:
    demand, observed = mixed_batch()
    supply = {"lead_time_days": np.arange(12) + 3.5, "review_days": 7, "on_hand": 10}
    batch = plan_reorders(demand, observed, **supply)
    assert set(batch.method) == {"croston", "ses", "holt", "holt_winters"}
    for i in range(len(demand)):
        own = {**supply, "lead_time_days": supply["lead_time_days"][i]}
        alone = plan_reorders(demand[i : i + 1], observed[i : i + 1], **own)
        for name in ("daily_demand", "forecast_lead_time", "sigma_daily", "reorder_point"):
            assert getattr(batch, name)[i] == pytest.approx(getattr(alone, name)[0], rel=1e-12)
        assert batch.method[i] == alone.method[0]
        assert batch.suggested_quantity[i] == alone.suggested_quantity[0]


def test_the_chart_path_is_the_plans_forecast() -> None:
    history = weekends_double(weeks=12)
    path = forecast_path(history, None, 21)
    assert path.shape == (21,)
    assert path[:10].sum() == pytest.approx(
        plan_one(history, lead_time_days=10).forecast_lead_time[0]
    )
    assert (path >= 0).all()
    assert plan_one(history).forecast_path(21)[0] == pytest.approx(path, rel=1e-12)


def test_a_falling_seller_is_never_forecast_below_zero() -> None:
    falling = np.maximum(50 - 0.5 * np.arange(120), 0.0)
    fit = fit_demand(falling[None], np.ones((1, 120), dtype=bool))
    assert fit.path(90).min() == 0.0
    assert plan_one(falling, lead_time_days=60).forecast_lead_time[0] >= 0
