"""Emulated Shopify and WooCommerce stores; imports nothing of the client side."""
