"""Compliance and uninstall: a customer's data exported or erased, a shop uninstalled or erased.

Erasure is checked the only way that counts: every column of every table is read back and
searched for the customer's e-mail, name, phone, address and id.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.base import StoreOrder
from connector import scheduler
from connector.domain import events as domain_events
from connector.models import (
    AlternativeRule,
    ApiToken,
    Backorder,
    Base,
    CoPurchase,
    DataRequest,
    DomainEvent,
    EtaChange,
    IncomingStock,
    InstallNonce,
    LeadTimeStat,
    MailTemplate,
    MerchantTask,
    Notification,
    Order,
    OrderChange,
    OrderLine,
    Shop,
    StockOut,
    StoreWrite,
    SyncCursor,
    Variant,
    WebhookEvent,
)
from connector.runtime import Runtime
from connector.services.errors import NotFound
from connector.services.install import _install
from connector.services.redact import (
    REDACTED,
    REDACTED_BODY,
    Subject,
    erase_shop,
    export_customer,
    redact_customer,
)
from connector.services.reorder import recompute_shop
from connector.services.shops import (
    ShopUninstalled,
    reseal_all,
    shop_credentials,
    uninstall_shop,
)
from connector.services.tokens import find_token
from connector.services.users import add_user
from connector.stores import adapter_for
from tests.conftest import ADMIN_TOKEN
from tests.engine_helpers import expect_stock, hours, ingest, snapshot
from tests.shops import ShopFixture, make_shop

ZOE_ID = "7770001"  # Shopify's webhooks say 7770001; its GraphQL API, and our rows, the gid
ZOE_GID = f"gid://shopify/Customer/{ZOE_ID}"
ZOE_EMAIL = "Zoe.Angstrom@Example.com"
ZOE_OLD_EMAIL = "zoe.old@mailbox.example"
ZOE_NAME = "Zoë Ångström"
ZOE_PHONE = "+44 7700 900123"
ZOE_STREET = "12 Fjord Lane"
ZOE_TRACES = (ZOE_ID, ZOE_EMAIL.lower(), ZOE_OLD_EMAIL, "zoë", "ångström", ZOE_PHONE, ZOE_STREET)

MAX_ID = "8880002"
MAX_EMAIL = "max.mustermann@example.org"
MAX_NAME = "Max Mustermann"
MAX_TRACES = (MAX_ID, MAX_EMAIL, MAX_NAME.lower(), "+49 30 901820")

PO_REFERENCE = "PO-7781 Acme Supplies"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def order_gid(number: str) -> str:
    return f"gid://shopify/Order/{number}"


@dataclass(frozen=True)
class Buyer:
    order: str
    customer_id: str | None
    email: str | None
    name: str
    phone: str
    street: str
    hours_ago: float


ZOE_ORDERS = (
    Buyer("5001", ZOE_GID, ZOE_EMAIL, ZOE_NAME, ZOE_PHONE, ZOE_STREET, 50),
    Buyer("5002", ZOE_GID, ZOE_OLD_EMAIL, ZOE_NAME, ZOE_PHONE, ZOE_STREET, 40),  # older address
    Buyer("5003", None, ZOE_EMAIL.lower(), ZOE_NAME, ZOE_PHONE, ZOE_STREET, 30),  # guest checkout
    Buyer("5004", None, None, ZOE_NAME, ZOE_PHONE, ZOE_STREET, 20),  # named only by the request
)
MAX_GID = f"gid://shopify/Customer/{MAX_ID}"
MAX_ORDERS = (
    Buyer("6001", MAX_GID, MAX_EMAIL, MAX_NAME, "+49 30 901820", "Unter den Linden 1", 45),
    Buyer("6002", MAX_GID, MAX_EMAIL, MAX_NAME, "+49 30 901820", "Unter den Linden 1", 25),
)


# ---------------------------------------------------------------------------- building the shop


def _store_order(runtime: Runtime, buyer: Buyer) -> StoreOrder:
    placed = runtime.clock.now() - hours(buyer.hours_ago)
    order = snapshot(order_gid(buyer.order), [("v1", 1)], placed_at=placed, updated_at=placed)
    return dataclasses.replace(
        order,
        name=f"#{buyer.order}",
        customer_external_id=buyer.customer_id,
        customer_email=buyer.email,
        customer_name=buyer.name,
        locale="sv-SE" if buyer.name == ZOE_NAME else "de-DE",
    )


def _shopify_body(buyer: Buyer) -> str:
    """An orders/create payload as Shopify sends it (REST shape, numeric ids)."""
    first, last = buyer.name.split(" ", 1)
    address = {
        "first_name": first,
        "last_name": last,
        "address1": buyer.street,
        "phone": buyer.phone,
    }
    customer_id = buyer.customer_id.rsplit("/", 1)[1] if buyer.customer_id else None
    body: dict[str, Any] = {
        "id": int(buyer.order),
        "admin_graphql_api_id": order_gid(buyer.order),
        "name": f"#{buyer.order}",
        "email": buyer.email,
        "contact_email": buyer.email,
        "phone": buyer.phone,
        "shipping_address": address,
        "billing_address": address,
        "line_items": [{"id": 1, "variant_id": 1, "quantity": 1, "sku": "SHOE-42"}],
    }
    if customer_id:
        body["customer"] = {"id": int(customer_id), "email": buyer.email, "first_name": first}
    return json.dumps(body, ensure_ascii=False)


def _inbox(
    session: Session, shop_id: int, topic: str, resource_id: str | None, body: str, **extra: Any
) -> WebhookEvent:
    row = WebhookEvent(
        shop_id=shop_id,
        platform="shopify",
        topic=topic,
        dedupe_key=extra.pop("dedupe_key", str(uuid.uuid4())),
        resource_id=resource_id,
        headers={"X-Shopify-Topic": topic},
        body=body,
        received_at=session.info["clock"].now(),
        state=extra.pop("state", "done"),
        **extra,
    )
    session.add(row)
    return row


def _outbox(session: Session, shop_id: int, buyer: Buyer, order: Order, *, pending: bool) -> None:
    first = buyer.name.split()[0]
    status = "pending" if pending else "sent"
    now = session.info["clock"].now()
    session.add(
        Notification(
            shop_id=shop_id,
            order_id=order.id,
            kind="eta_changed" if pending else "backorder_created",
            recipient=buyer.email or "",
            dedupe_key=f"{status}:{order.external_id}:{buyer.email}",
            status=status,
            sent_at=None if pending else now,
            payload={
                "customer_name": buyer.name,
                "greeting": f"Dear {first},",
                "order_name": f"#{buyer.order}",
                "eta": "2026-12-11",
            },
            last_error=f"mailbox {buyer.email} was full" if pending else None,
        )
    )
    session.add(
        StoreWrite(
            shop_id=shop_id,
            order_id=order.id,
            kind="tags_add",
            target=order.external_id,
            coalesce_key=f"tags:{order.external_id}",
            payload={"tags": ["backordered"], "note": f"Backordered for {buyer.name}"},
            status=status,
        )
    )


def _populate(runtime: Runtime, shop: ShopFixture, buyers: tuple[Buyer, ...]) -> None:
    """Orders through the engine, then the outbox, inbox and sync rows a live shop has."""
    for buyer in buyers:
        ingest(runtime, shop.shop_id, _store_order(runtime, buyer))
    with runtime.db.transaction() as session:
        orders = {
            o.external_id: o
            for o in session.scalars(select(Order).where(Order.shop_id == shop.shop_id))
        }
        for index, buyer in enumerate(buyers):
            order = orders[order_gid(buyer.order)]
            _outbox(session, shop.shop_id, buyer, order, pending=index % 2 == 0)
            body = _shopify_body(buyer)  # the intake keeps Shopify's resource ids as GIDs
            _inbox(session, shop.shop_id, "orders/create", order_gid(buyer.order), body)
        session.add(SyncCursor(shop_id=shop.shop_id, resource="orders"))


@pytest.fixture
def shop(runtime: Runtime) -> ShopFixture:
    """Zoë (four orders, three ways of naming her) and Max, all waiting for the same shoe."""
    fixture = make_shop(runtime)
    _populate(runtime, fixture, tuple(sorted(ZOE_ORDERS + MAX_ORDERS, key=lambda b: -b.hours_ago)))
    # Incoming stock moves everyone's ETA: each backorder gets an ETA history.
    today = runtime.clock.now().date()
    expect_stock(runtime, fixture.variants["SHOE-42"], 10, today + timedelta(days=5), PO_REFERENCE)
    with runtime.db.transaction() as session:
        sid = fixture.shop_id
        zoe = {"id": int(ZOE_ID), "email": ZOE_EMAIL, "first_name": "Zoë", "phone": ZOE_PHONE}
        body = json.dumps(zoe, ensure_ascii=False)
        _inbox(session, sid, "customers/update", ZOE_GID, body, dedupe_key=f"customer:{ZOE_ID}:1")
        # An update of her order still waiting to be processed when the redaction comes.
        body = _shopify_body(ZOE_ORDERS[0])
        _inbox(session, sid, "orders/updated", order_gid("5001"), body, state="received")
        request = {"customer": zoe, "orders_requested": [5001, 5002]}
        body = json.dumps(request, ensure_ascii=False)
        _inbox(session, sid, "customers/data_request", None, body)
        _inbox(session, sid, "orders/create", "", f"<html>not json: {ZOE_EMAIL}", state="rejected")
        # Same number as Zoë's first order, but a stock level: not about her.
        level = {"inventory_item_id": 5001, "available": 3}
        _inbox(session, sid, "inventory_levels/update", "5001", json.dumps(level))
        maxi = {"id": int(MAX_ID), "email": MAX_EMAIL, "first_name": "Max"}
        _inbox(session, sid, "customers/update", MAX_GID, json.dumps(maxi))
    return fixture


def _orders_of(runtime: Runtime, numbers: list[str]) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(Order).where(Order.external_id.in_([order_gid(n) for n in numbers]))
        )
        return [_row(o) for o in rows]


def _row(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _table(runtime: Runtime, model: Any) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        return [_row(r) for r in session.scalars(select(model).order_by(model.id))]


def _everything(runtime: Runtime) -> list[tuple[str, str, str]]:
    """Every value of every column of every table, as (table, column, text)."""
    found = []
    with runtime.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    text = json.dumps(value, ensure_ascii=False, default=str)
                    found.append((table.name, column, text.lower()))
    return found


def _traces(runtime: Runtime, needles: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [
        (table, column, needle)
        for table, column, text in _everything(runtime)
        for needle in needles
        if needle.lower() in text
    ]


def _redact_zoe(runtime: Runtime, shop: ShopFixture) -> int:
    # As the customers/redact webhook names her: numeric ids, the e-mail in another case.
    with runtime.db.transaction() as session:
        return redact_customer(
            session, runtime.clock, shop.shop_id, ZOE_ID, ZOE_EMAIL.upper(), ["5004"]
        )


def _export_zoe(runtime: Runtime, shop: ShopFixture) -> tuple[int, dict[str, Any]]:
    # As the intake passes a customers/data_request: Shopify's ids as GIDs.
    with runtime.db.transaction() as session:
        request = export_customer(
            session, runtime.clock, shop.shop_id, ZOE_GID, ZOE_EMAIL.lower(), [order_gid("5004")]
        )
        return request.id, request.export


# ---------------------------------------------------------------------------- export


def test_export_holds_everything_on_the_customer_and_nothing_of_anyone_else(
    runtime: Runtime, shop: ShopFixture
) -> None:
    request_id, export = _export_zoe(runtime, shop)
    text = json.dumps(export, ensure_ascii=False)

    orders = {o["order_id"]: o for o in export["orders"]}
    assert set(orders) == {order_gid(b.order) for b in ZOE_ORDERS}
    first = orders[order_gid("5001")]
    assert first["customer"] == {
        "id": ZOE_GID,
        "email": ZOE_EMAIL,
        "name": ZOE_NAME,
        "locale": "sv-SE",
    }
    (line,) = first["lines"]
    assert (line["line_id"], line["quantity"]) == (f"{order_gid('5001')}-v1", 1)
    backorder = line["backorder"]
    assert backorder["status"] == "waiting" and backorder["short_quantity"] == 1
    assert backorder["eta_basis"] == "incoming stock"
    assert [h["eta_basis"] for h in backorder["eta_history"]] == [
        "supplier lead time",
        "incoming stock",
    ]
    assert backorder["eta_history"][-1]["eta"] == backorder["eta"]

    # The outbox rows written above, and the engine's own "placed" e-mail for each of her
    # orders that gave an address (5004 named her only).
    kinds = sorted(n["kind"] for n in export["notifications"])
    assert kinds == ["backorder_created"] * 2 + ["eta_changed"] * 2 + ["placed"] * 3
    assert {n["status"] for n in export["notifications"]} == {"sent", "pending"}
    sent = next(n for n in export["notifications"] if n["status"] == "sent")
    assert sent["sent_at"] and sent["created_at"] and sent["order_name"].startswith("#500")

    payloads = {
        (p["topic"], p["payload"]["id"] if isinstance(p["payload"], dict) else p["payload"])
        for p in export["webhook_payloads"]
    }
    assert payloads == {("orders/create", int(b.order)) for b in ZOE_ORDERS} | {
        ("customers/update", int(ZOE_ID)),
        ("orders/updated", 5001),
        ("orders/create", f"<html>not json: {ZOE_EMAIL}"),  # rejected, but we hold it
    }

    # Nothing of Max, and none of our own internals: supplier references, keys, tokens.
    for needle in (*MAX_TRACES, PO_REFERENCE, "dedupe_key", "shpat_", "coalesce"):
        assert needle.lower() not in text.lower(), needle
    with runtime.db.transaction() as session:
        stored = session.get_one(DataRequest, request_id)
        assert (stored.shop_id, stored.customer_external_id) == (shop.shop_id, ZOE_GID)
        assert stored.export == export


def test_export_for_a_shop_we_do_not_have_is_not_found(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(NotFound):
        export_customer(session, runtime.clock, 999, ZOE_ID, ZOE_EMAIL, [])


# ---------------------------------------------------------------------------- redaction


def test_redaction_leaves_no_trace_of_the_customer_and_the_queue_as_it_was(
    runtime: Runtime, shop: ShopFixture
) -> None:
    _export_zoe(runtime, shop)
    with runtime.db.transaction() as session:  # Max asked for his data too: his stays
        export_customer(session, runtime.clock, shop.shop_id, MAX_ID, MAX_EMAIL, [])
    assert _traces(runtime, ZOE_TRACES)  # the sweep does find her before
    max_orders = _orders_of(runtime, ["6001", "6002"])
    untouched = {
        model.__name__: _table(runtime, model)
        for model in (EtaChange, DomainEvent, IncomingStock, SyncCursor)
    }
    queue = {m.__name__: _table(runtime, m) for m in (Backorder, OrderLine)}
    max_rows = _max_rows(runtime)

    touched = _redact_zoe(runtime, shop)

    assert _traces(runtime, ZOE_TRACES) == []
    assert {t for t, _, _ in _traces(runtime, MAX_TRACES)} >= {
        "orders",
        "notifications",
        "webhook_events",
        "data_requests",
    }
    assert _orders_of(runtime, ["6001", "6002"]) == max_orders
    assert _max_rows(runtime) == max_rows
    assert {m.__name__: _table(runtime, m) for m in (Backorder, OrderLine)} == queue
    assert {
        model.__name__: _table(runtime, model)
        for model in (EtaChange, DomainEvent, IncomingStock, SyncCursor)
    } == untouched

    # Her orders stay, anonymised; her pending message is cancelled; her export is gone.
    zoe_orders = _orders_of(runtime, [b.order for b in ZOE_ORDERS])
    assert len(zoe_orders) == 4
    for order in zoe_orders:
        assert (order["customer_external_id"], order["customer_email"], order["locale"]) == (
            None,
            None,
            None,
        )
        assert order["customer_name"] == REDACTED and order["shipping_method"] == "Standard"
    with runtime.db.transaction() as session:
        notes = session.scalars(select(Notification).where(Notification.recipient == REDACTED))
        # Two sent, two pending made above, and her three unsent "placed" e-mails.
        assert sorted(n.status for n in notes) == ["cancelled"] * 5 + ["sent"] * 2
        assert session.scalar(select(func.count()).select_from(DataRequest)) == 1
        level = session.scalars(
            select(WebhookEvent).where(WebhookEvent.topic == "inventory_levels/update")
        ).one()
        assert level.body != REDACTED_BODY
        redacted = session.scalar(select(func.count()).where(WebhookEvent.body == REDACTED_BODY))
        waiting = session.scalars(
            select(WebhookEvent).where(WebhookEvent.topic == "orders/updated")
        ).one()
        assert (waiting.state, waiting.body) == ("ignored", REDACTED_BODY)  # nothing to process
    # Four order bodies and an update, customers/update, the data request, the rejected body.
    assert redacted == 8
    # Orders, notifications (four made above, her three "placed" e-mails), store writes, inbox,
    # export.
    assert touched == 4 + (4 + 3) + 4 + 8 + 1

    assert _redact_zoe(runtime, shop) == 0  # idempotent: nothing left to change
    with runtime.db.transaction() as session:
        assert redact_customer(session, runtime.clock, shop.shop_id, None, None, []) == 0


def _max_rows(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    """Every row that is about Max, from every table that can hold him."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in (Notification, StoreWrite, WebhookEvent, DataRequest):
        rows[model.__name__] = [
            r
            for r in _table(runtime, model)
            if any(n.lower() in json.dumps(r, default=str).lower() for n in MAX_TRACES)
            or r.get("target") in (order_gid("6001"), order_gid("6002"))
        ]
        assert rows[model.__name__], model
    return rows


