"""Customers' own changes from the status page: cancel a waiting line, or switch it to an
in-stock alternative, carried out on the store and then through the engine.

`request_change` records an `OrderChange` (one per backorder: a second click finds the first) and
wakes the "order_change" job after the commit. The job claims the change (claim with expiry,
backoff with jitter and the attempt limit of `store_writes`, one retry policy for every write to a
store), reads the order from the store, makes the one edit through the adapter, and hands the
order the store returned to `ingest_order` in one unit of work: the queue moves, later lines'
ETAs are recomputed and the events fire exactly as if the platform's webhook had brought the
edit (that webhook, arriving later, then changes nothing). The same unit of work marks the change
done, leaves the refund to the merchant as a task (neither platform refunds through an order
edit) and records the confirmations to the customer and the merchant.

A job run twice finds the change done. A job that crashed after the store made the edit but
before our commit reads the order again: the line is already at its target
(`line_quantity - quantity`), so it ingests what the store says and takes nothing off twice.
Where the platform cannot make the edit (`NotSupported`) the merchant gets a task saying exactly
what to do by hand and the customer is told so; other refusals are retried, then left to the
merchant the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from adapters.base import NeedsReauthorization, NotSupported, StoreAdapter, StoreOrder
from connector.commands import execute
from connector.db import after_commit
from connector.models import (
    QUEUED_STATUSES,
    Backorder,
    MerchantTask,
    Order,
    OrderChange,
    OrderLine,
    Shop,
    Variant,
)
from connector.services.availability import quote
from connector.services.errors import Conflict, Invalid, NotFound
from connector.services.notify import tell_customer, tell_merchant
from connector.services.orders import ingest_order
from connector.services.store_writes import (
    ATTEMPTS_PER_TRY,
    CLAIM,
    MAX_ATTEMPTS,
    backoff,
    sweep_due,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

JOB = "order_change"
ACTIONS = ("cancel", "switch")
PAID = ("paid", "partially_paid")


def dedupe_key(backorder_id: int) -> str:
    return f"backorder:{backorder_id}"


def job_key(change_id: int) -> str:
    return f"{JOB}:{change_id}"


# ---- asking ------------------------------------------------------------------------------------


def line_of_order(
    session: Session, shop_id: int, order_id: int, backorder_id: int
) -> tuple[Backorder, OrderLine]:
    """The backorder and its line, if it belongs to this order of this shop; NotFound else."""
    backorder = session.get(Backorder, backorder_id)
    if backorder is None or backorder.shop_id != shop_id:
        raise NotFound(f"no line {backorder_id} in this order")
    line = session.get_one(OrderLine, backorder.order_line_id)
    if line.order_id != order_id:
        raise NotFound(f"no line {backorder_id} in this order")
    return backorder, line


def short_quantity(backorder: Backorder) -> int:
    """The units still waiting: what a cancel takes off and a switch replaces."""
    return backorder.quantity - backorder.allocated_quantity


def offered_alternatives(backorder: Backorder) -> list[dict[str, Any]]:
    return list((backorder.alternatives or {}).get("items") or [])


def alternative_in_stock(session: Session, runtime: Runtime, variant_id: int, units: int) -> bool:
    """Would `units` of the variant ship from stock now (the engine's own quote)?"""
    return quote(session, runtime.clock, variant_id, units, alternatives=0).in_stock


def _chosen_alternative(
    session: Session, runtime: Runtime, backorder: Backorder, variant_id: int | None, units: int
) -> Variant:
    offered = {item.get("variant_id") for item in offered_alternatives(backorder)}
    variant = session.get(Variant, variant_id) if variant_id is not None else None
    if variant is None or variant.id not in offered or variant.shop_id != backorder.shop_id:
        raise Invalid("that item is not one of the alternatives offered", field="variant_id")
    if not alternative_in_stock(session, runtime, variant.id, units):
        raise Conflict(f"{variant.title or variant.sku} is no longer in stock for {units}")
    return variant


def request_change(
    runtime: Runtime,
    session: Session,
    *,
    shop_id: int,
    order_id: int,
    backorder_id: int,
    action: str,
    variant_id: int | None = None,
) -> OrderChange:
    """Record the customer's cancel or switch of one waiting line; the job runs after commit.

    A change already asked for this line is returned as it is, whatever this request says.
    """
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}", field="action")
    backorder, line = line_of_order(session, shop_id, order_id, backorder_id)
    existing = session.scalar(
        select(OrderChange).where(
            OrderChange.shop_id == shop_id, OrderChange.dedupe_key == dedupe_key(backorder_id)
        )
    )
    if existing is not None:
        return existing
    units = short_quantity(backorder)
    if backorder.status not in QUEUED_STATUSES or units <= 0:
        raise NotFound(f"line {backorder_id} is not waiting")
    chosen = None
    if action == "switch":
        chosen = _chosen_alternative(session, runtime, backorder, variant_id, units)
    change = OrderChange(
        shop_id=shop_id,
        order_id=order_id,
        backorder_id=backorder_id,
        action=action,
        variant_id=chosen.id if chosen else None,
        quantity=units,
        line_quantity=line.quantity,
        dedupe_key=dedupe_key(backorder_id),
        status="pending",
        attempts=0,
    )
    session.add(change)
    session.flush()
    change_id = change.id
    after_commit(session, lambda: runtime.jobs.enqueue(JOB, change_id, key=job_key(change_id)))
    return change


