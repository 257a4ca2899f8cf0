"""One GraphQL transport for Shopify's Admin API: auth, cost-based pacing and retries.

Shopify meters GraphQL by calculated cost in a leaky bucket per app and shop. Each answer reports
the bucket (`extensions.cost.throttleStatus`), so we remember it and, before sending a query whose
cost (as last requested for the same document) exceeds what should be available by now, sleep
exactly the time the bucket needs to refill: pacing instead of being throttled. A THROTTLED answer
still happens (another app drains the shared bucket) and is retried after the restore time.
Transient HTTP failures (429, 5xx, connection errors, timeouts) are retried with exponential
backoff and jitter, honouring Retry-After; 401/403 mean the token is gone, so we stop at once,
except that an expiring token (a `TokenKeeper` with a refresh token) is renewed once on a 401
and the request sent again. The keeper also renews it shortly before it lapses.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from adapters.base import NeedsReauthorization, StoreError
from adapters.shopify.clock import real_sleep, utc_now
from adapters.shopify.oauth import OfflineToken, TokenKeeper

USER_AGENT = "backorder-connector/0.1"
TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class ThrottleStatus:
    """The bucket as last reported, and when: enough to project what is available now."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: datetime

    def projected(self, now: datetime) -> float:
        elapsed = max((now - self.observed_at).total_seconds(), 0.0)
        return min(self.maximum, self.available + elapsed * self.restore_rate)

    def wait_for(self, cost: float, now: datetime) -> float:
        """Seconds until `cost` points are available (0 if they are; never more than needed)."""
        if self.restore_rate <= 0:
            return 0.0
        missing = min(cost, self.maximum) - self.projected(now)
        return missing / self.restore_rate if missing > 0 else 0.0


def admin_base_url(template: str, shop: str, version: str) -> str:
    """Fill `{shop}`/`{version}` if the template has them (the sandbox gives a full URL)."""
    if "{shop}" in template or "{version}" in template:
        return template.replace("{shop}", shop).replace("{version}", version).rstrip("/")
    return template.rstrip("/")


class GraphQLTransport:
    """POSTs documents to `{admin_base_url}/graphql.json` and returns `data`, or raises."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        session: requests.Session | None = None,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = real_sleep,
        max_attempts: int = 6,
        max_throttled: int = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        jitter: Callable[[], float] = random.random,
        tokens: TokenKeeper | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/graphql.json"
        self.session = session or requests.Session()
        self.tokens = tokens or TokenKeeper(OfflineToken(access_token))
        self.session.headers.update(
            {
                "X-Shopify-Access-Token": self.tokens.token.access_token,
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )
        self.now = now
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.max_throttled = max_throttled
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.status: ThrottleStatus | None = None
        self.requested_cost: dict[str, float] = {}  # last requested cost per document
        self.throttled_count = 0  # THROTTLED answers absorbed (for metrics and tests)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document; returns `data`. Raises StoreError / NeedsReauthorization."""
        failures = 0
        throttled = 0
        renewed = False  # an expiring token is renewed at most once per call after a 401
        waited = False  # just slept for the restore: pacing again would wait twice
        while True:
            if not waited:
                self._pace(query)
            waited = False
            token = self._authorize()
            try:
                response = self.session.post(
                    self.url, json={"query": query, "variables": variables or {}}, timeout=TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                self._backoff_or_raise(failures, None, f"connection failed: {exc}")
                continue
            code = response.status_code
            if code == 401 and not renewed:
                renewed = True
                if self.tokens.renew_after_rejection(token):
                    continue
            if code in (401, 403):
                raise NeedsReauthorization(f"Shopify answered {code}: {_text(response)}")
            if code in RETRY_STATUSES:
                failures += 1
                self._backoff_or_raise(failures, response, f"Shopify answered {code}")
                continue
            if code != 200:
                raise StoreError(f"Shopify answered {code}: {_text(response)}")
            body = _json(response)
            cost = self._observe(query, body)
            errors = body.get("errors")
            if errors and _is_throttled(errors):
                throttled += 1
                self.throttled_count += 1
                if throttled > self.max_throttled:
                    raise StoreError(f"still throttled after {self.max_throttled} waits")
                self.sleep(self._restore_wait(cost))
                waited = True
                continue
            if errors:
                raise StoreError(_messages(errors))
            data = body.get("data")
            if not isinstance(data, dict):
                raise StoreError("Shopify answered without data")
            return data

    def _authorize(self) -> str:
        """Put the current access token (renewed first if it is about to lapse) on the session."""
        token = self.tokens.access_token()
        self.session.headers["X-Shopify-Access-Token"] = token
        return token

    # ------------------------------------------------------------------ pacing
    def _pace(self, query: str) -> None:
        cost = self.requested_cost.get(query)
        if cost is None or self.status is None:
            return
        wait = self.status.wait_for(cost, self.now())
        if wait > 0:
            self.sleep(wait)

    def _observe(self, query: str, body: dict[str, Any]) -> float | None:
        """Remember the bucket and this document's requested cost from `extensions.cost`."""
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        with contextlib.suppress(KeyError, TypeError, ValueError):  # no status: keep the last
            self.status = ThrottleStatus(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
                self.now(),
            )
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.requested_cost[query] = float(requested)
            return float(requested)
        return None

    def _restore_wait(self, requested: float | None) -> float:
        """After THROTTLED: exactly the refill time for the query, else one second of restore."""
        if self.status is None:
            return self.backoff_base
        if requested is None:
            return 1.0
        wait = self.status.wait_for(requested, self.now())
        return wait if wait > 0 else 1.0 / max(self.status.restore_rate, 1.0)

    # ------------------------------------------------------------------ retries
    def _backoff_or_raise(
        self, failures: int, response: requests.Response | None, reason: str
    ) -> None:
        if failures >= self.max_attempts:
            raise StoreError(f"{reason} (gave up after {failures} attempts)")
        retry_after = _retry_after(response) if response is not None else None
        if retry_after is not None:
            self.sleep(retry_after)
            return
        delay = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        self.sleep(delay * (0.5 + self.jitter() / 2))  # "equal jitter": never zero, never more


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (Shopify sends seconds; HTTP dates are not used by it)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None


def _is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return str(errors)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise StoreError(f"Shopify answered non-JSON: {_text(response)}") from exc
    if not isinstance(body, dict):
        raise StoreError("Shopify answered an unexpected JSON shape")
    return body


def _text(response: requests.Response) -> str:
    return response.text[:300]
