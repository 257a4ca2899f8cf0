"""`create_app(store)`: the WooCommerce REST API (wc/v3) and the key flow, served by Flask.

Authentication runs before routing, as WordPress runs `rest_authentication_errors` and WooCommerce's
`check_user_permissions` (rest_pre_dispatch) before dispatch: a bad key is 401 even on an
unknown route; an anonymous request reaches the route and gets its permission error.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from . import routes_catalog, routes_orders, routes_webhooks
from .auth import AuthRequest, authenticate, check_permissions
from .control import control, wc_auth
from .errors import WooError
from .store import WooStore
from .web import args, ok
from .webhooks import WebhookDispatcher

REST_PREFIX = "/wp-json/"


def create_app(store: WooStore, dispatcher: WebhookDispatcher | None = None) -> Flask:
    """A Flask app serving `store`; a webhook dispatcher thread is started if none is given."""
    app = Flask("sandbox.woocommerce")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["woo_store"] = store
    app.extensions["woo_dispatcher"] = dispatcher or WebhookDispatcher(store)
    for bp in (routes_catalog.bp, routes_orders.bp, routes_webhooks.bp, control, wc_auth):
        app.register_blueprint(bp)

    @app.before_request
    def gate() -> Response | None:
        if not request.path.startswith(REST_PREFIX):
            return None
        delay = store.faults.delay
        if delay:
            time.sleep(delay)
        failure = store.take_failure()
        if failure is not None:
            headers = {"Retry-After": "2"} if failure in (429, 503) else {}
            return Response(f"Sandbox: injected HTTP {failure}", failure, headers)
        result = authenticate(store, _auth_request())
        if result.error is not None:
            raise result.error
        g.woo_key = result.key
        if result.key is not None:
            denied = check_permissions(result.key, request.method)
            if denied is not None:
                raise denied
        return None

    @app.errorhandler(WooError)
    def woo_error(error: WooError) -> Response:
        headers = {}
        if error.status == 401 and _is_ssl():
            realm = "WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field."  # noqa: E501
            headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
        return ok(error.body(), error.status, headers)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def no_route(_error: Exception) -> Response:
        if request.path.startswith(REST_PREFIX):
            return ok(
                WooError(
                    "rest_no_route", "No route was found matching the URL and request method", 404
                ).body(),
                404,
            )
        return Response("Not Found", 404)

    return app


def _is_ssl() -> bool:
    """`is_ssl()`, also trusting a proxy's X-Forwarded-Proto (as sites behind TLS proxies do)."""
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto", "") == "https"


def _auth_request() -> AuthRequest:
    form = (
        dict(request.form.items())
        if request.mimetype == "application/x-www-form-urlencoded"
        else {}
    )
    return AuthRequest(
        method=request.method,
        path=request.path,
        query=args(),
        form=form,
        authorization=request.headers.get("Authorization", ""),
        is_ssl=_is_ssl(),
    )
