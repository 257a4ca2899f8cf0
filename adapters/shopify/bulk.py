"""Bulk operations: a whole-shop export run by Shopify and streamed back as JSONL.

Why: a paged walk costs about 70 query points a product (variants and levels included) against a
bucket that refills 100 points a second on the Standard plan, so a first full sync of 100,000
variants would take hours. One `bulkOperationRunQuery` costs 10 points; Shopify runs the query in
the background and writes one JSON line per node (shopify.dev/docs/api/usage/bulk-operations/
queries). How this module uses it:

- start: one bulk *query* runs at a time per app and shop (API 2025-01). OPERATION_IN_PROGRESS
  means an earlier one of ours is still running. If it runs the very same document (a sync that
  crashed while waiting, resumed with the same window) we adopt it; otherwise it is another job's
  export: we wait for it to end, then start ours. We never cancel it.
- wait: poll `node(id:)` through the injected `sleep`, every 1 s at first, the interval growing
  1.5x to 15 s (the `bulk_operations/finish` webhook says the same thing later; the sync cannot
  block on a webhook, so it polls, cheaply: a poll costs 1 point).
- read: stream the file at `url` (`stream=True`, `iter_lines`) without the Admin token (the URL is
  a signed storage link, not the Admin API). Objects are grouped in 2025-01: a root line (product,
  order) is followed by all its descendants, each carrying `__parentId`, so `groups` holds one root
  and its children at a time, whatever the file's size.
- resume: each page's cursor is `bulk:<operation gid>:<roots handed out so far>`. A resumed walk
  downloads that operation's file again while Shopify keeps it (7 days) and skips what was handed
  out; once the file is gone it exports anew and reads from the start (upserts absorb repeats).
- fail: FAILED with ACCESS_DENIED raises (missing scopes: the paged walk would fail the same way);
  INTERNAL_SERVER_ERROR is tried once more (Shopify: "might be intermittent"); anything else that
  leaves no file (TIMEOUT, a second failure, CANCELED, EXPIRED) raises `BulkUnavailable`, on which
  the adapter walks the pages instead: slower, never wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.exceptions import ChunkedEncodingError

from adapters.base import StoreError, StoreOrder, StoreProduct
from adapters.shopify import parse, queries
from adapters.shopify.transport import TIMEOUT

log = logging.getLogger(__name__)

CURSOR_PREFIX = "bulk:"
ACTIVE = frozenset({"CREATED", "RUNNING", "CANCELING"})
POLL_FIRST = 1.0  # seconds before the first poll
POLL_GROWTH = 1.5
POLL_MAX = 15.0
MAX_WAIT = 6 * 3600.0  # seconds of polling before we give up on one operation
START_ATTEMPTS = 5  # OPERATION_IN_PROGRESS answers in a row before we give up
DOWNLOAD_ATTEMPTS = 4
# The file lives on signed storage: the Admin token must not travel there (None drops a header).
DOWNLOAD_HEADERS = {"X-Shopify-Access-Token": None, "Content-Type": None, "Accept": "*/*"}

Run = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    """What we read of a BulkOperation (UnsignedInt64 counts arrive as strings)."""

    id: str
    status: str
    error_code: str | None = None
    url: str | None = None
    query: str = ""
    object_count: int = 0

    @classmethod
    def of(cls, node: dict[str, Any]) -> Operation:
        return cls(
            id=node["id"],
            status=node["status"],
            error_code=node.get("errorCode"),
            url=node.get("url"),
            query=node.get("query") or "",
            object_count=int(node.get("objectCount") or 0),
        )

    @property
    def readable(self) -> bool:
        """Completed, with a file (or with nothing to read: Shopify gives no url then)."""
        return self.status == "COMPLETED" and (self.url is not None or self.object_count == 0)


class BulkUnavailable(StoreError):
    """The export ended without a file we can read; the caller walks the pages instead."""

    def __init__(self, operation: Operation) -> None:
        code = f" ({operation.error_code})" if operation.error_code else ""
        super().__init__(f"bulk operation {operation.id} ended {operation.status}{code}")
        self.operation = operation


@dataclass(frozen=True)
class BulkCursor:
    """`bulk:<operation gid>:<root records already handed out>`: resumes inside one file."""

    operation_id: str
    done: int

    def dump(self) -> str:
        return f"{CURSOR_PREFIX}{self.operation_id}:{self.done}"

    @classmethod
    def load(cls, cursor: str | None) -> BulkCursor | None:
        """The bulk cursor in `cursor`, or None when it is a page cursor (or absent)."""
        if not cursor or not cursor.startswith(CURSOR_PREFIX):
            return None
        operation_id, sep, done = cursor[len(CURSOR_PREFIX) :].rpartition(":")
        if not sep or not operation_id or not done.isdigit():
            raise StoreError(f"not a bulk cursor: {cursor!r}")
        return cls(operation_id, int(done))


class BulkExport:
    """Start (or adopt), wait for and read bulk query operations through the adapter's plumbing."""

    def __init__(
        self,
        run: Run,
        session: requests.Session,
        sleep: Callable[[float], None],
        *,
        poll_first: float = POLL_FIRST,
        poll_max: float = POLL_MAX,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.run = run
        self.session = session
        self.sleep = sleep
        self.poll_first = poll_first
        self.poll_max = poll_max
        self.max_wait = max_wait

    # ------------------------------------------------------------------ lifecycle
    def export(self, document: str) -> Operation:
        """A completed operation for `document`; raises BulkUnavailable or StoreError."""
        retried = False
        while True:
            operation = self._start(document)
            if operation.status in ACTIVE:
                operation = self.wait(operation.id)
            if operation.readable:
                return operation
            if operation.error_code == "ACCESS_DENIED":
                raise StoreError(
                    f"bulk operation {operation.id} was denied access: the app lacks a scope "
                    "the export needs (read_products, read_inventory, read_orders)"
                )
            if operation.error_code == "INTERNAL_SERVER_ERROR" and not retried:
                log.warning("bulk operation %s failed on Shopify's side; once more", operation.id)
                retried = True
                continue
            raise BulkUnavailable(operation)

    def _start(self, document: str) -> Operation:
        for _ in range(START_ATTEMPTS):
            payload = self.run(queries.BULK_OPERATION_RUN_QUERY, query=document)
            payload = payload["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            if not errors:
                return Operation.of(payload["bulkOperation"])
            if not any(e.get("code") == "OPERATION_IN_PROGRESS" for e in errors):
                raise StoreError("; ".join(str(e.get("message")) for e in errors))
            current = self.current()
            if current is None or current.status not in ACTIVE:
                self.sleep(self.poll_first)  # it ended between the two answers: start again
            elif _same(current.query, document):
                log.info("bulk operation %s already runs our export: adopting it", current.id)
                return current
            else:
                log.info("bulk operation %s (another export) is running: waiting", current.id)
                self.wait(current.id)
        raise StoreError("could not start a bulk operation: another one kept running")

    def wait(self, operation_id: str) -> Operation:
        """Poll until the operation leaves CREATED/RUNNING/CANCELING; sleeps between polls."""
        interval, waited = self.poll_first, 0.0
        while True:
            self.sleep(interval)
            waited += interval
            operation = self.find(operation_id)
            if operation is None:
                raise StoreError(f"bulk operation {operation_id} vanished while we waited")
            if operation.status not in ACTIVE:
                return operation
            if waited >= self.max_wait:
                raise StoreError(
                    f"bulk operation {operation_id} still {operation.status} after {waited:.0f} s"
                )
            interval = min(interval * POLL_GROWTH, self.poll_max)

    def find(self, operation_id: str) -> Operation | None:
        node = self.run(queries.BULK_OPERATION, id=operation_id).get("node")
        return Operation.of(node) if node else None

    def current(self) -> Operation | None:
        node = self.run(queries.CURRENT_BULK_OPERATION).get("currentBulkOperation")
        return Operation.of(node) if node else None

    # ------------------------------------------------------------------ reading
    def records(
        self, operation: Operation, build: Callable[[Group], Any], skip: int = 0
    ) -> Iterator[Any]:
        """`build(group)` for each root of the file after the first `skip`.

        A broken download is started again (with backoff) and the roots already handed out are
        skipped, so a reader never sees one twice.
        """
        if operation.url is None:
            return
        done, failures = skip, 0
        while True:
            try:
                for index, group in enumerate(groups(self.lines(operation.url)), start=1):
                    if index > done:
                        done = index
                        yield build(group)
                return
            except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
                failures += 1
                if failures >= DOWNLOAD_ATTEMPTS:
                    raise StoreError(f"bulk file download kept failing: {exc}") from exc
                log.warning("bulk file download broke after %s records (%s); again", done, exc)
                self.sleep(min(self.poll_max, self.poll_first * 2**failures))

    def lines(self, url: str) -> Iterator[dict[str, Any]]:
        response = self.session.get(url, stream=True, timeout=TIMEOUT, headers=DOWNLOAD_HEADERS)
        with response:
            if response.status_code != 200:
                raise StoreError(f"bulk file answered {response.status_code}")
            for line in response.iter_lines(chunk_size=1 << 16):
                if line:
                    yield json.loads(line)


@dataclass
class Group:
    """One root object of a bulk file and its descendants, by the id of their parent."""

    root: dict[str, Any]
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def of(self, parent_id: str | None) -> list[dict[str, Any]]:
        return self.children.get(parent_id, []) if parent_id else []


def groups(rows: Iterable[dict[str, Any]]) -> Iterator[Group]:
    """Group grouped JSONL rows: a row without `__parentId` opens a group, the rest join it.

    A child whose parent is not in the open group means the file is not grouped (a later API's
    `groupObjects: false`): reading on would mis-assemble records, so it is an error.
    """
    current: Group | None = None
    known: set[str] = set()
    for row in rows:
        parent = row.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield current
            current, known = Group(row), _ids(row)
            continue
        if current is None or parent not in known:
            raise StoreError(f"bulk file is not grouped: {parent} is not an open parent")
        current.children.setdefault(parent, []).append(row)
        known |= _ids(row)
    if current is not None:
        yield current


def product_of(group: Group) -> StoreProduct:
    """A product line, its variant lines and their inventory-level lines → one StoreProduct."""
    variants = []
    for node in group.of(group.root["id"]):
        item = node.get("inventoryItem") or {}
        levels = group.of(node["id"]) + group.of(item.get("id"))
        variants.append(parse.variant(node, levels))
    return parse.product(group.root, variants)


def order_of(group: Group) -> StoreOrder:
    """An order line and its line-item lines → one StoreOrder."""
    return parse.order(group.root, group.of(group.root["id"]))


def _ids(row: dict[str, Any]) -> set[str]:
    """Ids a child may name as its parent: the row's own and its nested objects' (an inventory
    level's parent may be given as the variant or as its inventory item)."""
    ids = {row["id"]} if isinstance(row.get("id"), str) else set()
    ids.update(
        value["id"]
        for value in row.values()
        if isinstance(value, dict) and isinstance(value.get("id"), str)
    )
    return ids


def _same(one: str, other: str) -> bool:
    return one.split() == other.split()
