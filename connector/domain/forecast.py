"""Daily demand forecasts for a whole catalogue at once, honest about days that could not sell.

A shop's reorder run forecasts every variant from up to two years of daily history, and a large
catalogue has 100,000 of them, so nothing here loops over variants: the recursions step over the
days (a few hundred steps) and each step is a handful of numpy operations across all variants.

Rules, all textbook:
- A day is *observed* when the variant existed and was in stock. An out-of-stock day's zero is not
  zero demand (nobody could buy), so it is censored: the state-space recursion skips its update,
  the level carries forward with the trend and no error is counted (the standard treatment of a
  missing observation in exponential smoothing). Days before a variant's first observed day are
  treated the same way.
- Classification by observed history:
  - fewer than 7 observed days: *new*; the forecast is the mean daily rate of the established
    variants of its group, 0 if there are none;
  - an average inter-demand interval (observed days / days with demand) of at least 1.32, the
    Syntetos-Boylan cut-off: *intermittent*; Croston's method with the Syntetos-Boylan
    approximation, (1 - alpha/2) * z/p with alpha = 0.1;
  - 7 to 27 observed days: simple exponential smoothing;
  - from 28: Holt's linear method with an additive damped trend; from 56 (eight weeks) with an
    additive weekly pattern as well (Holt-Winters).
  Exponential smoothing is in the error-correction form of Hyndman & Athanasopoulos,
  "Forecasting: Principles and Practice", ETS(A,Ad,A); the trend parameter is their
  component-form beta*, so the trend's state update uses alpha * beta*.
- Smoothing parameters come from a small grid, chosen per variant by one-step-ahead squared
  error over observed days. The grid is searched one parameter at a time (alpha over all its
  values, then beta*, phi and gamma, each variant keeping the better value): 8 runs instead of
  the 48 of the full product, which keeps 100,000 variants x 730 days within seconds.
- Initial states come from the first four weeks after a variant's first observed day: a line
  fitted to the observed days (level and trend), weekday means of what the line leaves over
  (weekly pattern, centred on zero).
- sigma is the root mean square of the one-step errors over observed days. A new variant has
  too few to measure: it gets its group's mean coefficient of variation times its forecast.
- Forecasts are never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("new", "croston", "ses", "holt", "holt_winters")
NEW, CROSTON, SES, HOLT, HOLT_WINTERS = range(len(METHODS))

NEW_BELOW_DAYS = 7  # fewer observed days than this: too few to trust, learn from the group
TREND_FROM_DAYS = 28  # four weeks before a trend is worth fitting
WEEKLY_FROM_DAYS = 56  # eight full weeks before a weekday pattern is worth fitting
INTERMITTENT_INTERVAL = 1.32  # Syntetos-Boylan cut-off on the average inter-demand interval
CROSTON_ALPHA = 0.1
WEEK = 7
START_WINDOW = 28  # days from the first observed day that set the initial states
CHUNK = 8192  # variants per pass: a pass's working arrays stay in the processor's cache


@dataclass(frozen=True)
class Grid:
    """Smoothing parameters tried; the first-named values are used while alpha is searched."""

    alphas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
    betas: tuple[float, ...] = (0.05, 0.01, 0.1)
    phis: tuple[float, ...] = (0.98, 0.9)
    gammas: tuple[float, ...] = (0.05, 0.1)


GRID = Grid()


@dataclass(frozen=True)
class DemandFit:
    """Each variant's fitted state at the end of its history: enough to draw any future path.

    Day h after the history's last day is forecast as
    max(0, level + trend * (phi + ... + phi^h) + seasonal[(days + h - 1) mod 7]);
    seasonal columns are calendar slots, slot k holding the days d of the history with d mod 7 = k.
    """

    method: np.ndarray  # codes into METHODS
    level: np.ndarray
    trend: np.ndarray
    damping: np.ndarray
    seasonal: np.ndarray  # (variants, 7)
    sigma: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    observed_days: np.ndarray
    demand_days: np.ndarray
    censored_days: np.ndarray  # out of stock after the first observed day
    peers: np.ndarray  # established variants in the variant's group
    days: int

    @property
    def method_names(self) -> np.ndarray:
        return np.array(METHODS)[self.method]

    def path(self, days: int, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The next `days` daily forecasts, shape (variants, days)."""
        parts = (self.level, self.trend, self.damping, self.seasonal)
        return _path(*(part[rows] for part in parts), self.days, days)

    def total(self, horizon: np.ndarray | float) -> np.ndarray:
        """Forecast demand over each variant's horizon in days; a fractional last day counts
        in proportion (2.5 days is two days and half the third)."""
        horizon = np.broadcast_to(np.maximum(np.asarray(horizon, dtype=float), 0.0), self.shape)
        totals = np.zeros(self.shape)
        for lo in range(0, self.shape[0], CHUNK):
            span = slice(lo, lo + CHUNK)
            whole = np.floor(horizon[span]).astype(np.int64)
            daily = self.path(int(whole.max()) + 1, span)
            sums = np.concatenate([np.zeros((len(whole), 1)), np.cumsum(daily, axis=1)], axis=1)
            at = np.arange(len(whole))
            totals[span] = sums[at, whole] + (horizon[span] - whole) * daily[at, whole]
        return totals

    @property
    def shape(self) -> tuple[int]:
        return self.level.shape


