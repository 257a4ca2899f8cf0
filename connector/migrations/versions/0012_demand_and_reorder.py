"""Demand and reorder: stock-out periods (censored demand), lead-time statistics learned from
receipts, each variant's reorder point, and the settings they read.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen here, as every migration does: later model changes must not rewrite history.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned() -> list[sa.Column]:
    return [
        sa.Column("id", Id, primary_key=True),
        sa.Column("shop_id", Id, sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    ]


def _variant() -> sa.Column:
    return sa.Column(
        "variant_id", Id, sa.ForeignKey("variants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "stock_outs",
        *_owned(),
        _variant(),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_stock_outs_shop_id", "stock_outs", ["shop_id"])
    op.create_index("ix_stock_outs_variant", "stock_outs", ["variant_id", "started_at"])

    op.create_table(
        "lead_time_stats",
        *_owned(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("mean_days", sa.Double(), nullable=False),
        sa.Column("m2_days", sa.Double(), nullable=False),
        sa.Column("mean_delay_days", sa.Double(), nullable=False),
        sa.Column("m2_delay_days", sa.Double(), nullable=False),
        sa.UniqueConstraint("shop_id", "scope", name=op.f("uq_lead_time_stats_shop_id_scope")),
    )
    op.create_index("ix_lead_time_stats_shop_id", "lead_time_stats", ["shop_id"])

    op.create_table(
        "reorder_points",
        *_owned(),
        _variant(),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("daily_demand", sa.Double(), nullable=False),
        sa.Column("forecast_lead_time", sa.Double(), nullable=False),
        sa.Column("safety_stock", sa.Double(), nullable=False),
        sa.Column("reorder_point", sa.Double(), nullable=False),
        sa.Column("suggested_quantity", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("incoming", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("lead_time_days", sa.Double(), nullable=False),
        sa.Column("lead_time_source", sa.String(length=16), nullable=False),
        sa.Column("revenue_at_risk", sa.Numeric(14, 2), nullable=False),
        sa.Column("at_or_below", sa.Boolean(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.UniqueConstraint("variant_id", name=op.f("uq_reorder_points_variant_id")),
    )
    op.create_index("ix_reorder_points_shop_id", "reorder_points", ["shop_id"])
    op.create_index("ix_reorder_points_risk", "reorder_points", ["shop_id", "revenue_at_risk"])

    with op.batch_alter_table("incoming_stock", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("supplier", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("ordered_on", sa.Date(), nullable=True))
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_order_quantity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("learned_lead_time_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_days", sa.Integer(), nullable=False, server_default="7")
        )
        batch_op.add_column(sa.Column("reorder_webhook_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("reorder_webhook_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("reorder_webhook_secret")
        batch_op.drop_column("reorder_webhook_url")
        batch_op.drop_column("review_days")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("learned_lead_time_days")
        batch_op.drop_column("min_order_quantity")
    with op.batch_alter_table("incoming_stock", schema=None) as batch_op:
        batch_op.drop_column("ordered_on")
        batch_op.drop_column("supplier")
    op.drop_table("reorder_points")
    op.drop_table("lead_time_stats")
    op.drop_table("stock_outs")
