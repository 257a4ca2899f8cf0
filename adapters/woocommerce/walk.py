"""Resumable walks over a collection ordered by `modified`, with a cursor that survives edits.

Plain page numbers over `orderby=modified` skip records: when a record on an early page is
edited during the walk it moves to the end and every later record shifts one place forward, so
one is never seen. Instead the cursor is keyset-like: `modified_after` advances to the last
modified time seen (minus one second, since WooCommerce dates have whole seconds and ties must
be read again), and the page number only counts within a window that cannot advance (over 100
records in one second). Records repeated across pages of one walk are dropped; a resumed walk
may repeat a few, which the caller's idempotent upserts absorb.

Cursor format (opaque to callers): "<modified_after GMT or empty>|<page>".

The variations of a walk's variable products are read with `with_variations`: a few pages of
products at a time, from the store-wide `GET /variations` where the store serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from adapters.base import StoreError
from adapters.woocommerce.client import WooClient, WooRequestError
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


PAGES_PER_VARIATION_READ = 3  # pages of products whose variations are read together


def with_variations(
    pages: Iterator[tuple[list[dict[str, Any]], str | None]], variations: Variations
) -> Iterator[tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]], str | None]]:
    """(products, parent id → variations, cursor) for each page of a product walk.

    The variations of a few pages are read together: the last, part-filled page of variations
    is then paid once per few pages of products rather than once per page.
    """
    while True:
        group = list(islice(pages, PAGES_PER_VARIATION_READ))
        if not group:
            return
        parents = [p["id"] for items, _ in group for p in items if p.get("type") == "variable"]
        found = variations.of(parents)
        for items, cursor in group:
            yield items, found, cursor


class Variations:
    """The variations of variable products, in as few requests as the store allows.

    WooCommerce 10.3+ serves `GET /variations` (every variation of the store, each with its
    `parent_id`): one walk filtered by `parent=` reads many products' variations at 100 a
    request. Older stores answer 404 (`rest_no_route`); that is learnt once, and from then on
    each variable product's `GET /products/<id>/variations` is read as before.
    """

    def __init__(self, client: WooClient) -> None:
        self.client = client
        self.collection: bool | None = None  # None: not asked yet

    def of(self, parent_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Parent id → its variations, for every id given."""
        if not parent_ids:
            return {}
        if self.collection is not False:
            found = self._collection(parent_ids)
            if found is not None:
                return found
        return {pid: self.client.all(f"products/{pid}/variations") for pid in parent_ids}

    def _collection(self, parent_ids: list[int]) -> dict[int, list[dict[str, Any]]] | None:
        # The store's default order, as `/products/<id>/variations` lists them: each product's
        # variations come in the same order whichever way they are read.
        params = {"parent": ",".join(map(str, parent_ids))}
        found: dict[int, list[dict[str, Any]]] = {pid: [] for pid in parent_ids}
        try:
            for _, items, _ in self.client.pages("variations", params):
                for item in items:
                    parent = item.get("parent_id")
                    if parent not in found:
                        # Not the documented answer (no `parent_id`, or another product's
                        # variation: the filter was ignored): read product by product.
                        self.collection = False
                        return None
                    found[parent].append(item)
        except WooRequestError as exc:
            if exc.status != 404:
                raise
            self.collection = False  # before WooCommerce 10.3: no such route
            return None
        self.collection = True
        return found
