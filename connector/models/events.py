"""Recorded domain events: written in the same transaction as the change that raised them.

A transactional outbox: subscribers (push-back, e-mail, dashboard) read from here, so an event
is never lost to a crash between the commit and the hand-off, and never exists without its change.
A row holds every event of one kind that one command raised for one variant, in order
(`payload = {"events": [...]}`), so a restock that moves ten thousand lines writes a few rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, ShopOwned


class DomainEvent(ShopOwned, Base):
    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_pending", "dispatched_at", "id"),)

    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
