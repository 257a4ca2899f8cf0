"""The one place this project calls WooCommerce: the `woocommerce` package, wrapped once.

`woocommerce.API` signs requests (OAuth 1.0a over http, Basic over https) but sends each with a
fresh `requests.request` (no keep-alive), has a 5 s timeout, no retries and no pagination. This
module adds those: one persistent `requests.Session`, (connect 5 s, read 30 s) timeouts, retries
with backoff on 429/5xx/connection errors/timeouts honouring `Retry-After`, 401/403 surfaced at
once as `NeedsReauthorization`, other 4xx as `WooRequestError` carrying WooCommerce's
`{"code", "message"}`, and a pager over `X-WP-TotalPages`. With `allow_private=False` (the
default) the session only connects over https to hosts that resolve to public addresses, checked
on every new connection and redirect hop (`adapters.netguard`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from json import dumps
from typing import Any

import requests
from requests.auth import HTTPBasicAuth
from woocommerce import API

from adapters.base import NeedsReauthorization, StoreError
from adapters.netguard import guard_session
from adapters.woocommerce.clock import utc_now
from adapters.woocommerce.retry import (
    RETRY_STATUSES,
    RETRY_STATUSES_UNSAFE,
    Backoff,
    retry_after_seconds,
)

USER_AGENT = "backorder-connector/0.1"
TIMEOUT = (5.0, 30.0)  # (connect, read): slow shared hosting needs far more than the lib's 5 s
PER_PAGE = 100  # WordPress's maximum per_page
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})


class WooRequestError(StoreError):
    """A WooCommerce error answer: HTTP status plus its `code` and `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"WooCommerce answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class WooReauthorization(NeedsReauthorization, WooRequestError):
    """401/403 with WooCommerce's code and message (e.g. `woocommerce_rest_cannot_view`)."""


class _SessionAPI(API):
    """`woocommerce.API` sending through one `requests.Session` (connection reuse).

    The library has no transport hook: its private `__request` calls `requests.request`. We
    override that one method, keeping the library's URL building and OAuth signing, and also
    stop it sending the query twice over http (it puts the params in the signed URL *and* in
    `params=`, which only works because PHP keeps the last duplicate).
    """

    def __init__(self, *args: Any, session: requests.Session, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session

    def _API__request(  # the name-mangled private method of woocommerce.API
        self,
        method: str,
        endpoint: str,
        data: Any,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        params = dict(params or {})
        url = self._API__get_url(endpoint)  # type: ignore[attr-defined]
        auth = None
        headers = {"user-agent": self.user_agent, "accept": "application/json"}
        if self.is_ssl and not self.query_string_auth:
            auth = HTTPBasicAuth(self.consumer_key, self.consumer_secret)
        elif self.is_ssl:
            params.update(consumer_key=self.consumer_key, consumer_secret=self.consumer_secret)
        else:
            query = requests.models.RequestEncodingMixin._encode_params(params)
            signed = f"{url}?{query}" if query else url
            url = self._API__get_oauth_url(signed, method)  # type: ignore[attr-defined]
            params = {}
        body = None
        if data is not None:
            body = dumps(data, ensure_ascii=False).encode("utf-8")
            headers["content-type"] = "application/json;charset=utf-8"
        return self.session.request(
            method=method,
            url=url,
            verify=self.verify_ssl,
            auth=auth,
            params=params,
            data=body,
            timeout=self.timeout,
            headers=headers,
            **kwargs,
        )


class WooClient:
    """Authenticated, retrying JSON calls to one store's `/wp-json/wc/v3/`."""

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        query_string_auth: bool = False,
        allow_private: bool = False,
    ) -> None:
        """`allow_private=False` (the default; ALLOW_PRIVATE_STORE_URLS off): https to public
        addresses only, re-checked on every connection and redirect (`adapters.netguard`).
        `allow_private=True` (development, the sandbox) leaves the session unguarded."""
        self.session = session or requests.Session()
        if not allow_private:
            guard_session(self.session)
        self.sleep = sleep
        self.now = now
        self.backoff = backoff or Backoff()
        self.api = _SessionAPI(
            url,
            consumer_key,
            consumer_secret,
            version="wc/v3",
            timeout=timeout,
            user_agent=USER_AGENT,
            query_string_auth=query_string_auth,
            session=self.session,
        )

    # ------------------------------------------------------------------ calls
    def get(self, endpoint: str, params: dict[str, Any] | None = None) -> Any:
        """GET → decoded JSON."""
        return self._json(self.request("GET", endpoint, params=params))

    def post(self, endpoint: str, data: dict[str, Any]) -> Any:
        """POST → decoded JSON (retried only when the store refused it unhandled)."""
        return self._json(self.request("POST", endpoint, data=data))

    def put(self, endpoint: str, data: dict[str, Any]) -> Any:
        """PUT → decoded JSON (idempotent: retried like a GET)."""
        return self._json(self.request("PUT", endpoint, data=data))

    def pages(
        self, endpoint: str, params: dict[str, Any] | None = None, *, start: int = 1
    ) -> Iterator[tuple[int, list[dict[str, Any]], int]]:
        """(page number, items, X-WP-TotalPages) for each page from `start` until the last."""
        page = start
        while True:
            answer = self.request(
                "GET", endpoint, params={**(params or {}), "per_page": PER_PAGE, "page": page}
            )
            items = self._json(answer)
            if not isinstance(items, list):
                raise StoreError(f"{endpoint}: expected a JSON list, got {type(items).__name__}")
            total = _int(answer.headers.get("X-WP-TotalPages"), default=page)
            yield page, items, total
            if not items or page >= total:
                return
            page += 1

    def all(self, endpoint: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated collection."""
        return [item for _, items, _ in self.pages(endpoint, params) for item in items]

    # ------------------------------------------------------------------ transport
    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> requests.Response:
        """One call with retries; raises `StoreError` (or `NeedsReauthorization`) on failure."""
        safe = method in IDEMPOTENT
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                answer = self.api._API__request(method, endpoint, data, params=params)  # type: ignore[attr-defined]
            except (requests.ConnectionError, requests.Timeout) as exc:
                retryable = safe or isinstance(exc, requests.ConnectTimeout)
                if not retryable or attempt >= self.backoff.max_attempts:
                    raise StoreError(f"{method} {endpoint}: {exc}") from exc
            else:
                status = answer.status_code
                if status < 400:
                    return answer
                if status in (401, 403):
                    raise WooReauthorization(status, *_error_of(answer))
                retryable = status in (RETRY_STATUSES if safe else RETRY_STATUSES_UNSAFE)
                if not retryable or attempt >= self.backoff.max_attempts:
                    raise WooRequestError(status, *_error_of(answer))
                retry_after = retry_after_seconds(answer.headers.get("Retry-After"), self.now)
            self.sleep(self.backoff.delay(attempt, retry_after))

    @staticmethod
    def _json(answer: requests.Response) -> Any:
        try:
            return answer.json()
        except ValueError as exc:
            raise StoreError(f"not JSON from {answer.url}: {answer.text[:200]!r}") from exc


def _error_of(answer: requests.Response) -> tuple[str, str]:
    """WooCommerce's `{"code","message"}`, or the status text when a proxy answered instead."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return str(body["code"]), str(body.get("message", ""))
    return f"http_{answer.status_code}", (answer.text or answer.reason or "")[:200]


def _int(value: str | None, *, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
