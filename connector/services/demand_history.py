"""A shop's daily demand per variant, as the forecast reads it: units asked for each day, and
which days say nothing about demand (censored).

Counted: every unit ordered on a line of an order that stands, and every unit of a backordered
line even where the customer later cancelled (they wanted it; the stock-out lost it). Not
counted: cancelled orders and lines an edit removed, unless they were backordered.

Censored: a day the variant was out of stock at some point (connector/services/stock_outs.py)
and no unit of it was backordered, since then no one could order it; and every day before the
variant's history starts (its first sale, or the day we first saw it if that is earlier).

Days are the shop's calendar days: exact on PostgreSQL (AT TIME ZONE); on SQLite the zone's
offset of today is applied to the whole window, which can move an order placed within an hour
of midnight across a daylight-saving change to the neighbouring day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from connector.clock import shop_zone
from connector.models import Backorder, Order, OrderLine, Shop, StockOut

HISTORY_DAYS = 730  # two years: enough for a trend and a weekly pattern, and for a backtest
_CHUNK = 2000


@dataclass(frozen=True)
class DemandHistory:
    """Rows follow `variant_ids`; column 0 is `start`, the last column is yesterday."""

    variant_ids: list[int]
    start: date
    demand: np.ndarray  # float64 [variant, day]: units asked for
    observed: np.ndarray  # bool [variant, day]: False where the day is censored
    stocked_out_days: np.ndarray  # int [variant]: censored days inside the variant's history

    @property
    def days(self) -> int:
        return int(self.demand.shape[1])


def _local_day(session: Session, shop: Shop, column: Any, today: date) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(shop.timezone or "UTC", column))
    zone = shop_zone(shop.timezone)
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=zone)
    offset = noon.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def load_history(
    session: Session,
    shop: Shop,
    variants: Sequence[tuple[int, datetime]],
    today: date,
    days: int = HISTORY_DAYS,
) -> DemandHistory:
    """`variants`: (id, first seen) of the variants to forecast; `today` in the shop's zone."""
    ids = [variant_id for variant_id, _ in variants]
    row_of = {variant_id: row for row, variant_id in enumerate(ids)}
    start = today - timedelta(days=days)
    demand = np.zeros((len(ids), days))
    backordered = np.zeros((len(ids), days), dtype=bool)
    out = np.zeros((len(ids), days), dtype=bool)
    zone = shop_zone(shop.timezone)
    since = datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(UTC)
    until = datetime(today.year, today.month, today.day, tzinfo=zone).astimezone(UTC)

    day = _local_day(session, shop, Order.placed_at, today)
    counted = or_(
        Backorder.id.is_not(None),
        and_(Order.cancelled_at.is_(None), OrderLine.removed_at.is_(None)),
    )
    for chunk_start in range(0, len(ids), _CHUNK):
        chunk = ids[chunk_start : chunk_start + _CHUNK]
        rows = session.execute(
            select(
                OrderLine.variant_id,
                day.label("day"),
                func.sum(OrderLine.quantity),
                func.count(Backorder.id),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
            .where(
                OrderLine.variant_id.in_(chunk),
                Order.placed_at >= since,
                Order.placed_at < until,
                counted,
            )
            .group_by(OrderLine.variant_id, day)
        )
        for variant_id, on, units, short in rows:
            column = (_as_date(on) - start).days
            if 0 <= column < days:
                demand[row_of[variant_id], column] += units
                backordered[row_of[variant_id], column] |= short > 0
        for variant_id, began, ended in session.execute(
            select(StockOut.variant_id, StockOut.started_at, StockOut.ended_at).where(
                StockOut.variant_id.in_(chunk),
                or_(StockOut.ended_at.is_(None), StockOut.ended_at >= since),
            )
        ):
            first = max(0, (began.astimezone(zone).date() - start).days)
            last_day = (ended or until).astimezone(zone).date()
            last = min(days - 1, (last_day - start).days)
            if first <= last:
                out[row_of[variant_id], first : last + 1] = True

    observed = ~out | backordered
    sold = demand > 0
    first_sale = np.where(sold.any(axis=1), sold.argmax(axis=1), days)
    seen = np.array(
        [(seen_at.astimezone(zone).date() - start).days for _, seen_at in variants], dtype=int
    ).reshape(-1)
    begins = np.clip(np.minimum(first_sale, seen), 0, days)
    before = np.arange(days)[None, :] < begins[:, None]
    observed &= ~before
    censored = (~observed & ~before).sum(axis=1)
    return DemandHistory(ids, start, demand, observed, censored)
