"""Alternatives as a use case: keep each shop's index current, answer queries, store results.

Every transaction that changes a variant, a product, a stock level or adds an order has its
touched variants' features rewritten (and the shop's version bumped) just before it commits,
whoever made the change: sync, webhook, API or test. Each process's in-memory index then reads
only the rows newer than the version it holds (`shop_index`), so keeping current costs the
change, never a rebuild, and every process ranks from the same durable rows.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, event, insert, select, tuple_, update
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.domain.alternatives import (
    UNLIMITED,
    AlternativesIndex,
    History,
    Item,
    shop_words,
    term_counts,
)
from connector.domain.pool import Reading, current_readings
from connector.models import (
    AlternativeFeatures,
    AlternativeIndex,
    AlternativeRule,
    Backorder,
    CoPurchase,
    InventoryLevel,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)
from connector.services.errors import Invalid, NotFound

DEFAULT_LIMIT = 5
MAX_LIMIT = 50
STORED_LIMIT = 5
_CHANGES = "alternatives_changes"
_CHUNK = 500


# ---- change tracking: features rewritten in the transaction that changed the catalogue -------


@dataclass
class _Changes:
    variants: set[int]
    products: set[int]
    orders: set[int]


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    changes = session.info.setdefault(_CHANGES, _Changes(set(), set(), set()))
    for row in (*session.new, *session.dirty):
        if isinstance(row, Variant):
            changes.variants.add(row.id)
        elif isinstance(row, InventoryLevel):
            changes.variants.add(row.variant_id)
        elif isinstance(row, Product):
            changes.products.add(row.id)
        elif isinstance(row, Order) and row in session.new:
            changes.orders.add(row.id)


def note_changes(
    session: Session,
    *,
    variants: Iterable[int] = (),
    products: Iterable[int] = (),
    orders: Iterable[int] = (),
) -> None:
    """Rows written by Core statements (a sync page, many rows at a time): the flush hook above
    sees ORM objects only. `orders` are new orders; their purchases are counted at commit."""
    changes = session.info.setdefault(_CHANGES, _Changes(set(), set(), set()))
    changes.variants.update(variants)
    changes.products.update(products)
    changes.orders.update(orders)


@event.listens_for(Session, "before_commit")
def _write_changes(session: Session) -> None:
    session.flush()
    changes: _Changes | None = session.info.pop(_CHANGES, None)
    if changes is None or not (changes.variants or changes.products or changes.orders):
        return
    variant_ids = set(changes.variants)
    for chunk in _chunks(changes.products):
        variant_ids |= set(session.scalars(select(Variant.id).where(Variant.product_id.in_(chunk))))
    by_shop: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(variant_ids):
        for variant_id, shop_id in session.execute(
            select(Variant.id, Variant.shop_id).where(Variant.id.in_(chunk))
        ):
            by_shop[shop_id].add(variant_id)
    orders_by_shop: dict[int, list[Order]] = defaultdict(list)
    for chunk in _chunks(changes.orders):
        for order in session.scalars(select(Order).where(Order.id.in_(chunk))):
            orders_by_shop[order.shop_id].append(order)
    for shop_id in sorted(set(by_shop) | set(orders_by_shop)):
        version, started = _bump(session, shop_id)
        if not started:  # a new index wrote every variant's features already
            write_features(session, shop_id, by_shop[shop_id], version)
        if orders_by_shop[shop_id]:
            _count_purchases(session, shop_id, orders_by_shop[shop_id], version)
    session.flush()
    session.info.pop(_CHANGES, None)  # our own writes are not changes to the catalogue


def _chunks(ids: Iterable[Any]) -> Iterable[list[Any]]:
    ordered = sorted(i for i in ids if i is not None)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _bump(session: Session, shop_id: int) -> tuple[int, bool]:
    """The shop's next version, its row locked until commit; (version, index just started)."""
    state = session.scalar(
        select(AlternativeIndex).where(AlternativeIndex.shop_id == shop_id).with_for_update()
    )
    if state is None:
        start_index(session, shop_id)
        return 1, True
    state.version += 1
    return state.version, False


def start_index(session: Session, shop_id: int) -> AlternativeIndex:
    """(Re)write every variant's features under a new generation: the index starts over."""
    state = session.scalar(select(AlternativeIndex).where(AlternativeIndex.shop_id == shop_id))
    if state is None:
        state = AlternativeIndex(shop_id=shop_id, version=0)
        session.add(state)
    state.generation = uuid.uuid4().hex
    state.version += 1
    every = session.scalars(select(Variant.id).where(Variant.shop_id == shop_id)).all()
    write_features(session, shop_id, set(every), state.version)
    for pair in session.scalars(select(CoPurchase).where(CoPurchase.shop_id == shop_id)):
        pair.version = state.version
    session.flush()
    return state


