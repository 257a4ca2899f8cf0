"""Alternatives: the index's durable rows (features, co-purchases, versions), merchants' rules,
and the alternatives stored with each backorder.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _shop_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "alternative_indexes",
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("generation", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", ID, nullable=False),
        _shop_fk("alternative_indexes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alternative_indexes")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_alternative_indexes_shop_id")),
    )
    op.create_table(
        "alternative_features",
        sa.Column("variant_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        _shop_fk("alternative_features"),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_alternative_features_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alternative_features")),
        sa.UniqueConstraint("variant_id", name=op.f("uq_alternative_features_variant_id")),
    )
    with op.batch_alter_table("alternative_features", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alternative_features_shop_version", ["shop_id", "version"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alternative_features_shop_id"), ["shop_id"], unique=False
        )
    op.create_table(
        "co_purchases",
        sa.Column("variant_id", ID, nullable=False),
        sa.Column("other_variant_id", ID, nullable=False),
        sa.Column("together", sa.Integer(), nullable=False),
        sa.Column("instead", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        _shop_fk("co_purchases"),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_co_purchases_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_variant_id"],
            ["variants.id"],
            name=op.f("fk_co_purchases_other_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_co_purchases")),
        sa.UniqueConstraint(
            "variant_id",
            "other_variant_id",
            name=op.f("uq_co_purchases_variant_id_other_variant_id"),
        ),
    )
    with op.batch_alter_table("co_purchases", schema=None) as batch_op:
        batch_op.create_index("ix_co_purchases_shop_version", ["shop_id", "version"], unique=False)
        batch_op.create_index(batch_op.f("ix_co_purchases_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_co_purchases_other_variant_id"), ["other_variant_id"], unique=False
        )
    op.create_table(
        "alternative_rules",
        sa.Column("product_id", ID, nullable=False),
        sa.Column("pinned", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        _shop_fk("alternative_rules"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_alternative_rules_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alternative_rules")),
        sa.UniqueConstraint("product_id", name=op.f("uq_alternative_rules_product_id")),
    )
    with op.batch_alter_table("alternative_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alternative_rules_shop_id"), ["shop_id"], unique=False)
    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alternatives", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.drop_column("alternatives")
    with op.batch_alter_table("alternative_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alternative_rules_shop_id"))
    op.drop_table("alternative_rules")
    with op.batch_alter_table("co_purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_co_purchases_other_variant_id"))
        batch_op.drop_index(batch_op.f("ix_co_purchases_shop_id"))
        batch_op.drop_index("ix_co_purchases_shop_version")
    op.drop_table("co_purchases")
    with op.batch_alter_table("alternative_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alternative_features_shop_id"))
        batch_op.drop_index("ix_alternative_features_shop_version")
    op.drop_table("alternative_features")
    op.drop_table("alternative_indexes")
