"""The webhook inbox: every accepted delivery, stored before it is acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, ShopOwned

INBOX_STATES = ("received", "processing", "done", "failed", "ignored")


class WebhookEvent(ShopOwned, Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # Shopify: X-Shopify-Webhook-Id; WooCommerce: topic + resource id + modification time.
        UniqueConstraint("shop_id", "dedupe_key"),
        Index("ix_webhook_events_state", "state", "received_at"),
    )

    platform: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(128))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    resource_updated_at: Mapped[datetime | None]
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
