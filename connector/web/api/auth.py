"""Bearer authentication: a shop's token sees that shop; the admin token may name any shop."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from connector.runtime import Runtime
from connector.services.tokens import find_token, is_admin_token
from connector.web.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="backorder-connector"'}


@dataclass(frozen=True)
class Principal:
    shop_id: int | None
    is_admin: bool = False

    def scope(self, requested_shop_id: int | None) -> int | None:
        """The shop a request works on; None means every shop (admin only)."""
        if self.is_admin:
            return requested_shop_id
        if requested_shop_id is not None and requested_shop_id != self.shop_id:
            raise ApiError(403, "forbidden", "this token is scoped to another shop", "shop_id")
        return self.shop_id


def authenticate(runtime: Runtime) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>", None, _CHALLENGE)
    if is_admin_token(token, runtime.settings.ADMIN_API_TOKEN):
        return Principal(shop_id=None, is_admin=True)
    with runtime.db.transaction() as session:
        row = find_token(session, runtime.clock, token)
        if row is None:
            raise ApiError(401, "unauthorized", "the token is unknown or revoked", None, _CHALLENGE)
        return Principal(shop_id=row.shop_id)
