"""subscriptions: FHIR rest-hook subscriptions of clients and users

Revision ID: 5c2d8e41a7b3
Revises: a4c2e9d17b35
Create Date: 2026-12-04 17:51:00.603049+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c2d8e41a7b3"
down_revision: str | None = "a4c2e9d17b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "owner_kind",
            sa.Enum("user", "client", "system", name="actorkind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_client_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("filter_organisation_id", sa.Integer(), nullable=True),
        sa.Column("endpoint", sa.String(length=254), nullable=False),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("payload", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "active",
                "error",
                "off",
                name="subscriptionstatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["filter_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_subscriptions_filter_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_subscriptions_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_client_id"],
            ["api_clients.id"],
            name=op.f("fk_subscriptions_owner_client_id_api_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_subscriptions_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_subscriptions_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_filter_organisation_id"),
            ["filter_organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_subscriptions_matching", ["resource_type", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriptions_owner_client_id"), ["owner_client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriptions_owner_user_id"), ["owner_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriptions_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_patient_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_owner_user_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_owner_client_id"))
        batch_op.drop_index("ix_subscriptions_matching")
        batch_op.drop_index(batch_op.f("ix_subscriptions_filter_organisation_id"))

    op.drop_table("subscriptions")
