"""A shop whose customer Ada waits for a shoe, with an owner and an agent who can sign in."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask.testing import FlaskClient

from connector.models import Order, OrderLine
from connector.runtime import Runtime
from connector.services.users import add_user
from tests.engine_helpers import hours, ingest, snapshot
from tests.shops import ShopFixture, make_shop

PASSWORD = "correct horse battery"


@dataclass
class Desk:
    shop: ShopFixture
    order_id: int
    owner: str
    agent: str


def desk(runtime: Runtime, domain: str = "northwind-trail.myshopify.com", tag: str = "") -> Desk:
    shop = make_shop(runtime, domain=domain)
    now = runtime.clock.now()
    order = replace(
        snapshot(f"{tag}1001", [("v1", 2)], placed_at=now - hours(3), updated_at=now),
        customer_name="Ada Lovelace",
        customer_email=f"ada{tag}@example.com",
    )
    ingest(runtime, shop.shop_id, order)
    owner, agent = f"owner{tag}@shop.example", f"agent{tag}@shop.example"
    with runtime.db.transaction() as session:
        session.query(OrderLine).filter_by(shop_id=shop.shop_id).update(
            {"title": "Trail shoe, size 42", "sku": "SHOE-42"}
        )
        add_user(session, runtime.clock, shop.shop_id, owner, PASSWORD, "owner")
        add_user(session, runtime.clock, shop.shop_id, agent, PASSWORD, "agent")
        order_id = session.query(Order.id).filter_by(shop_id=shop.shop_id).scalar()
    return Desk(shop, order_id, owner, agent)


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        if "csrf" not in session:
            session["csrf"] = "test-csrf-token-value"
        return session["csrf"]


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> object:
    client.get("/app/login")
    return client.post(
        "/app/login", data={"email": email, "password": password, "csrf": csrf_of(client)}
    )
