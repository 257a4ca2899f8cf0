"""Webhook delivery: posts announced events to subscribers as Shopify does, with retries.

Headers and signature per shopify.dev/docs/apps/build/webhooks (X-Shopify-Hmac-Sha256 is
base64 HMAC-SHA256 of the raw body with the app's secret). A delivery succeeds on a 2xx within
5 s (1 s to connect); otherwise it is retried `retries` times (Shopify: 8 over 4 hours; here
compressed to base_delay x 2^n) and then the subscription is deleted. X-Shopify-Webhook-Id is
one per (event, subscription) and stays the same on retries, so receivers can dedupe on it.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.shopify.models import WebhookEvent
from sandbox.shopify.store import ShopifyStore


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256 value for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Attempt:
    event: WebhookEvent
    subscription: int | None
    url: str
    webhook_id: str
    body: bytes
    number: int = 0


class WebhookDelivery:
    """Background workers draining a time-ordered queue of delivery attempts."""

    def __init__(
        self,
        store: ShopifyStore,
        api_secret: str,
        api_version: str,
        *,
        retries: int = 8,
        base_delay: float = 0.05,
        workers: int = 4,
        timeout: tuple[float, float] = (1.0, 5.0),
    ) -> None:
        self.store = store
        self.api_secret = api_secret
        self.api_version = api_version
        self.retries = retries
        self.base_delay = base_delay
        self.timeout = timeout
        self.log: list[dict[str, Any]] = []
        self._queue: list[tuple[float, int, Attempt]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._session = requests.Session()
        self._threads = [
            threading.Thread(target=self._work, daemon=True, name=f"shopify-webhooks-{i}")
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()
        store.listeners.append(self.enqueue)

    def enqueue(self, event: WebhookEvent) -> None:
        body = json.dumps(event.body, separators=(",", ":")).encode()
        for subscription, url in event.callback_urls:
            self._push(0.0, Attempt(event, subscription, url, str(uuid.uuid4()), body))

    def _push(self, delay: float, attempt: Attempt) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), attempt))
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, attempt = heapq.heappop(self._queue)
            self._deliver(attempt)

    def headers(self, attempt: Attempt) -> dict[str, str]:
        event = attempt.event
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": event.topic,
            "X-Shopify-Hmac-Sha256": sign(self.api_secret, attempt.body),
            "X-Shopify-Shop-Domain": self.store.shop.myshopifyDomain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": attempt.webhook_id,
            "X-Shopify-Event-Id": event.event_id,
            "X-Shopify-Triggered-At": event.triggered_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def _deliver(self, attempt: Attempt) -> None:
        status: int | None = None
        try:
            response = self._session.post(
                attempt.url, data=attempt.body, headers=self.headers(attempt), timeout=self.timeout
            )
            status = response.status_code
        except requests.RequestException:
            status = None
        ok = status is not None and 200 <= status < 300
        with self._cond:
            self.log.append(
                {
                    "topic": attempt.event.topic,
                    "url": attempt.url,
                    "attempt": attempt.number,
                    "status": status,
                    "ok": ok,
                    "webhook_id": attempt.webhook_id,
                }
            )
        if ok:
            return
        if attempt.number < self.retries:
            attempt.number += 1
            self._push(self.base_delay * 2 ** (attempt.number - 1), attempt)
        elif attempt.subscription is not None:
            self.store.drop_subscription(attempt.subscription)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self.enqueue in self.store.listeners:
            self.store.listeners.remove(self.enqueue)
