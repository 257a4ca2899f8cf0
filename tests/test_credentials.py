"""Store credentials are encrypted at rest and never reach a log line."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from connector.logs import RedactingFilter, redact
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.shops import add_woocommerce, reseal_all, shop_credentials
from connector.vault import CredentialVault, VaultError
from tests.shops import make_shop

WOO_KEY = "ck_4f3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"
WOO_SECRET = "cs_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"


def test_raw_row_holds_no_token(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        shop = add_woocommerce(
            session,
            runtime.clock,
            runtime.vault,
            url="https://homeware.example.com",
            consumer_key=WOO_KEY,
            consumer_secret=WOO_SECRET,
            allow_private=False,
        )
        shop_id = shop.id
    with runtime.db.engine.connect() as connection:
        raw = connection.execute(text("SELECT * FROM shops WHERE id = :id"), {"id": shop_id}).one()
    flat = " ".join(str(value) for value in raw)
    assert WOO_KEY not in flat and WOO_SECRET not in flat
    assert WOO_KEY[3:] not in flat  # not even without the prefix
    with runtime.db.transaction() as session:
        credentials = shop_credentials(runtime.vault, session.get_one(Shop, shop_id))
    assert (credentials["consumer_key"], credentials["consumer_secret"]) == (WOO_KEY, WOO_SECRET)
    # A webhook secret of letters and digits is made at install, and is sealed with the keys.
    assert credentials["webhook_secret"].isalnum() and len(credentials["webhook_secret"]) >= 32
    assert credentials["webhook_secret"] not in flat


def test_rotation_reads_old_ciphertext_and_reseals_under_the_new_key(runtime: Runtime) -> None:
    shop = make_shop(runtime)
    old_key = runtime.settings.encryption_keys[0]
    new_key = Fernet.generate_key().decode()
    runtime.vault = CredentialVault([new_key, old_key])
    with runtime.db.transaction() as session:
        assert reseal_all(session, runtime.vault) == 1
    only_new = CredentialVault([new_key])
    with runtime.db.transaction() as session:
        credentials = shop_credentials(only_new, session.get_one(Shop, shop.shop_id))
    assert credentials["access_token"] == "shpat_testtoken0123456789"


def test_wrong_key_is_a_clear_error_not_garbage(runtime: Runtime) -> None:
    shop = make_shop(runtime)
    stranger = CredentialVault([Fernet.generate_key().decode()])
    with (
        runtime.db.transaction() as session,
        pytest.raises(VaultError, match="cannot be decrypted"),
    ):
        shop_credentials(stranger, session.get_one(Shop, shop.shop_id))


@pytest.mark.parametrize(
    "secret",
    [
        "shpat_0123456789abcdef0123456789abcdef",
        WOO_KEY,
        WOO_SECRET,
        "Bearer bo_abcdefghijklmnopqrstuvwxyz012345",
        "jane.doe+orders@example.co.uk",
    ],
)
def test_log_lines_are_redacted(secret: str, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("calling store with %s", secret)
        try:
            raise RuntimeError(f"store refused {secret}")
        except RuntimeError:
            logger.exception("failed")
    assert secret not in caplog.text
    assert "calling store with" in caplog.text


def test_redact_keeps_ordinary_text() -> None:
    assert (
        redact("order #1001 short 2 of SKU TR2-BLU-42") == "order #1001 short 2 of SKU TR2-BLU-42"
    )
