"""A customer's data on request, their erasure, and a shop's data when the shop leaves for good.

Shopify's mandatory compliance webhooks end here (WooCommerce has no such topics; a merchant's
request can call the same functions):
- `customers/data_request` → `export_customer`: what we hold on the customer, kept as a
  `DataRequest` for the merchant to hand over;
- `customers/redact` → `redact_customer`: their personal data erased; their orders stay,
  anonymised, because the backorder queue and the stock figures are built on them;
- `shop/redact` → `erase_shop`: every row of the shop, through the foreign keys' cascades.

Personal data, for us: the customer's id, e-mail, name and locale on an order; a notification's
recipient and any personal field of its payload; the raw webhook bodies of their orders or naming
them (a platform payload carries addresses, phone numbers, IP addresses); exports prepared for
them. Not personal once the order is anonymised: order numbers, lines, quantities, prices, dates,
shipping method, backorders and their ETAs. Domain events hold only ids, quantities and dates.

The platforms name one customer in several forms: Shopify's webhooks send numeric ids where its
GraphQL API, and so our rows, hold `gid://shopify/Customer/…`. Both forms are matched.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import delete, func, inspect, or_, select
from sqlalchemy.orm import Session, selectinload

from adapters.shopify.webhooks import COMPLIANCE_TOPICS
from connector.clock import Clock
from connector.models import (
    Backorder,
    Base,
    DataRequest,
    InstallNonce,
    Notification,
    Order,
    Shop,
    StoreWrite,
    WebhookEvent,
)
from connector.services.shops import CANCELLED, get_shop, uninstall_shop

__all__ = [
    "REDACTED",
    "REDACTED_BODY",
    "Subject",
    "erase_shop",
    "export_customer",
    "redact_customer",
    "uninstall_shop",  # lives with the shops; here too, beside the other compliance actions
]

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
# A redacted webhook body: still JSON, and recognisable to a replay (which must skip it).
REDACTED_BODY = '{"redacted":true}'
EXPORT_FORMAT = "backorder-connector/customer-export/1"
_UNPROCESSABLE = "the customer's data was redacted before this delivery was processed"

# Fields of a JSON payload that hold personal data whatever their value.
_PERSONAL_KEYS = frozenset(
    {
        "email",
        "customer_email",
        "recipient",
        "to",
        "customer_name",
        "first_name",
        "last_name",
        "full_name",
        "display_name",
        "phone",
        "customer_phone",
        "address",
        "address1",
        "address2",
        "billing",
        "billing_address",
        "shipping",
        "shipping_address",
        "customer",
        "customer_id",
        "customer_external_id",
        "locale",
        "customer_locale",
        "browser_ip",
        "client_details",
    }
)
# Keys whose value is a customer id (a bare number is only taken for an id where it sits here).
_CUSTOMER_ID_KEYS = frozenset({"customer", "customer_id", "customer_external_id"})
_ORDER_TOPICS = ("orders/", "order.")
_CUSTOMER_TOPICS = ("customers/", "customer.")
# A request about the customer is not data we hold on them: not part of their export.
# What a backorder's ETA was based on, in words a customer reads; supplier references stay ours.
_BASIS = {"lead_time": "supplier lead time", "manual": "set by the shop", "in_stock": "in stock"}


def _forms(platform: str, kind: str, value: str | None) -> set[str]:
    """Every form the platform gives one id: Shopify's numeric id and its GraphQL gid."""
    value = (value or "").strip()
    if not value:
        return set()
    forms = {value}
    if platform == "shopify":
        prefix = f"gid://shopify/{kind}/"
        if value.startswith(prefix):
            forms.add(value.removeprefix(prefix))
        elif value.isdigit():
            forms.add(prefix + value)
    return forms


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _email_pattern(emails: Iterable[str]) -> re.Pattern[str]:
    """The addresses as whole addresses: "ann@example.com" is not inside "joann@example.com"."""
    before = r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    after = r"(?![\w-]|\.\w)"
    return re.compile(f"{before}(?:{_alternation(emails)}){after}", re.IGNORECASE)


