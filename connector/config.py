"""Settings: the one place configuration is read.

Every variable of the public contract lives here, typed and validated once at start-up, so a bad
value stops the process with a line naming it instead of failing at the first request that
needs it. Values come from the environment, then from `.env` in the working directory.
"""

from __future__ import annotations

import re
from typing import Annotated

from cryptography.fernet import Fernet
from limits import parse_many
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_API_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")


class ConfigurationError(Exception):
    """Raised with one human line per bad setting; entry points print it and exit."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    DATABASE_URL: str = "sqlite:///backorder.db"
    REDIS_URL: str | None = None
    APP_URL: str = "http://localhost:8000"
    SECRET_KEY: Annotated[str, Field(min_length=32)]
    TOKEN_ENCRYPTION_KEY: str
    SHOPIFY_API_KEY: str | None = None
    SHOPIFY_API_SECRET: str | None = None
    # The secret before a rotation: webhooks signed with it are still accepted until it is unset.
    SHOPIFY_API_SECRET_PREVIOUS: str | None = None
    SHOPIFY_API_VERSION: str = "2026-07"
    SHOPIFY_SCOPES: str = (
        "read_products,read_inventory,read_orders,write_orders,"
        "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders"
    )
    SHOPIFY_ADMIN_BASE_URL: str = "https://{shop}/admin/api/{version}"
    SMTP_URL: str | None = None
    MAIL_FROM: str = "Backorder Connector <backorders@localhost>"
    SYNC_INTERVAL_MINUTES: Annotated[int, Field(ge=1, le=1440)] = 15
    ADMIN_API_TOKEN: Annotated[str | None, Field(min_length=32)] = None
    ALLOW_PRIVATE_STORE_URLS: bool = False
    LOG_LEVEL: str = "INFO"
    # Worker threads of the in-process queue in `backorder serve` (when REDIS_URL is unset),
    # besides the one that sends e-mails only.
    WORKER_THREADS: Annotated[int, Field(ge=1, le=32)] = 2
    # Requests per client to the public WooCommerce storefront endpoint (`limits` syntax).
    STOREFRONT_RATE_LIMIT: str = "60/minute"

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_driver(cls, value: str) -> str:
        """Accept the libpq-style URL operators paste and pin the psycopg 3 driver we ship."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("TOKEN_ENCRYPTION_KEY")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        """One key, or several comma-separated: the first encrypts, all decrypt (rotation)."""
        keys = [k.strip() for k in value.split(",") if k.strip()]
        if not keys:
            raise ValueError("must hold at least one Fernet key")
        for key in keys:
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ValueError(
                    "is not a Fernet key (32 url-safe base64 bytes); "
                    "make one with `backorder keys generate`"
                ) from None
        return ",".join(keys)

    @field_validator("SHOPIFY_API_VERSION")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.match(value):
            raise ValueError("must be a quarterly Shopify version such as 2026-07")
        return value

    @field_validator("APP_URL")
    @classmethod
    def _app_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("STOREFRONT_RATE_LIMIT")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be a rate such as 60/minute or 10/second;500/hour") from None
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def encryption_keys(self) -> list[str]:
        return self.TOKEN_ENCRYPTION_KEY.split(",")

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build Settings or raise ConfigurationError with one line per offending variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            if error["type"] == "missing":
                lines.append(f"{name} is required: set it in the environment or in .env")
            else:
                message = error["msg"].removeprefix("Value error, ")
                lines.append(
                    f"{name} {message}" if error["type"] == "value_error" else f"{name}: {message}"
                )
        raise ConfigurationError("\n".join(lines)) from None