def _pool_key(variant: Variant) -> str:
    item = variant.inventory_item_external_id
    return f"item:{item}" if item else f"variant:{variant.id}"


def write_features(session: Session, shop_id: int, variant_ids: set[int], version: int) -> None:
    """Store what the ranking needs of these variants (and of their stock pools' members)."""
    pools = set()
    for chunk in _chunks(variant_ids):
        pools |= set(
            session.scalars(
                select(Variant.inventory_item_external_id).where(
                    Variant.id.in_(chunk), Variant.inventory_item_external_id.is_not(None)
                )
            )
        )
    ids = set(variant_ids)
    for chunk in _chunks(range(len(pools))):
        names = sorted(pools)[chunk[0] : chunk[-1] + 1]
        ids |= set(
            session.scalars(
                select(Variant.id).where(
                    Variant.shop_id == shop_id, Variant.inventory_item_external_id.in_(names)
                )
            )
        )
    for chunk in _chunks(ids):
        _write_chunk(session, shop_id, chunk, version)


def _write_chunk(session: Session, shop_id: int, ids: list[int], version: int) -> None:
    """Columns read, rows written many at a time: a first sync writes every variant's."""
    rows = session.execute(
        select(
            Variant.id,
            Variant.inventory_item_external_id,
            Variant.track_inventory,
            Variant.price,
            Variant.options,
            Product.id.label("product_id"),
            Product.status,
            Product.product_type,
            Product.vendor,
            Product.tags,
            Product.title,
            Product.description,
        )
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.id.in_(ids))
    ).all()
    readings: dict[str, list[Reading]] = defaultdict(list)
    tracked: dict[str, bool] = {}
    for variant_id, *reading in session.execute(
        select(
            InventoryLevel.variant_id,
            InventoryLevel.location_external_id,
            InventoryLevel.on_hand,
            InventoryLevel.available,
            InventoryLevel.platform_updated_at,
            InventoryLevel.id,
        ).where(InventoryLevel.variant_id.in_(ids))
    ):
        readings[str(variant_id)].append(Reading(*reading))
    pool_readings: dict[str, list[Reading]] = defaultdict(list)
    for variant in rows:
        key = _pool_key(variant)  # type: ignore[arg-type]
        pool_readings[key] += readings[str(variant.id)]
        tracked[key] = tracked.get(key, False) or variant.track_inventory
    available = {
        key: sum(r.available for r in current_readings(found))
        for key, found in pool_readings.items()
    }
    held = dict(
        session.execute(
            select(AlternativeFeatures.variant_id, AlternativeFeatures.id).where(
                AlternativeFeatures.variant_id.in_(ids)
            )
        ).all()
    )
    terms: dict[int, Any] = {}  # per product: its variants share the words
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for variant in rows:
        key = _pool_key(variant)  # type: ignore[arg-type]
        if variant.product_id not in terms:
            terms[variant.product_id] = term_counts(variant.title, variant.description)
        features = {
            "product_id": variant.product_id,
            "pool": key,
            "price": str(variant.price),
            "available": available.get(key, 0),
            "tracked": tracked.get(key, True),
            "active": variant.status == "active",
            "product_type": variant.product_type,
            "vendor": variant.vendor,
            "tags": sorted({t.strip().lower() for t in variant.tags or [] if t.strip()}),
            "options": [
                [str(n).strip().lower(), str(v)] for n, v in (variant.options or {}).items()
            ],
            "terms": terms[variant.product_id],
        }
        row_id = held.get(variant.id)
        if row_id is None:
            new.append(
                {
                    "shop_id": shop_id,
                    "variant_id": variant.id,
                    "version": version,
                    "features": features,
                }
            )
        else:
            changed.append({"row_id": row_id, "version": version, "features": features})
    table = AlternativeFeatures.__table__
    if new:
        session.execute(insert(table), new)
    if changed:
        session.execute(update(table).where(table.c.id == bindparam("row_id")), changed)


