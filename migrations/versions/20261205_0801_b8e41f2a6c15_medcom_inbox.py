"""the MedCom inbox: inbound messages are stored before they are processed

Revision ID: b8e41f2a6c15
Revises: b7d41c9e2a63
Create Date: 2026-12-05 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b8e41f2a6c15"
down_revision: str | None = "b7d41c9e2a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Every message processed before this revision is done: its answer is kept, its body never was.
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "pending",
                    "done",
                    "dead",
                    name="inboxstatus",
                    native_enum=False,
                    create_constraint=False,
                    length=40,
                ),
                server_default="done",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("body", JSON, nullable=True))
        batch.add_column(sa.Column("actor", JSON, nullable=True))
        batch.add_column(
            sa.Column("order_key", sa.String(length=64), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_inbound_messages_due", ["status", "next_attempt_at"])
        batch.create_index("ix_inbound_messages_order", ["order_key", "status"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_index("ix_inbound_messages_order")
        batch.drop_index("ix_inbound_messages_due")
        for column in (
            "processed_at",
            "last_error",
            "next_attempt_at",
            "attempts",
            "order_key",
            "actor",
            "body",
            "status",
        ):
            batch.drop_column(column)
