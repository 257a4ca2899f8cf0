"""The outbox: messages to customers and writes to stores, each recorded with its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, ShopOwned, Timestamps

# cancelled: stopped before it went out (the shop uninstalled, or the customer was erased).
OUTBOX_STATES = ("pending", "sent", "failed", "suppressed", "cancelled")


class Notification(ShopOwned, Timestamps, Base):
    """One message to one customer; the dedupe key makes every retry and replay send it once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    order_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    backorder_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("backorders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    recipient: Mapped[str] = mapped_column(String(320))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime | None]


class StoreWrite(ShopOwned, Timestamps, Base):
    """A pending or finished write to the store (tag, metafield, hold, note)."""

    __tablename__ = "store_writes"
    __table_args__ = (
        Index("ix_store_writes_due", "status", "next_attempt_at"),
        # Ten ETA changes for one variant in a second coalesce into one pending write.
        Index("ix_store_writes_coalesce", "shop_id", "coalesce_key", "status"),
    )

    order_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    coalesce_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
