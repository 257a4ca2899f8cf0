"""Shopify's token endpoint: the install's code or token exchange; keeping a token fresh.

Adapters are the only code that talks to stores, so the install service asks `exchange_code`
instead of holding an HTTP client of its own.

Expiring offline tokens live an hour and come with a refresh token (90 days). `TokenKeeper`
refreshes the access token a few minutes before it lapses, or once after a 401, and hands each
new pair to the caller's `on_refresh` so it is stored before anything else can need it. Several
processes may hold the same pair, and Shopify replaces the refresh token on each use, so:
- before refreshing, the keeper re-reads the stored pair (`reload`): if another process already
  refreshed, it adopts that pair and sends nothing;
- `on_refresh` stores the new pair only if the stored one does not expire later (the caller
  re-reads the row under a lock), and returns whichever pair is stored: that is the live one;
- a refresh refused with `invalid_grant` may mean another process spent the same refresh token
  a moment ago and is still storing its result: the keeper re-reads the stored pair for a few
  seconds and, once it changes, continues with it. Only if it never changes is the refresh
  token dead: `NeedsReauthorization`, which the sync marks on the shop.
Tokens never appear in messages, logs or reprs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from adapters.base import NeedsReauthorization, StoreError
from adapters.shopify.clock import real_sleep, utc_now

log = logging.getLogger(__name__)

TIMEOUT = 15.0
REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before the access token lapses
# How long to keep re-reading the stored pair after `invalid_grant`, in case another process
# spent our refresh token and has not stored its new pair yet (seconds between reads).
RELOAD_WAITS: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.5, 2.0)
# After a refresh that could not reach Shopify, while the token still works: try again this late.
QUIET_AFTER_FAILURE = timedelta(seconds=30)


def exchange_code(
    authorize_host: str,
    api_key: str,
    api_secret: str,
    code: str,
    *,
    session: requests.Session | None = None,
    expiring: bool = True,
) -> dict[str, Any]:
    """POST the code to `{authorize_host}/admin/oauth/access_token`; the answer as Shopify gave it.

    `expiring` asks for an expiring offline token with a refresh token (`expiring=1`), which
    public apps must use (required for all of them from 2027-01-01).
    Not retried: a code is single-use, and a retry after a lost answer would only be refused.
    """
    http = session or requests.Session()
    body: dict[str, Any] = {"client_id": api_key, "client_secret": api_secret, "code": code}
    if expiring:
        body["expiring"] = 1
    try:
        answer = http.post(
            f"{authorize_host.rstrip('/')}/admin/oauth/access_token", json=body, timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        raise StoreError(f"the code exchange did not reach the store: {exc}") from exc
    if answer.status_code != 200:
        raise StoreError(f"the store refused the code exchange ({answer.status_code})")
    try:
        data = answer.json()
    except ValueError as exc:
        raise StoreError("the code exchange answered with something other than JSON") from exc
    if not isinstance(data, dict) or not data.get("access_token"):
        raise StoreError("the code exchange answered without an access token")
    return data


TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105


class SubjectTokenRefused(StoreError):
    """Shopify refused the session token itself (`invalid_subject_token`)."""


def exchange_session_token(
    authorize_host: str,
    api_key: str,
    api_secret: str,
    id_token: str,
    *,
    session: requests.Session | None = None,
    expiring: bool = True,
) -> dict[str, Any]:
    """Token exchange: trade an embedded app's session token for an offline access token.

    POSTs to `{authorize_host}/admin/oauth/access_token` (shopify.dev ".../token-exchange").
    `shopify_app.exchange.token_exchange` builds the URL from the token's `dest` host and cannot
    be pointed at the sandbox, so the request is made here, like `exchange_code`.
    Raises `SubjectTokenRefused` when Shopify rejects the session token, `StoreError` otherwise.
    Not retried: the caller answers the merchant, whose next app load brings a fresh token.
    """
    http = session or requests.Session()
    body: dict[str, Any] = {
        "client_id": api_key,
        "client_secret": api_secret,
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": 1 if expiring else 0,
    }
    try:
        answer = http.post(
            f"{authorize_host.rstrip('/')}/admin/oauth/access_token", json=body, timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        raise StoreError(
            f"the token exchange did not reach the store: {type(exc).__name__}"
        ) from None
    error = _oauth_error(answer)
    if answer.status_code in (400, 401) and error == "invalid_subject_token":
        raise SubjectTokenRefused("Shopify refused the session token (invalid_subject_token)")
    if answer.status_code != 200:
        raise StoreError(f"the store refused the token exchange ({answer.status_code} {error})")
    try:
        data = answer.json()
    except ValueError:
        raise StoreError("the token exchange answered with something other than JSON") from None
    if not isinstance(data, dict) or not data.get("access_token"):
        raise StoreError("the token exchange answered without an access token")
    return data


# ---------------------------------------------------------------------------- expiring tokens


@dataclass(frozen=True)
class OfflineToken:
    """An offline access token and, when it expires, its refresh token and expiry (UTC)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def due(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        """Time to refresh: within `margin` of expiry (never, for a token that does not expire)."""
        return self.expires_at is not None and now >= self.expires_at - margin

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @classmethod
    def from_answer(cls, answer: dict[str, Any], now: datetime) -> OfflineToken:
        expires_in = answer.get("expires_in")
        return cls(
            access_token=str(answer["access_token"]),
            refresh_token=answer.get("refresh_token") or None,
            expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        )


@dataclass(frozen=True)
class TokenRefresh:
    """What an adapter needs to renew an expiring token and have the new pair outlive it.

    `on_refresh(new)` stores a fresh pair atomically and returns the pair now stored (another
    process's, if it refreshed later); `reload()` returns the stored pair, or None.
    `now` is the clock `expires_at` was computed with.
    """

    refresh_token: str = field(repr=False)
    expires_at: datetime | None
    api_key: str
    api_secret: str = field(repr=False)
    on_refresh: Callable[[OfflineToken], OfflineToken]
    reload: Callable[[], OfflineToken | None]
    now: Callable[[], datetime] = utc_now
    margin: timedelta = REFRESH_MARGIN


class RefreshRefused(StoreError):
    """Shopify refused the refresh token itself (`invalid_grant`): spent, expired or revoked."""


def token_url(admin_url: str) -> str:
    """The token endpoint on the admin API's host: `https://{shop}/admin/oauth/access_token`."""
    parts = urlsplit(admin_url)
    return f"{parts.scheme}://{parts.netloc}/admin/oauth/access_token"


def refresh_access_token(
    url: str, api_key: str, api_secret: str, refresh_token: str, *, session: requests.Session
) -> dict[str, Any]:
    """POST grant_type=refresh_token; the answer (a new access token and refresh token).

    Raises `RefreshRefused` when Shopify rejects the grant, `StoreError` when it could not be
    asked (worth trying again later). Not retried here: the keeper decides what to do next.
    """
    body = {
        "client_id": api_key,
        "client_secret": api_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    try:
        answer = session.post(url, json=body, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise StoreError(f"the token refresh did not reach Shopify: {type(exc).__name__}") from None
    error = _oauth_error(answer)
    if answer.status_code in (400, 401) and error == "invalid_grant":
        raise RefreshRefused(f"Shopify refused the refresh token ({error})")
    if answer.status_code != 200:
        raise StoreError(f"the token refresh failed ({answer.status_code} {error})")
    try:
        data = answer.json()
    except ValueError:
        raise StoreError("the token refresh answered with something other than JSON") from None
    if not isinstance(data, dict) or not data.get("access_token"):
        raise StoreError("the token refresh answered without an access token")
    return data


def _oauth_error(answer: requests.Response) -> str:
    """The OAuth `error` code of an answer (never its description: it may echo input)."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


class TokenKeeper:
    """One shop's access token for the transport: fresh on every request, renewed when due.

    Without `refresh` it is a fixed token (custom apps, non-expiring tokens).
    """

    def __init__(
        self,
        token: OfflineToken,
        *,
        refresh: TokenRefresh | None = None,
        url: str = "",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = real_sleep,
    ) -> None:
        self.token = token
        self.refresh = refresh
        self.url = url
        self.session = session
        self.sleep = sleep
        self.refreshed = 0  # refreshes this keeper made itself (for tests and metrics)
        self._quiet_until: datetime | None = None  # after a failed attempt, while still valid
        self._lock = threading.Lock()

    def access_token(self) -> str:
        """The token to send now; refreshed first when it is within the margin of expiry."""
        refresh = self.refresh
        if refresh is None:
            return self.token.access_token
        with self._lock:
            now = refresh.now()
            quiet = self._quiet_until is not None and now < self._quiet_until
            if self.token.due(now, refresh.margin) and not quiet:
                self._renew(refresh, rejected=None)
            return self.token.access_token

    def renew_after_rejection(self, rejected: str) -> bool:
        """Shopify answered 401 to `rejected`: get another token. False: there is none to get."""
        refresh = self.refresh
        if refresh is None or not self.token.refresh_token:
            return False
        with self._lock:
            if self.token.access_token == rejected:
                self._renew(refresh, rejected=rejected)
            return self.token.access_token != rejected

    # ------------------------------------------------------------------ internals
    def _renew(self, refresh: TokenRefresh, rejected: str | None) -> None:
        if self._adopt_stored(refresh, rejected):
            return
        for _ in range(3):  # our refresh token, then at most two stored by other processes
            spent = self.token.refresh_token
            if not spent:
                raise NeedsReauthorization("Shopify's access token expired and no refresh token")
            self.session = self.session or requests.Session()
            try:
                answer = refresh_access_token(
                    self.url, refresh.api_key, refresh.api_secret, spent, session=self.session
                )
            except RefreshRefused:
                if not self._wait_for_other_refresher(refresh, spent):
                    raise NeedsReauthorization(
                        "Shopify refused the refresh token (invalid_grant): the merchant must "
                        "open the app again to re-authorise it"
                    ) from None
                if self._usable(refresh, rejected):
                    return
                continue
            except StoreError:
                now = refresh.now()
                if rejected is None and not self.token.expired(now):
                    log.warning("token refresh failed; the current token serves until it lapses")
                    self._quiet_until = now + QUIET_AFTER_FAILURE
                    return
                raise
            self.refreshed += 1
            self._quiet_until = None
            fresh = OfflineToken.from_answer(answer, refresh.now())
            self.token = fresh  # usable even if storing it fails below
            self.token = refresh.on_refresh(fresh) or fresh
            return
        raise NeedsReauthorization("Shopify kept refusing the stored refresh tokens")

    def _usable(self, refresh: TokenRefresh, rejected: str | None) -> bool:
        return (
            not self.token.due(refresh.now(), refresh.margin)
            and self.token.access_token != rejected
        )

    def _adopt_stored(self, refresh: TokenRefresh, rejected: str | None) -> bool:
        """Take the stored pair if another process refreshed; True if no refresh is needed now."""
        stored = refresh.reload()
        if stored is not None and _newer(stored, self.token):
            self.token = stored
        return self._usable(refresh, rejected)

    def _wait_for_other_refresher(self, refresh: TokenRefresh, spent: str) -> bool:
        """After `invalid_grant`: wait for the stored pair to change from ours, and take it."""
        for wait in (0.0, *RELOAD_WAITS):
            if wait:
                self.sleep(wait)
            stored = refresh.reload()
            if stored is not None and (
                stored.refresh_token != spent or stored.access_token != self.token.access_token
            ):
                self.token = stored
                return True
        return False


def _newer(stored: OfflineToken, ours: OfflineToken) -> bool:
    """The stored pair is another one than ours, and expires later (or never)."""
    if stored.refresh_token == ours.refresh_token and stored.access_token == ours.access_token:
        return False
    if stored.expires_at is None or ours.expires_at is None:
        return True
    return stored.expires_at > ours.expires_at
