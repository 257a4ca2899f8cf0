"""WooCommerce date strings in and out.

WooCommerce renders every date twice, site-local and `*_gmt`, both without an offset; only the
GMT twin is unambiguous, so that is the one we read, and filters are sent with
`dates_are_gmt=true` for the same reason (the default is the site's local time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_gmt(value: str | None) -> datetime | None:
    """A `*_gmt` field as an aware UTC datetime (None stays None)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def modified_at(record: dict[str, Any]) -> datetime:
    """When a record last changed: `date_modified_gmt`, else created, else the epoch."""
    return (
        parse_gmt(record.get("date_modified_gmt"))
        or parse_gmt(record.get("date_created_gmt"))
        or EPOCH
    )


def format_gmt(value: datetime) -> str:
    """A filter value for `modified_after`/`modified_before` with `dates_are_gmt=true`."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: the adapter only accepts timezone-aware times")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
