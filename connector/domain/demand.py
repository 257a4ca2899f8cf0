"""Reorder planning: how much stock to hold, when to reorder, how many units to order, and why.

The forecast (`forecast.fit_demand`) says how much each variant is expected to sell; this turns it
into the numbers a merchant acts on, with the standard safety-stock formula for uncertain demand
and lead time:

- safety stock = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2), z the normal quantile of the service
  level (never below 0), L and sigma_L the lead time's mean and standard deviation in days, d the
  mean daily forecast over the lead time plus review period and sigma_d the daily forecast error;
- reorder point = forecast demand over the lead time + safety stock;
- inventory position = on hand + incoming - waiting backorders; at or below the reorder point,
  it is time to order;
- suggested quantity = what lifts the position to the forecast over lead time + review period
  plus the safety stock (the order-up-to level of a periodic review), in whole units, at least
  the minimum order quantity and rounded up to whole packs; 0 when nothing is needed.

Everything is arrays over variants, so a whole catalogue is planned in one call; `reason` says
in the merchant's words which numbers decided one variant's suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.stats import norm

from connector.domain.forecast import (
    CROSTON,
    HOLT_WINTERS,
    METHODS,
    NEW,
    SES,
    DemandFit,
    fit_demand,
)

ArrayLike = np.ndarray | float | int
NEEDLESS = 1e-9  # a need this small is rounding, not a unit to order
TREND_DAYS = 28  # a trend is described by how far it moves the daily forecast in four weeks
RISING = 0.1  # by a tenth: worth saying
WEEKLY = 0.2  # weekdays differ by a fifth of the daily forecast: a weekly pattern worth saying


@dataclass(frozen=True)
class ReorderPlan:
    """The plan for every variant of a batch, one array entry per variant."""

    method: np.ndarray  # "new", "croston", "ses", "holt", "holt_winters"
    daily_demand: np.ndarray  # mean daily forecast over lead time + review period
    forecast_lead_time: np.ndarray
    sigma_daily: np.ndarray
    safety_stock: np.ndarray
    reorder_point: np.ndarray
    inventory_position: np.ndarray
    order_up_to: np.ndarray
    suggested_quantity: np.ndarray  # whole units
    at_or_below: np.ndarray
    # what the reasons quote
    lead_time_days: np.ndarray
    review_days: np.ndarray
    on_hand: np.ndarray
    incoming: np.ndarray
    waiting: np.ndarray
    pack_size: np.ndarray
    min_order_quantity: np.ndarray
    observed_days: np.ndarray
    demand_days: np.ndarray
    censored_days: np.ndarray
    peers: np.ndarray
    trend_change: np.ndarray  # how far the trend moves the daily forecast in four weeks
    weekly_range: np.ndarray  # busiest weekday's forecast minus the quietest's
    fit: DemandFit = field(repr=False)

    def __len__(self) -> int:
        return len(self.method)

    def line(self, i: int) -> ReorderLine:
        """One variant's plan as plain numbers."""
        return ReorderLine(**{name: column[i] for name, column in self._columns.items()})

    @cached_property
    def _columns(self) -> dict[str, list]:
        """The line fields as Python lists, converted once: a service reads every line."""
        return {name: getattr(self, name).tolist() for name in ReorderLine.__annotations__}

    def forecast_path(self, days: int) -> np.ndarray:
        """Every variant's next `days` daily forecasts, (variants, days): what a chart draws."""
        return self.fit.path(days)


@dataclass(frozen=True)
class ReorderLine:
    """One variant's plan; `reason(line)` puts it in words."""

    method: str
    daily_demand: float
    forecast_lead_time: float
    sigma_daily: float
    safety_stock: float
    reorder_point: float
    inventory_position: float
    order_up_to: float
    suggested_quantity: int
    at_or_below: bool
    lead_time_days: float
    review_days: float
    on_hand: float
    incoming: float
    waiting: float
    pack_size: int
    min_order_quantity: int
    observed_days: int
    demand_days: int
    censored_days: int
    peers: int
    trend_change: float
    weekly_range: float


