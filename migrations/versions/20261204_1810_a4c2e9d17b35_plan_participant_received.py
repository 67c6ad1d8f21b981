"""plan participant received (FHIR answer Task status received)

Revision ID: a4c2e9d17b35
Revises: 5d2a7c91e4b3
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c2e9d17b35"
down_revision: str | None = "5d2a7c91e4b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Parties asked before this revision have not said they received the proposal: they stay requested.
    with op.batch_alter_table("plan_participants") as batch:
        batch.add_column(sa.Column("received_version_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_participants") as batch:
        batch.drop_column("received_at")
        batch.drop_column("received_version_number")
