"""The webhook inbox: every accepted delivery, stored before it is acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, ShopOwned

# received: waiting to be processed (again, after `next_attempt_at`, when a try failed);
# done / ignored (a topic we do not act on, or an older snapshot than we hold); failed: retries
# exhausted, kept with the error for `backorder webhooks replay`; rejected: signed but not JSON,
# kept for inspection and never processed.
INBOX_STATES = ("received", "done", "ignored", "failed", "rejected")


class WebhookEvent(ShopOwned, Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # Shopify: X-Shopify-Webhook-Id; WooCommerce: topic + resource id + modification time.
        UniqueConstraint("shop_id", "dedupe_key"),
        Index("ix_webhook_events_state", "state", "received_at"),
        Index("ix_webhook_events_resource", "shop_id", "resource_id"),
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
    next_attempt_at: Mapped[datetime | None]


class DataRequest(ShopOwned, Base):
    """A customer's request for their data (`customers/data_request`): the export we prepared.

    Shopify sends the request to us and expects the merchant to hand the customer what we hold;
    the export is kept here for the merchant (dashboard and API), not e-mailed by us.
    """

    __tablename__ = "data_requests"

    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    export: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
