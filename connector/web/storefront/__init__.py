"""The storefront side: a variant's quote for product pages, and the widget that shows it.

Two doors to one answer. Shopify stores reach us through their App Proxy (`/proxy/...`, signed
by Shopify, so the shop is whoever signed); WooCommerce stores call the public endpoint
(`/storefront/v1/...`) from the shopper's browser, so it is read-only, rate-limited per client
and open to the shop's own origin only. Both serve the same JSON and the same widget.
"""

from __future__ import annotations

from flask import Flask

from connector.runtime import Runtime
from connector.web.storefront.proxy import proxy
from connector.web.storefront.public import limit_public, public


def register_storefront(app: Flask, runtime: Runtime) -> None:
    app.register_blueprint(public)
    app.register_blueprint(proxy)
    limit_public(app, runtime.settings)


__all__ = ["register_storefront"]
