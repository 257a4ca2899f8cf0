"""One GraphQL transport for Shopify's Admin API: auth, cost-based pacing and retries.

Shopify meters GraphQL by calculated cost in a leaky bucket per app and shop. Each answer reports
the bucket (`extensions.cost.throttleStatus`), so we remember it and, before sending a query whose
cost (as last requested for the same document) exceeds what should be available by now, sleep
exactly the time the bucket needs to refill: pacing instead of being throttled. The bucket is
the shop's, not one transport's: the worker threads of one process writing to the same shop share
one `CostBucket` and take points from it before they send, so they queue behind each other
instead of all spending the same points. A THROTTLED answer still happens (another app or process
drains the shop's bucket) and is retried after the restore time.
Transient HTTP failures (429, 5xx, connection errors, timeouts) are retried with exponential
backoff and jitter, honouring Retry-After; 401/403 mean the token is gone, so we stop at once,
except that an expiring token (a `TokenKeeper` with a refresh token) is renewed once on a 401
and the request sent again. The keeper also renews it shortly before it lapses.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
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


class CostBucket:
    """One shop's bucket as this process sees it, shared by its transports for that shop.

    Shopify's figure counts the requests it has answered; points taken for requests still in
    flight are subtracted from it, so a thread reading the bucket while another's request is
    on the wire does not spend the same points again. What each document last cost is shared
    too: a job's first query of a kind is paced by what the last job's cost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.status: ThrottleStatus | None = None
        self.costs: dict[str, float] = {}  # last requested cost per document
        self._in_flight = 0.0

    def take(self, cost: float, now: datetime) -> tuple[float, float]:
        """Take `cost` points for a request about to be sent: (seconds to wait first, points
        taken). They are taken before the wait, so the next caller waits its turn behind them."""
        with self._lock:
            status = self.status
            if status is None or status.restore_rate <= 0:
                return 0.0, 0.0
            cost = min(cost, status.maximum)
            self._in_flight += cost
            available = status.projected(now)
            self.status = replace(status, available=available - cost, observed_at=now)
            return max(cost - available, 0.0) / status.restore_rate, cost

    def landed(self, taken: float) -> None:
        """The request that took `taken` points was answered (or failed): no longer in flight."""
        with self._lock:
            self._in_flight = max(self._in_flight - taken, 0.0)

    def observe(self, status: ThrottleStatus) -> None:
        """Shopify's figure, less what other requests in flight have taken."""
        with self._lock:
            self.status = replace(status, available=status.available - self._in_flight)


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
        bucket: CostBucket | None = None,
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
        self.bucket = bucket or CostBucket()
        self.requested_cost = self.bucket.costs
        self.throttled_count = 0  # THROTTLED answers absorbed (for metrics and tests)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document; returns `data`. Raises StoreError / NeedsReauthorization."""
        failures = 0
        throttled = 0
        renewed = False  # an expiring token is renewed at most once per call after a 401
        while True:
            taken = self._pace(query)
            token = self._authorize()
            try:
                response = self.session.post(
                    self.url, json={"query": query, "variables": variables or {}}, timeout=TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                self._backoff_or_raise(failures, None, f"connection failed: {exc}")
                continue
            finally:
                self.bucket.landed(taken)
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
                if cost is None:  # nothing to pace the retry by: wait a second of restore
                    self.sleep(self.backoff_base if self.status is None else 1.0)
                continue  # paced by the bucket Shopify just reported: exactly the refill
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
    @property
    def status(self) -> ThrottleStatus | None:
        return self.bucket.status

    def _pace(self, query: str) -> float:
        """Wait until the bucket holds what `query` last cost; the points taken for it."""
        cost = self.requested_cost.get(query)
        if cost is None:
            return 0.0
        wait, taken = self.bucket.take(cost, self.now())
        if wait > 0:
            self.sleep(wait)
        return taken

    def _observe(self, query: str, body: dict[str, Any]) -> float | None:
        """Remember the bucket and this document's requested cost from `extensions.cost`. The
        figure is dated when the answer came, the latest Shopify can have counted it: projected
        from an earlier time it would promise points not yet there."""
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        with contextlib.suppress(KeyError, TypeError, ValueError):  # no status: keep the last
            self.bucket.observe(
                ThrottleStatus(
                    float(status["maximumAvailable"]),
                    float(status["currentlyAvailable"]),
                    float(status["restoreRate"]),
                    self.now(),
                )
            )
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.requested_cost[query] = float(requested)
            return float(requested)
        return None

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
