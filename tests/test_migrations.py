"""Migrations and models agree on this database, and the schema goes up and down cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from connector.migrate import current_revision, downgrade, head_revision, upgrade
from connector.models import Base


def test_autogenerate_finds_no_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_downgrade_to_empty_and_back(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_queue_and_uniqueness_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    backorder_indexes = {
        ix["name"]: ix["column_names"] for ix in inspector.get_indexes("backorders")
    }
    assert backorder_indexes["ix_backorders_queue"] == [
        "variant_id",
        "status",
        "priority",
        "placed_at",
        "order_sort_key",
    ]
    for table in ("products", "variants", "orders"):
        uniques = [uq["column_names"] for uq in inspector.get_unique_constraints(table)]
        assert ["shop_id", "external_id"] in uniques, table
    cursors = [uq["column_names"] for uq in inspector.get_unique_constraints("sync_cursors")]
    assert ["shop_id", "resource"] in cursors
