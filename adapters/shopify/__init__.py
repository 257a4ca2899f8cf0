"""Shopify Admin GraphQL adapter: `ShopifyAdapter` implements `adapters.base.StoreAdapter`."""

from adapters.shopify.adapter import ShopifyAdapter

__all__ = ["ShopifyAdapter"]
