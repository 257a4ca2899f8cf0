"""Alembic environment: runs against the connection `connector.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from connector.models import Base, UTCDateTime
from connector.models.base import FastDate

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, obj: object, autogen_context: object) -> str | bool:
    """Write our UTC type as a plain DateTime so migrations never import model code."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, FastDate):
        return "sa.Date()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `backorder db upgrade`")
run_migrations_online()
