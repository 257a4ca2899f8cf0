"""The catalogue from the store: products, variants and the stock levels they carry.

Syncs and webhooks both end here, so a product update missed by one is applied by the other.
A reading older than the one we hold (a webhook that lost a race with a sync page) changes
nothing.

A page is stored set-based: one read each of the products, variants and levels we hold, then
inserts and updates many rows at a time, only for rows whose values changed. Those writes bypass
the ORM, so they are handed to the alternatives index (`note_changes`) to keep it current.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel, StoreProduct, StoreVariant
from connector.clock import Clock
from connector.domain.events import Event
from connector.models import InventoryLevel, OrderLine, Product, Shop, Variant
from connector.services.alternatives import note_changes
from connector.services.backorders import lock_variants, reconcile

log = logging.getLogger(__name__)

_CHUNK = 5000  # values per IN (...): well under every database's bound-parameter limit
_PRODUCTS = Product.__table__
_VARIANTS = Variant.__table__
_LEVELS = InventoryLevel.__table__
_LINES = OrderLine.__table__
_PRODUCT_FIELDS = (
    "title",
    "handle",
    "description",
    "product_type",
    "vendor",
    "tags",
    "status",
    "platform_updated_at",
)
_VARIANT_FIELDS = (
    "product_id",
    "inventory_item_external_id",
    "sku",
    "title",
    "price",
    "options",
    "inventory_policy",
    "track_inventory",
    "platform_updated_at",
)
_LEVEL_FIELDS = (
    "on_hand",
    "available",
    "committed",
    "incoming",
    "location_name",
    "platform_updated_at",
)


def require_aware(value: object, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} is missing or has no time zone")


def _check_product(product: StoreProduct) -> None:
    if not product.external_id:
        raise ValueError("no product id")
    require_aware(product.updated_at, "updated_at")
    if len({variant.external_id for variant in product.variants}) != len(product.variants):
        raise ValueError("two variants share one id")
    for variant in product.variants:
        require_aware(variant.updated_at, f"variant {variant.external_id} updated_at")
        if variant.inventory_policy not in ("deny", "continue"):
            raise ValueError(f"variant {variant.external_id} policy {variant.inventory_policy!r}")


@dataclass(frozen=True)
class _Reading:
    """A product as rows: its own values, and each variant's values with its levels'."""

    product: StoreProduct
    values: dict[str, Any]
    variants: tuple[tuple[StoreVariant, dict[str, Any], tuple[dict[str, Any], ...]], ...]


def _read(product: StoreProduct) -> _Reading:
    """The values a product's rows take; raises on a malformed product before anything is
    written, so one bad record is skipped whole."""
    _check_product(product)
    values = {
        "title": product.title,
        "handle": product.handle,
        "description": product.description,
        "product_type": product.product_type,
        "vendor": product.vendor,
        "tags": list(product.tags),
        "status": product.status,
        "platform_updated_at": product.updated_at,
    }
    variants = tuple(
        (
            variant,
            {
                "inventory_item_external_id": variant.inventory_item_external_id,
                "sku": variant.sku,
                "title": variant.title,
                "price": variant.price,
                "options": dict(variant.options),
                "inventory_policy": variant.inventory_policy,
                "managed": variant.managed,
                "platform_updated_at": variant.updated_at,
            },
            tuple(_level_values(level) for level in variant.levels),
        )
        for variant in product.variants
    )
    return _Reading(product, values, variants)


def _level_values(level: StoreInventoryLevel) -> dict[str, Any]:
    require_aware(level.updated_at, f"level {level.location_external_id} updated_at")
    return {
        "location_external_id": level.location_external_id,
        # None: the store reports only what is left to sell; the engine derives on-hand.
        "on_hand": level.on_hand,
        "available": level.available,
        "committed": level.committed,
        "incoming": level.incoming,
        "location_name": level.location_name,
        "platform_updated_at": level.updated_at,
    }


def apply_products(
    session: Session,
    clock: Clock,
    shop: Shop,
    products: Sequence[StoreProduct],
    *,
    stock_included: bool = True,
) -> tuple[int, int, list[Event]]:
    """Upsert products, their variants and the levels they carry; re-plan what changed.

    `stock_included=False`: the store said nothing about stock (Shopify's product webhooks),
    so whether stock is tracked, and the levels, stay as we hold them.
    Returns (stored, skipped, events). A malformed product is skipped with a logged reason.
    """
    readings: list[_Reading] = []
    skipped = 0
    for product in products:
        try:
            readings.append(_read(product))
        except (ValueError, TypeError, ArithmeticError) as exc:
            skipped += 1
            log.warning("skipped product %s of shop %s: %s", product.external_id, shop.id, exc)
    touched: list[int] = []
    now = clock.now()
    for batch in _without_repeats(readings):
        touched += _Upsert(session, shop.id, now, stock_included).run(batch)
    lock_variants(session, touched)
    return len(products) - skipped, skipped, reconcile(session, clock, touched)


def _without_repeats(readings: list[_Reading]) -> Iterator[list[_Reading]]:
    """Runs of the page in which no product or variant appears twice, in page order: a repeat
    is applied after the reading before it, as one by one would."""
    batch: list[_Reading] = []
    seen: set[tuple[str, str]] = set()
    for reading in readings:
        keys = {("product", reading.product.external_id)}
        keys |= {("variant", variant.external_id) for variant, _, _ in reading.variants}
        if keys & seen:
            if batch:
                yield batch
            batch, seen = [], set()
        batch.append(reading)
        seen |= keys
    if batch:
        yield batch


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


class _Upsert:
    """One run of products, written set-based. `run` returns the variant ids to re-plan."""

    def __init__(self, session: Session, shop_id: int, now: datetime, stock_included: bool):
        self.session = session
        self.shop_id = shop_id
        self.now = now
        self.stock_included = stock_included

    def run(self, batch: list[_Reading]) -> list[int]:
        product_ids = self._products(batch)
        fresh = [r for r in batch if r.product.external_id in product_ids]
        variant_ids, changed = self._variants(fresh, product_ids)
        if variant_ids:
            self._link_lines(list(variant_ids))
        if self.stock_included:
            changed |= self._levels(fresh, variant_ids)
        note_changes(self.session, variants=changed)
        return [variant_ids[v.external_id] for r in fresh for v, _, _ in r.variants]

    def _held(
        self, table: Any, key: Any, keys: Iterable[Any], fields: tuple[str, ...], *where: Any
    ) -> dict[Any, tuple[int, dict[str, Any]]]:
        found: dict[Any, tuple[int, dict[str, Any]]] = {}
        columns = [table.c[name] for name in fields]
        for chunk in _chunks(keys):
            for row in self.session.execute(
                select(table.c.id, key, *columns).where(key.in_(chunk), *where)
            ):
                row_id, value, *values = row
                found[value] = (row_id, dict(zip(fields, values, strict=True)))
        return found

    def _write(
        self, table: Any, new: list[dict[str, Any]], changed: list[dict[str, Any]]
    ) -> list[int]:
        """Insert `new` (returning their ids, in order) and update `changed` (by `row_id`)."""
        if changed:
            self.session.execute(
                update(table).where(table.c.id == bindparam("row_id")).values(updated_at=self.now),
                changed,
            )
        if not new:
            return []
        stamped = [{**row, "created_at": self.now, "updated_at": self.now} for row in new]
        return list(
            self.session.scalars(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), stamped
            )
        )

    def _products(self, batch: list[_Reading]) -> dict[str, int]:
        """Upsert the products; returns external id → id of those not older than ours."""
        held = self._held(
            _PRODUCTS,
            _PRODUCTS.c.external_id,
            [r.product.external_id for r in batch],
            _PRODUCT_FIELDS,
            _PRODUCTS.c.shop_id == self.shop_id,
        )
        kept: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for reading in batch:
            external_id = reading.product.external_id
            row = held.get(external_id)
            if row is None:
                new.append({**reading.values, "shop_id": self.shop_id, "external_id": external_id})
                continue
            row_id, values = row
            stored_at = values["platform_updated_at"]
            if stored_at and reading.product.updated_at < stored_at:
                continue  # we hold a newer reading (a webhook beat this page)
            kept[external_id] = row_id
            if values != reading.values:
                changed.append({"row_id": row_id, **reading.values})
        ids = self._write(_PRODUCTS, new, changed)
        kept |= {row["external_id"]: row_id for row, row_id in zip(new, ids, strict=True)}
        note_changes(self.session, products=[*ids, *(row["row_id"] for row in changed)])
        return kept

    def _variants(
        self, fresh: list[_Reading], product_ids: dict[str, int]
    ) -> tuple[dict[str, int], set[int]]:
        """Upsert the variants; returns (external id → id, ids of rows written)."""
        held = self._held(
            _VARIANTS,
            _VARIANTS.c.external_id,
            [v.external_id for r in fresh for v, _, _ in r.variants],
            _VARIANT_FIELDS,
            _VARIANTS.c.shop_id == self.shop_id,
        )
        ids: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for reading in fresh:
            product_id = product_ids[reading.product.external_id]
            for variant, given, _ in reading.variants:
                values = {k: v for k, v in given.items() if k != "managed"}
                values["product_id"] = product_id
                row = held.get(variant.external_id)
                if row is None:
                    values["track_inventory"] = given["managed"]
                    new.append(
                        {**values, "shop_id": self.shop_id, "external_id": variant.external_id}
                    )
                    continue
                row_id, stored = row
                ids[variant.external_id] = row_id
                values["track_inventory"] = (
                    given["managed"] if self.stock_included else stored["track_inventory"]
                )
                if values != stored:
                    changed.append({"row_id": row_id, **values})
        created = self._write(_VARIANTS, new, changed)
        ids |= {row["external_id"]: row_id for row, row_id in zip(new, created, strict=True)}
        return ids, {*created, *(row["row_id"] for row in changed)}

    def _link_lines(self, external_ids: list[str]) -> None:
        """Lines that arrived (by webhook) before their variant was known join it now."""
        variant = select(_VARIANTS.c.id).where(
            _VARIANTS.c.shop_id == _LINES.c.shop_id,
            _VARIANTS.c.external_id == _LINES.c.variant_external_id,
        )
        for chunk in _chunks(external_ids):
            self.session.execute(
                update(_LINES)
                .where(
                    _LINES.c.shop_id == self.shop_id,
                    _LINES.c.variant_id.is_(None),
                    _LINES.c.variant_external_id.in_(chunk),
                )
                .values(variant_id=variant.scalar_subquery())
            )

    def _levels(self, fresh: list[_Reading], variant_ids: dict[str, int]) -> set[int]:
        """Upsert the levels the variants carry; returns the ids of variants whose stock moved.

        A reading older than the one we hold for that location is ignored.
        """
        held: dict[tuple[int, str], tuple[int | None, dict[str, Any]]] = {}
        columns = [_LEVELS.c[name] for name in _LEVEL_FIELDS]
        for chunk in _chunks(variant_ids.values()):
            for row in self.session.execute(
                select(_LEVELS.c.id, _LEVELS.c.variant_id, _LEVELS.c.location_external_id)
                .add_columns(*columns)
                .where(_LEVELS.c.variant_id.in_(chunk))
            ):
                row_id, variant_id, location, *values = row
                stored = dict(zip(_LEVEL_FIELDS, values, strict=True))
                held[(variant_id, location)] = (row_id, stored)
        written: dict[tuple[int, str], dict[str, Any]] = {}
        for reading in fresh:
            for variant, _, levels in reading.variants:
                variant_id = variant_ids[variant.external_id]
                for given in levels:
                    key = (variant_id, given["location_external_id"])
                    row_id, stored = held.get(key, (None, {}))
                    stored_at = stored.get("platform_updated_at")
                    if stored_at and given["platform_updated_at"] < stored_at:
                        continue
                    values = {name: given[name] for name in _LEVEL_FIELDS}
                    values["location_name"] = given["location_name"] or stored.get(
                        "location_name", ""
                    )
                    if row_id is None or values != stored:
                        written[key] = values
                    held[key] = (row_id, values)
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for (variant_id, location), values in written.items():
            row_id = held[(variant_id, location)][0]
            if row_id is None:
                new.append(
                    {
                        **values,
                        "shop_id": self.shop_id,
                        "variant_id": variant_id,
                        "location_external_id": location,
                    }
                )
            else:
                changed.append({"row_id": row_id, **values})
        self._write(_LEVELS, new, changed)
        return {variant_id for variant_id, _ in written}


def archive_product(session: Session, shop: Shop, external_id: str) -> bool:
    """The store deleted a product: keep it (its lines still wait) but never offer it again."""
    product = session.scalar(
        select(Product).where(Product.shop_id == shop.id, Product.external_id == external_id)
    )
    if product is None:
        return False
    product.status = "archived"
    return True