def test_redaction_in_a_shop_we_no_longer_have_is_a_no_op(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        assert redact_customer(session, runtime.clock, 999, ZOE_ID, ZOE_EMAIL, ["5001"]) == 0


def test_a_customer_is_recognised_by_what_names_them_not_by_lookalikes() -> None:
    zoe = Subject.of("shopify", "42", "ann@example.com", ["1001"])
    assert zoe.customer_ids == {"42", "gid://shopify/Customer/42"}
    assert zoe.order_ids == {"1001", "gid://shopify/Order/1001"}
    assert zoe.named_in({"note": "write to ANN@example.com."})
    assert zoe.named_in({"customer": {"id": 42}})
    assert zoe.named_in({"customer_id": "42"})
    assert zoe.named_in({"customer": "gid://shopify/Customer/42"})
    assert not zoe.named_in({"email": "joann@example.com"})
    assert not zoe.named_in({"email": "ann@example.com.au"})
    assert not zoe.named_in({"quantity": 42, "line_items": [{"id": 42}]})
    assert not zoe.named_in({"admin_graphql_api_id": "gid://shopify/Customer/420"})
    assert zoe.scrub_text("gid://shopify/Customer/420, ann@example.com") == (
        f"gid://shopify/Customer/420, {REDACTED}"
    )
    woo = Subject.of("woocommerce", "42", None, ["1001"])
    assert woo.customer_ids == {"42"} and woo.order_ids == {"1001"}


def test_domain_events_carry_no_personal_data() -> None:
    """If this fails, an event gained a personal field: teach `redact_customer` to scrub it."""
    allowed = {"variant_id", "line_id", "backorder_id", "quantity", "eta", "eta_source"}
    allowed |= {"old_eta", "new_eta", "old_source", "new_source", "reason"}
    seen = set()
    for name in dir(domain_events):
        item = getattr(domain_events, name)
        if isinstance(item, type) and issubclass(item, domain_events.Event):
            seen |= {f.name for f in fields(item)}
    assert seen and seen <= allowed, seen - allowed


# ---------------------------------------------------------------------------- the whole shop


def _shop_rows(runtime: Runtime, shop_id: int) -> dict[str, int]:
    counts = {}
    with runtime.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            column = table.c.id if table.name == "shops" else table.c.get("shop_id")
            if column is None:
                continue
            counts[table.name] = connection.execute(
                select(func.count()).select_from(table).where(column == shop_id)
            ).scalar_one()
    return counts


def test_every_table_but_the_nonces_belongs_to_a_shop() -> None:
    unowned = {t.name for t in Base.metadata.sorted_tables if "shop_id" not in t.c}
    assert unowned == {"shops", "install_nonces"}


def test_erase_shop_leaves_no_row_of_it_anywhere_and_the_other_shop_as_it_was(
    runtime: Runtime, shop: ShopFixture
) -> None:
    other = make_shop(runtime, domain="other-store.myshopify.com", stock={"BOOT": 0})
    _populate(runtime, other, (dataclasses.replace(MAX_ORDERS[0], order="7001"),))
    _export_zoe(runtime, shop)
    with runtime.db.transaction() as session:
        session.add(
            InstallNonce(
                platform="shopify",
                nonce="used-" + uuid.uuid4().hex,
                target="northwind-trail.myshopify.com",
                created_at=runtime.clock.now(),
                used_at=runtime.clock.now(),
            )
        )
        # A merchant's alternatives rule and a co-purchase count (connector/models/alternatives.py).
        ids = sorted(shop.variants.values())
        product = session.get_one(Variant, ids[0]).product_id
        session.add(AlternativeRule(shop_id=shop.shop_id, product_id=product, pinned=[ids[1]]))
        session.add(
            CoPurchase(
                shop_id=shop.shop_id,
                variant_id=ids[0],
                other_variant_id=ids[1],
                together=1,
                instead=0,
                version=1,
            )
        )
        # A template override, a status-page change and the merchant task it left
        # (connector/models/service.py).
        session.add(
            MailTemplate(shop_id=shop.shop_id, kind="placed", locale="en", part="text", body="Hi")
        )
        backorder = session.scalars(
            select(Backorder).where(Backorder.shop_id == shop.shop_id)
        ).first()
        assert backorder is not None
        order_id = session.get_one(OrderLine, backorder.order_line_id).order_id
        change = OrderChange(
            shop_id=shop.shop_id,
            order_id=order_id,
            backorder_id=backorder.id,
            action="cancel",
            quantity=1,
            dedupe_key="cancel-" + uuid.uuid4().hex,
        )
        session.add(change)
        session.add(
            MerchantTask(
                shop_id=shop.shop_id,
                order_id=order_id,
                backorder_id=backorder.id,
                kind="refund",
                summary="Refund one unit",
                dedupe_key="task-" + uuid.uuid4().hex,
            )
        )
        # Demand planning's own rows (connector/models/demand.py).
        now = runtime.clock.now()
        session.add(StockOut(shop_id=shop.shop_id, variant_id=ids[0], started_at=now))
        session.add(
            LeadTimeStat(
                shop_id=shop.shop_id,
                scope=f"variant:{ids[0]}",
                receipts=1,
                mean_days=12.0,
                created_at=now,
                updated_at=now,
            )
        )
        # A dashboard account (connector/models/users.py).
        add_user(session, runtime.clock, shop.shop_id, "agent@northwind.example", "x" * 12)
    recompute_shop(runtime, shop.shop_id)
    before = _shop_rows(runtime, shop.shop_id)
    assert all(before.values()), before  # every table holds something of the shop
    others = _shop_rows(runtime, other.shop_id)

    with runtime.db.transaction() as session:
        # As the shop/redact processing would: its own inbox row is loaded, then updated.
        delivery = _inbox(session, shop.shop_id, "shop/redact", None, "{}")
        session.flush()
        erase_shop(session, shop.shop_id)
        delivery.state = "done"  # the row went with the shop; this must not fail the commit

    assert set(_shop_rows(runtime, shop.shop_id).values()) == {0}
    assert _shop_rows(runtime, other.shop_id) == others
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InstallNonce)) == 0
        erase_shop(session, shop.shop_id)  # already gone: nothing to do, no error