# ---- the job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    """What the job asks of the store, read in the claim's transaction."""

    change_id: int
    order_external_id: str
    line_external_id: str
    keep: int
    add_variant_external_id: str | None
    add_quantity: int
    still_waiting: bool
    staff_note: str


class _NoLongerWaiting(Exception):
    """The line became ready, shipped or was cancelled before the store was changed."""


def _is_due(now: datetime) -> Any:
    return and_(
        OrderChange.status == "pending",
        or_(OrderChange.next_attempt_at.is_(None), OrderChange.next_attempt_at <= now),
    )


def run(runtime: Runtime, change_id: int) -> str | None:
    """Claim the change, edit the store, record the outcome; the state it ended in, or None
    when there was nothing to do (not due, done already, or another worker has it)."""
    from connector.stores import adapter_for

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        change = session.get(OrderChange, change_id)
        if change is None or change.status != "pending":
            return None
        claimed = session.execute(
            update(OrderChange)
            .where(OrderChange.id == change_id, _is_due(now))
            .values(next_attempt_at=now + CLAIM, attempts=OrderChange.attempts + 1)
        ).rowcount
        if claimed != 1:
            return None
        shop = session.get_one(Shop, change.shop_id)
        if shop.status != "active":
            change.status, change.done_at = "failed", now
            change.next_attempt_at, change.last_error = None, "the shop uninstalled the app"
            return "failed"
        edit = _edit(session, change)
        adapter = adapter_for(runtime, shop, max_attempts=ATTEMPTS_PER_TRY)
    try:
        snapshot = _apply(adapter, edit)
    except NotSupported as exc:
        return _leave_to_merchant(runtime, change_id, "merchant", f"not supported: {exc}")
    except NeedsReauthorization as exc:
        error = f"the store refused our credentials: {exc}"
        return _leave_to_merchant(runtime, change_id, "failed", error)
    except _NoLongerWaiting as exc:
        return _leave_to_merchant(runtime, change_id, "failed", str(exc))
    except Exception as exc:  # recorded and retried; the job itself never raises
        return _retry_or_fail(runtime, change_id, f"{type(exc).__name__}: {exc}")
    return _record_done(runtime, change_id, snapshot)


def _edit(session: Session, change: OrderChange) -> _Edit:
    backorder = session.get_one(Backorder, change.backorder_id)
    line = session.get_one(OrderLine, backorder.order_line_id)
    order = session.get_one(Order, change.order_id)
    alternative = session.get(Variant, change.variant_id) if change.variant_id else None
    line_quantity = change.line_quantity if change.line_quantity is not None else line.quantity
    what = f"switched to {alternative.title or alternative.sku}" if alternative else "cancelled"
    return _Edit(
        change_id=change.id,
        order_external_id=order.external_id,
        line_external_id=line.external_id,
        keep=max(line_quantity - change.quantity, 0),
        add_variant_external_id=alternative.external_id if alternative else None,
        add_quantity=change.quantity if alternative else 0,
        still_waiting=backorder.status in QUEUED_STATUSES,
        staff_note=(
            f"Backorder Connector: {change.quantity} x {line.title or line.sku} {what} "
            "by the customer on the order status page."
        ),
    )


def _apply(adapter: StoreAdapter, edit: _Edit) -> StoreOrder:
    """The store's order after the edit, making it only if the store does not show it yet."""
    current = adapter.get_order(edit.order_external_id)
    line = next((x for x in current.lines if x.external_id == edit.line_external_id), None)
    if line is None or line.quantity <= edit.keep:
        return current  # made already: by a run that crashed before recording it, or by hand
    if not edit.still_waiting:
        raise _NoLongerWaiting("the line no longer waits: it was not changed")
    changed: StoreOrder = adapter.change_line(
        edit.order_external_id,
        edit.line_external_id,
        keep_quantity=edit.keep,
        add_variant_external_id=edit.add_variant_external_id,
        add_quantity=edit.add_quantity,
        staff_note=edit.staff_note,
    )
    return changed


