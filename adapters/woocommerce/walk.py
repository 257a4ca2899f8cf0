"""Resumable walks over a collection ordered by `modified`, with a cursor that survives edits.

Plain page numbers over `orderby=modified` skip records: when a record on an early page is
edited during the walk it moves to the end and every later record shifts one place forward, so
one is never seen. Instead the cursor is keyset-like: `modified_after` advances to the last
modified time seen (minus one second, since WooCommerce dates have whole seconds and ties must
be read again), and the page number only counts within a window that cannot advance (over 100
records in one second). Records repeated across pages of one walk are dropped; a resumed walk
may repeat a few, which the caller's idempotent upserts absorb.

Cursor format (opaque to callers): "<modified_after GMT or empty>|<page>".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from adapters.base import StoreError
from adapters.woocommerce.client import WooClient
from adapters.woocommerce.dates import format_gmt, modified_at, parse_gmt

TIE = timedelta(seconds=1)


def encode(after: datetime | None, page: int) -> str:
    """The cursor for (window start, page)."""
    return f"{format_gmt(after) if after else ''}|{page}"


def decode(cursor: str) -> tuple[datetime | None, int]:
    """Inverse of `encode`; a malformed cursor is an error, not a silent full resync."""
    after, sep, page = cursor.partition("|")
    if not sep or not page.isdigit() or int(page) < 1:
        raise StoreError(f"not a WooCommerce cursor: {cursor!r}")
    return parse_gmt(after), int(page)


def walk(
    client: WooClient,
    endpoint: str,
    *,
    after: datetime | None,
    before: datetime | None,
    cursor: str | None,
    extra: dict[str, Any] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
    """(new records of a page, cursor after it) until the last page (cursor None)."""
    page = 1
    if cursor is not None:
        after, page = decode(cursor)
    seen: dict[int, datetime] = {}
    while True:
        params: dict[str, Any] = {
            **(extra or {}),
            "orderby": "modified",
            "order": "asc",
            "dates_are_gmt": "true",
        }
        if after is not None:
            params["modified_after"] = format_gmt(after)
        if before is not None:
            params["modified_before"] = format_gmt(before)
        _, items, total = next(client.pages(endpoint, params, start=page))
        fresh = [r for r in items if seen.get(r["id"]) != modified_at(r)]
        if not items or page >= total:
            yield fresh, None
            return
        last = modified_at(items[-1]).replace(microsecond=0) - TIE
        if after is None or last > after:
            after, page = last, 1
            seen = {k: v for k, v in seen.items() if v > after}
        else:
            page += 1
        seen.update((r["id"], modified_at(r)) for r in items)
        yield fresh, encode(after, page)
