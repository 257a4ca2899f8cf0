"""The catalogue as synced from the store: products, variants, stock per location."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.models.base import Base, Id, ShopOwned, Timestamps

INVENTORY_POLICIES = ("deny", "continue")
PRODUCT_STATUSES = ("active", "draft", "archived")


class Product(ShopOwned, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    product_type: Mapped[str] = mapped_column(String(255), default="")
    vendor: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # The store's own modification time: an older webhook never overwrites newer state.
    platform_updated_at: Mapped[datetime | None]

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True
    )


class Variant(ShopOwned, Timestamps, Base):
    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_variants_shop_sku", "shop_id", "sku"),
        Index("ix_variants_shop_inventory_item", "shop_id", "inventory_item_external_id"),
    )

    product_id: Mapped[int] = mapped_column(
        Id, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(64))
    # The stock this variant sells from: Shopify's InventoryItem (one per variant); on WooCommerce
    # the product's own id, or its parent's for a variation with `manage_stock: "parent"`.
    # Variants naming the same one form one stock pool (connector/domain/pool.py).
    inventory_item_external_id: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inventory_policy: Mapped[str] = mapped_column(String(16), default="deny")
    # Supplier lead time; None means the shop's default.
    lead_time_days: Mapped[int | None]
    pack_size: Mapped[int | None]
    min_order_quantity: Mapped[int | None]
    # From this variant's receipts, else its supplier's (connector/services/lead_times.py); the
    # ETA walk uses it where the merchant set no lead time of the variant's own.
    learned_lead_time_days: Mapped[int | None]
    platform_updated_at: Mapped[datetime | None]
    # False where the store does not count this variant's stock (WooCommerce manage_stock off,
    # Shopify untracked items): it is never short, so it never makes a backorder.
    track_inventory: Mapped[bool] = mapped_column(default=True)
    # Whether stock exceeded open demand at the last reconciliation: None until first seen.
    in_stock: Mapped[bool | None]
    # Selling on backorder (connector/services/selling.py): the policy the app last wrote (or
    # found already right), when it wrote it, and why; `policy_override` marks a variant whose
    # policy the merchant changed by hand afterwards: the app leaves it alone until handed back.
    policy_by_app: Mapped[str | None] = mapped_column(String(16))
    policy_written_at: Mapped[datetime | None]
    policy_override: Mapped[bool] = mapped_column(default=False)
    selling_reason: Mapped[str | None] = mapped_column(String(255))

    product: Mapped[Product] = relationship(back_populates="variants")
    levels: Mapped[list[InventoryLevel]] = relationship(
        back_populates="variant", cascade="all, delete-orphan", passive_deletes=True
    )


class InventoryLevel(ShopOwned, Timestamps, Base):
    """Stock of one variant at one location, in the platform's named quantities."""

    __tablename__ = "inventory_levels"
    __table_args__ = (UniqueConstraint("variant_id", "location_external_id"),)

    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    location_external_id: Mapped[str] = mapped_column(String(64))
    location_name: Mapped[str] = mapped_column(String(255), default="")
    # Units not yet shipped. NULL where the store reports only what is left to sell
    # (WooCommerce): the engine then derives it from `available` and the open lines.
    on_hand: Mapped[int | None]
    available: Mapped[int] = mapped_column(default=0)
    committed: Mapped[int] = mapped_column(default=0)
    incoming: Mapped[int] = mapped_column(default=0)
    platform_updated_at: Mapped[datetime | None]

    variant: Mapped[Variant] = relationship(back_populates="levels")
