"""The merchant's own webhook: variants newly at their reorder point, posted as signed JSON.

A merchant who runs purchasing elsewhere (an ERP, a spreadsheet robot, Zapier) gives us a URL; we
post to it through the notification outbox, so it is retried with backoff, sent once per run
(its dedupe key), and visible when it fails. The body is signed like Shopify's webhooks are:
`X-Backorder-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under the shop's secret,
which the merchant gets once when they set the URL. The receiver checks it on the bytes it got.

The URL is the merchant's input: unless ALLOW_PRIVATE_STORE_URLS, it must be public https and
every connection is re-checked (adapters/netguard.py), so it cannot point us at our own network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests

from adapters.netguard import guard_session
from connector import __version__
from connector.services.store_urls import check_store_address

if TYPE_CHECKING:
    from connector.runtime import Runtime

EVENT = "reorder.point_reached"
SIGNATURE_HEADER = "X-Backorder-Hmac-Sha256"
EVENT_HEADER = "X-Backorder-Event"
TIMEOUT = (5, 15)  # connect, read: a slow receiver is retried later, not waited for


class HookTemporaryError(Exception):
    """Worth trying again: the receiver was down, slow, or asked us to wait."""


class HookPermanentError(Exception):
    """It will not work by trying again: the receiver refused the request."""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def checked_url(url: str, allow_private: bool) -> str:
    """The URL as we will post to it, or Invalid (field reorder_webhook_url)."""
    from connector.services.errors import Invalid

    field = "reorder_webhook_url"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", *(("http",) if allow_private else ())) or not parts.hostname:
        raise Invalid("must be an https address", field=field)
    if parts.username or parts.password or parts.fragment:
        raise Invalid("must not carry credentials or a fragment", field=field)
    normal = urlunsplit(parts)
    check_store_address(normal, allow_private, field=field)
    return normal


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def body_of(context: dict[str, Any]) -> bytes:
    return json.dumps({"event": EVENT, **context}, separators=(",", ":"), sort_keys=True).encode()


def post(runtime: Runtime, url: str, secret: str, body: bytes) -> None:
    session = requests.Session()
    if not runtime.settings.ALLOW_PRIVATE_STORE_URLS:
        guard_session(session)
    try:
        answer = session.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"BackorderConnector/{__version__}",
                EVENT_HEADER: EVENT,
                SIGNATURE_HEADER: signature(secret, body),
            },
            timeout=TIMEOUT,
            allow_redirects=False,  # a redirect would post the body somewhere we did not check
        )
    except requests.RequestException as exc:
        # The host only: the URL's path or query may hold the receiver's own token, and this
        # message is logged and shown.
        host = urlsplit(url).hostname
        raise HookTemporaryError(f"{type(exc).__name__} posting to {host}") from None
    finally:
        session.close()
    if answer.status_code in (408, 429) or answer.status_code >= 500:
        raise HookTemporaryError(f"the receiver answered {answer.status_code}")
    if answer.status_code >= 300:
        raise HookPermanentError(f"the receiver answered {answer.status_code}")
