"""Learning lead times: each receipt updates its variant's and its supplier's statistics, and the
variants they speak for get the learned lead time the ETA walk uses.

A variant's supplier is the one named on its stock's incoming record, else its product's vendor
(what both platforms call the maker or seller of a product).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.clock import Clock, shop_today
from connector.domain.lead_times import (
    LeadTime,
    LeadTimeSummary,
    Receipt,
    add_receipt,
    lead_time,
)
from connector.models import IncomingStock, LeadTimeStat, Product, Shop, Variant

_CHUNK = 500


def variant_scope(variant_id: int) -> str:
    return f"variant:{variant_id}"


def supplier_scope(supplier: str) -> str:
    return f"supplier:{supplier.strip().casefold()}"


def _summary(row: LeadTimeStat | None) -> LeadTimeSummary | None:
    if row is None:
        return None
    return LeadTimeSummary(
        row.receipts, row.mean_days, row.m2_days, row.mean_delay_days, row.m2_delay_days
    )


def _add(session: Session, shop_id: int, scope: str, receipt: Receipt, now: datetime) -> None:
    row = session.scalar(
        select(LeadTimeStat)
        .where(LeadTimeStat.shop_id == shop_id, LeadTimeStat.scope == scope)
        .with_for_update()
    )
    if row is None:
        row = LeadTimeStat(shop_id=shop_id, scope=scope, created_at=now)
        session.add(row)
    summary = add_receipt(_summary(row) if row.receipts else LeadTimeSummary(), receipt)
    row.receipts, row.mean_days, row.m2_days = summary.receipts, summary.mean_days, summary.m2_days
    row.mean_delay_days, row.m2_delay_days = summary.mean_delay_days, summary.m2_delay_days
    row.updated_at = now


def note_receipt(session: Session, clock: Clock, shop: Shop, incoming: IncomingStock) -> None:
    """Stock arrived: what it says about its supplier and its variant is kept, and the variants
    whose learned lead time that changes get it (in the same transaction as the receipt)."""
    now = clock.now()
    received_on = shop_today(clock, shop.timezone)
    ordered_on = incoming.ordered_on or incoming.created_at.date()
    receipt = Receipt(ordered_on, incoming.expected_on, received_on)
    variant = session.get_one(Variant, incoming.variant_id)
    supplier = incoming.supplier or session.get_one(Product, variant.product_id).vendor
    _add(session, shop.id, variant_scope(variant.id), receipt, now)
    if supplier.strip():
        _add(session, shop.id, supplier_scope(supplier), receipt, now)
    session.flush()
    _refresh_learned(session, shop.id, variant.id, supplier)


def _stats(session: Session, shop_id: int, scopes: Iterable[str]) -> dict[str, LeadTimeSummary]:
    wanted = sorted(set(scopes))
    found: dict[str, LeadTimeSummary] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in session.scalars(
            select(LeadTimeStat).where(
                LeadTimeStat.shop_id == shop_id,
                LeadTimeStat.scope.in_(wanted[start : start + _CHUNK]),
            )
        ):
            summary = _summary(row)
            if summary is not None:
                found[row.scope] = summary
    return found


def _refresh_learned(session: Session, shop_id: int, variant_id: int, supplier: str) -> None:
    """The received variant, and the supplier's other variants (by vendor) that have too few
    receipts of their own, plan with what was learned."""
    siblings = (
        list(
            session.scalars(
                select(Variant.id)
                .join(Product, Product.id == Variant.product_id)
                .where(
                    Variant.shop_id == shop_id,
                    func.lower(func.trim(Product.vendor)) == supplier.strip().casefold(),
                )
            )
        )
        if supplier.strip()
        else []
    )
    ids = sorted({variant_id, *siblings})
    scopes = [variant_scope(i) for i in ids]
    if supplier.strip():
        scopes.append(supplier_scope(supplier))
    stats = _stats(session, shop_id, scopes)
    shared = stats.get(supplier_scope(supplier)) if supplier.strip() else None
    for variant in ids:
        own = stats.get(variant_scope(variant))
        learned = own if own is not None and own.trusted else shared
        days = learned.whole_days if learned is not None and learned.trusted else None
        session.execute(
            update(Variant).where(Variant.id == variant).values(learned_lead_time_days=days)
        )


@dataclass(frozen=True)
class PlanningVariant:
    id: int
    lead_time_days: int | None  # the merchant's own setting
    supplier: str


def suppliers_of(session: Session, shop_id: int) -> dict[int, str]:
    """Each variant's supplier as its latest incoming stock names it (where one does)."""
    latest = (
        select(IncomingStock.variant_id, func.max(IncomingStock.id).label("last"))
        .where(IncomingStock.shop_id == shop_id, IncomingStock.supplier != "")
        .group_by(IncomingStock.variant_id)
        .subquery()
    )
    rows = session.execute(
        select(IncomingStock.variant_id, IncomingStock.supplier).join(
            latest, latest.c.last == IncomingStock.id
        )
    )
    return {variant_id: supplier for variant_id, supplier in rows}


def lead_times_for(
    session: Session, shop: Shop, variants: list[PlanningVariant]
) -> dict[int, LeadTime]:
    """What the reorder point plans with, per variant: mean and spread, and where from."""
    scopes = [variant_scope(v.id) for v in variants]
    scopes += [supplier_scope(v.supplier) for v in variants if v.supplier.strip()]
    stats = _stats(session, shop.id, scopes)
    return {
        v.id: lead_time(
            set_days=v.lead_time_days,
            own=stats.get(variant_scope(v.id)),
            supplier=stats.get(supplier_scope(v.supplier)) if v.supplier.strip() else None,
            shop_days=shop.lead_time_days,
        )
        for v in variants
    }
