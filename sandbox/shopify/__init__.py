"""Emulated Shopify store: Admin GraphQL API, OAuth, webhooks, bulk operations, failure modes.

Plays the platform for the product's tests and demo; shares no code with the client side.
"""

from sandbox.shopify.app import create_app
from sandbox.shopify.seed import seed
from sandbox.shopify.server import RunningShopify, start
from sandbox.shopify.store import ShopifyStore

__all__ = ["RunningShopify", "ShopifyStore", "create_app", "seed", "start"]