@dataclass(frozen=True)
class Subject:
    """One customer of one shop: every id, address, name and order that names them."""

    platform: str
    customer_ids: frozenset[str]
    emails: frozenset[str]  # lower-case
    order_ids: frozenset[str]
    names: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        platform: str,
        customer_external_id: str | None,
        email: str | None,
        order_external_ids: Sequence[str],
    ) -> Subject:
        orders: set[str] = set()
        for order_id in order_external_ids:
            orders |= _forms(platform, "Order", str(order_id))
        address = (email or "").strip().lower()
        return cls(
            platform,
            frozenset(_forms(platform, "Customer", customer_external_id)),
            frozenset({address} if address else ()),
            frozenset(orders),
        )

    def with_orders(self, orders: Sequence[Order]) -> Subject:
        """Widened by what their orders say: an older e-mail, the name, the id on a guest order."""
        ids, emails, names = set(self.customer_ids), set(self.emails), set(self.names)
        order_ids = set(self.order_ids)
        for order in orders:
            ids |= _forms(self.platform, "Customer", order.customer_external_id)
            order_ids |= _forms(self.platform, "Order", order.external_id)
            if order.customer_email:
                emails.add(order.customer_email.strip().lower())
            if order.customer_name and order.customer_name != REDACTED:
                names.add(order.customer_name.strip())
        return Subject(
            self.platform, frozenset(ids), frozenset(emails), frozenset(order_ids), frozenset(names)
        )

    # ------------------------------------------------------------------ recognising them

    def named_in(self, value: Any, key: str = "", parent: str = "") -> bool:
        """Whether a JSON value names the customer: their e-mail anywhere, their id as an id."""
        if isinstance(value, dict):
            return any(self.named_in(v, str(k).lower(), key) for k, v in value.items())
        if isinstance(value, list):
            return any(self.named_in(v, key, parent) for v in value)
        if value is None or isinstance(value, bool):
            return False
        text = str(value)
        if isinstance(value, str) and self._email_in(text):
            return True
        as_id = key in _CUSTOMER_ID_KEYS or (
            parent == "customer" and key in ("id", "admin_graphql_api_id")
        )
        return text in self.customer_ids and (as_id or text.startswith("gid://"))

    def about(self, topic: str, resource_id: str | None) -> bool:
        """A delivery whose resource is one of their orders, or them as a customer."""
        if topic.startswith(_ORDER_TOPICS):
            return resource_id in self.order_ids
        return topic.startswith(_CUSTOMER_TOPICS) and resource_id in self.customer_ids

    def named_in_body(self, body: str) -> bool:
        try:
            return self.named_in(json.loads(body))
        except ValueError:  # a rejected, non-JSON body: only unambiguous forms count
            return self._email_in(body) or any(g in body for g in self._gids)

    def id_in(self, text: str) -> bool:
        """Their customer id as a whole token of a key such as `customer.updated:42:…`."""
        return self._id_token is not None and self._id_token.search(text) is not None

    def _email_in(self, text: str) -> bool:
        return self._email is not None and self._email.search(text) is not None

    # Patterns built once per request: the inbox may hold many bodies to look through.
    @cached_property
    def _email(self) -> re.Pattern[str] | None:
        return _email_pattern(self.emails) if self.emails else None

    @cached_property
    def _gids(self) -> list[str]:
        return [i for i in self.customer_ids if i.startswith("gid://")]

    @cached_property
    def _gid(self) -> re.Pattern[str] | None:
        return re.compile(rf"(?:{_alternation(self._gids)})(?!\d)") if self._gids else None

    @cached_property
    def _id_token(self) -> re.Pattern[str] | None:
        if not self.customer_ids:
            return None
        return re.compile(rf"(?<![\w/])(?:{_alternation(self.customer_ids)})(?!\w)")

    @cached_property
    def _name(self) -> re.Pattern[str] | None:
        """Their names, whole and in parts ("Dear Zoë,"), as whole words."""
        words = set(self.names)
        for name in self.names:
            words |= {part for part in name.split() if len(part) > 1}
        if not words:
            return None
        return re.compile(rf"(?<!\w)(?:{_alternation(words)})(?!\w)", re.IGNORECASE)

    # ------------------------------------------------------------------ erasing them

    def scrub(self, value: Any, key: str = "") -> Any:
        """A JSON value with their personal fields and every mention of them replaced."""
        if key in _PERSONAL_KEYS and value not in (None, "", [], {}, REDACTED):
            return REDACTED
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k).lower()) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, key) for v in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        return value

    def scrub_text(self, text: str) -> str:
        for pattern in (self._email, self._gid, self._name):
            if pattern is not None:
                text = pattern.sub(REDACTED, text)
        return text


# ---------------------------------------------------------------------------- finding their rows