def plan_reorders(
    demand: np.ndarray,
    observed: np.ndarray,
    *,
    lead_time_days: ArrayLike,
    review_days: ArrayLike,
    on_hand: ArrayLike,
    incoming: ArrayLike = 0,
    waiting: ArrayLike = 0,
    lead_time_std_days: ArrayLike = 0,
    pack_size: ArrayLike = 0,
    min_order_quantity: ArrayLike = 0,
    group: ArrayLike = 0,
    service_level: ArrayLike = 0.95,
) -> ReorderPlan:
    """Forecast and plan a batch: `demand` and `observed` are (variants, days), oldest day first,
    yesterday last; every other argument is one value per variant or one for all."""
    demand = np.asarray(demand, dtype=float)
    shape = (demand.shape[0],)

    def each(value: ArrayLike, kind: type = float) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=kind), shape)

    lead, review = np.maximum(each(lead_time_days), 0.0), np.maximum(each(review_days), 0.0)
    fit = fit_demand(demand, observed, each(group, np.int64))
    horizon = lead + review
    over_horizon = fit.total(horizon)
    daily = np.divide(over_horizon, horizon, out=fit.path(1)[:, 0], where=horizon > 0)
    lead_demand = fit.total(lead)
    safety = safety_stock(daily, fit.sigma, lead, each(lead_time_std_days), each(service_level))
    position = each(on_hand) + each(incoming) - each(waiting)
    order_up_to = over_horizon + safety
    pack, minimum = each(pack_size, np.int64), each(min_order_quantity, np.int64)
    month = np.cumsum(fit.damping[:, None] ** np.arange(1, TREND_DAYS + 1), axis=1)[:, -1]
    return ReorderPlan(
        method=fit.method_names,
        daily_demand=daily,
        forecast_lead_time=lead_demand,
        sigma_daily=fit.sigma,
        safety_stock=safety,
        reorder_point=lead_demand + safety,
        inventory_position=position,
        order_up_to=order_up_to,
        suggested_quantity=order_quantity(order_up_to - position, pack, minimum),
        at_or_below=position <= lead_demand + safety,
        lead_time_days=lead,
        review_days=review,
        on_hand=each(on_hand),
        incoming=each(incoming),
        waiting=each(waiting),
        pack_size=pack,
        min_order_quantity=minimum,
        observed_days=fit.observed_days,
        demand_days=fit.demand_days,
        censored_days=fit.censored_days,
        peers=fit.peers,
        trend_change=fit.trend * month,
        weekly_range=fit.seasonal.max(axis=1) - fit.seasonal.min(axis=1),
        fit=fit,
    )


def safety_stock(
    daily_demand: ArrayLike,
    sigma_daily: ArrayLike,
    lead_time_days: ArrayLike,
    lead_time_std_days: ArrayLike = 0.0,
    service_level: ArrayLike = 0.95,
) -> np.ndarray:
    """z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2): demand and lead time both uncertain."""
    z = np.maximum(norm.ppf(service_level), 0.0)
    d, sigma = np.asarray(daily_demand, dtype=float), np.asarray(sigma_daily, dtype=float)
    lead, spread = np.asarray(lead_time_days, dtype=float), np.asarray(lead_time_std_days)
    return z * np.sqrt(lead * sigma**2 + d**2 * spread**2)


