"""The two webhook routes: verify → record in the inbox → commit → 200, never waiting for work.

Shopify retries a failed delivery 8 times and then deletes the subscription; WooCommerce never
retries and disables a webhook after a few failures. So the answer must be quick and must mean
"stored": the inbox row is committed before the 200, and processing happens in a job. A delivery
seen before is acknowledged and not stored again. Nothing is stored for a delivery whose
signature fails; a signed body that is not a JSON object is stored as `rejected` for inspection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from adapters.base import WebhookFacts
from adapters.shopify import webhooks as shopify_payloads
from adapters.woocommerce import webhooks as woocommerce_payloads
from connector.models import Shop, WebhookEvent
from connector.runtime import Runtime
from connector.services.shops import shop_credentials
from webhooks import metrics, verify
from webhooks.process import JOB, job_key

log = logging.getLogger(__name__)

intake = Blueprint("webhooks", __name__, url_prefix="/webhooks")

MAX_BODY_BYTES = 2 * 1024 * 1024
SHOPIFY_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-API-Version",
)
WOOCOMMERCE_HEADERS = (
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
    "X-WC-Webhook-Source",
)


class Refused(Exception):
    """The delivery is turned away: `status` and a short `reason` (also the metric label)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class Delivery:
    platform: str
    shop_id: int | None  # None: looked up by `shop_domain` in the transaction that stores it
    topic: str
    dedupe_key: str
    event_id: str | None
    headers: dict[str, str]
    body: bytes
    shop_domain: str = ""


def _runtime() -> Runtime:
    return current_app.extensions["backorder"]  # type: ignore[no-any-return]


def _read_body() -> bytes:
    """The raw bytes, at most 2 MiB (the app's limit elsewhere is lower), before any parsing."""
    request.max_content_length = MAX_BODY_BYTES
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise Refused(413, "too_large", "the body is larger than 2 MiB") from None


def _kept_headers(names: tuple[str, ...]) -> dict[str, str]:
    return {name: request.headers[name] for name in names if name in request.headers}


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _respond(platform: str, handle: Any) -> Response:
    """Run one intake, turning refusals into their status, and count what happened."""
    started = time.perf_counter()
    try:
        outcome = handle()
    except Refused as refused:
        metrics.REJECTED.labels(platform, refused.reason).inc()
        # One line, never the body: it holds customers' data.
        log.warning("webhook refused (%s): %s", platform, refused.message)
        body = json.dumps({"error": {"code": refused.reason, "message": refused.message}})
        return Response(body, status=refused.status, mimetype="application/json")
    metrics.ACK_LATENCY.labels(platform).observe(time.perf_counter() - started)
    metrics.RECEIVED.labels(platform, outcome).inc()
    return Response(status=200)


# ------------------------------------------------------------------------------------- Shopify


@intake.post("/shopify")
def shopify() -> Response:
    return _respond("shopify", _shopify)


def _shopify() -> str:
    runtime = _runtime()
    settings = runtime.settings
    body = _read_body()
    if not settings.SHOPIFY_API_SECRET:
        raise Refused(401, "not_configured", "SHOPIFY_API_SECRET is not set; cannot verify")
    if not verify.shopify(
        body, request.headers, settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS
    ):
        raise Refused(401, "signature", "X-Shopify-Hmac-Sha256 does not match the body")
    domain = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    topic = request.headers.get("X-Shopify-Topic", "").strip()
    if not topic:
        raise Refused(400, "no_topic", "X-Shopify-Topic is missing")
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    delivery = Delivery(
        platform="shopify",
        shop_id=None,  # one transaction finds the shop (401 if unknown) and stores the delivery
        shop_domain=domain,
        topic=topic,
        # The delivery id is Shopify's idempotency key; a body hash stands in if it is missing.
        dedupe_key=f"shopify:{webhook_id[:200]}" if webhook_id else f"sha256:{_digest(body)}",
        event_id=request.headers.get("X-Shopify-Event-Id") or None,
        headers=_kept_headers(SHOPIFY_HEADERS),
        body=body,
    )
    return _record(runtime, delivery, shopify_payloads.facts)


# --------------------------------------------------------------------------------- WooCommerce


@intake.post("/woocommerce/<int:shop_id>")
def woocommerce(shop_id: int) -> Response:
    signature = request.headers.get("X-WC-Webhook-Signature")
    # WooCommerce's ping when a webhook is created: unsigned `webhook_id=<id>`, no X-WC headers.
    if (
        signature is None
        and not request.headers.get("X-WC-Webhook-Topic")
        and (request.content_length or 0) <= 64
        and _read_body().startswith(b"webhook_id=")
    ):
        metrics.RECEIVED.labels("woocommerce", "ping").inc()
        return Response(status=200)
    return _respond("woocommerce", lambda: _woocommerce(shop_id, signature or ""))


