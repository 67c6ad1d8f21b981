"""initial schema

Revision ID: d2f4316f7923
Revises:
Create Date: 2026-11-26 06:12:10.268714+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d2f4316f7923"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_kind",
            sa.Enum("user", "client", "system", name="actorkind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_organisation_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "read",
                "search",
                "create",
                "update",
                "delete",
                "export",
                "transition",
                name="auditaction",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "allowed", "denied", "failed", name="auditoutcome", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entries_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "region",
                "psychiatric_centre",
                "ward",
                "outpatient_clinic",
                "municipality",
                "municipal_unit",
                "gp_clinic",
                name="organisationkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column(
            "sector",
            sa.Enum(
                "region",
                "municipality",
                "general_practice",
                name="sector",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("sor_code", sa.String(length=18), nullable=True),
        sa.Column("kommunekode", sa.String(length=3), nullable=True),
        sa.Column("ydernummer", sa.String(length=6), nullable=True),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.Column(
            "region_code",
            sa.Enum(
                "DK-81",
                "DK-82",
                "DK-83",
                "DK-84",
                "DK-85",
                name="region",
                native_enum=False,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["organisations.id"],
            name=op.f("fk_organisations_parent_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("sor_code", name=op.f("uq_organisations_sor_code")),
        sa.UniqueConstraint("ydernummer", name=op.f("uq_organisations_ydernummer")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisations_kommunekode"), ["kommunekode"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_organisations_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_organisations_sector"), ["sector"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cpr", sa.String(length=10), nullable=True),
        sa.Column("replacement_cpr", sa.String(length=10), nullable=True),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("kommunekode", sa.String(length=3), nullable=False),
        sa.Column("gp_organisation_id", sa.Integer(), nullable=True),
        sa.Column("is_protected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cpr IS NOT NULL OR replacement_cpr IS NOT NULL",
            name=op.f("ck_patients_has_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["gp_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_patients_gp_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("cpr", name=op.f("uq_patients_cpr")),
        sa.UniqueConstraint("replacement_cpr", name=op.f("uq_patients_replacement_cpr")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patients_gp_organisation_id"), ["gp_organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patients_kommunekode"), ["kommunekode"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "discharge_nurse",
                "chief_physician",
                "ward_staff",
                "case_worker",
                "support_worker",
                "gp",
                "practice_staff",
                "org_admin",
                "system_admin",
                "auditor",
                name="role",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_users_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "contact_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column(
            "sector",
            sa.Enum(
                "region",
                "municipality",
                "general_practice",
                name="sector",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("backup_person_id", sa.Integer(), nullable=True),
        sa.Column("team_inbox", sa.String(length=254), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("ended_reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from",
            name=op.f("ck_contact_assignments_period_order"),
        ),
        sa.ForeignKeyConstraint(
            ["backup_person_id"],
            ["users.id"],
            name=op.f("fk_contact_assignments_backup_person_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_contact_assignments_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contact_assignments_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_contact_assignments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["users.id"], name=op.f("fk_contact_assignments_person_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_assignments")),
    )
    with op.batch_alter_table("contact_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_assignments_patient_sector",
            ["patient_id", "sector", "valid_from"],
            unique=False,
        )

    op.create_table(
        "pathways",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "admitted",
                "on_leave",
                "discharged",
                "closed",
                "cancelled",
                name="pathwaystatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_discharge_on", sa.Date(), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("episode_system", sa.String(length=200), nullable=True),
        sa.Column("episode_value", sa.String(length=200), nullable=True),
        sa.Column("readmission_of_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_pathways_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["readmission_of_id"],
            ["pathways.id"],
            name=op.f("fk_pathways_readmission_of_id_pathways"),
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["organisations.id"], name=op.f("fk_pathways_ward_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathways")),
        sa.UniqueConstraint(
            "episode_system", "episode_value", name=op.f("uq_pathways_episode_system_episode_value")
        ),
    )
    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.create_index("ix_pathways_open_by_ward", ["ward_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pathways_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pathways_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pathways_ward_id"), ["ward_id"], unique=False)

    op.create_table(
        "leave_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_leave_periods_pathway_id_pathways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_periods")),
    )
    with op.batch_alter_table("leave_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leave_periods_pathway_id"), ["pathway_id"], unique=False
        )

    op.create_table(
        "pathway_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "admitted",
                "leave_started",
                "leave_ended",
                "discharge_planned",
                "discharged",
                "follow_up_booked",
                "follow_up_held",
                "readmitted",
                "closed",
                "cancelled",
                name="pathwayeventtype",
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
        sa.Column("corrects_event_id", sa.Integer(), nullable=True),
        sa.Column("is_annulled", sa.Boolean(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["corrects_event_id"],
            ["pathway_events.id"],
            name=op.f("fk_pathway_events_corrects_event_id_pathway_events"),
        ),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_pathway_events_pathway_id_pathways")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_pathway_events_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathway_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_pathway_events_idempotency_key")),
    )
    with op.batch_alter_table("pathway_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pathway_events_pathway_id"), ["pathway_id"], unique=False
        )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "discharge_agreement",
                "coordination_plan",
                name="plankind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "proposed",
                "agreed",
                "active",
                "under_revision",
                "ended",
                "withdrawn",
                name="planstatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=True),
        sa.Column("responsible_organisation_id", sa.Integer(), nullable=False),
        sa.Column("current_version_number", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column(
            "patient_participation",
            sa.Enum(
                "unknown",
                "participates",
                "refused",
                name="patientparticipation",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("patient_refused_on", sa.Date(), nullable=True),
        sa.Column("participation_recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("supersedes_plan_id", sa.Integer(), nullable=True),
        sa.Column("ended_reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_plans_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["participation_recorded_by_id"],
            ["users.id"],
            name=op.f("fk_plans_participation_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_plans_pathway_id_pathways")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_plans_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["responsible_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_plans_responsible_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_plan_id"], ["plans.id"], name=op.f("fk_plans_supersedes_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_pathway_id"), ["pathway_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_plans_patient_status", ["patient_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_status"), ["status"], unique=False)

    op.create_table(
        "plan_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "patient",
                "ward",
                "municipality",
                "gp",
                "relative",
                "other",
                name="participantrole",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("relation", sa.String(length=100), nullable=False),
        sa.Column("is_required", sa.Boolean(), nullable=False),
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
        sa.Column("response_note", sa.Text(), nullable=False),
        sa.Column("responded_version_number", sa.Integer(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_plan_participants_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_participants_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["responded_by_id"],
            ["users.id"],
            name=op.f("fk_plan_participants_responded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_participants")),
    )
    with op.batch_alter_table("plan_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_participants_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "sections", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("change_note", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_plan_versions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_versions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_plan_versions_plan_id_number")),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("obligation_key", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "snoozed",
                "resolved",
                "dismissed",
                name="reminderstatus",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "info", "warning", "urgent", "breach", name="severity", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dismissed_reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["users.id"], name=op.f("fk_reminders_acknowledged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_reminders_owner_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_person_id"], ["users.id"], name=op.f("fk_reminders_owner_person_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["pathway_id"], ["pathways.id"], name=op.f("fk_reminders_pathway_id_pathways")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_reminders_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_reminders_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint(
            "rule",
            "pathway_id",
            "obligation_key",
            name=op.f("uq_reminders_rule_pathway_id_obligation_key"),
        ),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reminders_owner_open", ["owner_organisation_id", "status", "due_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reminders_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminders_patient_id"))
        batch_op.drop_index("ix_reminders_owner_open")

    op.drop_table("reminders")
    op.drop_table("plan_versions")
    with op.batch_alter_table("plan_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_participants_plan_id"))

    op.drop_table("plan_participants")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_status"))
        batch_op.drop_index("ix_plans_patient_status")
        batch_op.drop_index(batch_op.f("ix_plans_patient_id"))
        batch_op.drop_index(batch_op.f("ix_plans_pathway_id"))

    op.drop_table("plans")
    with op.batch_alter_table("pathway_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pathway_events_pathway_id"))

    op.drop_table("pathway_events")
    with op.batch_alter_table("leave_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leave_periods_pathway_id"))

    op.drop_table("leave_periods")
    with op.batch_alter_table("pathways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pathways_ward_id"))
        batch_op.drop_index(batch_op.f("ix_pathways_status"))
        batch_op.drop_index(batch_op.f("ix_pathways_patient_id"))
        batch_op.drop_index("ix_pathways_open_by_ward")

    op.drop_table("pathways")
    with op.batch_alter_table("contact_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_assignments_patient_sector")

    op.drop_table("contact_assignments")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_organisation_id"))

    op.drop_table("users")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_kommunekode"))
        batch_op.drop_index(batch_op.f("ix_patients_gp_organisation_id"))

    op.drop_table("patients")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_sector"))
        batch_op.drop_index(batch_op.f("ix_organisations_parent_id"))
        batch_op.drop_index(batch_op.f("ix_organisations_kommunekode"))

    op.drop_table("organisations")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_patient_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_occurred_at"))

    op.drop_table("audit_entries")