def _path(
    level: np.ndarray,
    trend: np.ndarray,
    damping: np.ndarray,
    seasonal: np.ndarray,
    history_days: int,
    days: int,
) -> np.ndarray:
    h = np.arange(1, days + 1)
    damped = np.cumsum(damping[:, None] ** h, axis=1)
    weekday = seasonal[:, (history_days + h - 1) % WEEK]
    return np.maximum(level[:, None] + trend[:, None] * damped + weekday, 0.0)


def classify(observed_days: np.ndarray, demand_days: np.ndarray) -> np.ndarray:
    """Method code per variant from how much history it has and how often it sells."""
    never = np.full(observed_days.shape, np.inf)
    interval = np.divide(observed_days, demand_days, out=never, where=demand_days > 0)
    method = np.full(observed_days.shape, HOLT_WINTERS, dtype=np.int8)
    method[observed_days < WEEKLY_FROM_DAYS] = HOLT
    method[observed_days < TREND_FROM_DAYS] = SES
    method[interval >= INTERMITTENT_INTERVAL] = CROSTON
    method[observed_days < NEW_BELOW_DAYS] = NEW
    return method


def fit_demand(
    demand: np.ndarray,
    observed: np.ndarray,
    group: np.ndarray | int = 0,
    grid: Grid = GRID,
) -> DemandFit:
    """Fit every variant of a batch: `demand` and `observed` are (variants, days), oldest first.

    New variants learn from the established ones of the same `group` in this batch, so a batch
    should be a whole catalogue.
    """
    demand = np.asarray(demand, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    variants, days = demand.shape
    observed_days = observed.sum(axis=1)
    demand_days = (observed & (demand > 0)).sum(axis=1)
    start = np.where(observed_days > 0, observed.argmax(axis=1), days)
    method = classify(observed_days, demand_days)
    state = {
        name: np.zeros(variants) for name in ("level", "trend", "sigma", "alpha", "beta", "gamma")
    }
    state["damping"] = np.ones(variants)
    state["seasonal"] = np.zeros((variants, WEEK))
    for code in (CROSTON, SES, HOLT, HOLT_WINTERS):
        rows = np.flatnonzero(method == code)
        rows = rows[np.argsort(start[rows], kind="stable")]  # late starters skip early days
        for lo in range(0, rows.size, CHUNK):
            chunk = rows[lo : lo + CHUNK]
            fitted = _fit_chunk(code, demand[chunk], observed[chunk], start[chunk], grid)
            for name, values in fitted.items():
                state[name][chunk] = values
    peers = _learn_from_group(method, state, np.broadcast_to(group, (variants,)), days)
    return DemandFit(
        method=method,
        observed_days=observed_days,
        demand_days=demand_days,
        censored_days=(days - start) - observed_days,
        peers=peers,
        days=days,
        **state,
    )


def forecast_path(demand: np.ndarray, observed: np.ndarray | None, days: int) -> np.ndarray:
    """One variant's next `days` daily forecasts from its own history (for a chart); one with
    under a week of history has none of its own: `ReorderPlan.forecast_path` has its group's."""
    demand = np.asarray(demand, dtype=float)[None, :]
    seen = np.ones(demand.shape, dtype=bool) if observed is None else np.asarray(observed)[None]
    return fit_demand(demand, seen).path(days)[0]


def _fit_chunk(
    code: int, demand: np.ndarray, observed: np.ndarray, start: np.ndarray, grid: Grid
) -> dict[str, np.ndarray]:
    """One method over up to CHUNK variants; day-major copies make each day's column contiguous."""
    y = np.ascontiguousarray(demand.T)
    m = np.ascontiguousarray(observed.T, dtype=float)
    if code == CROSTON:
        return _croston(y, m, int(start.min()))
    trend, weekly = code in (HOLT, HOLT_WINTERS), code == HOLT_WINTERS
    level, slope, seasonal = _initial_states(demand, observed, start, trend, weekly)
    fitted = _search(y, m, start, level, slope, seasonal, trend, weekly, grid)
    fitted["sigma"] = np.sqrt(fitted.pop("sse") / observed.sum(axis=1))
    return fitted


def _line(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares line through each row at x = 0, 1, ...: (intercept, slope)."""
    x = np.arange(y.shape[1], dtype=float)
    n, sx, sy = w.sum(axis=1), (w * x).sum(axis=1), (w * y).sum(axis=1)
    sxx, sxy = (w * x * x).sum(axis=1), (w * x * y).sum(axis=1)
    spread = n * sxx - sx * sx
    slope = np.divide(n * sxy - sx * sy, spread, out=np.zeros(n.shape), where=spread > 1e-9)
    intercept = np.divide(sy - slope * sx, n, out=np.zeros(n.shape), where=n > 0)
    return intercept, slope


def _initial_states(
    demand: np.ndarray, observed: np.ndarray, start: np.ndarray, trend: bool, weekly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(level, trend, seasonal by calendar slot) just before each variant's first observed day."""
    days = demand.shape[1]
    at = start[:, None] + np.arange(START_WINDOW)
    inside = at < days
    at = np.minimum(at, days - 1)
    y = np.take_along_axis(demand, at, axis=1)
    w = (np.take_along_axis(observed, at, axis=1) & inside).astype(float)
    seasonal = np.zeros((len(start), WEEK))
    if weekly:
        intercept, slope = _line(y, w)
        left = y - intercept[:, None] - slope[:, None] * np.arange(START_WINDOW)
        slot = at % WEEK
        for k in range(WEEK):
            wk = w * (slot == k)
            count = wk.sum(axis=1)
            total = (wk * left).sum(axis=1)
            seasonal[:, k] = np.divide(total, count, out=np.zeros(len(start)), where=count > 0)
        seasonal -= seasonal.mean(axis=1, keepdims=True)
        y = y - np.take_along_axis(seasonal, slot, axis=1)
    if not trend:
        level = np.divide((w * y).sum(axis=1), w.sum(axis=1))
        return level, np.zeros(len(start)), seasonal
    intercept, slope = _line(y, w)
    return intercept - slope, slope, seasonal


def _search(
    y: np.ndarray,
    m: np.ndarray,
    start: np.ndarray,
    level: np.ndarray,
    slope: np.ndarray,
    seasonal: np.ndarray,
    trend: bool,
    weekly: bool,
    grid: Grid,
) -> dict[str, np.ndarray]:
    """Coordinate search of the grid: each stage runs its values side by side (axis 0) and every
    variant keeps whichever run, so far, had the smallest one-step squared error."""
    size = y.shape[1]
    best = {
        "alpha": np.full(size, grid.alphas[0]),
        "beta": np.full(size, grid.betas[0] if trend else 0.0),
        "damping": np.full(size, grid.phis[0] if trend else 1.0),
        "gamma": np.full(size, grid.gammas[0] if weekly else 0.0),
        "sse": np.full(size, np.inf),
        "level": np.zeros(size),
        "trend": np.zeros(size),
        "seasonal": np.zeros((size, WEEK)),
    }
    stages = [("alpha", grid.alphas)]
    stages += [("beta", grid.betas[1:]), ("damping", grid.phis[1:])] if trend else []
    stages += [("gamma", grid.gammas[1:])] if weekly else []
    resets = _resets(start) if trend else {}
    cols = np.arange(size)
    for name, values in stages:
        if not values:
            continue
        params = {key: best[key][None, :] for key in ("alpha", "beta", "damping", "gamma")}
        params[name] = np.array(values)[:, None]
        runs = _smooth(y, m, int(start.min()), resets, level, slope, seasonal, **params)
        pick = runs["sse"].argmin(axis=0)
        better = runs["sse"][pick, cols] < best["sse"]
        for key, value in params.items():
            chosen = np.broadcast_to(value, runs["sse"].shape)[pick, cols]
            best[key] = np.where(better, chosen, best[key])
        for key in ("sse", "level", "trend"):
            best[key] = np.where(better, runs[key][pick, cols], best[key])
        chosen = runs["seasonal"][:, pick, cols].T
        best["seasonal"] = np.where(better[:, None], chosen, best["seasonal"])
    return best


def _resets(start: np.ndarray) -> dict[int, np.ndarray]:
    """Variants by their first observed day: that is when their fitted trend takes effect."""
    days, first = np.unique(start, return_index=True)
    order = np.argsort(start, kind="stable")
    bounds = [*first.tolist(), len(start)]
    return {int(d): order[bounds[i] : bounds[i + 1]] for i, d in enumerate(days)}


def _smooth(
    y: np.ndarray,
    m: np.ndarray,
    first_day: int,
    resets: dict[int, np.ndarray],
    level0: np.ndarray,
    slope0: np.ndarray,
    seasonal0: np.ndarray,
    *,
    alpha: np.ndarray,
    beta: np.ndarray,
    damping: np.ndarray,
    gamma: np.ndarray,
) -> dict[str, np.ndarray]:
    """ETS(A,Ad,A) in error-correction form over days (SES and Holt are its special cases: zero
    trend and seasonal parameters), for several parameter sets at once; a censored day (m = 0)
    has a zero error, which is exactly the skipped update."""
    shape = np.broadcast_shapes(alpha.shape, beta.shape, damping.shape, gamma.shape, level0.shape)
    level = np.broadcast_to(level0, shape).copy()
    slope = np.zeros(shape)  # each variant's fitted trend starts on its first observed day
    seasonal = np.broadcast_to(seasonal0.T[:, None, :], (WEEK, *shape)).copy()
    sse, error, grown, base, step = (np.zeros(shape) for _ in range(5))
    trend_gain = alpha * beta
    trended, weekly = bool(np.any(beta)), bool(np.any(gamma))
    if not trended:
        base = level  # no trend: the level is its own forecast
    for day in range(first_day, y.shape[0]):
        if day in resets:
            slope[:, resets[day]] = slope0[resets[day]]
        if trended:
            np.multiply(slope, damping, out=grown)
            np.add(level, grown, out=base)
        season = seasonal[day % WEEK]
        if weekly:
            np.add(base, season, out=error)
            np.subtract(y[day], error, out=error)
        else:
            np.subtract(y[day], base, out=error)
        error *= m[day]
        np.multiply(error, error, out=step)
        sse += step
        np.multiply(error, alpha, out=step)
        np.add(base, step, out=level)
        if trended:
            np.multiply(error, trend_gain, out=step)
            np.add(grown, step, out=slope)
        if weekly:
            np.multiply(error, gamma, out=step)
            season += step
    return {"sse": sse, "level": level, "trend": slope, "seasonal": seasonal}


def _croston(y: np.ndarray, m: np.ndarray, first_day: int) -> dict[str, np.ndarray]:
    """Croston's method with the Syntetos-Boylan correction over days: demand size and interval
    (in observed days) are smoothed on the days with demand. They start from the history's mean
    size and mean interval, and the first demand only starts the interval clock: the time before
    it says when the history began, not how often the variant sells."""
    sold_days = (m * (y > 0)).sum(axis=0)
    amount = np.divide(
        (m * y).sum(axis=0), sold_days, out=np.zeros(y.shape[1]), where=sold_days > 0
    )
    interval = np.divide(m.sum(axis=0), sold_days, out=np.ones(y.shape[1]), where=sold_days > 0)
    since, started, sse = (np.zeros(y.shape[1]) for _ in range(3))
    correction = 1 - CROSTON_ALPHA / 2
    for day in range(first_day, y.shape[0]):
        seen, sold = m[day], y[day]
        since += seen
        sse += seen * (sold - correction * amount / interval) ** 2
        hit = seen * (sold > 0)
        gain = hit * started * CROSTON_ALPHA
        amount += gain * (sold - amount)
        interval += gain * (since - interval)
        since *= 1 - hit
        np.maximum(started, hit, out=started)
    sigma = np.sqrt(sse / np.maximum(m.sum(axis=0), 1.0))
    return {"level": correction * amount / interval, "sigma": sigma}


def _learn_from_group(
    method: np.ndarray, state: dict[str, np.ndarray], group: np.ndarray, days: int
) -> np.ndarray:
    """New variants take their group's mean daily rate (the established variants' forecasts
    averaged over a week) and its mean coefficient of variation; returns peers per variant."""
    _, code = np.unique(group, return_inverse=True)
    established = method != NEW
    parts = (state[k] for k in ("level", "trend", "damping", "seasonal"))
    rate = _path(*parts, days, WEEK).mean(axis=1)
    groups = code.max() + 1 if code.size else 0
    peers = np.bincount(code[established], minlength=groups)
    rates = np.bincount(code[established], weights=rate[established], minlength=groups)
    selling = established & (rate > 0)
    cv = state["sigma"][selling] / rate[selling]
    spread = np.bincount(code[selling], weights=cv, minlength=groups)
    sellers = np.bincount(code[selling], minlength=groups)
    mean_rate = np.divide(rates, peers, out=np.zeros(groups), where=peers > 0)
    mean_cv = np.divide(spread, sellers, out=np.zeros(groups), where=sellers > 0)
    new = ~established
    state["level"][new] = mean_rate[code[new]]
    state["sigma"][new] = mean_cv[code[new]] * state["level"][new]
    return peers[code]
