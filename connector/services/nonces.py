"""Install nonces: issued when an install starts, checked and spent when the store calls back.

Only the store's callback can carry the nonce back, and only once and within ten minutes, so a
forged or replayed callback cannot install a shop (or swap a shop's credentials).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.models import InstallNonce
from connector.services.errors import ServiceError

NONCE_TTL = timedelta(minutes=10)


class InstallRefused(ServiceError):
    """An install callback or start we will not act on; the web maps it to 400."""

    code = "install_refused"


def issue(session: Session, clock: Clock, platform: str, target: str) -> str:
    nonce = secrets.token_urlsafe(32)
    session.add(InstallNonce(platform=platform, nonce=nonce, target=target, created_at=clock.now()))
    return nonce


def check(session: Session, clock: Clock, platform: str, nonce: str, field: str) -> InstallNonce:
    """The live nonce, or InstallRefused saying why it is not (unknown, used or expired)."""
    row = session.scalar(
        select(InstallNonce).where(InstallNonce.platform == platform, InstallNonce.nonce == nonce)
    )
    if row is None or not nonce:
        raise InstallRefused(f"{field} was not issued by this app", field=field)
    if row.used_at is not None:
        raise InstallRefused(f"{field} was already used; start the install again", field=field)
    if clock.now() - row.created_at > NONCE_TTL:
        raise InstallRefused(f"{field} has expired; start the install again", field=field)
    return row


def spend(session: Session, clock: Clock, platform: str, nonce: str, field: str) -> InstallNonce:
    """Check and mark used in one conditional UPDATE: of two racing callbacks, one wins."""
    row = check(session, clock, platform, nonce, field)
    spent = session.execute(
        update(InstallNonce)
        .where(InstallNonce.id == row.id, InstallNonce.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InstallRefused(f"{field} was already used; start the install again", field=field)
    return row


def was_used(session: Session, platform: str, nonce: str) -> bool:
    """Whether the install this nonce began went through (the WooCommerce return page asks)."""
    used_at = session.scalar(
        select(InstallNonce.used_at).where(
            InstallNonce.platform == platform, InstallNonce.nonce == nonce
        )
    )
    return used_at is not None
