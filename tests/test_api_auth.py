"""Who may see what: a shop's token sees only its shop; the admin token may pick any."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from connector.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.shops import add_backorder, make_shop

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _two_shops(runtime: Runtime):  # type: ignore[no-untyped-def]
    a = make_shop(runtime, domain="shop-a.myshopify.com")
    b = make_shop(runtime, domain="shop-b.myshopify.com")
    with runtime.db.transaction() as session:
        bo_a = add_backorder(
            session,
            a,
            sku="SHOE-42",
            order_external_id="1001",
            placed_at=runtime.clock.now() - timedelta(hours=1),
        ).id
        bo_b = add_backorder(
            session,
            b,
            sku="SHOE-42",
            order_external_id="2001",
            placed_at=runtime.clock.now() - timedelta(hours=1),
        ).id
    return a, b, bo_a, bo_b


def test_missing_or_wrong_token_is_401(client: FlaskClient, runtime: Runtime) -> None:
    make_shop(runtime)
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ):
        response = client.get("/api/v1/backorders", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_shop_token_gets_404_for_another_shops_rows(client: FlaskClient, runtime: Runtime) -> None:
    a, b, bo_a, bo_b = _two_shops(runtime)
    assert client.get(f"/api/v1/backorders/{bo_a}", headers=a.auth).status_code == 200
    for path in (
        f"/api/v1/backorders/{bo_b}",
        f"/api/v1/variants/{b.variants['SHOE-42']}",
        f"/api/v1/shops/{b.shop_id}",
    ):
        response = client.get(path, headers=a.auth)
        assert response.status_code == 404, path
        assert "shop-b" not in response.get_data(as_text=True)


def test_shop_token_lists_only_its_own_rows(client: FlaskClient, runtime: Runtime) -> None:
    a, _b, bo_a, _ = _two_shops(runtime)
    backorders = client.get("/api/v1/backorders", headers=a.auth).json["items"]
    assert [row["id"] for row in backorders] == [bo_a]
    shops = client.get("/api/v1/shops", headers=a.auth).json["items"]
    assert [row["domain"] for row in shops] == ["shop-a.myshopify.com"]
    variants = client.get("/api/v1/variants", headers=a.auth).json["items"]
    assert {row["shop_id"] for row in variants} == {a.shop_id}


def test_shop_token_naming_another_shop_is_403(client: FlaskClient, runtime: Runtime) -> None:
    a, b, _, _ = _two_shops(runtime)
    response = client.get(f"/api/v1/backorders?shop_id={b.shop_id}", headers=a.auth)
    assert response.status_code == 403
    assert response.json["error"]["field"] == "shop_id"
    # Naming its own shop is fine.
    assert client.get(f"/api/v1/backorders?shop_id={a.shop_id}", headers=a.auth).status_code == 200


def test_admin_token_sees_every_shop_or_the_one_it_names(
    client: FlaskClient, runtime: Runtime
) -> None:
    _a, b, bo_a, bo_b = _two_shops(runtime)
    everything = client.get("/api/v1/backorders", headers=ADMIN).json["items"]
    assert {row["id"] for row in everything} == {bo_a, bo_b}
    only_b = client.get(f"/api/v1/backorders?shop_id={b.shop_id}", headers=ADMIN).json["items"]
    assert [row["id"] for row in only_b] == [bo_b]
    assert len(client.get("/api/v1/shops", headers=ADMIN).json["items"]) == 2


def test_admin_token_is_refused_when_not_configured(runtime: Runtime) -> None:
    from dataclasses import replace

    from connector.web import create_app
    from tests.conftest import test_settings

    make_shop(runtime)
    runtime = replace(
        runtime, settings=test_settings(runtime.settings.DATABASE_URL, ADMIN_API_TOKEN=None)
    )
    client = create_app(runtime).test_client()
    assert client.get("/api/v1/shops", headers=ADMIN).status_code == 401


def test_revoked_token_is_refused(client: FlaskClient, runtime: Runtime) -> None:
    from sqlalchemy import update

    from connector.models import ApiToken

    a = make_shop(runtime)
    assert client.get("/api/v1/shops", headers=a.auth).status_code == 200
    with runtime.db.transaction() as session:
        session.execute(update(ApiToken).values(revoked_at=runtime.clock.now()))
    assert client.get("/api/v1/shops", headers=a.auth).status_code == 401


def test_tokens_are_stored_as_digests(runtime: Runtime) -> None:
    from sqlalchemy import text

    a = make_shop(runtime)
    with runtime.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT digest, prefix FROM api_tokens")).all()
    assert len(rows) == 1
    assert a.token not in rows[0].digest and len(rows[0].digest) == 64
    assert a.token.startswith(rows[0].prefix) and len(rows[0].prefix) < len(a.token) // 3
