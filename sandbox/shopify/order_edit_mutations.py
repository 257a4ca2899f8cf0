"""orderEditBegin / orderEditSetQuantity / orderEditAddVariant / orderEditCommit / orderCancel,
and the CalculatedOrder and CalculatedLineItem fields they return.

Refusals are `userErrors` (orderCancel: `orderCancelUserErrors`, with a code), as Shopify
reports them. orderCancel runs synchronously here; its Job comes back already done.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from sandbox.shopify.connections import connection
from sandbox.shopify.errors import SandboxError
from sandbox.shopify.ids import gid
from sandbox.shopify.models import Order
from sandbox.shopify.order_edits import CalculatedLine, OrderEditSession
from sandbox.shopify.registry import field
from sandbox.shopify.store import ShopifyStore

Info = GraphQLResolveInfo
CANCEL_CODES = ("NO_REFUND_PERMISSION", "NOT_FOUND", "INVALID")  # OrderCancelUserErrorCode


def _store(info: Info) -> ShopifyStore:
    return info.context.store


def _error(exc: SandboxError) -> dict[str, Any]:
    return {"field": exc.field, "message": exc.message}


@field("Mutation", "orderEditBegin")
def order_edit_begin(_src: Any, info: Info, id: str) -> dict[str, Any]:
    try:
        session = _store(info).begin_order_edit(id)
    except SandboxError as exc:
        return {"calculatedOrder": None, "userErrors": [_error(exc)]}
    return {"calculatedOrder": session, "userErrors": []}


@field("Mutation", "orderEditSetQuantity")
def order_edit_set_quantity(
    _src: Any,
    info: Info,
    id: str,
    lineItemId: str,
    quantity: int,
    restock: bool | None = None,
    **_deprecated: Any,
) -> dict[str, Any]:
    store = _store(info)
    try:
        line = store.edit_set_quantity(id, lineItemId, quantity, bool(restock))
        session = store.order_edit(id)
    except SandboxError as exc:
        return {"calculatedLineItem": None, "calculatedOrder": None, "userErrors": [_error(exc)]}
    return {"calculatedLineItem": line, "calculatedOrder": session, "userErrors": []}


@field("Mutation", "orderEditAddVariant")
def order_edit_add_variant(
    _src: Any,
    info: Info,
    id: str,
    variantId: str,
    quantity: int,
    allowDuplicates: bool | None = None,
    locationId: str | None = None,
) -> dict[str, Any]:
    store = _store(info)
    try:
        line = store.edit_add_variant(id, variantId, quantity, bool(allowDuplicates))
        session = store.order_edit(id)
    except SandboxError as exc:
        return {"calculatedLineItem": None, "calculatedOrder": None, "userErrors": [_error(exc)]}
    return {"calculatedLineItem": line, "calculatedOrder": session, "userErrors": []}


@field("Mutation", "orderEditCommit")
def order_edit_commit(
    _src: Any,
    info: Info,
    id: str,
    notifyCustomer: bool | None = None,
    staffNote: str | None = None,
) -> dict[str, Any]:
    try:
        order = _store(info).commit_order_edit(id, staffNote)
    except SandboxError as exc:
        return {"order": None, "userErrors": [_error(exc)]}
    return {"order": order, "userErrors": []}


@field("Mutation", "orderCancel")
def order_cancel(
    _src: Any,
    info: Info,
    orderId: str,
    refund: bool,
    restock: bool,
    reason: str,
    notifyCustomer: bool | None = None,
    staffNote: str | None = None,
) -> dict[str, Any]:
    store = _store(info)
    try:
        order = store.require(orderId, "Order")
        store.cancel_order(order.id, reason, restock=restock, refund=refund, staff_note=staffNote)
    except SandboxError as exc:
        code = exc.code if exc.code in CANCEL_CODES else "INVALID"
        error = {**_error(exc), "code": code}
        return {"job": None, "orderCancelUserErrors": [error], "userErrors": [_error(exc)]}
    job = {"id": gid("Job", store.ids.next()), "done": True, "query": {}}
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


@field("QueryRoot", "job")
def job(_src: Any, info: Info, id: str) -> dict[str, Any]:
    """Every sandbox job finishes before its mutation answers."""
    return {"id": id, "done": True, "query": {}}


# ------------------------------------------------------------------------ CalculatedOrder
@field("CalculatedOrder", "originalOrder")
def calculated_original(src: OrderEditSession, info: Info) -> Order:
    return _store(info).orders[src.order_number]


@field("CalculatedOrder", "lineItems")
def calculated_lines(src: OrderEditSession, info: Info, **args: Any) -> dict[str, Any]:
    return connection(_store(info).calculated_lines(src), info, **args)


@field("CalculatedOrder", "addedLineItems")
def calculated_added(src: OrderEditSession, info: Info, **args: Any) -> dict[str, Any]:
    return connection(_store(info).added_lines(src), info, **args)


@field("CalculatedOrder", "addedDiscountApplications", "stagedChanges")
def calculated_nothing(_src: OrderEditSession, info: Info, **args: Any) -> dict[str, Any]:
    return connection([], info, **args)


@field("CalculatedOrder", "shippingLines", "taxLines")
def calculated_empty(_src: OrderEditSession, _info: Info) -> list[Any]:
    return []


@field("CalculatedOrder", "cartDiscountAmountSet", "notificationPreviewHtml")
def calculated_none(_src: OrderEditSession, _info: Info) -> None:
    return None


@field("CalculatedOrder", "notificationPreviewTitle")
def calculated_title(src: OrderEditSession, info: Info) -> str:
    return f"Order {_store(info).orders[src.order_number].name} has been updated"


@field("CalculatedOrder", "subtotalLineItemsQuantity")
def calculated_quantity(src: OrderEditSession, info: Info) -> int:
    store = _store(info)
    rows = store.calculated_lines(src) + store.added_lines(src)
    return sum(row.quantity for row in rows)


@field("CalculatedOrder", "subtotalPriceSet", "totalPriceSet", "totalOutstandingSet")
def calculated_total(src: OrderEditSession, info: Info) -> dict[str, Any]:
    store = _store(info)
    rows = store.calculated_lines(src) + store.added_lines(src)
    amount = sum(float(row.price) * row.quantity for row in rows)
    if info.field_name == "totalOutstandingSet":
        paid = sum(
            float(li.price) * li.currentQuantity for li in store.orders[src.order_number].lines
        )
        amount -= paid
    return _money(info, f"{amount:.2f}")


# ------------------------------------------------------------------------ CalculatedLineItem
@field("CalculatedLineItem", "variant")
def calculated_variant(src: CalculatedLine, info: Info) -> Any:
    return _store(info).variants.get(src.variant_number)


@field("CalculatedLineItem", "originalUnitPriceSet", "discountedUnitPriceSet")
def calculated_unit_price(src: CalculatedLine, info: Info) -> dict[str, Any]:
    return _money(info, src.price)


@field("CalculatedLineItem", "editableSubtotalSet")
def calculated_editable_subtotal(src: CalculatedLine, info: Info) -> dict[str, Any]:
    return _money(info, f"{float(src.price) * src.editableQuantity:.2f}")


@field("CalculatedLineItem", "uneditableSubtotalSet")
def calculated_uneditable_subtotal(src: CalculatedLine, info: Info) -> dict[str, Any]:
    return _money(info, f"{float(src.price) * (src.quantity - src.editableQuantity):.2f}")


def _money(info: Info, amount: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": _store(info).shop.currencyCode}
    return {"shopMoney": money, "presentmentMoney": dict(money)}
