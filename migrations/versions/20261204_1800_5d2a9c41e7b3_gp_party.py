"""patients: version and why the GP is absent; plans: reasons for missing parties

Revision ID: 5d2a9c41e7b3
Revises: 3b1f6e0c9a27
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d2a9c41e7b3"
down_revision: str | None = "3b1f6e0c9a27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Patients registered before this revision start at version 1 with no reason recorded: those without
    # a GP show up as gaps (gp_unknown) until the GP is set or a reason is given.
    with op.batch_alter_table("patients") as batch:
        batch.add_column(
            sa.Column("gp_absent_reason", sa.String(length=200), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("plans") as batch:
        batch.add_column(
            sa.Column(
                "missing_party_reasons",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("missing_party_reasons")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("version")
        batch.drop_column("gp_absent_reason")
