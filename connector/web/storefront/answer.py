"""The JSON a product page gets, and how it may be cached: the same for both platforms.

Only catalogue facts leave here (ids, SKUs, titles, prices, stock, dates): never an order, a
customer or a supplier reference (an incoming-stock source says "incoming", not its PO number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, jsonify, request, send_file

from adapters.links import product_url
from connector.models import Shop
from connector.services.availability import MAX_QUANTITY, ProductPageQuote
from connector.web.errors import ApiError

WIDGET = Path(__file__).with_name("widget.js")
MAX_AGE_SECONDS = 60  # a shopper sees a date at most a minute old; a busy page costs one quote


def message(page: ProductPageQuote) -> str:
    """The line a shopper reads: "In stock" or "Ships by 12 Dec"."""
    quote = page.quote
    if quote.in_stock:
        return "In stock"
    if quote.eta is None:
        return "Out of stock"
    return f"Ships by {quote.eta.day} {quote.eta:%b}"


def source_kind(source: str | None) -> str | None:
    """ "incoming:PO-77" → "incoming": the shopper learns what kind of supply, not whose."""
    return None if source is None else source.split(":", 1)[0]


def body(shop: Shop, page: ProductPageQuote) -> dict[str, Any]:
    quote = page.quote
    return {
        "variant_id": page.external_id,
        "sku": page.sku,
        "quantity": quote.quantity,
        "in_stock": quote.in_stock,
        "available": quote.available,
        "eta": quote.eta.isoformat() if quote.eta else None,
        "eta_source": source_kind(quote.eta_source),
        "message": message(page),
        "waiting": quote.waiting,
        "alternatives": [
            {
                "variant_id": listing.external_id,
                "title": listing.title,
                "sku": listing.sku,
                "price": str(listing.price),
                "available": listing.available,
                "url": product_url(
                    shop.platform,
                    shop.domain,
                    listing.product_handle,
                    listing.external_id,
                    absolute=False,
                ),
            }
            for listing in page.alternatives
        ],
    }


def respond(shop: Shop, page: ProductPageQuote) -> Response:
    response = jsonify(body(shop, page))
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    return response


def requested_quantity() -> int:
    """`?quantity=` (default 1), a whole number from 1 to the quote's maximum."""
    raw = request.args.get("quantity", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_QUANTITY:
        raise ApiError(
            400,
            "invalid_parameter",
            f"quantity must be a whole number from 1 to {MAX_QUANTITY}",
            field="quantity",
        )
    return int(raw)


def widget_script() -> Response:
    """The widget, served by the app itself: a theme includes one <script> and nothing else."""
    return send_file(WIDGET, mimetype="text/javascript", max_age=300)
