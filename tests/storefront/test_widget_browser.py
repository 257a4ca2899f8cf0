"""The widget in a real browser: Debian's Chromium opens a sample WooCommerce product page.

The app and the "store" are served on two real local ports, so the widget's request is a true
cross-origin fetch that only the shop's own origin may read (CORS).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from connector.runtime import Runtime
from connector.web import create_app
from tests.browser import browser as browser
from tests.storefront.catalogue import HOSTILE_TITLE, shoe_shop

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Trail Runner GTX</title></head>
<body>
  <h1>Trail Runner GTX</h1>
  <form class="variations_form">
    <select name="id">
      <option value="TRAIL-BLU-43" selected>Blue / 43</option>
      <option value="TRAIL-BLU-42">Blue / 42</option>
    </select>
  </form>
  <div id="backorder" data-backorder-widget data-endpoint="{endpoint}"
       data-variant="TRAIL-BLU-43"></div>
  <script src="{script}" defer></script>
</body></html>
"""


def _serve(app: Callable[..., Any]) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def test_the_widget_shows_the_date_and_alternatives_as_text(runtime: Runtime, browser: Any) -> None:
    store = Flask("sample-store")
    store_server, store_url = _serve(store)
    shop = shoe_shop(runtime, domain=store_url)  # the WooCommerce store lives at that origin
    app_server, app_url = _serve(create_app(runtime))
    endpoint = f"{app_url}/storefront/v1/shops/{shop.shop_id}"

    @store.get("/product/trail-runner-gtx")
    def product_page() -> str:
        return PAGE.format(endpoint=endpoint, script=f"{app_url}/storefront/v1/widget.js")

    try:
        page = browser.new_page()
        page.goto(f"{store_url}/product/trail-runner-gtx")
        status = page.locator("#backorder .backorder-status")
        status.wait_for()
        assert status.text_content() == "In stock"

        page.select_option("select[name=id]", "TRAIL-BLU-42")
        # 2026-11-26 (the test clock, a UTC shop) + 14 days lead time + 1 handling day.
        page.wait_for_function(
            "document.querySelector('#backorder .backorder-status')?.textContent"
            " === 'Ships by 11 Dec'"
        )
        titles = page.locator("#backorder .backorder-alternative-title")
        assert 1 <= titles.count() <= 3
        assert titles.first.text_content() == "Trail Runner GTX - Black / 42"
        assert titles.first.get_attribute("href") == f"{store_url}/?product=trail-runner-gtx"
        shown = titles.all_text_contents()
        assert any(HOSTILE_TITLE in title for title in shown), shown
        # The title arrived as text: no element was made of it, and nothing of it ran.
        assert page.locator("#backorder script, #backorder img").count() == 0
        assert page.evaluate("window.__pwned") is None
    finally:
        app_server.shutdown()
        store_server.shutdown()
