"""Changing what a customer ordered on Shopify: an order edit, or a cancellation.

Shopify edits an order in a session: `orderEditBegin` returns a CalculatedOrder whose line items
stand for the order's lines (same numeric id), `orderEditSetQuantity` (restock: the removed
units go back to `available`) and `orderEditAddVariant` stage changes, and `orderEditCommit`
applies them. Shopify cannot edit an order down to nothing, so an edit that would leave an
order with no line and nothing fulfilled is a cancellation instead (`orderCancel`, restocked,
without refund: refunds are the merchant's decision). The platform never e-mails the customer
here (`notifyCustomer: false`): the connector tells them itself.

Refusals: what Shopify cannot do at all (a shipped line, a cancelled order, an order the edit
API refuses to open) is `NotSupported` with a sentence a merchant can read; a refused staged
change is a `StoreError` carrying Shopify's `userErrors`, as every other mutation reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.base import NotSupported, StoreError, StoreOrder, StoreOrderLine
from adapters.shopify import queries

Run = Callable[..., dict[str, Any]]
JOB_POLLS = 10  # orderCancel's job is usually done at once; then 0.5 s, 1 s, … between reads
JOB_FIRST_WAIT = 0.5


class OrderEdits:
    """One shop's order edits, over the adapter's `run` (its transport: pacing and retries)."""

    def __init__(self, run: Run, sleep: Callable[[float], None]) -> None:
        self._run = run
        self._sleep = sleep

    def change(
        self,
        order: StoreOrder,
        line_external_id: str,
        *,
        keep_quantity: int,
        add_variant_external_id: str | None,
        add_quantity: int,
        staff_note: str,
    ) -> None:
        """Make the change on `order` (as just read). Nothing is sent when the store already
        shows it done (a retried change after a lost answer)."""
        line = _line(order, line_external_id)
        _check(order, line, keep_quantity, add_variant_external_id, add_quantity)
        adding = add_variant_external_id is not None and not _has_variant(
            order, add_variant_external_id
        )
        if keep_quantity == line.quantity and not adding:
            return
        if _empties(order, line, keep_quantity, adding):
            self._cancel(order, staff_note)
            return
        calculated = self._begin(order)
        if keep_quantity != line.quantity:
            data = self._run(
                queries.ORDER_EDIT_SET_QUANTITY,
                id=calculated["id"],
                lineItemId=_calculated_line(calculated, line)["id"],
                quantity=keep_quantity,
                restock=True,
            )
            _user_errors(data["orderEditSetQuantity"])
        if adding:
            data = self._run(
                queries.ORDER_EDIT_ADD_VARIANT,
                id=calculated["id"],
                variantId=add_variant_external_id,
                quantity=add_quantity,
                allowDuplicates=False,
            )
            _user_errors(data["orderEditAddVariant"])
        data = self._run(
            queries.ORDER_EDIT_COMMIT,
            id=calculated["id"],
            notifyCustomer=False,
            staffNote=staff_note or None,
        )
        _user_errors(data["orderEditCommit"])

    def _begin(self, order: StoreOrder) -> dict[str, Any]:
        data = self._run(
            queries.ORDER_EDIT_BEGIN, id=order.external_id, lines=queries.CALCULATED_LINES
        )["orderEditBegin"]
        errors = data.get("userErrors") or []
        if errors or not data.get("calculatedOrder"):
            reason = "; ".join(str(e.get("message")) for e in errors) or "no edit was opened"
            raise NotSupported(f"Shopify cannot edit order {order.name}: {reason}")
        return dict(data["calculatedOrder"])

    def _cancel(self, order: StoreOrder, staff_note: str) -> None:
        data = self._run(
            queries.ORDER_CANCEL,
            orderId=order.external_id,
            refund=False,
            restock=True,
            reason="CUSTOMER",
            notifyCustomer=False,
            staffNote=staff_note or None,
        )["orderCancel"]
        errors = data.get("orderCancelUserErrors") or []
        if errors:
            reason = "; ".join(str(e.get("message")) for e in errors)
            raise NotSupported(f"Shopify cannot cancel order {order.name}: {reason}")
        job = data.get("job") or {}
        self._wait_for(job, order)

    def _wait_for(self, job: dict[str, Any], order: StoreOrder) -> None:
        """The cancellation runs as a job: read it back until done (a few seconds at most)."""
        wait = JOB_FIRST_WAIT
        for _ in range(JOB_POLLS):
            if not job.get("id") or job.get("done"):
                return
            self._sleep(wait)
            wait *= 2
            job = self._run(queries.JOB, id=job["id"]).get("job") or {}
        raise StoreError(f"Shopify is still cancelling order {order.name}; read it again later")


def _line(order: StoreOrder, line_external_id: str) -> StoreOrderLine:
    for line in order.lines:
        if line.external_id == line_external_id:
            return line
    raise StoreError(f"order {order.name} has no line {line_external_id}")


def _check(
    order: StoreOrder,
    line: StoreOrderLine,
    keep: int,
    add_variant: str | None,
    add_quantity: int,
) -> None:
    if keep < 0 or keep > line.quantity:
        raise ValueError(f"keep_quantity {keep} is outside 0..{line.quantity}")
    if add_variant is not None and add_quantity <= 0:
        raise ValueError("add_quantity must be positive when a variant is added")
    if order.cancelled_at is not None:
        raise NotSupported(f"Order {order.name} is cancelled: it can no longer be changed")
    if keep < line.fulfilled_quantity:
        raise NotSupported(
            f"{line.title or 'The line'} in order {order.name}: {line.fulfilled_quantity} of "
            f"{line.quantity} already fulfilled; shipped units cannot be edited away"
        )


def _has_variant(order: StoreOrder, variant_external_id: str) -> bool:
    return any(
        li.variant_external_id == variant_external_id and li.quantity > 0 for li in order.lines
    )


def _empties(order: StoreOrder, line: StoreOrderLine, keep: int, adding: bool) -> bool:
    """Whether the edit would leave no line at all on an order that shipped nothing."""
    if keep > 0 or adding:
        return False
    others = [li for li in order.lines if li.external_id != line.external_id]
    nothing_shipped = all(li.fulfilled_quantity == 0 for li in order.lines)
    return nothing_shipped and all(li.quantity == 0 for li in others)


def _number(gid: str) -> str:
    return gid.rsplit("/", 1)[-1].split("?", 1)[0]


def _calculated_line(calculated: dict[str, Any], line: StoreOrderLine) -> dict[str, Any]:
    wanted = _number(line.external_id)
    for node in calculated["lineItems"]["nodes"]:
        if _number(node["id"]) == wanted:
            return dict(node)
    raise StoreError(f"the order edit does not show line {line.external_id}")


def _user_errors(payload: dict[str, Any] | None) -> None:
    errors = (payload or {}).get("userErrors") or []
    if errors:
        raise StoreError("; ".join(str(e.get("message")) for e in errors))