def _claimed(session: Session, change_id: int) -> OrderChange | None:
    """The change, locked, if it is still ours to finish."""
    change = session.get(OrderChange, change_id, with_for_update=True, populate_existing=True)
    return change if change is not None and change.status == "pending" else None


def _record_done(runtime: Runtime, change_id: int, snapshot: StoreOrder) -> str | None:
    def command(session: Session) -> str | None:
        change = _claimed(session, change_id)
        if change is None:
            return None
        order = session.get_one(Order, change.order_id)
        was_paid = order.financial_status in PAID
        shop = session.get_one(Shop, change.shop_id)
        ingest_order(session, runtime.clock, shop, snapshot)
        change = session.get_one(OrderChange, change_id)
        now = runtime.clock.now()
        change.status, change.done_at = "done", now
        change.next_attempt_at, change.last_error = None, None
        _confirm(runtime, session, shop, change, was_paid)
        return "done"

    return execute(runtime, command)


def _retry_or_fail(runtime: Runtime, change_id: int, error: str) -> str | None:
    log.warning("order change %s: the store refused the edit: %s", change_id, error)
    with runtime.db.transaction() as session:
        change = _claimed(session, change_id)
        if change is None:
            return None
        if change.attempts < MAX_ATTEMPTS:
            change.last_error = error[:2000]
            change.next_attempt_at = runtime.clock.now() + backoff(change.attempts)
            return "pending"
    return _leave_to_merchant(runtime, change_id, "failed", error)


def _leave_to_merchant(runtime: Runtime, change_id: int, status: str, reason: str) -> str | None:
    """The store was not changed: a task says what to do by hand; both sides are told."""
    log.info("order change %s left to the merchant (%s): %s", change_id, status, reason)

    def command(session: Session) -> str | None:
        change = _claimed(session, change_id)
        if change is None:
            return None
        change.status, change.done_at = status, runtime.clock.now()
        change.next_attempt_at, change.last_error = None, reason[:2000]
        _hand_over(runtime, session, change, reason)
        return status

    return execute(runtime, command)


# ---- what each side is told --------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """The change in the merchant's and the customer's words."""

    order: Order
    line: OrderLine
    line_title: str
    alternative: Variant | None

    @property
    def alternative_title(self) -> str | None:
        if self.alternative is None:
            return None
        return self.alternative.title or self.alternative.sku


def _facts(session: Session, change: OrderChange) -> _Facts:
    backorder = session.get_one(Backorder, change.backorder_id)
    line = session.get_one(OrderLine, backorder.order_line_id)
    alternative = session.get(Variant, change.variant_id) if change.variant_id else None
    return _Facts(
        order=session.get_one(Order, change.order_id),
        line=line,
        line_title=line.title or line.sku or "the item",
        alternative=alternative,
    )


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(Decimal('0.01'))} {currency}"


def _refund_due(change: OrderChange, facts: _Facts) -> Decimal:
    """What the customer paid for the units taken off, less what the alternative costs."""
    removed = facts.line.price * change.quantity
    added = facts.alternative.price * change.quantity if facts.alternative else Decimal("0")
    return removed - added


def _confirm(
    runtime: Runtime, session: Session, shop: Shop, change: OrderChange, was_paid: bool
) -> None:
    facts = _facts(session, change)
    order_name = facts.order.name or facts.order.external_id
    refund = _refund_due(change, facts) if was_paid else Decimal("0")
    refund_note = None
    if refund > 0:
        amount = _money(refund, shop.currency)
        refund_note = f"The shop will refund {amount} to you."
        _task(
            session,
            change,
            kind="refund",
            key="refund",
            summary=(
                f"Refund {amount} on order {order_name}: {change.quantity} x "
                f"{facts.line_title} {_done_words(facts)} by the customer from the status page."
            ),
            details={"amount": str(refund), "currency": shop.currency, "units": change.quantity},
        )
    elif refund < 0 and was_paid:
        refund_note = "The new item costs a little more; the shop will contact you about it."
        _task(
            session,
            change,
            kind="price_difference",
            key="difference",
            summary=(
                f"Order {order_name}: {facts.alternative_title} costs "
                f"{_money(-refund, shop.currency)} more than {facts.line_title}; collect or "
                "waive the difference."
            ),
            details={"amount": str(-refund), "currency": shop.currency},
        )
    kind = "switch_confirmed" if facts.alternative else "cancel_confirmed"
    tell_customer(
        runtime,
        session,
        shop=shop,
        order=facts.order,
        kind=kind,
        dedupe_key=f"order_change:{change.id}:confirmed",
        backorder_id=change.backorder_id,
        payload={
            "line_title": facts.line_title,
            "alternative_title": facts.alternative_title,
            "refund_note": refund_note,
            "quantity": change.quantity,
        },
    )
    summary = f"{change.quantity} x {facts.line_title} {_done_words(facts)} by the customer"
    action = f"refund {_money(refund, shop.currency)}" if refund > 0 else ""
    _tell_merchant(runtime, session, tell_merchant, shop, change, summary, order_name, action)


