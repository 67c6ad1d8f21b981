"""plan resource versions

Revision ID: 839e417e6ca2
Revises: 8c4eb550bf58
Create Date: 2026-11-26 10:15:54.524472+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "839e417e6ca2"
down_revision: str | None = "8c4eb550bf58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_resource_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "resource", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_resource_versions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_resource_versions")),
        sa.UniqueConstraint(
            "plan_id", "version", name=op.f("uq_plan_resource_versions_plan_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("plan_resource_versions")
