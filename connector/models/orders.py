"""Orders and their lines, as the store reported them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.models.base import Base, Id, ShopOwned, Timestamps


class Order(ShopOwned, Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_orders_shop_name", "shop_id", "name"),
        Index("ix_orders_shop_placed", "shop_id", "placed_at"),
    )

    external_id: Mapped[str] = mapped_column(String(64))
    # What the merchant and the customer call it: "#1001" on Shopify, the number on WooCommerce.
    name: Mapped[str] = mapped_column(String(64), default="")
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    locale: Mapped[str | None] = mapped_column(String(16))
    shipping_method: Mapped[str] = mapped_column(String(255), default="")
    financial_status: Mapped[str] = mapped_column(String(32), default="")
    fulfillment_status: Mapped[str] = mapped_column(String(32), default="")
    placed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    platform_updated_at: Mapped[datetime | None]
    # Set when the customer's personal data was erased (`customers/redact`): later snapshots
    # of the order from the store never write it back.
    redacted_at: Mapped[datetime | None]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )


class OrderLine(ShopOwned, Timestamps, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "external_id"),
        Index("ix_order_lines_variant", "variant_id"),
    )

    order_id: Mapped[int] = mapped_column(Id, ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    # None for custom items and for variants deleted from the store since.
    variant_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("variants.id", ondelete="SET NULL")
    )
    # Kept so a line for a variant not synced yet can be linked when it arrives.
    variant_external_id: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    quantity: Mapped[int]
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    fulfilled_quantity: Mapped[int] = mapped_column(default=0)
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    # Queue tier: merchant-set, or from the shop's expedited shipping methods. Higher first.
    priority: Mapped[int] = mapped_column(default=0)
    # Set when an order edit took the line away; the line then needs nothing.
    removed_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="lines")
