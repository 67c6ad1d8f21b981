"""emergency access, append-only audit log

Revision ID: 735f3c020704
Revises: d95cd4b72126
Create Date: 2026-11-26 06:41:16.762390+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "735f3c020704"
down_revision: str | None = "d95cd4b72126"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emergency_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_emergency_access_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_emergency_access_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_emergency_access_reviewed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_emergency_access_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_access")),
    )
    with op.batch_alter_table("emergency_access", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_access_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_emergency_access_user_id"), ["user_id"], unique=False)

    # The audit log is append-only: the database itself refuses to change or delete an entry.
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_entries is append-only';
            END $$
            """
        )
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} ON audit_entries "
                "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
            )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"
            )


def downgrade() -> None:
    for event in ("update", "delete"):
        if op.get_context().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER audit_entries_no_{event} ON audit_entries")
        else:
            op.execute(f"DROP TRIGGER audit_entries_no_{event}")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_entries_append_only()")
    with op.batch_alter_table("emergency_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_access_user_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_access_patient_id"))

    op.drop_table("emergency_access")
