"""The durable half of the alternatives index: per-variant features, purchase history, rules.

Each process keeps its own in-memory index (connector/services/alternatives.py) and brings it
up to date from these rows: a shop's `version` is bumped in the same transaction as any change to
its catalogue, stock or orders, and every row written then carries the new version, so a process
reads only what changed since the version it holds. Nothing lives only in one process's memory.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, IdMixin, ShopOwned


class AlternativeIndex(IdMixin, Base):
    """A shop's catalogue version; `generation` changes when the index is started over."""

    __tablename__ = "alternative_indexes"

    shop_id: Mapped[int] = mapped_column(
        Id, ForeignKey("shops.id", ondelete="CASCADE"), unique=True
    )
    generation: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(default=0)


class AlternativeFeatures(ShopOwned, Base):
    """What the ranking knows of one variant: text terms, tags, options, price, pool stock."""

    __tablename__ = "alternative_features"
    __table_args__ = (Index("ix_alternative_features_shop_version", "shop_id", "version"),)

    variant_id: Mapped[int] = mapped_column(
        Id, ForeignKey("variants.id", ondelete="CASCADE"), unique=True
    )
    version: Mapped[int]
    features: Mapped[dict[str, Any]] = mapped_column(JSON)


class CoPurchase(ShopOwned, Base):
    """Orders that bought `other` with `variant` (together) or after waiting for it (instead)."""

    __tablename__ = "co_purchases"
    __table_args__ = (
        UniqueConstraint("variant_id", "other_variant_id"),
        Index("ix_co_purchases_shop_version", "shop_id", "version"),
    )

    variant_id: Mapped[int] = mapped_column(Id, ForeignKey("variants.id", ondelete="CASCADE"))
    other_variant_id: Mapped[int] = mapped_column(
        Id, ForeignKey("variants.id", ondelete="CASCADE"), index=True
    )
    together: Mapped[int] = mapped_column(default=0)
    instead: Mapped[int] = mapped_column(default=0)
    version: Mapped[int]


class AlternativeRule(ShopOwned, Base):
    """A merchant's choice for one product: variants always offered first, or never offered."""

    __tablename__ = "alternative_rules"

    product_id: Mapped[int] = mapped_column(
        Id, ForeignKey("products.id", ondelete="CASCADE"), unique=True
    )
    pinned: Mapped[list[int]] = mapped_column(JSON, default=list)
    excluded: Mapped[list[int]] = mapped_column(JSON, default=list)
