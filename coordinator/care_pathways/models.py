from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.stays import (
    EncounterClass,
    EventSource,
    PathwayEventType,
    PathwayFactType,
    PathwayStatus,
)


class Pathway(Base):
    """One hospital stay or episode (forløb) of one patient at one ward."""

    __tablename__ = "pathways"

    id: Mapped[IntPK]
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    ward_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    status: Mapped[PathwayStatus] = mapped_column(index=True)
    # Encounter.class as notified (MedCom) or IMP for a stay registered by hand.
    encounter_class: Mapped[EncounterClass] = mapped_column(
        default=EncounterClass.INPATIENT, server_default=EncounterClass.INPATIENT.value
    )
    admitted_at: Mapped[datetime]
    planned_discharge_on: Mapped[date | None]
    # Indexed: the municipality worklist asks for the stays discharged lately (issue 21).
    discharged_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    # LPR3 episode of care (or a hospital's local episode id); matched on system + value.
    episode_system: Mapped[str | None] = mapped_column(sa.String(200))
    episode_value: Mapped[str | None] = mapped_column(sa.String(200))
    readmission_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"))
    # The chief physician's §13a assessment for this stay (None: not assessed yet).
    receives_sel_support: Mapped[bool | None]
    presumed_not_to_seek_treatment: Mapped[bool | None]
    requirement_assessed_at: Mapped[datetime | None]
    requirement_assessed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    patient: Mapped[Patient] = relationship()
    ward: Mapped[Organisation] = relationship()
    leave_periods: Mapped[list[LeavePeriod]] = relationship(
        back_populates="pathway", order_by="LeavePeriod.started_at", cascade="all, delete-orphan"
    )
    events: Mapped[list[PathwayEvent]] = relationship(
        back_populates="pathway", order_by="PathwayEvent.occurred_at", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        sa.UniqueConstraint("episode_system", "episode_value"),
        sa.Index("ix_pathways_open_by_ward", "ward_id", "status"),
    )


class LeavePeriod(Base):
    __tablename__ = "leave_periods"

    id: Mapped[IntPK]
    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    pathway: Mapped[Pathway] = relationship(back_populates="leave_periods")


class PathwayEvent(Base):
    """An immutable fact about a pathway. Corrections point at the event they revise or cancel."""

    __tablename__ = "pathway_events"

    id: Mapped[IntPK]
    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    type: Mapped[PathwayEventType]
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[EventSource]
    # Unique per source (e.g. the MedCom message id): the same message twice changes nothing.
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    corrects_event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathway_events.id"))
    is_annulled: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    pathway: Mapped[Pathway] = relationship(back_populates="events")


class PathwayFact(Base):
    """A coordination fact on a pathway that does not move its status (see pathways.stays.PathwayFactType):
    the municipality was told the discharge date, a network meeting was requested or held, a plan was
    shared with, delivered to or read by a party. The reminder rules read them."""

    __tablename__ = "pathway_facts"

    id: Mapped[IntPK]
    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    type: Mapped[PathwayFactType]
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[EventSource]
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plans.id"))
    # The party concerned (e.g. the GP clinic that read the plan), when there is one.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (sa.Index("ix_pathway_facts_pathway_type", "pathway_id", "type"),)
