"""Many orders' pushes at once, through Shopify's bulk mutations.

Why: pushed one by one, an order that became ready after a restock costs about 40 points (its
tags, its data metafield, the fulfillment orders read, the hold released). On the Standard plan
(100 points a second) a thousand such orders take some seven minutes of rate limit, and their
customers' parcels wait that long. A bulk mutation runs one mutation over a file of variables
for the points of one request (`adapters.shopify.bulk_mutations`), so a batch is one bulk
operation per kind of change — tags added, tags removed, data, holds released — plus the reads
of the orders' holds, 25 orders a request.

Each order's failure is its own: a row refused (userErrors) fails that order only, and an order
that failed one step is left out of the steps after it, as one-by-one pushing would stop there.
An operation that fails as a whole fails the orders it carried; NeedsReauthorization fails all.
Holds placed and notes are rare in a batch (a restock releases holds) and go one by one. Below
BULK_MIN orders one by one is quicker: a bulk operation takes a second or more to finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adapters.base import NeedsReauthorization, OrderPush, StoreAdapter, StoreError, push_each
from adapters.shopify import queries
from adapters.shopify.bulk_mutations import BulkMutationError, BulkMutations

BULK_MIN = 20

Run = Callable[..., dict[str, Any]]
Rows = list[tuple[str, dict[str, Any]]]  # (order external id, the mutation's variables)


class OrderPushes:
    def __init__(
        self,
        adapter: StoreAdapter,
        run: Run,
        bulk: BulkMutations,
        *,
        metafield: Callable[[str, str, dict[str, Any]], dict[str, Any]],
        hold_handle: str,
    ) -> None:
        self.adapter = adapter
        self.run = run
        self.bulk = bulk
        self.metafield = metafield  # (owner id, key, value) -> MetafieldsSetInput
        self.hold_handle = hold_handle

    def push(self, pushes: Sequence[OrderPush]) -> dict[str, Exception | None]:
        if len(pushes) < BULK_MIN:
            return push_each(self.adapter, pushes)
        failed: dict[str, Exception] = {}
        self._step(
            failed,
            queries.TAGS_ADD,
            "tagsAdd",
            [
                (p.order_external_id, {"id": p.order_external_id, "tags": list(p.add_tags)})
                for p in pushes
                if p.add_tags
            ],
        )
        self._step(
            failed,
            queries.TAGS_REMOVE,
            "tagsRemove",
            [
                (p.order_external_id, {"id": p.order_external_id, "tags": list(p.remove_tags)})
                for p in pushes
                if p.remove_tags
            ],
        )
        self._step(
            failed,
            queries.METAFIELDS_SET,
            "metafieldsSet",
            [
                (
                    p.order_external_id,
                    {"metafields": [self.metafield(p.order_external_id, p.data_key, p.data)]},
                )
                for p in pushes
                if p.data is not None
            ],
        )
        releasing = [p.order_external_id for p in pushes if p.release_holds]
        self._step(
            failed,
            queries.FULFILLMENT_ORDER_RELEASE_HOLD,
            "fulfillmentOrderReleaseHold",
            self._releases([o for o in releasing if o not in failed], failed),
        )
        for p in pushes:  # holds placed afresh and notes: one by one (see the module docstring)
            if p.order_external_id in failed or not (p.hold_lines or p.note):
                continue
            rest = OrderPush(
                p.order_external_id, hold_lines=p.hold_lines, hold_note=p.hold_note, note=p.note
            )
            failure = push_each(self.adapter, [rest])[p.order_external_id]
            if failure is not None:
                failed[p.order_external_id] = failure
        return {p.order_external_id: failed.get(p.order_external_id) for p in pushes}

    def _step(self, failed: dict[str, Exception], mutation: str, field: str, rows: Rows) -> None:
        """One bulk operation over the rows of orders not failed yet; failures noted by order."""
        live = [(order, variables) for order, variables in rows if order not in failed]
        if not live:
            return
        missing: StoreError = StoreError(f"{field}: no result for this order")
        try:
            results: list[dict[str, Any] | None] = list(
                self.bulk.run(mutation, [variables for _, variables in live])
            )
        except NeedsReauthorization:
            raise
        except BulkMutationError as exc:  # part way: the rows with a result took effect
            results, missing = exc.results, exc
        except StoreError as exc:
            failed.update((order, exc) for order, _ in live)
            return
        for (order, _), data in zip(live, results, strict=True):
            payload = (data or {}).get(field)
            if payload is None:
                failed.setdefault(order, missing)
                continue
            errors = payload.get("userErrors") or []
            if errors:
                message = "; ".join(str(e.get("message")) for e in errors)
                failed.setdefault(order, StoreError(f"{field}: {message}"))

    def _releases(self, orders: list[str], failed: dict[str, Exception]) -> Rows:
        """The release of each of our holds on these orders: their fulfillment orders read 25
        orders a request (the merchant's own holds are left alone)."""
        rows: Rows = []
        size = queries.ORDERS_PER_HOLDS_QUERY
        for start in range(0, len(orders), size):
            chunk = orders[start : start + size]
            try:
                data = self.run(
                    queries.ORDERS_FULFILLMENT_HOLDS,
                    ids=chunk,
                    first=queries.FULFILLMENT_ORDERS_PER_ORDER,
                )
            except NeedsReauthorization:
                raise
            except StoreError as exc:
                failed.update((order, exc) for order in chunk)
                continue
            found = {node["id"]: node for node in data.get("nodes") or [] if node}
            for order in chunk:
                node = found.get(order)
                if node is None:
                    failed[order] = StoreError(f"order {order} not found")
                    continue
                for fo in node["fulfillmentOrders"]["nodes"]:
                    ours = [
                        h["id"]
                        for h in fo.get("fulfillmentHolds") or ()
                        if h.get("handle") == self.hold_handle
                    ]
                    if fo["status"] == "ON_HOLD" and ours:
                        rows.append((order, {"id": fo["id"], "holdIds": ours}))
        return rows