def order_quantity(
    need: ArrayLike, pack_size: ArrayLike = 0, min_order_quantity: ArrayLike = 0
) -> np.ndarray:
    """Whole units to order for a need: 0 when nothing is needed, else at least the minimum
    order and rounded up to whole packs (a pack size of 0 or 1 is single units)."""
    units = np.ceil(np.maximum(np.asarray(need, dtype=float) - NEEDLESS, 0.0)).astype(np.int64)
    units = np.where(units > 0, np.maximum(units, min_order_quantity), 0)
    pack = np.maximum(np.asarray(pack_size, dtype=np.int64), 1)
    return -(-units // pack) * pack


def baseline_lead_time_demand(
    demand: np.ndarray, lead_time_days: ArrayLike, window: int = 30
) -> np.ndarray:
    """The rule of thumb forecasts are measured against: the last `window` days' average daily
    sales, zeros included, times the lead time; no safety stock."""
    demand = np.asarray(demand, dtype=float)
    recent = demand[:, -window:]
    return recent.sum(axis=1) / max(recent.shape[1], 1) * np.asarray(lead_time_days, dtype=float)


def reason(line: ReorderLine) -> str:
    """Why this suggestion, with the numbers that decided it, in the merchant's words."""
    # Whole units as shown must add up: the safety stock shown is the rest of the reorder point.
    lead, point = round(line.forecast_lead_time), round(line.reorder_point)
    words = (
        f"{_forecast_words(line)}, {lead} over the {line.lead_time_days:g}-day lead time"
        f" + {point - lead} safety stock = reorder point {point};"
        f" {_position_words(line)}, {_decision_words(line)}."
    )
    if line.censored_days and line.method != METHODS[NEW]:
        words += f" {_count(line.censored_days)} out of stock not counted as zero demand."
    return words


def _forecast_words(line: ReorderLine) -> str:
    rate = f"{_rate(line.daily_demand)} a day"
    method = METHODS.index(line.method)
    if method == NEW:
        if not line.peers:
            return f"New variant, none established in its group to learn from: forecast {rate}"
        return (
            f"New variant ({_count(line.observed_days)} on sale): forecast {rate},"
            f" the average of {_count(line.peers, 'established variant')} in its group"
        )
    if method == CROSTON:
        if not line.demand_days:
            return f"No sales in {_count(line.observed_days)} in stock: forecast {rate}"
        every = line.observed_days / line.demand_days
        return f"Sells now and then (about 1 day in {every:.0f}): forecast {rate}"
    if method == SES:
        return f"Short history ({_count(line.observed_days)}): forecast {rate}"
    notes = []
    if abs(line.trend_change) >= RISING * line.daily_demand > 0:
        notes.append("trend up" if line.trend_change > 0 else "trend down")
    # A weekday spread within the day-to-day noise is the noise, not a pattern to mention.
    visible = max(WEEKLY * line.daily_demand, line.sigma_daily)
    if method == HOLT_WINTERS and line.weekly_range >= visible > 0:
        notes.append("weekly pattern")
    return f"Forecast {rate}" + (f" ({', '.join(notes)})" if notes else "")


def _position_words(line: ReorderLine) -> str:
    terms = [f"{line.on_hand:.0f} on hand"]
    if line.incoming:
        terms.append(f"+ {line.incoming:.0f} incoming")
    if line.waiting:
        terms.append(f"- {line.waiting:.0f} waiting")
    if len(terms) == 1:
        return terms[0]
    return f"{' '.join(terms)} = {line.inventory_position:.0f}"


def _decision_words(line: ReorderLine) -> str:
    if not line.at_or_below:
        return "above it: no order needed yet"
    where = "at it" if line.inventory_position == line.reorder_point else "below it"
    if not line.suggested_quantity:
        return f"{where}, but nothing is expected to sell: no order"
    terms = []
    if line.min_order_quantity > 1 and line.suggested_quantity <= line.min_order_quantity:
        terms.append(f"minimum order {line.min_order_quantity}")
    if line.pack_size > 1:
        terms.append(f"pack of {line.pack_size}")
    extra = f" ({', '.join(terms)})" if terms else ""
    return f"{where}: order {line.suggested_quantity}{extra}"


def _rate(value: float) -> str:
    if value >= 10 or value == 0:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _count(n: int, noun: str = "day") -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
