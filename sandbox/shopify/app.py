"""`create_app`: the Flask app that plays Shopify for one store.

Routes: the Admin GraphQL endpoint, OAuth, the `/_sandbox` control surface and the staged-upload
storage that bulk mutations post their variables to. A background delivery thread posts webhooks;
it starts with the app and lives as long as the process
(call `app.extensions["shopify_sandbox"].delivery.stop()` to end it early).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from sandbox.shopify import control, graphql_endpoint, oauth, staged_uploads
from sandbox.shopify.bulk import BulkRunner
from sandbox.shopify.cost import MAX_SINGLE_QUERY_COST, LeakyBucket
from sandbox.shopify.delivery import WebhookDelivery
from sandbox.shopify.schema import load_schema
from sandbox.shopify.store import ShopifyStore

API_VERSION = "2025-01"


@dataclass
class SandboxState:
    """Everything the routes share, kept in `app.extensions["shopify_sandbox"]`."""

    store: ShopifyStore
    schema: Any
    api_key: str
    api_secret: str
    tokens: oauth.TokenBook
    bucket: LeakyBucket
    delivery: WebhookDelivery
    bulk: BulkRunner
    api_version: str
    max_query_cost: int


def create_app(
    store: ShopifyStore,
    *,
    schema_path: str | None = None,
    api_key: str,
    api_secret: str,
    access_token: str,
    api_version: str = API_VERSION,
    bucket_size: float = 2000,
    restore_rate: float = 100,
    max_query_cost: int = MAX_SINGLE_QUERY_COST,
    webhook_retries: int = 8,
    webhook_base_delay: float = 0.05,
) -> Flask:
    """Build the emulated shop's HTTP app; `access_token` is valid from the start."""
    schema = load_schema(schema_path)
    tokens = oauth.TokenBook()
    tokens.access[access_token] = None
    state = SandboxState(
        store=store,
        schema=schema,
        api_key=api_key,
        api_secret=api_secret,
        tokens=tokens,
        bucket=LeakyBucket(bucket_size, restore_rate),
        delivery=WebhookDelivery(
            store,
            api_secret,
            api_version,
            retries=webhook_retries,
            base_delay=webhook_base_delay,
        ),
        bulk=BulkRunner(store, schema, api_version),
        api_version=api_version,
        max_query_cost=max_query_cost,
    )
    app = Flask("sandbox.shopify")
    app.json.sort_keys = False  # type: ignore[attr-defined]  (keep Shopify's field order)
    app.extensions["shopify_sandbox"] = state
    app.register_blueprint(graphql_endpoint.blueprint)
    app.register_blueprint(oauth.blueprint)
    app.register_blueprint(control.blueprint)
    app.register_blueprint(staged_uploads.blueprint)
    return app
