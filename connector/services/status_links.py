"""Signed, expiring links to a customer's status page: `{APP_URL}/status/<token>`.

The token is the capability: whoever holds the link may see the order's waiting lines and cancel
or switch them, with no login, so it is signed with SECRET_KEY (salt "order-status") and carries
only the shop's and the order's ids. It lives `LINK_LIFETIME` (60 days): the link in a "placed"
e-mail must still work when a long backorder finally moves, and a forwarded or leaked link stops
working some weeks after the order is settled.

itsdangerous reads the time itself (`TimestampSigner.get_timestamp`, used both to stamp a token
and to check its age); that documented hook is overridden here to ask the product's clock, so a
test or a simulation that moves the clock expires links like real time would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from connector.clock import Clock, SystemClock
from connector.config import Settings

LINK_LIFETIME = timedelta(days=60)
LINK_LIFETIME_SECONDS = int(LINK_LIFETIME.total_seconds())
_SALT = "order-status"


class LinkRefused(Exception):
    """The token is not one we signed (tampered, truncated, made up)."""


class LinkExpired(Exception):
    """A token we signed, older than its lifetime: the page can still name the shop."""

    def __init__(self, shop_id: int, order_id: int) -> None:
        super().__init__("the status link has expired")
        self.shop_id = shop_id
        self.order_id = order_id


class _ClockSigner(TimestampSigner):
    """A TimestampSigner whose "now" is the product's clock, for stamping and for age checks."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.now().timestamp())


def _serializer(settings: Settings, clock: Clock | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.SECRET_KEY,
        salt=_SALT,
        signer=_ClockSigner,
        signer_kwargs={"clock": clock or SystemClock()},
    )


def status_token(
    settings: Settings, shop_id: int, order_id: int, *, clock: Clock | None = None
) -> str:
    return _serializer(settings, clock).dumps({"shop": shop_id, "order": order_id})


def status_url(
    settings: Settings, shop_id: int, order_id: int, *, clock: Clock | None = None
) -> str:
    """The link a message carries. Pass the runtime's clock: without it the system clock stamps
    the token, which is right in production and wrong under a moved test clock."""
    token = status_token(settings, shop_id, order_id, clock=clock)
    return f"{settings.APP_URL.rstrip('/')}/status/{token}"


def _ids(payload: Any) -> tuple[int, int]:
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("shop"), int)
        or not isinstance(payload.get("order"), int)
    ):
        raise LinkRefused("the status link does not name an order")
    return payload["shop"], payload["order"]


def read_status_token(
    settings: Settings,
    token: str,
    *,
    max_age: int = LINK_LIFETIME_SECONDS,
    clock: Clock | None = None,
) -> tuple[int, int]:
    """(shop id, order id) of a valid token; LinkRefused if forged, LinkExpired if too old."""
    serializer = _serializer(settings, clock)
    try:
        return _ids(serializer.loads(token, max_age=max_age))
    except SignatureExpired as exc:
        # The signature was good, only the age is wrong: the payload can be trusted.
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadSignature:
            payload = None
        shop_id, order_id = _ids(payload)
        raise LinkExpired(shop_id, order_id) from None
    except BadSignature:
        raise LinkRefused("the status link is not valid") from None
