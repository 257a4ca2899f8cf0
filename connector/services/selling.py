"""Selling on backorder as a use case: decide per variant, switch the store, respect the merchant.

The rule is `connector.domain.selling.decide`; its facts are the engine's own promise for one
more unit beyond stock (`availability.quote`, never a second ETA walk) and the open incoming
stock of the variant's stock pool. The switch is a store write of kind "inventory_policy"
(target: our variant id) through `connector.services.store_writes`: events and settings only
*ask* for it; the write's job decides when it runs, so a burst of orders is one decision and
one call to the store, and a decision that changes nothing sends nothing.

The merchant's hand wins. `policy_by_app` is the policy the app last wrote (or found already
right). When the store later says otherwise (a sync or webhook brought a different
`inventory_policy`), the merchant changed it by hand: the variant is flagged `policy_override`
and left alone until handed back (`hand_back`). `notice_overrides` is the check, run by the
write's job, the daily re-evaluation and any importer that wants to flag at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.base import StoreAdapter
from connector.bus import PublishedEvent, event_transaction
from connector.clock import Clock, shop_today
from connector.db import after_commit
from connector.domain.selling import Decision, NextUnit, SellingRules, decide
from connector.models import IncomingStock, Product, Shop, Variant
from connector.services import store_writes
from connector.services.availability import MAX_QUANTITY, quote
from connector.services.backorders import stock_pool
from connector.services.errors import Invalid, NotFound

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

KIND = "inventory_policy"
SHOP_JOB = "selling_shop"  # every variant of one shop re-decided
EVENTS = (
    "BackorderCreated",
    "BackorderReady",
    "BackorderCancelled",
    "EtaChanged",
    "VariantOutOfStock",
    "VariantBackInStock",
    "IncomingStockChanged",
)
MAX_PROMISE_DAYS = 365
MAX_CAP = 1_000_000
_IDS_AT_ONCE = 500  # ids per IN (...): well under every bound-parameter limit
_UNKNOWN = NextUnit(eta=None, eta_source=None, available=0, waiting=0, incoming=0)


def rules_of(shop: Shop) -> SellingRules:
    return SellingRules(shop.sell_on_backorder, shop.max_promise_days, shop.backorder_cap)


# ---- deciding ----------------------------------------------------------------------------------


def next_unit(session: Session, clock: Clock, variant: Variant) -> NextUnit:
    """The engine's promise for the first unit beyond stock, ordered now at the queue's end."""
    first = quote(session, clock, variant.id, 1, alternatives=0)
    beyond = first
    if first.in_stock:
        if first.available + 1 > MAX_QUANTITY:
            return NextUnit(None, None, first.available, 0, 0)  # plenty: no date needed
        beyond = quote(session, clock, variant.id, first.available + 1, alternatives=0)
    return NextUnit(
        eta=beyond.eta,
        eta_source=beyond.eta_source,
        available=first.available,
        waiting=beyond.waiting,
        incoming=open_incoming(session, variant),
    )


def open_incoming(session: Session, variant: Variant) -> int:
    """Units on open incoming-stock records of the variant's stock pool."""
    ids = [v.id for v in stock_pool(session, variant)]
    total = session.scalar(
        select(func.coalesce(func.sum(IncomingStock.quantity), 0)).where(
            IncomingStock.variant_id.in_(ids), IncomingStock.received_at.is_(None)
        )
    )
    return int(total or 0)


def evaluate(session: Session, clock: Clock, shop: Shop, variant: Variant) -> Decision:
    """Decide for one variant now, noticing a manual override first; the reason is kept."""
    rules = rules_of(shop)
    overridden = rules.enabled and notice_overrides(session, [variant]) != []
    if not rules.enabled or not variant.track_inventory or overridden:
        decision = decide(rules, _UNKNOWN, shop_today(clock, shop.timezone), **_flags(variant))
    else:
        unit = next_unit(session, clock, variant)
        decision = decide(rules, unit, shop_today(clock, shop.timezone))
    variant.selling_reason = decision.reason[:255]
    return decision


def _flags(variant: Variant) -> dict[str, bool]:
    return {"tracked": variant.track_inventory, "overridden": variant.policy_override}


def notice_overrides(session: Session, variants: Iterable[Variant]) -> list[int]:
    """Flag the variants whose store policy differs from the one the app wrote; their ids.

    A reading older than our write (a late webhook of the state before it) is no override: the
    store's own modification time must be at or after the write (to the second, as WooCommerce
    keeps it). A variant already flagged stays flagged.
    """
    flagged = []
    for variant in variants:
        if variant.policy_override:
            flagged.append(variant.id)
            continue
        if variant.policy_by_app is None or variant.inventory_policy == variant.policy_by_app:
            continue
        written, seen = variant.policy_written_at, variant.platform_updated_at
        if written is not None and seen is not None and seen < written.replace(microsecond=0):
            continue
        variant.policy_override = True
        variant.selling_reason = "the merchant set this variant's policy by hand"
        log.info(
            "variant %s of shop %s: the merchant changed its policy to %s by hand (we wrote %s);"
            " leaving it alone",
            variant.id,
            variant.shop_id,
            variant.inventory_policy,
            variant.policy_by_app,
        )
        flagged.append(variant.id)
    session.flush()
    return flagged