def _orders(session: Session, shop_id: int, subject: Subject) -> list[Order]:
    """Their orders: by customer id, by e-mail whatever its case, or named in the request."""
    conditions = []
    if subject.customer_ids:
        conditions.append(Order.customer_external_id.in_(sorted(subject.customer_ids)))
    if subject.emails:
        conditions.append(func.lower(Order.customer_email).in_(sorted(subject.emails)))
    if subject.order_ids:
        conditions.append(Order.external_id.in_(sorted(subject.order_ids)))
    if not conditions:
        return []
    statement = (
        select(Order)
        .where(Order.shop_id == shop_id, or_(*conditions))
        .options(selectinload(Order.lines))
        .order_by(Order.placed_at, Order.external_id)
    )
    return list(session.scalars(statement))


def _notifications(
    session: Session, shop_id: int, subject: Subject, orders: Sequence[Order]
) -> list[Notification]:
    """Messages about their orders, or sent to one of their addresses."""
    conditions = []
    if orders:
        conditions.append(Notification.order_id.in_([o.id for o in orders]))
    if subject.emails:
        conditions.append(func.lower(Notification.recipient).in_(sorted(subject.emails)))
    if not conditions:
        return []
    statement = (
        select(Notification)
        .where(Notification.shop_id == shop_id, or_(*conditions))
        .order_by(Notification.created_at, Notification.id)
    )
    return list(session.scalars(statement))


def _inbox_ids(session: Session, shop_id: int, subject: Subject) -> list[int]:
    """Webhook deliveries about them: their orders' (or theirs as a customer), or naming them."""
    resources = sorted(subject.order_ids | subject.customer_ids)
    narrow = [WebhookEvent.resource_id.in_(resources)] if resources else []
    narrow += [WebhookEvent.body.icontains(e, autoescape=True) for e in sorted(subject.emails)]
    narrow += [WebhookEvent.body.contains(i, autoescape=True) for i in sorted(subject.customer_ids)]
    if not narrow:
        return []
    statement = (
        select(WebhookEvent.id, WebhookEvent.topic, WebhookEvent.resource_id, WebhookEvent.body)
        .where(WebhookEvent.shop_id == shop_id, or_(*narrow))
        .order_by(WebhookEvent.id)
        .execution_options(yield_per=500)
    )
    # Streamed: the SQL filter only narrows (a numeric id matches any number); Python decides.
    return [
        row.id
        for row in session.execute(statement)
        if subject.about(row.topic, row.resource_id) or subject.named_in_body(row.body)
    ]


def _subject_and_orders(
    session: Session,
    shop: Shop,
    customer_external_id: str | None,
    email: str | None,
    order_external_ids: Sequence[str],
) -> tuple[Subject, list[Order]]:
    subject = Subject.of(shop.platform, customer_external_id, email, order_external_ids)
    orders = _orders(session, shop.id, subject)
    return subject.with_orders(orders), orders


# ---------------------------------------------------------------------------- export


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _basis(source: str | None) -> str | None:
    if source is None:
        return None
    return "incoming stock" if source.startswith("incoming:") else _BASIS.get(source, source)


def _backorder_export(backorder: Backorder) -> dict[str, Any]:
    return {
        "short_quantity": backorder.quantity,
        "status": backorder.status,
        "eta": _iso(backorder.eta),
        "eta_basis": _basis(backorder.eta_source),
        "first_promised_eta": _iso(backorder.first_promised_eta),
        "ready_at": _iso(backorder.ready_at),
        "fulfilled_at": _iso(backorder.fulfilled_at),
        "cancelled_at": _iso(backorder.cancelled_at),
        "eta_history": [
            {"eta": _iso(c.eta), "eta_basis": _basis(c.eta_source), "changed_at": _iso(c.at)}
            for c in backorder.eta_history
        ],
    }


def _order_export(order: Order, backorders: dict[int, Backorder]) -> dict[str, Any]:
    lines = []
    for line in sorted(order.lines, key=lambda item: item.external_id):
        backorder = backorders.get(line.id)
        lines.append(
            {
                "line_id": line.external_id,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "price": str(line.price),
                "fulfilled_quantity": line.fulfilled_quantity,
                "refunded_quantity": line.refunded_quantity,
                "removed_at": _iso(line.removed_at),
                "backorder": _backorder_export(backorder) if backorder else None,
            }
        )
    return {
        "order_id": order.external_id,
        "order_name": order.name,
        "placed_at": _iso(order.placed_at),
        "cancelled_at": _iso(order.cancelled_at),
        "customer": {
            "id": order.customer_external_id,
            "email": order.customer_email,
            "name": order.customer_name,
            "locale": order.locale,
        },
        "shipping_method": order.shipping_method,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "lines": lines,
    }


