"""`start()`: a seeded WooCommerce sandbox served over HTTP in a daemon thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .seed import seed as seed_store
from .store import WooStore
from .webhooks import WebhookDispatcher


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: tests and demos read their own output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class RunningWoo:
    """A running sandbox: its store, the URL clients must use (also the OAuth-signed URL)."""

    store: WooStore
    url: str
    consumer_key: str
    consumer_secret: str
    dispatcher: WebhookDispatcher
    _server: BaseWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and delivering."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.dispatcher.stop()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    variants: int = 1000,
    seed: int = 1,
    store: WooStore | None = None,
) -> RunningWoo:
    """Seed a store (unless one is given), create a read_write key, serve it; port 0 = any."""
    store = store or WooStore()
    dispatcher = WebhookDispatcher(store)
    app = create_app(store, dispatcher)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    url = f"http://{host}:{server.server_port}"
    with store.lock:
        store.settings.site_url = url  # the canonical URL OAuth signatures are checked against
        if not store.products:
            seed_store(store, seed=seed, variants=variants)
        key = store.create_key("read_write", 1, "Sandbox key")
    thread = threading.Thread(target=server.serve_forever, name="woo-sandbox", daemon=True)
    thread.start()
    return RunningWoo(store, url, key.consumer_key, key.consumer_secret, dispatcher, server, thread)
