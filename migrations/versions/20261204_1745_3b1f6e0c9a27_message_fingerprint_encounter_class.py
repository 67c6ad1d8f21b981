"""inbound message fingerprint, pathway encounter class

Revision ID: 3b1f6e0c9a27
Revises: 3b7e0c1d9a42
Create Date: 2026-12-04 17:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b1f6e0c9a27"
down_revision: str | None = "3b7e0c1d9a42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Messages processed before this revision have no fingerprint: their resends are replayed as before.
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
    # Stays notified before this revision were all shown as inpatient (IMP): that is what they keep.
    with op.batch_alter_table("pathways") as batch:
        batch.add_column(
            sa.Column(
                "encounter_class",
                sa.Enum(
                    "IMP",
                    "EMER",
                    name="encounterclass",
                    native_enum=False,
                    create_constraint=False,
                    length=40,
                ),
                server_default="IMP",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("pathways") as batch:
        batch.drop_column("encounter_class")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("fingerprint")
