"""pathways.discharged_at index (issue 21: the municipality worklist's recent discharges)

Revision ID: b81f4c6d2e90
Revises: b8e41f2a6c15
Create Date: 2026-12-05 08:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b81f4c6d2e90"
down_revision: str | None = "b8e41f2a6c15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pathways_discharged_at"), ["discharged_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pathways_discharged_at"))
