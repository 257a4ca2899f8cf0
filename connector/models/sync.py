"""Sync watermarks: how far each resource of each shop has been read, resumable after a crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, ShopOwned, Timestamps


class SyncCursor(ShopOwned, Timestamps, Base):
    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("shop_id", "resource"),)

    resource: Mapped[str] = mapped_column(String(32))
    # The largest modification time fully read; the next incremental sync starts there.
    watermark: Mapped[datetime | None]
    # A page cursor inside a sync under way, so a crash resumes mid-window.
    page_cursor: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    # When a full walk of this resource last completed (its window's end).
    last_full_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
