"""Opaque, signed cursors for keyset pagination: stable under inserts, unforgeable, typed."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from connector.web.errors import ApiError


class Cursors:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="api-v1-cursor")

    def encode(self, resource: str, after_id: int) -> str:
        return self._serializer.dumps({"r": resource, "after": after_id})

    def decode(self, resource: str, cursor: str) -> int:
        try:
            data = self._serializer.loads(cursor)
        except BadSignature:
            data = None
        if (
            not isinstance(data, dict)
            or data.get("r") != resource
            or not isinstance(data.get("after"), int)
        ):
            raise ApiError(400, "invalid_cursor", "cursor is not one this list issued", "cursor")
        return data["after"]
