"""Both sandbox stores in one process: what `backorder sandbox`, the demo and the tests start."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sandbox.shopify.server import RunningShopify
from sandbox.shopify.server import start as start_shopify
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woocommerce


@dataclass
class Sandboxes:
    shopify: RunningShopify
    woocommerce: RunningWoo

    def describe(self) -> dict[str, Any]:
        """The JSON line PRODUCT.md fixes: what a client needs to connect to each store."""
        return {
            "shopify": {
                "shop": self.shopify.shop,
                "admin_base_url": self.shopify.admin_base_url,
                "api_key": self.shopify.api_key,
                "api_secret": self.shopify.api_secret,
                "access_token": self.shopify.access_token,
            },
            "woocommerce": {
                "url": self.woocommerce.url,
                "consumer_key": self.woocommerce.consumer_key,
                "consumer_secret": self.woocommerce.consumer_secret,
            },
        }

    def stop(self) -> None:
        self.shopify.stop()
        self.woocommerce.stop()


def start_both(
    host: str = "127.0.0.1",
    *,
    shopify_port: int = 0,
    woocommerce_port: int = 0,
    variants: int = 1000,
    seed: int = 1,
    shopify_options: dict[str, Any] | None = None,
) -> Sandboxes:
    """`shopify_options` go to the Shopify app (e.g. `restore_rate` for another plan)."""
    shopify = start_shopify(
        host, shopify_port, variants=variants, seed=seed, **(shopify_options or {})
    )
    try:
        woocommerce = start_woocommerce(host, woocommerce_port, variants=variants, seed=seed)
    except BaseException:
        shopify.stop()
        raise
    return Sandboxes(shopify, woocommerce)


def serve_forever(sandboxes: Sandboxes) -> None:
    """Print the connection line, then keep serving until interrupted."""
    print(json.dumps(sandboxes.describe()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandboxes.stop()
