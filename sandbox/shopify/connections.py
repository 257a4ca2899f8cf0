"""Relay connections as Shopify serves them: first/last ≤ 250, opaque keyset cursors, sortKey.

Cursors encode the sort value and the id of the last row, so a page boundary stays put when
rows are added or updated between requests (as Shopify's cursors do).
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

MAX_PAGE = 250
SortKey = Callable[[Any], Any]

SORT_KEYS: dict[str, SortKey] = {
    "ID": lambda r: 0,
    "RELEVANCE": lambda r: 0,
    "POSITION": lambda r: getattr(r, "position", 0),
    "UPDATED_AT": lambda r: r.updatedAt,
    "CREATED_AT": lambda r: r.createdAt,
    "PROCESSED_AT": lambda r: r.createdAt,
    "ORDER_NUMBER": lambda r: r.order_number,
    "TITLE": lambda r: r.title.lower(),
    "NAME": lambda r: r.name,
    "SKU": lambda r: r.sku,
}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(sort_value: Any, number: int) -> str:
    raw = json.dumps([_plain(sort_value), number], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sample: Any) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, number = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from exc
    if isinstance(sample, datetime):
        value = datetime.fromisoformat(value)
    return value, int(number)


def connection(
    rows: Sequence[Any],
    info: GraphQLResolveInfo,
    *,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool = False,
    sortKey: str | None = None,
    number: Callable[[Any], int] = lambda r: r.number,
    **_ignored: Any,
) -> dict[str, Any]:
    """One page of `rows` as a connection dict (edges, nodes, pageInfo)."""
    bulk = getattr(info.context, "bulk", False)
    if not bulk:
        _check_page_args(first, last)
    key_fn = SORT_KEYS.get(sortKey or "ID")
    if key_fn is None:
        raise GraphQLError(f"sortKey {sortKey} is not emulated by the sandbox")
    ordered = sorted(rows, key=lambda r: (key_fn(r), number(r)))
    keys = [(key_fn(r), number(r)) for r in ordered]
    lo, hi = 0, len(ordered)
    sample = keys[0][0] if keys else None
    if after:
        mark = decode_cursor(after, sample)
        if reverse:
            hi = min(hi, bisect.bisect_left(keys, mark))
        else:
            lo = max(lo, bisect.bisect_right(keys, mark))
    if before:
        mark = decode_cursor(before, sample)
        if reverse:
            lo = max(lo, bisect.bisect_right(keys, mark))
        else:
            hi = min(hi, bisect.bisect_left(keys, mark))
    window = ordered[lo:hi] if lo < hi else []
    if reverse:
        window = window[::-1]
    outside_before = hi < len(ordered) if reverse else lo > 0
    outside_after = lo > 0 if reverse else hi < len(ordered)
    if bulk and first is None and last is None:
        page, has_next, has_prev = window, outside_after, outside_before
    elif first is not None:
        page, has_next, has_prev = (
            window[:first],
            len(window) > first or outside_after,
            (outside_before),
        )
    else:
        count = last or 0
        page = window[-count:] if count else []
        has_next, has_prev = outside_after, len(window) > count or outside_before
    edges = [{"cursor": encode_cursor(key_fn(r), number(r)), "node": r} for r in page]
    return {
        "edges": edges,
        "nodes": page,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _check_page_args(first: int | None, last: int | None) -> None:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"The maximum number of records per page is {MAX_PAGE}: `{name}` must not "
                f"exceed {MAX_PAGE}",
                extensions={"code": "MAX_PAGE_SIZE_EXCEEDED"},
            )
        if value is not None and value < 0:
            raise GraphQLError(f"`{name}` must be a non-negative integer")