def flag_manual_changes(session: Session, variant_ids: Iterable[int]) -> list[int]:
    """`notice_overrides` by id, for an importer that has just stored the store's policies
    (catalog upserts may call it after writing a page of products); the flagged ids."""
    ids = sorted(set(variant_ids))
    variants = session.scalars(
        select(Variant).where(Variant.id.in_(ids), Variant.policy_by_app.is_not(None))
    ).all()
    return notice_overrides(session, variants)


# ---- the store write ---------------------------------------------------------------------------


@dataclass
class PolicyWriter:
    """Store write "inventory_policy": the decided policy, sent only when the store differs."""

    clock: Clock

    def desired(self, session: Session, shop: Shop, target: str) -> dict[str, Any] | None:
        variant = session.get(Variant, int(target)) if target.isdigit() else None
        if variant is None or variant.shop_id != shop.id:
            return None
        decision = evaluate(session, self.clock, shop, variant)
        if decision.policy is None:
            return None
        if variant.inventory_policy == decision.policy:
            _adopt(variant, decision.policy, self.clock)
            return None
        product = session.get_one(Product, variant.product_id)
        seen = variant.platform_updated_at
        return {
            "policy": decision.policy,
            "product": product.external_id,
            "variant": variant.external_id,
            # What the store said when we decided: a merchant's change handed back later makes
            # a new value even when the policy is the one we last sent.
            "store_had": variant.inventory_policy,
            "store_seen_at": seen.isoformat() if seen else None,
            # A value is returned only when the store differs from the decision, so it must be
            # sent even if it equals the last one sent (the store was changed back meanwhile,
            # possibly within the second the platform's timestamps resolve).
            "decided_at": self.clock.now().isoformat(),
        }

    def send(
        self,
        adapter: StoreAdapter,
        target: str,
        value: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        adapter.set_inventory_policy(value["product"], value["variant"], value["policy"])

    def after_sent(
        self, session: Session, shop_id: int, target: str, value: dict[str, Any]
    ) -> None:
        """Our copy of the store says what we wrote, so the write is not taken for an override."""
        variant = session.get(Variant, int(target))
        if variant is None or variant.shop_id != shop_id:
            return
        variant.inventory_policy = value["policy"]
        variant.policy_by_app = value["policy"]
        variant.policy_written_at = self.clock.now()


def _adopt(variant: Variant, policy: str, clock: Clock) -> None:
    """The store already has the policy the rules want: the app manages it from now on, so a
    later change by the merchant is recognised as theirs."""
    if variant.policy_by_app != policy:
        variant.policy_by_app = policy
        variant.policy_written_at = clock.now()


# ---- asking for writes -------------------------------------------------------------------------


def request(runtime: Runtime, session: Session, shop_id: int, variant_ids: Iterable[int]) -> int:
    """Ask for the variants (and those sharing their stock) to be re-decided; how many.

    Nothing is asked for a shop that has not opted in or is not active."""
    return request_many(runtime, session, {shop_id: set(variant_ids)})


def request_many(runtime: Runtime, session: Session, variant_ids: dict[int, set[int]]) -> int:
    """`request` for many shops' variants at once (variant ids by shop id); how many asked.

    A restock's dispatch names one variant thousands of times: its stock pool is read once,
    and all the writes are asked for in one `store_writes.request_many`."""
    opted_in = set(
        session.scalars(
            select(Shop.id).where(
                Shop.id.in_(sorted(variant_ids)),
                Shop.status == "active",
                Shop.sell_on_backorder.is_(True),
            )
        )
    )
    wanted: list[store_writes.Wanted] = []
    for shop_id in sorted(opted_in):
        targets = _pools(session, shop_id, sorted(variant_ids[shop_id]))
        wanted.extend((shop_id, KIND, str(variant_id), None) for variant_id in sorted(targets))
    store_writes.request_many(runtime, session, wanted)
    return len(wanted)


def _pools(session: Session, shop_id: int, variant_ids: list[int]) -> set[int]:
    """The shop's variants among `variant_ids`, and every variant sharing stock with one."""
    found: set[int] = set()
    items: set[str] = set()
    for start in range(0, len(variant_ids), _IDS_AT_ONCE):
        rows = session.execute(
            select(Variant.id, Variant.inventory_item_external_id).where(
                Variant.id.in_(variant_ids[start : start + _IDS_AT_ONCE]),
                Variant.shop_id == shop_id,
            )
        )
        for variant_id, item in rows:
            found.add(variant_id)
            if item is not None:
                items.add(item)
    shared = sorted(items)
    for start in range(0, len(shared), _IDS_AT_ONCE):
        found.update(
            session.scalars(
                select(Variant.id).where(
                    Variant.shop_id == shop_id,
                    Variant.inventory_item_external_id.in_(shared[start : start + _IDS_AT_ONCE]),
                )
            )
        )
    return found


def reevaluate_shop(runtime: Runtime, shop_id: int) -> int:
    """Decide every tracked variant of an opted-in shop now; ask for writes only where the
    store differs, and take over those it already has right. Runs when a shop's settings
    change (as a job) and daily: catches what no event announces, a promise window reaching
    an incoming date or a merchant's change that arrived with a sync. Returns the writes asked
    for."""
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status != "active" or not shop.sell_on_backorder:
            return 0
        variants = session.scalars(
            select(Variant)
            .where(Variant.shop_id == shop_id, Variant.track_inventory.is_(True))
            .order_by(Variant.id)
        ).all()
        stale = []
        for variant in variants:
            decision = evaluate(session, runtime.clock, shop, variant)
            if decision.policy == variant.inventory_policy:
                _adopt(variant, decision.policy, runtime.clock)
            elif decision.policy is not None:
                stale.append(variant.id)
        for variant_id in stale:
            store_writes.request(runtime, session, shop_id, KIND, str(variant_id))
        return len(stale)


def reevaluate_all(runtime: Runtime) -> int:
    """The daily pass over every opted-in shop, one transaction each."""
    with runtime.db.transaction() as session:
        shop_ids = list(
            session.scalars(
                select(Shop.id)
                .where(Shop.status == "active", Shop.sell_on_backorder.is_(True))
                .order_by(Shop.id)
            )
        )
    asked = 0
    for shop_id in shop_ids:
        try:
            asked += reevaluate_shop(runtime, shop_id)
        except Exception:  # one shop's failure must not stop the others; it is logged
            log.exception("selling re-evaluation failed for shop %s", shop_id)
    return asked


# ---- merchant's settings -----------------------------------------------------------------------


def change_settings(
    runtime: Runtime, session: Session, shop: Shop, changes: dict[str, Any]
) -> Shop:
    """Set `sell_on_backorder`, `max_promise_days`, `backorder_cap` (None: the incoming
    quantity); every variant is re-decided (`reevaluate_shop`) when the shop sells on backorder
    afterwards."""
    unknown = set(changes) - {"sell_on_backorder", "max_promise_days", "backorder_cap"}
    if unknown:
        raise Invalid("is not a known setting", field=sorted(unknown)[0])
    days = changes.get("max_promise_days", shop.max_promise_days)
    if not 0 <= days <= MAX_PROMISE_DAYS:
        raise Invalid(f"must be between 0 and {MAX_PROMISE_DAYS}", field="max_promise_days")
    cap = changes.get("backorder_cap", shop.backorder_cap)
    if cap is not None and not 0 <= cap <= MAX_CAP:
        raise Invalid(f"must be between 0 and {MAX_CAP}", field="backorder_cap")
    for name, value in changes.items():
        setattr(shop, name, value)
    session.flush()
    if shop.sell_on_backorder:  # decided in a job: a large catalogue must not hold the request
        shop_id, key = shop.id, f"{SHOP_JOB}:{shop.id}"
        after_commit(session, lambda: runtime.jobs.enqueue(SHOP_JOB, shop_id, key=key))
    return shop


def hand_back(runtime: Runtime, session: Session, shop_id: int | None, variant_id: int) -> Variant:
    """The merchant hands a variant back to the app: the override is cleared and it is
    re-decided (the store's current policy becomes the starting point)."""
    variant = session.get(Variant, variant_id)
    if variant is None or (shop_id is not None and variant.shop_id != shop_id):
        raise NotFound(f"no variant with id {variant_id}")
    variant.policy_override = False
    variant.policy_by_app = None
    variant.selling_reason = None
    session.flush()
    request(runtime, session, variant.shop_id, [variant.id])
    return variant


# ---- subscriptions -----------------------------------------------------------------------------


def on_events(runtime: Runtime, events: list[PublishedEvent]) -> None:
    """Variants' queues, stock or incoming stock changed: re-decide them (and their pools)."""
    wanted: dict[int, set[int]] = {}
    for event in events:
        variant_id = event.payload.get("variant_id")
        if variant_id is not None:
            wanted.setdefault(event.shop_id, set()).add(int(variant_id))
    if not wanted:
        return
    with event_transaction(runtime.db, events[0]) as session:
        request_many(runtime, session, wanted)


def subscribe(runtime: Runtime) -> None:
    """The writer and the job registered, the events wired (from `connector.tasks`)."""
    from connector import jobs

    store_writes.register_writer(KIND, PolicyWriter(runtime.clock))
    jobs.register(SHOP_JOB, reevaluate_shop)
    runtime.bus.subscribe_batch(EVENTS, lambda events: on_events(runtime, events))
