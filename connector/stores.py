"""The adapter for a shop: its platform's client, its decrypted credentials, our settings.

The one place that knows which adapter class serves which platform, so services and the
scheduler ask for "the store of shop 7" and never see a credential.
"""

from __future__ import annotations

from typing import Any

from adapters.base import StoreAdapter
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.shops import shop_credentials


def adapter_for(runtime: Runtime, shop: Shop) -> StoreAdapter:
    return adapter_from(runtime, shop.platform, shop.domain, shop_credentials(runtime.vault, shop))


def adapter_from(
    runtime: Runtime, platform: str, domain: str, credentials: dict[str, Any]
) -> StoreAdapter:
    """An adapter from plain credentials: installs confirm them before any shop row exists."""
    settings = runtime.settings
    if platform == "shopify":
        from adapters.shopify import ShopifyAdapter

        return ShopifyAdapter(
            domain,
            credentials["access_token"],
            admin_base_url=credentials.get("admin_base_url") or settings.SHOPIFY_ADMIN_BASE_URL,
            api_version=settings.SHOPIFY_API_VERSION,
        )
    if platform == "woocommerce":
        from adapters.woocommerce import WooCommerceAdapter

        return WooCommerceAdapter(
            domain,
            credentials["consumer_key"],
            credentials["consumer_secret"],
            webhook_secret=credentials.get("webhook_secret", ""),
        )
    raise ValueError(f"no adapter for platform {platform!r}")
