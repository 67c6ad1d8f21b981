"""plan agreement facts, response history

Revision ID: d95cd4b72126
Revises: ddc2e5202798
Create Date: 2026-11-26 06:26:11.161774+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d95cd4b72126"
down_revision: str | None = "ddc2e5202798"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.Enum(
                "pending",
                "accepted",
                "rejected",
                "commented",
                name="responsestatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("responded_by_id", sa.Integer(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["plan_participants.id"],
            name=op.f("fk_plan_responses_participant_id_plan_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_responses_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["responded_by_id"], ["users.id"], name=op.f("fk_plan_responses_responded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_responses")),
    )
    with op.batch_alter_table("plan_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_responses_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receives_sel_support", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("presumed_not_to_seek_treatment", sa.Boolean(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("requirement_assessed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("requirement_assessed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_pathways_requirement_assessed_by_id_users"),
            "users",
            ["requirement_assessed_by_id"],
            ["id"],
        )

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("ended_at")
        batch_op.drop_column("activated_at")
        batch_op.drop_column("agreed_at")

    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_pathways_requirement_assessed_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("requirement_assessed_by_id")
        batch_op.drop_column("requirement_assessed_at")
        batch_op.drop_column("presumed_not_to_seek_treatment")
        batch_op.drop_column("receives_sel_support")

    with op.batch_alter_table("plan_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_responses_plan_id"))

    op.drop_table("plan_responses")
