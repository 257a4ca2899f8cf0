"""Dashboard accounts: created by an operator or a shop's owner, checked at sign-in.

Passwords are hashed with werkzeug's salted scrypt (Flask's own dependency); a sign-in for an
unknown address still checks a hash, so the answer takes as long either way and does not say
which addresses have accounts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from connector.clock import Clock
from connector.models import ROLES, Shop, User
from connector.services.errors import Conflict, Invalid, NotFound

MIN_PASSWORD = 10
_DECOY = generate_password_hash("not a password of anyone's")


def add_user(
    session: Session, clock: Clock, shop_id: int, email: str, password: str, role: str = "agent"
) -> User:
    address = email.strip().lower()
    if "@" not in address or len(address) > 320:
        raise Invalid("must be an e-mail address", field="email")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"must be at least {MIN_PASSWORD} characters", field="password")
    if role not in ROLES:
        raise Invalid(f"must be one of {', '.join(ROLES)}", field="role")
    if session.get(Shop, shop_id) is None:
        raise NotFound(f"no shop with id {shop_id}")
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise Conflict("a user with that e-mail exists", field="email")
    now = clock.now()
    user = User(
        shop_id=shop_id,
        email=address,
        password_hash=generate_password_hash(password),
        role=role,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def sign_in(session: Session, clock: Clock, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password_hash(_DECOY, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    shop = session.get(Shop, user.shop_id)
    if shop is None or shop.status != "active":
        return None
    user.last_login_at = clock.now()
    return user