def _woocommerce(shop_id: int, signature: str) -> str:
    runtime = _runtime()
    body = _read_body()
    secret = _webhook_secret(runtime, shop_id)
    if not verify.woocommerce(body, signature, secret):
        raise Refused(401, "signature", "X-WC-Webhook-Signature does not match the body")
    topic = request.headers.get("X-WC-Webhook-Topic", "").strip()
    if not topic:
        raise Refused(400, "no_topic", "X-WC-Webhook-Topic is missing")
    delivery = Delivery(
        platform="woocommerce",
        shop_id=shop_id,
        topic=topic,
        dedupe_key="",  # WooCommerce's delivery id is not stable: keyed on the resource below
        event_id=request.headers.get("X-WC-Webhook-Delivery-ID") or None,
        headers=_kept_headers(WOOCOMMERCE_HEADERS),
        body=body,
    )
    return _record(runtime, delivery, woocommerce_payloads.facts)


def _webhook_secret(runtime: Runtime, shop_id: int) -> str:
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.platform != "woocommerce":
            raise Refused(401, "unknown_shop", f"no WooCommerce shop {shop_id}")
        credentials = shop_credentials(runtime.vault, shop)
    return str(credentials.get("webhook_secret") or "")


def _shop_id(session: Session, platform: str, *, domain: str) -> int:
    shop_id = session.scalar(
        select(Shop.id).where(Shop.platform == platform, Shop.domain == domain)
    )
    if shop_id is None:
        raise Refused(401, "unknown_shop", f"no {platform} shop {domain!r} is installed")
    return int(shop_id)


# ------------------------------------------------------------------------------------- recording


def _record(runtime: Runtime, delivery: Delivery, facts_of: Any) -> str:
    """Store the delivery (or recognise it); commit; queue its processing. Returns the outcome."""
    try:
        data = json.loads(delivery.body)
    except (ValueError, RecursionError) as exc:
        _store_rejected(runtime, delivery, f"body is not JSON: {type(exc).__name__}")
        raise Refused(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        _store_rejected(runtime, delivery, "body is JSON but not an object")
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    facts: WebhookFacts = facts_of(delivery.topic, data)
    if not delivery.dedupe_key:
        # WooCommerce renders the body at delivery time and its modification time has whole
        # seconds: an order and a restock in the same second give two bodies with one time.
        # The body's hash tells a redelivery (same bytes) from news; the time is for people.
        when = facts.updated_at.isoformat() if facts.updated_at else "-"
        version = f"{when}:{_digest(delivery.body)[:32]}"
        delivery.dedupe_key = f"{delivery.topic}:{facts.resource_id or '-'}:{version}"[:255]
    inbox_id = _insert(runtime, delivery, facts.resource_id, facts.updated_at, "received", None)
    if inbox_id is None:
        metrics.DUPLICATES.labels(delivery.platform).inc()
        return "duplicate"
    runtime.jobs.enqueue(JOB, inbox_id, key=job_key(inbox_id))
    return "stored"


def _store_rejected(runtime: Runtime, delivery: Delivery, reason: str) -> None:
    delivery.dedupe_key = f"rejected:{_digest(delivery.body)}"
    _insert(runtime, delivery, None, None, "rejected", reason)


def _insert(
    runtime: Runtime,
    delivery: Delivery,
    resource_id: str | None,
    resource_updated_at: datetime | None,
    state: str,
    error: str | None,
) -> int | None:
    """One INSERT … ON CONFLICT DO NOTHING; the new row's id, or None for a duplicate.

    A Shopify delivery's shop is found in the same transaction: one transaction per delivery
    (on SQLite each takes the database's write lock, which the job threads want too).
    """
    values = {
        "platform": delivery.platform,
        "topic": delivery.topic[:64],
        "dedupe_key": delivery.dedupe_key,
        "event_id": (delivery.event_id or None) and delivery.event_id[:128],  # type: ignore[index]
        "resource_id": resource_id[:64] if resource_id else None,
        "resource_updated_at": resource_updated_at,
        "headers": delivery.headers,
        "body": delivery.body.decode("utf-8", errors="replace"),
        "received_at": runtime.clock.now(),
        "state": state,
        "attempts": 0,
        "error": error,
    }
    with runtime.db.transaction() as session:
        if delivery.shop_id is None:
            delivery.shop_id = _shop_id(session, delivery.platform, domain=delivery.shop_domain)
        values["shop_id"] = delivery.shop_id
        return _insert_row(session, values)


def _insert_row(session: Session, values: dict[str, Any]) -> int | None:
    row = session.execute(_insert_statement(session.get_bind().dialect.name), values).first()
    return None if row is None else int(row[0])


@cache
def _insert_statement(dialect: str) -> Any:
    """Built once per dialect, values passed as parameters: SQLAlchemy then compiles it once,
    instead of building and cache-keying a statement around each delivery's literal values."""
    table = WebhookEvent.__table__
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing().returning(table.c.id)
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing().returning(table.c.id)
    return insert(table).returning(table.c.id)  # pragma: no cover - the two supported databases