def _webhook_payloads(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The platform's own payloads we keep in the inbox (addresses, phone...), as received."""
    payloads = []
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.id.in_(ids[start : start + 500]))
            .order_by(WebhookEvent.received_at, WebhookEvent.id)
        )
        for row in rows:
            # A request about the customer is not data we hold on them: not in their export.
            if row.topic in COMPLIANCE_TOPICS or row.body == REDACTED_BODY:
                continue
            try:
                payload = json.loads(row.body)
            except ValueError:
                payload = row.body
            payloads.append(
                {"topic": row.topic, "received_at": _iso(row.received_at), "payload": payload}
            )
    return payloads


def export_customer(
    session: Session,
    clock: Clock,
    shop_id: int,
    customer_external_id: str | None,
    email: str | None,
    order_external_ids: Sequence[str],
) -> DataRequest:
    """Everything we hold on one customer of one shop, stored for the merchant and returned."""
    shop = get_shop(session, shop_id)
    subject, orders = _subject_and_orders(
        session, shop, customer_external_id, email, order_external_ids
    )
    line_ids = [line.id for order in orders for line in order.lines]
    backorders = {
        b.order_line_id: b
        for start in range(0, len(line_ids), 1000)
        for b in session.scalars(
            select(Backorder)
            .where(Backorder.order_line_id.in_(line_ids[start : start + 1000]))
            .options(selectinload(Backorder.eta_history))
        )
    }
    names = {order.id: order.name for order in orders}
    notifications = _notifications(session, shop_id, subject, orders)
    webhooks = _webhook_payloads(session, _inbox_ids(session, shop_id, subject))
    now = clock.now()
    export = {
        "format": EXPORT_FORMAT,
        "generated_at": _iso(now),
        "shop": {"domain": shop.domain, "name": shop.name, "platform": shop.platform},
        "request": {
            "customer_id": customer_external_id,
            "email": email,
            "order_ids": [str(o) for o in order_external_ids],
        },
        "orders": [_order_export(order, backorders) for order in orders],
        "notifications": [
            {
                "kind": n.kind,
                "channel": n.channel,
                "recipient": n.recipient,
                "status": n.status,
                "order_name": names.get(n.order_id) if n.order_id else None,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
            }
            for n in notifications
        ],
        "webhook_payloads": webhooks,
    }
    request = DataRequest(
        shop_id=shop_id, customer_external_id=customer_external_id, requested_at=now, export=export
    )
    session.add(request)
    session.flush()
    log.info(
        "customer data export %s for shop %s: %d orders, %d notifications, %d webhook payloads",
        request.id,
        shop_id,
        len(orders),
        len(notifications),
        len(webhooks),
    )
    return request


# ---------------------------------------------------------------------------- redaction


def _apply(row: Any, changes: dict[str, Any]) -> bool:
    """Set what differs; whether anything did (so a second redaction counts nothing)."""
    changed = False
    for field, value in changes.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed = True
    return changed


def _anonymise(order: Order, now: datetime) -> bool:
    changed = _apply(
        order,
        {
            "customer_external_id": None,
            "customer_email": None,
            "customer_name": REDACTED,
            "locale": None,
        },
    )
    if order.redacted_at is None:
        order.redacted_at = now  # later snapshots from the store never bring it back
    return changed


def _scrub_notification(subject: Subject, notification: Notification) -> bool:
    changes: dict[str, Any] = {
        "recipient": REDACTED,
        "payload": subject.scrub(notification.payload),
    }
    if notification.last_error:
        changes["last_error"] = subject.scrub_text(notification.last_error)
    if subject.scrub_text(notification.dedupe_key) != notification.dedupe_key:
        # Still unique in the shop, and no longer naming anyone.
        changes["dedupe_key"] = f"redacted:{notification.id}"
    if notification.status == "pending":  # there is no one left to send it to
        changes.update(status=CANCELLED, next_attempt_at=None)
    return _apply(notification, changes)


def _scrub_store_writes(session: Session, subject: Subject, orders: Sequence[Order]) -> int:
    if not orders:
        return 0
    writes = session.scalars(
        select(StoreWrite).where(StoreWrite.order_id.in_([o.id for o in orders]))
    )
    return sum(
        _apply(
            write,
            {
                "payload": subject.scrub(write.payload),
                "target": subject.scrub_text(write.target),
                "last_error": write.last_error and subject.scrub_text(write.last_error),
            },
        )
        for write in writes
    )


