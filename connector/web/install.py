"""Install entry points: parse the request, call connector.services.install, map the answer.

Refusals become 400 with `{"error": {...}}` through the shared error handlers; a session token
we do not accept becomes 401 (the handler below), so App Bridge fetches a fresh one.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, current_app, jsonify, redirect, request

from connector.runtime import Runtime
from connector.services import install as service
from connector.web.errors import error_response

install = Blueprint("install", __name__)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["backorder"]
    return runtime


@install.get("/shopify/install")
def shopify_install() -> Response:
    return redirect(service.start_shopify_install(_runtime(), request.args.get("shop", "")))


@install.get("/shopify/callback")
def shopify_callback() -> Response:
    runtime = _runtime()
    shop_id = service.finish_shopify_install(runtime, request.args.to_dict())
    return redirect(f"{runtime.settings.APP_URL}/app/?shop_id={shop_id}")


@install.get("/shopify/session")
def shopify_session() -> Response:
    """An embedded app's first load: Shopify appends `id_token`, `shop` and `host`."""
    runtime = _runtime()
    args = request.args
    shop_id = service.finish_shopify_token_exchange(
        runtime, args.get("id_token", ""), args.get("shop", "")
    )
    return redirect(f"{runtime.settings.APP_URL}/app/?shop_id={shop_id}")


@install.errorhandler(service.SessionTokenRefused)
def session_token_refused(exc: service.SessionTokenRefused) -> Response:
    return error_response(401, exc.code, exc.message, exc.field)


@install.get("/woocommerce/install")
def woocommerce_install() -> Response:
    url = request.args.get("store_url", "")
    return redirect(service.start_woocommerce_install(_runtime(), url))


@install.post("/woocommerce/callback")
def woocommerce_callback() -> Response:
    """WooCommerce keeps the key only if this answers exactly 200."""
    payload = request.get_json(force=True, silent=True)
    service.finish_woocommerce_install(_runtime(), payload if isinstance(payload, dict) else {})
    return jsonify({})


@install.get("/woocommerce/return")
def woocommerce_return() -> Response:
    installed, message = service.woocommerce_return(
        _runtime(), request.args.get("success", ""), request.args.get("user_id", "")
    )
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"installed": installed, "message": message})
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Backorder Connector</title>"
        f"</head><body><h1>Backorder Connector</h1><p>{escape(message)}</p></body></html>"
    )
    return Response(page, mimetype="text/html")
