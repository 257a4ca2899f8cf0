"""Order and inventory scenarios: what a customer or the merchant does to the shop.

Mixed into `ShopifyStore`. Quantities follow Shopify's inventory states: an order moves units
from `available` to `committed`, a fulfilment takes them out of `committed` (and so `on_hand`),
a cancellation with restock moves them back to `available`. `available` goes below 0 only for
CONTINUE (oversell) variants; DENY variants refuse the sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandbox.shopify import payloads
from sandbox.shopify.errors import OutOfStock, SandboxError
from sandbox.shopify.models import (
    FulfillmentHold,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    InventoryLevel,
    LineItem,
    Order,
)

if TYPE_CHECKING:
    from sandbox.shopify.store import ShopifyStore

OPEN_STATES = ("OPEN", "IN_PROGRESS")


class OrderScenarios:
    """Scenario methods; `self` is a ShopifyStore."""

    def place_order(
        self: ShopifyStore,
        lines: Iterable[tuple[str, int]],
        shipping: str = "Standard",
        email: str | None = None,
        *,
        tags: Iterable[str] = (),
        note: str | None = None,
        locale: str = "en",
        at: datetime | None = None,
        announce: bool = True,
    ) -> str:
        """A customer checks out → orders/create and inventory_levels/update; returns the GID."""
        with self.lock:
            wanted = [(self.require(v, "ProductVariant"), int(q)) for v, q in lines]
            if not wanted or any(q <= 0 for _, q in wanted):
                raise SandboxError("An order needs lines with a positive quantity")
            placed = []
            for variant, qty in wanted:
                level = self._best_level(variant.item_number)
                if variant.inventoryPolicy == "DENY" and self.available(variant) < qty:
                    raise OutOfStock(variant.sku, self.available(variant), qty)
                placed.append((variant, qty, level))
            when = at or self.clock()
            number = self.next_order_number
            self.next_order_number += 1
            order = Order(
                self.ids.next(),
                f"#{number}",
                number,
                email or f"customer{number}@example.com",
                self.ids.next(),
                [],
                shipping,
                when,
                when,
                tags=list(tags),
                note=note,
                customerLocale=locale,
            )
            touched: list[InventoryLevel] = []
            was_available = {v.number: self.available(v) for v, _, _ in placed}
            for variant, qty, level in placed:
                product = self.products[variant.product_number]
                line = LineItem(
                    self.ids.next(),
                    variant.number,
                    product.number,
                    product.title,
                    "" if variant.title == "Default Title" else variant.title,
                    variant.sku,
                    variant.price,
                    qty,
                    qty,
                    location_number=level.location_number,
                )
                order.lines.append(line)
                self.line_to_order[line.number] = order.number
                level.available -= qty
                level.committed += qty
                level.updatedAt = when
                touched.append(level)
            self.orders[order.number] = order
            self._open_fulfillment_orders(order, when)
            if announce:
                event = str(uuid.uuid4())
                self.announce("orders/create", payloads.order(self, order), event)
                self._announce_levels(touched)
                for variant, _, _ in placed:
                    if was_available[variant.number] > 0 >= self.available(variant):
                        self.announce("variants/out_of_stock", payloads.variant(self, variant))
            return order.id

    def _best_level(self: ShopifyStore, item: int) -> InventoryLevel:
        """Shopify routes a line to a location that can stock it; the primary wins ties."""
        primary = self.primary_location().number
        levels = self.levels_of(item)
        return max(levels, key=lambda lv: (lv.available, lv.location_number == primary))

    def _open_fulfillment_orders(self: ShopifyStore, order: Order, when: datetime) -> None:
        by_location: dict[int, list[LineItem]] = {}
        for line in order.lines:
            by_location.setdefault(line.location_number, []).append(line)
        for location, lines in by_location.items():
            fo = FulfillmentOrder(
                self.ids.next(),
                order.number,
                location,
                "OPEN",
                [
                    FulfillmentOrderLineItem(
                        self.ids.next(), li.number, li.currentQuantity, li.currentQuantity
                    )
                    for li in lines
                ],
                when,
                when,
            )
            self.fulfillment_orders[fo.number] = fo
            order.fulfillment_order_numbers.append(fo.number)

    def _announce_levels(self: ShopifyStore, levels: Iterable[InventoryLevel]) -> None:
        seen = set()
        for level in levels:
            key = (level.item_number, level.location_number)
            if key not in seen:
                seen.add(key)
                self.announce("inventory_levels/update", payloads.inventory_level(self, level))

    def restock(
        self: ShopifyStore, variant_gid: str, quantity: int, location: str | None = None
    ) -> InventoryLevel:
        """Stock arrives at a location (default: primary) → inventory_levels/update."""
        with self.lock:
            variant = self.require(variant_gid, "ProductVariant")
            loc = self.require(location, "Location") if location else self.primary_location()
            before = self.available(variant)
            level = self._ensure_level(variant.item_number, loc.number)
            level.available += int(quantity)
            level.incoming = max(level.incoming - int(quantity), 0)
            level.updatedAt = self.clock()
            self._announce_levels([level])
            if before <= 0 < self.available(variant):
                self.announce("variants/in_stock", payloads.variant(self, variant))
            return level

    def order_of(self: ShopifyStore, gid: str) -> Order:
        return self.require(gid, "Order")

    def cancel_order(
        self: ShopifyStore,
        gid: str,
        reason: str = "CUSTOMER",
        *,
        restock: bool = True,
        refund: bool = True,
        staff_note: str | None = None,
    ) -> Order:
        """Merchant cancels (with restock unless told not to: the units then leave stock) →
        orders/cancelled, orders/updated, levels. Without `refund` a paid order stays paid."""
        with self.lock:
            order = self.order_of(gid)
            if order.cancelledAt is not None:
                raise SandboxError("Order has already been cancelled", code="INVALID")
            now = self.clock()
            touched = []
            for line in order.lines:
                unfulfilled = line.currentQuantity - line.fulfilled
                if unfulfilled > 0:
                    touched.append(self._take_off(line, unfulfilled, restock, now))
                line.currentQuantity = line.fulfilled
            for fo in self._fos(order):
                if fo.status in (*OPEN_STATES, "ON_HOLD", "SCHEDULED"):
                    fo.status, fo.updatedAt = "CLOSED", now
                    for fo_line in fo.lines:
                        fo_line.remainingQuantity = 0
            order.cancelledAt, order.cancelReason, order.updatedAt = now, reason, now
            order.staff_note = staff_note
            if refund or order.displayFinancialStatus != "PAID":
                order.displayFinancialStatus = (
                    "REFUNDED" if order.displayFinancialStatus == "PAID" else "VOIDED"
                )
            event = str(uuid.uuid4())
            self.announce("orders/cancelled", payloads.order(self, order), event)
            self.announce("orders/updated", payloads.order(self, order), event)
            self._announce_levels(touched)
            return order

    def _uncommit(self: ShopifyStore, line: LineItem, qty: int, now: datetime) -> InventoryLevel:
        variant = self.variants[line.variant_number]
        level = self._ensure_level(variant.item_number, line.location_number)
        level.committed -= qty
        level.available += qty
        level.updatedAt = now
        return level

    def edit_order_quantity(
        self: ShopifyStore, order_gid: str, line_gid: str, quantity: int
    ) -> Order:
        """Merchant edits a line's quantity → orders/edited, orders/updated, levels."""
        with self.lock:
            order = self.order_of(order_gid)
            line = next((li for li in order.lines if li.id == line_gid), None)
            if line is None or order.cancelledAt is not None:
                raise SandboxError("Line item cannot be edited", code="INVALID", field=["lineItem"])
            if quantity < line.fulfilled:
                raise SandboxError("Cannot reduce below the fulfilled quantity")
            delta = quantity - line.currentQuantity
            variant = self.variants[line.variant_number]
            if delta > 0 and variant.inventoryPolicy == "DENY" and self.available(variant) < delta:
                raise OutOfStock(variant.sku, self.available(variant), delta)
            now = self.clock()
            level = self._uncommit(line, -delta, now)
            line.currentQuantity = quantity
            self._resize_fulfillment_lines(order, line, delta, now)
            order.updatedAt = now
            event = str(uuid.uuid4())
            self.announce("orders/edited", payloads.order_edit(self, order, line, delta), event)
            self.announce("orders/updated", payloads.order(self, order), event)
            self._announce_levels([level])
            return order

    def _resize_fulfillment_lines(
        self: ShopifyStore, order: Order, line: LineItem, delta: int, now: datetime
    ) -> None:
        for fo in self._fos(order):
            if fo.status not in (*OPEN_STATES, "ON_HOLD"):
                continue
            for fo_line in fo.lines:
                if fo_line.line_number != line.number:
                    continue
                change = max(delta, -fo_line.remainingQuantity)
                fo_line.remainingQuantity += change
                fo_line.totalQuantity += change
                fo.updatedAt = now
                delta -= change
                if delta == 0:
                    return

    def fulfil_order(self: ShopifyStore, gid: str) -> Order:
        """Merchant ships every open (not held) fulfillment order → fulfilled/updated, levels."""
        with self.lock:
            order = self.order_of(gid)
            now = self.clock()
            touched = []
            for fo in self._fos(order):
                if fo.status not in OPEN_STATES:
                    continue
                for fo_line in fo.lines:
                    qty = fo_line.remainingQuantity
                    line = next(li for li in order.lines if li.number == fo_line.line_number)
                    variant = self.variants[line.variant_number]
                    level = self._ensure_level(variant.item_number, fo.location_number)
                    level.committed -= qty
                    level.updatedAt = now
                    line.fulfilled += qty
                    fo_line.remainingQuantity = 0
                    touched.append(level)
                fo.status, fo.updatedAt = "CLOSED", now
            order.updatedAt = now
            status = self.display_fulfillment_status(order)
            topic = "orders/fulfilled" if status == "FULFILLED" else "orders/partially_fulfilled"
            event = str(uuid.uuid4())
            if touched:
                self.announce(topic, payloads.order(self, order), event)
            self.announce("orders/updated", payloads.order(self, order), event)
            self._announce_levels(touched)
            return order

    def _fos(self: ShopifyStore, order: Order) -> list[FulfillmentOrder]:
        return [self.fulfillment_orders[n] for n in order.fulfillment_order_numbers]

    def display_fulfillment_status(self: ShopifyStore, order: Order) -> str:
        """Shopify's displayFulfillmentStatus derived from the lines and fulfillment orders."""
        current = sum(li.currentQuantity for li in order.lines)
        done = sum(li.fulfilled for li in order.lines)
        if done and done >= current:
            return "FULFILLED"
        if done:
            return "PARTIALLY_FULFILLED"
        if any(fo.status == "ON_HOLD" for fo in self._fos(order)):
            return "ON_HOLD"
        return "UNFULFILLED"

    def hold_fulfillment_order(
        self: ShopifyStore,
        gid: str,
        reason: str,
        *,
        reason_notes: str | None = None,
        lines: list[tuple[str, int]] | None = None,
        handle: str | None = None,
    ) -> tuple[FulfillmentHold, FulfillmentOrder, FulfillmentOrder | None]:
        """Hold some or all lines; the unheld rest moves to a new fulfillment order."""
        with self.lock:
            fo = self.require(gid, "FulfillmentOrder")
            if fo.status not in (*OPEN_STATES, "ON_HOLD"):
                raise SandboxError(
                    "The fulfillment order's status must be open or on hold.",
                    code="INVALID_STATUS",
                )
            now = self.clock()
            remaining = self._split_held(fo, dict(lines)) if lines else None
            hold = FulfillmentHold(self.ids.next(), reason, reason_notes, handle)
            fo.holds.append(hold)
            fo.status, fo.updatedAt = "ON_HOLD", now
            return hold, fo, remaining

    def _split_held(
        self: ShopifyStore, fo: FulfillmentOrder, held: dict[str, int]
    ) -> FulfillmentOrder | None:
        by_id = {line.id: line for line in fo.lines}
        for line_gid, qty in held.items():
            line = by_id.get(line_gid)
            if line is None or not 0 < qty <= line.remainingQuantity:
                raise SandboxError(
                    f"Invalid fulfillment order line item quantity for {line_gid}",
                    code="INVALID_LINE_ITEM_QUANTITY",
                    field=["fulfillmentHold", "fulfillmentOrderLineItems"],
                )
        rest = []
        kept = []
        for line in fo.lines:
            hold_qty = held.get(line.id, 0)
            if line.remainingQuantity - hold_qty > 0:
                rest.append(
                    FulfillmentOrderLineItem(
                        self.ids.next(),
                        line.line_number,
                        line.remainingQuantity - hold_qty,
                        line.remainingQuantity - hold_qty,
                    )
                )
            if hold_qty:
                line.totalQuantity = line.remainingQuantity = hold_qty
                kept.append(line)
        fo.lines = kept
        if not rest:
            return None
        now = self.clock()
        new = FulfillmentOrder(
            self.ids.next(), fo.order_number, fo.location_number, "OPEN", rest, now, now
        )
        self.fulfillment_orders[new.number] = new
        self.orders[fo.order_number].fulfillment_order_numbers.append(new.number)
        return new

    def release_hold(
        self: ShopifyStore, gid: str, hold_ids: list[str] | None = None
    ) -> FulfillmentOrder:
        """Release some or all holds; with none left the fulfillment order is OPEN again."""
        with self.lock:
            fo = self.require(gid, "FulfillmentOrder")
            if fo.status != "ON_HOLD":
                raise SandboxError("The fulfillment order is not on hold.", code="INVALID_STATUS")
            fo.holds = [h for h in fo.holds if hold_ids is not None and h.id not in hold_ids]
            if not fo.holds:
                fo.status = "OPEN"
            fo.updatedAt = self.clock()
            return fo

    def line_item(self: ShopifyStore, gid: str) -> Any:
        return self.get(gid)