def _redact_inbox(session: Session, subject: Subject, ids: Sequence[int]) -> int:
    touched = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(chunk))):
            changes = {
                "body": REDACTED_BODY,
                "headers": subject.scrub(row.headers),
                "error": row.error and subject.scrub_text(row.error),
            }
            if row.resource_id in subject.customer_ids:  # a customers/* delivery: the id is them
                changes["resource_id"] = None
            if subject.id_in(row.dedupe_key):  # WooCommerce's key holds the resource id
                changes["dedupe_key"] = f"redacted:{row.id}"
            if row.state in ("received", "failed"):  # nothing left to process, or to replay
                changes.update(state="ignored", error=_UNPROCESSABLE, next_attempt_at=None)
            touched += _apply(row, changes)
    return touched


def _delete_data_requests(session: Session, shop_id: int, subject: Subject) -> int:
    requests = session.scalars(select(DataRequest).where(DataRequest.shop_id == shop_id))
    doomed = [
        r.id
        for r in requests
        if r.customer_external_id in subject.customer_ids or subject.named_in(r.export)
    ]
    if doomed:
        session.execute(delete(DataRequest).where(DataRequest.id.in_(doomed)))
    return len(doomed)


def redact_customer(
    session: Session,
    clock: Clock,
    shop_id: int,
    customer_external_id: str | None,
    email: str | None,
    order_external_ids: Sequence[str],
) -> int:
    """Erase one customer's personal data from one shop; returns the rows changed or deleted.

    Their orders stay (the queue, stock and reports need them) with no id, e-mail, name or
    locale. A second call finds nothing left to change and returns 0.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        log.info("customer redaction for shop %s: no such shop (already erased)", shop_id)
        return 0
    subject, orders = _subject_and_orders(
        session, shop, customer_external_id, email, order_external_ids
    )
    notifications = _notifications(session, shop_id, subject, orders)
    inbox = _inbox_ids(session, shop_id, subject)
    anonymised = sum(_anonymise(order, clock.now()) for order in orders)
    messages = sum(_scrub_notification(subject, n) for n in notifications)
    writes = _scrub_store_writes(session, subject, orders)
    deliveries = _redact_inbox(session, subject, inbox)
    exports = _delete_data_requests(session, shop_id, subject)
    session.flush()
    total = anonymised + messages + writes + deliveries + exports
    log.info(
        "customer redaction for shop %s at %s: %d orders anonymised, %d notifications, "
        "%d store writes and %d webhook deliveries scrubbed, %d data requests deleted",
        shop_id,
        _iso(clock.now()),
        anonymised,
        messages,
        writes,
        deliveries,
        exports,
    )
    return total


# ---------------------------------------------------------------------------- the whole shop


def _shop_owned_tables() -> list[Any]:
    return [t for t in Base.metadata.sorted_tables if "shop_id" in t.c]


def erase_shop(session: Session, shop_id: int) -> None:
    """Delete the shop and every row it owns (the foreign keys cascade); idempotent.

    Finished install nonces for its domain go too: they name the store and serve nothing.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        log.info("erase of shop %s: no such shop (already erased); nothing to do", shop_id)
        return
    platform, domain = shop.platform, shop.domain
    counts = {
        table.name: session.scalar(
            select(func.count()).select_from(table).where(table.c.shop_id == shop_id)
        )
        or 0
        for table in _shop_owned_tables()
    }
    session.execute(delete(Shop).where(Shop.id == shop_id))
    nonces = session.execute(
        delete(InstallNonce).where(
            InstallNonce.platform == platform,
            InstallNonce.target == domain,
            InstallNonce.used_at.is_not(None),
        )
    ).rowcount
    # Rows of the shop loaded before (the shop/redact delivery itself, say) are gone from the
    # database: forget them, so a later change to one is not flushed onto a deleted row.
    for row in list(session.identity_map.values()):
        state = inspect(row)
        owner = state.identity[0] if isinstance(row, Shop) else state.dict.get("shop_id")
        if owner == shop_id:
            session.expunge(row)
    log.info(
        "shop %s erased: %d rows in %d tables (%d orders, %d webhook deliveries), %d nonces",
        shop_id,
        sum(counts.values()) + 1,
        sum(1 for n in counts.values() if n) + 1,
        counts.get("orders", 0),
        counts.get("webhook_events", 0),
        nonces,
    )
