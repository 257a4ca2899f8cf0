"""`/storefront/v1/...`: the quote for WooCommerce product pages, called from shoppers' browsers.

Public and read-only, so it answers only what the product page shows anyway, lets only the
shop's own origin read it from a browser (CORS), and is rate-limited per client address with
the `limits` library (counted in Redis when REDIS_URL is set, so every process shares one
count). The check is this blueprint's own `before_request`, not an app-wide hook: webhooks and
the API do not pay for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from connector.config import Settings
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.availability import active_shop, for_product_page
from connector.services.errors import NotFound
from connector.web.errors import error_response
from connector.web.storefront.answer import requested_quantity, respond, widget_script

log = logging.getLogger(__name__)

public = Blueprint("storefront", __name__, url_prefix="/storefront/v1")
LIMITER = "backorder_storefront_limit"


@dataclass
class ClientLimit:
    """Requests per client address; in memory when Redis is unset or down (a storefront must
    not go down with Redis)."""

    item: RateLimitItem
    shared: MovingWindowRateLimiter | None
    local: MovingWindowRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimit:
        shared = None
        if settings.REDIS_URL:
            shared = MovingWindowRateLimiter(storage_from_string(settings.REDIS_URL))
        local = MovingWindowRateLimiter(MemoryStorage())
        return cls(parse(settings.STOREFRONT_RATE_LIMIT), shared, local)

    def hit(self, client: str) -> bool:
        """Count one request of `client`; False when it is over the limit."""
        if self.shared is not None:
            try:
                return self.shared.hit(self.item, "storefront", client)
            except Exception as exc:  # Redis down: count here until it is back
                log.warning("storefront rate limit counted locally: %s", type(exc).__name__)
        return self.local.hit(self.item, "storefront", client)


def limit_public(app: Flask, settings: Settings) -> None:
    """One limit per app (tests build many apps; each counts on its own in memory)."""
    app.extensions[LIMITER] = ClientLimit.from_settings(settings)


@public.before_request
def _rate_limited() -> Response | None:
    limit: ClientLimit = current_app.extensions[LIMITER]
    if limit.hit(request.remote_addr or "unknown"):
        return None
    # A whole window: never earlier than the client may really retry, and no clock read here.
    return error_response(
        429,
        "rate_limited",
        f"too many requests: at most {limit.item} per client",
        headers={"Retry-After": str(limit.item.get_expiry())},
    )


def _origin(shop: Shop) -> str:
    parts = urlsplit(shop.domain)
    return f"{parts.scheme}://{parts.netloc}"


@public.get("/widget.js")
def widget() -> Response:
    return widget_script()


@public.get("/shops/<int:shop_id>/variants/<external_id>")
def variant_quote(shop_id: int, external_id: str) -> Response:
    quantity = requested_quantity()
    runtime: Runtime = current_app.extensions["backorder"]
    with runtime.db.transaction() as session:
        shop = active_shop(session, shop_id=shop_id)
        if shop.platform != "woocommerce":  # Shopify stores ask through their App Proxy
            raise NotFound("no such shop")
        page = for_product_page(session, runtime.clock, shop, external_id, quantity)
        response = respond(shop, page)
        origin = _origin(shop)
    response.headers["Vary"] = "Origin"
    if request.headers.get("Origin") == origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response
