"""API tokens: shown once, stored as a digest, looked up in constant time per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.models import ApiToken
from connector.services.shops import get_shop

TOKEN_PREFIX = "bo_"  # noqa: S105  (a marker that makes leaked tokens greppable, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough; no slow KDF is needed.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, shop_id: int, name: str = "") -> str:
    get_shop(session, shop_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(shop_id=shop_id, digest=digest(token), prefix=token[:10], name=name))
    session.flush()
    return token


def find_token(session: Session, clock: Clock, token: str) -> ApiToken | None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.digest == digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    now = clock.now()
    # Touch at most once a minute: a busy integration should not write on every read.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row


def is_admin_token(token: str, admin_token: str | None) -> bool:
    return admin_token is not None and hmac.compare_digest(token.encode(), admin_token.encode())