# ---------------------------------------------------------------------------- uninstall


def test_uninstall_destroys_credentials_cancels_the_outbox_and_revokes_tokens(
    runtime: Runtime, shop: ShopFixture, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/v1/backorders", headers=shop.auth).status_code == 200
    with runtime.db.transaction() as session:
        uninstall_shop(session, runtime.clock, shop.shop_id)
    uninstalled_at = runtime.clock.now()

    runtime.clock.advance(timedelta(hours=1))
    with runtime.db.transaction() as session:
        uninstall_shop(session, runtime.clock, shop.shop_id)  # again: changes nothing
        uninstall_shop(session, runtime.clock, 999)  # a shop already erased: no error
        row = session.get_one(Shop, shop.shop_id)
        assert (row.status, row.uninstalled_at) == ("uninstalled", uninstalled_at)
        assert "gAAAA" not in row.credentials  # no ciphertext left to decrypt
        with pytest.raises(ShopUninstalled, match="uninstalled"):
            shop_credentials(runtime.vault, row)
        with pytest.raises(ShopUninstalled):
            adapter_for(runtime, row)
        assert reseal_all(session, runtime.vault) == 0  # key rotation skips it, does not fail
        messages = sorted(session.scalars(select(Notification.status)))
        # Three sent, three pending made above, and the five "placed" e-mails not yet sent.
        assert messages == ["cancelled"] * 8 + ["sent"] * 3
        ours = select(StoreWrite.status).where(StoreWrite.kind == "tags_add")  # made above
        assert sorted(session.scalars(ours)) == ["cancelled"] * 3 + ["sent"] * 3
        # The writes the engine asked for (order and variant state) are stopped as well.
        unsent = select(func.count()).where(StoreWrite.status.in_(("pending", "sending")))
        assert session.scalar(unsent) == 0
        assert session.scalar(select(func.count()).where(ApiToken.revoked_at.is_(None))) == 0
        assert find_token(session, runtime.clock, shop.token) is None
    assert client.get("/api/v1/backorders", headers=shop.auth).status_code == 401
    listed = client.get(
        "/api/v1/notifications", query_string={"shop_id": shop.shop_id}, headers=ADMIN
    )
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert "cancelled" in {n["status"] for n in listed.get_json()["items"]}

    # The scheduler leaves it alone: no re-plan, no sync.
    planned: list[int] = []
    monkeypatch.setattr(scheduler, "recompute_shop", lambda s, c, i: planned.append(i) or [])
    scheduler.recompute_all(runtime)
    assert planned == []
    assert scheduler.sync_all(runtime) == 0


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
def test_a_reinstall_brings_the_shop_back_with_new_credentials(
    runtime: Runtime, platform: str
) -> None:
    if platform == "shopify":
        domain, fresh = "northwind-trail.myshopify.com", {"access_token": "shpat_fresh"}
    else:
        domain = "https://homeware.example.com"
        fresh = {"consumer_key": "ck_fresh", "consumer_secret": "cs_fresh"}
    shop = make_shop(runtime, platform=platform, domain=domain)
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).needs_reauthorization = True
        uninstall_shop(session, runtime.clock, shop.shop_id)
    runtime.clock.advance(timedelta(days=1))

    with runtime.db.transaction() as session:
        again = _install(session, runtime, platform, domain, fresh)
        assert again.id == shop.shop_id  # the same shop, its history kept
        assert (again.status, again.uninstalled_at) == ("active", None)
        assert again.installed_at == runtime.clock.now()
        assert not again.needs_reauthorization
        credentials = shop_credentials(runtime.vault, again)
    assert {k: credentials[k] for k in fresh} == fresh
    if platform == "woocommerce":  # a new webhook secret: the old one was destroyed
        assert credentials["webhook_secret"].isalnum()


# ---------------------------------------------------------------------------- logs


def test_each_action_logs_one_line_with_counts_and_no_personal_data(
    runtime: Runtime, shop: ShopFixture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connector.services"):
        _export_zoe(runtime, shop)
        _redact_zoe(runtime, shop)
        with runtime.db.transaction() as session:
            uninstall_shop(session, runtime.clock, shop.shop_id)
            erase_shop(session, shop.shop_id)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("connector.services")]
    assert len(lines) == 4, lines
    assert all(f"shop {shop.shop_id}" in line for line in lines)
    text = " ".join(lines).lower()
    for needle in (*ZOE_TRACES, ZOE_EMAIL.lower(), "@"):
        assert needle.lower() not in text


def test_the_dates_in_an_export_are_iso_strings(runtime: Runtime, shop: ShopFixture) -> None:
    _, export = _export_zoe(runtime, shop)
    (order,) = [o for o in export["orders"] if o["order_id"] == order_gid("5001")]
    assert order["placed_at"].endswith("+00:00")
    assert date.fromisoformat(order["lines"][0]["backorder"]["eta"])
