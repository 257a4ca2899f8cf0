"""Syncing a store into the common model: full or incremental, page by page, resumable.

Each page is one transaction that also saves where the walk stands, so a crash resumes at the
page after the last one committed and nothing is read twice or skipped. An incremental walk asks
for what changed since the resource's watermark and before the moment the sync started; the
watermark moves to that moment only when the walk completes, so a record changed during the sync
is read by the next one. Orders go through `ingest_orders`, the same path as webhooks, so a missed
webhook is repaired here with no special code; a page of orders is stored at once. The next
pages are read from the store while the current one is stored (`PREFETCH_PAGES`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from adapters.base import (
    NeedsReauthorization,
    Page,
    StoreAdapter,
    StoreOrder,
    StoreShop,
)
from connector.commands import execute
from connector.domain.events import Event
from connector.models import Product, Shop, SyncCursor
from connector.runtime import Runtime
from connector.services.catalog import apply_products, require_aware
from connector.services.orders import ingest_orders
from connector.stores import adapter_for

log = logging.getLogger(__name__)

RESOURCES = ("products", "orders")
LEASE = timedelta(minutes=30)  # renewed with every page; a crashed process frees it by expiry
# An incremental product walk sees only products whose own `updated_at` moved, and a sale does
# not move it (Shopify: "a purchase does not fire products/update"). Stock changes come by
# webhook; so that a lost webhook is repaired too, the catalogue is walked in full this often.
FULL_WALK_EVERY = {"products": timedelta(hours=24)}
Progress = Callable[[str, int], None]  # resource, records in the page just committed
# Pages read ahead from the store while the current one is stored (0: read one, store it, ...).
PREFETCH_PAGES = 2


@dataclass
class SyncSummary:
    shop_id: int
    full: bool
    records: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    events: int = 0
    waited_s: float = 0.0  # time spent waiting for the store's next page (the rest is storing)


@dataclass(frozen=True)
class _Walk:
    """Where a resource's walk stands: its window and the cursor after the last saved page."""

    since: datetime | None
    before: datetime
    cursor: str | None
    full: bool = False

    def dump(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "before": self.before.isoformat(),
                "cursor": self.cursor,
                "full": self.full,
            }
        )

    @classmethod
    def load(cls, text: str) -> _Walk:
        data = json.loads(text)
        since = datetime.fromisoformat(data["since"]) if data["since"] else None
        return cls(since, datetime.fromisoformat(data["before"]), data["cursor"], data["full"])


def _cursor_row(session: Session, shop_id: int, resource: str) -> SyncCursor:
    row = session.scalar(
        select(SyncCursor).where(SyncCursor.shop_id == shop_id, SyncCursor.resource == resource)
    )
    if row is None:
        row = SyncCursor(shop_id=shop_id, resource=resource)
        session.add(row)
        session.flush()
    return row


def _start_walk(runtime: Runtime, shop_id: int, resource: str, full: bool) -> _Walk:
    """Resume an interrupted walk, or open a new window ending now."""

    def begin(session: Session) -> _Walk:
        row = _cursor_row(session, shop_id, resource)
        if row.page_cursor:
            interrupted = _Walk.load(row.page_cursor)
            if interrupted.full or not full:
                return interrupted  # pick up after the last page saved
        now = runtime.clock.now()
        every = FULL_WALK_EVERY.get(resource)
        due = every is not None and (row.last_full_at is None or now - row.last_full_at >= every)
        whole = full or due
        walk = _Walk(None if whole else row.watermark, now, None, whole)
        row.page_cursor = walk.dump()
        return walk

    return execute(runtime, begin)


def _pages(adapter: StoreAdapter, resource: str, walk: _Walk) -> Iterator[Page[Any]]:
    listing = adapter.product_pages if resource == "products" else adapter.order_pages
    return listing(updated_since=walk.since, updated_before=walk.before, cursor=walk.cursor)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


