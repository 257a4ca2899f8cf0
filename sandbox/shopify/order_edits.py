"""Order edits as Shopify's Admin API runs them: begin, stage changes, commit.

Mixed into `ShopifyStore`. `orderEditBegin` opens a CalculatedOrder whose calculated line items
carry the numeric ids of the order's line items; changes are staged on it and nothing touches
the order or the stock until `orderEditCommit`, which applies them at once: quantities lowered
(restocked units go from `committed` back to `available`, the rest leave stock), added variants
as new line items committing stock at their location with a fulfillment order of their own,
`updatedAt` bumped, then `orders/edited` and `orders/updated` announced (one event) with the
inventory levels touched. A committed session cannot be changed or committed again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sandbox.shopify import payloads
from sandbox.shopify.errors import NotFound, OutOfStock, SandboxError
from sandbox.shopify.ids import gid, parse_gid
from sandbox.shopify.models import (
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    InventoryLevel,
    LineItem,
    Order,
)

if TYPE_CHECKING:
    from sandbox.shopify.store import ShopifyStore


@dataclass
class AddedLine:
    number: int
    variant_number: int
    quantity: int


@dataclass
class OrderEditSession:
    """A CalculatedOrder: the order with staged, uncommitted changes."""

    number: int
    order_number: int
    quantities: dict[int, int] = field(default_factory=dict)  # line number → staged quantity
    restock: dict[int, bool] = field(default_factory=dict)
    added: list[AddedLine] = field(default_factory=list)
    committed: bool = False
    typename: ClassVar[str] = "CalculatedOrder"

    @property
    def id(self) -> str:
        return gid("CalculatedOrder", self.number)


@dataclass
class CalculatedLine:
    """A CalculatedLineItem, built on demand from a session and a line (or an added variant)."""

    number: int
    variant_number: int
    title: str
    variantTitle: str | None
    sku: str
    price: str
    quantity: int
    editableQuantity: int
    editableQuantityBeforeChanges: int
    restocking: bool
    restockable: bool = True
    hasStagedLineItemDiscount: bool = False
    image: None = None
    customAttributes: list[object] = field(default_factory=list)
    calculatedDiscountAllocations: list[object] = field(default_factory=list)
    discountAllocations: list[object] = field(default_factory=list)
    stagedChanges: list[object] = field(default_factory=list)
    typename: ClassVar[str] = "CalculatedLineItem"

    @property
    def id(self) -> str:
        return gid("CalculatedLineItem", self.number)


def _edit_error(message: str, field_name: str = "id") -> SandboxError:
    return SandboxError(message, code="INVALID", field=[field_name])


class OrderEditScenarios:
    """Scenario methods; `self` is a ShopifyStore."""

    def begin_order_edit(self: ShopifyStore, order_gid: str) -> OrderEditSession:
        with self.lock:
            order = self.get(order_gid)
            if not isinstance(order, Order):
                raise NotFound(f"Order {order_gid}")
            if order.cancelledAt is not None:
                raise _edit_error("The order is cancelled and cannot be edited.")
            session = OrderEditSession(self.ids.next(), order.number)
            self.order_edits[session.number] = session
            return session

    def order_edit(
        self: ShopifyStore, session_gid: str, *, open_only: bool = True
    ) -> OrderEditSession:
        try:
            kind, number = parse_gid(session_gid)
        except ValueError:
            kind, number = "", -1
        session = self.order_edits.get(number) if kind == "CalculatedOrder" else None
        if session is None:
            raise NotFound(f"CalculatedOrder {session_gid}")
        if open_only and session.committed:
            raise _edit_error("The order edit has already been committed.")
        return session

    def calculated_lines(self: ShopifyStore, session: OrderEditSession) -> list[CalculatedLine]:
        """The order's lines as the edit sees them (staged quantities applied)."""
        order = self.orders[session.order_number]
        return [self._calculated(session, line) for line in order.lines]

    def added_lines(self: ShopifyStore, session: OrderEditSession) -> list[CalculatedLine]:
        rows = []
        for added in session.added:
            variant = self.variants[added.variant_number]
            product = self.products[variant.product_number]
            title = None if variant.title == "Default Title" else variant.title
            rows.append(
                CalculatedLine(
                    added.number,
                    variant.number,
                    product.title,
                    title,
                    variant.sku,
                    variant.price,
                    added.quantity,
                    added.quantity,
                    0,
                    False,
                )
            )
        return rows

    def _calculated(
        self: ShopifyStore, session: OrderEditSession, line: LineItem
    ) -> CalculatedLine:
        staged = session.quantities.get(line.number, line.currentQuantity)
        return CalculatedLine(
            line.number,
            line.variant_number,
            line.title,
            line.variantTitle or None,
            line.sku,
            line.price,
            staged,
            max(staged - line.fulfilled, 0),
            line.fulfillableQuantity,
            session.restock.get(line.number, False) and staged < line.currentQuantity,
        )

    def edit_set_quantity(
        self: ShopifyStore, session_gid: str, line_gid: str, quantity: int, restock: bool
    ) -> CalculatedLine:
        with self.lock:
            session = self.order_edit(session_gid)
            order = self.orders[session.order_number]
            try:
                kind, number = parse_gid(line_gid)
            except ValueError:
                kind, number = "", -1
            line = next((li for li in order.lines if li.number == number), None)
            added = next((a for a in session.added if a.number == number), None)
            if kind != "CalculatedLineItem" or (line is None and added is None):
                raise _edit_error(f"Line item {line_gid} does not exist.", "lineItemId")
            if quantity < 0:
                raise _edit_error("Quantity must be greater than or equal to 0.", "quantity")
            if added is not None:
                added.quantity = quantity
                session.added = [a for a in session.added if a.quantity > 0]
                return (
                    self.added_lines(session)[0]
                    if quantity
                    else CalculatedLine(
                        number, added.variant_number, "", None, "", "0", 0, 0, 0, False
                    )
                )
            assert line is not None
            if quantity > line.currentQuantity:
                raise _edit_error(
                    f"Quantity {quantity} is greater than the line's {line.currentQuantity}.",
                    "quantity",
                )
            if quantity < line.fulfilled:
                raise _edit_error(
                    "Cannot set the quantity below the fulfilled quantity.", "quantity"
                )
            session.quantities[line.number] = quantity
            session.restock[line.number] = bool(restock)
            return self._calculated(session, line)

    def edit_add_variant(
        self: ShopifyStore,
        session_gid: str,
        variant_gid: str,
        quantity: int,
        allow_duplicates: bool,
    ) -> CalculatedLine:
        with self.lock:
            session = self.order_edit(session_gid)
            variant = self.get(variant_gid)
            if getattr(variant, "typename", None) != "ProductVariant":
                raise _edit_error(f"Variant {variant_gid} does not exist.", "variantId")
            if quantity <= 0:
                raise _edit_error("Quantity must be greater than 0.", "quantity")
            order = self.orders[session.order_number]
            present = any(
                li.variant_number == variant.number and li.currentQuantity > 0 for li in order.lines
            ) or any(a.variant_number == variant.number for a in session.added)
            if present and not allow_duplicates:
                raise _edit_error("The variant is already on the order.", "variantId")
            if variant.inventoryPolicy == "DENY" and self.available(variant) < quantity:
                raise OutOfStock(variant.sku, self.available(variant), quantity)
            session.added.append(AddedLine(self.ids.next(), variant.number, quantity))
            return self.added_lines(session)[-1]

    def commit_order_edit(
        self: ShopifyStore, session_gid: str, staff_note: str | None = None
    ) -> Order:
        with self.lock:
            session = self.order_edit(session_gid)
            order = self.orders[session.order_number]
            if order.cancelledAt is not None:
                raise _edit_error("The order is cancelled and cannot be edited.")
            now = self.clock()
            touched: list[InventoryLevel] = []
            removals: list[dict[str, int]] = []
            for line in order.lines:
                staged = session.quantities.get(line.number, line.currentQuantity)
                delta = line.currentQuantity - staged
                if delta <= 0:
                    continue
                touched.append(self._take_off(line, delta, session.restock.get(line.number), now))
                line.currentQuantity = staged
                self._resize_fulfillment_lines(order, line, -delta, now)
                removals.append({"id": line.number, "delta": delta})
            additions = [self._add_line(order, added, now, touched) for added in session.added]
            session.committed = True
            order.updatedAt = now
            event = str(uuid.uuid4())
            body = payloads.order_edit_committed(self, order, additions, removals, staff_note)
            self.announce("orders/edited", body, event)
            self.announce("orders/updated", payloads.order(self, order), event)
            self._announce_levels(touched)
            return order

    def _take_off(
        self: ShopifyStore, line: LineItem, qty: int, restock: bool | None, now: datetime
    ) -> InventoryLevel:
        if restock:
            return self._uncommit(line, qty, now)
        variant = self.variants[line.variant_number]
        level = self._ensure_level(variant.item_number, line.location_number)
        level.committed -= qty  # not restocked: the units leave the location's stock
        level.updatedAt = now
        return level

    def _add_line(
        self: ShopifyStore,
        order: Order,
        added: AddedLine,
        now: datetime,
        touched: list[InventoryLevel],
    ) -> dict[str, int]:
        variant = self.variants[added.variant_number]
        product = self.products[variant.product_number]
        level = self._best_level(variant.item_number)
        line = LineItem(
            self.ids.next(),
            variant.number,
            product.number,
            product.title,
            "" if variant.title == "Default Title" else variant.title,
            variant.sku,
            variant.price,
            added.quantity,
            added.quantity,
            location_number=level.location_number,
        )
        order.lines.append(line)
        self.line_to_order[line.number] = order.number
        level.available -= added.quantity
        level.committed += added.quantity
        level.updatedAt = now
        touched.append(level)
        fo = FulfillmentOrder(
            self.ids.next(),
            order.number,
            level.location_number,
            "OPEN",
            [
                FulfillmentOrderLineItem(
                    self.ids.next(), line.number, added.quantity, added.quantity
                )
            ],
            now,
            now,
        )
        self.fulfillment_orders[fo.number] = fo
        order.fulfillment_order_numbers.append(fo.number)
        return {"id": line.number, "delta": added.quantity}
