"""Merchant tasks and customers' order changes in the JSON API.

A task is what the app could not do for the merchant: a refund (neither platform refunds
through an order edit), or a customer's cancel or switch the platform would not make. The
dashboard lists the open ones and marks them done; `/order-changes` shows every change a customer
asked for from the status page, with its outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from connector.commands import execute
from connector.models import MerchantTask, Order, OrderChange
from connector.services.reads import order_matches
from connector.web.api.resources import _page_request, _paged
from connector.web.api.routing import Call, operation
from connector.web.api.schemas import ListQuery, Page
from connector.web.errors import ApiError

# ---- schemas -----------------------------------------------------------------------------------


class TaskQuery(ListQuery):
    status: Literal["open", "done"] | None = None


class TaskOut(BaseModel):
    id: int
    kind: str = Field(description="refund, price_difference, cancel_line or switch_line")
    summary: str = Field(description="What to do, in the merchant's words.")
    order_external_id: str | None
    order_name: str | None
    status: Literal["open", "done"]
    created_at: datetime
    done_at: datetime | None
    details: dict[str, Any] = Field(description="The amounts, units and reasons behind it.")


class TaskPage(Page[TaskOut]):
    pass


class TaskDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(
        default=None, max_length=1000, description="How it was done (kept in details.done_note)."
    )


class OrderChangeQuery(ListQuery):
    order: str | None = Field(
        default=None, max_length=64, description="Order name (#1001) or platform id."
    )
    status: Literal["pending", "done", "merchant", "failed"] | None = None


class OrderChangeOut(BaseModel):
    id: int
    order_external_id: str
    order_name: str
    backorder_id: int
    action: Literal["cancel", "switch"]
    variant_id: int | None = Field(description="Switch: the alternative chosen.")
    quantity: int = Field(description="The units taken off the line.")
    status: Literal["pending", "done", "merchant", "failed"]
    attempts: int
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


class OrderChangePage(Page[OrderChangeOut]):
    pass


# ---- reads -------------------------------------------------------------------------------------


def _scoped(statement: Select[Any], column: Any, shop_id: int | None) -> Select[Any]:
    return statement if shop_id is None else statement.where(column == shop_id)


def _after(statement: Select[Any], column: Any, after_id: int | None, limit: int) -> Select[Any]:
    if after_id is not None:
        statement = statement.where(column > after_id)
    return statement.order_by(column).limit(limit + 1)


def _task_out(task: MerchantTask, order: Order | None) -> TaskOut:
    return TaskOut(
        id=task.id,
        kind=task.kind,
        summary=task.summary,
        order_external_id=order.external_id if order else None,
        order_name=order.name if order else None,
        status=task.status,  # type: ignore[arg-type]
        created_at=task.created_at,
        done_at=task.done_at,
        details=task.details or {},
    )


def _tasks(session: Session, statement: Select[Any]) -> Sequence[Any]:
    return session.execute(
        statement.add_columns(Order).outerjoin(Order, Order.id == MerchantTask.order_id)
    ).all()


@operation(
    "GET",
    "/tasks",
    tag="tasks",
    summary="What the merchant must do by hand: refunds, edits the platform could not make",
    response=TaskPage,
    query=TaskQuery,
    errors=(403,),
)
def tasks_list(call: Call) -> TaskPage:
    q: TaskQuery = call.query
    scope = call.principal.scope(q.shop_id)
    page = _page_request(call, "tasks")
    statement = _scoped(select(MerchantTask), MerchantTask.shop_id, scope)
    if q.status is not None:
        statement = statement.where(MerchantTask.status == q.status)
    with call.runtime.db.transaction() as session:
        rows = _tasks(session, _after(statement, MerchantTask.id, page.after_id, page.limit))
        items, cursor = _paged(call, "tasks", rows, lambda row: row[0].id)
        return TaskPage(items=[_task_out(task, order) for task, order in items], next_cursor=cursor)


@operation(
    "POST",
    "/tasks/<int:task_id>/done",
    tag="tasks",
    summary="Mark a task done, with an optional note (doing it twice changes nothing)",
    response=TaskOut,
    body=TaskDoneIn,
    errors=(404,),
)
def tasks_done(call: Call, task_id: int) -> TaskOut:
    scope = call.principal.scope(None)
    runtime = call.runtime
    body: TaskDoneIn = call.body

    def command(session: Session) -> TaskOut:
        task = session.get(MerchantTask, task_id, with_for_update=True)
        if task is None or (scope is not None and task.shop_id != scope):
            raise ApiError(404, "not_found", f"no task with id {task_id}")
        if task.status != "done":
            task.status, task.done_at = "done", runtime.clock.now()
            if body.note:
                task.details = {**(task.details or {}), "done_note": body.note}
            session.flush()
        order = session.get(Order, task.order_id) if task.order_id else None
        return _task_out(task, order)

    return execute(runtime, command)


@operation(
    "GET",
    "/order-changes",
    tag="tasks",
    summary="Customers' cancels and switches from the status page, with their outcome",
    response=OrderChangePage,
    query=OrderChangeQuery,
    errors=(403,),
)
def order_changes_list(call: Call) -> OrderChangePage:
    q: OrderChangeQuery = call.query
    scope = call.principal.scope(q.shop_id)
    page = _page_request(call, "order-changes")
    statement = _scoped(
        select(OrderChange, Order).join(Order, Order.id == OrderChange.order_id),
        OrderChange.shop_id,
        scope,
    )
    if q.status is not None:
        statement = statement.where(OrderChange.status == q.status)
    if q.order is not None:
        statement = statement.where(order_matches(q.order))
    with call.runtime.db.transaction() as session:
        rows = session.execute(_after(statement, OrderChange.id, page.after_id, page.limit)).all()
        items, cursor = _paged(call, "order-changes", rows, lambda row: row[0].id)
        return OrderChangePage(
            items=[
                OrderChangeOut(
                    id=change.id,
                    order_external_id=order.external_id,
                    order_name=order.name,
                    backorder_id=change.backorder_id,
                    action=change.action,  # type: ignore[arg-type]
                    variant_id=change.variant_id,
                    quantity=change.quantity,
                    status=change.status,  # type: ignore[arg-type]
                    attempts=change.attempts,
                    last_error=change.last_error,
                    created_at=change.created_at,
                    done_at=change.done_at,
                )
                for change, order in items
            ],
            next_cursor=cursor,
        )
