"""pathway facts, reminder escalation and version

Revision ID: fcd224dc4f72
Revises: b49f45fd5455
Create Date: 2026-11-26 09:31:22.944500+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "fcd224dc4f72"
down_revision: str | None = "b49f45fd5455"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pathway_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "municipality_notified",
                "network_meeting_requested",
                "network_meeting_held",
                "plan_shared",
                "plan_delivered",
                "plan_read",
                name="pathwayfacttype",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "user",
                "rest",
                "fhir",
                "medcom",
                "system",
                "demo",
                name="eventsource",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pathway_facts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_pathway_facts_pathway_id_pathways")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_pathway_facts_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_pathway_facts_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathway_facts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_pathway_facts_idempotency_key")),
    )
    with op.batch_alter_table("pathway_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pathway_facts_pathway_id"), ["pathway_id"], unique=False
        )
        batch_op.create_index("ix_pathway_facts_pathway_type", ["pathway_id", "type"], unique=False)

    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "params",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="{}",  # rows written before this column existed
            )
        )
        batch_op.add_column(sa.Column("escalate_to_organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalate_to_person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dismissed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(
            "ix_reminders_person_open", ["owner_person_id", "status"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reminders_dismissed_by_id_users"), "users", ["dismissed_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reminders_escalate_to_person_id_users"),
            "users",
            ["escalate_to_person_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reminders_escalate_to_organisation_id_organisations"),
            "organisations",
            ["escalate_to_organisation_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reminders_escalate_to_organisation_id_organisations"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_reminders_escalate_to_person_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_reminders_dismissed_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_index("ix_reminders_person_open")
        batch_op.drop_column("version")
        batch_op.drop_column("dismissed_by_id")
        batch_op.drop_column("escalate_to_person_id")
        batch_op.drop_column("escalate_to_organisation_id")
        batch_op.drop_column("params")

    with op.batch_alter_table("pathway_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_pathway_facts_pathway_type")
        batch_op.drop_index(batch_op.f("ix_pathway_facts_pathway_id"))

    op.drop_table("pathway_facts")
