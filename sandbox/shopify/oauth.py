"""OAuth as Shopify runs it: authorization code grant, token exchange, expiring tokens.

Callback HMAC: every query parameter but `hmac`, sorted, `k=v` joined by `&`, HMAC-SHA256 hex
with the app secret (shopify.dev/docs/apps/build/authentication-authorization/access-tokens/
authorization-code-grant). Token exchange and refresh per shopify.dev ".../token-exchange" and
".../offline-access-tokens" (expiring tokens: 3600 s, refresh token 90 days).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, request

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a grant name)
ACCESS_TTL = timedelta(seconds=3600)
REFRESH_TTL = timedelta(days=90)


def callback_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's OAuth callback signature over `params` (the `hmac` key is ignored)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class TokenBook:
    """Valid access tokens (with optional expiry), refresh tokens and pending codes."""

    scope: str = "read_products,read_inventory,read_orders,write_orders"
    access: dict[str, datetime | None] = field(default_factory=dict)
    refresh: dict[str, datetime] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid(self, token: str | None, now: datetime) -> bool:
        with self.lock:
            if not token or token not in self.access:
                return False
            expiry = self.access[token]
            return expiry is None or now < expiry

    def issue(self, now: datetime, *, expiring: bool) -> dict[str, Any]:
        with self.lock:
            token = "shpat_" + secrets.token_hex(16)
            answer: dict[str, Any] = {"access_token": token, "scope": self.scope}
            if expiring:
                refresh = "shprt_" + secrets.token_hex(16)
                self.access[token] = now + ACCESS_TTL
                self.refresh[refresh] = now + REFRESH_TTL
                answer |= {
                    "expires_in": int(ACCESS_TTL.total_seconds()),
                    "refresh_token": refresh,
                    "refresh_token_expires_in": int(REFRESH_TTL.total_seconds()),
                }
            else:
                self.access[token] = None
            return answer

    def use_refresh(self, token: str, now: datetime) -> bool:
        with self.lock:
            expiry = self.refresh.pop(token, None)
            return expiry is not None and now < expiry


def _error(description: str, status: int = 400, error: str = "invalid_request") -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _state() -> Any:
    return current_app.extensions["shopify_sandbox"]


blueprint = Blueprint("shopify_oauth", __name__)


@blueprint.get("/admin/oauth/authorize")
def authorize() -> Response:
    """Auto-approve the install and redirect back with a signed callback."""
    state = _state()
    args = request.args
    if args.get("client_id") != state.api_key:
        return _error("Invalid client_id", 400)
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri:
        return _error("redirect_uri is required", 400)
    code = secrets.token_hex(16)
    with state.tokens.lock:
        state.tokens.codes[code] = args.get("scope") or state.tokens.scope
    shop = state.store.shop.myshopifyDomain
    params = {
        "code": code,
        "host": base64.b64encode(f"{shop}/admin".encode()).decode().rstrip("="),
        "shop": shop,
        "state": args.get("state", ""),
        "timestamp": str(int(state.store.clock().timestamp())),
    }
    params["hmac"] = callback_hmac(params, state.api_secret)
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{separator}{urlencode(params)}", code=302)


@blueprint.post("/admin/oauth/access_token")
def access_token() -> Response:
    """Code exchange, token exchange and refresh, on one endpoint as Shopify has it."""
    state = _state()
    form: dict[str, Any] = dict(request.form) or (request.get_json(silent=True) or {})
    if form.get("client_id") != state.api_key or form.get("client_secret") != state.api_secret:
        return _error("Invalid API key or secret", 401, "invalid_client")
    now = state.store.clock()
    expiring = str(form.get("expiring", "0")) == "1"
    grant = form.get("grant_type")
    if grant == "refresh_token":
        if not state.tokens.use_refresh(str(form.get("refresh_token", "")), now):
            return _error("The refresh token is invalid or expired", 400, "invalid_grant")
        return jsonify(state.tokens.issue(now, expiring=True))
    if grant == TOKEN_EXCHANGE:
        if not _session_token_ok(str(form.get("subject_token", "")), state, now):
            return _error("The subject token is invalid", 400, "invalid_subject_token")
        return jsonify(state.tokens.issue(now, expiring=expiring))
    with state.tokens.lock:
        scope = state.tokens.codes.pop(str(form.get("code", "")), None)
    if scope is None:
        return _error("The authorization code was not found or was already used")
    answer = state.tokens.issue(now, expiring=expiring)
    answer["scope"] = scope
    return jsonify(answer)


def _session_token_ok(token: str, state: Any, now: datetime) -> bool:
    """HS256 session token signed with the app secret, aud = API key, not expired (10 s leeway)."""
    try:
        header, payload, signature = token.split(".")
        signed = f"{header}.{payload}".encode()
        expected = hmac.new(state.api_secret.encode(), signed, hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return False
    if not hmac.compare_digest(expected, given) or claims.get("aud") != state.api_key:
        return False
    return float(claims.get("exp", 0)) + 10 >= now.timestamp()
