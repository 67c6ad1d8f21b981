"""gap evaluation queue

Revision ID: 7f94c15121f4
Revises: 839e417e6ca2
Create Date: 2026-11-26 12:09:17.131395+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7f94c15121f4"
down_revision: str | None = "839e417e6ca2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gap_evaluation_queue",
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pathway_id"],
            ["pathways.id"],
            name=op.f("fk_gap_evaluation_queue_pathway_id_pathways"),
        ),
        sa.PrimaryKeyConstraint("pathway_id", name=op.f("pk_gap_evaluation_queue")),
    )


def downgrade() -> None:
    op.drop_table("gap_evaluation_queue")
