"""Settings: one typed object; a missing or malformed setting stops start-up naming it."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from connector.config import ConfigurationError, load_settings

KEY = Fernet.generate_key().decode()
GOOD = {"SECRET_KEY": "k" * 40, "TOKEN_ENCRYPTION_KEY": KEY}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "SECRET_KEY",
        "TOKEN_ENCRYPTION_KEY",
        "DATABASE_URL",
        "SHOPIFY_API_VERSION",
        "SYNC_INTERVAL_MINUTES",
        "ADMIN_API_TOKEN",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_public_contract() -> None:
    settings = load_settings(**GOOD)
    assert settings.DATABASE_URL == "sqlite:///backorder.db"
    assert settings.REDIS_URL is None
    assert settings.SHOPIFY_ADMIN_BASE_URL == "https://{shop}/admin/api/{version}"
    assert settings.ALLOW_PRIVATE_STORE_URLS is False
    assert settings.SYNC_INTERVAL_MINUTES == 15


def test_missing_required_setting_is_named_in_one_line() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(TOKEN_ENCRYPTION_KEY=KEY)
    assert str(error.value) == "SECRET_KEY is required: set it in the environment or in .env"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOKEN_ENCRYPTION_KEY", "not-a-key", "TOKEN_ENCRYPTION_KEY is not a Fernet key"),
        ("SHOPIFY_API_VERSION", "2026-13", "SHOPIFY_API_VERSION must be a quarterly"),
        ("SYNC_INTERVAL_MINUTES", "0", "SYNC_INTERVAL_MINUTES:"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be a sqlite"),
        ("SECRET_KEY", "short", "SECRET_KEY:"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(**{**GOOD, name: value})
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_values_come_from_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text(
        f"SECRET_KEY={'d' * 40}\nTOKEN_ENCRYPTION_KEY={KEY}\nSYNC_INTERVAL_MINUTES=30\n"
    )
    monkeypatch.setenv("SYNC_INTERVAL_MINUTES", "5")  # the environment wins over .env
    settings = load_settings()
    assert settings.SECRET_KEY == "d" * 40
    assert settings.SYNC_INTERVAL_MINUTES == 5


def test_postgres_urls_get_the_shipped_driver() -> None:
    settings = load_settings(**GOOD, DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test")
    assert settings.DATABASE_URL == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_several_encryption_keys_are_accepted_for_rotation() -> None:
    second = Fernet.generate_key().decode()
    settings = load_settings(SECRET_KEY="k" * 40, TOKEN_ENCRYPTION_KEY=f"{second}, {KEY}")
    assert settings.encryption_keys == [second, KEY]


def test_env_example_lists_every_setting() -> None:
    from pathlib import Path

    from connector.config import Settings

    example = (Path(__file__).parents[1] / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line
    }
    assert set(Settings.model_fields) <= documented


def test_a_copy_of_env_example_asks_only_for_the_two_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    example = (Path(__file__).parents[1] / ".env.example").read_text()
    (tmp_path / ".env").write_text(example)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert str(error.value).splitlines() == [
        "SECRET_KEY is required: set it in the environment or in .env",
        "TOKEN_ENCRYPTION_KEY is required: set it in the environment or in .env",
    ]
    (tmp_path / ".env").write_text(
        example.replace("SECRET_KEY=\n", f"SECRET_KEY={'z' * 40}\n").replace(
            "TOKEN_ENCRYPTION_KEY=\n", f"TOKEN_ENCRYPTION_KEY={KEY}\n"
        )
    )
    settings = load_settings()
    assert settings.REDIS_URL is None and settings.ADMIN_API_TOKEN is None
