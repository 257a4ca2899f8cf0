"""Shops (installed stores) and the API tokens that are scoped to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, Id, IdMixin, Timestamps

PLATFORMS = ("shopify", "woocommerce")
SHOP_STATUSES = ("active", "uninstalled")


class Shop(IdMixin, Timestamps, Base):
    """One installed store. `domain` is the myshopify domain or the WooCommerce store URL."""

    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    platform: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    installed_at: Mapped[datetime]
    uninstalled_at: Mapped[datetime | None]
    # Fernet ciphertext of a JSON object (access token, consumer key/secret, refresh token...).
    credentials: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    locale: Mapped[str] = mapped_column(String(16), default="en")

    # Backorder policy, per shop; a variant may override the lead time.
    lead_time_days: Mapped[int] = mapped_column(default=14)
    handling_days: Mapped[int] = mapped_column(default=1)
    late_grace_days: Mapped[int] = mapped_column(default=3)
    split_shipments: Mapped[bool] = mapped_column(default=False)
    eta_change_threshold_days: Mapped[int] = mapped_column(default=2)
    expedite_after_days: Mapped[int] = mapped_column(default=21)
    price_band_pct: Mapped[int] = mapped_column(default=25)
    # Comma-separated words in a shipping method that put the order's lines in the priority
    # tier (e.g. "express,overnight"). Empty: shipping method does not change the queue.
    expedite_keywords: Mapped[str] = mapped_column(String(255), default="")
    # A sync in progress holds the shop until then (across processes); renewed page by page.
    sync_lease_until: Mapped[datetime | None]
    # Set when the store refused our credentials (401/403): syncs stop until reinstalled.
    needs_reauthorization: Mapped[bool] = mapped_column(default=False)
    service_level: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.950"))
    # Selling on backorder (connector/domain/selling.py). Off until the merchant opts in: the app
    # must not change a store's selling policy without consent.
    sell_on_backorder: Mapped[bool] = mapped_column(default=False)
    max_promise_days: Mapped[int] = mapped_column(default=30)
    # Most units that may wait at once; None: the incoming quantity (no cap where only the
    # lead time gives a date).
    backorder_cap: Mapped[int | None]

    # Telling customers (connector/services/notify.py). Per message kind, "email" (the default
    # for a kind not named), "platform" (the store tells the customer, e.g. a WooCommerce
    # customer note) or "off".
    mail_kinds: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Reply-To of every customer e-mail: replies reach the shop's support, not us.
    support_email: Mapped[str | None] = mapped_column(String(320))
    brand_color: Mapped[str] = mapped_column(String(16), default="#1f4e79")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    # Comma-separated addresses of the merchant's daily digest; empty: no digest.
    digest_recipients: Mapped[str] = mapped_column(String(1000), default="")
    # A line waiting longer than this many days is listed in the digest.
    digest_wait_days: Mapped[int] = mapped_column(default=7)

    # Reordering (connector/services/reorder.py): days between the merchant's purchase orders,
    # and where variants newly at their reorder point are posted (signed with the secret, a
    # Fernet ciphertext like the credentials).
    review_days: Mapped[int] = mapped_column(default=7)
    reorder_webhook_url: Mapped[str | None] = mapped_column(String(500))
    reorder_webhook_secret: Mapped[str | None] = mapped_column(Text)


class ApiToken(IdMixin, Timestamps, Base):
    """A bearer token for the JSON API, kept only as a SHA-256 digest."""

    __tablename__ = "api_tokens"

    shop_id: Mapped[int] = mapped_column(Id, ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, shown in listings so a merchant can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