def _ahead(pages: Iterator[Page[Any]], depth: int, summary: SyncSummary) -> Iterator[Page[Any]]:
    """The pages, read up to `depth` ahead by a thread of their own while the caller stores.

    Fetching waits on the store and storing on the database, so the two overlap. What the
    reader raises is raised here when the caller reaches it, after the pages before it; when
    the caller stops (done or failed), the reader stops after the page it is reading.
    """
    if depth <= 0:
        while True:
            started = time.perf_counter()
            page = next(pages, None)
            summary.waited_s += time.perf_counter() - started
            if page is None:
                return
            yield page
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not hand_over(page):
                    return
            hand_over(_END)
        except BaseException as exc:  # handed to the caller, raised in its thread
            hand_over(_Failed(exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="sync-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            started = time.perf_counter()
            item = box.get()
            summary.waited_s += time.perf_counter() - started
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()


class SyncBusy(Exception):
    """Another process is syncing this shop right now."""


def run_sync(
    runtime: Runtime,
    adapter: StoreAdapter,
    shop_id: int,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """`sync_shop` under the shop's lease: never two syncs of one shop at once, anywhere."""
    if not execute(runtime, lambda s: _claim(s, shop_id, runtime.clock.now())):
        raise SyncBusy(f"shop {shop_id} is being synced by another process")
    try:
        return sync_shop(runtime, adapter, shop_id, full=full, progress=progress)
    except NeedsReauthorization:
        execute(runtime, lambda s: _needs_reauthorization(s, shop_id))
        raise
    finally:
        execute(runtime, lambda s: _release(s, shop_id))


def run_sync_for(
    runtime: Runtime, shop_id: int, *, full: bool = False, progress: Progress | None = None
) -> SyncSummary:
    """`run_sync` with the shop's own adapter, for callers that hold only its id."""
    with runtime.db.transaction() as session:
        adapter = adapter_for(runtime, session.get_one(Shop, shop_id))
    return run_sync(runtime, adapter, shop_id, full=full, progress=progress)


def _claim(session: Session, shop_id: int, now: datetime) -> bool:
    taken = session.execute(
        update(Shop)
        .where(
            Shop.id == shop_id,
            or_(Shop.sync_lease_until.is_(None), Shop.sync_lease_until < now),
        )
        .values(sync_lease_until=now + LEASE)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def _release(session: Session, shop_id: int) -> None:
    session.execute(update(Shop).where(Shop.id == shop_id).values(sync_lease_until=None))


def _needs_reauthorization(session: Session, shop_id: int) -> None:
    session.get_one(Shop, shop_id).needs_reauthorization = True
    log.warning(
        "shop %s refused our credentials; syncing stops until the app is installed again",
        shop_id,
    )


def sync_shop(
    runtime: Runtime,
    adapter: StoreAdapter,
    shop_id: int,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    summary = SyncSummary(shop_id=shop_id, full=full)
    about = adapter.shop()
    execute(runtime, lambda s: _copy_shop(s, shop_id, about))
    for resource in RESOURCES:
        walk = _start_walk(runtime, shop_id, resource, full)
        # Only a full walk from its first page has met every product still in the store.
        complete = walk.full and walk.cursor is None
        seen: set[str] = set()
        for page in _ahead(_pages(adapter, resource, walk), PREFETCH_PAGES, summary):
            walk = _Walk(walk.since, walk.before, page.next_cursor, walk.full)
            stored, skipped, events = execute(
                runtime,
                lambda s, p=page, w=walk, r=resource: _store_page(runtime, s, shop_id, r, p, w),
            )
            seen.update(item.external_id for item in page.items if resource == "products")
            summary.records[resource] = summary.records.get(resource, 0) + stored
            summary.skipped[resource] = summary.skipped.get(resource, 0) + skipped
            summary.events += events
            if progress:
                progress(resource, len(page.items))
        archive = seen if complete and resource == "products" else None
        execute(runtime, lambda s, w=walk, r=resource, a=archive: _finish(s, shop_id, r, w, a))
    return summary


def _copy_shop(session: Session, shop_id: int, about: StoreShop) -> None:
    """The store's own name, currency and time zone: customers read ETAs in that zone.

    A platform that cannot tell its zone (WooCommerce's REST API has none) says "UTC"; that
    never overwrites a zone we already know.
    """
    shop = session.get_one(Shop, shop_id)
    if about.name and shop.name in ("", shop.domain):
        shop.name = about.name
    if about.currency:
        shop.currency = about.currency
    if about.timezone and about.timezone != "UTC":
        shop.timezone = about.timezone


def _store_page(
    runtime: Runtime, session: Session, shop_id: int, resource: str, page: Page[Any], walk: _Walk
) -> tuple[int, int, int]:
    """One page in one transaction, with the cursor that resumes after it."""
    shop = session.get_one(Shop, shop_id)
    if shop.sync_lease_until is not None:
        shop.sync_lease_until = runtime.clock.now() + LEASE  # still working: keep the lease
    stored = skipped = 0
    events: list[Event] = []
    if resource == "products":
        stored, skipped, events = apply_products(session, runtime.clock, shop, page.items)
    else:
        valid: list[StoreOrder] = []
        for order in page.items:
            try:
                _check_order(order)
                valid.append(order)
            except (ValueError, TypeError, ArithmeticError) as exc:
                # One malformed record never stops a sync; it is logged with its reason.
                skipped += 1
                log.warning("skipped order %s of shop %s: %s", order.external_id, shop_id, exc)
        # The page at once: the outcome of ingesting its orders one by one, in a few statements.
        events = ingest_orders(session, runtime.clock, shop, valid).events
        stored = len(valid)
    _cursor_row(session, shop_id, resource).page_cursor = walk.dump()
    return stored, skipped, len(events)


def _finish(
    session: Session, shop_id: int, resource: str, walk: _Walk, seen: set[str] | None
) -> None:
    row = _cursor_row(session, shop_id, resource)
    row.watermark = walk.before
    row.page_cursor = None
    row.last_success_at = walk.before
    row.last_error = None
    if walk.full:
        row.last_full_at = walk.before
    if seen is not None:
        # A complete walk of the catalogue: what it did not meet is gone from the store.
        session.execute(
            update(Product)
            .where(Product.shop_id == shop_id, Product.external_id.not_in(seen or {""}))
            .values(status="archived")
        )


# ---- what a record must hold before it is stored -----------------------------------------------


def _check_order(order: StoreOrder) -> None:
    if not order.external_id:
        raise ValueError("no order id")
    require_aware(order.placed_at, "placed_at")
    require_aware(order.updated_at, "updated_at")
    if len({line.external_id for line in order.lines}) != len(order.lines):
        raise ValueError("two lines share one id")
    for line in order.lines:
        for amount in (line.quantity, line.fulfilled_quantity, line.refunded_quantity):
            if not isinstance(amount, int) or amount < 0:
                raise ValueError(f"line {line.external_id} has quantity {amount!r}")
