"""A shop with one waiting line, the page's link, and a store that records the edits it is asked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.base import NotSupported, StoreOrder, StoreOrderLine
from connector.models import Backorder, MerchantTask, Notification, OrderChange, Shop
from connector.runtime import Runtime
from connector.services.status_links import status_url
from tests.engine_helpers import ingest, snapshot
from tests.shops import make_shop

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Waiting:
    """Order #1001: 2 x SHOE-42 (none in stock: both wait) and 1 x JACKET-M (in stock)."""

    shop_id: int
    order_id: int
    backorder_id: int
    variants: dict[str, int]
    token: str
    order: StoreOrder

    @property
    def path(self) -> str:
        return f"/status/{self.token}"

    def line_path(self, action: str, backorder_id: int | None = None) -> str:
        return f"{self.path}/lines/{backorder_id or self.backorder_id}/{action}"


def waiting_order(
    runtime: Runtime, *, domain: str = "northwind-trail.myshopify.com", order: str = "1001"
) -> Waiting:
    shop = make_shop(runtime, domain=domain, stock={"SHOE-42": 0, "SHOE-43": 5, "JACKET-M": 2})
    with runtime.db.transaction() as session:
        row = session.get_one(Shop, shop.shop_id)
        row.name, row.support_email, row.brand_color = (
            "Northwind Trail",
            "help@northwind.test",
            "#aa3300",
        )
    now = runtime.clock.now()
    placed = snapshot(order, [("v1", 2), ("v3", 1)], placed_at=now, updated_at=now)
    titles = {"v1": "Trail shoe 42", "v3": "Jacket M"}
    placed = replace(
        placed,
        financial_status="paid",
        lines=tuple(
            replace(line, title=titles[line.variant_external_id or ""], price=Decimal("49.90"))
            for line in placed.lines
        ),
    )
    result = ingest(runtime, shop.shop_id, placed)
    with runtime.db.transaction() as session:
        backorder = session.scalars(
            select(Backorder).where(Backorder.shop_id == shop.shop_id)
        ).one()
        backorder.alternatives = {
            "items": [
                {
                    "variant_id": shop.variants["SHOE-43"],
                    "sku": "SHOE-43",
                    "title": "Trail shoe 43",
                    "price": "49.90",
                },
                {
                    "variant_id": shop.variants["JACKET-M"],
                    "sku": "JACKET-M",
                    "title": "Jacket M",
                    "price": "49.90",
                },
            ]
        }
        backorder_id = backorder.id
    url = status_url(runtime.settings, shop.shop_id, result.order_id, clock=runtime.clock)
    return Waiting(
        shop.shop_id, result.order_id, backorder_id, shop.variants, url.rsplit("/", 1)[1], placed
    )


def csrf_of(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    found = CSRF.search(page.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def changes(runtime: Runtime) -> list[OrderChange]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(OrderChange).order_by(OrderChange.id)))


def tasks(runtime: Runtime) -> list[MerchantTask]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(MerchantTask).order_by(MerchantTask.id)))


def notifications(runtime: Runtime) -> list[tuple[str, str]]:
    """(kind, recipient) of every message recorded."""
    with runtime.db.transaction() as session:
        return [
            (n.kind, n.recipient)
            for n in session.scalars(select(Notification).order_by(Notification.id))
        ]


@dataclass
class FakeStore:
    """The store side of one order: answers get_order and applies change_line like a platform."""

    order: StoreOrder
    refuse: Exception | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    platform: str = "shopify"

    def get_order(self, order_external_id: str) -> StoreOrder:
        assert order_external_id == self.order.external_id
        return self.order

    def change_line(self, order_external_id: str, line_external_id: str, **edit: Any) -> StoreOrder:
        if self.refuse is not None:
            raise self.refuse
        self.edits.append({"line": line_external_id, **edit})
        lines = [
            replace(line, quantity=edit["keep_quantity"])
            if line.external_id == line_external_id
            else line
            for line in self.order.lines
        ]
        lines = [line for line in lines if line.quantity > 0]
        if edit.get("add_variant_external_id"):
            lines.append(
                StoreOrderLine(
                    external_id=f"added-{len(self.edits)}",
                    variant_external_id=edit["add_variant_external_id"],
                    quantity=edit["add_quantity"],
                )
            )
        self.order = replace(
            self.order, lines=tuple(lines), updated_at=self.order.updated_at + timedelta(seconds=1)
        )
        return self.order


def use_store(monkeypatch: Any, store: FakeStore) -> None:
    from connector import stores

    monkeypatch.setattr(stores, "adapter_for", lambda runtime, shop, **options: store)


__all__ = ["NotSupported"]