def _count_purchases(session: Session, shop_id: int, orders: list[Order], version: int) -> None:
    """New orders: their variants were bought together, and instead of what their buyers await.

    All of a transaction's new orders at once (a sync page holds hundreds): their lines, and the
    backorders their buyers wait for, are each read in one query.
    """
    bought: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(order.id for order in orders):
        for order_id, variant_id in session.execute(
            select(OrderLine.order_id, OrderLine.variant_id).where(
                OrderLine.order_id.in_(chunk), OrderLine.variant_id.is_not(None)
            )
        ):
            bought[order_id].add(variant_id)
    waits = _waits(session, shop_id, orders)
    pairs: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for order in orders:
        got = sorted(bought[order.id])
        for a in got:
            for b in got:
                if a != b:
                    pairs[(a, b)][0] += 1
        # The buyer is their customer id where the store gives one, else their e-mail.
        if order.customer_external_id:
            theirs = waits[("id", order.customer_external_id)]
        elif order.customer_email:
            theirs = waits[("email", order.customer_email)]
        else:
            continue
        waited = {
            variant_id
            for other, placed_at, variant_id in theirs
            if other != order.id and placed_at <= order.placed_at
        }
        for a in waited:
            for b in got:
                if a != b:
                    pairs[(a, b)][1] += 1
    if not pairs:
        return
    table = CoPurchase.__table__
    held: dict[tuple[int, int], tuple[int, int, int]] = {}
    keys = sorted(pairs)
    for start in range(0, len(keys), _CHUNK):
        for row_id, a, b, together, instead in session.execute(
            select(
                table.c.id,
                table.c.variant_id,
                table.c.other_variant_id,
                table.c.together,
                table.c.instead,
            ).where(
                tuple_(table.c.variant_id, table.c.other_variant_id).in_(
                    keys[start : start + _CHUNK]
                )
            )
        ):
            held[(a, b)] = (row_id, together, instead)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for (a, b), (together, instead) in pairs.items():
        found = held.get((a, b))
        if found is None:
            new.append(
                {
                    "shop_id": shop_id,
                    "variant_id": a,
                    "other_variant_id": b,
                    "together": together,
                    "instead": instead,
                    "version": version,
                }
            )
        else:
            row_id, before_together, before_instead = found
            changed.append(
                {
                    "row_id": row_id,
                    "together": before_together + together,
                    "instead": before_instead + instead,
                    "version": version,
                }
            )
    if new:
        session.execute(insert(table), new)
    if changed:
        session.execute(update(table).where(table.c.id == bindparam("row_id")), changed)


def _waits(
    session: Session, shop_id: int, orders: list[Order]
) -> dict[tuple[str, str], list[tuple[int, Any, int]]]:
    """(("id", customer id) or ("email", e-mail)) → (order id, placed at, variant id) of each
    backorder on that buyer's orders: what they wait for, read for every buyer at once."""
    ids = {o.customer_external_id for o in orders if o.customer_external_id}
    emails = {o.customer_email for o in orders if not o.customer_external_id and o.customer_email}
    found: dict[tuple[str, str], list[tuple[int, Any, int]]] = defaultdict(list)
    # Orders holding a backorder, found from the backorders (few) rather than by reading every
    # order of the shop (no index serves the customer's id or e-mail).
    waiting = (
        select(OrderLine.order_id)
        .join(Backorder, Backorder.order_line_id == OrderLine.id)
        .where(Backorder.shop_id == shop_id)
    )
    for kind, column, values in (
        ("id", Order.customer_external_id, ids),
        ("email", Order.customer_email, emails),
    ):
        for chunk in _chunks(values):
            for customer, order_id, placed_at, variant_id in session.execute(
                select(column, Order.id, Order.placed_at, Backorder.variant_id)
                .join(OrderLine, OrderLine.order_id == Order.id)
                .join(Backorder, Backorder.order_line_id == OrderLine.id)
                .where(Order.id.in_(waiting), Order.shop_id == shop_id, column.in_(chunk))
            ):
                found[(kind, customer)].append((order_id, placed_at, variant_id))
    return found


# ---- each process's index, brought up to date from the rows ----------------------------------


@dataclass
class _Cached:
    generation: str
    version: int
    index: AlternativesIndex


_cache: dict[tuple[str, int], _Cached] = {}
_lock = threading.RLock()


def item_of(variant_id: int, features: dict[str, Any]) -> Item:
    return Item(
        variant_id=variant_id,
        product_id=features["product_id"],
        pool=features["pool"],
        price=float(features["price"]),
        available=features["available"] if features["tracked"] else UNLIMITED,
        active=features["active"],
        product_type=features["product_type"],
        vendor=features["vendor"],
        tags=tuple(features["tags"]),
        options=tuple((n, v) for n, v in features["options"]),
        terms=features["terms"],
    )


def shop_index(session: Session, shop: Shop) -> AlternativesIndex:
    """This process's index of the shop, reading only rows newer than the version it holds."""
    state = session.scalar(select(AlternativeIndex).where(AlternativeIndex.shop_id == shop.id))
    if state is None:
        state = start_index(session, shop.id)
    key = (session.get_bind().engine.url.render_as_string(), shop.id)
    cached = _cache.get(key)
    if cached and cached.generation == state.generation and cached.version >= state.version:
        return cached.index
    fresh = cached is None or cached.generation != state.generation
    index = (
        AlternativesIndex(ignore=shop_words(shop.name, shop.domain)) if fresh else cached.index  # type: ignore[union-attr]
    )
    since = -1 if fresh else cached.version  # type: ignore[union-attr]
    for variant_id, features in session.execute(
        select(AlternativeFeatures.variant_id, AlternativeFeatures.features).where(
            AlternativeFeatures.shop_id == shop.id, AlternativeFeatures.version > since
        )
    ):
        index.upsert(item_of(variant_id, features), compact=not fresh)
    for pair in session.scalars(
        select(CoPurchase).where(CoPurchase.shop_id == shop.id, CoPurchase.version > since)
    ):
        index.set_history(
            pair.variant_id, pair.other_variant_id, History(pair.together, pair.instead)
        )
    if fresh:
        index.compact()
    _cache[key] = _Cached(state.generation, state.version, index)
    return index


