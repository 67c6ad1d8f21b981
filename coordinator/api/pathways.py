"""Pathways (stays): read with the §13a obligation, record events, the chief physician's assessment."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import LINK_HEADER, keyset_page, operation
from coordinator.api.schemas.pathways import (
    AssessmentSchema,
    PathwayEventCreateSchema,
    PathwayEventSchema,
    PathwaySchema,
    RequirementSchema,
    StayListQuerySchema,
    StaySchema,
)
from coordinator.api.schemas.reminders import (
    PathwayFactCreateSchema,
    PathwayFactSchema,
    SharedSchema,
)
from coordinator.care_pathways import queries, services
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.messaging.outbound import notify_municipality_of_discharge
from coordinator.plans.requirement import assess_requirement, pathway_obligation
from coordinator.reminders.services import record_pathway_fact
from pathways.stays import EventSource, PathwayEventType

blp = Blueprint("pathways", __name__, url_prefix="/pathways", description="Stays and their events.")


@blp.route("")
class Pathways(MethodView):
    @operation("Encounter", "read")
    @blp.arguments(StayListQuerySchema, location="query")
    @blp.response(200, StaySchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """Worklists: the current stays of a ward (or a centre's wards) you work at, or the stays of a
        municipality's citizens you act for (current, and discharged since a day); newest first, one page
        (follow the Link header's next). Each patient shown is audited."""
        page = queries.Page(after_id=query["after"], limit=query["limit"])
        if query["ward_id"] is not None:
            stays = queries.ward_stays(
                get_session(), current_actor(), clock(), ward_id=query["ward_id"], page=page
            )
        else:
            stays = queries.municipality_stays(
                get_session(),
                current_actor(),
                clock(),
                kommunekode=query["kommunekode"],
                discharged_since=query["discharged_since"],
                page=page,
            )
        return keyset_page(stays, query["limit"])


@blp.route("/<id:pathway_id>")
class PathwayById(MethodView):
    @operation("Encounter", "read")
    @blp.response(200, PathwaySchema)
    def get(self, pathway_id: int) -> dict[str, Any]:
        """A stay with its leave periods and whether an agreed plan is in place (§13a)."""
        session = get_session()
        pathway = services.get_pathway(session, current_actor(), clock(), pathway_id=pathway_id)
        return {
            **{c: getattr(pathway, c) for c in PathwaySchema().fields if c != "obligation"},
            "obligation": pathway_obligation(session, clock(), pathway),
        }


@blp.route("/<id:pathway_id>/events")
class PathwayEvents(MethodView):
    @operation("Encounter", "write")
    @blp.arguments(PathwayEventCreateSchema)
    @blp.response(201, PathwayEventSchema)
    def post(self, data: dict[str, Any], pathway_id: int) -> Any:
        """Record leave, planned discharge, discharge or follow-up; a replayed idempotency key changes nothing."""
        return services.record_pathway_event(
            get_session(),
            current_actor(),
            clock(),
            pathway_id=pathway_id,
            event_type=PathwayEventType(data["type"]),
            occurred_at=data["occurred_at"],
            idempotency_key=f"rest:{data['idempotency_key']}",
            source=EventSource.REST,
            planned_discharge_on=data["planned_discharge_on"],
        )


@blp.route("/<id:pathway_id>/facts")
class PathwayFacts(MethodView):
    @operation("Encounter", "write")
    @blp.arguments(PathwayFactCreateSchema)
    @blp.response(201, PathwayFactSchema)
    def post(self, data: dict[str, Any], pathway_id: int) -> Any:
        """Record a coordination fact (municipality notified, network meeting requested or held, plan
        shared, delivered or read); the pathway's reminders follow at once. Replays change nothing."""
        return record_pathway_fact(
            get_session(),
            current_actor(),
            clock(),
            pathway_id=pathway_id,
            fact=data["type"],
            occurred_at=data["occurred_at"],
            idempotency_key=f"rest:{data['idempotency_key']}",
            source=EventSource.REST,
            plan_id=data["plan_id"],
            organisation_id=data["organisation_id"],
        )


@blp.route("/<id:pathway_id>/notify-municipality")
class NotifyMunicipality(MethodView):
    @operation("Communication", "write")
    @blp.response(202, SharedSchema)
    def post(self, pathway_id: int) -> Any:
        """Tell the home municipality the planned discharge date (MedCom CareCommunication, category
        discharge), queued; once per date. Closes the "municipality not notified" reminder."""
        return notify_municipality_of_discharge(
            get_session(),
            current_actor(),
            clock(),
            pathway_id=pathway_id,
            config=current_app.config,
        )


@blp.route("/<id:pathway_id>/assessment")
class PathwayAssessment(MethodView):
    @operation("Encounter", "write")
    @blp.arguments(AssessmentSchema)
    @blp.response(200, RequirementSchema)
    def put(self, data: dict[str, Any], pathway_id: int) -> Any:
        """The chief physician's §13a assessment; answers which plan the law requires."""
        return assess_requirement(
            get_session(), current_actor(), clock(), pathway_id=pathway_id, **data
        )
