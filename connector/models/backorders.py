"""Backorders: the short part of an order line, its place in the queue and its promise."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.models.base import Base, Id, ShopOwned, Timestamps
from connector.models.orders import OrderLine

BACKORDER_STATUSES = ("waiting", "allocated", "ready", "fulfilled", "cancelled")
# Lines still waiting for stock: the ones with a place in the queue.
QUEUED_STATUSES = ("waiting", "allocated")


class Backorder(ShopOwned, Timestamps, Base):
    __tablename__ = "backorders"
    __table_args__ = (
        # The queue per variant: priority tier (higher first), then order time, then order id.
        Index(
            "ix_backorders_queue",
            "variant_id",
            "status",
            "priority",
            "placed_at",
            "order_sort_key",
        ),
        Index("ix_backorders_shop_status", "shop_id", "status"),
    )

    order_line_id: Mapped[int] = mapped_column(
        Id, ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True
    )
    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    quantity: Mapped[int]  # the short quantity
    allocated_quantity: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    priority: Mapped[int] = mapped_column(default=0)
    # Copies of the order's time and id so the queue is one index scan, no join.
    placed_at: Mapped[datetime]
    # The platform order id, zero-padded so that text order is numeric order.
    order_sort_key: Mapped[str] = mapped_column(String(64))
    eta: Mapped[date | None]
    eta_source: Mapped[str | None] = mapped_column(String(128))
    manual_eta: Mapped[date | None]
    # The first date promised: "shipped on time" is measured against it.
    first_promised_eta: Mapped[date | None]
    ready_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # In-stock substitutes ranked when the line became short, for the e-mail and the dashboard:
    # {"computed_at", "quantity", "items": [{variant_id, sku, title, price, score, reasons}]}.
    alternatives: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    line: Mapped[OrderLine] = relationship()
    eta_history: Mapped[list[EtaChange]] = relationship(
        order_by="EtaChange.id", cascade="all, delete-orphan", passive_deletes=True
    )


class EtaChange(ShopOwned, Base):
    """One entry of a backorder's ETA history: what was promised, on what basis, when."""

    __tablename__ = "eta_changes"

    backorder_id: Mapped[int] = mapped_column(
        Id, ForeignKey("backorders.id", ondelete="CASCADE"), index=True
    )
    eta: Mapped[date | None]
    eta_source: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime]
