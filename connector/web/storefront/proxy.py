"""`/proxy/...`: Shopify's App Proxy, the storefront's way to us through the shop's own domain.

Shopify forwards `https://<shop>/apps/backorder/<path>` to `{APP_URL}/proxy/<path>` and signs the
query (`shop`, `timestamp`, `signature`...). Shopify's package checks the signature, with the
previous secret during a rotation; the freshness is checked here against the runtime clock
(90 s, as Shopify advises), so the whole product can be run at a moved time. The shop is the one
that signed, and it must be installed and active.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from shopify_app import verify_app_proxy_req
from sqlalchemy.orm import Session

from connector.models import Shop
from connector.runtime import Runtime
from connector.services.availability import active_shop, for_product_page
from connector.services.errors import NotFound
from connector.services.store_urls import SHOPIFY_DOMAIN
from connector.web.errors import ApiError
from connector.web.storefront.answer import requested_quantity, respond, widget_script

MAX_SKEW_SECONDS = 90

proxy = Blueprint("app_proxy", __name__, url_prefix="/proxy")


def _refused(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def _check_signature(runtime: Runtime) -> str:
    """The signing shop's domain, or 401: no, stale or forged signature."""
    settings = runtime.settings
    if not settings.SHOPIFY_API_SECRET:
        raise ApiError(503, "not_configured", "SHOPIFY_API_SECRET is not set")
    stamp = request.args.get("timestamp", "")
    if not stamp.isdigit():
        raise _refused("the request is not signed by Shopify")
    if abs(runtime.clock.now().timestamp() - int(stamp)) > MAX_SKEW_SECONDS:
        raise _refused("the request's signature is stale")
    config = {
        "client_id": settings.SHOPIFY_API_KEY or "-",
        "client_secret": settings.SHOPIFY_API_SECRET,
    }
    if settings.SHOPIFY_API_SECRET_PREVIOUS:
        config["old_client_secret"] = settings.SHOPIFY_API_SECRET_PREVIOUS
    result = verify_app_proxy_req(
        {"method": request.method, "headers": {}, "url": request.url, "body": ""},
        config,  # type: ignore[arg-type]
    )
    if not result.ok:
        raise _refused("the request is not signed by Shopify")
    domain = request.args.get("shop", "").lower()
    if not SHOPIFY_DOMAIN.match(domain):
        raise _refused("the request names no shop")
    return domain


def _signing_shop(runtime: Runtime, session: Session) -> Shop:
    domain = _check_signature(runtime)
    try:
        return active_shop(session, shopify_domain=domain)
    except NotFound:
        raise _refused("the app is not installed on this shop") from None


@proxy.get("/widget.js")
def widget() -> Response:
    _check_signature(current_app.extensions["backorder"])
    return widget_script()


@proxy.get("/variants/<external_id>")
def variant_quote(external_id: str) -> Response:
    runtime: Runtime = current_app.extensions["backorder"]
    with runtime.db.transaction() as session:
        shop = _signing_shop(runtime, session)
        quantity = requested_quantity()
        return respond(shop, for_product_page(session, runtime.clock, shop, external_id, quantity))
