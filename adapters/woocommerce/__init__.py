"""WooCommerce (REST API wc/v3) adapter: `WooCommerceAdapter` speaks the `StoreAdapter` protocol."""

from adapters.woocommerce.adapter import WooCommerceAdapter
from adapters.woocommerce.client import WooClient, WooRequestError

__all__ = ["WooClient", "WooCommerceAdapter", "WooRequestError"]
