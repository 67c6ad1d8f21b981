from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.care_pathways.models import Pathway
from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)


class Plan(Base):
    """A discharge agreement (§13a) or coordination plan (§13b): the header that changes state.

    ``version`` is the optimistic-lock counter (the ETag); the content lives in immutable ``PlanVersion``
    rows, the newest of which is ``current_version_number``.
    """

    __tablename__ = "plans"

    id: Mapped[IntPK]
    kind: Mapped[PlanKind]
    status: Mapped[PlanStatus] = mapped_column(index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    pathway_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    responsible_organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    current_version_number: Mapped[int] = mapped_column(default=1)
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    review_on: Mapped[date | None]
    patient_participation: Mapped[PatientParticipation] = mapped_column(
        default=PatientParticipation.UNKNOWN
    )
    patient_refused_on: Mapped[date | None]
    participation_recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    supersedes_plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plans.id"))
    agreed_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    # Why a party the rules require is not on the plan, by role ({"gp": "patienten har ingen egen
    # læge"}): without a reason a plan missing a required party cannot be proposed or agreed.
    missing_party_reasons: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    patient: Mapped[Patient] = relationship()
    pathway: Mapped[Pathway | None] = relationship()
    responsible_organisation: Mapped[Organisation] = relationship()
    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.number", cascade="all, delete-orphan"
    )
    participants: Mapped[list[PlanParticipant]] = relationship(
        back_populates="plan", order_by="PlanParticipant.id", cascade="all, delete-orphan"
    )
    responses: Mapped[list[PlanResponse]] = relationship(
        back_populates="plan", order_by="PlanResponse.id", cascade="all, delete-orphan"
    )

    def version_number_of(self, number: int) -> PlanVersion | None:
        return next((v for v in self.versions if v.number == number), None)

    # The newest version alone, so lists load one version per plan, not the whole history.
    current_version_row: Mapped[PlanVersion | None] = relationship(
        primaryjoin="and_(Plan.id == foreign(PlanVersion.plan_id), "
        "Plan.current_version_number == foreign(PlanVersion.number))",
        viewonly=True,
        uselist=False,
    )

    @property
    def current_version(self) -> PlanVersion:
        if "versions" in self.__dict__ or self.current_version_row is None:
            # Loaded history (or a version not flushed yet) is the truth inside a unit of work.
            version = self.version_number_of(self.current_version_number)
        else:
            version = self.current_version_row
        if version is None:  # pragma: no cover - every plan is created with version 1
            raise LookupError(f"plan {self.id} has no version {self.current_version_number}")
        return version

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (sa.Index("ix_plans_patient_status", "patient_id", "status"),)


class PlanVersion(Base):
    """An immutable snapshot of a plan's content. Parties always see the newest one."""

    __tablename__ = "plan_versions"

    id: Mapped[IntPK]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    number: Mapped[int]
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    review_on: Mapped[date | None]
    change_note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]

    plan: Mapped[Plan] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("plan_id", "number"),)


class PlanParticipant(Base):
    """A party to the plan (the patient, the ward, the municipality, the GP, relatives) and its answer."""

    __tablename__ = "plan_participants"

    id: Mapped[IntPK]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"), index=True)
    role: Mapped[ParticipantRole]
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    person_name: Mapped[str] = mapped_column(sa.String(200), default="")
    relation: Mapped[str] = mapped_column(
        sa.String(100), default=""
    )  # for relatives: mother, friend...
    is_required: Mapped[bool] = mapped_column(default=True)
    response: Mapped[ResponseStatus] = mapped_column(default=ResponseStatus.PENDING)
    response_note: Mapped[str] = mapped_column(sa.Text, default="")
    responded_version_number: Mapped[int | None]
    responded_at: Mapped[datetime | None]
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The party's system said it has the current proposal (FHIR Task status received); a new proposal
    # asks again.
    received_version_number: Mapped[int | None]
    received_at: Mapped[datetime | None]

    plan: Mapped[Plan] = relationship(back_populates="participants")
    organisation: Mapped[Organisation | None] = relationship()


class PlanResponse(Base):
    """Every answer a party gave (accept, reject with a reason, comment), kept as history."""

    __tablename__ = "plan_responses"

    id: Mapped[IntPK]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_participants.id"))
    version_number: Mapped[int]
    response: Mapped[ResponseStatus]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    responded_at: Mapped[datetime]

    plan: Mapped[Plan] = relationship(back_populates="responses")
    participant: Mapped[PlanParticipant] = relationship()
