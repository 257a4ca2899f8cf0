"""Stock on its way: purchase orders, transfers, the platform's incoming quantities."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, ShopOwned, Timestamps

INCOMING_SOURCES = ("platform", "manual", "csv")


class IncomingStock(ShopOwned, Timestamps, Base):
    __tablename__ = "incoming_stock"
    __table_args__ = (Index("ix_incoming_stock_supply", "variant_id", "expected_on"),)

    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    expected_on: Mapped[date]
    reference: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")
    received_at: Mapped[datetime | None]
    received_quantity: Mapped[int | None]
    # Who ships it and when it was ordered: a receipt against these teaches the lead times
    # (connector/services/lead_times.py). Empty supplier: the product's vendor.
    supplier: Mapped[str] = mapped_column(String(255), default="")
    ordered_on: Mapped[date | None]
