"""Who may see the dashboard and how the browser is told to treat it.

Standalone sign-in (WooCommerce merchants, operators): a password, then Flask's signed session
cookie (HttpOnly, SameSite=Lax, Secure whenever APP_URL is https). Every POST carries the
session's CSRF token; an agent may read but not act (owners act); sign-in attempts are limited
per client address. Pages send a strict CSP (our own nonce'd style, no scripts), are never
framed and never cached.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from limits import parse

from connector.models import User
from connector.runtime import Runtime
from connector.web.storefront.public import ClientLimit

CSRF_FIELD = "csrf"
LOGIN_LIMIT = "10/minute"
LIMITER = "backorder_login_limit"


def configure(app: Flask, runtime: Runtime) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=runtime.settings.APP_URL.startswith("https://"),
        SESSION_COOKIE_NAME="backorder_session",
    )
    storefront = ClientLimit.from_settings(runtime.settings)
    app.extensions[LIMITER] = ClientLimit(parse(LOGIN_LIMIT), storefront.shared, storefront.local)


def runtime() -> Runtime:
    found: Runtime = current_app.extensions["backorder"]
    return found


def login_allowed() -> bool:
    limit: ClientLimit = current_app.extensions[LIMITER]
    return limit.hit(request.remote_addr or "unknown")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    token: str = session["csrf"]
    return token


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        abort(400, "the form is stale or did not come from this site: reload the page")


def current_user() -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    with runtime().db.transaction() as db:
        user = db.get(User, user_id)
        if user is None:
            return None
        db.expunge(user)
        return user


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(**kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            session.clear()
            target = request.full_path.rstrip("?")
            return redirect(url_for("dashboard.login", next=target))
        g.user = user
        return view(**kwargs)

    return guarded


def owner(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(**kwargs: Any) -> Any:
        if g.user.role != "owner":
            abort(403, "your role may read, not change: ask the shop's owner")
        return view(**kwargs)

    return guarded


def nonce() -> str:
    if "dashboard_nonce" not in g:
        g.dashboard_nonce = secrets.token_urlsafe(16)
    value: str = g.dashboard_nonce
    return value


def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce()}'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str:
    """Only a path of ours: never an open redirect to another site."""
    if target and target.startswith("/app/") and not target.startswith("//"):
        return target
    return url_for("dashboard.overview")
