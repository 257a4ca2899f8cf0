"""Read models for the API and dashboard: lists with keyset pages, scoped to one shop or all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from connector.models import (
    QUEUED_STATUSES,
    Backorder,
    IncomingStock,
    InventoryLevel,
    Notification,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after_id: int | None = None


def _page(statement: Select[Any], id_column: Any, page: PageRequest) -> Select[Any]:
    if page.after_id is not None:
        statement = statement.where(id_column > page.after_id)
    # One extra row tells whether another page follows.
    return statement.order_by(id_column).limit(page.limit + 1)


def _scoped(statement: Select[Any], shop_column: Any, shop_id: int | None) -> Select[Any]:
    return statement if shop_id is None else statement.where(shop_column == shop_id)


# ---- shops -------------------------------------------------------------------------------------


def list_shops(session: Session, shop_id: int | None, page: PageRequest) -> Sequence[Shop]:
    return session.scalars(_page(_scoped(select(Shop), Shop.id, shop_id), Shop.id, page)).all()


# ---- variants ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRow:
    variant: Variant
    product_external_id: str
    available: int
    incoming: int
    lead_time_days: int


def _variant_rows(session: Session, statement: Select[Any]) -> list[VariantRow]:
    rows = session.execute(statement).all()
    ids = [row.Variant.id for row in rows]
    available = dict(
        session.execute(
            select(InventoryLevel.variant_id, func.sum(InventoryLevel.available))
            .where(InventoryLevel.variant_id.in_(ids))
            .group_by(InventoryLevel.variant_id)
        ).all()
    )
    incoming = open_incoming_by_variant(session, ids)
    return [
        VariantRow(
            variant=row.Variant,
            product_external_id=row.product_external_id,
            available=int(available.get(row.Variant.id) or 0),
            incoming=incoming.get(row.Variant.id, 0),
            lead_time_days=row.Variant.lead_time_days
            if row.Variant.lead_time_days is not None
            else row.shop_lead_time,
        )
        for row in rows
    ]


def open_incoming_by_variant(session: Session, variant_ids: Sequence[int]) -> dict[int, int]:
    return {
        variant_id: int(total or 0)
        for variant_id, total in session.execute(
            select(IncomingStock.variant_id, func.sum(IncomingStock.quantity))
            .where(IncomingStock.variant_id.in_(variant_ids), IncomingStock.received_at.is_(None))
            .group_by(IncomingStock.variant_id)
        ).all()
    }


def _variant_select() -> Select[Any]:
    return (
        select(
            Variant,
            Product.external_id.label("product_external_id"),
            Shop.lead_time_days.label("shop_lead_time"),
        )
        .join(Product, Product.id == Variant.product_id)
        .join(Shop, Shop.id == Variant.shop_id)
    )


def list_variants(
    session: Session, shop_id: int | None, page: PageRequest, sku: str | None = None
) -> list[VariantRow]:
    statement = _scoped(_variant_select(), Variant.shop_id, shop_id)
    if sku is not None:
        statement = statement.where(Variant.sku == sku)
    return _variant_rows(session, _page(statement, Variant.id, page))


def get_variant(session: Session, shop_id: int | None, variant_id: int) -> VariantRow | None:
    statement = _scoped(_variant_select(), Variant.shop_id, shop_id)
    rows = _variant_rows(session, statement.where(Variant.id == variant_id))
    return rows[0] if rows else None


# ---- backorders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackorderRow:
    backorder: Backorder
    order_external_id: str
    order_name: str
    line_external_id: str
    sku: str
    queue_position: int | None


def queue_order() -> tuple[Any, ...]:
    """Priority tier (higher first), then order time, then platform order id."""
    return (Backorder.priority.desc(), Backorder.placed_at, Backorder.order_sort_key, Backorder.id)


def _queue_positions(session: Session, variant_ids: set[int]) -> dict[int, int]:
    if not variant_ids:
        return {}
    position = func.row_number().over(partition_by=Backorder.variant_id, order_by=queue_order())
    rows = session.execute(
        select(Backorder.id, position).where(
            Backorder.variant_id.in_(variant_ids), Backorder.status.in_(QUEUED_STATUSES)
        )
    ).all()
    return {backorder_id: int(rank) for backorder_id, rank in rows}


def _backorder_select() -> Select[Any]:
    return (
        select(
            Backorder,
            Order.external_id.label("order_external_id"),
            Order.name.label("order_name"),
            OrderLine.external_id.label("line_external_id"),
            Variant.sku.label("sku"),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Variant, Variant.id == Backorder.variant_id)
        .options(selectinload(Backorder.eta_history))
    )


def _backorder_rows(session: Session, statement: Select[Any]) -> list[BackorderRow]:
    rows = session.execute(statement).all()
    positions = _queue_positions(
        session,
        {row.Backorder.variant_id for row in rows if row.Backorder.status in QUEUED_STATUSES},
    )
    return [
        BackorderRow(
            backorder=row.Backorder,
            order_external_id=row.order_external_id,
            order_name=row.order_name,
            line_external_id=row.line_external_id,
            sku=row.sku,
            queue_position=positions.get(row.Backorder.id),
        )
        for row in rows
    ]


def order_matches(reference: str) -> Any:
    """An order named the way a support agent would: "#1001", "1001" or the platform id."""
    names = {reference, f"#{reference.lstrip('#')}"}
    return or_(Order.name.in_(names), Order.external_id == reference.lstrip("#"))


def list_backorders(
    session: Session,
    shop_id: int | None,
    page: PageRequest,
    *,
    status: str | None = None,
    sku: str | None = None,
    order: str | None = None,
) -> list[BackorderRow]:
    statement = _scoped(_backorder_select(), Backorder.shop_id, shop_id)
    if status is not None:
        statement = statement.where(Backorder.status == status)
    if sku is not None:
        statement = statement.where(Variant.sku == sku)
    if order is not None:
        statement = statement.where(order_matches(order))
    return _backorder_rows(session, _page(statement, Backorder.id, page))


def get_backorder(session: Session, shop_id: int | None, backorder_id: int) -> BackorderRow | None:
    statement = _scoped(_backorder_select(), Backorder.shop_id, shop_id)
    rows = _backorder_rows(session, statement.where(Backorder.id == backorder_id))
    return rows[0] if rows else None


# ---- incoming stock ----------------------------------------------------------------------------


def list_incoming(
    session: Session,
    shop_id: int | None,
    page: PageRequest,
    *,
    variant_id: int | None = None,
    sku: str | None = None,
    status: str = "open",
) -> Sequence[Any]:
    statement = _scoped(
        select(IncomingStock, Variant.sku.label("sku")).join(
            Variant, Variant.id == IncomingStock.variant_id
        ),
        IncomingStock.shop_id,
        shop_id,
    )
    if variant_id is not None:
        statement = statement.where(IncomingStock.variant_id == variant_id)
    if sku is not None:
        statement = statement.where(Variant.sku == sku)
    if status == "open":
        statement = statement.where(IncomingStock.received_at.is_(None))
    elif status == "received":
        statement = statement.where(IncomingStock.received_at.is_not(None))
    return session.execute(_page(statement, IncomingStock.id, page)).all()


# ---- notifications -----------------------------------------------------------------------------


def list_notifications(
    session: Session, shop_id: int | None, page: PageRequest, *, order: str | None = None
) -> Sequence[Notification]:
    statement = _scoped(select(Notification), Notification.shop_id, shop_id)
    if order is not None:
        statement = statement.join(Order, Order.id == Notification.order_id).where(
            order_matches(order)
        )
    return session.scalars(_page(statement, Notification.id, page)).all()


def list_outbox(
    session: Session,
    model: Any,
    shop_id: int | None,
    page: PageRequest,
    *,
    order: str | None = None,
    status: str | None = None,
) -> Sequence[Any]:
    """One page of an outbox table (store writes, notifications), oldest first, by shop,
    `order` as a support agent names it and status (one extra row: another page follows)."""
    statement = _scoped(select(model), model.shop_id, shop_id)
    if order is not None:
        statement = statement.join(Order, Order.id == model.order_id).where(order_matches(order))
    if status is not None:
        statement = statement.where(model.status == status)
    return session.scalars(_page(statement, model.id, page)).all()
