"""Install nonces: the state of an install flow that has begun but has not finished yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, IdMixin


class InstallNonce(IdMixin, Base):
    """A single-use, short-lived nonce issued when a merchant starts installing.

    Shopify gets it as the OAuth `state`, WooCommerce as the key flow's `user_id`; the callback
    must bring it back, unused and unexpired, for the same shop. This is the one table without
    `shop_id`: the shop does not exist until the install succeeds, so nothing here is
    shop-owned (and removing a shop leaves its finished nonces behind, which are harmless).
    """

    __tablename__ = "install_nonces"

    platform: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    # The myshopify domain (Shopify) or the normalised store URL (WooCommerce).
    target: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
