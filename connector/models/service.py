"""What customers and merchants ask of the app beyond the queue: a template of their own, a
change to an order from the status page, a task the app could not do for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, ShopOwned, Timestamps

TEMPLATE_PARTS = ("subject", "text", "html")
ORDER_CHANGE_ACTIONS = ("cancel", "switch")
# pending: waiting for its job; done: the store changed; merchant: the platform could not do it
# and a merchant task says what to do; failed: refused (the line no longer waits, say).
ORDER_CHANGE_STATES = ("pending", "done", "merchant", "failed")
TASK_STATES = ("open", "done")


class MailTemplate(ShopOwned, Timestamps, Base):
    """A merchant's own version of one part of one message kind in one language."""

    __tablename__ = "mail_templates"
    __table_args__ = (UniqueConstraint("shop_id", "kind", "locale", "part"),)

    kind: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    part: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)


class OrderChange(ShopOwned, Timestamps, Base):
    """A customer's cancel or switch from the status page; one per line (a second click finds
    the first), carried out on the store by a job."""

    __tablename__ = "order_changes"
    __table_args__ = (UniqueConstraint("shop_id", "dedupe_key"),)

    order_id: Mapped[int] = mapped_column(Id, ForeignKey("orders.id", ondelete="CASCADE"))
    backorder_id: Mapped[int] = mapped_column(
        Id, ForeignKey("backorders.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    # switch: the alternative chosen (our variant id)
    variant_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("variants.id", ondelete="SET NULL")
    )
    quantity: Mapped[int]  # the units taken off the line: the backorder's short quantity
    # The line's quantity when the customer asked (migration 0011): the edit's target is
    # line_quantity - quantity, so a retried job never takes the same units off twice.
    line_quantity: Mapped[int | None]
    dedupe_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]


class MerchantTask(ShopOwned, Timestamps, Base):
    """Something the merchant must do by hand (a refund, an edit the platform cannot make)."""

    __tablename__ = "merchant_tasks"
    __table_args__ = (UniqueConstraint("shop_id", "dedupe_key"),)

    order_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    backorder_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("backorders.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")
    done_at: Mapped[datetime | None]
