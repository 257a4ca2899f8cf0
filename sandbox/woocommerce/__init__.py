"""Emulated WooCommerce store (REST API wc/v3, webhooks, key flow) for tests and demos.

Plays the platform: it shares no code with the connector and imports nothing of it.
"""

from .app import create_app
from .seed import seed
from .server import RunningWoo, start
from .store import Settings, WooStore

__all__ = ["RunningWoo", "Settings", "WooStore", "create_app", "seed", "start"]
