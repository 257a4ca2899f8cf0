"""Webhook delivery, as `WC_Webhook` does it (class-wc-webhook.php, woocommerce/woocommerce).

- `deliver()`: POST of `trim(wp_json_encode(payload))` (compact, "/" escaped as "\\/"), with
  X-WC-Webhook-Source (`home_url('/')`), -Topic, -Resource, -Event, -Signature (base64
  HMAC-SHA256 of the raw body with the secret), -ID, -Delivery-ID, user agent
  "WooCommerce/x Hookshot (WordPress/y)", no redirects followed.
- The payload is built when the queued job runs, so it shows the resource at delivery time;
  a job already pending for the same (webhook, resource) is not queued twice (Action Scheduler).
- `log_delivery()`: 200-302 is success and resets the failure count; anything else counts a
  consecutive failure and, at the store's limit, disables the webhook. Nothing is retried.
- `deliver_ping()`: unsigned form body `webhook_id=<id>`, no X-WC headers; not 200 is an error.

One daemon worker thread delivers in order; it takes `store.lock` only to read the payload and
to record the outcome, never while waiting on the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time

import requests

from .rest import resource_json
from .store import WooStore


class WebhookDispatcher:
    """Queues announced changes for matching active webhooks and delivers them in a thread."""

    def __init__(self, store: WooStore, *, timeout: float = 10.0) -> None:
        self.store = store
        self.timeout = timeout
        self.session = requests.Session()
        self.delivered: list[dict[str, object]] = []  # outcome log, newest last
        self._queue: queue.Queue[tuple[int, str, int] | None] = queue.Queue()
        self._pending: set[tuple[int, int]] = set()
        self._thread = threading.Thread(target=self._run, name="woo-webhooks", daemon=True)
        store.subscribe(self.announce)
        self._thread.start()

    @property
    def user_agent(self) -> str:
        """WooCommerce's Hookshot user agent."""
        s = self.store.settings
        return f"WooCommerce/{s.wc_version} Hookshot (WordPress/{s.wp_version})"

    def announce(self, topic: str, resource_id: int) -> None:
        """Store subscriber (called with the store lock held): enqueue, never block."""
        for w in self.store.webhooks.values():
            if w.status != "active" or w.topic != topic:
                continue
            if (w.id, resource_id) in self._pending:
                continue  # collapsed with the job already waiting
            self._pending.add((w.id, resource_id))
            self._queue.put((w.id, topic, resource_id))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery has been attempted (for tests and demos)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        """Stop the worker after what is queued."""
        self._queue.put(None)
        self._thread.join(timeout=5)

    def ping(self, webhook_id: int) -> str | None:
        """Send the creation ping; return WooCommerce's error text, or None on exactly 200."""
        with self.store.lock:
            url = self.store.webhook(webhook_id).delivery_url
        try:
            answer = self.session.post(
                url,
                data=f"webhook_id={webhook_id}",
                headers={
                    "User-Agent": self.user_agent,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = f"Error: Delivery URL cannot be reached: {exc}"
        else:
            error = (
                None
                if answer.status_code == 200
                else f"Error: Delivery URL returned response code: {answer.status_code}"
            )
        with self.store.lock:
            self.store.ping_errors.pop(webhook_id, None)
            if error:
                self.store.ping_errors[webhook_id] = error
            elif webhook_id in self.store.webhooks:
                self.store.webhooks[webhook_id].pending_delivery = False
        return error

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(*job)
            except Exception as exc:  # the worker must outlive any one bad delivery
                self.delivered.append({"error": repr(exc)})
            finally:
                self._queue.task_done()

    def _deliver(self, webhook_id: int, topic: str, resource_id: int) -> None:
        store = self.store
        with store.lock:
            self._pending.discard((webhook_id, resource_id))
            w = store.webhooks.get(webhook_id)
            if w is None or w.status != "active":
                return
            if store.take_webhook_drop():
                self.delivered.append({"webhook_id": webhook_id, "topic": topic, "dropped": True})
                return
            resource, _, event = topic.partition(".")
            payload = None if event == "deleted" else resource_json(store, resource, resource_id)
            body = encode(payload if payload is not None else {"id": resource_id})
            url, secret = w.delivery_url, w.secret
            stamp = f"{w.id}:{store.now().timestamp()}:{store.next_id('delivery')}"
            delivery_id = hashlib.sha256(stamp.encode()).hexdigest()[:32]
            source = store.settings.home_url
        headers = {
            "User-Agent": self.user_agent,
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": source,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature(body, secret),
            "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        try:
            code = self.session.post(
                url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ).status_code
        except requests.RequestException:
            code = 0
        ok = 200 <= code < 303
        if ok:
            store.delivery_succeeded(webhook_id)
        else:
            store.delivery_failed(webhook_id)
        self.delivered.append(
            {"webhook_id": webhook_id, "topic": topic, "resource_id": resource_id, "status": code}
        )


def encode(payload: object) -> bytes:
    """`trim(wp_json_encode(...))`: compact JSON, non-ASCII as \\uXXXX, "/" escaped."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode()


def signature(body: bytes, secret: str) -> str:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body, keyed by the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
