"""login throttles per account and address

Failed logins were counted on the account (users.failed_login_count, users.locked_until): five from
anywhere locked the account everywhere. They are now counted per account and client address in
login_throttles. The old counters only ever held short-lived lockout state, so they are dropped, not
carried over.

Revision ID: 3b7e0c1d9a42
Revises: 7f94c15121f4
Create Date: 2026-12-04 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7e0c1d9a42"
down_revision: str | None = "7f94c15121f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_throttles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("user_id", "address", name=op.f("uq_login_throttles_user_id_address")),
    )
    op.create_index(
        op.f("ix_login_throttles_locked_until"), "login_throttles", ["locked_until"], unique=False
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_login_count")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_login_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_index(op.f("ix_login_throttles_locked_until"), table_name="login_throttles")
    op.drop_table("login_throttles")
