"""What demand planning keeps: when a variant was out of stock, how long suppliers take, and
each variant's latest reorder point."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, ShopOwned, Timestamps


class StockOut(ShopOwned, Base):
    """A stretch of time a variant had nothing to sell. Its days are censored in the demand
    history: a zero there says the shelf was empty, not that nobody wanted it."""

    __tablename__ = "stock_outs"
    __table_args__ = (Index("ix_stock_outs_variant", "variant_id", "started_at"),)

    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class LeadTimeStat(ShopOwned, Timestamps, Base):
    """Receipts against their order and expected dates, summed up per variant and per supplier
    (Welford's running mean and sum of squares, so one receipt is one row update)."""

    __tablename__ = "lead_time_stats"
    __table_args__ = (UniqueConstraint("shop_id", "scope"),)

    # "variant:<id>" or "supplier:<name>" (the incoming stock's supplier, else the vendor).
    scope: Mapped[str] = mapped_column(String(300))
    receipts: Mapped[int] = mapped_column(default=0)
    mean_days: Mapped[float] = mapped_column(default=0.0)
    m2_days: Mapped[float] = mapped_column(default=0.0)
    mean_delay_days: Mapped[float] = mapped_column(default=0.0)
    m2_delay_days: Mapped[float] = mapped_column(default=0.0)


class ReorderPoint(ShopOwned, Base):
    """A variant's latest forecast, reorder point and suggested order, as the last run left it."""

    __tablename__ = "reorder_points"
    __table_args__ = (
        UniqueConstraint("variant_id"),
        Index("ix_reorder_points_risk", "shop_id", "revenue_at_risk"),
    )

    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    computed_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    daily_demand: Mapped[float]
    forecast_lead_time: Mapped[float]
    safety_stock: Mapped[float]
    reorder_point: Mapped[float]
    suggested_quantity: Mapped[int]
    on_hand: Mapped[int]
    incoming: Mapped[int]
    waiting: Mapped[int]
    lead_time_days: Mapped[float]
    # Where the lead time came from: "variant" (the merchant's), "learned", "supplier", "shop".
    lead_time_source: Mapped[str] = mapped_column(String(16))
    # What the units short of the reorder point would sell for: the list's order.
    revenue_at_risk: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    at_or_below: Mapped[bool]
    # When it last went at or below its reorder point (the alert's moment); None while above.
    reached_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    # The rest of the forecast: the next days' path, sigma, service level, history and
    # censored day counts; see connector/services/reorder.py.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
