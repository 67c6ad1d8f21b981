"""stay ranks: each stay's worklist rank, written by the reminder evaluation (ADR 0015)

Revision ID: c3f5a7d9e1b2
Revises: b81f4c6d2e90
Create Date: 2026-12-05 13:00:00.000000+00:00

Empty at first: a stay without a row is ranked from its facts until its next evaluation (the scheduler's
scan at start-up evaluates every open pathway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3f5a7d9e1b2"
down_revision: str | None = "b81f4c6d2e90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stay_ranks",
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "not_assessed",
                "not_required",
                "not_started",
                "draft",
                "proposed",
                "agreed",
                "overdue",
                name="workstate",
                native_enum=False,
                create_constraint=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_stay_ranks_pathway_id_pathways")
        ),
        sa.PrimaryKeyConstraint("pathway_id", name=op.f("pk_stay_ranks")),
    )


def downgrade() -> None:
    op.drop_table("stay_ranks")
