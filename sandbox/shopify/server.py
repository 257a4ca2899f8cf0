"""`start()`: a seeded emulated Shopify store served on a local port in a daemon thread."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.shopify.app import API_VERSION, create_app
from sandbox.shopify.seed import seed as seed_store
from sandbox.shopify.store import ShopifyStore


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the sandbox is chatty enough in tests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class RunningShopify:
    """A served sandbox: where it is, its credentials, and how to stop it."""

    store: ShopifyStore
    base_url: str
    admin_base_url: str
    shop: str
    api_key: str
    api_secret: str
    access_token: str
    app: Any
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.app.extensions["shopify_sandbox"].delivery.stop()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    variants: int = 1000,
    seed: int = 1,
    store: ShopifyStore | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    access_token: str | None = None,
    **app_kwargs: Any,
) -> RunningShopify:
    """Seed a store (unless one is given), build the app and serve it; returns at once."""
    if store is None:
        store = seed_store(ShopifyStore(), seed=seed, variants=variants)
    api_key = api_key or "sandbox-api-key"
    api_secret = api_secret or "shpss_" + secrets.token_hex(16)
    access_token = access_token or "shpat_" + secrets.token_hex(16)
    app = create_app(
        store, api_key=api_key, api_secret=api_secret, access_token=access_token, **app_kwargs
    )
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    base_url = f"http://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="shopify-sandbox")
    thread.start()
    version = app_kwargs.get("api_version", API_VERSION)
    return RunningShopify(
        store=store,
        base_url=base_url,
        admin_base_url=f"{base_url}/admin/api/{version}",
        shop=store.shop.myshopifyDomain,
        api_key=api_key,
        api_secret=api_secret,
        access_token=access_token,
        app=app,
        server=server,
        thread=thread,
    )
