"""The two webhook routes: verify → record in the inbox → commit → 200, never waiting for work.

Shopify retries a failed delivery 8 times and then deletes the subscription; WooCommerce never
retries and disables a webhook after a few failures. So the answer must be quick and must mean
"stored": the inbox row is committed before the 200, and processing happens in a job. A delivery
seen before is acknowledged and not stored again. Nothing is stored for a delivery whose
signature fails; a signed body that is not a JSON object is stored as `rejected` for inspection.

The request threads verify and parse; the process's inbox writer (webhooks.inbox_writer) stores
whatever deliveries are waiting in one INSERT and one commit (group commit), and each request
answers once its own batch has committed: 200 still means stored, a failed batch gets a 5xx.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from adapters.base import WebhookFacts
from adapters.shopify import webhooks as shopify_payloads
from adapters.woocommerce import webhooks as woocommerce_payloads
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.shops import shop_credentials
from webhooks import metrics, verify
from webhooks.inbox_writer import DUPLICATE, UNKNOWN_SHOP, Entry, InboxWriter, StoreFailed
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


def _environ_keys(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each header's name and its WSGI environ key (`X-Shopify-Topic` → `HTTP_X_SHOPIFY_TOPIC`)."""
    return tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in names)


def _kept_headers(keys: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The headers that matter, read straight from the environ (what request.headers does,
    without its per-lookup name mangling: the intake reads these on every delivery)."""
    environ = request.environ
    return {name: environ[key] for name, key in keys if key in environ}


_SHOPIFY_KEYS = _environ_keys(SHOPIFY_HEADERS)
_WOOCOMMERCE_KEYS = _environ_keys(WOOCOMMERCE_HEADERS)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _respond(platform: str, handle: Any) -> Response:
    """Run one intake, turning refusals into their status, and count what happened."""
    started = time.perf_counter()
    try:
        outcome = handle()
    except Refused as refused:
        metrics.rejected(platform, refused.reason)
        # One line, never the body: it holds customers' data.
        log.warning("webhook refused (%s): %s", platform, refused.message)
        body = json.dumps({"error": {"code": refused.reason, "message": refused.message}})
        return Response(body, status=refused.status, mimetype="application/json")
    metrics.acknowledged(platform, outcome, time.perf_counter() - started)
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
    headers = _kept_headers(_SHOPIFY_KEYS)
    domain = headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    topic = headers.get("X-Shopify-Topic", "").strip()
    if not topic:
        raise Refused(400, "no_topic", "X-Shopify-Topic is missing")
    webhook_id = headers.get("X-Shopify-Webhook-Id", "").strip()
    delivery = Delivery(
        platform="shopify",
        shop_id=None,  # the batch's transaction finds the shop (401 if unknown) and stores it
        shop_domain=domain,
        topic=topic,
        # The delivery id is Shopify's idempotency key; a body hash stands in if it is missing.
        dedupe_key=f"shopify:{webhook_id[:200]}" if webhook_id else f"sha256:{_digest(body)}",
        event_id=headers.get("X-Shopify-Event-Id") or None,
        headers=headers,
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
        metrics.acknowledged("woocommerce", "ping", None)
        return Response(status=200)
    return _respond("woocommerce", lambda: _woocommerce(shop_id, signature or ""))


def _woocommerce(shop_id: int, signature: str) -> str:
    runtime = _runtime()
    body = _read_body()
    secret = _webhook_secret(runtime, shop_id)
    if not verify.woocommerce(body, signature, secret):
        raise Refused(401, "signature", "X-WC-Webhook-Signature does not match the body")
    headers = _kept_headers(_WOOCOMMERCE_KEYS)
    topic = headers.get("X-WC-Webhook-Topic", "").strip()
    if not topic:
        raise Refused(400, "no_topic", "X-WC-Webhook-Topic is missing")
    delivery = Delivery(
        platform="woocommerce",
        shop_id=shop_id,
        topic=topic,
        dedupe_key="",  # WooCommerce's delivery id is not stable: keyed on the resource below
        event_id=headers.get("X-WC-Webhook-Delivery-ID") or None,
        headers=headers,
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


# ------------------------------------------------------------------------------------- recording


def _record(runtime: Runtime, delivery: Delivery, facts_of: Any) -> str:
    """Store the delivery (or recognise it) in the inbox writer's next batch, wait for its
    commit, then queue its processing. Returns the outcome."""
    try:
        data = json.loads(delivery.body)
    except (ValueError, RecursionError) as exc:
        _store(runtime, delivery, None, None, "rejected", f"body is not JSON: {type(exc).__name__}")
        raise Refused(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        _store(runtime, delivery, None, None, "rejected", "body is JSON but not an object")
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    facts: WebhookFacts = facts_of(delivery.topic, data)
    if not delivery.dedupe_key:
        # WooCommerce renders the body at delivery time and its modification time has whole
        # seconds: an order and a restock in the same second give two bodies with one time.
        # The body's hash tells a redelivery (same bytes) from news; the time is for people.
        when = facts.updated_at.isoformat() if facts.updated_at else "-"
        version = f"{when}:{_digest(delivery.body)[:32]}"
        delivery.dedupe_key = f"{delivery.topic}:{facts.resource_id or '-'}:{version}"[:255]
    inbox_id = _store(runtime, delivery, facts.resource_id, facts.updated_at, "received", None)
    if inbox_id is None:
        metrics.duplicate(delivery.platform)
        return "duplicate"
    runtime.jobs.enqueue(JOB, inbox_id, key=job_key(inbox_id))
    return "stored"


def _store(
    runtime: Runtime,
    delivery: Delivery,
    resource_id: str | None,
    resource_updated_at: datetime | None,
    state: str,
    error: str | None,
) -> int | None:
    """The new inbox row's id once its batch has committed, or None for a duplicate.

    A Shopify delivery's shop is found in the batch's transaction (401 if it is unknown). A
    signed body that is not JSON is kept as `rejected`, keyed on its hash.
    """
    if state == "rejected":
        delivery.dedupe_key = f"rejected:{_digest(delivery.body)}"
    row = {
        "platform": delivery.platform,
        "topic": delivery.topic[:64],
        "dedupe_key": delivery.dedupe_key,
        "event_id": delivery.event_id[:128] if delivery.event_id else None,
        "resource_id": resource_id[:64] if resource_id else None,
        "resource_updated_at": resource_updated_at,
        "headers": delivery.headers,
        "body": _text(delivery.body),
        "received_at": runtime.clock.now(),
        "state": state,
        "attempts": 0,
        "error": error,
    }
    entry = Entry(delivery.platform, delivery.shop_id, delivery.shop_domain, row)
    try:
        result = _writer(runtime).store(entry)
    except StoreFailed as failed:
        raise Refused(503, "not_stored", f"{failed}; send it again") from None
    if result == UNKNOWN_SHOP:
        where = repr(delivery.shop_domain) if delivery.shop_id is None else delivery.shop_id
        raise Refused(401, "unknown_shop", f"no {delivery.platform} shop {where} is installed")
    return None if result == DUPLICATE else result


def _text(body: bytes) -> str:
    """The body as stored: UTF-8 (invalid bytes replaced), without NUL characters, which
    PostgreSQL's text cannot hold (only a body that is not JSON has raw ones: a rejected one)."""
    text = body.decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_writer_lock = threading.Lock()


def _writer(runtime: Runtime) -> InboxWriter:
    """The app's inbox writer: one per process as deployed (tests make an app each)."""
    extensions = current_app.extensions
    writer = extensions.get("webhooks.inbox_writer")
    if writer is None:
        with _writer_lock:
            writer = extensions.get("webhooks.inbox_writer")
            if writer is None:
                writer = extensions["webhooks.inbox_writer"] = InboxWriter(runtime.db)
    return writer  # type: ignore[no-any-return]
