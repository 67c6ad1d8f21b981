"""organisation version (administrators edit organisations with If-Match)

Revision ID: 5d2a7c91e4b3
Revises: 5d2a9c41e7b3
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2a7c91e4b3"
down_revision: str | None = "5d2a9c41e7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every organisation registered before this revision is at its first version.
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("version")
