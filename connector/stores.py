"""The adapter for a shop: its platform's client, its decrypted credentials, our settings.

The one place that knows which adapter class serves which platform, so services and the
scheduler ask for "the store of shop 7" and never see a credential. It also gives a Shopify
adapter what it needs to keep an expiring token alive: the app's key and secret, and callbacks
that read and store the shop's token pair (the protocol is in `adapters.shopify.oauth`), and
every adapter the address guard unless ALLOW_PRIVATE_STORE_URLS is on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import StoreAdapter
from adapters.shopify.oauth import OfflineToken, TokenRefresh
from connector.commands import execute
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.shops import shop_credentials


def adapter_for(runtime: Runtime, shop: Shop, *, max_attempts: int | None = None) -> StoreAdapter:
    """`max_attempts` caps the adapter's own retries, for callers that retry on a schedule of
    their own (store writes): one retry layer, not two nested ones."""
    credentials = shop_credentials(runtime.vault, shop)
    return adapter_from(
        runtime, shop.platform, shop.domain, credentials, shop_id=shop.id, max_attempts=max_attempts
    )


def adapter_from(
    runtime: Runtime,
    platform: str,
    domain: str,
    credentials: dict[str, Any],
    *,
    shop_id: int | None = None,
    max_attempts: int | None = None,
) -> StoreAdapter:
    """An adapter from plain credentials: installs confirm them before any shop row exists.

    Without `shop_id` a refreshed Shopify token would have nowhere to go, so none is refreshed
    (an install's token is minutes old).
    """
    settings = runtime.settings
    retries = {} if max_attempts is None else {"max_attempts": max_attempts}
    if platform == "shopify":
        from adapters.shopify import ShopifyAdapter

        return ShopifyAdapter(
            domain,
            credentials["access_token"],
            admin_base_url=credentials.get("admin_base_url") or settings.SHOPIFY_ADMIN_BASE_URL,
            api_version=settings.SHOPIFY_API_VERSION,
            refresh=_token_refresh(runtime, shop_id, credentials),
            allow_private=settings.ALLOW_PRIVATE_STORE_URLS,
            bucket=_shopify_bucket(runtime, domain),
            **retries,
        )
    if platform == "woocommerce":
        from adapters.woocommerce import WooCommerceAdapter

        return WooCommerceAdapter(
            domain,
            credentials["consumer_key"],
            credentials["consumer_secret"],
            webhook_secret=credentials.get("webhook_secret", ""),
            allow_private=settings.ALLOW_PRIVATE_STORE_URLS,
            **retries,
        )
    raise ValueError(f"no adapter for platform {platform!r}")


def _shopify_bucket(runtime: Runtime, domain: str) -> Any:
    """The shop's rate-limit bucket, one per process: every job writing to the shop paces
    against the same points (`adapters.shopify.transport.CostBucket`)."""
    from adapters.shopify.transport import CostBucket

    return runtime.rate_buckets.setdefault(domain, CostBucket())


# ---------------------------------------------------------------------------- Shopify tokens


def _token_refresh(
    runtime: Runtime, shop_id: int | None, credentials: dict[str, Any]
) -> TokenRefresh | None:
    settings = runtime.settings
    refresh_token = credentials.get("refresh_token")
    if not refresh_token or shop_id is None:
        return None
    if not settings.SHOPIFY_API_KEY or not settings.SHOPIFY_API_SECRET:
        return None  # no refresh without the app's credentials: the 401 then asks to reinstall
    return TokenRefresh(
        refresh_token=refresh_token,
        expires_at=_instant(credentials.get("expires_at")),
        api_key=settings.SHOPIFY_API_KEY,
        api_secret=settings.SHOPIFY_API_SECRET,
        on_refresh=lambda fresh: store_refreshed_token(runtime, shop_id, fresh),
        reload=lambda: stored_token(runtime, shop_id),
        now=runtime.clock.now,
    )


def store_refreshed_token(runtime: Runtime, shop_id: int, fresh: OfflineToken) -> OfflineToken:
    """Store a refreshed pair atomically; returns the pair stored, which is the one to use.

    One transaction reads the shop row again under a row lock (FOR UPDATE on PostgreSQL; a
    SQLite transaction takes the write lock when it begins), so two processes storing at once
    go one after the other. If the stored pair expires later than ours, another process
    refreshed after us and Shopify has moved on to its pair: keep that one and use it.
    """

    def command(session: Session) -> OfflineToken:
        query = select(Shop).where(Shop.id == shop_id).with_for_update()
        shop = session.execute(query).scalar_one()
        credentials = shop_credentials(runtime.vault, shop)
        stored = _token_of(credentials)
        if stored is not None and _expires_later(stored, fresh):
            return stored
        credentials.update(
            access_token=fresh.access_token,
            refresh_token=fresh.refresh_token,
            expires_at=fresh.expires_at.isoformat() if fresh.expires_at else None,
        )
        shop.credentials = runtime.vault.seal(credentials)
        return fresh

    return execute(runtime, command)


def stored_token(runtime: Runtime, shop_id: int) -> OfflineToken | None:
    """The shop's token pair as stored now (another process may have refreshed it)."""
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        return _token_of(shop_credentials(runtime.vault, shop)) if shop is not None else None


def _expires_later(stored: OfflineToken, fresh: OfflineToken) -> bool:
    return (
        stored.expires_at is not None
        and fresh.expires_at is not None
        and stored.expires_at > fresh.expires_at
    )


def _token_of(credentials: dict[str, Any]) -> OfflineToken | None:
    if not credentials.get("access_token"):
        return None
    return OfflineToken(
        credentials["access_token"],
        credentials.get("refresh_token") or None,
        _instant(credentials.get("expires_at")),
    )


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 instant as the credentials keep it (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
