"""patients (kommunekode, id): a municipality's citizens as an index-only scan (issue 20)

Revision ID: d4a6b8c0f2e3
Revises: c3f5a7d9e1b2
Create Date: 2026-12-05 13:01:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d4a6b8c0f2e3"
down_revision: str | None = "c3f5a7d9e1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patients_kommunekode_id", "patients", ["kommunekode", "id"], unique=False)
    op.drop_index("ix_patients_kommunekode", table_name="patients")


def downgrade() -> None:
    op.create_index("ix_patients_kommunekode", "patients", ["kommunekode"], unique=False)
    op.drop_index("ix_patients_kommunekode_id", table_name="patients")