def _done_words(facts: _Facts) -> str:
    return f"switched to {facts.alternative_title}" if facts.alternative else "cancelled"


def _hand_over(runtime: Runtime, session: Session, change: OrderChange, reason: str) -> None:
    shop = session.get_one(Shop, change.shop_id)
    facts = _facts(session, change)
    order_name = facts.order.name or facts.order.external_id
    units = f"{change.quantity} x {facts.line_title}"
    todo = f"remove {units} (line {facts.line.external_id})"
    if facts.alternative is not None:
        todo += f" and add {change.quantity} x {facts.alternative_title}"
        todo += f" (SKU {facts.alternative.sku})"
    if facts.order.financial_status in PAID and _refund_due(change, facts) > 0:
        todo += f", then refund {_money(_refund_due(change, facts), shop.currency)}"
    asked = (
        f"switch {units} to {facts.alternative_title}" if facts.alternative else f"cancel {units}"
    )
    summary = (
        f"The customer asked to {asked} from the status page; the app could not make the "
        f"edit ({reason}). On order {order_name}, {todo}, and tell the customer."
    )
    _task(
        session,
        change,
        kind="switch_line" if facts.alternative else "cancel_line",
        key="by_hand",
        summary=summary,
        details={"reason": reason, "line_external_id": facts.line.external_id},
    )
    tell_customer(
        runtime,
        session,
        shop=shop,
        order=facts.order,
        kind="change_needs_merchant",
        dedupe_key=f"order_change:{change.id}:by_hand",
        backorder_id=change.backorder_id,
        payload={
            "line_title": facts.line_title,
            "alternative_title": facts.alternative_title,
            "truth": "The shop's team will make this change by hand and confirm it by e-mail.",
        },
    )
    _tell_merchant(runtime, session, tell_merchant, shop, change, summary, order_name, todo)


def _tell_merchant(
    runtime: Runtime,
    session: Session,
    tell: Any,
    shop: Shop,
    change: OrderChange,
    summary: str,
    order_name: str,
    action: str,
) -> None:
    context = {"summary": summary, "order_name": order_name, "action": action}
    tell(
        runtime,
        session,
        shop=shop,
        kind="merchant_change",
        dedupe_key=f"order_change:{change.id}:merchant",
        payload={**context, "context": context},
        order_id=change.order_id,
    )


def _task(
    session: Session,
    change: OrderChange,
    *,
    kind: str,
    key: str,
    summary: str,
    details: dict[str, Any],
) -> None:
    """One task per change and purpose: a replayed outcome finds the one it made."""
    task_key = f"order_change:{change.id}:{key}"
    exists = session.scalar(
        select(MerchantTask.id).where(
            MerchantTask.shop_id == change.shop_id, MerchantTask.dedupe_key == task_key
        )
    )
    if exists is not None:
        return
    session.add(
        MerchantTask(
            shop_id=change.shop_id,
            order_id=change.order_id,
            backorder_id=change.backorder_id,
            kind=kind,
            summary=summary,
            details={**details, "order_change_id": change.id},
            dedupe_key=task_key,
            status="open",
        )
    )


# ---- after a crash -----------------------------------------------------------------------------


def sweep(runtime: Runtime, everything: bool = False) -> int:
    """Queue changes that are due and not on their first trip: retries, crashed runs, restarts.
    A change is claimed by pushing its `next_attempt_at` on while it stays "pending"."""
    return sweep_due(runtime, OrderChange, JOB, everything=everything, claimed=("pending",))


def register() -> None:
    from connector import jobs

    jobs.register(JOB, run, sweep)
