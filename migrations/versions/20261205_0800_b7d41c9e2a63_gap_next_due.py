"""gap next due: the pathways' next due times, and the nightly scan's claimed ranges

Revision ID: b7d41c9e2a63
Revises: 7e3a9b51c2d4
Create Date: 2026-12-05 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d41c9e2a63"
down_revision: str | None = "7e3a9b51c2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gap_next_due",
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_gap_next_due_pathway_id_pathways")
        ),
        sa.PrimaryKeyConstraint("pathway_id", name=op.f("pk_gap_next_due")),
    )
    op.create_index(op.f("ix_gap_next_due_due_at"), "gap_next_due", ["due_at"], unique=False)
    op.create_table(
        "gap_scan_runs",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ranges", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_gap_scan_runs")),
    )
    op.create_table(
        "gap_scan_ranges",
        sa.Column("run_key", sa.String(length=40), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_key"],
            ["gap_scan_runs.key"],
            name=op.f("fk_gap_scan_ranges_run_key_gap_scan_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_key", "first_id", name=op.f("pk_gap_scan_ranges")),
    )


def downgrade() -> None:
    op.drop_table("gap_scan_ranges")
    op.drop_table("gap_scan_runs")
    op.drop_index(op.f("ix_gap_next_due_due_at"), table_name="gap_next_due")
    op.drop_table("gap_next_due")
