"""What each change a store tells us does to the core: one service call per kind of change.

The adapters turn a platform's topic and body into a common-model change; this maps the change
to the use case, the same services a reconciliation sync calls, so a webhook and a sync can
never disagree. Returns the inbox state to record and, for `ignored`, why.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from adapters.base import (
    AppUninstalled,
    CustomerDataRequest,
    CustomerRedact,
    Ignored,
    InventoryChanged,
    OrderChanged,
    OrderDeleted,
    ProductChanged,
    ProductDeleted,
    ShopRedact,
    WebhookChange,
)
from connector.models import Shop
from connector.runtime import Runtime
from connector.services import redact
from connector.services.catalog import apply_products, archive_product
from connector.services.errors import NotFound
from connector.services.orders import forget_order, ingest_order
from connector.services.stock import record_level

Outcome = tuple[str, str | None]  # ("done" | "ignored", reason)


def apply(runtime: Runtime, session: Session, shop: Shop, change: WebhookChange) -> Outcome:
    clock = runtime.clock
    match change:
        case OrderChanged(order=order):
            result = ingest_order(session, clock, shop, order)
            if result.stale:
                return "ignored", "older than the order we hold"
            return "done", None
        case OrderDeleted(external_id=external_id):
            forget_order(session, clock, shop, external_id)
            return "done", None
        case ProductChanged(product=product, stock_included=stock_included):
            stored, _skipped, _events = apply_products(
                session, clock, shop, [product], stock_included=stock_included
            )
            return ("done", None) if stored else ("ignored", "the product was malformed")
        case ProductDeleted(external_id=external_id):
            found = archive_product(session, shop, external_id)
            return ("done", None) if found else ("ignored", "a product we never held")
        case InventoryChanged(levels=levels):
            unknown = 0
            for level in levels:
                try:
                    record_level(session, clock, shop, level)
                except NotFound:
                    unknown += 1  # not synced yet: the next sync brings variant and stock
            if unknown == len(levels):
                return "ignored", "no variant we hold"
            return "done", None
        case AppUninstalled():
            redact.uninstall_shop(session, clock, shop.id)
            return "done", None
        case CustomerDataRequest(
            customer_external_id=customer, email=email, order_external_ids=ids
        ):
            redact.export_customer(session, clock, shop.id, customer, email, ids)
            return "done", None
        case CustomerRedact(customer_external_id=customer, email=email, order_external_ids=ids):
            redact.redact_customer(session, clock, shop.id, customer, email, ids)
            return "done", None
        case ShopRedact():
            if shop.status == "active":
                # Sent 48 h after an uninstall; the merchant has installed the app again since.
                return "ignored", "the shop installed the app again after uninstalling it"
            redact.erase_shop(session, shop.id)
            return "done", None
        case Ignored(reason=reason):
            return "ignored", reason
    raise TypeError(f"unknown change {type(change).__name__}")
