"""The `backorder` command as an operator uses it."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select, text

from connector.cli import main
from connector.models import Backorder, Base, Shop
from tests.conftest import ENCRYPTION_KEY, SECRET_KEY


@pytest.fixture
def cli(clean_db: Engine, database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "REDIS_URL": None,
        "ADMIN_API_TOKEN": None,
        "ALLOW_PRIVATE_STORE_URLS": None,
    }

    def run(*args: str, **extra_env: Any) -> Result:
        return CliRunner().invoke(
            main, list(args), env={**env, **extra_env}, catch_exceptions=False
        )

    return run


def _count(engine: Engine, model: type[Base]) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model)) or 0


def test_add_list_token_remove(cli, clean_db: Engine) -> None:  # type: ignore[no-untyped-def]
    added = cli(
        "shops",
        "add-shopify",
        "--shop",
        "Outdoor-Gear.myshopify.com",
        "--access-token",
        "shpat_abcdef0123456789",
    )
    assert added.exit_code == 0, added.output
    assert "outdoor-gear.myshopify.com" in added.output
    listed = cli("shops", "list", "--json")
    assert '"platform": "shopify"' in listed.output and '"status": "active"' in listed.output
    shop_id = int(added.output.split()[2].rstrip(":"))

    token = cli("tokens", "create", "--shop", str(shop_id)).output.strip()
    assert token.startswith("bo_") and len(token) > 40
    with clean_db.connect() as connection:
        stored = " ".join(
            str(v) for row in connection.execute(text("SELECT * FROM shops")) for v in row
        )
        stored += " ".join(
            str(v) for row in connection.execute(text("SELECT * FROM api_tokens")) for v in row
        )
    assert "shpat_abcdef0123456789" not in stored and token not in stored

    removed = cli("shops", "remove", str(shop_id), "--yes")
    assert removed.exit_code == 0 and _count(clean_db, Shop) == 0
    assert "removed shop" in removed.output


def test_remove_deletes_every_row_the_shop_owns(cli, runtime) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tests.shops import add_backorder, make_shop

    keep = make_shop(runtime, domain="keep.myshopify.com")
    gone = make_shop(runtime, domain="gone.myshopify.com")
    with runtime.db.transaction() as session:
        for shop, order in ((keep, "1"), (gone, "2")):
            add_backorder(
                session,
                shop,
                sku="SHOE-42",
                order_external_id=order,
                placed_at=runtime.clock.now() - timedelta(hours=1),
                eta=None,
            )
    assert cli("shops", "remove", str(gone.shop_id), "--yes").exit_code == 0
    engine = runtime.db.engine
    for table in Base.metadata.sorted_tables:
        if "shop_id" in table.c:
            with engine.connect() as connection:
                left = connection.scalar(
                    select(func.count()).select_from(table).where(table.c.shop_id == gone.shop_id)
                )
            assert left == 0, table.name
    assert _count(engine, Backorder) == 1


def test_add_woocommerce_needs_public_https_unless_allowed(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("shops", "add-woocommerce", "--key", "ck_" + "a" * 40, "--secret", "cs_" + "b" * 40)
    refused = cli(*args, "--url", "http://localhost:8080")
    assert refused.exit_code == 1
    assert "url: must use https" in refused.output
    private = cli(*args, "--url", "https://10.0.0.5")
    assert "public host" in private.output and private.exit_code == 1
    allowed = cli(*args, "--url", "http://localhost:8080/", ALLOW_PRIVATE_STORE_URLS="true")
    assert allowed.exit_code == 0, allowed.output
    assert "woocommerce http://localhost:8080" in allowed.output
    again = cli(*args, "--url", "http://localhost:8080", ALLOW_PRIVATE_STORE_URLS="true")
    assert again.exit_code == 1 and "already installed" in again.output


def test_bad_shopify_domain_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "shops", "add-shopify", "--shop", "evil.com/x.myshopify.com", "--access-token", "t"
    )
    assert result.exit_code == 1 and "shop: must be a shop domain" in result.output


def test_token_for_unknown_shop_is_an_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("tokens", "create", "--shop", "4242")
    assert result.exit_code == 1 and "no shop with id 4242" in result.output


def test_configuration_error_stops_with_one_line_per_setting(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("shops", "list", SECRET_KEY=None, TOKEN_ENCRYPTION_KEY="nope")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "configuration error: SECRET_KEY is required: set it in the environment or in .env",
        "configuration error: TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 "
        "bytes); make one with `backorder keys generate`",
    ]


def test_db_upgrade_reports_the_revision(cli) -> None:  # type: ignore[no-untyped-def]
    from connector.migrate import head_revision

    result = cli("db", "upgrade")
    assert result.exit_code == 0 and f"database at revision {head_revision()}" in result.output


def test_keys_generate_prints_usable_settings(cli) -> None:  # type: ignore[no-untyped-def]
    from connector.config import load_settings

    lines = dict(line.split("=", 1) for line in cli("keys", "generate").output.splitlines())
    settings = load_settings(**lines)
    assert lines["SECRET_KEY"] == settings.SECRET_KEY


def test_keys_rotate_reencrypts(cli, runtime) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    from connector.services.shops import shop_credentials
    from connector.vault import CredentialVault
    from tests.shops import make_shop

    shop = make_shop(runtime)
    new_key = Fernet.generate_key().decode()
    result = cli("keys", "rotate", TOKEN_ENCRYPTION_KEY=f"{new_key},{ENCRYPTION_KEY}")
    assert "re-encrypted the credentials of 1 shop(s)" in result.output
    with runtime.db.transaction() as session:
        row = session.get_one(Shop, shop.shop_id)
        assert shop_credentials(CredentialVault([new_key]), row)["access_token"]


def test_recompute_replans_what_changed_behind_the_engines_back(cli, runtime) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from connector.models import IncomingStock
    from tests.engine_helpers import backorders, hours, ingest, snapshot
    from tests.shops import make_shop

    shop = make_shop(runtime)
    now = runtime.clock.now()
    ingest(
        runtime,
        shop.shop_id,
        snapshot("1001", [("v1", 1)], placed_at=now - hours(1), updated_at=now - hours(1)),
    )
    with runtime.db.transaction() as session:  # written directly: no re-plan ran
        session.add(
            IncomingStock(
                shop_id=shop.shop_id,
                variant_id=shop.variants["SHOE-42"],
                quantity=1,
                expected_on=date(2027, 1, 4),
                reference="PO-1",
            )
        )
    assert backorders(runtime)["1001-v1"]["eta_source"] == "lead_time"
    result = cli("recompute", "--shop", str(shop.shop_id))
    assert result.output.strip() == f"shop {shop.shop_id}: 1 change(s)"
    assert backorders(runtime)["1001-v1"]["eta_source"] == "incoming:PO-1"
    assert cli("recompute").output.strip() == "0 change(s)"


def test_a_dashboard_user_is_added_and_can_sign_in(cli, clean_db: Engine) -> None:  # type: ignore[no-untyped-def]
    added = cli(
        "shops", "add-shopify", "--shop", "desk.myshopify.com", "--access-token", "shpat_x1"
    )
    shop_id = int(added.output.split()[2].rstrip(":"))
    made = cli(
        "users",
        "add",
        "--shop",
        str(shop_id),
        "--email",
        "Agent@Desk.example",
        "--password",
        "long enough secret",
    )
    assert made.exit_code == 0, made.output
    assert "agent@desk.example, agent" in made.output
    again = cli(
        "users",
        "add",
        "--shop",
        str(shop_id),
        "--email",
        "agent@desk.example",
        "--password",
        "long enough secret",
    )
    assert again.exit_code == 1 and "exists" in again.output
    short = cli(
        "users", "add", "--shop", str(shop_id), "--email", "b@x.example", "--password", "short"
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output