def forget_cache() -> None:
    with _lock:
        _cache.clear()


# ---- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    variant_id: int
    sku: str
    title: str
    available: int
    price: Decimal
    score: float
    reasons: tuple[str, ...]


def _title(product: Product, variant: Variant) -> str:
    if variant.title and variant.title != "Default Title" and variant.title != product.title:
        return f"{product.title} - {variant.title}"
    return product.title


def alternatives_for(
    session: Session,
    shop_id: int | None,
    variant_id: int,
    *,
    quantity: int = 1,
    limit: int = DEFAULT_LIMIT,
) -> list[Suggestion]:
    """The ranked in-stock substitutes for `quantity` units of a variant of the caller's shop."""
    variant = session.get(Variant, variant_id)
    if variant is None or (shop_id is not None and variant.shop_id != shop_id):
        raise NotFound(f"no variant with id {variant_id}")
    shop = session.get_one(Shop, variant.shop_id)
    rule = session.scalar(
        select(AlternativeRule).where(AlternativeRule.product_id == variant.product_id)
    )
    with _lock:
        index = shop_index(session, shop)
        ranked = index.rank(
            variant_id,
            quantity=quantity,
            limit=min(limit, MAX_LIMIT),
            band_pct=shop.price_band_pct,
            pinned=rule.pinned if rule else (),
            excluded=rule.excluded if rule else (),
        )
        stock = {a.variant_id: index.item(a.variant_id) for a in ranked}
    rows = {
        v.id: (v, p)
        for v, p in session.execute(
            select(Variant, Product)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_([a.variant_id for a in ranked]))
        )
    }
    return [
        Suggestion(
            variant_id=a.variant_id,
            sku=rows[a.variant_id][0].sku,
            title=_title(rows[a.variant_id][1], rows[a.variant_id][0]),
            available=min(stock[a.variant_id].available, 2**31 - 1),  # type: ignore[union-attr]
            price=rows[a.variant_id][0].price,
            score=a.score,
            reasons=a.reasons,
        )
        for a in ranked
        if a.variant_id in rows
    ]


def store_for_backorder(session: Session, clock: Clock, backorder_id: int) -> bool:
    """Rank and keep a new backorder's alternatives; False if they were already stored."""
    backorder = session.get(Backorder, backorder_id)
    if backorder is None or backorder.alternatives is not None:
        return False
    found = alternatives_for(
        session, None, backorder.variant_id, quantity=backorder.quantity, limit=STORED_LIMIT
    )
    backorder.alternatives = {
        "computed_at": clock.now().isoformat(),
        "quantity": backorder.quantity,
        "items": [
            {
                "variant_id": s.variant_id,
                "sku": s.sku,
                "title": s.title,
                "price": str(s.price),
                "score": s.score,
                "reasons": list(s.reasons),
            }
            for s in found
        ],
    }
    return True


# ---- merchants' rules --------------------------------------------------------------------------


def set_rules(
    session: Session,
    shop_id: int | None,
    product_id: int,
    *,
    pinned: list[int],
    excluded: list[int],
) -> AlternativeRule:
    """Pin (first, in this order) or exclude variants as alternatives to a product's variants."""
    product = session.get(Product, product_id)
    if product is None or (shop_id is not None and product.shop_id != shop_id):
        raise NotFound(f"no product with id {product_id}")
    named = set(pinned) | set(excluded)
    if set(pinned) & set(excluded):
        raise Invalid("a variant cannot be both pinned and excluded", field="pinned")
    known = set(
        session.scalars(
            select(Variant.id).where(Variant.shop_id == product.shop_id, Variant.id.in_(named))
        )
    )
    unknown = sorted(named - known)
    if unknown:
        raise Invalid(f"no variant with id {unknown[0]} in this shop", field="pinned")
    rule = session.scalar(select(AlternativeRule).where(AlternativeRule.product_id == product_id))
    if rule is None:
        rule = AlternativeRule(shop_id=product.shop_id, product_id=product_id)
        session.add(rule)
    rule.pinned = list(dict.fromkeys(pinned))
    rule.excluded = sorted(set(excluded))
    session.flush()
    return rule
