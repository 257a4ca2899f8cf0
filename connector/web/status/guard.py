"""What stands between the open internet and a customer's order: the link, the form value, the
origin, the rate limit and the response headers.

The signed link is the capability (no login). A form on the page also carries a value bound to
that link by an HMAC under SECRET_KEY, so a page elsewhere cannot post a change knowing only a
guessed or half-leaked address; a POST whose Origin is another site's is refused outright. Posts
are counted per client address with the storefront's limiter (Redis-shared when configured).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from limits import parse

from connector.config import Settings
from connector.web.storefront.public import ClientLimit

LIMITER = "backorder_status_limit"
POST_LIMIT = "20/minute"  # a customer clicks a few times; a script hammering the forms does not
CSRF_FIELD = "csrf"


def limit_posts(app: Flask, settings: Settings) -> None:
    """Its own count, with the storefront's limiter and storage (one limit per app)."""
    storefront = ClientLimit.from_settings(settings)
    app.extensions[LIMITER] = ClientLimit(parse(POST_LIMIT), storefront.shared, storefront.local)


def over_limit() -> str | None:
    """None when this POST may go on, else the Retry-After seconds."""
    limit: ClientLimit = current_app.extensions[LIMITER]
    if limit.hit(request.remote_addr or "unknown"):
        return None
    return str(limit.item.get_expiry())


def csrf_value(settings: Settings, token: str) -> str:
    message = b"status-page-form:" + token.encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, token: str) -> bool:
    sent = request.form.get(CSRF_FIELD, "")
    return bool(sent) and hmac.compare_digest(sent, csrf_value(settings, token))


def same_origin(settings: Settings) -> bool:
    """A browser names the posting page's origin; it must be ours when it is given."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = urlsplit(settings.APP_URL)
    return origin == f"{ours.scheme}://{ours.netloc}"


def style_nonce() -> str:
    if "status_nonce" not in g:
        g.status_nonce = secrets.token_urlsafe(16)
    nonce: str = g.status_nonce
    return nonce


def secure(response: Response) -> Response:
    """No scripts at all, our own inline style only, forms only to us, never framed, never
    cached, and the link (the capability) never sent on as a Referer."""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{style_nonce()}'; img-src https:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
